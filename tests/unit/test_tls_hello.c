/*
 * Tests for tls_hello: real hellos captured from openssl s_client, curl and
 * libmosquitto (tests/unit/data), re-framed, truncated and corrupted, plus
 * hand-built hellos for the cases no client sends on purpose.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "relay/tls_hello.h"
#include "hello.h"
#include "testutil.h"

static uint8_t *
load(const char *name, size_t *len)
{
	uint8_t *b = test_data(name, len);

	if (b == NULL)
		fail_msg("missing test data %s (is top_srcdir set?)", name);
	return b;
}

static void
expect_sni(const char *file, const char *sni)
{
	struct tls_hello h;
	size_t len = 0;
	uint8_t *b = load(file, &len);

	assert_int_equal(tls_hello_parse(b, len, &h), TLS_HELLO_OK);
	assert_true(h.has_sni);
	assert_string_equal(h.sni, sni);
	assert_int_equal(h.sni_len, strlen(sni));
	assert_int_equal(h.wire_len, len);
	free(b);
}

static void
test_openssl_tls13(void **state)
{
	struct tls_hello h;
	size_t len = 0;
	uint8_t *b;

	expect_sni("hello_openssl_tls13.bin", "zapcloud.azure-devices.net");
	b = load("hello_openssl_tls13.bin", &len);
	assert_int_equal(tls_hello_parse(b, len, &h), TLS_HELLO_OK);
	assert_true(h.supports_tls13);
	free(b);
}

static void
test_openssl_tls12(void **state)
{
	struct tls_hello h;
	size_t len = 0;
	uint8_t *b;

	expect_sni("hello_openssl_tls12.bin", "zapcloud.azure-devices.net");
	b = load("hello_openssl_tls12.bin", &len);
	assert_int_equal(tls_hello_parse(b, len, &h), TLS_HELLO_OK);
	assert_false(h.supports_tls13);
	assert_int_equal(h.client_version, 0x0303);
	free(b);
}

static void
test_curl(void **state)
{
	struct tls_hello h;
	size_t len = 0;
	uint8_t *b;

	expect_sni("hello_curl.bin", "api.zaptec.com");
	b = load("hello_curl.bin", &len);
	assert_int_equal(tls_hello_parse(b, len, &h), TLS_HELLO_OK);
	assert_true(h.has_alpn);	/* curl offers h2/http1.1 */
	free(b);
}

static void
test_mosquitto(void **state)
{
	expect_sni("hello_mosquitto.bin", "zapcloud.azure-devices.net");
	expect_sni("hello_mosquitto_tls12.bin", "zapcloud.azure-devices.net");
}

/* libmosquitto puts the broker's IP literal into SNI: not a DNS name. */
static void
test_mosquitto_ip_literal(void **state)
{
	struct tls_hello h;
	size_t len = 0;
	uint8_t *b = load("hello_mosquitto_ip.bin", &len);

	assert_int_equal(tls_hello_parse(b, len, &h), TLS_HELLO_BAD_SNI);
	free(b);
}

static void
test_no_sni(void **state)
{
	struct tls_hello h;
	size_t len = 0;
	uint8_t *b = load("hello_openssl_nosni.bin", &len);

	assert_int_equal(tls_hello_parse(b, len, &h), TLS_HELLO_OK);
	assert_false(h.has_sni);
	free(b);
}

/* Every strict prefix of a valid hello asks for more, never decides. */
static void
test_every_prefix_needs_more(void **state)
{
	static const char *const files[] = { "hello_openssl_tls13.bin",
	    "hello_curl.bin", "hello_mosquitto.bin" };
	struct tls_hello h;
	size_t f, len = 0, i;

	for (f = 0; f < 3; f++) {
		uint8_t *b = load(files[f], &len);

		for (i = 0; i < len; i++)
			assert_int_equal(tls_hello_parse(b, i, &h),
			    TLS_HELLO_NEED_MORE);
		free(b);
	}
}

