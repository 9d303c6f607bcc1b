/*
 * resolver: evdns with strict resolver order, a TTL cache and shared
 * in-flight queries (see resolver.h).
 */
#include "evgate_config.h"

#include <sys/queue.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "common/log.h"
#include "common/cfg.h"
#include "relay/resolver.h"
#include "common/util.h"

#define CACHE_MAX	1024
#define TTL_MIN_MS	10000
#define TTL_MAX_MS	3600000
#define NEG_TTL_MS	10000

struct resolver_wait {
	TAILQ_ENTRY(resolver_wait) entry;
	struct rentry	*entry_of;
	resolver_cb	 cb;
	void		*arg;
};

/* One name: either cached (answer valid until expires) or in flight. */
struct rentry {
	LIST_ENTRY(rentry) link;
	char		*name;
	struct resolver	*res;
	uint64_t	 expires;	/* monotonic ms */
	uint64_t	 used;
	int		 pending;	/* queries still out (0..2) */
	size_t		 server;	/* which resolver we are asking */
	struct evdns_request *req4, *req6;
	int		 err4, err6;
	uint32_t	 ttl;		/* smallest TTL seen, seconds */
	struct resolver_answer ans;
	struct sockaddr_storage v6[RESOLVER_MAX_ADDRS];
	size_t		 nv6;
	TAILQ_HEAD(, resolver_wait) waiters;
};

/* The servers in use, or prepared for the next commit. */
struct servers {
	struct evdns_base	**dns;	/* one per configured server, in order */
	size_t			 ndns;
	char			 **texts; /* to see whether a reload changed them */
	uint64_t		 timeout_ms;
};

struct resolver {
	struct event_base	*base;
	struct servers		 cur;
	struct servers		 next;	/* prepared */
	int			 prepared;	/* next is to replace cur */
	struct event		*requery;	/* pending lookups, after commit */
	LIST_HEAD(, rentry)	 entries;
	size_t			 nentries;
	struct resolver_stats	 stats;
};

static void	 rentry_query(struct rentry *);

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

	w->allow_mark = cfg_mark(node);
	return netpolicy_cfg_prefixes(ctx, node, &w->allow_prefixes,
	    &w->nallow_prefixes);
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

static void	resolver_requery_cb(evutil_socket_t, short, void *);

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
rentry_free(struct rentry *e)
{
	struct resolver_wait *w;

	while ((w = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, w, entry);
		free(w);
	}
	LIST_REMOVE(e, link);
	e->res->nentries--;
	free(e->name);
	free(e);
}

static void
servers_free(struct servers *s)
{
	size_t i;

	for (i = 0; i < s->ndns; i++) {
		evdns_base_free(s->dns[i], 0);
		free(s->texts[i]);
	}
	free(s->dns);
	free(s->texts);
	memset(s, 0, sizeof(*s));
}

static int
servers_same(const struct servers *s, const struct cfg_wan *w)
{
	size_t i;

	if (w->nresolvers != s->ndns || w->resolver_timeout_ms != s->timeout_ms)
		return 0;
	for (i = 0; i < s->ndns; i++)
		if (strcmp(s->texts[i], w->resolvers[i].text) != 0)
			return 0;
	return 1;
}

