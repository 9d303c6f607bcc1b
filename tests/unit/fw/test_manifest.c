/*
 * test_manifest: the strict manifest parser, the key-id scan that picks
 * the verification key, Ed25519 verification, and the time and hex
 * helpers (charger-fw/core/update/manifest.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "core/update/manifest.h"

#define SHA_A	"00112233445566778899aabbccddeeff" \
		"00112233445566778899aabbccddeeff"

static const char good[] =
    "format: evgate-fw-1\n"
    "product: evcharger-sim\n"
    "version: 1.2.0\n"
    "security_version: 3\n"
    "size: 123456\n"
    "sha256: " SHA_A "\n"
    "created: 2026-01-01T00:00:00Z\n"
    "expires: 2026-04-01T00:00:00Z\n"
    "key_id: vendor-2026a\n";

static enum manifest_status
parse(const char *s, struct manifest *m)
{
	return manifest_parse((const uint8_t *)s, strlen(s), m);
}

/* good[] with the line starting with "key: " replaced by repl (a whole
 * line with its newline, or "" to drop it). */
static const char *
with_line(const char *key, const char *repl)
{
	static char buf[8192];
	const char *p = good, *nl;
	size_t klen = strlen(key), n = 0;

	while (*p != '\0') {
		nl = strchr(p, '\n') + 1;
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			memcpy(buf + n, repl, strlen(repl));
			n += strlen(repl);
		} else {
			memcpy(buf + n, p, (size_t)(nl - p));
			n += (size_t)(nl - p);
		}
		p = nl;
	}
	buf[n] = '\0';
	return buf;
}

static void
expect(const char *text, enum manifest_status want, unsigned line)
{
	struct manifest m;
	enum manifest_status st = parse(text, &m);

	if (st != want)
		fail_msg("want \"%s\", got \"%s\" for:\n%s",
		    manifest_strerror(want), manifest_strerror(st), text);
	assert_int_equal(m.err_line, line);
	if (st != MANIFEST_OK)
		assert_int_equal(m.size, 0);	/* nothing half-filled */
}

static void
test_good(void **state)
{
	struct manifest m;
	uint8_t sha[32];

	assert_int_equal(parse(good, &m), MANIFEST_OK);
	assert_string_equal(m.product, "evcharger-sim");
	assert_string_equal(m.version, "1.2.0");
	assert_int_equal(m.security_version, 3);
	assert_int_equal(m.size, 123456);
	assert_int_equal(manifest_hex32(SHA_A, 64, sha), 0);
	assert_memory_equal(m.sha256, sha, 32);
	assert_int_equal(m.created, 1767225600);
	assert_int_equal(m.expires, 1775001600);
	assert_string_equal(m.key_id, "vendor-2026a");
	assert_string_equal(m.url, "");
	assert_int_equal(m.err_line, 0);

	/* Keys in another order (format first) and the optional url. */
	expect("format: evgate-fw-1\n"
	    "url: https://devices.zaptec.com/fw/a.bin\n"
	    "key_id: k1\n"
	    "expires: 2030-01-01T00:00:00Z\n"
	    "created: 2029-12-31T23:59:59Z\n"
	    "sha256: " SHA_A "\n"
	    "size: 1\n"
	    "security_version: 0\n"
	    "version: 2.0.0-rc1+b7\n"
	    "product: p\n", MANIFEST_OK, 0);
	assert_int_equal(parse(with_line("key_id",
	    "key_id: k\nurl: https://x.example/fw/a.bin?x=1\n"), &m),
	    MANIFEST_OK);
	assert_string_equal(m.url, "https://x.example/fw/a.bin?x=1");
	/* Largest values. */
	assert_int_equal(parse(with_line("security_version",
	    "security_version: 4294967295\n"), &m), MANIFEST_OK);
	assert_int_equal(m.security_version, 4294967295U);
	assert_int_equal(parse(with_line("size", "size: 1099511627776\n"),
	    &m), MANIFEST_OK);
	assert_int_equal(m.size, 1ULL << 40);
}

