/*
 * resolver: the gateway's own stub resolver (see resolver.h): queries over
 * UDP on the daemon's loop, strict server order, a cache per name and
 * type, shared in-flight queries.  Messages are made and read by dns.c.
 *
 * A lookup asks for A and AAAA; each is its own cache entry with its own
 * lifetime, and a waiter is answered once both are known (A first, then
 * AAAA).  One exchange is a connected UDP socket per query (a fresh
 * source port from the kernel), a random id, and the name's letters in
 * random case (the 0x20 trick): a reply must match all three, so an
 * off-path spoof has to guess some 40 bits.  A reply that does not match
 * is dropped and counted; the real one may still come.
 */
#include "evgate_config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "common/cfg.h"
#include "common/log.h"
#include "common/util.h"
#include "relay/dns.h"
#include "relay/resolver.h"

#define ATTEMPTS	2		/* per server */
#define TTL_MAX_S	3600		/* no answer is kept longer */
#define NEG_MAX_S	60		/* nor a negative one (RFC 2308) */
#define NEG_DEFAULT_S	10		/* negative without an SOA */
#define FAIL_S		10		/* no server answered usefully */

enum { Q_A = 0, Q_AAAA, Q_N };
static const uint16_t qtypes[Q_N] = { DNS_TYPE_A, DNS_TYPE_AAAA };

struct rentry;

/* A lookup waiting for one or two entries. */
struct resolver_wait {
	struct rentry		*e[Q_N];	/* NULL: already known */
	TAILQ_ENTRY(resolver_wait) link[Q_N];
	int			 remaining;
	resolver_cb		 cb;
	void			*arg;
	struct resolver_answer	 ans;		/* filled as entries finish */
	int			 err[Q_N];
};

/* One name and type: cached (until expires) or being asked. */
struct rentry {
	LIST_ENTRY(rentry)	 link;
	struct resolver		*res;
	char			*name;		/* lower case, no final dot */
	int			 q;		/* Q_A or Q_AAAA */
	int			 wild;		/* in the wildcard budget */
	uint64_t		 expires;	/* monotonic ms */
	uint64_t		 used;
	int			 pending;	/* being asked */
	int			 refresh;	/* asked again early (prefetch):
						 * the old answer still serves */
	int			 error;		/* DNS_ERR_*, 0 */
	size_t			 naddrs;
	struct sockaddr_storage	 addrs[DNS_MAX_ADDRS];
	/* the exchange in progress */
	size_t			 server;
	int			 attempt;
	int			 fd;
	struct event		*ev;
	uint16_t		 id;
	char			 qname[DNS_MAX_NAME + 1];	/* 0x20 */
	TAILQ_HEAD(, resolver_wait) waiters;
};

/* The servers in use, or prepared for the next commit. */
struct servers {
	struct cfg_sockaddr	*addrs;	/* copies, text included */
	size_t			 n;
	uint64_t		 timeout_ms;
};

struct resolver {
	struct event_base	*base;
	struct servers		 cur;
	struct servers		 next;		/* prepared */
	int			 prepared;
	struct event		*requery;	/* pending lookups, after commit */
	LIST_HEAD(, rentry)	 entries;
	size_t			 n_exact, n_wild;
	struct resolver_stats	 stats;
};

static void	rentry_ask(struct rentry *);
static void	rentry_finish(struct rentry *);
static void	resolver_requery_cb(evutil_socket_t, short, void *);

/* --- configuration: the wan section ---------------------------------- */

void
resolver_cfg_defaults(struct cfg_wan *w)
{
	memset(w, 0, sizeof(*w));
	w->resolver_timeout_ms = RESOLVER_DEFAULT_TIMEOUT_MS;
}

static int
resolver_item(struct cfg_ctx *ctx, struct cfg_node *node, size_t idx,
    void *arg)
{
	struct cfg_wan *w = arg;

	return cfg_addr(ctx, node, 53, &w->resolvers[idx]);
}

static int
wan_resolvers(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_wan *w = arg;
	size_t n;

	if (cfg_list_len(ctx, node, "a list of addresses", &n) == -1)
		return -1;
	if (n == 0 || n > 8)
		return cfg_error(ctx, node, "give 1 to 8 resolvers");
	w->resolvers = xcalloc(n, sizeof(*w->resolvers));
	w->nresolvers = n;
	return cfg_seq(ctx, node, resolver_item, w);
}

