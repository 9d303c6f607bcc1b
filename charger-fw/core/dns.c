/*
 * dns: one evdns_base per server, walked in order (see dns.h for why).
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "core/dns.h"
#include "core/fwlog.h"

struct dns {
	struct event_base	*base;
	unsigned		 timeout_ms;
	unsigned		 attempts;
	struct dns_server	 servers[DNS_MAX_SERVERS];
	struct evdns_base	*evdns[DNS_MAX_SERVERS];
	size_t			 nservers;
	unsigned		 gen;		/* bumped by dns_set_servers */
	struct dns_stats	 stats;
	struct dns_req		*reqs;		/* lookups under way */
};

struct dns_req {
	struct dns		*dns;
	struct dns_req		*next;
	char			 name[256];
	dns_cb			 cb;
	void			*arg;
	size_t			 server;	/* index being asked */
	unsigned		 gen;
	struct evdns_request	*ev;
	struct event		*defer;		/* "no servers" answer */
};

size_t
dns_servers_compose(const uint32_t *dhcp, size_t ndhcp,
    const struct dns_server *fb, size_t nfb, struct dns_server *out)
{
	size_t n = 0, i, j;
	struct dns_server s;

	for (i = 0; i < ndhcp + nfb && n < DNS_MAX_SERVERS; i++) {
		if (i < ndhcp) {
			s.addr = dhcp[i];
			s.port = 53;
		} else
			s = fb[i - ndhcp];
		if (s.addr == 0)
			continue;
		for (j = 0; j < n; j++)
			if (out[j].addr == s.addr && out[j].port == s.port)
				break;
		if (j == n)
			out[n++] = s;
	}
	return n;
}

static struct evdns_base *
dns_base_for(struct dns *d, const struct dns_server *s)
{
	struct evdns_base *b;
	struct sockaddr_in sin;
	char v[32];

	/* No resolv.conf, no search list: this server only. */
	if ((b = evdns_base_new(d->base, 0)) == NULL)
		return NULL;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(s->port);
	sin.sin_addr.s_addr = htonl(s->addr);
	if (evdns_base_nameserver_sockaddr_add(b, (struct sockaddr *)&sin,
	    sizeof(sin), 0) != 0) {
		evdns_base_free(b, 0);
		return NULL;
	}
	snprintf(v, sizeof(v), "%u.%03u", d->timeout_ms / 1000,
	    d->timeout_ms % 1000);
	evdns_base_set_option(b, "timeout:", v);
	snprintf(v, sizeof(v), "%u", d->attempts);
	evdns_base_set_option(b, "attempts:", v);
	/*
	 * A server that timed out is probed before it is used again; the
	 * next lookup must still ask it first, so probe quickly.
	 */
	evdns_base_set_option(b, "initial-probe-timeout:", "1");
	evdns_base_set_option(b, "max-timeouts:", "255");
	return b;
}

struct dns *
dns_new(struct event_base *base, unsigned timeout_ms, unsigned attempts)
{
	struct dns *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->base = base;
	d->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
	d->attempts = attempts > 0 ? attempts : 2;
	return d;
}

static void	dns_ask(struct dns_req *);

