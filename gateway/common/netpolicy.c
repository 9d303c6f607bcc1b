/*
 * netpolicy: the upstream address policy (see netpolicy.h).
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/cfg.h"
#include "common/log.h"
#include "common/netpolicy.h"
#include "common/util.h"

#define MAX_PREFIXES	64
#define MAX_LISTENERS	256

struct netpolicy {
	struct netpolicy_prefix	*allow;
	size_t			 nallow;
	struct sockaddr_storage	*listen;
	size_t			 nlisten;
	/* the gateway's own addresses and broadcast addresses */
	union sockaddr_any	*local;
	size_t			 nlocal;
	union sockaddr_any	*bcast;
	size_t			 nbcast;
	int			 dirty;		/* read them again first */
	/* prepared, for the next commit */
	int			 prepared;
	struct netpolicy_prefix	*next_allow;
	size_t			 next_nallow;
	struct sockaddr_storage	*next_listen;
	size_t			 next_nlisten;
	int			 nlfd;
	struct event		*nlev;
	struct netpolicy_stats	 st;
};

static struct netpolicy_prefix *prefixes_dup(const struct netpolicy_prefix *,
		    size_t);

static const char *const class_names[NETPOLICY_NCLASSES] = {
	"public", "unspecified", "multicast", "broadcast", "reserved",
	"loopback", "link-local", "private", "shared", "unique-local",
	"local", "own-listener",
};

const char *
netpolicy_class_str(enum netpolicy_class c)
{
	return (unsigned)c < NETPOLICY_NCLASSES ? class_names[c] : "?";
}

/* --- prefixes -------------------------------------------------------- */

int
netpolicy_parse_prefix(const char *s, struct netpolicy_prefix *p,
    const char **why)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long len;
	unsigned max, i, bit;

	memset(p, 0, sizeof(*p));
	if (strlcpy(buf, s, sizeof(buf)) >= sizeof(buf) ||
	    (slash = strchr(buf, '/')) == NULL) {
		*why = "expected an address and a prefix length, such as "
		    "10.0.0.0/8";
		return -1;
	}
	*slash = '\0';
	if (inet_pton(AF_INET, buf, p->addr) == 1) {
		p->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		p->family = AF_INET6;
		max = 128;
	} else {
		*why = "not an IP address";
		return -1;
	}
	len = strtoul(slash + 1, &end, 10);
	if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || len > max) {
		*why = "bad prefix length";
		return -1;
	}
	p->len = (unsigned)len;
	for (i = p->len; i < max; i++) {
		bit = 7 - i % 8;
		if (p->addr[i / 8] & (1U << bit)) {
			*why = "the address has bits set after the prefix "
			    "length";
			return -1;
		}
	}
	return 0;
}

static int
bits_match(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned full = len / 8, rest = len % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[full] ^ b[full]) & (0xff00 >> rest)) == 0;
}

int
netpolicy_prefix_contains(const struct netpolicy_prefix *p,
    const struct sockaddr *sa)
{
	if (sa->sa_family != p->family)
		return 0;
	if (sa->sa_family == AF_INET)
		return bits_match((const uint8_t *)
		    &((const struct sockaddr_in *)sa)->sin_addr, p->addr, p->len);
	return bits_match(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr,
	    p->addr, p->len);
}

struct prefix_list {
	struct netpolicy_prefix	*v;
};

static int
prefix_item(struct cfg_ctx *ctx, struct cfg_node *node, size_t idx,
    void *arg)
{
	struct prefix_list *l = arg;
	const char *s, *why;

	if ((s = cfg_scalar(ctx, node, "a prefix such as 10.0.0.0/8",
	    NULL)) == NULL)
		return -1;
	if (netpolicy_parse_prefix(s, &l->v[idx], &why) == -1)
		return cfg_error(ctx, node, "\"%.64s\": %s", s, why);
	l->v[idx].text = xstrdup(s);
	return 0;
}

int
netpolicy_cfg_prefixes(struct cfg_ctx *ctx, struct cfg_node *node,
    struct netpolicy_prefix **out, size_t *n)
{
	struct prefix_list l;
	size_t count;

