/*
 * test_dhcp: the DHCP parser's edge cases and the client state machine on
 * the fake HAL (lost OFFER, NAK, renew, rebind, expiry).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/dhcp.h"
#include "hal/fake/hal_fake.h"

#define SERVER	0x0a2a0001U	/* 10.42.0.1 */
#define ADDR	0x0a2a0015U	/* 10.42.0.21 */

static const uint8_t mac[6] = { 0x02, 0x42, 0, 0, 0, 0x01 };

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Find option code in a message we sent; returns its value or NULL. */
static const uint8_t *
find_opt(const struct fake_pkt *p, uint8_t code, size_t *len)
{
	size_t i = 240;

	while (i + 1 < p->len) {
		uint8_t c = p->buf[i++], l;

		if (c == 0)
			continue;
		if (c == 255)
			break;
		l = p->buf[i++];
		if (c == code) {
			*len = l;
			return p->buf + i;
		}
		i += l;
	}
	return NULL;
}

static uint8_t
sent_type(const struct fake_pkt *p)
{
	size_t l;
	const uint8_t *v = find_opt(p, 53, &l);

	return v != NULL && l == 1 ? v[0] : 0;
}

/* A reply from the server; lease 0 leaves option 51 out. */
static size_t
reply(uint8_t *b, uint32_t xid, uint8_t type, uint32_t yiaddr,
    uint32_t lease, uint32_t t1, uint32_t t2)
{
	size_t i;

	memset(b, 0, 576);
	b[0] = 2;
	b[1] = 1;
	b[2] = 6;
	put32(b + 4, xid);
	put32(b + 16, yiaddr);
	memcpy(b + 28, mac, 6);
	put32(b + 236, 0x63825363);
	i = 240;
	b[i++] = 53; b[i++] = 1; b[i++] = type;
	b[i++] = 54; b[i++] = 4; put32(b + i, SERVER); i += 4;
	if (type != 6) {
		b[i++] = 1; b[i++] = 4; put32(b + i, 0xffffff00); i += 4;
		b[i++] = 3; b[i++] = 4; put32(b + i, SERVER); i += 4;
		b[i++] = 6; b[i++] = 8; put32(b + i, SERVER);
		put32(b + i + 4, 0x0a2a0002); i += 8;
		b[i++] = 42; b[i++] = 4; put32(b + i, SERVER); i += 4;
	}
	if (lease) {
		b[i++] = 51; b[i++] = 4; put32(b + i, lease); i += 4;
	}
	if (t1) {
		b[i++] = 58; b[i++] = 4; put32(b + i, t1); i += 4;
	}
	if (t2) {
		b[i++] = 59; b[i++] = 4; put32(b + i, t2); i += 4;
	}
	b[i++] = 255;
	return i;
}

static unsigned bound_calls, lost_calls;

static void
on_bound(void *arg, const struct dhcp_lease *l)
{
	bound_calls++;
}

static void
on_lost(void *arg)
{
	lost_calls++;
}

static struct dhcp_client *
client(void)
{
	struct dhcp_client_cb cb = { on_bound, on_lost, NULL };

	fake_hal_reset();
	bound_calls = lost_calls = 0;
	return dhcp_client_new("eth0", 100, mac, "ZAP000101", &cb);
}

/* Run the client's timers up to `until` (mono ms). */
static void
run_until(struct dhcp_client *c, uint64_t until)
{
	uint64_t d;

	while ((d = dhcp_client_deadline(c)) <= until) {
		if (d > hal_mono_ms())
			fake_set_mono(d);
		dhcp_client_tick(c, hal_mono_ms());
	}
	fake_set_mono(until);
}

/* From start to BOUND with a lease of `lease` seconds. */
static struct dhcp_client *
bound_client(uint32_t lease, uint32_t t1, uint32_t t2)
{
	struct dhcp_client *c = client();
	uint8_t b[576];
	size_t n;
	uint32_t xid;

	dhcp_client_start(c, hal_mono_ms());
	run_until(c, hal_mono_ms() + 1000);
	assert_int_equal(fake_pkt_count(), 1);
	xid = get32(fake_pkt(0)->buf + 4);
	n = reply(b, xid, DHCP_OFFER, ADDR, lease, 0, 0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_REQUESTING);
	n = reply(b, xid, DHCP_ACK, ADDR, lease, t1, t2);
	dhcp_client_input(c, b, n, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_BOUND);
	return c;
}

