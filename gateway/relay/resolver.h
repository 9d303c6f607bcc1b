/*
 * resolver: the gateway's own name resolution for cloud names, on libevent's
 * evdns.  The relay never lets a charger choose an address: it asks here,
 * with the SNI it accepted, and connects only to what the site's upstream
 * resolvers (wan.resolvers) answer.
 *
 * Resolvers are tried strictly in the configured order (one evdns base per
 * server, next one on timeout or server failure; NXDOMAIN is final).  A and
 * AAAA are asked together.  Answers are cached for their TTL (clamped to
 * 10 s..1 h; failures for 10 s), and concurrent lookups of one name share
 * one query, so a whole car park reconnecting at once costs one query.
 */
#ifndef EVG_RESOLVER_H
#define EVG_RESOLVER_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct config;
struct resolver;
struct resolver_wait;

#define RESOLVER_MAX_ADDRS	16

struct resolver_answer {
	int			 error;	/* 0, or a DNS_ERR_* from evdns */
	size_t			 naddrs;
	struct sockaddr_storage	 addrs[RESOLVER_MAX_ADDRS]; /* port 0 */
};

/* Called once per lookup that did not complete at once; answer is
 * borrowed for the duration of the call. */
typedef void (*resolver_cb)(const struct resolver_answer *, void *arg);

struct resolver	*resolver_new(struct event_base *);
/* Use the resolvers of conf (and flush the cache when they changed). */
void		 resolver_configure(struct resolver *, const struct config *);
void		 resolver_free(struct resolver *);

/*
 * Look name up.  Returns 1 with *answer filled from the cache (cb is not
 * called), 0 with *wait set when the answer will come through cb, or -1
 * when no resolver is configured.
 */
int		 resolver_lookup(struct resolver *, const char *name,
		    resolver_cb, void *arg, struct resolver_answer *answer,
		    struct resolver_wait **wait);
/* Forget a pending lookup: its callback will not be called. */
void		 resolver_cancel(struct resolver_wait *);

struct resolver_stats {
	unsigned long	 queries;	/* sent upstream (per name, A+AAAA) */
	unsigned long	 cache_hits;
	unsigned long	 joined;	/* lookups that joined a pending query */
	unsigned long	 failures;
	size_t		 cached;	/* names in the cache now */
};
void		 resolver_stats(const struct resolver *, struct resolver_stats *);

#endif