/* The same hello cut into records of 1..300 bytes parses the same. */
static void
test_refragmented(void **state)
{
	static const char *const names[] = { "devices.zaptec.com" };
	uint8_t ext[300], wire[20000];
	struct tls_hello h;
	size_t elen = hello_sni_ext(ext, names, 1), recmax, n, i;

	for (recmax = 1; recmax <= 300; recmax++) {
		n = hello_build(wire, sizeof(wire), ext, elen, recmax);
		assert_int_equal(tls_hello_parse(wire, n, &h), TLS_HELLO_OK);
		assert_string_equal(h.sni, "devices.zaptec.com");
		assert_int_equal(h.wire_len, n);
		/* And prefixes of the fragmented form still want more. */
		if (recmax == 7)
			for (i = 0; i < n; i++)
				assert_int_equal(tls_hello_parse(wire, i, &h),
				    TLS_HELLO_NEED_MORE);
	}
}

/* Bytes after the hello (early data in a record of its own) are fine. */
static void
test_trailing_record(void **state)
{
	static const char *const names[] = { "api.zaptec.com" };
	uint8_t ext[100], wire[1000];
	struct tls_hello h;
	size_t elen = hello_sni_ext(ext, names, 1);
	size_t n = hello_build(wire, sizeof(wire), ext, elen, 16384);
	const uint8_t appdata[] = { 23, 3, 3, 0, 2, 0xde, 0xad };

	memcpy(wire + n, appdata, sizeof(appdata));
	assert_int_equal(tls_hello_parse(wire, n + sizeof(appdata), &h),
	    TLS_HELLO_OK);
	assert_int_equal(h.wire_len, n);
}

static void
test_several_names(void **state)
{
	static const char *const names[] = { "api.zaptec.com", "evil.example" };
	uint8_t ext[200], wire[1000];
	struct tls_hello h;
	size_t elen = hello_sni_ext(ext, names, 2);
	size_t n = hello_build(wire, sizeof(wire), ext, elen, 16384);

	assert_int_equal(tls_hello_parse(wire, n, &h), TLS_HELLO_BAD_SNI);
}

/*
 * Two server_name extensions must never let the second win, however many
 * other extensions come first (a check that stopped after 64 types did).
 */
static void
test_duplicate_after_many(void **state)
{
	static const char *const refused[] = { "evil.example.com" };
	static const char *const allowed[] = { "zapcloud.azure-devices.net" };
	uint8_t ext[4000], wire[5000];
	struct tls_hello h;
	size_t elen = 0, n, i, many[] = { 0, 63, 64, 65, 200 };
	size_t k;

	for (k = 0; k < sizeof(many) / sizeof(many[0]); k++) {
		elen = 0;
		for (i = 0; i < many[k]; i++) {
			elen += hello_put16(ext + elen, 0x1000 + i);
			elen += hello_put16(ext + elen, 0);
		}
		elen += hello_sni_ext(ext + elen, refused, 1);
		elen += hello_sni_ext(ext + elen, allowed, 1);
		n = hello_build(wire, sizeof(wire), ext, elen, 16384);
		assert_int_equal(tls_hello_parse(wire, n, &h),
		    TLS_HELLO_MALFORMED);
	}
	/* any type twice, far apart */
	elen = 0;
	for (i = 0; i < 300; i++) {
		elen += hello_put16(ext + elen, 0x2000 + (i == 299 ? 0 : i));
		elen += hello_put16(ext + elen, 0);
	}
	n = hello_build(wire, sizeof(wire), ext, elen, 16384);
	assert_int_equal(tls_hello_parse(wire, n, &h), TLS_HELLO_MALFORMED);
	/* 300 distinct types are fine */
	elen = 0;
	for (i = 0; i < 300; i++) {
		elen += hello_put16(ext + elen, 0x3000 + i);
		elen += hello_put16(ext + elen, 0);
	}
	elen += hello_sni_ext(ext + elen, allowed, 1);
	n = hello_build(wire, sizeof(wire), ext, elen, 16384);
	assert_int_equal(tls_hello_parse(wire, n, &h), TLS_HELLO_OK);
	assert_string_equal(h.sni, allowed[0]);
	assert_int_equal(h.nextensions, 301);
}

