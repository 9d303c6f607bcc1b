/*
 * Tests for ntp_server's pure parts: which datagrams are answered and why
 * the others are dropped, every field of a reply (synchronised and not),
 * the RATE kiss-o'-death, and the per-client rate limiter (floods are
 * cut, a normal charger never is, the table stays bounded).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <math.h>

#include "time/ntp_select.h"
#include "time/ntp_server.h"
#include "testutil.h"

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
test_check_real_clients(void **state)
{
	static const char *const ok[] = {
		"req_ntpdig.bin", "req_chrony.bin", "req_chrony_v3.bin",
		"req_chrony_v2.bin", "req_chrony_xleave.bin",
		"req_chrony_extfield.bin",
	};
	struct ntp_packet req;
	size_t i, len;
	uint8_t *b;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		b = load(ok[i], &len);
		assert_int_equal(ntp_server_check(b, len, 40000, &req),
		    NTP_DROP_NREASONS);
		free(b);
	}
	/* ntpdig with a key: we hold none, so we do not answer. */
	b = load("req_ntpdig_mac.bin", &len);
	assert_int_equal(ntp_server_check(b, len, 40000, &req), NTP_DROP_AUTH);
	free(b);
	/* A server reply sent to us is not a request. */
	b = load("rep_chrony_synced.bin", &len);
	assert_int_equal(ntp_server_check(b, len, 123, &req), NTP_DROP_MODE);
	free(b);
}

static void
test_check_drops(void **state)
{
	uint8_t b[NTP_HEADER_LEN + 32];
	struct ntp_packet req;
	int mode;

	memset(b, 0, sizeof(b));
	b[0] = 0x23;
	assert_int_equal(ntp_server_check(b, 47, 40000, &req), NTP_DROP_SHORT);
	assert_int_equal(ntp_server_check(b, 0, 40000, &req), NTP_DROP_SHORT);
	assert_int_equal(ntp_server_check(b, 48 + 7, 40000, &req),
	    NTP_DROP_LENGTH);
	b[0] = 0x2b;		/* version 5 */
	assert_int_equal(ntp_server_check(b, 48, 40000, &req),
	    NTP_DROP_VERSION);
	b[0] = 0x03;		/* version 0 */
	assert_int_equal(ntp_server_check(b, 48, 40000, &req),
	    NTP_DROP_VERSION);
	/* Every mode but client: peers, broadcast, control (ntpq), 7. */
	for (mode = 0; mode < 8; mode++) {
		b[0] = (uint8_t)(0x20 | mode);
		assert_int_equal(ntp_server_check(b, 48, 40000, &req),
		    mode == 3 ? NTP_DROP_NREASONS : NTP_DROP_MODE);
	}
	/* NTPv1 has no mode: a client is one not sending from port 123. */
	b[0] = 0x08;
	assert_int_equal(ntp_server_check(b, 48, 40000, &req),
	    NTP_DROP_NREASONS);
	assert_int_equal(req.version, 1);
	assert_int_equal(ntp_server_check(b, 48, 123, &req), NTP_DROP_MODE);
	/* Version 2 with mode 0 is not special. */
	b[0] = 0x10;
	assert_int_equal(ntp_server_check(b, 48, 40000, &req), NTP_DROP_MODE);
	/* A v3 request with an MD5 MAC. */
	b[0] = 0x1b;
	assert_int_equal(ntp_server_check(b, 48 + 20, 40000, &req),
	    NTP_DROP_AUTH);
	assert_string_equal(ntp_drop_str(NTP_DROP_RATE), "rate_limited");
	assert_string_equal(ntp_drop_str(NTP_DROP_MODE), "bad_mode");
}

static struct ntp_sysinfo
synced_sys(void)
{
	struct ntp_sysinfo s;

	memset(&s, 0, sizeof(s));
	s.synced = 1;
	s.leap = NTP_LEAP_NONE;
	s.stratum = 2;
	s.precision = -23;
	s.refid = NTP_REFID(203, 0, 113, 123);
	s.ref = (uint64_t)3975000000ULL << 32;
	s.root_delay = 0.0125;
	s.root_disp = 0.0025;
	return s;
}

