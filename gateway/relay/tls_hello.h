/*
 * tls_hello: the ClientHello parser the relay uses to learn where a charger
 * wants to go.  Pure and bounded: no I/O, no allocation, every length
 * checked before use.  It reassembles a hello that spans several TLS
 * records (RFC 8446 5.1 lets a handshake message be fragmented) and
 * returns TLS_HELLO_NEED_MORE while the bytes so far are a valid prefix, so
 * the caller can feed it whatever TCP delivered.
 */
#ifndef EVG_TLS_HELLO_H
#define EVG_TLS_HELLO_H

#include <stddef.h>
#include <stdint.h>

/* Largest hello we accept, counted in bytes on the wire (records included). */
#define TLS_HELLO_MAX_WIRE	16384
/* Largest handshake message body (the hello itself). */
#define TLS_HELLO_MAX_MSG	(TLS_HELLO_MAX_WIRE - 9)
/* DNS names are at most 253 characters (RFC 1035, without the final dot). */
#define TLS_HELLO_MAX_NAME	253

enum tls_hello_status {
	TLS_HELLO_OK = 0,	/* a whole ClientHello was parsed */
	TLS_HELLO_NEED_MORE,	/* a valid prefix: wait for more bytes */
	TLS_HELLO_NOT_TLS,	/* not a TLS handshake record at all */
	TLS_HELLO_SSLV2,	/* an SSLv2-style hello: cannot carry SNI */
	TLS_HELLO_MALFORMED,	/* lengths or structure are wrong */
	TLS_HELLO_TOO_BIG,	/* larger than TLS_HELLO_MAX_WIRE */
	TLS_HELLO_BAD_SNI,	/* SNI present but not one valid DNS name */
};

struct tls_hello {
	uint16_t	 record_version;	/* of the first record */
	uint16_t	 client_version;	/* legacy_version field */
	size_t		 wire_len;	/* bytes of records that held the hello */
	int		 has_sni;	/* a server_name extension was present */
	size_t		 sni_len;
	/*
	 * The name, NUL-terminated, as sent.  With TLS_HELLO_BAD_SNI: the
	 * first refused name's bytes (at most TLS_HELLO_MAX_NAME; any byte,
	 * NUL included: escape it before showing it), for the operator.
	 */
	char		 sni[TLS_HELLO_MAX_NAME + 2];
	int		 has_alpn;
	int		 supports_tls13;	/* supported_versions lists 0x0304 */
	unsigned	 nextensions;
};

/*
 * Parse buf[0..len) as the start of a TLS connection.  On TLS_HELLO_OK,
 * *out is filled; has_sni == 0 means the hello carried no server_name.
 * An SNI with more than one host_name, a name that is not a valid DNS name
 * (RFC 6066 3: no IP literals, no trailing NUL, no empty label) gives
 * TLS_HELLO_BAD_SNI.  Two extensions of one type, however many come
 * before, are TLS_HELLO_MALFORMED (RFC 8446 4.2).
 */
enum tls_hello_status tls_hello_parse(const uint8_t *buf, size_t len,
	    struct tls_hello *out);

/* A short stable name for a status ("ok", "need-more", "not-tls", ...). */
const char *tls_hello_status_str(enum tls_hello_status);

#endif