	if (cfg_list_len(ctx, node, "a list of prefixes", &count) == -1)
		return -1;
	if (count > MAX_PREFIXES)
		return cfg_error(ctx, node, "more than %d prefixes",
		    MAX_PREFIXES);
	l.v = xcalloc(count ? count : 1, sizeof(*l.v));
	/* Owned by the section from here on, so it is freed either way. */
	*out = l.v;
	*n = count;
	return cfg_seq(ctx, node, prefix_item, &l);
}

void
netpolicy_prefixes_free(struct netpolicy_prefix *p, size_t n)
{
	size_t i;

	for (i = 0; p != NULL && i < n; i++)
		free(p[i].text);
	free(p);
}

/* --- classes --------------------------------------------------------- */

void
netpolicy_unmap(union sockaddr_any *sa)
{
	struct sockaddr_in sin;

	if (sa->sa.sa_family != AF_INET6 ||
	    !IN6_IS_ADDR_V4MAPPED(&sa->sin6.sin6_addr))
		return;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = sa->sin6.sin6_port;
	memcpy(&sin.sin_addr, &sa->sin6.sin6_addr.s6_addr[12], 4);
	memset(sa, 0, sizeof(*sa));
	sa->sin = sin;
}

static enum netpolicy_class
classify4(uint32_t a)
{
	if ((a >> 24) == 0)
		return NETPOLICY_UNSPECIFIED;		/* 0.0.0.0/8 */
	if (a == 0xffffffffU)
		return NETPOLICY_BROADCAST;
	if ((a >> 28) == 0xe)
		return NETPOLICY_MULTICAST;		/* 224.0.0.0/4 */
	if ((a >> 28) == 0xf)
		return NETPOLICY_RESERVED;		/* 240.0.0.0/4 */
	if ((a >> 24) == 127)
		return NETPOLICY_LOOPBACK;
	if ((a >> 16) == 0xa9fe)
		return NETPOLICY_LINK_LOCAL;		/* 169.254.0.0/16 */
	if ((a >> 24) == 10 || (a >> 20) == 0xac1 ||	/* 172.16.0.0/12 */
	    (a >> 16) == 0xc0a8)			/* 192.168.0.0/16 */
		return NETPOLICY_PRIVATE;
	if ((a >> 22) == (100U << 2 | 1))		/* 100.64.0.0/10 */
		return NETPOLICY_SHARED;
	return NETPOLICY_PUBLIC;
}

enum netpolicy_class
netpolicy_classify(const struct sockaddr *sa)
{
	const struct in6_addr *a6;

	if (sa->sa_family == AF_INET)
		return classify4(ntohl(
		    ((const struct sockaddr_in *)sa)->sin_addr.s_addr));
	if (sa->sa_family != AF_INET6)
		return NETPOLICY_UNSPECIFIED;
	a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (IN6_IS_ADDR_UNSPECIFIED(a6))
		return NETPOLICY_UNSPECIFIED;
	if (IN6_IS_ADDR_V4MAPPED(a6))
		return classify4((uint32_t)a6->s6_addr[12] << 24 |
		    (uint32_t)a6->s6_addr[13] << 16 |
		    (uint32_t)a6->s6_addr[14] << 8 | a6->s6_addr[15]);
	if (IN6_IS_ADDR_LOOPBACK(a6))
		return NETPOLICY_LOOPBACK;
	if (IN6_IS_ADDR_MULTICAST(a6))
		return NETPOLICY_MULTICAST;
	if (IN6_IS_ADDR_LINKLOCAL(a6))
		return NETPOLICY_LINK_LOCAL;
	if ((a6->s6_addr[0] & 0xfe) == 0xfc)
		return NETPOLICY_UNIQUE_LOCAL;		/* fc00::/7 */
	return NETPOLICY_PUBLIC;
}

/* --- the gateway's own addresses ------------------------------------- */

static int
same_addr(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static void
add_addr(union sockaddr_any **v, size_t *n, const struct sockaddr *sa)
{
	size_t len = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);

	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	memset(&(*v)[*n], 0, sizeof(**v));
	memcpy(&(*v)[*n], sa, len);
	(*n)++;
}