static void
test_reply_synchronised(void **state)
{
	struct ntp_sysinfo sys = synced_sys();
	struct ntp_packet req, rep;
	uint8_t out[NTP_HEADER_LEN];
	uint64_t rx = ntp_ts_add(sys.ref, 1000.0);
	size_t len;
	uint8_t *b = load("req_chrony_v3.bin", &len);

	assert_int_equal(ntp_server_check(b, len, 40000, &req),
	    NTP_DROP_NREASONS);
	ntp_server_reply(&req, &sys, rx, &rep);
	assert_int_equal(rep.version, 3);		/* echoed */
	assert_int_equal(rep.mode, NTP_MODE_SERVER);
	assert_int_equal(rep.leap, NTP_LEAP_NONE);
	assert_int_equal(rep.stratum, 2);
	assert_int_equal(rep.precision, -23);
	assert_int_equal(rep.poll, 6);			/* chrony asked 6 */
	assert_int_equal(rep.refid, NTP_REFID(203, 0, 113, 123));
	assert_true(rep.ref == sys.ref);
	assert_true(rep.org == req.xmt);
	assert_true(rep.rec == rx);
	assert_true(rep.xmt == 0);			/* set when sending */
	assert_true(fabs(ntp_short_to_double(rep.root_delay) - 0.0125) <
	    1.0 / 65536);
	/* Dispersion grew at 15 ppm for 1000 s: + 15 ms. */
	assert_true(fabs(ntp_short_to_double(rep.root_disp) - 0.0175) <
	    1.0 / 65536);
	/* A leap second announced upstream is passed on. */
	sys.leap = NTP_LEAP_ADD;
	ntp_server_reply(&req, &sys, rx, &rep);
	assert_int_equal(rep.leap, NTP_LEAP_ADD);
	/* On the wire: the first byte is LI 1, VN 3, mode 4. */
	ntp_encode(&rep, out);
	assert_int_equal(out[0], 0x5c);
	free(b);

	/* ntpdig asks with poll 0: we suggest 16 s; 127 is capped. */
	req.poll = 0;
	ntp_server_reply(&req, &sys, rx, &rep);
	assert_int_equal(rep.poll, 4);
	req.poll = 127;
	ntp_server_reply(&req, &sys, rx, &rep);
	assert_int_equal(rep.poll, 17);
	/* Version 1 (mode 0 request) is answered as version 1, mode 4. */
	req.version = 1;
	req.mode = 0;
	ntp_server_reply(&req, &sys, rx, &rep);
	assert_int_equal(rep.version, 1);
	assert_int_equal(rep.mode, NTP_MODE_SERVER);
}

static void
test_reply_unsynchronised(void **state)
{
	struct ntp_sysinfo sys = synced_sys();
	struct ntp_packet req, rep, back;
	uint8_t out[NTP_HEADER_LEN];
	uint64_t rx = ntp_ts_add(sys.ref, 5.0);
	size_t len;
	uint8_t *b = load("req_ntpdig.bin", &len);

	assert_int_equal(ntp_server_check(b, len, 40000, &req),
	    NTP_DROP_NREASONS);
	sys.synced = 0;
	ntp_server_reply(&req, &sys, rx, &rep);
	ntp_encode(&rep, out);
	assert_int_equal(ntp_parse(out, sizeof(out), &back), NTP_PARSE_OK);
	/* Never LI=3 with a real stratum: LI 3 and stratum 0 together. */
	assert_int_equal(back.leap, NTP_LEAP_ALARM);
	assert_int_equal(back.stratum, 0);
	assert_int_equal(back.refid, NTP_KISS_INIT);
	assert_memory_equal(out + 12, "INIT", 4);
	assert_true(back.ref == 0);
	assert_true(ntp_short_to_double(back.root_disp) == NTP_MAXDISP);
	assert_int_equal(back.root_delay, 0);
	/* Still a well-formed answer to this request. */
	assert_int_equal(back.mode, NTP_MODE_SERVER);
	assert_true(back.org == req.xmt);
	assert_true(back.rec == rx);
	free(b);
}

