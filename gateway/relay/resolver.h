/*
 * resolver: the gateway's own name resolution for cloud names, on libevent's
 * evdns.  The relay never lets a charger choose an address: it asks here,
 * with the SNI it accepted, and connects only to what the site's upstream
 * resolvers (wan.resolvers) answer.
 *
 * Resolvers are tried strictly in the configured order (next one on
 * timeout, server failure, refusal or a broken or truncated reply;
 * NXDOMAIN and "no such record" are final).  A and AAAA are asked
 * together and cached apart, each for the smallest TTL of the answer's
 * whole chain -- CNAMEs included -- capped at 1 h; a TTL of 0 is used once
 * and not kept.  Negative answers are kept per RFC 2308 (the SOA's
 * minimum, 10 s without one), at most 60 s; failures of every server
 * 10 s.  Concurrent lookups of one name share one query, so a whole car
 * park reconnecting at once costs one query per type.
 *
 * The cache has two budgets: names that are exact allowlist entries (and
 * server names of the configuration), and names that only a wildcard
 * allows.  A charger allowed "*.example.com" can fill the second with
 * names of its making but never push a real cloud name out of the first.
 *
 * The messages are the gateway's own (dns.c): evdns in libevent 2.1
 * shows neither the CNAMEs of an answer nor their TTLs.
 */
#ifndef EVG_RESOLVER_H
#define EVG_RESOLVER_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfg.h"
#include "common/netpolicy.h"

struct event_base;
struct json_object;
struct resolver;
struct resolver_wait;

/* The wan section of evgated.yaml: the site's upstream resolvers. */
struct cfg_wan {
	struct cfg_sockaddr	*resolvers;	/* in order; port 53 default */
	size_t			 nresolvers;	/* 0: no wan section */
	uint64_t		 resolver_timeout_ms;
	/* where the upstream address policy lets the gateway connect
	 * although the address is private, loopback, ... (netpolicy.h) */
	struct netpolicy_prefix	*allow_prefixes;
	size_t			 nallow_prefixes;
};
#define RESOLVER_DEFAULT_TIMEOUT_MS	3000

/* The section parser (arg: a struct cfg_wan *, defaults set first). */
void	resolver_cfg_defaults(struct cfg_wan *);
int	resolver_cfg_section(struct cfg_ctx *, struct cfg_node *, void *);
void	resolver_cfg_free(struct cfg_wan *);

#define RESOLVER_MAX_ADDRS	16

struct resolver_answer {
	int			 error;	/* 0, or a DNS_ERR_* (event2/dns.h) */
	size_t			 naddrs;
	struct sockaddr_storage	 addrs[RESOLVER_MAX_ADDRS]; /* port 0 */
};

/* Called once per lookup that did not complete at once; answer is
 * borrowed for the duration of the call. */
typedef void (*resolver_cb)(const struct resolver_answer *, void *arg);

struct resolver	*resolver_new(struct event_base *);
/*
 * The module lifecycle (daemon/module.h).  prepare copies the servers of
 * wan (0 servers: resolution off); it cannot fail.  commit switches to
 * them; abort drops them.  Unchanged servers make both a no-op (the
 * cache is kept).
 *
 * In flight at commit: the cache is emptied (its answers came from the
 * old servers), and every pending lookup is asked again of the new
 * servers -- or, when there are none, answered with an error -- on the
 * next loop round, never from inside commit.  Waiters keep waiting
 * through the switch; a cancelled one is never called.
 */
int		 resolver_prepare(struct resolver *, const struct cfg_wan *,
		    char *err, size_t errlen);
void		 resolver_commit(struct resolver *);
void		 resolver_abort(struct resolver *);
/* Free everything; lookups still waiting are dropped, their callbacks
 * never called (their waits must not be cancelled afterwards). */
void		 resolver_free(struct resolver *);
/* The "resolver" status section (a new object). */
struct json_object *resolver_status(void *resolver);

/*
 * Look name up.  Returns 1 with *answer filled from the cache (cb is not
 * called), 0 with *wait set when the answer will come through cb (never
 * from inside this call), or -1 when no resolver is configured or name
 * cannot be asked.  flags: RESOLVER_WILDCARD when only a wildcard
 * allowed the name (its cache budget).
 */
#define RESOLVER_WILDCARD	0x1
#define RESOLVER_CACHE_EXACT	1024	/* entries (a name has two) */
#define RESOLVER_CACHE_WILD	256
int		 resolver_lookup_flags(struct resolver *, const char *name,
		    int flags, resolver_cb, void *arg,
		    struct resolver_answer *answer, struct resolver_wait **wait);
/* The same for an exact name (flags 0). */
int		 resolver_lookup(struct resolver *, const char *name,
		    resolver_cb, void *arg, struct resolver_answer *answer,
		    struct resolver_wait **wait);
/* Forget a pending lookup: its callback will not be called. */
void		 resolver_cancel(struct resolver_wait *);
/*
 * Keep an exact name warm (the pair's backup, which takes over with a
 * cache ready): when its A or AAAA answer is missing, or expires within
 * margin_ms, ask again now.  An answer being refreshed still serves
 * lookups, and stays until it expires if asking fails.  Returns the
 * queries started.
 */
int		 resolver_prefetch(struct resolver *, const char *name,
		    uint64_t margin_ms);

/*
 * What a consumer (the relay) needs of name resolution, so that a test
 * can put its own resolver in: lookup and cancel as above, ctx being the
 * implementation's.  resolver_ops is this module's.
 */
struct resolver_ops {
	int	(*lookup)(void *ctx, const char *name, int flags, resolver_cb,
		    void *arg, struct resolver_answer *,
		    struct resolver_wait **);
	void	(*cancel)(void *ctx, struct resolver_wait *);
};
extern const struct resolver_ops resolver_ops;

struct resolver_stats {
	unsigned long	 queries;	/* sent upstream (per name and type) */
	unsigned long	 cache_hits;
	unsigned long	 joined;	/* lookups that joined a pending query */
	unsigned long	 failures;
	unsigned long	 stray;		/* replies that answer nothing asked */
	unsigned long	 evicted;	/* pushed out by a full budget */
	unsigned long	 prefetches;	/* queries asked ahead of expiry */
	size_t		 cached;	/* entries (name and type) now */
	size_t		 cached_exact;
	size_t		 cached_wildcard;
};
void		 resolver_stats(const struct resolver *, struct resolver_stats *);

#endif
