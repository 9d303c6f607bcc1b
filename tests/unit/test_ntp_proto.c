/*
 * Tests for ntp_proto: real packets captured from ntpdig and chronyd
 * (tests/unit/data/ntp), truncated and corrupted; extension fields and
 * MACs after RFC 7822; and timestamp conversion around the NTP era
 * boundary (2036-02-07T06:28:16Z), in 2040, before 1970 and before 1900.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "time/ntp_proto.h"
#include "testutil.h"

/* 2036-02-07T06:28:16Z: the first second of NTP era 1. */
#define ERA1_UNIX	2085978496LL
/* 2040-01-01T00:00:00Z */
#define Y2040_UNIX	2208988800LL
/* 2026-01-01T00:00:00Z, a "now" for pivots */
#define Y2026_UNIX	1767225600LL

static uint8_t *
load(const char *name, size_t *len)
{
	char path[128];
	uint8_t *b;

	snprintf(path, sizeof(path), "ntp/%s", name);
	if ((b = test_data(path, len)) == NULL)
		fail_msg("missing test data %s (is top_srcdir set?)", path);
	return b;
}

static void
test_parse_real_requests(void **state)
{
	static const struct {
		const char	*file;
		int		 version, leap;
		size_t		 next, mac_len;
	} cases[] = {
		{ "req_ntpdig.bin", 4, 3, 0, 0 },	/* ntpdig sends LI=3 */
		{ "req_chrony.bin", 4, 0, 0, 0 },
		{ "req_chrony_v3.bin", 3, 0, 0, 0 },
		{ "req_chrony_v2.bin", 2, 0, 0, 0 },
		{ "req_chrony_xleave.bin", 4, 0, 0, 0 },
		{ "req_chrony_extfield.bin", 4, 0, 1, 0 },
		{ "req_ntpdig_mac.bin", 4, 3, 0, 24 },
	};
	struct ntp_packet p;
	size_t i, len;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *b = load(cases[i].file, &len);

		assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_OK);
		assert_int_equal(p.mode, NTP_MODE_CLIENT);
		assert_int_equal(p.version, cases[i].version);
		assert_int_equal(p.leap, cases[i].leap);
		assert_int_equal(p.next, cases[i].next);
		assert_int_equal(p.mac_len, cases[i].mac_len);
		/* Clients put a cookie or their time in transmit. */
		assert_true(p.xmt != 0);
		free(b);
	}
	/* ntpdig's MAC: key id 1, SHA-1 digest. */
	{
		uint8_t *b = load("req_ntpdig_mac.bin", &len);

		assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_OK);
		assert_int_equal(p.keyid, 1);
		free(b);
	}
	/* chrony's experimental extension field F323 (28 bytes). */
	{
		uint8_t *b = load("req_chrony_extfield.bin", &len);

		assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_OK);
		assert_int_equal(p.ext_len, 28);
		free(b);
	}
}

static void
test_parse_real_replies(void **state)
{
	struct ntp_packet p;
	size_t len;
	uint8_t *b;
	char buf[32];

	b = load("rep_chrony_synced.bin", &len);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_OK);
	assert_int_equal(p.mode, NTP_MODE_SERVER);
	assert_int_equal(p.leap, NTP_LEAP_NONE);
	assert_int_equal(p.stratum, 1);
	assert_int_equal(p.precision, -25);
	/* "local stratum 1" uses 127.127.1.1 as its reference id. */
	assert_string_equal(ntp_refid_str(p.refid, 2, buf, sizeof(buf)),
	    "127.127.1.1");
	assert_true(ntp_ts_diff(p.xmt, p.rec) >= 0);
	free(b);

	/* What chronyd answers while not synchronised: LI=3, stratum 0. */
	b = load("rep_chrony_unsynced.bin", &len);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_OK);
	assert_int_equal(p.leap, NTP_LEAP_ALARM);
	assert_int_equal(p.stratum, 0);
	assert_int_equal(p.refid, 0);
	assert_int_equal(p.ref, 0);
	assert_true(ntp_short_to_double(p.root_disp) >= 1.0);
	free(b);
}