static void
test_kod(void **state)
{
	struct ntp_packet req, rep;
	size_t len;
	uint8_t *b = load("req_chrony.bin", &len);

	assert_int_equal(ntp_server_check(b, len, 40000, &req),
	    NTP_DROP_NREASONS);
	ntp_server_kod(&req, NTP_KISS_RATE, &rep);
	assert_int_equal(rep.leap, NTP_LEAP_ALARM);
	assert_int_equal(rep.stratum, 0);
	assert_int_equal(rep.mode, NTP_MODE_SERVER);
	assert_int_equal(rep.refid, NTP_KISS_RATE);
	assert_true(rep.org == req.xmt);
	/* No time in it: every timestamp is the client's own. */
	assert_true(rep.rec == req.xmt && rep.xmt == req.xmt &&
	    rep.ref == req.xmt);
	free(b);
}

static struct sockaddr_in
v4(uint32_t host)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_addr.s_addr = htonl(host);
	s.sin_port = htons(40000);
	return s;
}

static void
test_ratelimit_flood(void **state)
{
	struct ntp_ratelimit *rl = ntp_ratelimit_new(64, 16, 2000, 42);
	struct sockaddr_in flood = v4(0x0a2a0015), other = v4(0x0a2a0016);
	struct sockaddr_in6 mapped;
	uint64_t t = 1000000;
	int i, pass = 0, kod = 0, drop = 0;

	/* 1000 requests in one second: the burst, one KoD, drops. */
	for (i = 0; i < 1000; i++) {
		switch (ntp_ratelimit_check(rl, (struct sockaddr *)&flood,
		    t + (uint64_t)i)) {
		case NTP_RL_PASS:
			pass++;
			break;
		case NTP_RL_KOD:
			kod++;
			break;
		default:
			drop++;
		}
	}
	assert_int_equal(pass, 16);
	assert_int_equal(kod, 1);
	assert_int_equal(drop, 1000 - 17);
	/* Someone else is not affected. */
	assert_int_equal(ntp_ratelimit_check(rl, (struct sockaddr *)&other,
	    t + 1000), NTP_RL_PASS);
	/* The same address as IPv4-mapped IPv6 is the same client. */
	memset(&mapped, 0, sizeof(mapped));
	mapped.sin6_family = AF_INET6;
	mapped.sin6_addr.s6_addr[10] = 0xff;
	mapped.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&mapped.sin6_addr.s6_addr[12], &flood.sin_addr, 4);
	assert_int_equal(ntp_ratelimit_check(rl, (struct sockaddr *)&mapped,
	    t + 1001), NTP_RL_DROP);
	/* The bucket refills at one per interval (2 s). */
	assert_int_equal(ntp_ratelimit_check(rl, (struct sockaddr *)&flood,
	    t + 1999), NTP_RL_DROP);
	assert_int_equal(ntp_ratelimit_check(rl, (struct sockaddr *)&flood,
	    t + 2000), NTP_RL_PASS);
	assert_int_equal(ntp_ratelimit_check(rl, (struct sockaddr *)&flood,
	    t + 2000), NTP_RL_DROP);
	/*
	 * Flooding on for 68 s at 1000/s: one answer per 2 s, and a RATE
	 * KoD at most once per burst period (32 s).
	 */
	pass = kod = 0;
	for (i = 2001; i <= 70000; i++) {
		switch (ntp_ratelimit_check(rl, (struct sockaddr *)&flood,
		    t + (uint64_t)i)) {
		case NTP_RL_PASS:
			pass++;
			break;
		case NTP_RL_KOD:
			kod++;
			break;
		default:
			break;
		}
	}
	assert_in_range(pass, 33, 35);
	assert_int_equal(kod, 2);
	assert_int_equal(ntp_ratelimit_size(rl), 2);
	ntp_ratelimit_free(rl);
}

