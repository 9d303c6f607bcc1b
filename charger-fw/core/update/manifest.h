/*
 * manifest: the signed description of a firmware image (format
 * "evgate-fw-1"), its detached Ed25519 signature, and the strict parser.
 *
 * A manifest is text, at most MANIFEST_MAX_LEN bytes, one "key: value"
 * line per field, every line ending in "\n", no CR, NUL, empty line or
 * trailing space, no line longer than MANIFEST_LINE_MAX bytes.  The first
 * line is "format: evgate-fw-1"; then product, version, security_version,
 * size, sha256, created, expires, key_id (each exactly once, any order)
 * and optionally url.  Anything else is refused.  See
 * doc/firmware-updates.md for the field rules.
 *
 * The signature is 64 raw bytes over the exact manifest bytes.  The order
 * the update engine follows, and that this API makes natural:
 *   1. manifest_key_id()   - find which trusted key to use (one bounded
 *                            scan for the "key_id: " line, nothing else);
 *   2. manifest_verify()   - Ed25519 over the bytes, with that key;
 *   3. manifest_parse()    - only bytes the vendor signed get parsed.
 * All functions are pure (no I/O, no allocation except OpenSSL's
 * verification context) and read at most len bytes.
 */
#ifndef EVFW_MANIFEST_H
#define EVFW_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#define MANIFEST_FORMAT		"evgate-fw-1"
#define MANIFEST_MAX_LEN	4096	/* bytes, whole manifest */
#define MANIFEST_LINE_MAX	256	/* bytes, one line with its "\n" */
#define MANIFEST_SIG_LEN	64	/* Ed25519 signature */
#define MANIFEST_PUBKEY_LEN	32	/* Ed25519 public key */
#define MANIFEST_SHA256_LEN	32
#define MANIFEST_PRODUCT_MAX	64	/* with the NUL */
#define MANIFEST_VERSION_MAX	32	/* with the NUL; HAL_SLOT_VERSION_MAX */
#define MANIFEST_KEYID_MAX	32	/* with the NUL */
#define MANIFEST_URL_MAX	MANIFEST_LINE_MAX
/* Largest image a manifest may describe (1 TiB; slots are far smaller). */
#define MANIFEST_SIZE_MAX	(1ULL << 40)

struct manifest {
	char		product[MANIFEST_PRODUCT_MAX];
	char		version[MANIFEST_VERSION_MAX];
	uint32_t	security_version;
	uint64_t	size;		/* bytes, >= 1 */
	uint8_t		sha256[MANIFEST_SHA256_LEN];
	int64_t		created;	/* seconds since 1970 UTC */
	int64_t		expires;	/* seconds since 1970 UTC, > created */
	char		key_id[MANIFEST_KEYID_MAX];
	char		url[MANIFEST_URL_MAX];	/* "" when absent */
	/* On error: the 1-based line the parser stopped at (0: none). */
	unsigned	err_line;
};

enum manifest_status {
	MANIFEST_OK = 0,
	MANIFEST_E_EMPTY,		/* no bytes */
	MANIFEST_E_TOO_LONG,		/* more than MANIFEST_MAX_LEN */
	MANIFEST_E_NUL,			/* a NUL byte */
	MANIFEST_E_CR,			/* a carriage return */
	MANIFEST_E_LINE_TOO_LONG,	/* a line over MANIFEST_LINE_MAX */
	MANIFEST_E_NO_NEWLINE,		/* the last line is not terminated */
	MANIFEST_E_EMPTY_LINE,
	MANIFEST_E_SYNTAX,		/* not "key: value" */
	MANIFEST_E_TRAILING_SPACE,	/* space or tab at the end of a line */
	MANIFEST_E_FORMAT,		/* first line not format: evgate-fw-1 */
	MANIFEST_E_UNKNOWN_KEY,
	MANIFEST_E_DUPLICATE,
	MANIFEST_E_MISSING,		/* a required key is absent */
	MANIFEST_E_VALUE,		/* a value breaks its key's rules */
	MANIFEST_E_TIMES,		/* expires not after created */
	MANIFEST_E_NO_KEY_ID,		/* manifest_key_id: no key_id line */
	/* manifest_verify */
	MANIFEST_E_SIG_LENGTH,		/* signature is not 64 bytes */
	MANIFEST_E_BAD_SIGNATURE,	/* does not verify with the key */
	MANIFEST_E_CRYPTO,		/* OpenSSL could not set up */
};

/*
 * Parse a manifest.  On MANIFEST_OK every field of out is set and valid;
 * otherwise out->err_line says where the parser stopped.
 */
enum manifest_status manifest_parse(const uint8_t *, size_t,
	    struct manifest *);

/*
 * Find the key_id value without parsing the rest: for choosing the key
 * before manifest_verify().  Copies it to out (cap bytes, NUL-terminated)
 * and returns MANIFEST_OK; MANIFEST_E_NO_KEY_ID when there is no well-formed
 * "key_id: " line, MANIFEST_E_DUPLICATE when there are several, or a
 * framing error (too long, NUL, ...).
 */
enum manifest_status manifest_key_id(const uint8_t *, size_t, char *out,
	    size_t cap);

/*
 * Ed25519 verification of sig (siglen must be 64) over buf with the raw
 * 32-byte public key pub.  MANIFEST_OK or an error status.
 */
enum manifest_status manifest_verify(const uint8_t *buf, size_t len,
	    const uint8_t *sig, size_t siglen,
	    const uint8_t pub[MANIFEST_PUBKEY_LEN]);

/* A short English description of a status ("unknown key", ...). */
const char *manifest_strerror(enum manifest_status);

/* "2026-01-01T00:00:00Z" (exactly this form) <-> seconds; -1 if invalid. */
int	 manifest_time_parse(const char *, size_t, int64_t *);
/* Writes the form above; buf needs 21 bytes.  Returns buf. */
char	*manifest_time_format(int64_t, char *buf, size_t cap);

/* 64 hex digits (either case) -> 32 bytes; -1 if not exactly that. */
int	 manifest_hex32(const char *, size_t, uint8_t out[32]);
/* Lowercase hex of n bytes into out (2n + 1 bytes). */
void	 manifest_hex(const uint8_t *, size_t n, char *out);

/* A value is a valid key id / version / product (same rules as parsing). */
int	 manifest_key_id_ok(const char *);
int	 manifest_version_ok(const char *);
int	 manifest_product_ok(const char *);

#endif