void
netpolicy_refresh(struct netpolicy *np)
{
	struct ifaddrs *ifa, *i;

	free(np->local);
	free(np->bcast);
	np->local = np->bcast = NULL;
	np->nlocal = np->nbcast = 0;
	np->dirty = 0;
	if (getifaddrs(&ifa) == -1) {
		log_warn("netpolicy: getifaddrs");
		np->dirty = 1;		/* try again at the next check */
		return;
	}
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
		    i->ifa_addr->sa_family != AF_INET6))
			continue;
		add_addr(&np->local, &np->nlocal, i->ifa_addr);
		/*
		 * The subnet's broadcast, computed: ifa_broadaddr holds the
		 * address itself when none was set, and a /31 or /32 has
		 * no broadcast at all.
		 */
		if (i->ifa_addr->sa_family == AF_INET && i->ifa_netmask != NULL &&
		    (i->ifa_flags & IFF_BROADCAST)) {
			struct sockaddr_in b;
			uint32_t a = ntohl(((struct sockaddr_in *)
			    i->ifa_addr)->sin_addr.s_addr);
			uint32_t m = ntohl(((struct sockaddr_in *)
			    i->ifa_netmask)->sin_addr.s_addr);

			if (m >= 0xfffffffeU)
				continue;
			memset(&b, 0, sizeof(b));
			b.sin_family = AF_INET;
			b.sin_addr.s_addr = htonl(a | ~m);
			add_addr(&np->bcast, &np->nbcast, (struct sockaddr *)&b);
		}
	}
	freeifaddrs(ifa);
	np->st.local_addrs = np->nlocal;
}

/* The kernel announced an address change: read them again when needed. */
static void
netlink_cb(evutil_socket_t fd, short what, void *arg)
{
	struct netpolicy *np = arg;
	char buf[8192];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	np->dirty = 1;
}

struct netpolicy *
netpolicy_new(struct event_base *base)
{
	struct netpolicy *np = xcalloc(1, sizeof(*np));
	struct sockaddr_nl snl;

	np->nlfd = -1;
	np->dirty = 1;
	if (base == NULL)
		return np;
	if ((np->nlfd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, NETLINK_ROUTE)) == -1) {
		log_warn("netpolicy: netlink socket (addresses are read at "
		    "each check)");
		return np;
	}
	memset(&snl, 0, sizeof(snl));
	snl.nl_family = AF_NETLINK;
	snl.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
	if (bind(np->nlfd, (struct sockaddr *)&snl, sizeof(snl)) == -1) {
		log_warn("netpolicy: netlink bind (addresses are read at "
		    "each check)");
		close(np->nlfd);
		np->nlfd = -1;
		return np;
	}
	np->nlev = event_new(base, np->nlfd, EV_READ | EV_PERSIST, netlink_cb,
	    np);
	event_add(np->nlev, NULL);
	return np;
}

void
netpolicy_free(struct netpolicy *np)
{
	if (np == NULL)
		return;
	if (np->nlev != NULL)
		event_free(np->nlev);
	if (np->nlfd != -1)
		close(np->nlfd);
	netpolicy_abort(np);
	netpolicy_prefixes_free(np->allow, np->nallow);
	free(np->listen);
	free(np->local);
	free(np->bcast);
	free(np);
}

void
netpolicy_set_allowed(struct netpolicy *np,
    const struct netpolicy_prefix *p, size_t n)
{
	netpolicy_prefixes_free(np->allow, np->nallow);
	np->allow = prefixes_dup(p, n);
	np->nallow = n;
}

void
netpolicy_set_listeners(struct netpolicy *np,
    const struct sockaddr_storage *ss, size_t n)
{
	free(np->listen);
	np->listen = xcalloc(n ? n : 1, sizeof(*np->listen));
	if (n > 0)
		memcpy(np->listen, ss, n * sizeof(*ss));
	np->nlisten = n;
}

static struct netpolicy_prefix *
prefixes_dup(const struct netpolicy_prefix *p, size_t n)
{
	struct netpolicy_prefix *v = xcalloc(n ? n : 1, sizeof(*v));
	size_t i;

	for (i = 0; i < n; i++) {
		v[i] = p[i];
		v[i].text = p[i].text ? xstrdup(p[i].text) : NULL;
	}
	return v;
}