static void
test_parse_edges(void **state)
{
	uint8_t b[600];
	struct dhcp_msg m;
	size_t n;

	n = reply(b, 7, DHCP_ACK, ADDR, 3600, 0, 0);
	assert_int_equal(dhcp_parse(b, n, &m), DHCP_PARSE_OK);
	assert_int_equal(m.type, DHCP_ACK);
	assert_int_equal(m.yiaddr, ADDR);
	assert_int_equal(m.server_id, SERVER);
	assert_int_equal(m.ndns, 2);
	assert_int_equal(m.dns[1], 0x0a2a0002);
	assert_int_equal(m.nntp, 1);
	assert_int_equal(m.lease_s, 3600);

	assert_int_equal(dhcp_parse(b, 100, &m), DHCP_PARSE_SHORT);
	assert_int_equal(dhcp_parse(b, 238, &m), DHCP_PARSE_NO_COOKIE);
	/* Every truncation inside the options is refused, never read past. */
	for (size_t k = 242; k < n - 1; k++) {
		enum dhcp_parse_status st = dhcp_parse(b, k, &m);

		assert_true(st == DHCP_PARSE_TRUNCATED || st == DHCP_PARSE_OK ||
		    st == DHCP_PARSE_NO_TYPE);
	}
	b[0] = 1;
	assert_int_equal(dhcp_parse(b, n, &m), DHCP_PARSE_NOT_REPLY);
	b[0] = 2;
	b[2] = 8;
	assert_int_equal(dhcp_parse(b, n, &m), DHCP_PARSE_BAD_HTYPE);
	b[2] = 6;
	b[236] = 0;
	assert_int_equal(dhcp_parse(b, n, &m), DHCP_PARSE_NO_COOKIE);
	b[236] = 0x63;
	/* Option 53 with length 2. */
	b[241] = 2;
	assert_int_equal(dhcp_parse(b, n, &m), DHCP_PARSE_BAD_LENGTH);
	b[241] = 1;
	/* A DNS list of 5 bytes. */
	b[240 + 3 + 6 + 6 + 6 + 1] = 5;
	assert_int_equal(dhcp_parse(b, n, &m), DHCP_PARSE_BAD_LENGTH);
	/* No type at all. */
	memset(b + 240, 0, 10);
	b[240] = 255;
	assert_int_equal(dhcp_parse(b, 241, &m), DHCP_PARSE_NO_TYPE);
}

static void
test_parse_overload(void **state)
{
	uint8_t b[600];
	struct dhcp_msg m;
	size_t n = reply(b, 7, DHCP_OFFER, ADDR, 0, 0, 0);

	/* Replace END by overload=1 and put the lease time in 'file'. */
	b[n - 1] = 52;
	b[n] = 1;
	b[n + 1] = 1;
	b[n + 2] = 255;
	b[108] = 51; b[109] = 4; put32(b + 110, 120); b[114] = 255;
	assert_int_equal(dhcp_parse(b, n + 3, &m), DHCP_PARSE_OK);
	assert_true(m.has_lease);
	assert_int_equal(m.lease_s, 120);
}

static void
test_backoff(void **state)
{
	assert_int_equal(dhcp_backoff_ms(0, 0), 4000);
	assert_int_equal(dhcp_backoff_ms(1, 0), 8000);
	assert_int_equal(dhcp_backoff_ms(2, 0), 16000);
	assert_int_equal(dhcp_backoff_ms(3, 0), 32000);
	assert_int_equal(dhcp_backoff_ms(4, 0), 64000);
	assert_int_equal(dhcp_backoff_ms(9, 0), 64000);
	assert_int_equal(dhcp_backoff_ms(0, -1000), 3000);
	assert_int_equal(dhcp_backoff_ms(4, 1000), 65000);
	assert_int_equal(dhcp_backoff_ms(0, 5000), 5000);
}

