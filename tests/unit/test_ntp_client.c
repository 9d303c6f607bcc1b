/*
 * Tests for ntp_client's judgement of replies: what a usable sample is
 * (offset and delay from the four timestamps, also across the 2036 era
 * boundary) and every reason to refuse one: not our cookie, not a server,
 * kiss-o'-death RATE/DENY/RSTR, not synchronised (LI=3, stratum 0 or 16,
 * no reference time), stratum 15, inconsistent timestamps, too far from
 * the primary source.  Replies come from real chronyd captures and from
 * our own server's reply builder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <math.h>

#include "time/ntp_client.h"
#include "time/ntp_server.h"
#include "testutil.h"

#define ERA1_UNIX	2085978496LL
#define COOKIE		0x1122334455667788ULL

static uint64_t
ts_of(int64_t sec, long nsec)
{
	struct timespec t = { (time_t)sec, nsec };

	return ntp_ts_from_timespec(&t);
}

/* A good reply: the server is "off" seconds ahead of us. */
static struct ntp_packet
reply(uint64_t t1, double off, double server_hold)
{
	struct ntp_packet p;

	memset(&p, 0, sizeof(p));
	p.version = 4;
	p.mode = NTP_MODE_SERVER;
	p.stratum = 2;
	p.precision = -20;
	p.root_delay = ntp_short_from_double(0.010);
	p.root_disp = ntp_short_from_double(0.005);
	p.refid = NTP_REFID(192, 0, 2, 1);
	p.org = COOKIE;
	p.rec = ntp_ts_add(t1, off + 0.002);	/* 2 ms one way */
	p.xmt = ntp_ts_add(p.rec, server_hold);
	p.ref = ntp_ts_add(p.rec, -30);
	return p;
}

static enum ntp_reply
judge(const struct ntp_packet *p, uint64_t cookie, uint64_t t1, uint64_t t4,
    struct ntp_sample *s)
{
	uint8_t b[NTP_HEADER_LEN];
	struct ntp_packet back;

	ntp_encode(p, b);
	return ntp_client_judge(b, sizeof(b), cookie, t1, t4, -20, &back, s);
}

static void
test_good_sample(void **state)
{
	uint64_t t1 = ts_of(1767225600LL, 0);
	struct ntp_packet p = reply(t1, 0.25, 0.0001);
	uint64_t t4 = ntp_ts_add(t1, 0.0041);	/* 4 ms + 0.1 ms held */
	struct ntp_sample s;

	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_OK);
	/* rec - t1 = 0.252, xmt - t4 = 0.2521 + ... */
	assert_true(fabs(s.offset - 0.25) < 1e-6);
	assert_true(fabs(s.delay - 0.004) < 1e-6);
	assert_true(s.disp > 0 && s.disp < 1e-4);
	assert_int_equal(s.mono_ms, 0);
}

static void
test_good_sample_across_era(void **state)
{
	/* Sent in era 0, answered and received in era 1. */
	uint64_t t1 = ts_of(ERA1_UNIX - 1, 999000000);
	struct ntp_packet p = reply(t1, -1.5, 0.0002);
	uint64_t t4 = ntp_ts_add(t1, 0.0042);
	struct ntp_sample s;

	assert_true(t4 < t1);			/* the wire value wrapped */
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_OK);
	assert_true(fabs(s.offset + 1.5) < 1e-6);
	assert_true(fabs(s.delay - 0.004) < 1e-6);
	/* And a server that lives in 2040 while we are in 2036. */
	p = reply(t1, 3.9 * 365 * 86400, 0.0001);
	assert_int_equal(judge(&p, COOKIE, t1, ntp_ts_add(t1, 0.0041), &s),
	    NTP_REPLY_OK);
	assert_true(fabs(s.offset - 3.9 * 365 * 86400) < 1e-5);
}

static void
test_refusals(void **state)
{
	uint64_t t1 = ts_of(1767225600LL, 0), t4 = ntp_ts_add(t1, 0.0041);
	struct ntp_packet p;
	struct ntp_sample s;
	uint8_t b[NTP_HEADER_LEN];
	struct ntp_packet back;

	/* Not our cookie: someone guessing, or a late duplicate. */
	p = reply(t1, 0, 0.0001);
	assert_int_equal(judge(&p, COOKIE + 1, t1, t4, &s), NTP_REPLY_BOGUS);
	/* Not a server reply. */
	p.mode = NTP_MODE_CLIENT;
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_MODE);
	p.mode = NTP_MODE_SYM_PASSIVE;
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_MODE);
	/* Too short to be anything. */
	memset(b, 0, sizeof(b));
	assert_int_equal(ntp_client_judge(b, 47, COOKIE, t1, t4, -20, &back,
	    &s), NTP_REPLY_MALFORMED);

	/* Kiss-o'-death. */
	p = reply(t1, 0, 0.0001);
	p.stratum = 0;
	p.leap = NTP_LEAP_ALARM;
	p.refid = NTP_KISS_RATE;
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_KOD_RATE);
	p.refid = NTP_KISS_DENY;
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_KOD_DENY);
	p.refid = NTP_KISS_RSTR;
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_KOD_DENY);
	/* A forged KoD (wrong cookie) is just bogus. */
	assert_int_equal(judge(&p, COOKIE ^ 1, t1, t4, &s), NTP_REPLY_BOGUS);
	/* Stratum 0 with another code: not synchronised. */
	p.refid = NTP_KISS_INIT;
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_UNSYNC);

	/* Not synchronised, each way a server says it. */
	p = reply(t1, 0, 0.0001);
	p.leap = NTP_LEAP_ALARM;
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_UNSYNC);
	p = reply(t1, 0, 0.0001);
	p.stratum = 16;
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_UNSYNC);
	p = reply(t1, 0, 0.0001);
	p.ref = 0;
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_UNSYNC);
	/* Stratum 15 is valid NTP, but we would have to serve 16. */
	p = reply(t1, 0, 0.0001);
	p.stratum = 15;
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_STRATUM);
	p.stratum = 14;
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_OK);

	/* Timestamps that cannot be. */
	p = reply(t1, 0, 0.0001);
	p.rec = 0;
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_TIMES);
	p = reply(t1, 0, 0.0001);
	p.xmt = ntp_ts_add(p.rec, -0.001);	/* sent before received */
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_TIMES);
	p = reply(t1, 0, 0.01);		/* held longer than our round trip */
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_TIMES);
	p = reply(t1, 0, 0.0001);
	p.ref = ntp_ts_add(p.xmt, 1);		/* reference in the future */
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_TIMES);
	p = reply(t1, 0, 0.0001);		/* received before sent */
	assert_int_equal(judge(&p, COOKIE, t1, ntp_ts_add(t1, -0.001), &s),
	    NTP_REPLY_TIMES);

	/* Too far from its primary source to be trusted. */
	p = reply(t1, 0, 0.0001);
	p.root_disp = ntp_short_from_double(1.6);
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_DISTANCE);
	p = reply(t1, 0, 0.0001);
	p.root_delay = ntp_short_from_double(3.0);
	assert_int_equal(judge(&p, COOKIE, t1, t4, &s), NTP_REPLY_DISTANCE);
	assert_string_equal(ntp_reply_str(NTP_REPLY_DISTANCE),
	    "root distance too large");
}

