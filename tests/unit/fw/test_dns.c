/*
 * test_dns: the server order (DHCP-given first, then fallbacks) against
 * real UDP sockets on 127.0.0.1 that the test controls: one that never
 * answers, one that answers SERVFAIL, one that answers; and NXDOMAIN
 * ending a lookup without asking the fallbacks.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "core/dns.h"
#include "hal/fake/hal_fake.h"

#define LOCALHOST	0x7f000001U

enum behaviour { SILENT, SERVFAIL, ANSWER, NXDOMAIN };

struct server {
	int		 fd;
	uint16_t	 port;
	enum behaviour	 how;
	struct event	*ev;
	int		 order;		/* when it was first asked; 0 never */
	int		 queries;
};

static struct server srv[3];
static int asked;
static int done, result_err;
static uint32_t result_addr;

static void
server_read(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	uint8_t q[512], r[600];
	ssize_t n;
	size_t len;

	if ((n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from,
	    &fl)) < 12)
		return;
	s->queries++;
	if (s->order == 0)
		s->order = ++asked;
	if (s->how == SILENT)
		return;
	memcpy(r, q, (size_t)n);
	r[2] = 0x81;		/* QR, RD */
	r[3] = 0x80;		/* RA */
	if (s->how == SERVFAIL)
		r[3] |= 2;
	if (s->how == NXDOMAIN)
		r[3] |= 3;
	r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0;
	len = (size_t)n;
	if (s->how == ANSWER) {
		static const uint8_t rr[] = { 0xc0, 0x0c, 0, 1, 0, 1,
			0, 0, 0, 60, 0, 4, 10, 1, 2, 3 };

		r[7] = 1;
		memcpy(r + len, rr, sizeof(rr));
		len += sizeof(rr);
	}
	sendto(fd, r, len, 0, (struct sockaddr *)&from, fl);
}

static void
server_open(struct event_base *base, struct server *s, enum behaviour how)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	memset(s, 0, sizeof(*s));
	s->how = how;
	s->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(s->fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(LOCALHOST);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sin, &sl), 0);
	s->port = ntohs(sin.sin_port);
	s->ev = event_new(base, s->fd, EV_READ | EV_PERSIST, server_read, s);
	event_add(s->ev, NULL);
}

static void
server_close(struct server *s)
{
	event_free(s->ev);
	close(s->fd);
}

static void
resolved(int err, uint32_t addr, void *arg)
{
	struct event_base *base = arg;

	done = 1;
	result_err = err;
	result_addr = addr;
	event_base_loopbreak(base);
}

static void
run(struct event_base *base)
{
	struct timeval limit = { 10, 0 };

	done = 0;
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	assert_true(done);
}

static void
test_compose(void **state)
{
	uint32_t dhcp[3] = { 0x0a2a0001, 0, 0x0a2a0001 };
	struct dns_server fb[2] = { { 0x08080808, 53 }, { 0x01010101, 53 } };
	struct dns_server out[DNS_MAX_SERVERS];
	size_t n;

	n = dns_servers_compose(dhcp, 3, fb, 2, out);
	assert_int_equal(n, 3);
	assert_int_equal(out[0].addr, 0x0a2a0001);
	assert_int_equal(out[0].port, 53);
	assert_int_equal(out[1].addr, 0x08080808);
	assert_int_equal(out[2].addr, 0x01010101);
	/* No DHCP servers: the fallbacks alone, in their order. */
	n = dns_servers_compose(NULL, 0, fb, 2, out);
	assert_int_equal(n, 2);
	assert_int_equal(out[0].addr, 0x08080808);
}

/* DHCP server silent, first fallback SERVFAIL, second answers. */
static void
test_order(void **state)
{
	struct event_base *base = event_base_new();
	struct dns_server list[DNS_MAX_SERVERS], fb[2];
	uint32_t dhcp[1] = { LOCALHOST };
	struct dns *d;
	size_t n;

	fake_hal_reset();
	server_open(base, &srv[0], SILENT);
	server_open(base, &srv[1], SERVFAIL);
	server_open(base, &srv[2], ANSWER);
	asked = 0;
	fb[0].addr = fb[1].addr = LOCALHOST;
	fb[0].port = srv[1].port;
	fb[1].port = srv[2].port;
	/* The DHCP entry has port 53: rewrite it to the test's socket. */
	n = dns_servers_compose(dhcp, 1, fb, 2, list);
	assert_int_equal(n, 3);
	assert_int_equal(list[0].port, 53);
	list[0].port = srv[0].port;

	d = dns_new(base, 300, 1);
	assert_int_equal(dns_set_servers(d, list, n), 0);
	assert_non_null(dns_resolve(d, "zapcloud.azure-devices.net",
	    resolved, base));
	run(base);
	assert_int_equal(result_err, 0);
	assert_int_equal(result_addr, 0x0a010203);
	assert_int_equal(srv[0].order, 1);
	assert_int_equal(srv[1].order, 2);
	assert_int_equal(srv[2].order, 3);
	assert_int_equal(dns_stats(d)->failovers, 2);
	assert_int_equal(dns_stats(d)->last_server, 2);

	/* The next lookup starts at the first server again. */
	srv[0].how = ANSWER;
	srv[1].queries = srv[2].queries = 0;
	assert_non_null(dns_resolve(d, "no.pool.ntp.org", resolved, base));
	run(base);
	assert_int_equal(result_err, 0);
	assert_int_equal(srv[1].queries, 0);
	assert_int_equal(srv[2].queries, 0);
	assert_int_equal(dns_stats(d)->last_server, 0);

	dns_free(d);
	server_close(&srv[0]);
	server_close(&srv[1]);
	server_close(&srv[2]);
	event_base_free(base);
}

/* NXDOMAIN from the site resolver: no fallback is asked. */
static void
test_nxdomain_stops(void **state)
{
	struct event_base *base = event_base_new();
	struct dns_server list[2];
	struct dns *d;

	fake_hal_reset();
	server_open(base, &srv[0], NXDOMAIN);
	server_open(base, &srv[1], ANSWER);
	asked = 0;
	list[0].addr = list[1].addr = LOCALHOST;
	list[0].port = srv[0].port;
	list[1].port = srv[1].port;
	d = dns_new(base, 300, 1);
	dns_set_servers(d, list, 2);
	dns_resolve(d, "blocked.example", resolved, base);
	run(base);
	assert_int_equal(result_err, -1);
	assert_int_equal(srv[0].queries, 1);
	assert_int_equal(srv[1].queries, 0);
	dns_free(d);
	server_close(&srv[0]);
	server_close(&srv[1]);
	event_base_free(base);
}

/* Every server silent, and no servers at all: the callback says so. */
static void
test_all_fail(void **state)
{
	struct event_base *base = event_base_new();
	struct dns_server list[1];
	struct dns *d;

	fake_hal_reset();
	server_open(base, &srv[0], SILENT);
	list[0].addr = LOCALHOST;
	list[0].port = srv[0].port;
	d = dns_new(base, 200, 1);
	dns_resolve(d, "x.example", resolved, base);
	run(base);
	assert_int_equal(result_err, -1);
	dns_set_servers(d, list, 1);
	dns_resolve(d, "x.example", resolved, base);
	run(base);
	assert_int_equal(result_err, -1);
	assert_true(srv[0].queries >= 1);
	assert_int_equal(dns_stats(d)->failures, 2);
	dns_free(d);
	server_close(&srv[0]);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_nxdomain_stops),
		cmocka_unit_test(test_all_fail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