static void
test_ratelimit_normal_client_never_hurt(void **state)
{
	struct ntp_ratelimit *rl = ntp_ratelimit_new(64, 16, 2000, 7);
	struct sockaddr_in charger = v4(0x0a2a0017), flood = v4(0x0a2a0018);
	uint64_t t = 5000;
	int i, j;

	/*
	 * A charger: an initial burst of 8 two seconds apart (ntpd's
	 * iburst), then every 64 s, while a neighbour floods at 1000/s and
	 * thousands of spoofed addresses churn the table.
	 */
	for (i = 0; i < 8; i++)
		assert_int_equal(ntp_ratelimit_check(rl,
		    (struct sockaddr *)&charger, t + 2000 * (uint64_t)i),
		    NTP_RL_PASS);
	t += 16000;
	for (i = 0; i < 100; i++, t += 64000) {
		for (j = 0; j < 64; j++) {
			struct sockaddr_in spoof = v4(0xc6336400 +
			    (uint32_t)(i * 64 + j));

			(void)ntp_ratelimit_check(rl,
			    (struct sockaddr *)&flood, t + (uint64_t)j);
			(void)ntp_ratelimit_check(rl,
			    (struct sockaddr *)&spoof, t + (uint64_t)j);
		}
		assert_int_equal(ntp_ratelimit_check(rl,
		    (struct sockaddr *)&charger, t + 100), NTP_RL_PASS);
	}
	/* Bounded: never more entries than slots. */
	assert_true(ntp_ratelimit_size(rl) <= 64);
	ntp_ratelimit_free(rl);
}

static void
test_ratelimit_table_bound(void **state)
{
	struct ntp_ratelimit *rl = ntp_ratelimit_new(100, 2, 1000, 1);
	uint32_t i;

	/* 100 rounds up to 128 slots.  One new client per second. */
	for (i = 0; i < 10000; i++) {
		struct sockaddr_in a = v4(0x0a000000 + i);

		assert_int_equal(ntp_ratelimit_check(rl, (struct sockaddr *)&a,
		    1000 * (uint64_t)i), NTP_RL_PASS);
	}
	assert_true(ntp_ratelimit_size(rl) <= 128);
	assert_true(ntp_ratelimit_size(rl) > 64);
	/* Entries whose time was up were replaced, not live ones. */
	assert_int_equal(ntp_ratelimit_evictions(rl), 0);
	/* 1000 new addresses within a second: live entries go. */
	for (i = 0; i < 1000; i++) {
		struct sockaddr_in a = v4(0x0b000000 + i);

		assert_int_equal(ntp_ratelimit_check(rl, (struct sockaddr *)&a,
		    20000000 + i), NTP_RL_PASS);
	}
	assert_true(ntp_ratelimit_size(rl) <= 128);
	assert_true(ntp_ratelimit_evictions(rl) > 0);
	ntp_ratelimit_free(rl);
	/* Tiny and degenerate parameters still work. */
	rl = ntp_ratelimit_new(0, 0, 0, 0);
	{
		struct sockaddr_in a = v4(1);

		assert_int_equal(ntp_ratelimit_check(rl, (struct sockaddr *)&a,
		    10), NTP_RL_PASS);
		assert_int_equal(ntp_ratelimit_check(rl, (struct sockaddr *)&a,
		    10), NTP_RL_KOD);
		assert_int_equal(ntp_ratelimit_check(rl, (struct sockaddr *)&a,
		    11), NTP_RL_PASS);
	}
	ntp_ratelimit_free(rl);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_real_clients),
		cmocka_unit_test(test_check_drops),
		cmocka_unit_test(test_reply_synchronised),
		cmocka_unit_test(test_reply_unsynchronised),
		cmocka_unit_test(test_kod),
		cmocka_unit_test(test_ratelimit_flood),
		cmocka_unit_test(test_ratelimit_normal_client_never_hurt),
		cmocka_unit_test(test_ratelimit_table_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
