/*
 * role: what one box of a redundant pair does in each of its roles, and
 * how the daemon gets there (doc/operator-guide.md, "Running a pair").
 *
 * keepalived holds the virtual address (lan.address) on the master and
 * tells evgated its role through its notify script (evgatectl role
 * master|backup|fault).  The daemon then applies the configuration in
 * force again, as a role view (role_view_new), through modules_apply():
 * all or nothing, as a reload.
 *
 *   single  no pair section: the configuration as it is
 *   master  the configuration as it is: everything serves, on the
 *           virtual address
 *   backup  the relay has no listeners, the NTP server is off (its
 *   fault   upstream client keeps the time), dnsmasq is stopped (the
 *           lease table stays and takes the peer's leases); the resolver
 *           keeps the allowlists' exact names and the NTP servers' names
 *           fresh (warm_*), so that a takeover starts with a warm cache
 *
 * A box starts as master when the virtual address is already on
 * lan.interface (keepalived holds it: evgated was restarted under a
 * running master), else as backup; keepalived's next notify corrects it.
 * And when a notify is lost (keepalived stopped and took the address
 * with it, its notify script killed before it read the FIFO), the daemon
 * follows the address itself: master without it, or backup with it, for
 * ROLE_VIP_FOLLOW_MS, and it takes the role the address says.
 * role_health() is what "evgatectl health", keepalived's track script,
 * asks.
 */
#ifndef EVG_ROLE_H
#define EVG_ROLE_H

#include <netinet/in.h>
#include <stdint.h>

#include "site/pair_proto.h"

struct config;
struct event_base;
struct json_object;
struct resolver;
struct warm;

#define WARM_INTERVAL_MS	5000	/* look at the cache this often */
#define WARM_MARGIN_MS		20000	/* refresh what expires sooner */
#define ROLE_MISMATCH_GRACE_MS	5000	/* backup with the address: health */
#define ROLE_VIP_CHECK_MS	1000	/* is the address where the role says? */
#define ROLE_VIP_FOLLOW_MS	3000	/* apart this long: follow the address */

/* Does a box in role r serve the chargers? */
int		 role_serves(enum pair_role r);
/*
 * The configuration the modules get in role r: base itself in substance
 * (a shallow copy pointing into it; base must outlive it), with the
 * relay's listeners, the NTP server and dnsmasq off for backup and fault.
 */
struct config	*role_view_new(const struct config *base, enum pair_role r);
void		 role_view_free(struct config *view);

/* Is addr one of ifname's addresses now?  1, 0, or -1 (cannot tell). */
int		 role_vip_held(const char *ifname, struct in_addr addr);

/*
 * The warm cache: while on, every WARM_INTERVAL_MS each exact allowlist
 * name of base's relay and each NTP server name is refreshed when it
 * would expire within WARM_MARGIN_MS (resolver_prefetch).  warm_set
 * takes the names (copied) and switches it on or off.
 */
struct warm	*warm_new(struct event_base *, struct resolver *);
void		 warm_set(struct warm *, const struct config *base, int on);
void		 warm_free(struct warm *);
/* The "warm" member of the pair status (a new object). */
struct json_object *warm_status(const struct warm *);

/*
 * The health verdict from the daemon's whole status: {"healthy": bool,
 * "checks": [{"name", "ok", "detail"}]}.  role and vip (role_vip_held,
 * -1 unknown) for a pair; mismatch_ms: how long a non-serving role has
 * seen the virtual address on its interface.
 */
struct json_object *role_health(struct json_object *status,
		    enum pair_role role, int vip, uint64_t mismatch_ms);

#endif
