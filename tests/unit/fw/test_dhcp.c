/*
 * test_dhcp: the DHCP parser's edge cases and the client state machine on
 * the fake HAL (lost OFFER, NAK, renew, rebind, expiry), the minimum
 * lease, INIT-REBOOT with the kept lease, and RFC 5227's ARP probe and
 * DECLINE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/arp.h"
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

/* A lease of 1 s (or 0) is taken as 20 s: no REQUEST storm. */
static void
test_min_lease(void **state)
{
	struct dhcp_client *c = bound_client(1, 0, 0);
	const struct dhcp_lease *l = dhcp_client_lease(c);
	uint64_t t0 = hal_mono_ms();

	assert_int_equal(l->lease_s, DHCP_MIN_LEASE_S);
	assert_int_equal(l->t1_s, 10);
	assert_int_equal(l->t2_s, 17);
	assert_int_equal(dhcp_client_deadline(c), t0 + 10000);
	assert_int_equal(dhcp_client_stats(c)->clamped, 1);
	fake_pkt_clear();
	run_until(c, t0 + 9999);
	assert_int_equal(fake_pkt_count(), 0);
	dhcp_client_free(c);
	/* A T1 of 1 s with a long lease: not below 10 s either. */
	c = bound_client(3600, 1, 0);
	assert_int_equal(dhcp_client_lease(c)->t1_s, 1800);
	dhcp_client_free(c);
}

static void
test_zero_lease(void **state)
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
	/* Option 51 present with 0 (reply() leaves 0 out: patch it in). */
	n = reply(b, xid, DHCP_ACK, ADDR, 1, 0, 0);
	put32(b + n - 5, 0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_BOUND);
	assert_int_equal(dhcp_client_lease(c)->lease_s, DHCP_MIN_LEASE_S);
	dhcp_client_free(c);
}

/* A client on the same fake board (no reset): a restart. */
static struct dhcp_client *
restarted(void)
{
	struct dhcp_client_cb cb = { on_bound, on_lost, NULL };

	fake_pkt_clear();
	bound_calls = lost_calls = 0;
	return dhcp_client_new("eth0", 100, mac, "ZAP000101", &cb);
}

/* After a restart: REQUEST the kept address (INIT-REBOOT), ACK binds. */
static void
test_init_reboot(void **state)
{
	struct dhcp_client *c = bound_client(600, 0, 0);
	const struct fake_pkt *p;
	uint8_t b[576];
	size_t n, len;
	const uint8_t *v;

	dhcp_client_free(c);
	c = restarted();
	dhcp_client_start(c, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_INIT_REBOOT);
	run_until(c, hal_mono_ms() + 1000);
	assert_int_equal(dhcp_client_state(c), DHCP_S_REBOOTING);
	assert_int_equal(fake_pkt_count(), 1);
	p = fake_pkt(0);
	assert_int_equal(sent_type(p), DHCP_REQUEST);
	assert_int_equal(p->dst, HAL_IP_BROADCAST);
	assert_int_equal(get32(p->buf + 12), 0);		/* ciaddr */
	v = find_opt(p, 50, &len);
	assert_non_null(v);
	assert_int_equal(get32(v), ADDR);
	assert_null(find_opt(p, 54, &len));	/* RFC 2131 table 5 */
	n = reply(b, get32(p->buf + 4), DHCP_ACK, ADDR, 600, 0, 0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_BOUND);
	assert_int_equal(dhcp_client_lease(c)->addr, ADDR);
	assert_int_equal(bound_calls, 1);
	/* An ACK for another address is not ours. */
	dhcp_client_free(c);
	c = restarted();
	dhcp_client_start(c, hal_mono_ms());
	run_until(c, hal_mono_ms() + 1000);
	n = reply(b, get32(fake_pkt(0)->buf + 4), DHCP_ACK, ADDR + 1, 600, 0,
	    0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_REBOOTING);
	dhcp_client_free(c);
}

/* A NAK: the kept lease is not this network's; forget it, DISCOVER. */
static void
test_init_reboot_nak(void **state)
{
	struct dhcp_client *c = bound_client(600, 0, 0);
	uint8_t b[576];
	char kept[256];
	size_t n, len;

	dhcp_client_free(c);
	c = restarted();
	dhcp_client_start(c, hal_mono_ms());
	run_until(c, hal_mono_ms() + 1000);
	n = reply(b, get32(fake_pkt(0)->buf + 4), DHCP_NAK, 0, 0, 0, 0);
	/* NAKs carry another server's id in REBOOTING too: taken. */
	put32(b + 245, 0x0a2a0063);
	dhcp_client_input(c, b, n, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_SELECTING);
	assert_int_equal(sent_type(fake_pkt_last()), DHCP_DISCOVER);
	assert_int_equal(hal_kv_get("dhcp.lease", kept, sizeof(kept), &len),
	    -1);
	assert_int_equal(fake_net()->addr, ADDR);	/* from before */
	dhcp_client_free(c);
	c = restarted();
	dhcp_client_start(c, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_INIT);
	dhcp_client_free(c);
}

