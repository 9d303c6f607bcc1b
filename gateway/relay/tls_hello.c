/*
 * tls_hello: ClientHello parser (RFC 8446 4.1.2, RFC 5246 7.4.1.2,
 * RFC 6066 3).  Sits at the very start of the relay's data path: the relay
 * reads the first bytes a charger sends, hands them here, and decides from
 * the SNI whether to connect anywhere at all.  Never trusts a length field.
 */
#include "evgate_config.h"

#include <string.h>

#include "relay/tls_hello.h"

#define TLS_CT_HANDSHAKE	22
#define TLS_HS_CLIENT_HELLO	1
#define TLS_EXT_SERVER_NAME	0
#define TLS_EXT_ALPN		16
#define TLS_EXT_SUPPORTED_VERSIONS 43
#define TLS_SNI_HOST_NAME	0

/* A cursor over a bounded byte range. */
struct rd {
	const uint8_t	*p;
	size_t		 left;
};

static int
rd_u8(struct rd *r, uint8_t *v)
{
	if (r->left < 1)
		return -1;
	*v = r->p[0];
	r->p++;
	r->left--;
	return 0;
}

static int
rd_u16(struct rd *r, uint16_t *v)
{
	if (r->left < 2)
		return -1;
	*v = (uint16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	r->left -= 2;
	return 0;
}

static int
rd_skip(struct rd *r, size_t n)
{
	if (r->left < n)
		return -1;
	r->p += n;
	r->left -= n;
	return 0;
}

/* Take a sub-range of n bytes. */
static int
rd_sub(struct rd *r, size_t n, struct rd *sub)
{
	if (r->left < n)
		return -1;
	sub->p = r->p;
	sub->left = n;
	r->p += n;
	r->left -= n;
	return 0;
}

/* Vector with a 1- or 2-byte length prefix. */
static int
rd_vec8(struct rd *r, struct rd *sub)
{
	uint8_t n;

	return rd_u8(r, &n) == -1 ? -1 : rd_sub(r, n, sub);
}

static int
rd_vec16(struct rd *r, struct rd *sub)
{
	uint16_t n;

	return rd_u16(r, &n) == -1 ? -1 : rd_sub(r, n, sub);
}

/*
 * A DNS name as RFC 6066 wants it in host_name: letters, digits, hyphens
 * and underscores in dot-separated labels of 1-63 (none empty), at most 253
 * characters (one final dot is tolerated), not all-numeric labels (an IPv4
 * literal) and no colons (an IPv6 literal).
 */
static int
valid_dns_name(const uint8_t *s, size_t len)
{
	size_t i, label = 0;
	int alpha = 0;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > TLS_HELLO_MAX_NAME)
		return 0;
	for (i = 0; i < len; i++) {
		uint8_t c = s[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (++label > 63)
			return 0;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '-' || c == '_')
			alpha = 1;
		else if (!(c >= '0' && c <= '9'))
			return 0;
		if (c == '-' && (label == 1 || i + 1 == len || s[i + 1] == '.'))
			return 0;
	}
	/* "name.." leaves an empty last label: not a name. */
	if (label == 0)
		return 0;
	/* All digits and dots: an IPv4 literal in disguise. */
	return alpha;
}

/* Keep what a refused name looked like, for the operator (bounded). */
static enum tls_hello_status
bad_sni(struct tls_hello *out, const struct rd *name)
{
	size_t n = name->left < TLS_HELLO_MAX_NAME ? name->left :
	    TLS_HELLO_MAX_NAME;

	if (out->sni_len == 0) {
		memcpy(out->sni, name->p, n);
		out->sni[n] = '\0';
		out->sni_len = n;
	}
	return TLS_HELLO_BAD_SNI;
}

static enum tls_hello_status
parse_sni(struct rd ext, struct tls_hello *out)
{
	struct rd list, name;
	uint8_t type;
	int seen = 0;

	if (ext.left == 0) {
		/* Empty extension_data is what a server sends back; in a
		 * ClientHello it carries no name. */
		return TLS_HELLO_MALFORMED;
	}
	if (rd_vec16(&ext, &list) == -1 || ext.left != 0 || list.left == 0)
		return TLS_HELLO_MALFORMED;
	while (list.left > 0) {
		if (rd_u8(&list, &type) == -1 || rd_vec16(&list, &name) == -1)
			return TLS_HELLO_MALFORMED;
		if (type != TLS_SNI_HOST_NAME)
			continue;	/* unknown types are skipped (RFC 6066) */
		if (seen++ || !valid_dns_name(name.p, name.left))
			return bad_sni(out, &name);
		memcpy(out->sni, name.p, name.left);
		out->sni[name.left] = '\0';
		out->sni_len = name.left;
	}
	if (!seen)
		return TLS_HELLO_BAD_SNI;
	out->has_sni = 1;
	return TLS_HELLO_OK;
}

