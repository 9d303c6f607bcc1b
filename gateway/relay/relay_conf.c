/*
 * relay_conf: the relay section of evgated.yaml (see relay_conf.h).
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cfg.h"
#include "common/match.h"
#include "common/util.h"
#include "relay/relay_conf.h"

static int
relay_listen_item(struct cfg_ctx *ctx, struct cfg_node *node, size_t idx,
    void *arg)
{
	struct cfg_relay *relay = arg;
	struct cfg_sockaddr *a = &relay->listen[idx];
	size_t i;

	if (cfg_addr(ctx, node, 0, a) == -1)
		return -1;
	if (strchr(a->text, ']') != NULL || (strchr(a->text, ':') != NULL &&
	    a->ss.ss_family == AF_INET))
		return cfg_error(ctx, node, "give the address without a port: "
		    "ports come from relay.routes");
	for (i = 0; i < idx; i++)
		if (relay->listen[i].len == a->len &&
		    memcmp(&relay->listen[i].ss, &a->ss, a->len) == 0)
			return cfg_error(ctx, node, "%s is listed twice",
			    a->text);
	return 0;
}

static int
relay_listen(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_relay *relay = arg;
	size_t n;

	if (cfg_is_scalar(node)) {
		relay->listen = xcalloc(1, sizeof(*relay->listen));
		relay->nlisten = 1;
		return relay_listen_item(ctx, node, 0, relay);
	}
	if (cfg_list_len(ctx, node, "an address or a list of addresses",
	    &n) == -1)
		return -1;
	if (n == 0 || n > 16)
		return cfg_error(ctx, node, "give 1 to 16 addresses");
	relay->listen = xcalloc(n, sizeof(*relay->listen));
	relay->nlisten = n;
	return cfg_seq(ctx, node, relay_listen_item, relay);
}

static int
route_port(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_route *r = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 1, 65535, &v) == -1)
		return -1;
	r->port = (uint16_t)v;
	return 0;
}

static int
route_upstream_port(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_route *r = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 1, 65535, &v) == -1)
		return -1;
	r->upstream_port = (uint16_t)v;
	return 0;
}

static int
route_allow_item(struct cfg_ctx *ctx, struct cfg_node *node, size_t idx,
    void *arg)
{
	struct cfg_route *r = arg;
	const char *why;

	if (cfg_str(ctx, node, &r->allow[idx]) == -1)
		return -1;
	if ((why = match_pattern_check(r->allow[idx])) != NULL)
		return cfg_error(ctx, node, "\"%.64s\": %s", r->allow[idx],
		    why);
	return 0;
}

static int
route_allow(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_route *r = arg;
	size_t n;

	if (cfg_list_len(ctx, node, "a list of names", &n) == -1)
		return -1;
	if (n == 0)
		return cfg_error(ctx, node, "a route must allow at least one "
		    "name");
	r->allow = xcalloc(n, sizeof(*r->allow));
	r->nallow = n;
	return cfg_seq(ctx, node, route_allow_item, r);
}

static int
route_item(struct cfg_ctx *ctx, struct cfg_node *node, size_t idx, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "port", route_port, 1 },
		{ "allow", route_allow, 1 },
		{ "upstream_port", route_upstream_port, 0 },
		{ NULL, NULL, 0 },
	};
	struct cfg_relay *relay = arg;
	struct cfg_route *r = &relay->routes[idx];
	size_t i;

	if (cfg_map(ctx, node, keys, r) == -1)
		return -1;
	if (r->upstream_port == 0)
		r->upstream_port = r->port;
	for (i = 0; i < idx; i++)
		if (relay->routes[i].port == r->port)
			return cfg_error(ctx, node, "port %u has two routes",
			    r->port);
	if (r->port == relay->transparent_port)
		return cfg_error(ctx, node, "port %u is also the transparent "
		    "port", r->port);
	return 0;
}

static int
relay_routes(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_relay *relay = arg;
	size_t n;

	if (cfg_list_len(ctx, node, "a list of routes", &n) == -1)
		return -1;
	if (n == 0 || n > 64)
		return cfg_error(ctx, node, "give 1 to 64 routes");
	relay->routes = xcalloc(n, sizeof(*relay->routes));
	relay->nroutes = n;
	return cfg_seq(ctx, node, route_item, relay);
}

static int
limits_per_client(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_relay *relay = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 1, 100000, &v) == -1)
		return -1;
	relay->per_client = (unsigned)v;
	return 0;
}

static int
limits_total(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_relay *relay = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 1, 1000000, &v) == -1)
		return -1;
	relay->total = (unsigned)v;
	return 0;
}

static int
relay_limits(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "per_client", limits_per_client, 0 },
		{ "total", limits_total, 0 },
		{ NULL, NULL, 0 },
	};

	return cfg_map(ctx, node, keys, arg);
}

#define DURATION_KEY(fn, field, lo, hi)					\
static int								\
fn(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)			\
{									\
	struct cfg_relay *relay = arg;					\
									\
	return cfg_duration(ctx, node, (lo), (hi), &relay->field);	\
}
DURATION_KEY(timeout_hello, hello_ms, 100, 300000)
DURATION_KEY(timeout_connect, connect_ms, 100, 300000)
DURATION_KEY(timeout_idle, idle_ms, 1000, 7ULL * 86400000)
DURATION_KEY(timeout_drain, drain_ms, 0, 3600000)

static int
relay_timeouts(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "hello", timeout_hello, 0 },
		{ "connect", timeout_connect, 0 },
		{ "idle", timeout_idle, 0 },
		{ "drain", timeout_drain, 0 },
		{ NULL, NULL, 0 },
	};

	return cfg_map(ctx, node, keys, arg);
}

/* "http://host:port" (the port is required: proxies have no standard one). */
static int
relay_upstream_proxy(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_relay *relay = arg;
	const char *s, *hp, *colon;
	unsigned long port;
	char *end;
	size_t hlen;

	if ((s = cfg_scalar(ctx, node, "a URL", NULL)) == NULL)
		return -1;
	if (strncasecmp(s, "http://", 7) != 0)
		return cfg_error(ctx, node, "expected http://host:port, found "
		    "\"%.64s\"", s);
	hp = s + 7;
	if (hp[0] == '[') {
		const char *close = strchr(hp, ']');

		if (close == NULL || close[1] != ':')
			return cfg_error(ctx, node, "expected http://[v6]:port");
		hlen = (size_t)(close - hp - 1);
		hp++;
		colon = close + 1;
	} else {
		colon = strrchr(hp, ':');
		if (colon == NULL)
			return cfg_error(ctx, node, "the proxy URL needs a port");
		hlen = (size_t)(colon - hp);
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || errno != 0 ||
	    (*end != '\0' && strcmp(end, "/") != 0) || port == 0 ||
	    port > 65535)
		return cfg_error(ctx, node, "bad port in proxy URL \"%.64s\"", s);
	if (hlen == 0 || hlen > 253 || memchr(hp, '@', hlen) != NULL ||
	    memchr(hp, '/', hlen) != NULL)
		return cfg_error(ctx, node, "bad host in proxy URL \"%.64s\" "
		    "(credentials are not supported)", s);
	free(relay->proxy_host);
	relay->proxy_host = xstrndup(hp, hlen);
	relay->proxy_port = (uint16_t)port;
	return 0;
}

