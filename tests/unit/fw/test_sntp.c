/*
 * test_sntp: the sanity checks (origin, LI, stratum, root distance, mode),
 * the offset arithmetic, and the client on the fake HAL: it sets the
 * clock only from a good reply, rotates servers, never polls faster than
 * every 15 s; kiss-o'-death (RATE, DENY, RSTR), back-off when nobody
 * answers, the floor of the last good sync, and two agreeing samples
 * before a step backwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/sntp.h"
#include "hal/fake/hal_fake.h"

#define S1	0x0a2a0001U
#define S2	0xcb00717bU	/* 203.0.113.123 */
/* The true time in these tests: 2026-11-25T10:00:00Z. */
#define TRUE_MS	1795600800000LL

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* A server reply to request req (48 bytes), server clock at `server_ms`. */
static void
reply(uint8_t *b, const uint8_t *req, int li, int stratum, uint32_t rdelay,
    uint32_t rdisp, int64_t server_ms)
{
	memset(b, 0, 48);
	b[0] = (uint8_t)(li << 6 | 4 << 3 | 4);
	b[1] = (uint8_t)stratum;
	b[2] = 6;
	put32(b + 4, rdelay);
	put32(b + 8, rdisp);
	memcpy(b + 24, req + 40, 8);	/* origin = our transmit cookie */
	put64(b + 32, sntp_ms_to_ntp(server_ms));
	put64(b + 40, sntp_ms_to_ntp(server_ms + 1));
}

static uint64_t
cookie_of(const uint8_t *req)
{
	uint64_t c = 0;
	int i;

	for (i = 0; i < 8; i++)
		c = c << 8 | req[40 + i];
	return c;
}

static void
test_timestamps(void **state)
{
	int64_t t = TRUE_MS + 123;

	assert_int_equal(sntp_ntp_to_ms(sntp_ms_to_ntp(t)), t);
	/* 1970-01-01 is NTP second 2208988800. */
	assert_int_equal(sntp_ms_to_ntp(0) >> 32, 2208988800ULL);
	/* After the 2036 era roll-over. */
	t = 2147483648000LL + 86400000LL * 365 * 20;
	assert_int_equal(sntp_ntp_to_ms(sntp_ms_to_ntp(t)), t);
}

static void
test_checks(void **state)
{
	uint8_t req[48] = { 0 }, b[64];
	struct sntp_pkt p;
	uint64_t cookie;

	memset(req + 40, 0xab, 8);
	cookie = cookie_of(req);
	reply(b, req, 0, 2, 0x100, 0x100, TRUE_MS);
	assert_int_equal(sntp_parse(b, 48, &p), SNTP_PARSE_OK);
	assert_int_equal(sntp_check(&p, cookie), SNTP_VALID);
	assert_int_equal(sntp_parse(b, 47, &p), SNTP_PARSE_SHORT);
	/* Extension fields after the header are ignored. */
	assert_int_equal(sntp_parse(b, 64, &p), SNTP_PARSE_OK);

	assert_int_equal(sntp_parse(b, 48, &p), SNTP_PARSE_OK);
	assert_int_equal(sntp_check(&p, cookie + 1), SNTP_BAD_ORIGIN);

	/* chrony unsynchronised: LI 3 and stratum 0. */
	reply(b, req, 3, 0, 0, 0, TRUE_MS);
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_check(&p, cookie), SNTP_UNSYNCED);
	/* LI 3 with a plausible stratum is still refused. */
	reply(b, req, 3, 2, 0, 0, TRUE_MS);
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_check(&p, cookie), SNTP_UNSYNCED);
	/* Kiss-o'-death (stratum 0), stratum 16. */
	reply(b, req, 0, 0, 0, 0, TRUE_MS);
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_check(&p, cookie), SNTP_BAD_STRATUM);
	reply(b, req, 0, 16, 0, 0, TRUE_MS);
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_check(&p, cookie), SNTP_BAD_STRATUM);
	/* Stratum 1 and 15 are fine. */
	reply(b, req, 0, 1, 0, 0, TRUE_MS);
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_check(&p, cookie), SNTP_VALID);
	reply(b, req, 0, 15, 0, 0, TRUE_MS);
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_check(&p, cookie), SNTP_VALID);
	/* Root distance: dispersion 1.5 s is too much, 1.4 s is not. */
	reply(b, req, 0, 2, 0, 0x18000, TRUE_MS);
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_check(&p, cookie), SNTP_BAD_DISTANCE);
	reply(b, req, 0, 2, 0x20000, 0x8000, TRUE_MS);	/* 1 s + 0.5 s */
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_check(&p, cookie), SNTP_BAD_DISTANCE);
	reply(b, req, 0, 2, 0, 0x16666, TRUE_MS);
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_check(&p, cookie), SNTP_VALID);
	/* A client-mode packet (e.g. our own echoed) is no answer. */
	reply(b, req, 0, 2, 0, 0, TRUE_MS);
	b[0] = (b[0] & ~7) | 3;
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_check(&p, cookie), SNTP_BAD_MODE);
	/* Version 2 is refused by the parser. */
	b[0] = 2 << 3 | 4;
	assert_int_equal(sntp_parse(b, 48, &p), SNTP_PARSE_BAD_VERSION);
}

