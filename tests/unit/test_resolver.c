/*
 * Tests for resolver.c: answers and their TTL cache (the whole chain's
 * smallest TTL, 0 not kept, A and AAAA apart, negative answers per RFC
 * 2308, the wildcard budget), lookups of one name joining one query, the
 * strict order of the site's resolvers, cancelled waiters, and the module
 * lifecycle across reloads -- among them the crash of issue 14 (a lookup
 * pending when a reload removes every resolver).
 *
 * The upstream resolvers are libevent's own evdns server on UDP sockets
 * bound to 127.0.0.1 port 0, each with its own answers per name: records
 * with TTLs, a CNAME, NXDOMAIN, SERVFAIL, or no answer at all.  Nothing
 * leaves loopback.  The cache's clock is the test's (the link wraps
 * now_mono_ms), so TTLs are checked without waiting for them; evdns's own
 * timers run on the real clock, and every wait has a deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/event.h>
#include <event2/util.h>
#include <json-c/json.h>

#include "relay/resolver.h"

#define WAIT_MS		10000	/* deadline of every wait: a bug, not a load */
#define SLOW_MS		5000	/* resolver timeout where no server is slow */
#define FAST_MS		500	/* where a server is meant to time out */
#define MAX_RR		16
#define MAX_LOG		256

/* --- the test's clock: now_mono_ms, skewed (-Wl,--wrap=now_mono_ms) ---- */

uint64_t	__real_now_mono_ms(void);
uint64_t	__wrap_now_mono_ms(void);

static uint64_t	skew_ms;

uint64_t
__wrap_now_mono_ms(void)
{
	return __real_now_mono_ms() + skew_ms;
}

/* --- the upstream resolvers: evdns servers on loopback --------------- */

enum how {
	ANSWER = 0,	/* the records below */
	NXDOMAIN,
	SERVFAIL,
	SILENT,		/* never answers */
};

/* What a server says about one name. */
struct rr_name {
	const char	*name;
	enum how	 how;
	const char	*cname;		/* answered first, then its records */
	const char	*a[MAX_RR];
	int		 ttl_a;
	const char	*aaaa[MAX_RR];
	int		 ttl_aaaa;
	int		 ttl_cname;	/* 0: 300 */
	int		 soa_ttl;	/* NXDOMAIN with an SOA: its TTL ... */
	int		 soa_min;	/* ... and MINIMUM (RFC 2308) */
};

/* An SOA in the authority section: how long a negative answer lasts. */
static void
srv_soa(struct evdns_server_request *req, const struct rr_name *n)
{
	/* mname ns.example, rname host.example (apart: "\x07e" is one
	 * escape) */
	static const uint8_t names[] = "\x02" "ns" "\x07" "example" "\x00"
	    "\x04" "host" "\x07" "example";
	uint8_t data[sizeof(names) + 20];
	uint32_t v[5] = { 1, 3600, 600, 86400, (uint32_t)n->soa_min };
	size_t i, off = sizeof(names);

	memcpy(data, names, sizeof(names));	/* with its final 0 */
	for (i = 0; i < 5; i++, off += 4) {
		data[off] = (uint8_t)(v[i] >> 24);
		data[off + 1] = (uint8_t)(v[i] >> 16);
		data[off + 2] = (uint8_t)(v[i] >> 8);
		data[off + 3] = (uint8_t)v[i];
	}
	assert_int_equal(evdns_server_request_add_reply(req,
	    EVDNS_AUTHORITY_SECTION, "example", EVDNS_TYPE_SOA,
	    EVDNS_CLASS_INET, n->soa_ttl, (int)sizeof(data), 0,
	    (const char *)data), 0);
}

struct dns_srv {
	evutil_socket_t		 fd;
	struct evdns_server_port *port;
	enum how		 how;	/* for every name, unless ANSWER */
	const struct rr_name	*names;	/* NULL-named end; others NXDOMAIN */
	struct sockaddr_in	 sin;
	struct {
		char	 name[256];
		int	 type;
	}			 log[MAX_LOG];	/* questions received */
	size_t			 nlog;
};

static void
srv_answer(struct evdns_server_request *req, const struct rr_name *n,
    const char *qname, int type)
{
	const char *owner = qname, *const *txt = type == EVDNS_TYPE_A ?
	    n->a : n->aaaa;
	int af = type == EVDNS_TYPE_A ? AF_INET : AF_INET6;
	size_t size = type == EVDNS_TYPE_A ? 4 : 16;
	unsigned char packed[MAX_RR * 16];	/* n addresses back to back */
	int i;

	if (n->cname != NULL) {
		assert_int_equal(evdns_server_request_add_cname_reply(req,
		    qname, n->cname, n->ttl_cname ? n->ttl_cname : 300), 0);
		owner = n->cname;
	}
	/*
	 * One record per address: evdns's add_a_reply with n > 1 packs them
	 * into one record of 4n bytes, which is not DNS (RFC 1035 3.4.1).
	 * No address: NODATA for this type.
	 */
	for (i = 0; i < MAX_RR && txt[i] != NULL; i++) {
		assert_int_equal(inet_pton(af, txt[i], packed + size * i), 1);
		if (type == EVDNS_TYPE_A)
			assert_int_equal(evdns_server_request_add_a_reply(req,
			    owner, 1, packed + size * i, n->ttl_a), 0);
		else
			assert_int_equal(evdns_server_request_add_aaaa_reply(
			    req, owner, 1, packed + size * i, n->ttl_aaaa), 0);
	}
}

