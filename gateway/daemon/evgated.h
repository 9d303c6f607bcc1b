/*
 * evgated: the daemon as a whole -- its modules on one event loop, the
 * configuration in force, reloads, status -- apart from the process
 * around it (options, privileges, signals: evgated.c), so that tests can
 * run a whole daemon in-process.
 *
 * The modules, in the order they are prepared and committed (and freed
 * in reverse: the relay's last connections still reach the fleet log):
 *	netpolicy where the gateway may connect upstream (relay, ship)
 *	control   the control socket (evgatectl)
 *	resolver  upstream name resolution
 *	fleetlog  the events' sink
 *	ship      shipping the fleet log (after fleetlog: its new directory)
 *	checkpoint the open connections' end records, kept for a crash
 *		  (after fleetlog: its directory; freed before fleetlog and
 *		  ship, so that its last flush holds the relay's last records)
 *	metrics   the Prometheus endpoint
 *	site      DHCP and DNS through dnsmasq, the lease table
 *	ntp       the time service (after resolver: names of servers)
 *	relay     the TLS relay (after resolver), reporting through
 *		  relay_report.c
 *	pair      the link to the other box of a redundant pair (after
 *		  site: it merges into the site's lease table)
 *
 * With a pair section the modules are not given the configuration as
 * loaded but its view for the box's role (daemon/role.h): a role change
 * (evgatectl role, from keepalived) applies the same configuration again
 * in another view, all or nothing, as a reload does.
 */
#ifndef EVG_EVGATED_H
#define EVG_EVGATED_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/module.h"
#include "site/pair_proto.h"

struct event_base;
struct event;
struct config;
struct netpolicy;
struct relay;
struct ntp;
struct resolver;
struct control;
struct fleetlog;
struct checkpoint;
struct metrics;
struct ship;
struct site;
struct pair;
struct warm;
struct json_object;

enum evgated_module {
	EVGATED_NETPOLICY = 0,
	EVGATED_CONTROL,
	EVGATED_RESOLVER,
	EVGATED_FLEETLOG,
	EVGATED_SHIP,
	EVGATED_CHECKPOINT,
	EVGATED_METRICS,
	EVGATED_SITE,
	EVGATED_NTP,
	EVGATED_RELAY,
	EVGATED_PAIR,
	EVGATED_NMODULES
};

struct evgated {
	struct event_base	*base;
	struct config		*conf;		/* the configuration in force */
	struct config		*view;		/* its view for role: what the
						 * modules were given */
	const char		*conf_path;
	struct module		 mods[EVGATED_NMODULES];
	struct netpolicy	*netpolicy;	/* upstream address policy */
	struct control		*control;
	struct fleetlog		*fleetlog;	/* the events sink */
	struct checkpoint	*checkpoint;	/* crash accounting */
	struct resolver		*resolver;
	struct relay		*relay;
	struct ntp		*ntp;		/* time service */
	struct site		*site;		/* DHCP, DNS: dnsmasq, leases */
	struct metrics		*metrics;	/* Prometheus endpoint */
	struct ship		*ship;		/* to a fleet collector */
	struct pair		*pair;		/* to the other box */
	struct warm		*warm;		/* the backup's DNS cache */
	enum pair_role		 role;		/* single without a pair */
	uint64_t		 role_since_ms;	/* wall clock */
	uint64_t		 failover_ms;	/* last takeover as master */
	unsigned long		 role_changes;
	uint64_t		 mismatch_since_ms;	/* backup with the VIP */
	uint64_t		 vip_disagree_ms;	/* role and VIP apart */
	struct event		*vip_timer;	/* follows the VIP */
	uint64_t		 start_wall_ms;
	uint64_t		 start_mono_ms;
	uint64_t		 loaded_wall_ms;	/* when conf was loaded */
	unsigned long		 reloads;	/* successful */
	unsigned long		 reload_failures;
	uint64_t		 last_reload_wall_ms;
	char			 last_error[1024];	/* of the last reload */
	int			 draining;
	unsigned		 max_conns;	/* what the fd limit allows */
};

/*
 * A daemon on base with conf (taken over) in force: every module made,
 * wired and given conf; nofile is the descriptor limit (RLIMIT_NOFILE).  NULL with err when a module refuses conf.
 * conf_path is what reloads read (it must stay valid).
 */
struct evgated	*evgated_new(struct event_base *, const char *conf_path,
		    struct config *conf, unsigned nofile, char *err,
		    size_t errlen);
/*
 * Offer conf to every module: on success it is in force (taken over; the
 * old one freed) and 0 returned; otherwise nothing changed, conf is
 * freed, -1 and err.  Counted and reported as a reload.
 */
int		 evgated_apply(struct evgated *, struct config *conf, char *err,
		    size_t errlen);
/* Re-read conf_path and apply it; 0 applied, -1 kept the old one. */
int		 evgated_reload(struct evgated *);
/*
 * Take role r (a pair's box only; keepalived's notify through evgatectl
 * role): the configuration in force applied again in r's view.  0 (also
 * when r is the role already), or -1 with err and the old role kept.
 * reason is for the log and the role event.
 */
int		 evgated_set_role(struct evgated *, enum pair_role r,
		    const char *reason, char *err, size_t errlen);
/* The whole status as a new object: daemon fields plus every section. */
struct json_object *evgated_status(struct evgated *);
/* Stop every module (newest first) and free the daemon and its config. */
void		 evgated_free(struct evgated *);

#endif