int
resolver_prepare(struct resolver *res, const struct cfg_wan *w, char *err,
    size_t errlen)
{
	struct servers *s = &res->next;
	char opt[32];
	size_t i;

	resolver_abort(res);
	if (servers_same(&res->cur, w))
		return 0;
	s->timeout_ms = w->resolver_timeout_ms;
	s->dns = xcalloc(w->nresolvers ? w->nresolvers : 1, sizeof(*s->dns));
	s->texts = xcalloc(w->nresolvers ? w->nresolvers : 1,
	    sizeof(*s->texts));
	snprintf(opt, sizeof(opt), "%.3f", (double)s->timeout_ms / 1000);
	for (i = 0; i < w->nresolvers; i++) {
		/* No resolv.conf, no hosts file: only what the site says. */
		if ((s->dns[i] = evdns_base_new(res->base, 0)) == NULL) {
			snprintf(err, errlen, "wan.resolvers: cannot make a "
			    "resolver for %s", w->resolvers[i].text);
			servers_free(s);
			return -1;
		}
		s->ndns++;
		s->texts[i] = xstrdup(w->resolvers[i].text);
		if (evdns_base_nameserver_sockaddr_add(s->dns[i],
		    (const struct sockaddr *)&w->resolvers[i].ss,
		    w->resolvers[i].len, 0) != 0) {
			snprintf(err, errlen, "wan.resolvers: cannot use %s",
			    w->resolvers[i].text);
			servers_free(s);
			return -1;
		}
		evdns_base_set_option(s->dns[i], "timeout:", opt);
		evdns_base_set_option(s->dns[i], "attempts:", "2");
		evdns_base_set_option(s->dns[i], "randomize-case:", "1");
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

/*
 * Stop what is in flight on the current servers (evdns would otherwise
 * call back into entries while the bases are freed), and forget cached
 * answers: they came from the old servers.  Pending entries stay, with
 * their waiters, for resolver_requery_cb.
 */
static void
resolver_drop_current(struct resolver *res)
{
	struct rentry *e, *next;

	LIST_FOREACH(e, &res->entries, link) {
		if (e->req4 != NULL)
			evdns_cancel_request(res->cur.dns[e->server], e->req4);
		if (e->req6 != NULL)
			evdns_cancel_request(res->cur.dns[e->server], e->req6);
		e->req4 = e->req6 = NULL;
	}
	servers_free(&res->cur);
	for (e = LIST_FIRST(&res->entries); e != NULL; e = next) {
		next = LIST_NEXT(e, link);
		if (e->pending == 0)
			rentry_free(e);
	}
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
	resolver_drop_current(res);
	while ((e = LIST_FIRST(&res->entries)) != NULL)
		rentry_free(e);
	event_free(res->requery);
	free(res);
}

static void
rentry_done(struct rentry *e)
{
	struct resolver *res = e->res;
	struct resolver_wait *w;
	uint64_t ttl_ms;
	size_t i;

	/* AAAA after A: most sites' WAN is IPv4; v6 is the fallback. */
	for (i = 0; i < e->nv6 && e->ans.naddrs < RESOLVER_MAX_ADDRS; i++)
		e->ans.addrs[e->ans.naddrs++] = e->v6[i];
	if (e->ans.naddrs > 0) {
		e->ans.error = 0;
		ttl_ms = (uint64_t)e->ttl * 1000;
		if (ttl_ms < TTL_MIN_MS)
			ttl_ms = TTL_MIN_MS;
		if (ttl_ms > TTL_MAX_MS)
			ttl_ms = TTL_MAX_MS;
	} else {
		e->ans.error = e->err4 != DNS_ERR_NONE ? e->err4 : e->err6;
		if (e->ans.error == DNS_ERR_NONE)
			e->ans.error = DNS_ERR_NOTEXIST;
		res->stats.failures++;
		ttl_ms = NEG_TTL_MS;
	}
	e->expires = now_mono_ms() + ttl_ms;
	log_debug("resolver: %s: %zu addresses, %s, cached %llus", e->name,
	    e->ans.naddrs, e->ans.error ? evdns_err_to_string(e->ans.error) :
	    "ok", (unsigned long long)(ttl_ms / 1000));
	while ((w = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, w, entry);
		w->cb(&e->ans, w->arg);
		free(w);
	}
}

/* Is this an answer to trust, or should the next resolver be asked? */
static int
dns_err_final(int err)
{
	return err == DNS_ERR_NONE || err == DNS_ERR_NOTEXIST;
}

static void
rentry_answer(struct rentry *e, int v6, int result, char type, int count,
    int ttl, void *addresses)
{
	int i;

	if (v6) {
		e->req6 = NULL;
		e->err6 = result;
	} else {
		e->req4 = NULL;
		e->err4 = result;
	}
	e->pending--;
	if (result == DNS_ERR_NONE && ttl >= 0 &&
	    (e->ttl == 0 || (uint32_t)ttl < e->ttl))
		e->ttl = (uint32_t)ttl;
	for (i = 0; result == DNS_ERR_NONE && i < count; i++) {
		struct sockaddr_storage ss;

		memset(&ss, 0, sizeof(ss));
		if (type == DNS_IPv4_A && !v6) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			if (e->ans.naddrs >= RESOLVER_MAX_ADDRS)
				break;
			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, (const char *)addresses + 4 * i, 4);
			e->ans.addrs[e->ans.naddrs++] = ss;
		} else if (type == DNS_IPv6_AAAA && v6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			if (e->nv6 >= RESOLVER_MAX_ADDRS)
				break;
			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr,
			    (const char *)addresses + 16 * i, 16);
			e->v6[e->nv6++] = ss;
		}
	}
	if (e->pending > 0)
		return;
	/* Both answered.  Ask the next server if this one failed us. */
	if (e->ans.naddrs == 0 && e->nv6 == 0 &&
	    !(dns_err_final(e->err4) && dns_err_final(e->err6)) &&
	    e->server + 1 < e->res->cur.ndns) {
		log_debug("resolver: %s: %s from resolver %zu, trying the next",
		    e->name, evdns_err_to_string(!dns_err_final(e->err4) ?
		    e->err4 : e->err6), e->server);
		e->server++;
		rentry_query(e);
		return;
	}
	rentry_done(e);
}

static void
rentry_cb4(int result, char type, int count, int ttl, void *addrs, void *arg)
{
	if (result == DNS_ERR_CANCEL)
		return;
	rentry_answer(arg, 0, result, type, count, ttl, addrs);
}

static void
rentry_cb6(int result, char type, int count, int ttl, void *addrs, void *arg)
{
	if (result == DNS_ERR_CANCEL)
		return;
	rentry_answer(arg, 1, result, type, count, ttl, addrs);
}