static void
srv_request(struct evdns_server_request *req, void *arg)
{
	struct dns_srv *s = arg;
	const struct rr_name *n = NULL;
	const char *qname;
	enum how how;
	int type;

	/* evdns asks one question per request. */
	assert_int_equal(req->nquestions, 1);
	qname = req->questions[0]->name;
	type = req->questions[0]->type;
	if (s->nlog < MAX_LOG) {
		snprintf(s->log[s->nlog].name, sizeof(s->log[0].name), "%s",
		    qname);
		s->log[s->nlog++].type = type;
	}
	how = s->how;
	if (how == ANSWER) {
		/* The resolver asks in random case (0x20): match without. */
		for (n = s->names; n != NULL && n->name != NULL; n++)
			if (strcasecmp(n->name, qname) == 0)
				break;
		how = n != NULL && n->name != NULL ? n->how : NXDOMAIN;
	}
	switch (how) {
	case SILENT:
		evdns_server_request_drop(req);
		return;
	case SERVFAIL:
		evdns_server_request_respond(req, DNS_ERR_SERVERFAILED);
		return;
	case NXDOMAIN:
		if (n != NULL && n->name != NULL && n->soa_ttl != 0)
			srv_soa(req, n);
		evdns_server_request_respond(req, DNS_ERR_NOTEXIST);
		return;
	case ANSWER:
		if (type == EVDNS_TYPE_A || type == EVDNS_TYPE_AAAA)
			srv_answer(req, n, qname, type);
		evdns_server_request_respond(req, 0);
		return;
	}
}

static void
srv_start(struct event_base *base, struct dns_srv *s, enum how how,
    const struct rr_name *names)
{
	socklen_t len = sizeof(s->sin);

	memset(s, 0, sizeof(*s));
	s->how = how;
	s->names = names;
	s->sin.sin_family = AF_INET;
	s->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(s->fd != -1);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&s->sin,
	    sizeof(s->sin)), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&s->sin, &len),
	    0);
	s->port = evdns_add_server_port_with_base(base, s->fd, 0, srv_request,
	    s);
	assert_non_null(s->port);
}

static void
srv_stop(struct dns_srv *s)
{
	if (s->port != NULL)
		evdns_close_server_port(s->port);	/* closes fd too */
	else if (s->fd > 0)
		close(s->fd);
	s->port = NULL;
	s->fd = -1;
}

/* Questions of type for name this server was asked (any case). */
static size_t
srv_asked(const struct dns_srv *s, const char *name, int type)
{
	size_t i, n = 0;

	for (i = 0; i < s->nlog; i++)
		if (s->log[i].type == type &&
		    strcasecmp(s->log[i].name, name) == 0)
			n++;
	return n;
}

/* The wan section for servers srv[0..n) in that order (free it after). */
static void
wan_of(struct cfg_wan *w, uint64_t timeout_ms, struct dns_srv *srv, size_t n)
{
	char text[64];
	size_t i;

	resolver_cfg_defaults(w);
	w->resolver_timeout_ms = timeout_ms;
	w->nresolvers = n;
	w->resolvers = calloc(n ? n : 1, sizeof(*w->resolvers));
	assert_non_null(w->resolvers);
	for (i = 0; i < n; i++) {
		memcpy(&w->resolvers[i].ss, &srv[i].sin, sizeof(srv[i].sin));
		w->resolvers[i].len = sizeof(srv[i].sin);
		snprintf(text, sizeof(text), "127.0.0.1:%u",
		    (unsigned)ntohs(srv[i].sin.sin_port));
		w->resolvers[i].text = strdup(text);
		assert_non_null(w->resolvers[i].text);
	}
}

/* --- fixture ---------------------------------------------------------- */

struct fx {
	struct event_base	*base;
	struct resolver		*res;
	struct dns_srv		 srv[3];
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	size_t i;

	if (fx == NULL)
		return -1;
	for (i = 0; i < 3; i++)
		fx->srv[i].fd = -1;
	skew_ms = 0;
	fx->base = event_base_new();
	fx->res = resolver_new(fx->base);
	*state = fx;
	return fx->base != NULL && fx->res != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	size_t i;

	resolver_free(fx->res);
	for (i = 0; i < 3; i++)
		srv_stop(&fx->srv[i]);
	/* evdns reports cancelled queries through deferred callbacks, which
	 * free what they carry: let them run before the base goes. */
	event_base_loop(fx->base, EVLOOP_NONBLOCK);
	event_base_free(fx->base);
	free(fx);
	skew_ms = 0;
	return 0;
}

/* Configure and switch to the servers srv[0..n) (n 0: none). */
static void
use(struct fx *fx, uint64_t timeout_ms, struct dns_srv *srv, size_t n)
{
	struct cfg_wan w;
	char err[256];

	wan_of(&w, timeout_ms, srv, n);
	err[0] = '\0';
	if (resolver_prepare(fx->res, &w, err, sizeof(err)) == -1)
		fail_msg("resolver_prepare: %s", err);
	resolver_cfg_free(&w);
	resolver_commit(fx->res);
}

/* A lookup's waiter, and whether it was called where it must not be. */
static int	in_commit;

struct waiter {
	int			 called;
	int			 during_commit;
	struct resolver_answer	 ans;
	struct resolver_wait	*wait;
};

static void
waiter_cb(const struct resolver_answer *ans, void *arg)
{
	struct waiter *w = arg;

	w->called++;
	w->ans = *ans;
	if (in_commit)
		w->during_commit = 1;
}

static int
lookup(struct fx *fx, const char *name, struct waiter *w,
    struct resolver_answer *ans)
{
	struct resolver_answer dummy;

	return resolver_lookup(fx->res, name, waiter_cb, w, ans != NULL ? ans :
	    &dummy, &w->wait);
}