static void
test_discover_contents(void **state)
{
	struct dhcp_client *c = client();
	const struct fake_pkt *p;
	const uint8_t *v;
	size_t l;

	dhcp_client_start(c, hal_mono_ms());
	run_until(c, hal_mono_ms() + 1000);
	assert_int_equal(fake_pkt_count(), 1);
	p = fake_pkt(0);
	assert_int_equal(p->dst, HAL_IP_BROADCAST);
	assert_int_equal(sent_type(p), DHCP_DISCOVER);
	assert_memory_equal(p->buf + 28, mac, 6);
	v = find_opt(p, 61, &l);
	assert_non_null(v);
	assert_int_equal(l, 10);
	assert_int_equal(v[0], 0);
	assert_memory_equal(v + 1, "ZAP000101", 9);
	v = find_opt(p, 12, &l);
	assert_non_null(v);
	assert_memory_equal(v, "ZAP000101", 9);
	v = find_opt(p, 55, &l);
	assert_non_null(v);
	assert_non_null(memchr(v, 42, l));
	assert_non_null(memchr(v, 58, l));
	dhcp_client_free(c);
}

/* No OFFER: DISCOVER again after 4, 8, 16, 32, 64, 64 s (+-1 s). */
static void
test_lost_offer(void **state)
{
	struct dhcp_client *c = client();
	static const uint64_t base[] = { 4, 8, 16, 32, 64, 64 };
	uint64_t prev, gap;
	uint8_t b[576];
	size_t i, n;
	uint32_t xid;

	dhcp_client_start(c, hal_mono_ms());
	run_until(c, hal_mono_ms() + 1000);
	assert_int_equal(fake_pkt_count(), 1);
	prev = hal_mono_ms();
	for (i = 0; i < 6; i++) {
		uint64_t d = dhcp_client_deadline(c);

		gap = d - prev;
		assert_true(gap >= base[i] * 1000 - 1000);
		assert_true(gap <= base[i] * 1000 + 1000);
		run_until(c, d);
		assert_int_equal(fake_pkt_count(), i + 2);
		assert_int_equal(sent_type(fake_pkt_last()), DHCP_DISCOVER);
		assert_int_equal(dhcp_client_state(c), DHCP_S_SELECTING);
		prev = d;
	}
	/* Same transaction: the late OFFER is still taken. */
	xid = get32(fake_pkt_last()->buf + 4);
	assert_int_equal(xid, get32(fake_pkt(0)->buf + 4));
	n = reply(b, xid, DHCP_OFFER, ADDR, 600, 0, 0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_REQUESTING);
	dhcp_client_free(c);
}