static void
test_bad_names(void **state)
{
	static const char *const bad[] = { "10.0.0.1", "1.2.3.4.", "a..b",
	    ".a.b", "-a.b", "a-.b", "a b.c", "a\x01.b", "::1", "[::1]",
	    "exa\xc3\xa9mple.com", "", "name..", "a.b..", ".", ".." };
	static const char *const good[] = { "A.B", "x", "a-b.c", "_dmarc.x",
	    "a.b.", "123.example" };
	uint8_t ext[400], wire[2000];
	struct tls_hello h;
	size_t i, elen, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		elen = hello_sni_ext(ext, &bad[i], 1);
		n = hello_build(wire, sizeof(wire), ext, elen, 16384);
		assert_int_equal(tls_hello_parse(wire, n, &h),
		    TLS_HELLO_BAD_SNI);
		/* what was refused is kept for the operator */
		assert_int_equal(h.sni_len, strlen(bad[i]));
		assert_memory_equal(h.sni, bad[i], h.sni_len);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		elen = hello_sni_ext(ext, &good[i], 1);
		n = hello_build(wire, sizeof(wire), ext, elen, 16384);
		assert_int_equal(tls_hello_parse(wire, n, &h), TLS_HELLO_OK);
		assert_string_equal(h.sni, good[i]);
	}
}

static void
test_long_name(void **state)
{
	char name[300];
	const char *names[1] = { name };
	uint8_t ext[400], wire[2000];
	struct tls_hello h;
	size_t elen, n, i;

	/* 63-character labels up to 253 characters: accepted. */
	memset(name, 'a', sizeof(name));
	for (i = 63; i < sizeof(name); i += 64)
		name[i] = '.';
	name[253] = '\0';
	elen = hello_sni_ext(ext, names, 1);
	n = hello_build(wire, sizeof(wire), ext, elen, 16384);
	assert_int_equal(tls_hello_parse(wire, n, &h), TLS_HELLO_OK);
	assert_int_equal(h.sni_len, 253);
	/* 254: refused. */
	name[253] = 'a';
	name[254] = '\0';
	elen = hello_sni_ext(ext, names, 1);
	n = hello_build(wire, sizeof(wire), ext, elen, 16384);
	assert_int_equal(tls_hello_parse(wire, n, &h), TLS_HELLO_BAD_SNI);
	/* A 64-character label: refused. */
	memset(name, 'b', 64);
	strcpy(name + 64, ".com");
	elen = hello_sni_ext(ext, names, 1);
	n = hello_build(wire, sizeof(wire), ext, elen, 16384);
	assert_int_equal(tls_hello_parse(wire, n, &h), TLS_HELLO_BAD_SNI);
}

static void
test_not_tls(void **state)
{
	static const char *const texts[] = {
		"GET / HTTP/1.1\r\nHost: api.zaptec.com\r\n\r\n",
		"CONNECT evil.example:443 HTTP/1.1\r\n\r\n",
		"\x10\x20\x00\x04MQTT",		/* MQTT CONNECT in clear */
		"SSH-2.0-OpenSSH_9.2\r\n",
	};
	struct tls_hello h;
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		assert_int_equal(tls_hello_parse((const uint8_t *)texts[i],
		    strlen(texts[i]), &h), TLS_HELLO_NOT_TLS);
	/* One byte is enough to know. */
	assert_int_equal(tls_hello_parse((const uint8_t *)"G", 1, &h),
	    TLS_HELLO_NOT_TLS);
	/* A handshake type byte with a non-TLS version. */
	assert_int_equal(tls_hello_parse((const uint8_t *)"\x16\x02", 2, &h),
	    TLS_HELLO_NOT_TLS);
	assert_int_equal(tls_hello_parse((const uint8_t *)"", 0, &h),
	    TLS_HELLO_NEED_MORE);
}

static void
test_sslv2(void **state)
{
	/* SSLv2-compatible CLIENT-HELLO: 2-byte header, msg type 1. */
	const uint8_t v2[] = { 0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00,
	    0x00, 0x00, 0x10 };
	struct tls_hello h;

	assert_int_equal(tls_hello_parse(v2, sizeof(v2), &h), TLS_HELLO_SSLV2);
	assert_int_equal(tls_hello_parse(v2, 2, &h), TLS_HELLO_NEED_MORE);
}

