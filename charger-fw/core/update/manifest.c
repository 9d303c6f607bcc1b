/*
 * manifest: strict, bounded parser and Ed25519 verification of firmware
 * manifests (see manifest.h for the format and the order of use).
 *
 * The parser is deliberately narrow: one spelling for every value (no
 * leading zeros, no signs, lowercase hex, one time format), so that two
 * programs can never read one signed manifest differently.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/update/manifest.h"

enum mkey {
	K_FORMAT = 0,
	K_PRODUCT,
	K_VERSION,
	K_SECVER,
	K_SIZE,
	K_SHA256,
	K_CREATED,
	K_EXPIRES,
	K_KEY_ID,
	K_URL,
	K_COUNT
};

static const struct {
	const char	*name;
	int		 required;
} mkeys[K_COUNT] = {
	[K_FORMAT] = { "format", 1 },
	[K_PRODUCT] = { "product", 1 },
	[K_VERSION] = { "version", 1 },
	[K_SECVER] = { "security_version", 1 },
	[K_SIZE] = { "size", 1 },
	[K_SHA256] = { "sha256", 1 },
	[K_CREATED] = { "created", 1 },
	[K_EXPIRES] = { "expires", 1 },
	[K_KEY_ID] = { "key_id", 1 },
	[K_URL] = { "url", 0 },
};

/* One line of the manifest, split at the first ": ". */
struct mline {
	const uint8_t	*key;
	size_t		 keylen;
	const uint8_t	*val;
	size_t		 vallen;
};