static void
commit(struct fx *fx)
{
	in_commit = 1;
	resolver_commit(fx->res);
	in_commit = 0;
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

/* Run the loop until *count reaches want; 0, or -1 at the deadline. */
static int
wait_for(struct fx *fx, const int *count, int want)
{
	struct timeval tv = { WAIT_MS / 1000, 0 };
	struct event *ev;
	int expired = 0;

	ev = evtimer_new(fx->base, deadline_cb, &expired);
	evtimer_add(ev, &tv);
	while (*count < want && !expired)
		event_base_loop(fx->base, EVLOOP_ONCE);
	event_free(ev);
	return *count >= want ? 0 : -1;
}

/* The same for a server to have been asked about name. */
static int
wait_asked(struct fx *fx, const struct dns_srv *s, const char *name)
{
	struct timeval tv = { WAIT_MS / 1000, 0 };
	struct event *ev;
	int expired = 0;

	ev = evtimer_new(fx->base, deadline_cb, &expired);
	evtimer_add(ev, &tv);
	while (srv_asked(s, name, EVDNS_TYPE_A) == 0 && !expired)
		event_base_loop(fx->base, EVLOOP_ONCE);
	event_free(ev);
	return srv_asked(s, name, EVDNS_TYPE_A) > 0 ? 0 : -1;
}

static void
expect_called(struct fx *fx, struct waiter *w)
{
	if (wait_for(fx, &w->called, 1) == -1)
		fail_msg("no answer within %d ms", WAIT_MS);
	assert_int_equal(w->called, 1);
	assert_false(w->during_commit);
}

/* Is answer address i the text addr? */
static void
assert_addr(const struct resolver_answer *ans, size_t i, const char *addr)
{
	char buf[INET6_ADDRSTRLEN];
	const struct sockaddr_storage *ss;

	assert_true(i < ans->naddrs);
	ss = &ans->addrs[i];
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;

		assert_int_equal(sin->sin_port, 0);
		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)ss;

		assert_int_equal(ss->ss_family, AF_INET6);
		assert_int_equal(sin6->sin6_port, 0);
		inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
	}
	assert_string_equal(buf, addr);
}

static struct resolver_stats
stats(const struct fx *fx)
{
	struct resolver_stats st;

	resolver_stats(fx->res, &st);
	return st;
}

/* --- answers and the cache --------------------------------------------- */

/* name, how, cname, A, ttl, AAAA, ttl, CNAME ttl, SOA ttl, SOA minimum */
static const struct rr_name names1[] = {
	{ "cloud.example", ANSWER, NULL, { "192.0.2.1", "192.0.2.2" }, 300,
	  { "2001:db8::1" }, 60, 0, 0, 0 },
	{ "alias.example", ANSWER, "target.example", { "192.0.2.20" }, 600,
	  { NULL }, 0, 0, 0, 0 },
	{ "v4only.example", ANSWER, NULL, { "192.0.2.4" }, 120, { NULL }, 0,
	  0, 0, 0 },
	{ "short.example", ANSWER, NULL, { "192.0.2.5" }, 1, { NULL }, 0,
	  0, 0, 0 },
	{ "long.example", ANSWER, NULL, { "192.0.2.6" }, 7200, { NULL }, 0,
	  0, 0, 0 },
	{ "many.example", ANSWER, NULL, { "192.0.2.101", "192.0.2.102",
	  "192.0.2.103", "192.0.2.104", "192.0.2.105", "192.0.2.106",
	  "192.0.2.107", "192.0.2.108", "192.0.2.109", "192.0.2.110",
	  "192.0.2.111", "192.0.2.112" }, 300, { "2001:db8::101",
	  "2001:db8::102", "2001:db8::103", "2001:db8::104", "2001:db8::105",
	  "2001:db8::106", "2001:db8::107", "2001:db8::108" }, 300, 0, 0, 0 },
	{ "pending.example", SILENT, NULL, { NULL }, 0, { NULL }, 0, 0, 0, 0 },
	/* a TTL of 0: used once, never kept */
	{ "zero.example", ANSWER, NULL, { "192.0.2.7" }, 0, { "2001:db8::7" },
	  3600, 0, 0, 0 },
	/* a CNAME of 5 s before an A of 3000 s: 5 s is what counts */
	{ "chain.example", ANSWER, "edge.example", { "192.0.2.8" }, 3000,
	  { NULL }, 0, 5, 0, 0 },
	/* negative answers with an SOA: min(TTL, MINIMUM), at most 60 s */
	{ "neg20.example", NXDOMAIN, NULL, { NULL }, 0, { NULL }, 0, 0, 30,
	  20 },
	{ "neg3600.example", NXDOMAIN, NULL, { NULL }, 0, { NULL }, 0, 0,
	  3600, 3600 },
	{ NULL, ANSWER, NULL, { NULL }, 0, { NULL }, 0, 0, 0, 0 },
};

/* The same names with other addresses: which server answered? */
static const struct rr_name names2[] = {
	{ "cloud.example", ANSWER, NULL, { "198.51.100.1" }, 300, { NULL },
	  0, 0, 0, 0 },
	{ "pending.example", ANSWER, NULL, { "198.51.100.7" }, 300, { NULL },
	  0, 0, 0, 0 },
	{ "gone.example", ANSWER, NULL, { "198.51.100.9" }, 300, { NULL },
	  0, 0, 0, 0 },
	{ NULL, ANSWER, NULL, { NULL }, 0, { NULL }, 0, 0, 0, 0 },
};

static void
test_no_resolvers(void **state)
{
	struct fx *fx = *state;
	struct waiter w = { 0 };
	char long_name[300];

	/* Nothing configured yet: nothing to ask. */
	assert_int_equal(lookup(fx, "cloud.example", &w, NULL), -1);
	assert_null(w.wait);
	srv_start(fx->base, &fx->srv[0], ANSWER, names1);
	use(fx, SLOW_MS, fx->srv, 1);
	/* Names that cannot be asked. */
	assert_int_equal(lookup(fx, "", &w, NULL), -1);
	assert_int_equal(lookup(fx, ".", &w, NULL), -1);
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(lookup(fx, long_name, &w, NULL), -1);
	assert_null(w.wait);
	assert_int_equal(stats(fx).queries, 0);
	assert_int_equal(fx->srv[0].nlog, 0);
}

