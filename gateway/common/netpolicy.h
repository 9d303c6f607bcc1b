/*
 * netpolicy: which addresses the gateway may connect to on the WAN side.
 *
 * The relay connects to whatever the site's DNS answers for an allowed
 * name, and the shipper to whatever its collector's name resolves to.  A
 * bad or hostile answer must not turn the gateway into a way into the
 * box itself or into the networks behind it (SSRF through DNS).  So every
 * address is checked before a connect, after a v4-mapped IPv6 address is
 * unmapped:
 *
 *   never, whatever the configuration (NETPOLICY_NEVER_*):
 *     unspecified (0.0.0.0/8, ::), multicast (224.0.0.0/4, ff00::/8),
 *     broadcast (255.255.255.255, a local interface's broadcast),
 *     reserved (240.0.0.0/4), and any local address with a port on which
 *     evgated itself listens (the loop, on every local address when a
 *     listener is on the wildcard);
 *   only when wan.allow_prefixes lists it:
 *     loopback (127.0.0.0/8, ::1), link-local (169.254.0.0/16,
 *     fe80::/10), private (RFC 1918), shared (RFC 6598, 100.64.0.0/10),
 *     unique local (fc00::/7), and every other local address of the
 *     gateway (its WAN address too);
 *   everything else: allowed.
 *
 * Production sites need no prefix list; test rigs and the benchmark,
 * which run the "cloud" on loopback or private addresses, do.  An address
 * the operator wrote into the configuration (an upstream proxy or a log
 * collector given as an IP address) is the operator's explicit choice:
 * only the "never" rules apply to it.  A name of theirs that resolves is
 * checked like any answer.
 *
 * The gateway's own addresses are read with getifaddrs() and read again
 * after the kernel announces an address change (a netlink socket on the
 * daemon's loop), so the check costs no system call per connection.
 */
#ifndef EVG_NETPOLICY_H
#define EVG_NETPOLICY_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfg.h"
#include "common/util.h"

struct event_base;
struct netpolicy;

/* A prefix of wan.allow_prefixes. */
struct netpolicy_prefix {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];	/* network byte order */
	unsigned	 len;		/* prefix length */
	char		*text;		/* as written */
};

/* What an address is, for the policy (and for messages). */
enum netpolicy_class {
	NETPOLICY_PUBLIC = 0,
	NETPOLICY_UNSPECIFIED,
	NETPOLICY_MULTICAST,
	NETPOLICY_BROADCAST,
	NETPOLICY_RESERVED,
	NETPOLICY_LOOPBACK,
	NETPOLICY_LINK_LOCAL,
	NETPOLICY_PRIVATE,
	NETPOLICY_SHARED,
	NETPOLICY_UNIQUE_LOCAL,
	NETPOLICY_LOCAL,	/* one of the gateway's own addresses */
	NETPOLICY_OWN_LISTENER,	/* where evgated itself listens: a loop */
	NETPOLICY_NCLASSES
};

/*
 * A cfg_key_fn for a list of prefixes ("10.0.0.0/8", "fd00::/8"); arg: a
 * struct netpolicy_prefix ** with a count after it (see cfg_wan).  The
 * host part must be zero.
 */
int	netpolicy_cfg_prefixes(struct cfg_ctx *, struct cfg_node *,
	    struct netpolicy_prefix **, size_t *);
void	netpolicy_prefixes_free(struct netpolicy_prefix *, size_t);

/* Parse "addr/len" into p (text not set).  Pure; 0, or -1 with a reason. */
int	netpolicy_parse_prefix(const char *s, struct netpolicy_prefix *p,
	    const char **why);
/* Does p contain sa (an unmapped address)? */
int	netpolicy_prefix_contains(const struct netpolicy_prefix *,
	    const struct sockaddr *);

/* ::ffff:a.b.c.d into a.b.c.d, in place; anything else unchanged. */
void	netpolicy_unmap(union sockaddr_any *);
/* The class of an address by its value alone (never LOCAL or OWN). */
enum netpolicy_class netpolicy_classify(const struct sockaddr *);
const char *netpolicy_class_str(enum netpolicy_class);

/*
 * The policy in force.  base may be NULL (no change notices: the local
 * addresses are read once per netpolicy_refresh call).
 */
struct netpolicy *netpolicy_new(struct event_base *);
void	netpolicy_free(struct netpolicy *);
/* The allowed prefixes (copied). */
void	netpolicy_set_allowed(struct netpolicy *,
	    const struct netpolicy_prefix *, size_t);
/* evgated's own TCP listening sockets (address and port), copied. */
void	netpolicy_set_listeners(struct netpolicy *,
	    const struct sockaddr_storage *, size_t);
/*
 * The module lifecycle (daemon/module.h): prepare copies the next
 * prefixes and listeners (it cannot fail), commit puts them in force,
 * abort drops them.  Checks in flight are one call each: none spans it.
 */
void	netpolicy_prepare(struct netpolicy *, const struct netpolicy_prefix *,
	    size_t, const struct sockaddr_storage *, size_t);
void	netpolicy_commit(struct netpolicy *);
void	netpolicy_abort(struct netpolicy *);
/* Read the gateway's addresses again now. */
void	netpolicy_refresh(struct netpolicy *);

/*
 * May the gateway connect to sa (with its port)?  sa is unmapped in
 * place.  configured: sa was written in the configuration as an address
 * (only the "never" rules apply).  Returns NETPOLICY_PUBLIC when allowed
 * -- also for a class that an allowed prefix covers -- else the class
 * that forbids it.
 */
enum netpolicy_class netpolicy_check(struct netpolicy *, union sockaddr_any *,
	    int configured);

/* Counters: checks made and addresses refused, for the status. */
struct netpolicy_stats {
	uint64_t	 checks;
	uint64_t	 refused[NETPOLICY_NCLASSES];
	size_t		 local_addrs;
};
void	netpolicy_stats(const struct netpolicy *, struct netpolicy_stats *);

#endif