/* Bytes that must never be in a manifest, and how lines are framed. */
static void
test_framing(void **state)
{
	struct manifest m;
	uint8_t big[MANIFEST_MAX_LEN + 1];
	char buf[1024];
	size_t n;

	assert_int_equal(manifest_parse((const uint8_t *)"", 0, &m),
	    MANIFEST_E_EMPTY);
	memset(big, 'a', sizeof(big));
	assert_int_equal(manifest_parse(big, sizeof(big), &m),
	    MANIFEST_E_TOO_LONG);
	/* 4096 bytes is not "too long" (it fails for another reason). */
	assert_int_equal(manifest_parse(big, MANIFEST_MAX_LEN, &m),
	    MANIFEST_E_LINE_TOO_LONG);
	assert_int_equal(m.err_line, 1);

	/* NUL anywhere, even inside a value. */
	memcpy(buf, good, sizeof(good));
	buf[30] = '\0';
	assert_int_equal(manifest_parse((uint8_t *)buf, sizeof(good) - 1, &m),
	    MANIFEST_E_NUL);
	assert_int_equal(m.err_line, 2);
	/* The terminating NUL of the C string counted as content. */
	assert_int_equal(manifest_parse((const uint8_t *)good, sizeof(good),
	    &m), MANIFEST_E_NUL);
	assert_int_equal(m.err_line, 10);

	expect(with_line("version", "version: 1.2.0\r\n"), MANIFEST_E_CR, 3);
	expect(with_line("version", "version: 1.2.0 \n"),
	    MANIFEST_E_TRAILING_SPACE, 3);
	expect(with_line("version", "version: 1.2.0\t\n"),
	    MANIFEST_E_TRAILING_SPACE, 3);
	expect(with_line("version", "version: 1.2.0\n\n"),
	    MANIFEST_E_EMPTY_LINE, 4);
	expect(with_line("version", "version:1.2.0\n"), MANIFEST_E_SYNTAX, 3);
	expect(with_line("version", "version 1.2.0\n"), MANIFEST_E_SYNTAX, 3);
	expect(with_line("version", "version:\n"), MANIFEST_E_SYNTAX, 3);
	expect(with_line("version", "version: \n"),
	    MANIFEST_E_TRAILING_SPACE, 3);
	expect(with_line("version", ": 1.2.0\n"), MANIFEST_E_SYNTAX, 3);
	expect(with_line("version", " version: 1.2.0\n"), MANIFEST_E_SYNTAX,
	    3);
	expect(with_line("version", "Version: 1.2.0\n"),
	    MANIFEST_E_UNKNOWN_KEY, 3);
	/* Two spaces: the value would start with a space. */
	expect(with_line("version", "version:  1.2.0\n"), MANIFEST_E_VALUE, 3);

	/* The last line must end in a newline. */
	n = strlen(good) - 1;
	assert_int_equal(manifest_parse((const uint8_t *)good, n, &m),
	    MANIFEST_E_NO_NEWLINE);
	assert_int_equal(m.err_line, 9);
}

/* Line length: 256 bytes with the newline is the most. */
static void
test_line_length(void **state)
{
	char line[600], url[512];
	size_t pre = strlen("url: https://");

	/* A url line of exactly 256 bytes (255 + newline). */
	memset(url, 'a', sizeof(url));
	memcpy(url, "url: https://", pre);
	url[255] = '\n';
	url[256] = '\0';
	snprintf(line, sizeof(line), "key_id: k\n%s", url);
	expect(with_line("key_id", line), MANIFEST_OK, 0);
	/* One more byte and the line is too long. */
	url[255] = 'a';
	url[256] = '\n';
	url[257] = '\0';
	snprintf(line, sizeof(line), "key_id: k\n%s", url);
	expect(with_line("key_id", line), MANIFEST_E_LINE_TOO_LONG, 10);
}