static void
test_parse_short_and_version(void **state)
{
	uint8_t b[NTP_HEADER_LEN] = { 0x23 };
	struct ntp_packet p;
	size_t n;

	for (n = 0; n < NTP_HEADER_LEN; n++)
		assert_int_equal(ntp_parse(b, n, &p), NTP_PARSE_SHORT);
	assert_int_equal(ntp_parse(NULL, 0, &p), NTP_PARSE_SHORT);
	assert_int_equal(ntp_parse(b, NTP_HEADER_LEN, &p), NTP_PARSE_OK);
	b[0] = 0x03;		/* version 0 */
	assert_int_equal(ntp_parse(b, NTP_HEADER_LEN, &p), NTP_PARSE_VERSION);
	b[0] = 0x2b;		/* version 5 */
	assert_int_equal(ntp_parse(b, NTP_HEADER_LEN, &p), NTP_PARSE_VERSION);
	assert_int_equal(p.version, 5);	/* header still filled */
	b[0] = 0x3b;		/* version 7 */
	assert_int_equal(ntp_parse(b, NTP_HEADER_LEN, &p), NTP_PARSE_VERSION);
	b[0] = 0x0b;		/* version 1 */
	assert_int_equal(ntp_parse(b, NTP_HEADER_LEN, &p), NTP_PARSE_OK);
	assert_int_equal(p.version, 1);
	assert_string_equal(ntp_parse_status_str(NTP_PARSE_VERSION),
	    "bad_version");
}

/* A header plus trailing bytes; an extension field header at ext. */
static size_t
with_trailer(uint8_t *b, uint8_t first, size_t trailer)
{
	memset(b, 0, NTP_HEADER_LEN + trailer);
	b[0] = first;
	return NTP_HEADER_LEN + trailer;
}

static void
put_ext(uint8_t *p, uint16_t type, uint16_t len)
{
	p[0] = (uint8_t)(type >> 8);
	p[1] = (uint8_t)type;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
}

static void
test_parse_trailer(void **state)
{
	uint8_t b[NTP_MAX_PACKET + 8];
	struct ntp_packet p;
	size_t len;

	/* MACs: crypto-NAK (4), MD5 (20), SHA-1 (24), in v3 and v4. */
	len = with_trailer(b, 0x23, 4);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_OK);
	assert_int_equal(p.mac_len, 4);
	len = with_trailer(b, 0x1b, 20);
	b[51] = 7;
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_OK);
	assert_int_equal(p.mac_len, 20);
	assert_int_equal(p.keyid, 7);
	len = with_trailer(b, 0x1b, 24);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_OK);

	/* Junk that is neither. */
	len = with_trailer(b, 0x23, 8);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_LENGTH);
	len = with_trailer(b, 0x23, 1);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_LENGTH);
	/* Version 3 has no extension fields. */
	len = with_trailer(b, 0x1b, 28);
	put_ext(b + 48, 0x0104, 28);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_LENGTH);

	/* v4: one field of 28 bytes; two fields; a field and a MAC. */
	len = with_trailer(b, 0x23, 28);
	put_ext(b + 48, 0x0104, 28);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_OK);
	assert_int_equal(p.next, 1);
	assert_int_equal(p.mac_len, 0);
	len = with_trailer(b, 0x23, 16 + 28);
	put_ext(b + 48, 0x0104, 16);
	put_ext(b + 64, 0x0204, 28);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_OK);
	assert_int_equal(p.next, 2);
	assert_int_equal(p.ext_len, 44);
	len = with_trailer(b, 0x23, 16 + 24);
	put_ext(b + 48, 0x0104, 16);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_OK);
	assert_int_equal(p.next, 1);
	assert_int_equal(p.mac_len, 24);

	/* Field lengths: too small, unaligned, beyond the packet, zero. */
	len = with_trailer(b, 0x23, 32);
	put_ext(b + 48, 0x0104, 12);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_LENGTH);
	put_ext(b + 48, 0x0104, 30);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_LENGTH);
	put_ext(b + 48, 0x0104, 36);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_LENGTH);
	put_ext(b + 48, 0x0104, 0);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_LENGTH);
	/* A field that leaves 8 bytes (not a MAC) behind. */
	len = with_trailer(b, 0x23, 24 + 8);
	put_ext(b + 48, 0x0104, 24);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_LENGTH);

	/* Larger than we accept, even if well formed. */
	len = with_trailer(b, 0x23, NTP_MAX_PACKET + 4 - NTP_HEADER_LEN);
	put_ext(b + 48, 0x0104, (uint16_t)(len - 48));
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_LENGTH);
	len = with_trailer(b, 0x23, NTP_MAX_PACKET - NTP_HEADER_LEN);
	put_ext(b + 48, 0x0104, (uint16_t)(len - 48));
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_OK);
}

