/*
 * relay_conf: the relay section of evgated.yaml (see evgated.yaml(5)),
 * parsed and checked into an immutable struct cfg_relay, and the one rule
 * that decides which names a route allows.
 *
 * The relay's state machine (relay.c) and the reload sweep both decide
 * through route_allows(); the site's DNS steering (dnsmasq.c) reads the
 * same routes.  Pure: no I/O.
 */
#ifndef EVG_RELAY_CONF_H
#define EVG_RELAY_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "common/cfg.h"

struct cfg_route {
	uint16_t	 port;		/* where chargers connect */
	uint16_t	 upstream_port;	/* where we connect (default: port) */
	char		**allow;	/* exact names or "*.suffix" */
	size_t		 nallow;
};

struct cfg_relay {
	struct cfg_sockaddr	*listen;	/* addresses, port unused */
	size_t			 nlisten;
	struct cfg_route	*routes;
	size_t			 nroutes;
	unsigned		 per_client;	/* connections per client IP */
	unsigned		 total;		/* connections in all */
	uint64_t		 hello_ms;	/* whole hello must arrive */
	uint64_t		 connect_ms;	/* resolve + connect upstream */
	uint64_t		 idle_ms;	/* no byte either way */
	uint64_t		 drain_ms;	/* grace on SIGTERM */
	char			*proxy_host;	/* upstream HTTP CONNECT proxy */
	uint16_t		 proxy_port;
	uint16_t		 transparent_port;	/* 0: off */
};

/*
 * The relay section (a cfg_key_fn): arg is a struct cfg_relay ** that
 * receives a new struct (freed with relay_conf_free, also on error).
 */
int	relay_conf_section(struct cfg_ctx *, struct cfg_node *, void *arg);
void	relay_conf_free(struct cfg_relay *);

/* The route for a listening port, or NULL (r may be NULL). */
const struct cfg_route *relay_conf_route(const struct cfg_relay *,
	    uint16_t port);

/* Does route allow name (len bytes, no trailing dot)?  route may be NULL. */
int	route_allows(const struct cfg_route *, const char *name, size_t len);

/* Does route name exactly this name (not only through a wildcard)? */
int	route_names_exactly(const struct cfg_route *, const char *name,
	    size_t len);

/* The decision for a name on a port, as the relay takes it. */
enum route_verdict {
	ROUTE_ALLOWED = 0,
	ROUTE_NOT_ALLOWED,	/* on no route at all */
	ROUTE_WRONG_PORT,	/* allowed, but on another port */
};
enum route_verdict relay_conf_decide(const struct cfg_relay *, uint16_t port,
	    const char *name, size_t len);

#endif