static void
test_chrony_replies(void **state)
{
	struct ntp_packet p;
	struct ntp_sample s;
	size_t len = 0;
	uint8_t *b;

	/* chronyd with "local stratum 1": usable. */
	b = test_data("ntp/rep_chrony_synced.bin", &len);
	assert_non_null(b);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_OK);
	assert_int_equal(ntp_client_judge(b, len, p.org,
	    ntp_ts_add(p.rec, -0.0001), ntp_ts_add(p.xmt, 0.0001), -20, &p,
	    &s), NTP_REPLY_OK);
	assert_true(fabs(s.offset) < 1e-4);
	free(b);
	/* chronyd not synchronised: refused. */
	b = test_data("ntp/rep_chrony_unsynced.bin", &len);
	assert_non_null(b);
	assert_int_equal(ntp_parse(b, len, &p), NTP_PARSE_OK);
	assert_int_equal(ntp_client_judge(b, len, p.org,
	    ntp_ts_add(p.rec, -0.0001), ntp_ts_add(p.xmt, 0.0001), -20, &p,
	    &s), NTP_REPLY_UNSYNC);
	free(b);
}

/* Our server's answers, judged by our client: the two halves agree. */
static void
test_own_server_replies(void **state)
{
	struct ntp_sysinfo sys;
	struct ntp_packet req, rep;
	struct ntp_sample s;
	uint8_t out[NTP_HEADER_LEN];
	uint64_t t1 = ts_of(ERA1_UNIX + 100, 0);

	memset(&req, 0, sizeof(req));
	req.version = 4;
	req.mode = NTP_MODE_CLIENT;
	req.xmt = COOKIE;
	memset(&sys, 0, sizeof(sys));
	sys.synced = 1;
	sys.stratum = 3;
	sys.precision = -22;
	sys.refid = NTP_REFID(10, 0, 0, 1);
	sys.ref = ntp_ts_add(t1, -64);
	sys.root_delay = 0.02;
	sys.root_disp = 0.01;
	ntp_server_reply(&req, &sys, ntp_ts_add(t1, 0.0005), &rep);
	rep.xmt = ntp_ts_add(t1, 0.0006);
	ntp_encode(&rep, out);
	assert_int_equal(ntp_client_judge(out, sizeof(out), COOKIE, t1,
	    ntp_ts_add(t1, 0.0011), -20, &rep, &s), NTP_REPLY_OK);
	assert_true(fabs(s.offset) < 1e-6);
	assert_true(fabs(s.delay - 0.001) < 1e-6);

	sys.synced = 0;
	ntp_server_reply(&req, &sys, ntp_ts_add(t1, 0.0005), &rep);
	rep.xmt = ntp_ts_add(t1, 0.0006);
	ntp_encode(&rep, out);
	assert_int_equal(ntp_client_judge(out, sizeof(out), COOKIE, t1,
	    ntp_ts_add(t1, 0.0011), -20, &rep, &s), NTP_REPLY_UNSYNC);

	ntp_server_kod(&req, NTP_KISS_RATE, &rep);
	ntp_encode(&rep, out);
	assert_int_equal(ntp_client_judge(out, sizeof(out), COOKIE, t1,
	    ntp_ts_add(t1, 0.0011), -20, &rep, &s), NTP_REPLY_KOD_RATE);
}

static void
test_refid_for(void **state)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_addr.s_addr = htonl(0xcb00717b);	/* 203.0.113.123 */
	assert_int_equal(ntp_refid_for((struct sockaddr *)&s4), 0xcb00717b);
	/* IPv6: the first four bytes of the MD5 of the address. */
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::123", &s6.sin6_addr);
	assert_int_equal(ntp_refid_for((struct sockaddr *)&s6), 0xc975cecc);
	inet_pton(AF_INET6, "::1", &s6.sin6_addr);
	assert_int_equal(ntp_refid_for((struct sockaddr *)&s6), 0xcf404dc8);
	assert_string_equal(ntp_peer_state_str(NTP_PEER_FALSETICKER),
	    "falseticker");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_sample),
		cmocka_unit_test(test_good_sample_across_era),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_chrony_replies),
		cmocka_unit_test(test_own_server_replies),
		cmocka_unit_test(test_refid_for),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