static void
rentry_query(struct rentry *e)
{
	struct evdns_base *dns = e->res->cur.dns[e->server];

	e->pending = 2;
	e->ttl = 0;
	e->ans.naddrs = 0;
	e->nv6 = 0;
	e->err4 = e->err6 = DNS_ERR_NONE;
	e->res->stats.queries++;
	/*
	 * evdns may answer synchronously (e.g. a query it cannot send):
	 * issue both first, so pending counts both before any callback.
	 */
	e->req4 = evdns_base_resolve_ipv4(dns, e->name, DNS_QUERY_NO_SEARCH,
	    rentry_cb4, e);
	if (e->req4 == NULL && e->pending == 2) {
		e->pending--;
		e->err4 = DNS_ERR_UNKNOWN;
	}
	if (e->pending == 0)
		return;
	e->req6 = evdns_base_resolve_ipv6(dns, e->name, DNS_QUERY_NO_SEARCH,
	    rentry_cb6, e);
	if (e->req6 == NULL && e->pending > 0 && e->err6 == DNS_ERR_NONE) {
		e->err6 = DNS_ERR_UNKNOWN;
		if (--e->pending == 0)
			rentry_done(e);
	}
}

static void
cache_trim(struct resolver *res)
{
	struct rentry *e, *next, *oldest = NULL;
	uint64_t now = now_mono_ms();

	for (e = LIST_FIRST(&res->entries); e != NULL; e = next) {
		next = LIST_NEXT(e, link);
		if (e->pending == 0 && e->expires <= now)
			rentry_free(e);
	}
	if (res->nentries < CACHE_MAX)
		return;
	LIST_FOREACH(e, &res->entries, link)
		if (e->pending == 0 && (oldest == NULL || e->used < oldest->used))
			oldest = e;
	if (oldest != NULL)
		rentry_free(oldest);
}

int
resolver_lookup(struct resolver *res, const char *name, resolver_cb cb,
    void *arg, struct resolver_answer *answer, struct resolver_wait **wait)
{
	struct rentry *e;
	struct resolver_wait *w;
	uint64_t now = now_mono_ms();
	char key[256];
	size_t i, len = strlen(name);

	*wait = NULL;
	if (res->cur.ndns == 0)
		return -1;
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len >= sizeof(key))
		return -1;
	for (i = 0; i < len; i++)
		key[i] = (char)tolower((unsigned char)name[i]);
	key[len] = '\0';

	LIST_FOREACH(e, &res->entries, link)
		if (strcmp(e->name, key) == 0)
			break;
	if (e != NULL && e->pending == 0 && e->expires > now) {
		e->used = now;
		res->stats.cache_hits++;
		*answer = e->ans;
		return 1;
	}
	if (e == NULL) {
		cache_trim(res);
		e = xcalloc(1, sizeof(*e));
		e->name = xstrdup(key);
		e->res = res;
		TAILQ_INIT(&e->waiters);
		LIST_INSERT_HEAD(&res->entries, e, link);
		res->nentries++;
	} else if (e->pending > 0)
		res->stats.joined++;
	e->used = now;
	w = xcalloc(1, sizeof(*w));
	w->entry_of = e;
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&e->waiters, w, entry);
	*wait = w;
	if (e->pending == 0) {
		e->server = 0;
		rentry_query(e);
	}
	return 0;
}

void
resolver_cancel(struct resolver_wait *w)
{
	if (w == NULL)
		return;
	TAILQ_REMOVE(&w->entry_of->waiters, w, entry);
	free(w);
}

void
resolver_stats(const struct resolver *res, struct resolver_stats *st)
{
	*st = res->stats;
	st->cached = res->nentries;
}

/*
 * After a commit: the entries that were in flight on the old servers are
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
		if (e->pending == 0 || e->req4 != NULL || e->req6 != NULL)
			continue;
		if (res->cur.ndns == 0) {
			e->pending = 0;
			e->ans.naddrs = 0;
			e->nv6 = 0;
			e->err4 = e->err6 = DNS_ERR_SHUTDOWN;
			rentry_done(e);
			/* Nothing can be asked: keep no failure cached. */
			rentry_free(e);
			continue;
		}
		e->server = 0;
		rentry_query(e);
	}
}

static int
ops_lookup(void *ctx, const char *name, resolver_cb cb, void *arg,
    struct resolver_answer *ans, struct resolver_wait **wait)
{
	return resolver_lookup(ctx, name, cb, arg, ans, wait);
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

	resolver_stats(res, &rs);
	json_object_object_add(r, "servers",
	    json_object_new_int64((int64_t)res->cur.ndns));
	json_object_object_add(r, "queries",
	    json_object_new_int64((int64_t)rs.queries));
	json_object_object_add(r, "cache_hits",
	    json_object_new_int64((int64_t)rs.cache_hits));
	json_object_object_add(r, "joined",
	    json_object_new_int64((int64_t)rs.joined));
	json_object_object_add(r, "failures",
	    json_object_new_int64((int64_t)rs.failures));
	json_object_object_add(r, "cached",
	    json_object_new_int64((int64_t)rs.cached));
	return r;
}