static int
wan_resolver_timeout(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_wan *w = arg;

	return cfg_duration(ctx, node, 100, 60000, &w->resolver_timeout_ms);
}

static int
wan_allow_prefixes(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_wan *w = arg;

	if (netpolicy_cfg_prefixes(ctx, node, &w->allow_prefixes,
	    &w->nallow_prefixes) == -1)
		return -1;
	if (w->nallow_prefixes == 0)
		return 0;
	/*
	 * Legitimate for a test world or a cloud on the site's own network,
	 * a hole anywhere else: say so on every --check-config and reload.
	 */
	return cfg_warn(ctx, node, "the relay and the fleet log's shipper "
	    "may connect to %zu private or local prefix%s (%s%s): a name "
	    "that resolves there reaches the site's own networks",
	    w->nallow_prefixes, w->nallow_prefixes == 1 ? "" : "es",
	    w->allow_prefixes[0].text, w->nallow_prefixes > 1 ? ", ..." : "");
}

int
resolver_cfg_section(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "resolvers", wan_resolvers, 1 },
		{ "resolver_timeout", wan_resolver_timeout, 0 },
		{ "allow_prefixes", wan_allow_prefixes, 0 },
		{ NULL, NULL, 0 },
	};

	return cfg_map(ctx, node, keys, arg);
}

void
resolver_cfg_free(struct cfg_wan *w)
{
	cfg_sockaddr_free(w->resolvers, w->nresolvers);
	netpolicy_prefixes_free(w->allow_prefixes, w->nallow_prefixes);
	w->resolvers = NULL;
	w->nresolvers = 0;
	w->allow_prefixes = NULL;
	w->nallow_prefixes = 0;
}

/* --- servers --------------------------------------------------------- */

struct resolver *
resolver_new(struct event_base *base)
{
	struct resolver *res = xcalloc(1, sizeof(*res));

	res->base = base;
	res->requery = evtimer_new(base, resolver_requery_cb, res);
	LIST_INIT(&res->entries);
	return res;
}

static void
servers_free(struct servers *s)
{
	cfg_sockaddr_free(s->addrs, s->n);
	memset(s, 0, sizeof(*s));
}

static int
servers_same(const struct servers *s, const struct cfg_wan *w)
{
	size_t i;

	if (w->nresolvers != s->n || w->resolver_timeout_ms != s->timeout_ms)
		return 0;
	for (i = 0; i < s->n; i++)
		if (strcmp(s->addrs[i].text, w->resolvers[i].text) != 0)
			return 0;
	return 1;
}

int
resolver_prepare(struct resolver *res, const struct cfg_wan *w, char *err,
    size_t errlen)
{
	struct servers *s = &res->next;
	size_t i;

	resolver_abort(res);
	if (servers_same(&res->cur, w))
		return 0;
	s->timeout_ms = w->resolver_timeout_ms;
	s->addrs = xcalloc(w->nresolvers ? w->nresolvers : 1,
	    sizeof(*s->addrs));
	s->n = w->nresolvers;
	for (i = 0; i < w->nresolvers; i++) {
		s->addrs[i] = w->resolvers[i];
		s->addrs[i].text = xstrdup(w->resolvers[i].text);
	}
	res->prepared = 1;
	return 0;
}

void
resolver_abort(struct resolver *res)
{
	servers_free(&res->next);
	res->prepared = 0;
}

/* --- entries ----------------------------------------------------------- */

static void
exchange_stop(struct rentry *e)
{
	if (e->ev != NULL) {
		event_free(e->ev);
		e->ev = NULL;
	}
	if (e->fd != -1) {
		close(e->fd);
		e->fd = -1;
	}
}

static void
rentry_free(struct rentry *e)
{
	struct resolver_wait *w;

	/* Never with waiters on it; if it were, they would skip it. */
	while ((w = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, w, link[e->q]);
		w->e[e->q] = NULL;
	}
	exchange_stop(e);
	LIST_REMOVE(e, link);
	if (e->wild)
		e->res->n_wild--;
	else
		e->res->n_exact--;
	free(e->name);
	free(e);
}

/*
 * Stop what is in flight on the current servers and forget cached
 * answers: they came from the old servers.  Pending entries stay, with
 * their waiters, for resolver_requery_cb.
 */
