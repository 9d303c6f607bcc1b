/*
 * metrics: Prometheus text exposition (format 0.0.4) over HTTP, on an
 * admin address (metrics.listen, e.g. 127.0.0.1:9310), path /metrics.
 *
 * Every scrape renders the daemon's status (evgated_status: the same
 * JSON that "evgatectl status" shows) through one table that maps JSON
 * paths to metric names, types, help and labels, e.g.
 *	relay.refused.*   -> evgate_relay_refused_total{reason="<key>"}
 *	relay.bytes_up    -> evgate_relay_bytes_total{direction="up"}
 * A path that is missing or not a number is skipped, so a module that
 * adds a status section only needs rows in the table.  HTTP via libevent's
 * evhttp on the daemon's loop; no authentication (bind it to an admin
 * address or loopback).
 */
#ifndef EVG_METRICS_H
#define EVG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/cfg.h"

struct event_base;
struct json_object;
struct metrics;

#define METRICS_DEFAULT_PORT	9310
#define METRICS_PATH		"/metrics"
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* The metrics section of evgated.yaml; NULL in struct config: off. */
struct cfg_metrics {
	struct cfg_sockaddr	 listen;	/* loopback, unless allow_remote */
	int			 allow_remote;
	struct cfg_mark		 listen_mark;
};
/* Its parser (arg: a struct cfg_metrics ** for a new struct), and free. */
int	metrics_cfg_section(struct cfg_ctx *, struct cfg_node *, void *);
void	metrics_cfg_free(struct cfg_metrics *);

/* Where the numbers come from: a new status object per scrape. */
typedef struct json_object *(*metrics_status_fn)(void *);

struct metrics	*metrics_new(struct event_base *, metrics_status_fn, void *);
/*
 * The module lifecycle (daemon/module.h).  prepare binds a new address
 * (c NULL: prepare to stop) beside the old one, without serving on it
 * yet; 0, or -1 with err and nothing changed.  commit serves on the new
 * socket and closes the old one (a scrape in progress on it is cut);
 * abort closes the new socket.  The same address keeps its socket.
 */
int		 metrics_prepare(struct metrics *, const struct cfg_metrics *,
		    char *err, size_t errlen);
void		 metrics_commit(struct metrics *);
void		 metrics_abort(struct metrics *);
/* prepare and commit in one (tests). */
int		 metrics_configure(struct metrics *,
		    const struct cfg_metrics *, char *err, size_t errlen);
void		 metrics_free(struct metrics *);
/* The port actually bound (for listen port 0, in tests), or 0. */
uint16_t	 metrics_port(const struct metrics *);
/* The status section "metrics" (a new object). */
struct json_object *metrics_status(void *metrics);

/*
 * Render status as exposition text: a new NUL-terminated string (free
 * it), its length in *len.  Pure: no I/O.
 */
char		*metrics_render(struct json_object *status, size_t *len);

#endif