static void
test_sample(void **state)
{
	struct sntp_pkt p;
	uint8_t req[48] = { 0 }, b[48];
	int64_t off, delay;

	/* Local clock 10 s slow; 40 ms there and back; server 1 ms busy. */
	reply(b, req, 0, 2, 0, 0, TRUE_MS + 20);
	sntp_parse(b, 48, &p);
	sntp_sample(&p, TRUE_MS - 10000, TRUE_MS - 10000 + 41, &off, &delay);
	assert_int_equal(off, 10000);
	assert_int_equal(delay, 40);
}

static unsigned synced_calls;

static void
on_synced(void *arg, int64_t step)
{
	synced_calls++;
}

static struct sntp *
client(void)
{
	struct sntp_cb cb = { on_synced, NULL };

	fake_hal_reset();
	synced_calls = 0;
	return sntp_new(101, 123, &cb);
}

/* Bad answers never touch the clock; a good one sets it. */
static void
test_client_sets_clock(void **state)
{
	struct sntp *s = client();
	uint32_t servers[2] = { S1, S2 };
	int64_t wrong = hal_wall_ms();	/* 2026-01-01: months off */
	uint8_t b[48];
	const struct fake_pkt *req;

	sntp_set_servers(s, servers, 2, hal_mono_ms());
	sntp_tick(s, hal_mono_ms());
	assert_int_equal(fake_udp_count(), 1);
	req = fake_udp(0);
	assert_int_equal(req->dst, S1);
	assert_int_equal(req->port, 123);
	assert_int_equal(req->len, 48);
	assert_int_equal(req->buf[0] & 7, 3);

	/* A forged reply (wrong origin): ignored, still waiting. */
	reply(b, req->buf, 0, 2, 0, 0, TRUE_MS);
	b[24] ^= 0xff;
	sntp_input(s, b, 48, S1, 123, hal_wall_ms(), hal_mono_ms());
	assert_false(sntp_synced(s));
	/* From another address: ignored. */
	reply(b, req->buf, 0, 2, 0, 0, TRUE_MS);
	sntp_input(s, b, 48, S2, 123, hal_wall_ms(), hal_mono_ms());
	assert_false(sntp_synced(s));
	/* An unsynchronised server: refused, the poll ends, next server. */
	reply(b, req->buf, 3, 0, 0, 0, TRUE_MS);
	sntp_input(s, b, 48, S1, 123, hal_wall_ms(), hal_mono_ms());
	assert_false(sntp_synced(s));
	assert_int_equal(hal_wall_ms(), wrong);
	assert_int_equal(sntp_stats(s)->last_reject, SNTP_UNSYNCED);
	/* Not before 15 s after the last request. */
	assert_true(sntp_deadline(s) >= 1000 + 15000);
	fake_advance(sntp_deadline(s) - hal_mono_ms());
	sntp_tick(s, hal_mono_ms());
	assert_int_equal(fake_udp_count(), 2);
	req = fake_udp(1);
	assert_int_equal(req->dst, S2);
	reply(b, req->buf, 0, 2, 0, 0, TRUE_MS);
	sntp_input(s, b, 48, S2, 123, hal_wall_ms(), hal_mono_ms());
	assert_true(sntp_synced(s));
	assert_int_equal(synced_calls, 1);
	/* Within the reply's precision of the true time. */
	assert_true(hal_wall_ms() > TRUE_MS - 5 && hal_wall_ms() < TRUE_MS + 5);
	/* Synced: the next poll is far off. */
	assert_true(sntp_deadline(s) >= hal_mono_ms() + 60000);
	sntp_free(s);
}