static void
resolver_drop_current(struct resolver *res)
{
	struct rentry *e, *next;

	for (e = LIST_FIRST(&res->entries); e != NULL; e = next) {
		next = LIST_NEXT(e, link);
		exchange_stop(e);
		if (!e->pending)
			rentry_free(e);
	}
	servers_free(&res->cur);
}

void
resolver_commit(struct resolver *res)
{
	struct timeval tv = { 0, 0 };

	if (!res->prepared)
		return;
	resolver_drop_current(res);
	res->cur = res->next;
	memset(&res->next, 0, sizeof(res->next));
	res->prepared = 0;
	if (!LIST_EMPTY(&res->entries))
		evtimer_add(res->requery, &tv);
}

void
resolver_free(struct resolver *res)
{
	struct rentry *e;

	if (res == NULL)
		return;
	resolver_abort(res);
	/* Waiters still out are freed uncalled (see resolver.h). */
	LIST_FOREACH(e, &res->entries, link)
		while (!TAILQ_EMPTY(&e->waiters))
			resolver_cancel(TAILQ_FIRST(&e->waiters));
	while ((e = LIST_FIRST(&res->entries)) != NULL)
		rentry_free(e);
	servers_free(&res->cur);
	event_free(res->requery);
	free(res);
}

/* --- answering waiters ----------------------------------------------- */

/* Merge e's result into w; call w back when nothing is left to wait for. */
static void
wait_take(struct resolver_wait *w, int q, const struct rentry *e)
{
	struct resolver_answer *a = &w->ans;
	size_t i;

	w->err[q] = e->error;
	for (i = 0; i < e->naddrs; i++) {
		if (a->naddrs == RESOLVER_MAX_ADDRS)
			break;
		/* A before AAAA: most sites' WAN is IPv4; v6 the fallback. */
		if (q == Q_A) {
			memmove(&a->addrs[1], &a->addrs[0],
			    a->naddrs * sizeof(a->addrs[0]));
			a->addrs[0] = e->addrs[e->naddrs - 1 - i];
		} else
			a->addrs[a->naddrs] = e->addrs[i];
		a->naddrs++;
	}
}

static void
wait_done(struct resolver_wait *w)
{
	struct resolver_answer *a = &w->ans;

	if (a->naddrs == 0)
		a->error = w->err[Q_A] != 0 ? w->err[Q_A] :
		    w->err[Q_AAAA] != 0 ? w->err[Q_AAAA] : DNS_ERR_NOTEXIST;
	else
		a->error = 0;
	w->cb(a, w->arg);
	free(w);
}

/*
 * e is known: every waiter takes it; those with nothing left are called.
 * e stays pending while they are: a waiter's callback that looks the
 * name up again joins e (and is answered in this same loop) instead of
 * freeing it under our feet.
 */
static void
rentry_finish(struct rentry *e)
{
	struct resolver_wait *w;

	while ((w = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, w, link[e->q]);
		w->e[e->q] = NULL;
		wait_take(w, e->q, e);
		if (--w->remaining == 0)
			wait_done(w);
	}
	e->pending = 0;
	/* A lifetime of zero: used now, kept never. */
	if (e->expires <= now_mono_ms())
		rentry_free(e);
}

static uint64_t
lifetime_ms(uint32_t ttl_s, uint32_t cap_s)
{
	return (uint64_t)(ttl_s < cap_s ? ttl_s : cap_s) * 1000;
}

static int
status_error(enum dns_status st)
{
	switch (st) {
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		return DNS_ERR_NOTEXIST;
	case DNS_SERVFAIL:
		return DNS_ERR_SERVERFAILED;
	case DNS_REFUSED:
		return DNS_ERR_REFUSED;
	case DNS_TRUNCATED:
		return DNS_ERR_TRUNCATED;
	default:
		return DNS_ERR_FORMAT;
	}
}

/* This server is no use for e: the next one, or the end. */
static void
rentry_next_server(struct rentry *e, int err)
{
	struct resolver *res = e->res;

	exchange_stop(e);
	if (e->server + 1 < res->cur.n) {
		log_debug("resolver: %s: %s from server %zu, asking the next",
		    e->name, evdns_err_to_string(err), e->server);
		e->server++;
		e->attempt = 0;
		rentry_ask(e);
		return;
	}
	res->stats.failures++;
	if (e->refresh) {
		/* A prefetch failed: what we had serves until it expires. */
		e->refresh = 0;
		return;
	}
	e->error = err;
	e->naddrs = 0;
	e->expires = now_mono_ms() + FAIL_S * 1000;
	rentry_finish(e);
}