static int
is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static int
is_alnum(uint8_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Frame the line starting at buf[*pos]: checks NUL, CR, length and the
 * terminating newline, then splits "key: value".  Advances *pos past the
 * newline.  Framing errors come before syntax errors so that the most
 * basic defect is the one reported.
 */
static enum manifest_status
next_line(const uint8_t *buf, size_t len, size_t *pos, struct mline *l)
{
	const uint8_t *p = buf + *pos, *nl, *colon;
	size_t rest = len - *pos, n, i;

	for (i = 0; i < rest && i < MANIFEST_LINE_MAX && p[i] != '\n'; i++) {
		if (p[i] == '\0')
			return MANIFEST_E_NUL;
		if (p[i] == '\r')
			return MANIFEST_E_CR;
	}
	if (i == MANIFEST_LINE_MAX)
		return MANIFEST_E_LINE_TOO_LONG;	/* no room for "\n" */
	if (i == rest)
		return MANIFEST_E_NO_NEWLINE;
	nl = p + i;
	n = i;				/* without the newline */
	*pos += n + 1;
	if (n == 0)
		return MANIFEST_E_EMPTY_LINE;
	if (p[n - 1] == ' ' || p[n - 1] == '\t')
		return MANIFEST_E_TRAILING_SPACE;
	if ((colon = memchr(p, ':', n)) == NULL || colon == p ||
	    colon + 1 >= nl || colon[1] != ' ' || colon + 2 >= nl)
		return MANIFEST_E_SYNTAX;
	for (i = 0; p + i < colon; i++)
		if (!is_alnum(p[i]) && p[i] != '_')
			return MANIFEST_E_SYNTAX;
	l->key = p;
	l->keylen = (size_t)(colon - p);
	l->val = colon + 2;
	l->vallen = (size_t)(nl - l->val);
	return MANIFEST_OK;
}

static int
key_is(const struct mline *l, const char *name)
{
	return l->keylen == strlen(name) &&
	    memcmp(l->key, name, l->keylen) == 0;
}

/* Framing checks common to manifest_parse and manifest_key_id. */
static enum manifest_status
check_size(const uint8_t *buf, size_t len)
{
	if (len == 0)
		return MANIFEST_E_EMPTY;
	if (len > MANIFEST_MAX_LEN)
		return MANIFEST_E_TOO_LONG;
	return MANIFEST_OK;
}

/* [A-Za-z0-9] first, then [A-Za-z0-9] or one of extra; 1..max-1 bytes. */
static int
name_ok(const uint8_t *v, size_t n, size_t max, const char *extra)
{
	size_t i;

	if (n == 0 || n >= max || !is_alnum(v[0]))
		return 0;
	for (i = 1; i < n; i++)
		if (!is_alnum(v[i]) && (v[i] == '\0' ||
		    strchr(extra, v[i]) == NULL))
			return 0;
	return 1;
}

int
manifest_key_id_ok(const char *s)
{
	return name_ok((const uint8_t *)s, strlen(s), MANIFEST_KEYID_MAX,
	    "._-");
}

int
manifest_version_ok(const char *s)
{
	return name_ok((const uint8_t *)s, strlen(s), MANIFEST_VERSION_MAX,
	    "._+-");
}

int
manifest_product_ok(const char *s)
{
	return name_ok((const uint8_t *)s, strlen(s), MANIFEST_PRODUCT_MAX,
	    "._-");
}

/* Decimal without sign or leading zero, at most max. */
static int
uint_ok(const uint8_t *v, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 20 || (n > 1 && v[0] == '0'))
		return 0;
	for (i = 0; i < n; i++) {
		if (!is_digit(v[i]))
			return 0;
		if (x > (max - (uint64_t)(v[i] - '0')) / 10)
			return 0;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return 1;
}

static int
hexval(uint8_t c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
manifest_hex32(const char *s, size_t n, uint8_t out[32])
{
	size_t i;
	int hi, lo;

	if (n != 64)
		return -1;
	for (i = 0; i < 32; i++) {
		if ((hi = hexval((uint8_t)s[2 * i])) < 0 ||
		    (lo = hexval((uint8_t)s[2 * i + 1])) < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void
manifest_hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int
num(const char *s, size_t n, unsigned *out)
{
	unsigned x = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!is_digit((uint8_t)s[i]))
			return -1;
		x = x * 10 + (unsigned)(s[i] - '0');
	}
	*out = x;
	return 0;
}

int
manifest_time_parse(const char *s, size_t n, int64_t *out)
{
	static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31,
		30, 31, 30, 31 };
	unsigned y, mo, d, h, mi, se;

	/* 2026-01-01T00:00:00Z */
	if (n != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':' || s[19] != 'Z')
		return -1;
	if (num(s, 4, &y) == -1 || num(s + 5, 2, &mo) == -1 ||
	    num(s + 8, 2, &d) == -1 || num(s + 11, 2, &h) == -1 ||
	    num(s + 14, 2, &mi) == -1 || num(s + 17, 2, &se) == -1)
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h > 23 || mi > 59 || se > 59)
		return -1;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 ||
	    y % 400 == 0)))
		return -1;
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	return 0;
}