static void
test_answers(void **state)
{
	struct fx *fx = *state;
	struct waiter w1 = { 0 }, w2 = { 0 }, w3 = { 0 }, w4 = { 0 };
	struct resolver_answer ans;
	struct resolver_stats st;
	size_t i;

	srv_start(fx->base, &fx->srv[0], ANSWER, names1);
	use(fx, SLOW_MS, fx->srv, 1);

	/* A and AAAA together, A first; addresses without a port. */
	assert_int_equal(lookup(fx, "cloud.example", &w1, NULL), 0);
	assert_non_null(w1.wait);
	assert_int_equal(w1.called, 0);		/* never from inside lookup */
	expect_called(fx, &w1);
	assert_int_equal(w1.ans.error, 0);
	assert_int_equal(w1.ans.naddrs, 3);
	assert_addr(&w1.ans, 0, "192.0.2.1");
	assert_addr(&w1.ans, 1, "192.0.2.2");
	assert_addr(&w1.ans, 2, "2001:db8::1");
	assert_int_equal(srv_asked(&fx->srv[0], "cloud.example",
	    EVDNS_TYPE_A), 1);
	assert_int_equal(srv_asked(&fx->srv[0], "cloud.example",
	    EVDNS_TYPE_AAAA), 1);

	/* Through a CNAME; and a name with no AAAA is still an answer. */
	assert_int_equal(lookup(fx, "alias.example", &w2, NULL), 0);
	assert_int_equal(lookup(fx, "v4only.example", &w3, NULL), 0);
	expect_called(fx, &w2);
	expect_called(fx, &w3);
	assert_int_equal(w2.ans.error, 0);
	assert_int_equal(w2.ans.naddrs, 1);
	assert_addr(&w2.ans, 0, "192.0.2.20");
	assert_int_equal(w3.ans.error, 0);
	assert_int_equal(w3.ans.naddrs, 1);
	assert_addr(&w3.ans, 0, "192.0.2.4");

	/* At most RESOLVER_MAX_ADDRS: every A, then what room is left. */
	assert_int_equal(lookup(fx, "many.example", &w4, NULL), 0);
	expect_called(fx, &w4);
	assert_int_equal(w4.ans.naddrs, RESOLVER_MAX_ADDRS);
	for (i = 0; i < 12; i++)
		assert_int_equal(w4.ans.addrs[i].ss_family, AF_INET);
	for (; i < RESOLVER_MAX_ADDRS; i++)
		assert_int_equal(w4.ans.addrs[i].ss_family, AF_INET6);
	assert_addr(&w4.ans, 12, "2001:db8::101");

	/* A second lookup, in any case and with the root dot, is a cache
	 * hit answered at once: nothing more goes upstream. */
	/* A and AAAA are asked and kept apart: 4 names, 8 of each. */
	st = stats(fx);
	assert_int_equal(st.queries, 8);
	assert_int_equal(st.cache_hits, 0);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.cached, 8);
	w1.called = 0;
	memset(&ans, 0, sizeof(ans));
	assert_int_equal(lookup(fx, "Cloud.EXAMPLE.", &w1, &ans), 1);
	assert_null(w1.wait);
	assert_int_equal(ans.error, 0);
	assert_int_equal(ans.naddrs, 3);
	assert_addr(&ans, 0, "192.0.2.1");
	assert_addr(&ans, 2, "2001:db8::1");
	st = stats(fx);
	assert_int_equal(st.queries, 8);
	assert_int_equal(st.cache_hits, 1);
	assert_int_equal(srv_asked(&fx->srv[0], "cloud.example",
	    EVDNS_TYPE_A), 1);
	/* The callback of a hit is never called. */
	event_base_loop(fx->base, EVLOOP_NONBLOCK);
	assert_int_equal(w1.called, 0);
}

/* Look name up, wait for the answer, return it. */
static struct resolver_answer
resolve(struct fx *fx, const char *name)
{
	struct waiter w = { 0 };

	assert_int_equal(lookup(fx, name, &w, NULL), 0);
	expect_called(fx, &w);
	return w.ans;
}

/* Is name answered from the cache now (1), or asked again (0)? */
static int
cached_now(struct fx *fx, const char *name)
{
	struct waiter w = { 0 };
	struct resolver_answer ans;
	int rv = lookup(fx, name, &w, &ans);

	assert_int_not_equal(rv, -1);
	if (rv == 0)
		expect_called(fx, &w);	/* let it finish before the next */
	return rv;
}