static void
rentry_answered(struct rentry *e, enum dns_status st,
    const struct dns_answer *a)
{
	uint64_t now = now_mono_ms();

	exchange_stop(e);
	if (st == DNS_OK || st == DNS_NXDOMAIN || st == DNS_NODATA)
		e->refresh = 0;
	switch (st) {
	case DNS_OK:
		e->error = 0;
		e->naddrs = a->naddrs;
		memcpy(e->addrs, a->addrs, a->naddrs * sizeof(a->addrs[0]));
		e->expires = now + lifetime_ms(a->ttl, TTL_MAX_S);
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		/* RFC 2308 5: as long as the SOA says, capped short. */
		e->error = DNS_ERR_NOTEXIST;
		e->naddrs = 0;
		e->expires = now + lifetime_ms(a->have_neg_ttl ? a->neg_ttl :
		    NEG_DEFAULT_S, NEG_MAX_S);
		break;
	default:
		rentry_next_server(e, status_error(st));
		return;
	}
	log_debug("resolver: %s %s: %zu addresses, %s, kept %llums%s",
	    e->name, e->q == Q_A ? "A" : "AAAA", e->naddrs,
	    dns_status_str(st), (unsigned long long)(e->expires - now),
	    a->chain ? " (through CNAMEs)" : "");
	rentry_finish(e);
}

static void
rentry_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rentry *e = arg;
	struct resolver *res = e->res;
	struct dns_answer a;
	enum dns_status st;
	uint8_t buf[DNS_MAX_MSG];
	ssize_t n;

	if (what & EV_TIMEOUT) {
		exchange_stop(e);
		if (++e->attempt < ATTEMPTS) {
			rentry_ask(e);
			return;
		}
		rentry_next_server(e, DNS_ERR_TIMEOUT);
		return;
	}
	while ((n = recv(fd, buf, sizeof(buf), 0)) >= 0) {
		st = dns_answer_parse(buf, (size_t)n, e->id, e->qname,
		    qtypes[e->q], &a);
		if (st == DNS_NOT_ANSWER) {
			res->stats.stray++;
			continue;
		}
		rentry_answered(e, st, &a);
		return;
	}
	if (errno != EAGAIN && errno != EINTR) {
		/* ICMP port unreachable and the like: this server is down. */
		rentry_next_server(e, DNS_ERR_UNKNOWN);
	}
}