char *
manifest_time_format(int64_t t, char *buf, size_t cap)
{
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t secs = t - days * 86400, y;
	unsigned m, d;

	civil_from_days(days, &y, &m, &d);
	snprintf(buf, cap, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y,
	    m, d, (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
	    (unsigned)(secs % 60));
	return buf;
}

/* The url value: https://, then visible ASCII only. */
static int
url_ok(const uint8_t *v, size_t n)
{
	size_t i;

	if (n <= 8 || n >= MANIFEST_URL_MAX || memcmp(v, "https://", 8) != 0)
		return 0;
	for (i = 8; i < n; i++)
		if (v[i] <= ' ' || v[i] >= 0x7f)
			return 0;
	return 1;
}

static void
copy_str(char *dst, const uint8_t *v, size_t n)
{
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static enum manifest_status
set_value(enum mkey k, const struct mline *l, struct manifest *m)
{
	const uint8_t *v = l->val;
	size_t n = l->vallen;
	uint64_t x;
	int64_t t;
	size_t i;

	switch (k) {
	case K_FORMAT:
		if (n != strlen(MANIFEST_FORMAT) ||
		    memcmp(v, MANIFEST_FORMAT, n) != 0)
			return MANIFEST_E_FORMAT;
		return MANIFEST_OK;
	case K_PRODUCT:
		if (!name_ok(v, n, sizeof(m->product), "._-"))
			return MANIFEST_E_VALUE;
		copy_str(m->product, v, n);
		return MANIFEST_OK;
	case K_VERSION:
		if (!name_ok(v, n, sizeof(m->version), "._+-"))
			return MANIFEST_E_VALUE;
		copy_str(m->version, v, n);
		return MANIFEST_OK;
	case K_KEY_ID:
		if (!name_ok(v, n, sizeof(m->key_id), "._-"))
			return MANIFEST_E_VALUE;
		copy_str(m->key_id, v, n);
		return MANIFEST_OK;
	case K_SECVER:
		if (!uint_ok(v, n, UINT32_MAX, &x))
			return MANIFEST_E_VALUE;
		m->security_version = (uint32_t)x;
		return MANIFEST_OK;
	case K_SIZE:
		if (!uint_ok(v, n, MANIFEST_SIZE_MAX, &x) || x == 0)
			return MANIFEST_E_VALUE;
		m->size = x;
		return MANIFEST_OK;
	case K_SHA256:
		/* Lowercase only: one spelling per value. */
		for (i = 0; i < n; i++)
			if (!is_digit(v[i]) && !(v[i] >= 'a' && v[i] <= 'f'))
				return MANIFEST_E_VALUE;
		if (manifest_hex32((const char *)v, n, m->sha256) == -1)
			return MANIFEST_E_VALUE;
		return MANIFEST_OK;
	case K_CREATED:
	case K_EXPIRES:
		if (manifest_time_parse((const char *)v, n, &t) == -1)
			return MANIFEST_E_VALUE;
		if (k == K_CREATED)
			m->created = t;
		else
			m->expires = t;
		return MANIFEST_OK;
	case K_URL:
		if (!url_ok(v, n))
			return MANIFEST_E_VALUE;
		copy_str(m->url, v, n);
		return MANIFEST_OK;
	case K_COUNT:
		break;
	}
	return MANIFEST_E_UNKNOWN_KEY;
}

enum manifest_status
manifest_parse(const uint8_t *buf, size_t len, struct manifest *m)
{
	enum manifest_status st;
	struct mline l;
	unsigned seen = 0, line = 0;
	size_t pos = 0;
	int k;

	memset(m, 0, sizeof(*m));
	if ((st = check_size(buf, len)) != MANIFEST_OK)
		return st;
	while (pos < len) {
		line++;
		if ((st = next_line(buf, len, &pos, &l)) != MANIFEST_OK)
			goto fail;
		for (k = 0; k < K_COUNT; k++)
			if (key_is(&l, mkeys[k].name))
				break;
		if (k == K_COUNT) {
			/* The first line decides the format. */
			st = line == 1 ? MANIFEST_E_FORMAT :
			    MANIFEST_E_UNKNOWN_KEY;
			goto fail;
		}
		if (line == 1 && k != K_FORMAT) {
			st = MANIFEST_E_FORMAT;
			goto fail;
		}
		if (seen & (1U << k)) {
			st = MANIFEST_E_DUPLICATE;
			goto fail;
		}
		seen |= 1U << k;
		if ((st = set_value((enum mkey)k, &l, m)) != MANIFEST_OK)
			goto fail;
	}
	for (k = 0; k < K_COUNT; k++)
		if (mkeys[k].required && !(seen & (1U << k))) {
			line = 0;
			st = MANIFEST_E_MISSING;
			goto fail;
		}
	if (m->expires <= m->created) {
		line = 0;
		st = MANIFEST_E_TIMES;
		goto fail;
	}
	return MANIFEST_OK;
fail:
	memset(m, 0, sizeof(*m));
	m->err_line = line;
	return st;
}

enum manifest_status
manifest_key_id(const uint8_t *buf, size_t len, char *out, size_t cap)
{
	enum manifest_status st;
	struct mline l;
	size_t pos = 0;
	int found = 0;

	if (cap > 0)
		out[0] = '\0';
	if ((st = check_size(buf, len)) != MANIFEST_OK)
		return st;
	while (pos < len) {
		st = next_line(buf, len, &pos, &l);
		/*
		 * Only framing errors matter here (manifest_parse judges the
		 * rest after verification); but a line that cannot be split
		 * cannot be the key_id line either.
		 */
		if (st != MANIFEST_OK && st != MANIFEST_E_SYNTAX &&
		    st != MANIFEST_E_TRAILING_SPACE &&
		    st != MANIFEST_E_EMPTY_LINE)
			return st;
		if (st != MANIFEST_OK || !key_is(&l, "key_id"))
			continue;
		if (found++)
			return MANIFEST_E_DUPLICATE;
		if (!name_ok(l.val, l.vallen, MANIFEST_KEYID_MAX, "._-") ||
		    l.vallen >= cap)
			return MANIFEST_E_NO_KEY_ID;
		copy_str(out, l.val, l.vallen);
	}
	return found ? MANIFEST_OK : MANIFEST_E_NO_KEY_ID;
}

enum manifest_status
manifest_verify(const uint8_t *buf, size_t len, const uint8_t *sig,
    size_t siglen, const uint8_t pub[MANIFEST_PUBKEY_LEN])
{
	enum manifest_status st = MANIFEST_E_CRYPTO;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *ctx = NULL;
	int rv;

	if (siglen != MANIFEST_SIG_LEN)
		return MANIFEST_E_SIG_LENGTH;
	if ((st = check_size(buf, len)) != MANIFEST_OK)
		return st;
	st = MANIFEST_E_CRYPTO;
	if ((pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
	    MANIFEST_PUBKEY_LEN)) == NULL)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	/* Ed25519 is one-shot: no digest, one EVP_DigestVerify call. */
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) != 1)
		goto out;
	rv = EVP_DigestVerify(ctx, sig, siglen, buf, len);
	st = rv == 1 ? MANIFEST_OK : MANIFEST_E_BAD_SIGNATURE;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return st;
}