static void
dns_req_unlink(struct dns_req *r)
{
	struct dns_req **pp;

	for (pp = &r->dns->reqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
}

static void
dns_req_done(struct dns_req *r, int err, uint32_t addr)
{
	dns_cb cb = r->cb;
	void *arg = r->arg;

	dns_req_unlink(r);
	if (r->defer != NULL)
		event_free(r->defer);
	free(r);
	if (cb != NULL)
		cb(err, addr, arg);
}

static void
dns_answer(int result, char type, int count, int ttl, void *addrs,
    void *arg)
{
	struct dns_req *r = arg;
	struct dns *d = r->dns;
	char ip[16];

	r->ev = NULL;
	if (result == DNS_ERR_CANCEL) {
		/* dns_cancel: the request is ours to free, silently. */
		r->cb = NULL;
		dns_req_done(r, -1, 0);
		return;
	}
	if (r->gen != d->gen) {
		/* The server list changed under us: start over on it. */
		r->gen = d->gen;
		r->server = 0;
		dns_ask(r);
		return;
	}
	if (result == DNS_ERR_NONE && type == DNS_IPv4_A && count > 0) {
		uint32_t a = ntohl(((const uint32_t *)addrs)[0]);

		d->stats.last_server = (unsigned)r->server;
		fw_debug("dns: %s is %s (server %zu)", r->name, fw_ipstr(a, ip),
		    r->server);
		dns_req_done(r, 0, a);
		return;
	}
	if (result == DNS_ERR_NOTEXIST) {
		fw_info("dns: %s does not exist (server %s)", r->name,
		    fw_ipstr(d->servers[r->server].addr, ip));
		d->stats.failures++;
		dns_req_done(r, -1, 0);
		return;
	}
	fw_debug("dns: %s: server %s: %s", r->name,
	    fw_ipstr(d->servers[r->server].addr, ip),
	    evdns_err_to_string(result));
	r->server++;
	if (r->server < d->nservers)
		d->stats.failovers++;
	dns_ask(r);
}

static void
dns_nothing(evutil_socket_t fd, short ev, void *arg)
{
	struct dns_req *r = arg;

	r->dns->stats.failures++;
	fw_warn("dns: %s: no server answered", r->name);
	dns_req_done(r, -1, 0);
}

static void
dns_ask(struct dns_req *r)
{
	struct dns *d = r->dns;
	struct timeval tv = { 0, 0 };

	while (r->server < d->nservers) {
		r->ev = evdns_base_resolve_ipv4(d->evdns[r->server], r->name,
		    DNS_QUERY_NO_SEARCH, dns_answer, r);
		if (r->ev != NULL)
			return;
		r->server++;
	}
	/* Answer "failed" from the loop, never from inside dns_resolve. */
	if (r->defer == NULL)
		r->defer = evtimer_new(d->base, dns_nothing, r);
	if (r->defer != NULL)
		evtimer_add(r->defer, &tv);
}

int
dns_set_servers(struct dns *d, const struct dns_server *s, size_t n)
{
	struct evdns_base *old[DNS_MAX_SERVERS];
	size_t nold = d->nservers, i;
	char ip[16];

	if (n > DNS_MAX_SERVERS)
		n = DNS_MAX_SERVERS;
	if (n == d->nservers && memcmp(s, d->servers, n * sizeof(*s)) == 0)
		return 0;
	memcpy(old, d->evdns, sizeof(old));
	for (i = 0; i < n; i++) {
		d->servers[i] = s[i];
		if ((d->evdns[i] = dns_base_for(d, &s[i])) == NULL) {
			fw_err("dns: cannot use server %s",
			    fw_ipstr(s[i].addr, ip));
			n = i;
			break;
		}
		fw_debug("dns: server %zu: %s:%u", i, fw_ipstr(s[i].addr, ip),
		    s[i].port);
	}
	d->nservers = n;
	d->gen++;
	/* Pending lookups get DNS_ERR_SHUTDOWN and restart (dns_answer). */
	for (i = 0; i < nold; i++)
		evdns_base_free(old[i], 1);
	return 0;
}

size_t
dns_get_servers(const struct dns *d, struct dns_server *out, size_t cap)
{
	size_t n = d->nservers < cap ? d->nservers : cap;

	memcpy(out, d->servers, n * sizeof(*out));
	return n;
}

struct dns_req *
dns_resolve(struct dns *d, const char *name, dns_cb cb, void *arg)
{
	struct dns_req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->dns = d;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->cb = cb;
	r->arg = arg;
	r->gen = d->gen;
	r->next = d->reqs;
	d->reqs = r;
	d->stats.lookups++;
	dns_ask(r);
	return r;
}

void
dns_cancel(struct dns_req *r)
{
	r->cb = NULL;
	if (r->ev != NULL) {
		/* evdns answers DNS_ERR_CANCEL; dns_answer frees r. */
		evdns_cancel_request(r->dns->evdns[r->server], r->ev);
		return;
	}
	dns_req_done(r, -1, 0);
}

const struct dns_stats *
dns_stats(const struct dns *d)
{
	return &d->stats;
}

void
dns_free(struct dns *d)
{
	struct dns_req *r;
	size_t i;

	if (d == NULL)
		return;
	/* Without fail_requests evdns drops lookups without calling back. */
	for (i = 0; i < d->nservers; i++)
		evdns_base_free(d->evdns[i], 0);
	while ((r = d->reqs) != NULL) {
		d->reqs = r->next;
		if (r->defer != NULL)
			event_free(r->defer);
		free(r);
	}
	free(d);
}
