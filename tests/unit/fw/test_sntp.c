/*
 * test_sntp: the sanity checks (origin, LI, stratum, root distance, mode),
 * the offset arithmetic, and the client on the fake HAL: it sets the
 * clock only from a good reply, rotates servers, never polls faster than
 * every 15 s.
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