static int
transparent_port(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_relay *relay = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 1, 65535, &v) == -1)
		return -1;
	relay->transparent_port = (uint16_t)v;
	return 0;
}

static int
relay_transparent(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "port", transparent_port, 1 },
		{ NULL, NULL, 0 },
	};

	return cfg_map(ctx, node, keys, arg);
}

int
relay_conf_section(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "listen", relay_listen, 1 },
		/* before routes, so a route can be checked against it */
		{ "transparent", relay_transparent, 0 },
		{ "routes", relay_routes, 1 },
		{ "limits", relay_limits, 0 },
		{ "timeouts", relay_timeouts, 0 },
		{ "upstream_proxy", relay_upstream_proxy, 0 },
		{ NULL, NULL, 0 },
	};
	struct cfg_relay **out = arg, *relay;
	size_t i;

	relay = *out = xcalloc(1, sizeof(*relay));
	relay->per_client = 16;
	relay->total = 20000;
	relay->hello_ms = 10000;
	relay->connect_ms = 10000;
	relay->idle_ms = 2 * 3600000;
	relay->drain_ms = 30000;
	if (cfg_map(ctx, node, keys, relay) == -1)
		return -1;
	/* A transparent key after routes in the file: check again. */
	for (i = 0; i < relay->nroutes; i++)
		if (relay->routes[i].port == relay->transparent_port)
			return cfg_error_path(ctx, "relay.transparent.port",
			    "port %u is both a route and the transparent "
			    "port", relay->transparent_port);
	if (relay->per_client > relay->total)
		return cfg_error(ctx, node, "limits.per_client (%u) is larger "
		    "than limits.total (%u)", relay->per_client, relay->total);
	return 0;
}

void
relay_conf_free(struct cfg_relay *r)
{
	size_t i;

	if (r == NULL)
		return;
	cfg_sockaddr_free(r->listen, r->nlisten);
	for (i = 0; i < r->nroutes; i++)
		cfg_strlist_free(r->routes[i].allow, r->routes[i].nallow);
	free(r->routes);
	free(r->proxy_host);
	free(r);
}

const struct cfg_route *
relay_conf_route(const struct cfg_relay *relay, uint16_t port)
{
	size_t i;

	for (i = 0; relay != NULL && i < relay->nroutes; i++)
		if (relay->routes[i].port == port)
			return &relay->routes[i];
	return NULL;
}

int
route_allows(const struct cfg_route *route, const char *name, size_t len)
{
	return route != NULL && match_any(route->allow, route->nallow, name,
	    len);
}

int
route_names_exactly(const struct cfg_route *route, const char *name,
    size_t len)
{
	return route != NULL && match_exact_any(route->allow, route->nallow,
	    name, len);
}

enum route_verdict
relay_conf_decide(const struct cfg_relay *relay, uint16_t port,
    const char *name, size_t len)
{
	size_t i;

	if (route_allows(relay_conf_route(relay, port), name, len))
		return ROUTE_ALLOWED;
	for (i = 0; relay != NULL && i < relay->nroutes; i++)
		if (route_allows(&relay->routes[i], name, len))
			return ROUTE_WRONG_PORT;
	return ROUTE_NOT_ALLOWED;
}