/* Nobody answers the kept address: three REQUESTs, then DISCOVER. */
static void
test_init_reboot_silence(void **state)
{
	struct dhcp_client *c = bound_client(600, 0, 0);
	size_t i;

	dhcp_client_free(c);
	c = restarted();
	dhcp_client_start(c, hal_mono_ms());
	for (i = 0; i < 3; i++) {
		run_until(c, dhcp_client_deadline(c));
		assert_int_equal(sent_type(fake_pkt_last()), DHCP_REQUEST);
	}
	run_until(c, dhcp_client_deadline(c));
	assert_int_equal(dhcp_client_state(c), DHCP_S_SELECTING);
	assert_int_equal(sent_type(fake_pkt_last()), DHCP_DISCOVER);
	assert_int_equal(fake_pkt_count(), 4);
	dhcp_client_free(c);
}

/* Up to the ACK, with ARP on: the client is PROBING the address. */
static struct dhcp_client *
probing_client(void)
{
	struct dhcp_client *c = client();
	uint8_t b[576];
	size_t n;
	uint32_t xid;

	dhcp_client_arp(c, 102);
	dhcp_client_start(c, hal_mono_ms());
	run_until(c, hal_mono_ms() + 1000);
	xid = get32(fake_pkt(0)->buf + 4);
	n = reply(b, xid, DHCP_OFFER, ADDR, 600, 0, 0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	n = reply(b, xid, DHCP_ACK, ADDR, 600, 0, 0);
	dhcp_client_input(c, b, n, hal_mono_ms());
	assert_int_equal(dhcp_client_state(c), DHCP_S_PROBING);
	assert_int_equal(fake_net()->calls, 0);
	assert_int_equal(bound_calls, 0);
	return c;
}

/* Three probes, no answer, the wait: bound, and announced twice. */
static void
test_arp_probe(void **state)
{
	struct dhcp_client *c = probing_client();
	uint64_t t0 = hal_mono_ms();
	struct arp_pkt a;
	size_t i;

	run_until(c, t0 + 10000);
	assert_int_equal(dhcp_client_state(c), DHCP_S_BOUND);
	assert_int_equal(fake_net()->addr, ADDR);
	assert_int_equal(bound_calls, 1);
	assert_int_equal(fake_arp_count(), 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(arp_parse(fake_arp(i)->buf, fake_arp(i)->len,
		    &a), ARP_PARSE_OK);
		assert_int_equal(a.op, ARP_REQUEST);
		assert_memory_equal(a.sha, mac, 6);
		assert_int_equal(a.tpa, ADDR);
		/* Probes first (sender 0.0.0.0), then announcements. */
		assert_int_equal(a.spa, i < 3 ? 0 : ADDR);
	}
	/* A renewal keeps the address: no new probes. */
	fake_arp_clear();
	run_until(c, t0 + 400 * 1000);
	assert_int_equal(dhcp_client_state(c), DHCP_S_RENEWING);
	{
		uint8_t b[576];
		size_t n = reply(b, get32(fake_pkt_last()->buf + 4), DHCP_ACK,
		    ADDR, 600, 0, 0);

		dhcp_client_input(c, b, n, hal_mono_ms());
	}
	assert_int_equal(dhcp_client_state(c), DHCP_S_BOUND);
	assert_int_equal(fake_arp_count(), 0);
	dhcp_client_free(c);
}

static void
inject_arp(struct dhcp_client *c, uint16_t op, const uint8_t sha[6],
    uint32_t spa, uint32_t tpa)
{
	uint8_t b[ARP_LEN];

	arp_build(b, sha, spa, tpa);
	b[7] = (uint8_t)op;
	dhcp_client_arp_input(c, b, sizeof(b), hal_mono_ms());
}

/* Someone answers for the address: DECLINE it, wait 10 s, DISCOVER. */
static void
test_arp_conflict(void **state)
{
	static const uint8_t other[6] = { 0x02, 0x42, 0, 0, 0, 0x99 };
	struct dhcp_client *c = probing_client();
	const struct fake_pkt *p;
	uint64_t t0;
	size_t len;
	const uint8_t *v;

	run_until(c, hal_mono_ms() + 1500);
	/* Our own probe looped back, and others' traffic: no conflict. */
	inject_arp(c, ARP_REQUEST, mac, 0, ADDR);
	inject_arp(c, ARP_REPLY, other, ADDR + 1, 0x0a2a0001);
	assert_int_equal(dhcp_client_state(c), DHCP_S_PROBING);
	fake_pkt_clear();
	inject_arp(c, ARP_REPLY, other, ADDR, 0);
	t0 = hal_mono_ms();
	assert_int_equal(dhcp_client_stats(c)->declines, 1);
	assert_int_equal(fake_pkt_count(), 1);
	p = fake_pkt(0);
	assert_int_equal(sent_type(p), DHCP_DECLINE);
	assert_int_equal(p->dst, HAL_IP_BROADCAST);
	assert_int_equal(get32(p->buf + 12), 0);
	v = find_opt(p, 50, &len);
	assert_non_null(v);
	assert_int_equal(get32(v), ADDR);
	v = find_opt(p, 54, &len);
	assert_non_null(v);
	assert_int_equal(get32(v), SERVER);
	assert_null(find_opt(p, 55, &len));	/* asks for nothing */
	assert_int_equal(fake_net()->calls, 0);	/* never configured */
	assert_int_equal(bound_calls, 0);
	assert_int_equal(dhcp_client_state(c), DHCP_S_INIT);
	run_until(c, t0 + 9999);
	assert_int_equal(fake_pkt_count(), 1);
	run_until(c, t0 + 10000);
	assert_int_equal(sent_type(fake_pkt_last()), DHCP_DISCOVER);
	dhcp_client_free(c);

	/* Another host probing for it at the same time: a conflict too. */
	c = probing_client();
	inject_arp(c, ARP_REQUEST, other, 0, ADDR);
	assert_int_equal(dhcp_client_stats(c)->declines, 1);
	dhcp_client_free(c);
}

/* The kept lease's text: round trip, and what it refuses. */
static void
test_lease_text(void **state)
{
	struct dhcp_lease l, back;
	char text[DHCP_LEASE_TEXT_MAX];

	memset(&l, 0, sizeof(l));
	l.addr = ADDR;
	l.mask = 0xffffff00;
	l.router = SERVER;
	l.server_id = SERVER;
	l.lease_s = 600;
	l.ndns = 2;
	l.dns[0] = SERVER;
	l.dns[1] = 0x08080808;
	l.nntp = 1;
	l.ntp[0] = SERVER;
	assert_int_equal(dhcp_lease_encode(&l, text, sizeof(text)), 0);
	assert_string_equal(text, "v1 0a2a0015 ffffff00 0a2a0001 0a2a0001 600 "
	    "2 0a2a0001 08080808 1 0a2a0001");
	assert_int_equal(dhcp_lease_decode(text, strlen(text), &back), 0);
	assert_memory_equal(&l, &back, sizeof(l));
#define BAD(s)	assert_int_equal(dhcp_lease_decode(s, strlen(s), &back), -1)
	BAD("");
	BAD("v2 0a2a0015 ffffff00 0a2a0001 0a2a0001 600 0 0");
	BAD("v1 0a2a0015 ffffff00 0a2a0001 0a2a0001 600 5 1 2 3 4 5 0");
	BAD("v1 0a2a0015 ffffff00 0a2a0001 0a2a0001 600 1 0");
	BAD("v1 00000000 ffffff00 0a2a0001 0a2a0001 600 0 0");
	BAD("v1 0a2a0015 ffffff00 0a2a0001 0a2a0001 600 0 0 junk");
	BAD("v1 0a2a0015 ffffff00 0a2a0001 0a2a0001 6x0 0 0");
	BAD("v1 0a2a0015 ffffff00 0a2a0001 0a2a0001 99999999999 0 0");
#undef BAD
	assert_int_equal(dhcp_lease_encode(&l, text, 20), -1);
}

static void
test_arp_parse(void **state)
{
	uint8_t b[ARP_LEN + 4];
	struct arp_pkt a;

	assert_int_equal(arp_build(b, mac, ADDR, SERVER), ARP_LEN);
	assert_int_equal(arp_parse(b, ARP_LEN, &a), ARP_PARSE_OK);
	assert_int_equal(a.spa, ADDR);
	assert_int_equal(a.tpa, SERVER);
	assert_int_equal(arp_parse(b, ARP_LEN - 1, &a), ARP_PARSE_SHORT);
	b[3] = 0xdd;
	assert_int_equal(arp_parse(b, ARP_LEN, &a), ARP_PARSE_NOT_ETHER_IPV4);
	b[3] = 0;
	b[7] = 3;
	assert_int_equal(arp_parse(b, ARP_LEN, &a), ARP_PARSE_BAD_OP);
	b[7] = 2;
	memset(b + ARP_LEN, 0xee, 4);		/* Ethernet padding */
	assert_int_equal(arp_parse(b, sizeof(b), &a), ARP_PARSE_OK);
	assert_int_equal(a.op, ARP_REPLY);
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
		cmocka_unit_test(test_min_lease),
		cmocka_unit_test(test_zero_lease),
		cmocka_unit_test(test_init_reboot),
		cmocka_unit_test(test_init_reboot_nak),
		cmocka_unit_test(test_init_reboot_silence),
		cmocka_unit_test(test_arp_probe),
		cmocka_unit_test(test_arp_conflict),
		cmocka_unit_test(test_lease_text),
		cmocka_unit_test(test_arp_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