static void
test_encode_roundtrip(void **state)
{
	struct ntp_packet p, q;
	uint8_t out[NTP_HEADER_LEN];
	size_t len;
	uint8_t *b;

	memset(&p, 0, sizeof(p));
	p.leap = NTP_LEAP_ALARM;
	p.version = 3;
	p.mode = NTP_MODE_SERVER;
	p.stratum = 0;
	p.poll = -6;
	p.precision = -24;
	p.root_delay = 0x00010000;
	p.root_disp = 0x00108000;
	p.refid = NTP_KISS_INIT;
	p.ref = 0;
	p.org = 0x0102030405060708ULL;
	p.rec = 0xfffffffffffffffeULL;
	p.xmt = 0x8000000000000001ULL;
	ntp_encode(&p, out);
	assert_int_equal(out[0], 0xdc);
	assert_memory_equal(out + 12, "INIT", 4);
	assert_int_equal(ntp_parse(out, sizeof(out), &q), NTP_PARSE_OK);
	assert_int_equal(q.leap, p.leap);
	assert_int_equal(q.version, p.version);
	assert_int_equal(q.mode, p.mode);
	assert_int_equal(q.poll, -6);
	assert_int_equal(q.precision, -24);
	assert_int_equal(q.root_delay, p.root_delay);
	assert_int_equal(q.root_disp, p.root_disp);
	assert_int_equal(q.refid, p.refid);
	assert_true(q.org == p.org && q.rec == p.rec && q.xmt == p.xmt);

	/* A real packet survives parse + encode byte for byte. */
	b = load("rep_chrony_synced.bin", &len);
	assert_int_equal(ntp_parse(b, len, &q), NTP_PARSE_OK);
	ntp_encode(&q, out);
	assert_memory_equal(out, b, NTP_HEADER_LEN);
	free(b);
}

static uint64_t
ts_of(int64_t sec, long nsec)
{
	struct timespec t = { (time_t)sec, nsec };

	return ntp_ts_from_timespec(&t);
}

static void
test_ts_known_values(void **state)
{
	struct timespec t;

	/* 1970-01-01: 2208988800 seconds after 1900. */
	assert_true(ts_of(0, 0) == (uint64_t)2208988800ULL << 32);
	/* Half a second is 2^31 in the fraction. */
	assert_true(ts_of(0, 500000000) ==
	    ((uint64_t)2208988800ULL << 32 | 0x80000000ULL));
	/* The last instant of era 0 and the first of era 1. */
	assert_true(ts_of(ERA1_UNIX - 1, 0) == 0xffffffffULL << 32);
	assert_true(ts_of(ERA1_UNIX, 0) == 0);
	assert_true(ts_of(ERA1_UNIX, 250000000) == 0x40000000ULL);
	/* 2040-01-01 in era 1: 2208988800 * 2 - 2^32 seconds. */
	assert_true(ts_of(Y2040_UNIX, 0) ==
	    (uint64_t)(2 * 2208988800LL - 4294967296LL) << 32);
	/* Before 1970 and before 1900 (era -1). */
	assert_true(ts_of(-1, 500000000) ==
	    ((uint64_t)2208988799ULL << 32 | 0x80000000ULL));
	assert_true(ts_of(-NTP_UNIX_EPOCH, 0) == 0);
	assert_true(ts_of(-NTP_UNIX_EPOCH - 1, 0) == 0xffffffffULL << 32);

	t.tv_sec = 0;
	t.tv_nsec = 0;
	assert_int_equal(ntp_era(&t), 0);
	t.tv_sec = ERA1_UNIX - 1;
	assert_int_equal(ntp_era(&t), 0);
	t.tv_sec = ERA1_UNIX;
	assert_int_equal(ntp_era(&t), 1);
	t.tv_sec = Y2040_UNIX;
	assert_int_equal(ntp_era(&t), 1);
	t.tv_sec = -NTP_UNIX_EPOCH;
	assert_int_equal(ntp_era(&t), 0);
	t.tv_sec = -NTP_UNIX_EPOCH - 1;
	assert_int_equal(ntp_era(&t), -1);
	t.tv_sec = ERA1_UNIX + NTP_ERA_SECONDS;
	assert_int_equal(ntp_era(&t), 2);
}