static void
test_offer_filters(void **state)
{
	struct dhcp_client *c = client();
	uint8_t b[576];
	size_t n;
	uint32_t xid;

	dhcp_client_start(c, hal_mono_ms());
	run_until(c, hal_mono_ms() + 1000);
	xid = get32(fake_pkt(0)->buf + 4);
	/* Wrong xid, wrong MAC, malformed: ignored / counted. */
	n = reply(b, xid + 1, DHCP_OFFER, ADDR, 600, 0, 0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	n = reply(b, xid, DHCP_OFFER, ADDR, 600, 0, 0);
	b[33] ^= 1;
	dhcp_client_input(c, b, n, hal_mono_ms());
	dhcp_client_input(c, b, 50, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_SELECTING);
	assert_int_equal(dhcp_client_stats(c)->rx_malformed, 1);
	assert_int_equal(dhcp_client_stats(c)->rx_ignored, 2);
	/* An ACK while selecting is not an offer. */
	n = reply(b, xid, DHCP_ACK, ADDR, 600, 0, 0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_SELECTING);
	dhcp_client_free(c);
}

static void
test_request_and_bind(void **state)
{
	struct dhcp_client *c = bound_client(600, 0, 0);
	const struct dhcp_lease *l = dhcp_client_lease(c);
	const struct fake_pkt *req = fake_pkt(1);
	const uint8_t *v;
	size_t len;

	assert_int_equal(sent_type(req), DHCP_REQUEST);
	assert_int_equal(req->dst, HAL_IP_BROADCAST);
	v = find_opt(req, 50, &len);
	assert_non_null(v);
	assert_int_equal(get32(v), ADDR);
	v = find_opt(req, 54, &len);
	assert_non_null(v);
	assert_int_equal(get32(v), SERVER);
	assert_non_null(l);
	assert_int_equal(l->addr, ADDR);
	assert_int_equal(l->router, SERVER);
	assert_int_equal(l->ndns, 2);
	assert_int_equal(l->ntp[0], SERVER);
	assert_int_equal(l->t1_s, 300);
	assert_int_equal(l->t2_s, 525);
	assert_int_equal(fake_net()->calls, 1);
	assert_int_equal(fake_net()->addr, ADDR);
	assert_int_equal(fake_net()->mask, 0xffffff00);
	assert_int_equal(fake_net()->router, SERVER);
	assert_int_equal(bound_calls, 1);
	dhcp_client_free(c);
}

/* NAK while requesting: back to INIT and DISCOVER at once; no address. */
static void
test_nak_requesting(void **state)
{
	struct dhcp_client *c = client();
	uint8_t b[576];
	size_t n;
	uint32_t xid;

	dhcp_client_start(c, hal_mono_ms());
	run_until(c, hal_mono_ms() + 1000);
	xid = get32(fake_pkt(0)->buf + 4);
	n = reply(b, xid, DHCP_OFFER, ADDR, 600, 0, 0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	n = reply(b, xid, DHCP_NAK, 0, 0, 0, 0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_SELECTING);
	assert_int_equal(sent_type(fake_pkt_last()), DHCP_DISCOVER);
	assert_int_not_equal(get32(fake_pkt_last()->buf + 4), xid);
	assert_int_equal(dhcp_client_stats(c)->naks, 1);
	assert_int_equal(fake_net()->calls, 0);
	assert_int_equal(lost_calls, 0);
	dhcp_client_free(c);
}

/* No ACK for the REQUEST: four retransmissions, then start over. */
static void
test_request_gives_up(void **state)
{
	struct dhcp_client *c = client();
	uint8_t b[576];
	size_t n, i;
	uint32_t xid;

	dhcp_client_start(c, hal_mono_ms());
	run_until(c, hal_mono_ms() + 1000);
	xid = get32(fake_pkt(0)->buf + 4);
	n = reply(b, xid, DHCP_OFFER, ADDR, 600, 0, 0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	for (i = 0; i < 4; i++) {
		run_until(c, dhcp_client_deadline(c));
		assert_int_equal(sent_type(fake_pkt_last()), DHCP_REQUEST);
	}
	run_until(c, dhcp_client_deadline(c));
	assert_int_equal(dhcp_client_state(c), DHCP_S_SELECTING);
	assert_int_equal(sent_type(fake_pkt_last()), DHCP_DISCOVER);
	dhcp_client_free(c);
}

/* T1: unicast REQUEST to the server with ciaddr; ACK extends the lease. */
static void
test_renew(void **state)
{
	struct dhcp_client *c = bound_client(600, 0, 0);
	uint64_t bound_at = hal_mono_ms();
	const struct fake_pkt *p;
	uint8_t b[576];
	size_t n, len;

	fake_pkt_clear();
	run_until(c, bound_at + 299 * 1000);
	assert_int_equal(fake_pkt_count(), 0);
	run_until(c, bound_at + 300 * 1000);
	assert_int_equal(dhcp_client_state(c), DHCP_S_RENEWING);
	assert_int_equal(fake_pkt_count(), 1);
	p = fake_pkt(0);
	assert_int_equal(sent_type(p), DHCP_REQUEST);
	assert_int_equal(p->dst, SERVER);
	assert_int_equal(p->src, ADDR);
	assert_int_equal(get32(p->buf + 12), ADDR);
	assert_null(find_opt(p, 50, &len));	/* RFC 2131 table 5 */
	assert_null(find_opt(p, 54, &len));
	n = reply(b, get32(p->buf + 4), DHCP_ACK, ADDR, 600, 0, 0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_BOUND);
	assert_int_equal(dhcp_client_lease(c)->start_ms, bound_at + 300000);
	assert_int_equal(dhcp_client_deadline(c), bound_at + 600000);
	assert_int_equal(bound_calls, 2);
	assert_int_equal(lost_calls, 0);
	dhcp_client_free(c);
}

/* No answer to renewals: at T2 broadcast; an ACK then rebinds. */
static void
test_rebind(void **state)
{
	struct dhcp_client *c = bound_client(1000, 400, 800);
	uint64_t t0 = hal_mono_ms();
	const struct fake_pkt *p;
	uint8_t b[576];
	size_t n, i, unicast = 0;

	fake_pkt_clear();
	run_until(c, t0 + 799 * 1000);
	assert_int_equal(dhcp_client_state(c), DHCP_S_RENEWING);
	for (i = 0; i < fake_pkt_count(); i++)
		if (fake_pkt(i)->dst == SERVER)
			unicast++;
	assert_int_equal(unicast, fake_pkt_count());
	/* 400 s to T2: retransmit after 200, 100, then at least 60 s. */
	assert_true(unicast >= 3 && unicast <= 5);
	run_until(c, t0 + 800 * 1000);
	assert_int_equal(dhcp_client_state(c), DHCP_S_REBINDING);
	p = fake_pkt_last();
	assert_int_equal(p->dst, HAL_IP_BROADCAST);
	assert_int_equal(get32(p->buf + 12), ADDR);
	n = reply(b, get32(p->buf + 4), DHCP_ACK, ADDR, 1000, 0, 0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_BOUND);
	assert_int_equal(lost_calls, 0);
	dhcp_client_free(c);
}

/* No answer at all: at expiry the address goes and DISCOVER starts. */
static void
test_expiry(void **state)
{
	struct dhcp_client *c = bound_client(1000, 0, 0);
	uint64_t t0 = hal_mono_ms();

	run_until(c, t0 + 999 * 1000);
	assert_int_equal(dhcp_client_state(c), DHCP_S_REBINDING);
	assert_int_equal(lost_calls, 0);
	fake_pkt_clear();
	run_until(c, t0 + 1000 * 1000);
	assert_int_equal(dhcp_client_state(c), DHCP_S_SELECTING);
	assert_int_equal(lost_calls, 1);
	assert_int_equal(fake_net()->addr, 0);
	assert_int_equal(sent_type(fake_pkt_last()), DHCP_DISCOVER);
	assert_null(dhcp_client_lease(c));
	dhcp_client_free(c);
}

/* NAK while renewing: the address is removed at once. */
static void
test_nak_renewing(void **state)
{
	struct dhcp_client *c = bound_client(600, 0, 0);
	uint8_t b[576];
	size_t n;

	run_until(c, hal_mono_ms() + 300 * 1000);
	assert_int_equal(dhcp_client_state(c), DHCP_S_RENEWING);
	n = reply(b, get32(fake_pkt_last()->buf + 4), DHCP_NAK, 0, 0, 0, 0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	assert_int_equal(lost_calls, 1);
	assert_int_equal(fake_net()->addr, 0);
	assert_int_equal(dhcp_client_state(c), DHCP_S_SELECTING);
	dhcp_client_free(c);
}

/* Bad T1/T2 from the server fall back to the RFC defaults. */
static void
test_bad_timers(void **state)
{
	struct dhcp_client *c = bound_client(1000, 900, 800);

	assert_int_equal(dhcp_client_lease(c)->t2_s, 800);
	assert_int_equal(dhcp_client_lease(c)->t1_s, 500);
	dhcp_client_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_edges),
		cmocka_unit_test(test_parse_overload),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_discover_contents),
		cmocka_unit_test(test_lost_offer),
		cmocka_unit_test(test_offer_filters),
		cmocka_unit_test(test_request_and_bind),
		cmocka_unit_test(test_nak_requesting),
		cmocka_unit_test(test_request_gives_up),
		cmocka_unit_test(test_renew),
		cmocka_unit_test(test_rebind),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_nak_renewing),
		cmocka_unit_test(test_bad_timers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
