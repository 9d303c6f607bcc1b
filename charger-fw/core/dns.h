/*
 * dns: name resolution with a strict server order, on libevent's evdns.
 *
 * The firmware asks the DHCP-given servers first, then the configured
 * fallbacks (8.8.8.8, 1.1.1.1 in the shipped configuration), in that
 * order, for every lookup.  evdns spreads queries round-robin over the
 * servers of one evdns_base, so each server gets its own evdns_base and
 * this module walks them in order: the next server is asked when one
 * times out, fails (SERVFAIL, REFUSED, network error) or returns no
 * address; a name error (NXDOMAIN) is an answer and ends the lookup, so a
 * site resolver that refuses a name does not leak the query to the public
 * fallbacks.
 */
#ifndef EVFW_DNS_H
#define EVFW_DNS_H

#include <stddef.h>
#include <stdint.h>

#define DNS_MAX_SERVERS	8

struct event_base;
struct dns;
struct dns_req;

/* A server: IPv4 address (host order) and port (53 normally). */
struct dns_server {
	uint32_t	addr;
	uint16_t	port;
};

/*
 * Merge DHCP-given servers and fallbacks into out (order kept, duplicates
 * and 0.0.0.0 dropped, at most DNS_MAX_SERVERS); returns the count.
 */
size_t	 dns_servers_compose(const uint32_t *dhcp, size_t ndhcp,
	    const struct dns_server *fallback, size_t nfallback,
	    struct dns_server *out);

/* timeout_ms per query per server; attempts per server. */
struct dns *dns_new(struct event_base *, unsigned timeout_ms,
	    unsigned attempts);
void	 dns_free(struct dns *);
/* Replace the server list; lookups under way restart on the new list. */
int	 dns_set_servers(struct dns *, const struct dns_server *, size_t);
size_t	 dns_get_servers(const struct dns *, struct dns_server *, size_t);

/*
 * Resolve name to one IPv4 address.  cb gets err 0 and the address, or
 * err -1 when no server gave one.  cb is always called later, from the
 * loop, exactly once unless the lookup is cancelled first.
 */
typedef void (*dns_cb)(int err, uint32_t addr, void *arg);
struct dns_req *dns_resolve(struct dns *, const char *name, dns_cb, void *);
void	 dns_cancel(struct dns_req *);

struct dns_stats {
	unsigned long	lookups;
	unsigned long	failovers;	/* moved on to the next server */
	unsigned long	failures;	/* no server answered */
	unsigned	last_server;	/* index that answered last */
};
const struct dns_stats *dns_stats(const struct dns *);

#endif