/* Convert and back with the given pivot; expect the same instant. */
static void
roundtrip(int64_t sec, long nsec, int64_t pivot)
{
	struct timespec out;

	ntp_ts_to_timespec(ts_of(sec, nsec), pivot, &out);
	if ((int64_t)out.tv_sec != sec || labs(out.tv_nsec - nsec) > 1)
		fail_msg("%lld.%09ld (pivot %lld) came back as %lld.%09ld",
		    (long long)sec, nsec, (long long)pivot,
		    (long long)out.tv_sec, out.tv_nsec);
}

static void
test_ts_roundtrip_eras(void **state)
{
	static const int64_t times[] = {
		0, 1, -1, Y2026_UNIX, ERA1_UNIX - 1, ERA1_UNIX,
		ERA1_UNIX + 1, Y2040_UNIX, -NTP_UNIX_EPOCH,
		-NTP_UNIX_EPOCH - 1, 4102444800LL /* 2100 */,
		ERA1_UNIX + NTP_ERA_SECONDS,
	};
	static const long nsecs[] = { 0, 1, 499999999, 500000000, 999999999 };
	size_t i, j;

	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++)
		for (j = 0; j < sizeof(nsecs) / sizeof(nsecs[0]); j++) {
			/* Pivot = the time itself, and years away. */
			roundtrip(times[i], nsecs[j], times[i]);
			roundtrip(times[i], nsecs[j],
			    times[i] + 20LL * 365 * 86400);
			roundtrip(times[i], nsecs[j],
			    times[i] - 60LL * 365 * 86400);
		}
}

static void
test_ts_era_choice(void **state)
{
	struct timespec out;

	/*
	 * A 2040 timestamp read in 2026 is 2040, not 1904: the era follows
	 * the pivot.  A 2030 timestamp read in 2040 stays in era 0.
	 */
	ntp_ts_to_timespec(ts_of(Y2040_UNIX, 0), Y2026_UNIX, &out);
	assert_true((int64_t)out.tv_sec == Y2040_UNIX);
	ntp_ts_to_timespec(ts_of(1893456000LL, 0), Y2040_UNIX, &out);
	assert_true((int64_t)out.tv_sec == 1893456000LL);
	/* Seconds field 0 read just before the boundary is in era 1. */
	ntp_ts_to_timespec(0, ERA1_UNIX - 10, &out);
	assert_true((int64_t)out.tv_sec == ERA1_UNIX);
	/* ... and read with a pivot in 1950 it is 1900. */
	ntp_ts_to_timespec(0, -631152000LL, &out);
	assert_true((int64_t)out.tv_sec == -NTP_UNIX_EPOCH);
	/* Before 1970 with a pivot of 1970: a normalised timespec. */
	ntp_ts_to_timespec(ts_of(-2, 500000000), 0, &out);
	assert_true((int64_t)out.tv_sec == -2);
	assert_int_equal(out.tv_nsec, 500000000);
	/* A fraction that rounds up to a whole second carries. */
	ntp_ts_to_timespec((uint64_t)2208988800ULL << 32 | 0xffffffffULL, 0,
	    &out);
	assert_true((int64_t)out.tv_sec == 1);
	assert_int_equal(out.tv_nsec, 0);
}

