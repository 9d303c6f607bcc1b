/*
 * evgated: the daemon's shared state, as seen by the modules it wires
 * together (relay, resolver, control; later dnsmasq, ntp, fleetlog).
 */
#ifndef EVG_EVGATED_H
#define EVG_EVGATED_H

#include <stdint.h>

struct event_base;
struct event;
struct config;
struct relay;
struct ntp;
struct resolver;
struct control;
struct fleetlog;
struct metrics;
struct ship;
struct site;
struct json_object;

/* A module's part of the status (a new object), see evgated_status_add. */
typedef struct json_object *(*evgated_status_fn)(void *arg);

#define EVGATED_MAX_STATUS	16

struct evgated {
	struct event_base	*base;
	struct config		*conf;		/* the configuration in force */
	const char		*conf_path;
	struct resolver		*resolver;
	struct relay		*relay;
	struct ntp		*ntp;		/* time service */
	struct control		*control;
	struct fleetlog		*fleetlog;	/* the events sink */
	struct metrics		*metrics;	/* Prometheus endpoint */
	struct ship		*ship;		/* to a fleet collector */
	struct site		*site;		/* DHCP, DNS: dnsmasq, leases */
	uint64_t		 start_wall_ms;
	uint64_t		 start_mono_ms;
	uint64_t		 loaded_wall_ms;	/* when conf was loaded */
	unsigned long		 reloads;	/* successful */
	unsigned long		 reload_failures;
	uint64_t		 last_reload_wall_ms;
	char			 last_error[1024];	/* of the last reload */
	int			 draining;
	uint64_t		 drain_deadline;
	struct event		*drain_timer;
	struct event		*sig_term, *sig_int, *sig_hup;
	unsigned		 max_conns;	/* what the fd limit allows */
	struct {
		const char		*name;
		evgated_status_fn	 fn;
		void			*arg;
	}			 status[EVGATED_MAX_STATUS];
	size_t			 nstatus;
};

/* Re-read the configuration file; 0 applied, -1 kept the old one. */
int	evgated_reload(struct evgated *);

/*
 * Add a section (name must stay valid) to the daemon's status: what
 * "evgatectl status" shows and what the metrics exporter reads.  Modules
 * register once at start-up.
 */
void	evgated_status_add(struct evgated *, const char *name,
	    evgated_status_fn, void *arg);
/* The whole status as a new object: daemon fields plus every section. */
struct json_object *evgated_status(struct evgated *);

#endif