/* Send e's query to its current server (one attempt). */
static void
rentry_ask(struct rentry *e)
{
	struct resolver *res = e->res;
	const struct cfg_sockaddr *srv = &res->cur.addrs[e->server];
	uint8_t buf[DNS_MAX_NAME + 64];
	struct timeval tv;
	size_t i, len;

	if (!e->refresh)
		e->pending = 1;
	e->id = (uint16_t)arc4random_uniform(65536);
	for (i = 0; e->name[i] != '\0'; i++)
		e->qname[i] = isalpha((unsigned char)e->name[i]) &&
		    arc4random_uniform(2) ? (char)toupper(
		    (unsigned char)e->name[i]) : e->name[i];
	e->qname[i] = '\0';
	res->stats.queries++;
	tv.tv_sec = (time_t)(res->cur.timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(res->cur.timeout_ms % 1000) * 1000;
	/* The name was checked at lookup: it encodes. */
	len = dns_query_encode(buf, sizeof(buf), e->id, e->qname,
	    qtypes[e->q]);
	if ((e->fd = socket(srv->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    connect(e->fd, (const struct sockaddr *)&srv->ss, srv->len) == -1 ||
	    send(e->fd, buf, len, 0) != (ssize_t)len) {
		/*
		 * Say so on the next loop round, as a lost attempt: a
		 * waiter is never called from inside its own lookup.
		 */
		log_debug("resolver: %s: %s: %s", e->name, srv->text,
		    strerror(errno));
		if (e->fd != -1)
			close(e->fd);
		e->fd = -1;
		tv.tv_sec = tv.tv_usec = 0;
	}
	e->ev = event_new(res->base, e->fd, e->fd != -1 ?
	    EV_READ | EV_PERSIST : 0, rentry_io_cb, e);
	event_add(e->ev, &tv);
}

/*
 * After a commit: entries that were in flight on the old servers are
 * asked again of the new ones, or fail when there are none.  A timer
 * callback, so that waiters are never called from inside a commit.
 */
static void
resolver_requery_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *res = arg;
	struct rentry *e, *next;

	for (e = LIST_FIRST(&res->entries); e != NULL; e = next) {
		next = LIST_NEXT(e, link);
		if (!e->pending || e->fd != -1)
			continue;
		if (res->cur.n == 0) {
			e->error = DNS_ERR_SHUTDOWN;
			e->naddrs = 0;
			e->expires = 0;		/* nothing to keep */
			rentry_finish(e);
			continue;
		}
		e->server = 0;
		e->attempt = 0;
		rentry_ask(e);
	}
}

/* --- the cache ------------------------------------------------------- */

/*
 * Make room in a budget: drop what expired, then the least recently
 * used entry of the same budget.  An exact allowlist name is never pushed
 * out by names that only a wildcard allows.
 */
static void
cache_trim(struct resolver *res, int wild)
{
	struct rentry *e, *next, *oldest = NULL;
	uint64_t now = now_mono_ms();

	for (e = LIST_FIRST(&res->entries); e != NULL; e = next) {
		next = LIST_NEXT(e, link);
		if (!e->pending && e->expires <= now)
			rentry_free(e);
	}
	if ((wild ? res->n_wild : res->n_exact) <
	    (wild ? RESOLVER_CACHE_WILD : RESOLVER_CACHE_EXACT))
		return;
	LIST_FOREACH(e, &res->entries, link)
		if (!e->pending && e->wild == wild &&
		    (oldest == NULL || e->used < oldest->used))
			oldest = e;
	if (oldest != NULL) {
		res->stats.evicted++;
		rentry_free(oldest);
	}
}

static struct rentry *
rentry_find(struct resolver *res, const char *key, int q)
{
	struct rentry *e;

	LIST_FOREACH(e, &res->entries, link)
		if (e->q == q && strcmp(e->name, key) == 0)
			return e;
	return NULL;
}

static struct rentry *
rentry_new(struct resolver *res, const char *key, int q, int wild)
{
	struct rentry *e;

	cache_trim(res, wild);
	e = xcalloc(1, sizeof(*e));
	e->res = res;
	e->name = xstrdup(key);
	e->q = q;
	e->wild = wild;
	e->fd = -1;
	e->pending = 1;		/* to be asked: never trimmed */
	TAILQ_INIT(&e->waiters);
	LIST_INSERT_HEAD(&res->entries, e, link);
	if (wild)
		res->n_wild++;
	else
		res->n_exact++;
	return e;
}

int
resolver_lookup_flags(struct resolver *res, const char *name, int flags,
    resolver_cb cb, void *arg, struct resolver_answer *answer,
    struct resolver_wait **wait)
{
	struct rentry *e[Q_N];
	struct resolver_wait *w;
	uint64_t now = now_mono_ms();
	char key[DNS_MAX_NAME + 1];
	size_t i, len = strlen(name);
	int q, wild = (flags & RESOLVER_WILDCARD) != 0, need = 0;
	int fresh[Q_N] = { 0, 0 };

	*wait = NULL;
	if (res->cur.n == 0)
		return -1;
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len >= sizeof(key))
		return -1;
	for (i = 0; i < len; i++)
		key[i] = (char)tolower((unsigned char)name[i]);
	key[len] = '\0';
	{
		uint8_t probe[DNS_MAX_NAME + 64];

		if (dns_query_encode(probe, sizeof(probe), 0, key,
		    DNS_TYPE_A) == 0)
			return -1;	/* not a name that can be asked */
	}

	for (q = 0; q < Q_N; q++) {
		e[q] = rentry_find(res, key, q);
		if (e[q] != NULL && !e[q]->pending && e[q]->expires <= now) {
			rentry_free(e[q]);
			e[q] = NULL;
		}
		/* An exact name takes its entry out of the wildcard budget. */
		if (e[q] != NULL && e[q]->wild && !wild) {
			e[q]->wild = 0;
			res->n_wild--;
			res->n_exact++;
		}
		if (e[q] == NULL || e[q]->pending)
			need++;
	}
	w = xcalloc(1, sizeof(*w));
	w->cb = cb;
	w->arg = arg;
	if (need == 0) {
		/* Both known: answered now, without a callback. */
		res->stats.cache_hits++;
		for (q = 0; q < Q_N; q++) {
			e[q]->used = now;
			wait_take(w, q, e[q]);
		}
		w->ans.error = w->ans.naddrs == 0 ? (w->err[Q_A] ? w->err[Q_A] :
		    w->err[Q_AAAA] ? w->err[Q_AAAA] : DNS_ERR_NOTEXIST) : 0;
		*answer = w->ans;
		free(w);
		return 1;
	}
	for (q = 0; q < Q_N; q++) {
		if (e[q] != NULL && !e[q]->pending) {
			e[q]->used = now;
			wait_take(w, q, e[q]);
			continue;
		}
		if (e[q] == NULL) {
			e[q] = rentry_new(res, key, q, wild);
			fresh[q] = 1;
		} else
			res->stats.joined++;
		e[q]->used = now;
		w->e[q] = e[q];
		w->remaining++;
		TAILQ_INSERT_TAIL(&e[q]->waiters, w, link[q]);
	}
	*wait = w;
	for (q = 0; q < Q_N; q++)
		if (fresh[q])
			rentry_ask(w->e[q]);
	return 0;
}

int
resolver_lookup(struct resolver *res, const char *name, resolver_cb cb,
    void *arg, struct resolver_answer *answer, struct resolver_wait **wait)
{
	return resolver_lookup_flags(res, name, 0, cb, arg, answer, wait);
}

static void
prefetch_cb(const struct resolver_answer *a, void *arg)
{
}

int
resolver_prefetch(struct resolver *res, const char *name, uint64_t margin_ms)
{
	struct resolver_answer ans;
	struct resolver_wait *w;
	struct rentry *e;
	uint64_t now = now_mono_ms();
	char key[DNS_MAX_NAME + 1];
	size_t i, len = strlen(name);
	int q, started = 0, missing = 0;

	if (res->cur.n == 0)
		return 0;
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len >= sizeof(key))
		return 0;
	for (i = 0; i < len; i++)
		key[i] = (char)tolower((unsigned char)name[i]);
	key[len] = '\0';
	for (q = 0; q < Q_N; q++) {
		e = rentry_find(res, key, q);
		if (e == NULL || (!e->pending && e->expires <= now)) {
			missing = 1;
			continue;
		}
		if (e->pending || e->refresh || e->expires > now + margin_ms)
			continue;
		e->refresh = 1;
		e->server = 0;
		e->attempt = 0;
		res->stats.prefetches++;
		rentry_ask(e);
		started++;
	}
	/* Not cached at all: an ordinary lookup nobody waits for. */
	if (missing && resolver_lookup(res, key, prefetch_cb, NULL, &ans,
	    &w) == 0) {
		res->stats.prefetches++;
		started++;
	}
	return started;
}