static void
test_keys(void **state)
{
	/* format: first, exactly once, exactly this value. */
	expect(good + strlen("format: evgate-fw-1\n"), MANIFEST_E_FORMAT, 1);
	expect(with_line("format", "format: evgate-fw-2\n"),
	    MANIFEST_E_FORMAT, 1);
	expect(with_line("format", "format: evgate-fw-1x\n"),
	    MANIFEST_E_FORMAT, 1);
	expect(with_line("format", "product: x\n"), MANIFEST_E_FORMAT, 1);
	expect(with_line("key_id", "key_id: k\nformat: evgate-fw-1\n"),
	    MANIFEST_E_DUPLICATE, 10);
	/* Unknown and duplicate keys. */
	expect(with_line("key_id", "key_id: k\ncomment: hi\n"),
	    MANIFEST_E_UNKNOWN_KEY, 10);
	expect(with_line("key_id", "key_id: k\nkey_id: k\n"),
	    MANIFEST_E_DUPLICATE, 10);
	expect(with_line("size", "size: 1\nsize: 1\n"), MANIFEST_E_DUPLICATE,
	    6);
	expect(with_line("key_id", "key_id: k\nurl: https://a/b\n"
	    "url: https://a/b\n"), MANIFEST_E_DUPLICATE, 11);
	/* Every required key, missing. */
	expect(with_line("product", ""), MANIFEST_E_MISSING, 0);
	expect(with_line("version", ""), MANIFEST_E_MISSING, 0);
	expect(with_line("security_version", ""), MANIFEST_E_MISSING, 0);
	expect(with_line("size", ""), MANIFEST_E_MISSING, 0);
	expect(with_line("sha256", ""), MANIFEST_E_MISSING, 0);
	expect(with_line("created", ""), MANIFEST_E_MISSING, 0);
	expect(with_line("expires", ""), MANIFEST_E_MISSING, 0);
	expect(with_line("key_id", ""), MANIFEST_E_MISSING, 0);
}