static void
test_oversize(void **state)
{
	uint8_t rec[16];
	struct tls_hello h;

	/* A record longer than TLS allows. */
	memcpy(rec, "\x16\x03\x01\x40\x01", 5);
	assert_int_equal(tls_hello_parse(rec, 5, &h), TLS_HELLO_MALFORMED);
	/* A handshake message announcing 1 MB. */
	memcpy(rec, "\x16\x03\x01\x00\x04\x01\x10\x00\x00", 9);
	assert_int_equal(tls_hello_parse(rec, 9, &h), TLS_HELLO_TOO_BIG);
	/* A hello just over the limit, in many small records. */
	{
		static uint8_t big[40000], ext[20000];
		size_t elen = 0, n;

		elen += hello_put16(ext + elen, 0xfe00);	/* padding-like */
		elen += hello_put16(ext + elen, 16300);
		memset(ext + elen, 0, 16300);
		elen += 16300;
		n = hello_build(big, sizeof(big), ext, elen, 1000);
		assert_int_equal(tls_hello_parse(big, n, &h), TLS_HELLO_TOO_BIG);
	}
}

static void
test_malformed(void **state)
{
	static const char *const names[] = { "api.zaptec.com" };
	uint8_t ext[200], wire[1000], copy[1000];
	struct tls_hello h;
	size_t elen = hello_sni_ext(ext, names, 1), n, i;

	n = hello_build(wire, sizeof(wire), ext, elen, 16384);
	/* Not a ClientHello (ServerHello = 2). */
	memcpy(copy, wire, n);
	copy[5] = 2;
	assert_int_equal(tls_hello_parse(copy, n, &h), TLS_HELLO_MALFORMED);
	/* Extension length pointing past the end. */
	memcpy(copy, wire, n);
	copy[n - elen - 1] += 1;
	assert_int_not_equal(tls_hello_parse(copy, n, &h), TLS_HELLO_OK);
	/* An alert record after a first fragment. */
	n = hello_build(wire, sizeof(wire), ext, elen, 20);
	memcpy(copy, wire, n);
	copy[25] = 21;
	assert_int_equal(tls_hello_parse(copy, n, &h), TLS_HELLO_MALFORMED);
	/* A zero-length record. */
	assert_int_equal(tls_hello_parse((const uint8_t *)"\x16\x03\x01\x00\x00",
	    5, &h), TLS_HELLO_MALFORMED);
	/* Duplicate extensions. */
	memcpy(ext + elen, ext, elen);
	n = hello_build(wire, sizeof(wire), ext, 2 * elen, 16384);
	assert_int_equal(tls_hello_parse(wire, n, &h), TLS_HELLO_MALFORMED);
	/* Every single-byte corruption of a real hello: no crash, and an
	 * OK result still has a sane SNI. */
	{
		size_t len = 0;
		uint8_t *b = load("hello_curl.bin", &len);

		for (i = 0; i < len; i++) {
			int bit;

			for (bit = 0; bit < 8; bit++) {
				b[i] ^= (uint8_t)(1 << bit);
				if (tls_hello_parse(b, len, &h) == TLS_HELLO_OK &&
				    h.has_sni)
					assert_int_equal(strlen(h.sni),
					    h.sni_len);
				b[i] ^= (uint8_t)(1 << bit);
			}
		}
		free(b);
	}
}

static void
test_no_extensions(void **state)
{
	uint8_t wire[200];
	struct tls_hello h;
	size_t n = hello_build(wire, sizeof(wire), NULL, 0, 16384);

	assert_int_equal(tls_hello_parse(wire, n, &h), TLS_HELLO_OK);
	assert_false(h.has_sni);
}

static void
test_status_names(void **state)
{
	assert_string_equal(tls_hello_status_str(TLS_HELLO_OK), "ok");
	assert_string_equal(tls_hello_status_str(TLS_HELLO_BAD_SNI), "bad-sni");
	assert_string_equal(tls_hello_status_str((enum tls_hello_status)99),
	    "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openssl_tls13),
		cmocka_unit_test(test_openssl_tls12),
		cmocka_unit_test(test_curl),
		cmocka_unit_test(test_mosquitto),
		cmocka_unit_test(test_mosquitto_ip_literal),
		cmocka_unit_test(test_no_sni),
		cmocka_unit_test(test_every_prefix_needs_more),
		cmocka_unit_test(test_refragmented),
		cmocka_unit_test(test_trailing_record),
		cmocka_unit_test(test_several_names),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_duplicate_after_many),
		cmocka_unit_test(test_long_name),
		cmocka_unit_test(test_not_tls),
		cmocka_unit_test(test_sslv2),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_no_extensions),
		cmocka_unit_test(test_status_names),
	};

	return cmocka_run_group_tests_name("tls_hello", tests, NULL, NULL);
}