/* Silence: time out, rotate, and never more than one request per 15 s. */
static void
test_client_poll_spacing(void **state)
{
	struct sntp *s = client();
	uint32_t servers[2] = { S1, S2 };
	uint64_t last = 0, t;
	size_t i;

	sntp_set_servers(s, servers, 2, hal_mono_ms());
	for (i = 0; i < 20; i++) {
		t = sntp_deadline(s);
		fake_advance(t - hal_mono_ms());
		sntp_tick(s, hal_mono_ms());
	}
	assert_true(fake_udp_count() >= 5);
	for (i = 0; i < fake_udp_count(); i++) {
		/* Requests alternate between the two servers. */
		assert_int_equal(fake_udp(i)->dst, i % 2 == 0 ? S1 : S2);
	}
	/* Replay the mono times at which requests went out. */
	fake_hal_reset();
	sntp_free(s);
	s = client();
	sntp_set_servers(s, servers, 2, hal_mono_ms());
	for (i = 0; i < 20; i++) {
		size_t before = fake_udp_count();

		fake_advance(sntp_deadline(s) - hal_mono_ms());
		sntp_tick(s, hal_mono_ms());
		if (fake_udp_count() > before) {
			if (last != 0)
				assert_true(hal_mono_ms() - last >= 15000);
			last = hal_mono_ms();
		}
	}
	/* Every request but perhaps the last one timed out. */
	assert_true(sntp_stats(s)->timeouts + 1 >= fake_udp_count());
	assert_true(sntp_stats(s)->timeouts <= fake_udp_count());
	assert_false(sntp_synced(s));
	sntp_free(s);
}

/* Once synced, a small offset is left alone; a large one steps. */
static void
test_client_restep(void **state)
{
	struct sntp *s = client();
	uint32_t servers[1] = { S1 };
	uint8_t b[48];

	sntp_set_servers(s, servers, 1, hal_mono_ms());
	sntp_tick(s, hal_mono_ms());
	reply(b, fake_udp(0)->buf, 0, 2, 0, 0, TRUE_MS);
	sntp_input(s, b, 48, S1, 123, hal_wall_ms(), hal_mono_ms());
	assert_int_equal(synced_calls, 1);

	fake_advance(sntp_deadline(s) - hal_mono_ms());
	sntp_tick(s, hal_mono_ms());
	reply(b, fake_udp(1)->buf, 0, 2, 0, 0, hal_wall_ms() + 300);
	sntp_input(s, b, 48, S1, 123, hal_wall_ms(), hal_mono_ms());
	assert_int_equal(synced_calls, 1);

	fake_advance(sntp_deadline(s) - hal_mono_ms());
	sntp_tick(s, hal_mono_ms());
	reply(b, fake_udp(2)->buf, 0, 2, 0, 0, hal_wall_ms() + 5000);
	sntp_input(s, b, 48, S1, 123, hal_wall_ms(), hal_mono_ms());
	assert_int_equal(synced_calls, 1);	/* best of window: +300 */
	sntp_free(s);
}

/* The request sent last, answered by `ip` with a reply built by fn. */
static void
answer(struct sntp *s, uint32_t ip, int li, int stratum, int64_t server_ms,
    uint32_t refid)
{
	const struct fake_pkt *req = fake_udp(fake_udp_count() - 1);
	uint8_t b[48];

	reply(b, req->buf, li, stratum, 0, 0, server_ms);
	put32(b + 12, refid);
	sntp_input(s, b, 48, ip, 123, hal_wall_ms(), hal_mono_ms());
}

/* Run to the next request; returns the gap since the previous one. */
static uint64_t
next_request(struct sntp *s)
{
	static uint64_t last;
	size_t n = fake_udp_count();
	uint64_t gap;

	while (fake_udp_count() == n) {
		assert_true(sntp_deadline(s) != UINT64_MAX);
		fake_advance(sntp_deadline(s) - hal_mono_ms());
		sntp_tick(s, hal_mono_ms());
	}
	gap = n == 0 ? 0 : hal_mono_ms() - last;
	last = hal_mono_ms();
	return gap;
}

#define RATE	0x52415445U	/* "RATE" */
#define DENY	0x44454e59U
#define RSTR	0x52535452U