static void
test_ttl(void **state)
{
	struct fx *fx = *state;
	struct resolver_answer ans;

	srv_start(fx->base, &fx->srv[0], ANSWER, names1);
	use(fx, SLOW_MS, fx->srv, 1);

	/*
	 * A and AAAA each live for their own TTL (A 300 s, AAAA 60 s):
	 * after 61 s only the AAAA is asked again.
	 */
	ans = resolve(fx, "cloud.example");
	assert_int_equal(ans.error, 0);
	skew_ms = 59 * 1000;
	assert_int_equal(cached_now(fx, "cloud.example"), 1);
	skew_ms = 61 * 1000;
	assert_int_equal(cached_now(fx, "cloud.example"), 0);
	assert_int_equal(srv_asked(&fx->srv[0], "cloud.example",
	    EVDNS_TYPE_A), 1);
	assert_int_equal(srv_asked(&fx->srv[0], "cloud.example",
	    EVDNS_TYPE_AAAA), 2);

	/* A short TTL is kept exactly that long: no floor ... */
	skew_ms = 0;
	ans = resolve(fx, "short.example");
	assert_int_equal(ans.error, 0);
	skew_ms = 900;
	assert_int_equal(cached_now(fx, "short.example"), 1);
	skew_ms = 1100;
	assert_int_equal(cached_now(fx, "short.example"), 0);

	/* ... a TTL of 0 not at all, whatever the AAAA's TTL ... */
	skew_ms = 0;
	ans = resolve(fx, "zero.example");
	assert_int_equal(ans.error, 0);
	assert_int_equal(ans.naddrs, 2);
	assert_int_equal(cached_now(fx, "zero.example"), 0);
	assert_int_equal(srv_asked(&fx->srv[0], "zero.example",
	    EVDNS_TYPE_A), 2);
	assert_int_equal(srv_asked(&fx->srv[0], "zero.example",
	    EVDNS_TYPE_AAAA), 1);

	/* ... the smallest TTL of the whole chain, the CNAME's too ... */
	skew_ms = 0;
	ans = resolve(fx, "chain.example");
	assert_int_equal(ans.error, 0);
	assert_addr(&ans, 0, "192.0.2.8");
	skew_ms = 4 * 1000;
	assert_int_equal(cached_now(fx, "chain.example"), 1);
	skew_ms = 6 * 1000;
	assert_int_equal(cached_now(fx, "chain.example"), 0);

	/*
	 * ... and capped at an hour (A 7200 s).  Its AAAA is a negative
	 * answer, kept 10 s: it is asked again on the way, the A not.
	 */
	skew_ms = 0;
	ans = resolve(fx, "long.example");
	assert_int_equal(ans.error, 0);
	skew_ms = 3599 * 1000;
	(void)cached_now(fx, "long.example");
	assert_int_equal(srv_asked(&fx->srv[0], "long.example",
	    EVDNS_TYPE_A), 1);
	assert_int_equal(srv_asked(&fx->srv[0], "long.example",
	    EVDNS_TYPE_AAAA), 2);
	skew_ms = 3601 * 1000;
	(void)cached_now(fx, "long.example");
	assert_int_equal(srv_asked(&fx->srv[0], "long.example",
	    EVDNS_TYPE_A), 2);

	/*
	 * A negative answer without an SOA is remembered for 10 s, and
	 * answered as such; it is an answer, not a failure of the server.
	 */
	skew_ms = 0;
	ans = resolve(fx, "nosuch.example");
	assert_int_equal(ans.error, DNS_ERR_NOTEXIST);
	assert_int_equal(ans.naddrs, 0);
	assert_int_equal(stats(fx).failures, 0);
	skew_ms = 9 * 1000;
	memset(&ans, 0, sizeof(ans));
	{
		struct waiter w = { 0 };

		assert_int_equal(lookup(fx, "nosuch.example", &w, &ans), 1);
	}
	assert_int_equal(ans.error, DNS_ERR_NOTEXIST);
	assert_int_equal(ans.naddrs, 0);
	skew_ms = 11 * 1000;
	assert_int_equal(cached_now(fx, "nosuch.example"), 0);
	assert_int_equal(srv_asked(&fx->srv[0], "nosuch.example",
	    EVDNS_TYPE_A), 2);
}

static void
test_join(void **state)
{
	struct fx *fx = *state;
	struct waiter w[4];
	struct resolver_stats st;
	size_t i;

	memset(w, 0, sizeof(w));
	srv_start(fx->base, &fx->srv[0], ANSWER, names1);
	use(fx, SLOW_MS, fx->srv, 1);

	/* A car park reconnecting at once: one query for all. */
	assert_int_equal(lookup(fx, "cloud.example", &w[0], NULL), 0);
	assert_int_equal(lookup(fx, "CLOUD.example", &w[1], NULL), 0);
	assert_int_equal(lookup(fx, "cloud.example.", &w[2], NULL), 0);
	/* Through the ops the relay uses, too. */
	{
		struct resolver_answer ans;

		assert_int_equal(resolver_ops.lookup(fx->res, "cloud.example", 0,
		    waiter_cb, &w[3], &ans, &w[3].wait), 0);
	}
	/* one query per type; each later lookup joins both */
	st = stats(fx);
	assert_int_equal(st.queries, 2);
	assert_int_equal(st.joined, 6);
	assert_int_equal(st.cached, 2);
	for (i = 0; i < 4; i++) {
		assert_non_null(w[i].wait);
		expect_called(fx, &w[i]);
		assert_int_equal(w[i].ans.error, 0);
		assert_int_equal(w[i].ans.naddrs, 3);
		assert_addr(&w[i].ans, 0, "192.0.2.1");
	}
	assert_int_equal(srv_asked(&fx->srv[0], "cloud.example",
	    EVDNS_TYPE_A), 1);
	assert_int_equal(srv_asked(&fx->srv[0], "cloud.example",
	    EVDNS_TYPE_AAAA), 1);
	assert_int_equal(stats(fx).queries, 2);
}

/* --- the order of the resolvers ---------------------------------------- */

static void
test_order_next_on_failure(void **state)
{
	struct fx *fx = *state;
	struct resolver_answer ans;

	/* SERVFAIL: the second is asked and its answer taken. */
	srv_start(fx->base, &fx->srv[0], SERVFAIL, NULL);
	srv_start(fx->base, &fx->srv[1], ANSWER, names2);
	srv_start(fx->base, &fx->srv[2], ANSWER, names1);
	use(fx, FAST_MS, fx->srv, 3);
	ans = resolve(fx, "cloud.example");
	assert_int_equal(ans.error, 0);
	assert_int_equal(ans.naddrs, 1);
	assert_addr(&ans, 0, "198.51.100.1");
	assert_true(srv_asked(&fx->srv[0], "cloud.example", EVDNS_TYPE_A) > 0);
	assert_true(srv_asked(&fx->srv[1], "cloud.example", EVDNS_TYPE_A) > 0);
	/* Strictly in order: the third was never needed. */
	assert_int_equal(srv_asked(&fx->srv[2], "cloud.example",
	    EVDNS_TYPE_A), 0);
	assert_int_equal(stats(fx).queries, 4);	/* 2 servers, 2 types */
	assert_int_equal(stats(fx).failures, 0);

	/* No answer at all: the same, after the timeout. */
	srv_stop(&fx->srv[0]);
	srv_start(fx->base, &fx->srv[0], SILENT, NULL);
	use(fx, FAST_MS, fx->srv, 3);
	ans = resolve(fx, "pending.example");
	assert_int_equal(ans.error, 0);
	assert_addr(&ans, 0, "198.51.100.7");
	assert_true(srv_asked(&fx->srv[0], "pending.example",
	    EVDNS_TYPE_A) > 0);
	assert_int_equal(srv_asked(&fx->srv[2], "pending.example",
	    EVDNS_TYPE_A), 0);
}