static enum tls_hello_status
parse_client_hello(struct rd body, struct tls_hello *out)
{
	struct rd session, suites, comp, exts, ext;
	uint64_t seen[65536 / 64];	/* extension types, one bit each */
	uint16_t type;
	enum tls_hello_status st;

	if (rd_u16(&body, &out->client_version) == -1 ||
	    rd_skip(&body, 32) == -1 ||			/* random */
	    rd_vec8(&body, &session) == -1 || session.left > 32 ||
	    rd_vec16(&body, &suites) == -1 || suites.left < 2 ||
	    suites.left % 2 != 0 ||
	    rd_vec8(&body, &comp) == -1 || comp.left < 1)
		return TLS_HELLO_MALFORMED;
	if ((out->client_version >> 8) != 3)
		return TLS_HELLO_MALFORMED;
	if (body.left == 0)
		return TLS_HELLO_OK;		/* no extensions at all */
	if (rd_vec16(&body, &exts) == -1 || body.left != 0)
		return TLS_HELLO_MALFORMED;
	memset(seen, 0, sizeof(seen));
	while (exts.left > 0) {
		if (rd_u16(&exts, &type) == -1 || rd_vec16(&exts, &ext) == -1)
			return TLS_HELLO_MALFORMED;
		/* RFC 8446 4.2: one extension of a type, at most -- however
		 * many there are, or a second server_name could win. */
		if (seen[type / 64] & (1ULL << (type % 64)))
			return TLS_HELLO_MALFORMED;
		seen[type / 64] |= 1ULL << (type % 64);
		out->nextensions++;
		switch (type) {
		case TLS_EXT_SERVER_NAME:
			if ((st = parse_sni(ext, out)) != TLS_HELLO_OK)
				return st;
			break;
		case TLS_EXT_ALPN:
			out->has_alpn = 1;
			break;
		case TLS_EXT_SUPPORTED_VERSIONS: {
			struct rd vers;
			uint16_t v;

			if (rd_vec8(&ext, &vers) == -1 || vers.left % 2 != 0)
				return TLS_HELLO_MALFORMED;
			while (rd_u16(&vers, &v) == 0)
				if (v == 0x0304)
					out->supports_tls13 = 1;
			break;
		}
		default:
			break;
		}
	}
	return TLS_HELLO_OK;
}

enum tls_hello_status
tls_hello_parse(const uint8_t *buf, size_t len, struct tls_hello *out)
{
	/* The handshake message, reassembled from its records. */
	uint8_t msg[TLS_HELLO_MAX_MSG + 4];
	size_t have = 0, need = 0, off = 0;
	struct rd body;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return TLS_HELLO_NEED_MORE;
	if (buf[0] & 0x80) {
		/* SSLv2 record header with a CLIENT-HELLO (msg type 1). */
		if (len >= 3 && buf[2] == 1)
			return TLS_HELLO_SSLV2;
		return len < 3 ? TLS_HELLO_NEED_MORE : TLS_HELLO_NOT_TLS;
	}
	if (buf[0] != TLS_CT_HANDSHAKE)
		return TLS_HELLO_NOT_TLS;

	for (;;) {
		size_t rlen, take;

		if (off >= TLS_HELLO_MAX_WIRE)
			return TLS_HELLO_TOO_BIG;
		if (len - off < 5) {
			/* Check what we have of the header before waiting. */
			if (len - off >= 1 && buf[off] != TLS_CT_HANDSHAKE)
				return off == 0 ? TLS_HELLO_NOT_TLS :
				    TLS_HELLO_MALFORMED;
			if (len - off >= 2 && buf[off + 1] != 3)
				return off == 0 ? TLS_HELLO_NOT_TLS :
				    TLS_HELLO_MALFORMED;
			return TLS_HELLO_NEED_MORE;
		}
		if (buf[off] != TLS_CT_HANDSHAKE)
			return TLS_HELLO_MALFORMED;	/* e.g. alert mid-hello */
		if (buf[off + 1] != 3)
			return off == 0 ? TLS_HELLO_NOT_TLS : TLS_HELLO_MALFORMED;
		if (off == 0)
			out->record_version =
			    (uint16_t)(buf[1] << 8 | buf[2]);
		rlen = (size_t)buf[off + 3] << 8 | buf[off + 4];
		if (rlen == 0 || rlen > 16384)	/* RFC 8446 5.1 */
			return TLS_HELLO_MALFORMED;
		if (off + 5 + rlen > TLS_HELLO_MAX_WIRE)
			return TLS_HELLO_TOO_BIG;
		take = len - off - 5 < rlen ? len - off - 5 : rlen;
		if (have + take > sizeof(msg))
			return TLS_HELLO_TOO_BIG;
		memcpy(msg + have, buf + off + 5, take);
		have += take;

		if (need == 0 && have >= 4) {
			if (msg[0] != TLS_HS_CLIENT_HELLO)
				return TLS_HELLO_MALFORMED;
			need = (size_t)msg[1] << 16 | (size_t)msg[2] << 8 |
			    msg[3];
			if (need > TLS_HELLO_MAX_MSG)
				return TLS_HELLO_TOO_BIG;
			need += 4;
			if (need < 4 + 38)	/* version, random, lengths */
				return TLS_HELLO_MALFORMED;
		} else if (need == 0 && have >= 1 &&
		    msg[0] != TLS_HS_CLIENT_HELLO)
			return TLS_HELLO_MALFORMED;

		if (take < rlen)
			return TLS_HELLO_NEED_MORE;	/* record incomplete */
		off += 5 + rlen;
		if (need != 0 && have >= need) {
			/* A record must not carry bytes past the hello: the
			 * next handshake message can only come from a server
			 * flight, never in the client's first flight. */
			if (have > need)
				return TLS_HELLO_MALFORMED;
			break;
		}
		if (off == len)
			return TLS_HELLO_NEED_MORE;
	}
	out->wire_len = off;
	body.p = msg + 4;
	body.left = need - 4;
	return parse_client_hello(body, out);
}

const char *
tls_hello_status_str(enum tls_hello_status st)
{
	switch (st) {
	case TLS_HELLO_OK:
		return "ok";
	case TLS_HELLO_NEED_MORE:
		return "need-more";
	case TLS_HELLO_NOT_TLS:
		return "not-tls";
	case TLS_HELLO_SSLV2:
		return "sslv2";
	case TLS_HELLO_MALFORMED:
		return "malformed";
	case TLS_HELLO_TOO_BIG:
		return "too-big";
	case TLS_HELLO_BAD_SNI:
		return "bad-sni";
	}
	return "unknown";
}