static void
test_kod_checks(void **state)
{
	uint8_t req[48] = { 0 }, b[48];
	struct sntp_pkt p;

	memset(req + 40, 0x5a, 8);
	reply(b, req, 3, 0, 0, 0, TRUE_MS);
	put32(b + 12, RATE);
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_check(&p, cookie_of(req)), SNTP_KOD);
	assert_int_equal(sntp_kiss(&p), SNTP_KISS_RATE);
	/* Only after the cookie matched: a forger cannot silence a server. */
	assert_int_equal(sntp_check(&p, cookie_of(req) + 1), SNTP_BAD_ORIGIN);
	put32(b + 12, DENY);
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_kiss(&p), SNTP_KISS_DENY);
	put32(b + 12, RSTR);
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_kiss(&p), SNTP_KISS_RSTR);
	/* Another code, or a kiss code with a real stratum: no kiss. */
	put32(b + 12, 0x494e4954U);		/* "INIT" */
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_check(&p, cookie_of(req)), SNTP_UNSYNCED);
	assert_int_equal(sntp_kiss(&p), SNTP_KISS_NONE);
	b[1] = 2;
	put32(b + 12, DENY);
	sntp_parse(b, 48, &p);
	assert_int_equal(sntp_kiss(&p), SNTP_KISS_NONE);
}

/* DENY and RSTR: that server is never asked again; RATE: less often. */
static void
test_kod_client(void **state)
{
	struct sntp *s = client();
	uint32_t servers[2] = { S1, S2 };
	size_t i, to_s1 = 0;
	uint64_t last_s1;

	sntp_set_servers(s, servers, 2, hal_mono_ms());
	next_request(s);
	assert_int_equal(fake_udp(0)->dst, S1);
	answer(s, S1, 3, 0, TRUE_MS, DENY);
	assert_int_equal(sntp_stats(s)->kods, 1);
	assert_int_equal(sntp_stats(s)->denied, 1);
	for (i = 0; i < 10; i++) {
		next_request(s);
		assert_int_equal(fake_udp(fake_udp_count() - 1)->dst, S2);
	}
	/* The last one left says RSTR: nothing more at all. */
	answer(s, S2, 3, 0, TRUE_MS, RSTR);
	assert_int_equal(sntp_deadline(s), UINT64_MAX);
	sntp_tick(s, hal_mono_ms() + 86400000);
	assert_int_equal(fake_udp_count(), 11);
	sntp_free(s);

	/* RATE: at least 64 s to that server, doubling with each kiss. */
	s = client();
	sntp_set_servers(s, servers, 1, hal_mono_ms());
	next_request(s);
	answer(s, S1, 3, 0, TRUE_MS, RATE);
	assert_true(next_request(s) >= SNTP_RATE_MIN_MS);
	answer(s, S1, 3, 0, TRUE_MS, RATE);
	assert_true(next_request(s) >= 2 * SNTP_RATE_MIN_MS);
	answer(s, S1, 0, 2, TRUE_MS, 0);
	assert_true(sntp_synced(s));
	sntp_free(s);

	/* A RATE from one of two: that one at most every 64 s from now. */
	s = client();
	sntp_set_servers(s, servers, 2, hal_mono_ms());
	next_request(s);
	answer(s, S1, 3, 0, TRUE_MS, RATE);
	last_s1 = hal_mono_ms();
	for (i = 0; i < 12; i++) {
		next_request(s);
		if (fake_udp(fake_udp_count() - 1)->dst != S1)
			continue;
		assert_true(hal_mono_ms() - last_s1 >= SNTP_RATE_MIN_MS);
		last_s1 = hal_mono_ms();
		to_s1++;
		/* S2 answers nothing, S1 unsynchronised: all misses. */
		answer(s, S1, 3, 0, TRUE_MS, 0);
	}
	assert_true(to_s1 >= 2);
	sntp_free(s);
}

/* Nobody answers: 15 s doubling to 5 min (not 15 s for ever). */
static void
test_unanswered_backoff(void **state)
{
	struct sntp *s = client();
	uint32_t servers[1] = { S1 };
	static const uint64_t gaps[] = { 15000, 30000, 60000, 120000, 240000,
		300000, 300000 };
	size_t i;

	sntp_set_servers(s, servers, 1, hal_mono_ms());
	next_request(s);
	for (i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++)
		assert_int_equal(next_request(s), gaps[i]);
	assert_int_equal(sntp_stats(s)->misses, 7);
	/* An answer ends it; polls go back to the normal pace. */
	answer(s, S1, 0, 2, TRUE_MS, 0);
	assert_true(sntp_synced(s));
	assert_int_equal(sntp_stats(s)->misses, 0);
	assert_int_equal(next_request(s), SNTP_SYNCED_POLL_MS);
	/* Synchronised, silence backs off up to the synced poll. */
	for (i = 0; i < 12; i++)
		assert_true(next_request(s) <= SNTP_SYNCED_POLL_MS);
	assert_int_equal(next_request(s), SNTP_SYNCED_POLL_MS);
	/* An unsynchronised server's answers back off too. */
	sntp_free(s);
	s = client();
	sntp_set_servers(s, servers, 1, hal_mono_ms());
	next_request(s);
	for (i = 0; i < 3; i++) {
		answer(s, S1, 3, 0, TRUE_MS, 0);
		assert_int_equal(next_request(s), gaps[i]);
	}
	sntp_free(s);
}