static void
test_values(void **state)
{
	static const struct {
		const char	*key;
		const char	*line;
		unsigned	 lineno;
	} bad[] = {
		{ "security_version", "security_version: 03\n", 4 },
		{ "security_version", "security_version: -1\n", 4 },
		{ "security_version", "security_version: +1\n", 4 },
		{ "security_version", "security_version: 4294967296\n", 4 },
		{ "security_version", "security_version: 1.0\n", 4 },
		{ "security_version", "security_version: 0x10\n", 4 },
		{ "size", "size: 0\n", 5 },
		{ "size", "size: 0100\n", 5 },
		{ "size", "size: 1099511627777\n", 5 },
		{ "size", "size: 99999999999999999999999\n", 5 },
		{ "sha256", "sha256: " SHA_A "0\n", 6 },
		{ "sha256", "sha256: 00112233\n", 6 },
		{ "sha256", "sha256: 00112233445566778899AABBCCDDEEFF"
		    "00112233445566778899aabbccddeeff\n", 6 },
		{ "sha256", "sha256: 0011223344556677889gaabbccddeeff"
		    "00112233445566778899aabbccddeeff\n", 6 },
		{ "created", "created: 2026-02-29T00:00:00Z\n", 7 },
		{ "created", "created: 2026-02-30T00:00:00Z\n", 7 },
		{ "created", "created: 2026-13-01T00:00:00Z\n", 7 },
		{ "created", "created: 2026-01-01T24:00:00Z\n", 7 },
		{ "created", "created: 2026-01-01T00:60:00Z\n", 7 },
		{ "created", "created: 2026-01-01T00:00:60Z\n", 7 },
		{ "created", "created: 2026-01-01t00:00:00Z\n", 7 },
		{ "created", "created: 2026-01-01T00:00:00\n", 7 },
		{ "created", "created: 2026-01-01T00:00:00+00:00\n", 7 },
		{ "created", "created: 2026-01-01T00:00:00.5Z\n", 7 },
		{ "created", "created: 1969-12-31T23:59:59Z\n", 7 },
		{ "created", "created: 2026-1-01T00:00:00Z\n", 7 },
		{ "expires", "expires: soon\n", 8 },
		{ "version", "version: 1.2.0 beta\n", 3 },
		{ "version", "version: -1\n", 3 },
		{ "version", "version: 1234567890123456789012345678901x\n", 3 },
		{ "version", "version: 1/2\n", 3 },
		{ "product", "product: evcharger/sim\n", 2 },
		{ "product", "product: .x\n", 2 },
		{ "key_id", "key_id: vendor 2026a\n", 9 },
		{ "key_id", "key_id: 12345678901234567890123456789012\n", 9 },
		{ "key_id", "key_id: k\nurl: http://a/b\n", 10 },
		{ "key_id", "key_id: k\nurl: https://\n", 10 },
		{ "key_id", "key_id: k\nurl: https://a b\n", 10 },
		{ "key_id", "key_id: k\nurl: https://a\x7f\n", 10 },
		{ "key_id", "key_id: k\nurl: https://a\xc3\xa9\n", 10 },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(with_line(bad[i].key, bad[i].line), MANIFEST_E_VALUE,
		    bad[i].lineno);
	/* Longest accepted names. */
	expect(with_line("version",
	    "version: 1234567890123456789012345678901\n"), MANIFEST_OK, 0);
	expect(with_line("key_id",
	    "key_id: 1234567890123456789012345678901\n"), MANIFEST_OK, 0);
	/* Leap days that exist. */
	expect(with_line("created", "created: 2024-02-29T12:00:00Z\n"),
	    MANIFEST_OK, 0);
	/* expires must come after created. */
	expect(with_line("expires", "expires: 2026-01-01T00:00:00Z\n"),
	    MANIFEST_E_TIMES, 0);
	expect(with_line("expires", "expires: 2025-12-31T23:59:59Z\n"),
	    MANIFEST_E_TIMES, 0);
}

static void
test_key_id_scan(void **state)
{
	char id[MANIFEST_KEYID_MAX];
	const char *t;

	assert_int_equal(manifest_key_id((const uint8_t *)good, strlen(good),
	    id, sizeof(id)), MANIFEST_OK);
	assert_string_equal(id, "vendor-2026a");
	/* Found even when the rest would not parse (judged after the
	 * signature). */
	t = "junk line\nkey_id: k2\n";
	assert_int_equal(manifest_key_id((const uint8_t *)t, strlen(t), id,
	    sizeof(id)), MANIFEST_OK);
	assert_string_equal(id, "k2");
	t = with_line("key_id", "");
	assert_int_equal(manifest_key_id((const uint8_t *)t, strlen(t), id,
	    sizeof(id)), MANIFEST_E_NO_KEY_ID);
	assert_string_equal(id, "");
	t = with_line("key_id", "key_id: a\nkey_id: b\n");
	assert_int_equal(manifest_key_id((const uint8_t *)t, strlen(t), id,
	    sizeof(id)), MANIFEST_E_DUPLICATE);
	t = with_line("key_id", "key_id: a b\n");
	assert_int_equal(manifest_key_id((const uint8_t *)t, strlen(t), id,
	    sizeof(id)), MANIFEST_E_NO_KEY_ID);
	/* A prefix of the key is not the key. */
	t = with_line("key_id", "key_idx: a\n");
	assert_int_equal(manifest_key_id((const uint8_t *)t, strlen(t), id,
	    sizeof(id)), MANIFEST_E_NO_KEY_ID);
	/* Framing errors stop the scan. */
	t = with_line("key_id", "key_id: a\r\n");
	assert_int_equal(manifest_key_id((const uint8_t *)t, strlen(t), id,
	    sizeof(id)), MANIFEST_E_CR);
	assert_int_equal(manifest_key_id((const uint8_t *)good,
	    strlen(good) - 1, id, sizeof(id)), MANIFEST_E_NO_NEWLINE);
	/* A small output buffer is never overrun. */
	assert_int_equal(manifest_key_id((const uint8_t *)good, strlen(good),
	    id, 5), MANIFEST_E_NO_KEY_ID);
}

/* A fresh Ed25519 key pair: raw public key, and the private EVP_PKEY. */
static EVP_PKEY *
keypair(uint8_t pub[32])
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	size_t len = 32;

	assert_non_null(pkey);
	assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, pub, &len), 1);
	return pkey;
}

static void
sign(EVP_PKEY *pkey, const void *buf, size_t len, uint8_t sig[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = 64;

	assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, buf, len), 1);
	assert_int_equal(siglen, 64);
	EVP_MD_CTX_free(ctx);
}

