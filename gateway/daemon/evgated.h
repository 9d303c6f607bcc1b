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
 */
#ifndef EVG_EVGATED_H
#define EVG_EVGATED_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/module.h"

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
	EVGATED_NMODULES
};

struct evgated {
	struct event_base	*base;
	struct config		*conf;		/* the configuration in force */
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
/* The whole status as a new object: daemon fields plus every section. */
struct json_object *evgated_status(struct evgated *);
/* Stop every module (newest first) and free the daemon and its config. */
void		 evgated_free(struct evgated *);

#endif