static void
test_order_first_answers(void **state)
{
	struct fx *fx = *state;
	struct resolver_answer ans;

	/* The first that answers is taken, even when others would too. */
	srv_start(fx->base, &fx->srv[0], ANSWER, names1);
	srv_start(fx->base, &fx->srv[1], ANSWER, names2);
	use(fx, SLOW_MS, fx->srv, 2);
	ans = resolve(fx, "cloud.example");
	assert_addr(&ans, 0, "192.0.2.1");
	assert_int_equal(fx->srv[1].nlog, 0);

	/* NXDOMAIN is final: the second, which knows the name, is not
	 * asked. */
	ans = resolve(fx, "gone.example");
	assert_int_equal(ans.error, DNS_ERR_NOTEXIST);
	assert_int_equal(ans.naddrs, 0);
	assert_int_equal(srv_asked(&fx->srv[0], "gone.example",
	    EVDNS_TYPE_A), 1);
	assert_int_equal(fx->srv[1].nlog, 0);
	assert_int_equal(stats(fx).failures, 0);	/* an answer */

	/* Every server failing is a failure, of the last one. */
	srv_stop(&fx->srv[0]);
	srv_stop(&fx->srv[1]);
	srv_start(fx->base, &fx->srv[0], SERVFAIL, NULL);
	srv_start(fx->base, &fx->srv[1], SILENT, NULL);
	use(fx, FAST_MS, fx->srv, 2);
	ans = resolve(fx, "cloud.example");
	assert_int_not_equal(ans.error, 0);
	assert_int_equal(ans.naddrs, 0);
	assert_true(srv_asked(&fx->srv[1], "cloud.example", EVDNS_TYPE_A) > 0);
	assert_int_equal(stats(fx).failures, 2);	/* A and AAAA */
}

/* RFC 2308: a negative answer lasts min(SOA TTL, MINIMUM), capped. */
static void
test_negative_soa(void **state)
{
	struct fx *fx = *state;
	struct resolver_answer ans;

	srv_start(fx->base, &fx->srv[0], ANSWER, names1);
	use(fx, SLOW_MS, fx->srv, 1);
	ans = resolve(fx, "neg20.example");
	assert_int_equal(ans.error, DNS_ERR_NOTEXIST);
	skew_ms = 19 * 1000;
	assert_int_equal(cached_now(fx, "neg20.example"), 1);
	skew_ms = 21 * 1000;
	assert_int_equal(cached_now(fx, "neg20.example"), 0);

	skew_ms = 0;
	ans = resolve(fx, "neg3600.example");
	assert_int_equal(ans.error, DNS_ERR_NOTEXIST);
	skew_ms = 59 * 1000;
	assert_int_equal(cached_now(fx, "neg3600.example"), 1);
	skew_ms = 61 * 1000;
	assert_int_equal(cached_now(fx, "neg3600.example"), 0);
}

/*
 * Names only a wildcard allows have a budget of their own: a device
 * making up names by the hundred cannot push an exact cloud name out.
 */
static void
test_wildcard_budget(void **state)
{
	struct fx *fx = *state;
	struct resolver_answer ans;
	struct resolver_stats st;
	char name[64];
	int i;

	srv_start(fx->base, &fx->srv[0], ANSWER, names1);
	use(fx, SLOW_MS, fx->srv, 1);
	ans = resolve(fx, "cloud.example");
	assert_int_equal(ans.error, 0);
	for (i = 0; i < RESOLVER_CACHE_WILD; i++) {
		struct waiter w = { 0 };

		snprintf(name, sizeof(name), "x%d.wild.example", i);
		assert_int_equal(resolver_lookup_flags(fx->res, name,
		    RESOLVER_WILDCARD, waiter_cb, &w, &ans, &w.wait), 0);
		expect_called(fx, &w);
	}
	st = stats(fx);
	assert_true(st.cached_wildcard <= RESOLVER_CACHE_WILD);
	assert_true(st.evicted > 0);
	assert_int_equal(st.cached_exact, 2);
	/* the cloud's name is still answered from the cache */
	{
		struct waiter w = { 0 };

		assert_int_equal(lookup(fx, "cloud.example", &w, &ans), 1);
	}
	assert_int_equal(srv_asked(&fx->srv[0], "cloud.example",
	    EVDNS_TYPE_A), 1);
}

/* --- cancelled waiters ------------------------------------------------- */

static void
test_cancel(void **state)
{
	struct fx *fx = *state;
	struct waiter a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };

	srv_start(fx->base, &fx->srv[0], ANSWER, names1);
	use(fx, SLOW_MS, fx->srv, 1);

	/* One of two waiters cancelled: only the other is called. */
	assert_int_equal(lookup(fx, "cloud.example", &a, NULL), 0);
	assert_int_equal(lookup(fx, "cloud.example", &b, NULL), 0);
	resolver_cancel(a.wait);
	expect_called(fx, &b);
	assert_int_equal(b.ans.error, 0);
	assert_int_equal(a.called, 0);

	/* The only waiter cancelled (through the relay's ops): the query
	 * still completes and is cached for who asks next. */
	assert_int_equal(lookup(fx, "alias.example", &c, NULL), 0);
	resolver_ops.cancel(fx->res, c.wait);
	assert_int_equal(lookup(fx, "alias.example", &d, NULL), 0);
	assert_int_equal(stats(fx).joined, 4);	/* b and d, both types */
	expect_called(fx, &d);
	assert_int_equal(c.called, 0);
	assert_int_equal(stats(fx).queries, 4);

	/* Cancelling nothing is allowed. */
	resolver_cancel(NULL);
}

/* --- the module lifecycle: reloads with lookups in flight -------------- */

/*
 * Issue 14: a lookup pending when a reload removes every resolver.  It
 * used to be asked again of a NULL evdns base and crash; it must be
 * answered with an error, on a later loop round, never inside commit.
 */