static void
test_ts_arithmetic_across_era(void **state)
{
	uint64_t before = ts_of(ERA1_UNIX - 1, 750000000);
	uint64_t after = ts_of(ERA1_UNIX, 250000000);

	/* The wire values wrap, the difference does not. */
	assert_true(after < before);
	assert_true(fabs(ntp_ts_diff(after, before) - 0.5) < 1e-9);
	assert_true(fabs(ntp_ts_diff(before, after) + 0.5) < 1e-9);
	assert_true(ntp_ts_sub(after, before) == 0x80000000LL);
	/* Adding moves across the boundary both ways. */
	assert_true(ntp_ts_add(before, 0.5) == after);
	assert_true(ntp_ts_add(after, -0.5) == before);
	/* An offset computed across the boundary (RFC 5905 on-wire). */
	{
		uint64_t t1 = ts_of(ERA1_UNIX - 1, 900000000);
		uint64_t t2 = ts_of(ERA1_UNIX + 10, 0);	/* server 10 s ahead */
		uint64_t t3 = ts_of(ERA1_UNIX + 10, 100000);
		uint64_t t4 = ts_of(ERA1_UNIX, 200000);
		double off = (ntp_ts_diff(t2, t1) + ntp_ts_diff(t3, t4)) / 2;
		double del = ntp_ts_diff(t4, t1) - ntp_ts_diff(t3, t2);

		assert_true(fabs(off - 10.04995) < 1e-6);
		assert_true(fabs(del - 0.1001) < 1e-6);
	}
	/* 2040 minus 2026, the same in both eras' wire forms. */
	assert_true(fabs(ntp_ts_diff(ts_of(Y2040_UNIX, 0), ts_of(Y2026_UNIX,
	    0)) - (double)(Y2040_UNIX - Y2026_UNIX)) < 1e-3);
	/* Fixed point conversions saturate instead of overflowing. */
	assert_true(ntp_fixed_from_double(1e30) == INT64_MAX);
	assert_true(ntp_fixed_from_double(-1e30) == INT64_MIN);
	assert_true(ntp_fixed_from_double(-1.5) == -(3LL << 31));
	/* Rounding half away from zero, like llround(); NaN is no time. */
	assert_true(ntp_fixed_from_double(0.5 / 4294967296.0) == 1);
	assert_true(ntp_fixed_from_double(-0.5 / 4294967296.0) == -1);
	assert_true(ntp_fixed_from_double(0.49 / 4294967296.0) == 0);
	assert_true(ntp_fixed_from_double(NAN) == 0);
}

static void
test_short_format(void **state)
{
	assert_int_equal(ntp_short_from_double(1.5), 0x00018000);
	assert_int_equal(ntp_short_from_double(0), 0);
	assert_int_equal(ntp_short_from_double(-3), 0);
	assert_int_equal(ntp_short_from_double(NAN), 0);
	assert_int_equal(ntp_short_from_double(1e9), 0xffffffffU);
	assert_int_equal(ntp_short_from_double(1.0 / 65536), 1);
	assert_true(ntp_short_to_double(0x00108000) == 16.5);
	assert_true(ntp_log2_to_double(-2) == 0.25);
	assert_true(ntp_log2_to_double(6) == 64.0);
}

static void
test_refid_str(void **state)
{
	char b[32];

	assert_string_equal(ntp_refid_str(NTP_KISS_RATE, 0, b, sizeof(b)),
	    "RATE");
	assert_string_equal(ntp_refid_str(NTP_REFID('G', 'P', 'S', 0), 1, b,
	    sizeof(b)), "GPS");
	assert_string_equal(ntp_refid_str(NTP_REFID(203, 0, 113, 123), 2, b,
	    sizeof(b)), "203.0.113.123");
	/* A stratum-2 refid is an address even when it looks like text. */
	assert_string_equal(ntp_refid_str(NTP_KISS_RATE, 2, b, sizeof(b)),
	    "82.65.84.69");
	/* Not printable at stratum 0: shown as an address. */
	assert_string_equal(ntp_refid_str(0x01020304, 0, b, sizeof(b)),
	    "1.2.3.4");
	/* A NUL in the middle of text is not text. */
	assert_string_equal(ntp_refid_str(NTP_REFID('A', 0, 'B', 0), 0, b,
	    sizeof(b)), "65.0.66.0");
	assert_string_equal(ntp_refid_str(0, 0, b, sizeof(b)), "-");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_real_requests),
		cmocka_unit_test(test_parse_real_replies),
		cmocka_unit_test(test_parse_short_and_version),
		cmocka_unit_test(test_parse_trailer),
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_ts_known_values),
		cmocka_unit_test(test_ts_roundtrip_eras),
		cmocka_unit_test(test_ts_era_choice),
		cmocka_unit_test(test_ts_arithmetic_across_era),
		cmocka_unit_test(test_short_format),
		cmocka_unit_test(test_refid_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