const char *
manifest_strerror(enum manifest_status st)
{
	switch (st) {
	case MANIFEST_OK:
		return "ok";
	case MANIFEST_E_EMPTY:
		return "empty manifest";
	case MANIFEST_E_TOO_LONG:
		return "manifest longer than 4096 bytes";
	case MANIFEST_E_NUL:
		return "NUL byte in manifest";
	case MANIFEST_E_CR:
		return "carriage return in manifest";
	case MANIFEST_E_LINE_TOO_LONG:
		return "line longer than 256 bytes";
	case MANIFEST_E_NO_NEWLINE:
		return "last line not terminated by a newline";
	case MANIFEST_E_EMPTY_LINE:
		return "empty line";
	case MANIFEST_E_SYNTAX:
		return "line is not \"key: value\"";
	case MANIFEST_E_TRAILING_SPACE:
		return "trailing white space";
	case MANIFEST_E_FORMAT:
		return "first line is not \"format: " MANIFEST_FORMAT "\"";
	case MANIFEST_E_UNKNOWN_KEY:
		return "unknown key";
	case MANIFEST_E_DUPLICATE:
		return "duplicate key";
	case MANIFEST_E_MISSING:
		return "required key missing";
	case MANIFEST_E_VALUE:
		return "invalid value";
	case MANIFEST_E_TIMES:
		return "expires is not after created";
	case MANIFEST_E_NO_KEY_ID:
		return "no valid key_id";
	case MANIFEST_E_SIG_LENGTH:
		return "signature is not 64 bytes";
	case MANIFEST_E_BAD_SIGNATURE:
		return "bad signature";
	case MANIFEST_E_CRYPTO:
		return "crypto library failure";
	}
	return "unknown error";
}