static void
test_reload_removes_every_resolver(void **state)
{
	struct fx *fx = *state;
	struct waiter a = { 0 }, b = { 0 }, cancelled = { 0 }, late = { 0 };
	struct cfg_wan none;
	char err[256];

	srv_start(fx->base, &fx->srv[0], ANSWER, names1);
	use(fx, SLOW_MS, fx->srv, 1);
	assert_int_equal(resolve(fx, "cloud.example").error, 0);
	assert_int_equal(lookup(fx, "pending.example", &a, NULL), 0);
	assert_int_equal(lookup(fx, "pending.example", &cancelled, NULL), 0);
	assert_int_equal(wait_asked(fx, &fx->srv[0], "pending.example"), 0);
	resolver_cancel(cancelled.wait);
	assert_int_equal(a.called, 0);

	resolver_cfg_defaults(&none);
	assert_int_equal(resolver_prepare(fx->res, &none, err, sizeof(err)), 0);
	commit(fx);
	assert_int_equal(a.called, 0);		/* not inside commit */

	/* A lookup made between the commit and the next round: refused,
	 * as there is nothing to ask; it does not join the dying query. */
	assert_int_equal(lookup(fx, "pending.example", &b, NULL), -1);
	assert_null(b.wait);

	expect_called(fx, &a);
	assert_int_not_equal(a.ans.error, 0);
	assert_int_equal(a.ans.naddrs, 0);
	assert_int_equal(cancelled.called, 0);
	assert_int_equal(b.called, 0);
	/* Nothing cached: neither the old answers nor this failure. */
	assert_int_equal(stats(fx).cached, 0);
	assert_int_equal(lookup(fx, "cloud.example", &late, NULL), -1);
	/* And resolution comes back with the next reload that has servers. */
	use(fx, SLOW_MS, fx->srv, 1);
	assert_int_equal(resolve(fx, "cloud.example").error, 0);
}

static void
test_reload_to_other_servers(void **state)
{
	struct fx *fx = *state;
	struct waiter a = { 0 }, b = { 0 };
	struct resolver_answer ans;
	struct cfg_wan w;
	char err[256];

	srv_start(fx->base, &fx->srv[0], ANSWER, names1);
	srv_start(fx->base, &fx->srv[1], ANSWER, names2);
	use(fx, SLOW_MS, fx->srv, 1);
	ans = resolve(fx, "cloud.example");
	assert_addr(&ans, 0, "192.0.2.1");
	assert_int_equal(lookup(fx, "pending.example", &a, NULL), 0);
	assert_int_equal(lookup(fx, "pending.example", &b, NULL), 0);
	assert_int_equal(wait_asked(fx, &fx->srv[0], "pending.example"), 0);
	resolver_cancel(b.wait);

	/* The pending lookup is asked again of the new server. */
	wan_of(&w, SLOW_MS, &fx->srv[1], 1);
	assert_int_equal(resolver_prepare(fx->res, &w, err, sizeof(err)), 0);
	resolver_cfg_free(&w);
	assert_int_equal(fx->srv[1].nlog, 0);	/* prepare asks nothing */
	commit(fx);
	assert_int_equal(a.called, 0);
	expect_called(fx, &a);
	assert_int_equal(a.ans.error, 0);
	assert_int_equal(a.ans.naddrs, 1);
	assert_addr(&a.ans, 0, "198.51.100.7");
	assert_int_equal(srv_asked(&fx->srv[1], "pending.example",
	    EVDNS_TYPE_A), 1);
	assert_int_equal(b.called, 0);

	/* The cache went with the old servers: asked anew, new answer. */
	ans = resolve(fx, "cloud.example");
	assert_int_equal(ans.naddrs, 1);
	assert_addr(&ans, 0, "198.51.100.1");
	assert_int_equal(srv_asked(&fx->srv[0], "cloud.example",
	    EVDNS_TYPE_A), 1);
}

static void
test_abort_changes_nothing(void **state)
{
	struct fx *fx = *state;
	struct resolver_answer ans;
	struct resolver_stats before, after;
	struct json_object *st, *v;
	struct cfg_wan w;
	char err[256];

	srv_start(fx->base, &fx->srv[0], ANSWER, names1);
	srv_start(fx->base, &fx->srv[1], ANSWER, names2);
	use(fx, SLOW_MS, fx->srv, 1);
	ans = resolve(fx, "cloud.example");
	before = stats(fx);

	/* Other servers prepared, then aborted. */
	wan_of(&w, SLOW_MS, &fx->srv[1], 1);
	assert_int_equal(resolver_prepare(fx->res, &w, err, sizeof(err)), 0);
	resolver_cfg_free(&w);
	resolver_abort(fx->res);
	commit(fx);		/* a commit after abort has nothing to do */
	/* No servers prepared, then aborted. */
	resolver_cfg_defaults(&w);
	assert_int_equal(resolver_prepare(fx->res, &w, err, sizeof(err)), 0);
	resolver_abort(fx->res);
	commit(fx);

	after = stats(fx);
	assert_int_equal(after.cached, before.cached);
	memset(&ans, 0, sizeof(ans));
	{
		struct waiter x = { 0 };

		assert_int_equal(lookup(fx, "cloud.example", &x, &ans), 1);
	}
	assert_addr(&ans, 0, "192.0.2.1");
	/* New names still go to the first server, only. */
	ans = resolve(fx, "pending.example.invalid");
	assert_int_equal(ans.error, DNS_ERR_NOTEXIST);
	assert_int_equal(srv_asked(&fx->srv[0], "pending.example.invalid",
	    EVDNS_TYPE_A), 1);
	assert_int_equal(fx->srv[1].nlog, 0);
	st = resolver_status(fx->res);
	assert_true(json_object_object_get_ex(st, "servers", &v));
	assert_int_equal(json_object_get_int(v), 1);
	json_object_put(st);
}