static void
test_verify(void **state)
{
	uint8_t pub1[32], pub2[32], sig[65], buf[sizeof(good)];
	EVP_PKEY *k1 = keypair(pub1), *k2 = keypair(pub2);
	size_t len = strlen(good);

	memcpy(buf, good, sizeof(good));
	sign(k1, buf, len, sig);
	assert_int_equal(manifest_verify(buf, len, sig, 64, pub1),
	    MANIFEST_OK);
	/* The other trusted key does not verify it. */
	assert_int_equal(manifest_verify(buf, len, sig, 64, pub2),
	    MANIFEST_E_BAD_SIGNATURE);
	/* Wrong lengths. */
	assert_int_equal(manifest_verify(buf, len, sig, 63, pub1),
	    MANIFEST_E_SIG_LENGTH);
	assert_int_equal(manifest_verify(buf, len, sig, 65, pub1),
	    MANIFEST_E_SIG_LENGTH);
	/* One changed byte in the manifest: "size: 123456" -> 723456. */
	buf[strstr(good, "size: ") - good + 6] ^= 0x06;
	assert_int_equal(manifest_verify(buf, len, sig, 64, pub1),
	    MANIFEST_E_BAD_SIGNATURE);
	buf[strstr(good, "size: ") - good + 6] ^= 0x06;
	/* A byte more or less (the signature covers the exact bytes). */
	assert_int_equal(manifest_verify(buf, len - 1, sig, 64, pub1),
	    MANIFEST_E_BAD_SIGNATURE);
	assert_int_equal(manifest_verify(buf, len + 1, sig, 64, pub1),
	    MANIFEST_E_BAD_SIGNATURE);
	/* One flipped bit in the signature. */
	sig[10] ^= 1;
	assert_int_equal(manifest_verify(buf, len, sig, 64, pub1),
	    MANIFEST_E_BAD_SIGNATURE);
	sig[10] ^= 1;
	assert_int_equal(manifest_verify(buf, len, sig, 64, pub1),
	    MANIFEST_OK);
	/* The other key's own signature verifies with its key only. */
	sign(k2, buf, len, sig);
	assert_int_equal(manifest_verify(buf, len, sig, 64, pub2),
	    MANIFEST_OK);
	assert_int_equal(manifest_verify(buf, len, sig, 64, pub1),
	    MANIFEST_E_BAD_SIGNATURE);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

static void
test_time_hex(void **state)
{
	static const char *const times[] = {
		"1970-01-01T00:00:00Z", "2000-02-29T23:59:59Z",
		"2026-11-25T08:25:50Z", "2038-01-19T03:14:08Z",
		"2100-03-01T00:00:00Z", "9999-12-31T23:59:59Z",
	};
	char buf[32], hex[65];
	uint8_t b[32];
	int64_t t;
	size_t i;

	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		assert_int_equal(manifest_time_parse(times[i],
		    strlen(times[i]), &t), 0);
		assert_string_equal(manifest_time_format(t, buf, sizeof(buf)),
		    times[i]);
	}
	assert_int_equal(manifest_time_parse("2038-01-19T03:14:08Z", 20, &t),
	    0);
	assert_int_equal(t, 2147483648LL);
	assert_int_equal(manifest_time_parse("2100-02-29T00:00:00Z", 20, &t),
	    -1);
	assert_int_equal(manifest_time_parse("2026-11-25T08:25:50Z", 19, &t),
	    -1);

	assert_int_equal(manifest_hex32(SHA_A, 64, b), 0);
	manifest_hex(b, 32, hex);
	assert_string_equal(hex, SHA_A);
	assert_int_equal(manifest_hex32(SHA_A, 63, b), -1);
	assert_int_equal(manifest_hex32("zz" SHA_A, 64, b), -1);

	assert_true(manifest_key_id_ok("vendor-2026a"));
	assert_false(manifest_key_id_ok(""));
	assert_false(manifest_key_id_ok("-x"));
	assert_true(manifest_version_ok("1.0.0+g1"));
	assert_false(manifest_product_ok("a+b"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_key_id_scan),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_time_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