/* The last good sync is a floor across restarts. */
static void
test_floor(void **state)
{
	struct sntp *s = client();
	uint32_t servers[1] = { S1 };
	char buf[32];
	size_t len;

	sntp_set_servers(s, servers, 1, hal_mono_ms());
	next_request(s);
	answer(s, S1, 0, 2, TRUE_MS, 0);
	assert_true(sntp_synced(s));
	assert_int_equal(hal_kv_get("sntp.floor", buf, sizeof(buf), &len), 0);
	sntp_free(s);
	/* A restart with the RTC behind it (a flat battery): raised. */
	fake_set_wall(0);
	s = sntp_new(101, 123, NULL);
	assert_true(hal_wall_ms() >= TRUE_MS - 5);
	assert_true(sntp_stats(s)->floor_ms >= TRUE_MS - 5);
	/* A server a day in the past: refused, whatever it says. */
	sntp_set_servers(s, servers, 1, hal_mono_ms());
	next_request(s);
	answer(s, S1, 0, 2, TRUE_MS - 86400000, 0);
	assert_false(sntp_synced(s));
	assert_int_equal(sntp_stats(s)->below_floor, 1);
	next_request(s);
	answer(s, S1, 0, 2, hal_wall_ms() + 2000, 0);
	assert_true(sntp_synced(s));
	sntp_free(s);
}

/* Back by more than a second: only when a second sample agrees. */
static void
test_backward_needs_two(void **state)
{
	struct sntp *s = client();
	uint32_t servers[2] = { S1, S2 };

	/* The RTC is an hour ahead. */
	fake_set_wall(TRUE_MS + 3600000);
	sntp_set_servers(s, servers, 2, hal_mono_ms());
	next_request(s);
	answer(s, S1, 0, 2, TRUE_MS, 0);
	assert_false(sntp_synced(s));
	assert_int_equal(sntp_stats(s)->held_back, 1);
	/* Soon, from the other server: it agrees, the clock goes back. */
	assert_int_equal(next_request(s), SNTP_MIN_POLL_MS);
	assert_int_equal(fake_udp(fake_udp_count() - 1)->dst, S2);
	answer(s, S2, 0, 2, TRUE_MS + 15000, 0);
	assert_true(sntp_synced(s));
	assert_true(hal_wall_ms() > TRUE_MS + 15000 - 5 &&
	    hal_wall_ms() < TRUE_MS + 15000 + 5);
	sntp_free(s);

	/* Two that disagree: no step. */
	fake_hal_reset();
	s = client();
	fake_set_wall(TRUE_MS + 3600000);
	sntp_set_servers(s, servers, 2, hal_mono_ms());
	next_request(s);
	answer(s, S1, 0, 2, TRUE_MS, 0);
	next_request(s);
	answer(s, S2, 0, 2, TRUE_MS - 600000 + 15000, 0);
	assert_false(sntp_synced(s));
	assert_int_equal(sntp_stats(s)->held_back, 2);
	/* A third that agrees with the second: now. */
	next_request(s);
	answer(s, S1, 0, 2, TRUE_MS - 600000 + 30000, 0);
	assert_true(sntp_synced(s));
	sntp_free(s);

	/* Forward: one sample is enough (the RTC behind is the usual). */
	fake_hal_reset();
	s = client();
	sntp_set_servers(s, servers, 1, hal_mono_ms());
	next_request(s);
	answer(s, S1, 0, 2, TRUE_MS, 0);
	assert_true(sntp_synced(s));
	sntp_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_sample),
		cmocka_unit_test(test_client_sets_clock),
		cmocka_unit_test(test_client_poll_spacing),
		cmocka_unit_test(test_client_restep),
		cmocka_unit_test(test_kod_checks),
		cmocka_unit_test(test_kod_client),
		cmocka_unit_test(test_unanswered_backoff),
		cmocka_unit_test(test_floor),
		cmocka_unit_test(test_backward_needs_two),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