static void
test_unchanged_is_noop(void **state)
{
	struct fx *fx = *state;
	struct waiter a = { 0 };
	struct resolver_answer ans;
	struct resolver_stats before, after;
	struct cfg_wan w;
	char err[256];

	srv_start(fx->base, &fx->srv[0], ANSWER, names1);
	use(fx, SLOW_MS, fx->srv, 1);
	ans = resolve(fx, "cloud.example");
	assert_int_equal(ans.error, 0);
	assert_int_equal(lookup(fx, "pending.example", &a, NULL), 0);
	assert_int_equal(wait_asked(fx, &fx->srv[0], "pending.example"), 0);
	before = stats(fx);

	/* The same servers (a new copy of the same text). */
	wan_of(&w, SLOW_MS, fx->srv, 1);
	assert_int_equal(resolver_prepare(fx->res, &w, err, sizeof(err)), 0);
	resolver_cfg_free(&w);
	commit(fx);
	/* Give a wrongly scheduled re-query its round. */
	event_base_loop(fx->base, EVLOOP_NONBLOCK);
	event_base_loop(fx->base, EVLOOP_NONBLOCK);

	after = stats(fx);
	assert_int_equal(after.queries, before.queries);
	assert_int_equal(after.cached, before.cached);
	assert_int_equal(srv_asked(&fx->srv[0], "pending.example",
	    EVDNS_TYPE_A), 1);
	assert_int_equal(a.called, 0);
	/* The cache was kept. */
	memset(&ans, 0, sizeof(ans));
	{
		struct waiter x = { 0 };

		assert_int_equal(lookup(fx, "cloud.example", &x, &ans), 1);
	}
	assert_addr(&ans, 0, "192.0.2.1");
	assert_int_equal(stats(fx).cache_hits, before.cache_hits + 1);
}

/* --- prefetch: a backup's warm cache ----------------------------------- */

static struct fx *pf_fx;

static int
pf_asked_aaaa_twice(void)
{
	return srv_asked(&pf_fx->srv[0], "cloud.example", EVDNS_TYPE_AAAA) >=
	    2 && stats(pf_fx).prefetches > 0;
}

/* Run the loop until pred() or the deadline, then a little longer. */
static int
run_until(struct fx *fx, int (*pred)(void))
{
	struct timeval tv = { WAIT_MS / 1000, 0 }, d = { 0, 100000 };
	struct event *ev;
	int expired = 0;

	ev = evtimer_new(fx->base, deadline_cb, &expired);
	evtimer_add(ev, &tv);
	while (!pred() && !expired)
		event_base_loop(fx->base, EVLOOP_ONCE);
	event_free(ev);
	/* the reply is read on the loop, after the server sent it */
	event_base_loopexit(fx->base, &d);
	event_base_dispatch(fx->base);
	return pred();
}

static void
test_prefetch(void **state)
{
	struct fx *fx = *state;
	struct resolver_answer ans;
	struct waiter w = { 0 };

	pf_fx = fx;
	srv_start(fx->base, &fx->srv[0], ANSWER, names1);
	use(fx, SLOW_MS, fx->srv, 1);
	ans = resolve(fx, "cloud.example");		/* A 300 s, AAAA 60 s */
	assert_int_equal(ans.error, 0);

	/* Far from expiry: nothing asked. */
	skew_ms = 30 * 1000;
	assert_int_equal(resolver_prefetch(fx->res, "cloud.example", 20000),
	    0);
	/* The AAAA within the margin: asked again, the A not ... */
	skew_ms = 45 * 1000;
	assert_int_equal(resolver_prefetch(fx->res, "Cloud.Example.", 20000),
	    1);
	/* ... and while it is asked, lookups get the old answer at once. */
	assert_int_equal(lookup(fx, "cloud.example", &w, &ans), 1);
	assert_int_equal(ans.naddrs, 3);
	assert_true(run_until(fx, pf_asked_aaaa_twice));
	assert_int_equal(srv_asked(&fx->srv[0], "cloud.example",
	    EVDNS_TYPE_A), 1);
	/* The AAAA now lives until 45 + 60 s. */
	skew_ms = 100 * 1000;
	assert_int_equal(cached_now(fx, "cloud.example"), 1);

	/* A prefetch that fails keeps what was there until it expires. */
	fx->srv[0].how = SERVFAIL;
	skew_ms = 90 * 1000;
	assert_int_equal(resolver_prefetch(fx->res, "cloud.example", 20000),
	    1);
	{
		unsigned long before = stats(fx).failures;
		struct timeval tv = { WAIT_MS / 1000, 0 };
		struct event *ev;
		int expired = 0;

		ev = evtimer_new(fx->base, deadline_cb, &expired);
		evtimer_add(ev, &tv);
		while (stats(fx).failures == before && !expired)
			event_base_loop(fx->base, EVLOOP_ONCE);
		event_free(ev);
		assert_int_equal(stats(fx).failures, before + 1);
	}
	memset(&w, 0, sizeof(w));
	assert_int_equal(lookup(fx, "cloud.example", &w, &ans), 1);
	assert_int_equal(ans.error, 0);
	assert_addr(&ans, 2, "2001:db8::1");

	/* A name not in the cache: an ordinary lookup nobody waits for. */
	fx->srv[0].how = ANSWER;
	skew_ms = 0;
	assert_int_equal(resolver_prefetch(fx->res, "v4only.example", 20000),
	    1);
	assert_int_equal(wait_asked(fx, &fx->srv[0], "v4only.example"), 0);
	{
		struct timeval d = { 0, 200000 };

		event_base_loopexit(fx->base, &d);
		event_base_dispatch(fx->base);
	}
	assert_int_equal(cached_now(fx, "v4only.example"), 1);
	assert_true(stats(fx).prefetches >= 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_resolvers, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_next_on_failure,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_first_answers,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negative_soa, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wildcard_budget, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_reload_removes_every_resolver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_to_other_servers,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_changes_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefetch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_is_noop, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("resolver", tests, NULL, NULL);
}