void
resolver_cancel(struct resolver_wait *w)
{
	int q;

	if (w == NULL)
		return;
	for (q = 0; q < Q_N; q++)
		if (w->e[q] != NULL)
			TAILQ_REMOVE(&w->e[q]->waiters, w, link[q]);
	free(w);
}

void
resolver_stats(const struct resolver *res, struct resolver_stats *st)
{
	*st = res->stats;
	st->cached = res->n_exact + res->n_wild;
	st->cached_exact = res->n_exact;
	st->cached_wildcard = res->n_wild;
}

static int
ops_lookup(void *ctx, const char *name, int flags, resolver_cb cb, void *arg,
    struct resolver_answer *ans, struct resolver_wait **wait)
{
	return resolver_lookup_flags(ctx, name, flags, cb, arg, ans, wait);
}

static void
ops_cancel(void *ctx, struct resolver_wait *w)
{
	resolver_cancel(w);
}

const struct resolver_ops resolver_ops = { ops_lookup, ops_cancel };

struct json_object *
resolver_status(void *arg)
{
	struct resolver *res = arg;
	struct json_object *r = json_object_new_object();
	struct resolver_stats rs;

#define ADD(k, v) json_object_object_add(r, (k), \
	json_object_new_int64((int64_t)(v)))
	resolver_stats(res, &rs);
	ADD("servers", res->cur.n);
	ADD("queries", rs.queries);
	ADD("cache_hits", rs.cache_hits);
	ADD("joined", rs.joined);
	ADD("failures", rs.failures);
	ADD("stray_replies", rs.stray);
	ADD("evicted", rs.evicted);
	ADD("prefetches", rs.prefetches);
	ADD("cached", rs.cached);
	ADD("cached_exact", rs.cached_exact);
	ADD("cached_wildcard", rs.cached_wildcard);
#undef ADD
	return r;
}