void
netpolicy_prepare(struct netpolicy *np, const struct netpolicy_prefix *p,
    size_t n, const struct sockaddr_storage *ss, size_t nl)
{
	netpolicy_abort(np);
	np->next_allow = prefixes_dup(p, n);
	np->next_nallow = n;
	np->next_listen = xcalloc(nl ? nl : 1, sizeof(*ss));
	if (nl > 0)
		memcpy(np->next_listen, ss, nl * sizeof(*ss));
	np->next_nlisten = nl;
	np->prepared = 1;
}

void
netpolicy_abort(struct netpolicy *np)
{
	netpolicy_prefixes_free(np->next_allow, np->next_nallow);
	free(np->next_listen);
	np->next_allow = NULL;
	np->next_listen = NULL;
	np->next_nallow = np->next_nlisten = 0;
	np->prepared = 0;
}

void
netpolicy_commit(struct netpolicy *np)
{
	if (!np->prepared)
		return;
	netpolicy_prefixes_free(np->allow, np->nallow);
	free(np->listen);
	np->allow = np->next_allow;
	np->nallow = np->next_nallow;
	np->listen = np->next_listen;
	np->nlisten = np->next_nlisten;
	np->next_allow = NULL;
	np->next_listen = NULL;
	np->next_nallow = np->next_nlisten = 0;
	np->prepared = 0;
}

static int
is_local(struct netpolicy *np, const struct sockaddr *sa)
{
	size_t i;

	for (i = 0; i < np->nlocal; i++)
		if (same_addr(&np->local[i].sa, sa))
			return 1;
	return 0;
}

static int
is_wildcard(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static uint16_t
port_of(const struct sockaddr *sa)
{
	return ntohs(sa->sa_family == AF_INET ?
	    ((const struct sockaddr_in *)sa)->sin_port :
	    ((const struct sockaddr_in6 *)sa)->sin6_port);
}

/* Would a connection to sa reach one of evgated's own listeners? */
static int
is_own_listener(struct netpolicy *np, const struct sockaddr *sa, int local)
{
	const struct sockaddr *l;
	size_t i;

	for (i = 0; i < np->nlisten; i++) {
		l = (const struct sockaddr *)&np->listen[i];
		if (l->sa_family != sa->sa_family ||
		    port_of(l) != port_of(sa))
			continue;
		if (same_addr(l, sa) || (local && is_wildcard(l)))
			return 1;
	}
	return 0;
}

static int
allowed_by_prefix(struct netpolicy *np, const struct sockaddr *sa)
{
	size_t i;

	for (i = 0; i < np->nallow; i++)
		if (netpolicy_prefix_contains(&np->allow[i], sa))
			return 1;
	return 0;
}

static enum netpolicy_class
refuse(struct netpolicy *np, enum netpolicy_class c)
{
	np->st.refused[c]++;
	return c;
}

enum netpolicy_class
netpolicy_check(struct netpolicy *np, union sockaddr_any *sa, int configured)
{
	enum netpolicy_class c;
	int local;
	size_t i;

	np->st.checks++;
	if (np->dirty)
		netpolicy_refresh(np);
	netpolicy_unmap(sa);
	c = netpolicy_classify(&sa->sa);
	switch (c) {
	case NETPOLICY_UNSPECIFIED:
	case NETPOLICY_MULTICAST:
	case NETPOLICY_BROADCAST:
	case NETPOLICY_RESERVED:
		return refuse(np, c);
	default:
		break;
	}
	for (i = 0; i < np->nbcast; i++)
		if (same_addr(&np->bcast[i].sa, &sa->sa))
			return refuse(np, NETPOLICY_BROADCAST);
	local = c == NETPOLICY_LOOPBACK || is_local(np, &sa->sa);
	if (is_own_listener(np, &sa->sa, local))
		return refuse(np, NETPOLICY_OWN_LISTENER);
	if (c == NETPOLICY_PUBLIC && local)
		c = NETPOLICY_LOCAL;
	if (c == NETPOLICY_PUBLIC || configured ||
	    allowed_by_prefix(np, &sa->sa))
		return NETPOLICY_PUBLIC;
	return refuse(np, c);
}

void
netpolicy_stats(const struct netpolicy *np, struct netpolicy_stats *st)
{
	*st = np->st;
}
