/*
 * config: evgated.yaml -> struct config, through libyaml's document API
 * (which keeps a line and column for every node, so every error can point
 * at the exact spot).  The file is bounded in size and node count, aliases
 * are refused (they would let a small file expand into a huge tree), and
 * every mapping is checked against a table of known keys.
 */
#include "evgate_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/config.h"
#include "site/lan.h"
#include "common/log.h"
#include "common/match.h"
#include "daemon/privdrop.h"
#include "common/util.h"

struct cfg_ctx {
	const char	*name;
	yaml_document_t	*doc;
	char		*err;
	size_t		 errlen;
	int		 failed;
	uint8_t		*visited;
	size_t		 nnodes;
	char		 path[256];
	struct config	*conf;
};

int
cfg_error(struct cfg_ctx *ctx, yaml_node_t *node, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (ctx->failed)
		return -1;	/* the first error is the one that counts */
	ctx->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ctx->err, ctx->errlen, "%s:%zu:%zu: %s%s%s", ctx->name,
	    node ? node->start_mark.line + 1 : 1,
	    node ? node->start_mark.column + 1 : 1,
	    ctx->path, ctx->path[0] ? ": " : "", msg);
	return -1;
}

/*
 * Refuse a node seen before: only an alias can make that happen.  The
 * document API has no position for the alias itself, so the error points
 * at where (the key or list that uses it).
 */
static int
cfg_visit(struct cfg_ctx *ctx, yaml_node_t *node, yaml_node_t *where)
{
	size_t id = (size_t)(node - ctx->doc->nodes.start);

	if (id >= ctx->nnodes)
		return cfg_error(ctx, where, "internal: node out of range");
	if (ctx->visited[id])
		return cfg_error(ctx, where, "YAML aliases are not supported");
	ctx->visited[id] = 1;
	return 0;
}

static const char *
node_kind(yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

static const char *
scalar(yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

int
cfg_map(struct cfg_ctx *ctx, yaml_node_t *node, const struct cfg_key *keys,
    void *arg)
{
	yaml_node_pair_t *pair;
	uint64_t seen = 0;
	size_t i, plen = strlen(ctx->path);

	if (node->type != YAML_MAPPING_NODE)
		return cfg_error(ctx, node, "expected a mapping, found %s",
		    node_kind(node));
	for (pair = node->data.mapping.pairs.start;
	    pair < node->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(ctx->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(ctx->doc, pair->value);

		if (k == NULL || v == NULL)
			return cfg_error(ctx, node, "internal: broken mapping");
		if (cfg_visit(ctx, k, k) == -1)
			return -1;
		if (k->type != YAML_SCALAR_NODE)
			return cfg_error(ctx, k, "a key must be a plain name");
		for (i = 0; keys[i].name != NULL; i++)
			if (strcmp(keys[i].name, scalar(k)) == 0)
				break;
		if (keys[i].name == NULL)
			return cfg_error(ctx, k, "unknown key \"%.64s\"",
			    scalar(k));
		if (seen & (1ULL << i))
			return cfg_error(ctx, k, "duplicate key \"%s\"",
			    keys[i].name);
		seen |= 1ULL << i;
		snprintf(ctx->path + plen, sizeof(ctx->path) - plen, "%s%s",
		    plen ? "." : "", keys[i].name);
		if (cfg_visit(ctx, v, k) == -1 || keys[i].fn(ctx, v, arg) == -1)
			return -1;
		ctx->path[plen] = '\0';
	}
	for (i = 0; keys[i].name != NULL; i++)
		if (keys[i].required && !(seen & (1ULL << i)))
			return cfg_error(ctx, node, "missing required key \"%s\"",
			    keys[i].name);
	return 0;
}

int
cfg_seq(struct cfg_ctx *ctx, yaml_node_t *node,
    int (*fn)(struct cfg_ctx *, yaml_node_t *, size_t, void *), void *arg)
{
	yaml_node_item_t *item;
	size_t idx = 0, plen = strlen(ctx->path);

	if (node->type != YAML_SEQUENCE_NODE)
		return cfg_error(ctx, node, "expected a list, found %s",
		    node_kind(node));
	for (item = node->data.sequence.items.start;
	    item < node->data.sequence.items.top; item++, idx++) {
		yaml_node_t *v = yaml_document_get_node(ctx->doc, *item);

		if (v == NULL)
			return cfg_error(ctx, node, "internal: broken list");
		snprintf(ctx->path + plen, sizeof(ctx->path) - plen, "[%zu]",
		    idx);
		if (cfg_visit(ctx, v, node) == -1 || fn(ctx, v, idx, arg) == -1)
			return -1;
		ctx->path[plen] = '\0';
	}
	return 0;
}

static int
cfg_scalar(struct cfg_ctx *ctx, yaml_node_t *node, const char *want)
{
	if (node->type != YAML_SCALAR_NODE)
		return cfg_error(ctx, node, "expected %s, found %s", want,
		    node_kind(node));
	if (strlen(scalar(node)) != node->data.scalar.length)
		return cfg_error(ctx, node, "NUL byte in value");
	return 0;
}

int
cfg_str(struct cfg_ctx *ctx, yaml_node_t *node, char **out)
{
	if (cfg_scalar(ctx, node, "a string") == -1)
		return -1;
	if (node->data.scalar.length == 0)
		return cfg_error(ctx, node, "empty value");
	free(*out);
	*out = xstrdup(scalar(node));
	return 0;
}

int
cfg_uint(struct cfg_ctx *ctx, yaml_node_t *node, unsigned long min,
    unsigned long max, unsigned long *out)
{
	const char *s;
	unsigned long v;
	char *end;

	if (cfg_scalar(ctx, node, "a number") == -1)
		return -1;
	s = scalar(node);
	if (*s < '0' || *s > '9')
		return cfg_error(ctx, node, "expected a number, found \"%.64s\"",
		    s);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end != '\0')
		return cfg_error(ctx, node, "expected a number, found \"%.64s\"",
		    s);
	if (errno == ERANGE || v < min || v > max)
		return cfg_error(ctx, node, "%.64s is out of range (%lu-%lu)",
		    s, min, max);
	*out = v;
	return 0;
}

int
cfg_bool(struct cfg_ctx *ctx, yaml_node_t *node, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };
	size_t i;

	if (cfg_scalar(ctx, node, "true or false") == -1)
		return -1;
	for (i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(scalar(node), yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(scalar(node), no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return cfg_error(ctx, node, "expected true or false, found \"%.64s\"",
	    scalar(node));
}

int
cfg_duration(struct cfg_ctx *ctx, yaml_node_t *node, uint64_t min_ms,
    uint64_t max_ms, uint64_t *out)
{
	char lo[32], hi[32];
	uint64_t v;

	if (cfg_scalar(ctx, node, "a duration") == -1)
		return -1;
	if (parse_duration_ms(scalar(node), &v) == -1)
		return cfg_error(ctx, node, "expected a duration such as 10s, "
		    "5m, 2h, found \"%.64s\"", scalar(node));
	if (v < min_ms || v > max_ms) {
		format_duration_ms(min_ms, lo, sizeof(lo));
		format_duration_ms(max_ms, hi, sizeof(hi));
		return cfg_error(ctx, node, "%.64s is out of range (%s-%s)",
		    scalar(node), lo, hi);
	}
	*out = v;
	return 0;
}

int
cfg_addr(struct cfg_ctx *ctx, yaml_node_t *node, uint16_t defport,
    struct cfg_sockaddr *out)
{
	if (cfg_scalar(ctx, node, "an address") == -1)
		return -1;
	if (parse_sockaddr(scalar(node), defport, &out->ss, &out->len) == -1)
		return cfg_error(ctx, node, "\"%.64s\" is not an IP address "
		    "(with an optional :port)", scalar(node));
	free(out->text);
	out->text = xstrdup(scalar(node));
	return 0;
}

static int
strlist_item(struct cfg_ctx *ctx, yaml_node_t *node, size_t idx, void *arg)
{
	char **list = arg;

	return cfg_str(ctx, node, &list[idx]);
}

int
cfg_strlist(struct cfg_ctx *ctx, yaml_node_t *node, char ***out, size_t *n)
{
	size_t count, i;
	char **list;

	if (node->type == YAML_SCALAR_NODE) {
		list = xcalloc(1, sizeof(*list));
		if (cfg_str(ctx, node, &list[0]) == -1) {
			free(list);
			return -1;
		}
		count = 1;
	} else {
		if (node->type != YAML_SEQUENCE_NODE)
			return cfg_error(ctx, node, "expected a list of "
			    "strings, found %s", node_kind(node));
		count = (size_t)(node->data.sequence.items.top -
		    node->data.sequence.items.start);
		list = xcalloc(count ? count : 1, sizeof(*list));
		if (cfg_seq(ctx, node, strlist_item, list) == -1) {
			for (i = 0; i < count; i++)
				free(list[i]);
			free(list);
			return -1;
		}
	}
	for (i = 0; i < *n; i++)
		free((*out)[i]);
	free(*out);
	*out = list;
	*n = count;
	return 0;
}

/* --- site and wan ---------------------------------------------------- */

static int
site_name(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct config *conf = arg;

	return cfg_str(ctx, node, &conf->site_name);
}

static int
site_section(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "name", site_name, 0 },
		{ NULL, NULL, 0 },
	};

	return cfg_map(ctx, node, keys, arg);
}

static int
resolver_item(struct cfg_ctx *ctx, yaml_node_t *node, size_t idx, void *arg)
{
	struct config *conf = arg;

	return cfg_addr(ctx, node, 53, &conf->resolvers[idx]);
}

static int
wan_resolvers(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct config *conf = arg;
	size_t n;

	if (node->type != YAML_SEQUENCE_NODE)
		return cfg_error(ctx, node, "expected a list of addresses, "
		    "found %s", node_kind(node));
	n = (size_t)(node->data.sequence.items.top -
	    node->data.sequence.items.start);
	if (n == 0 || n > 8)
		return cfg_error(ctx, node, "give 1 to 8 resolvers");
	conf->resolvers = xcalloc(n, sizeof(*conf->resolvers));
	conf->nresolvers = n;
	return cfg_seq(ctx, node, resolver_item, conf);
}

static int
wan_resolver_timeout(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct config *conf = arg;

	return cfg_duration(ctx, node, 100, 60000, &conf->resolver_timeout_ms);
}

static int
wan_section(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "resolvers", wan_resolvers, 1 },
		{ "resolver_timeout", wan_resolver_timeout, 0 },
		{ NULL, NULL, 0 },
	};

	return cfg_map(ctx, node, keys, arg);
}

/* --- relay ----------------------------------------------------------- */

static int
relay_listen_item(struct cfg_ctx *ctx, yaml_node_t *node, size_t idx,
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
relay_listen(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct cfg_relay *relay = arg;
	size_t n;

	if (node->type == YAML_SCALAR_NODE) {
		relay->listen = xcalloc(1, sizeof(*relay->listen));
		relay->nlisten = 1;
		return relay_listen_item(ctx, node, 0, relay);
	}
	if (node->type != YAML_SEQUENCE_NODE)
		return cfg_error(ctx, node, "expected an address or a list of "
		    "addresses, found %s", node_kind(node));
	n = (size_t)(node->data.sequence.items.top -
	    node->data.sequence.items.start);
	if (n == 0 || n > 16)
		return cfg_error(ctx, node, "give 1 to 16 addresses");
	relay->listen = xcalloc(n, sizeof(*relay->listen));
	relay->nlisten = n;
	return cfg_seq(ctx, node, relay_listen_item, relay);
}

static int
route_port(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct cfg_route *r = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 1, 65535, &v) == -1)
		return -1;
	r->port = (uint16_t)v;
	return 0;
}

static int
route_upstream_port(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct cfg_route *r = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 1, 65535, &v) == -1)
		return -1;
	r->upstream_port = (uint16_t)v;
	return 0;
}

static int
route_allow_item(struct cfg_ctx *ctx, yaml_node_t *node, size_t idx,
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
route_allow(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct cfg_route *r = arg;
	size_t n;

	if (node->type != YAML_SEQUENCE_NODE)
		return cfg_error(ctx, node, "expected a list of names, found %s",
		    node_kind(node));
	n = (size_t)(node->data.sequence.items.top -
	    node->data.sequence.items.start);
	if (n == 0)
		return cfg_error(ctx, node, "a route must allow at least one "
		    "name");
	r->allow = xcalloc(n, sizeof(*r->allow));
	r->nallow = n;
	return cfg_seq(ctx, node, route_allow_item, r);
}

static int
route_item(struct cfg_ctx *ctx, yaml_node_t *node, size_t idx, void *arg)
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
relay_routes(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct cfg_relay *relay = arg;
	size_t n;

	if (node->type != YAML_SEQUENCE_NODE)
		return cfg_error(ctx, node, "expected a list of routes, found %s",
		    node_kind(node));
	n = (size_t)(node->data.sequence.items.top -
	    node->data.sequence.items.start);
	if (n == 0 || n > 64)
		return cfg_error(ctx, node, "give 1 to 64 routes");
	relay->routes = xcalloc(n, sizeof(*relay->routes));
	relay->nroutes = n;
	return cfg_seq(ctx, node, route_item, relay);
}

static int
limits_per_client(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct cfg_relay *relay = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 1, 100000, &v) == -1)
		return -1;
	relay->per_client = (unsigned)v;
	return 0;
}

static int
limits_total(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct cfg_relay *relay = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 1, 1000000, &v) == -1)
		return -1;
	relay->total = (unsigned)v;
	return 0;
}

static int
relay_limits(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
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
fn(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)			\
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
relay_timeouts(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
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
relay_upstream_proxy(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct cfg_relay *relay = arg;
	const char *s, *hp, *colon;
	unsigned long port;
	char *end;
	size_t hlen;

	if (cfg_scalar(ctx, node, "a URL") == -1)
		return -1;
	s = scalar(node);
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
transparent_port(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct cfg_relay *relay = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 1, 65535, &v) == -1)
		return -1;
	relay->transparent_port = (uint16_t)v;
	return 0;
}

static int
relay_transparent(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "port", transparent_port, 1 },
		{ NULL, NULL, 0 },
	};

	return cfg_map(ctx, node, keys, arg);
}

static int
relay_section(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
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
	struct config *conf = arg;
	struct cfg_relay *relay;
	size_t i;

	relay = conf->relay = xcalloc(1, sizeof(*relay));
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
			return cfg_error(ctx, node, "port %u is both a route "
			    "and the transparent port",
			    relay->transparent_port);
	if (relay->per_client > relay->total)
		return cfg_error(ctx, node, "limits.per_client (%u) is larger "
		    "than limits.total (%u)", relay->per_client, relay->total);
	return 0;
}

/* --- control --------------------------------------------------------- */

static int
control_socket(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct cfg_control *c = arg;

	if (cfg_str(ctx, node, &c->socket) == -1)
		return -1;
	if (c->socket[0] != '/')
		return cfg_error(ctx, node, "the socket path must be absolute");
	if (strlen(c->socket) >= 108)
		return cfg_error(ctx, node, "the socket path is longer than "
		    "107 bytes");
	return 0;
}

static int
control_group(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct cfg_control *c = arg;

	return cfg_str(ctx, node, &c->group);
}

static int
control_mode(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	struct cfg_control *c = arg;
	const char *s;
	unsigned long v;
	char *end;

	if (cfg_scalar(ctx, node, "an octal mode") == -1)
		return -1;
	s = scalar(node);
	v = strtoul(s, &end, 8);
	if (*s < '0' || *s > '7' || *end != '\0' || v > 0777 || (v & 0600) != 0600)
		return cfg_error(ctx, node, "expected an octal mode such as "
		    "0660 that lets the owner read and write, found \"%.16s\"",
		    s);
	c->mode = (unsigned)v;
	return 0;
}

static int
control_section(struct cfg_ctx *ctx, yaml_node_t *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "socket", control_socket, 0 },
		{ "group", control_group, 0 },
		{ "mode", control_mode, 0 },
		{ NULL, NULL, 0 },
	};
	struct config *conf = arg;

	return cfg_map(ctx, node, keys, &conf->control);
}

/* --- the whole file -------------------------------------------------- */

static const struct cfg_key root_keys[] = {
	{ "site", site_section, 0 },
	{ "wan", wan_section, 0 },
	{ "relay", relay_section, 0 },
	{ "control", control_section, 0 },
	{ "lan", lan_section, 0 },
	{ "dhcp", lan_dhcp_section, 0 },
	{ "dns", lan_dns_section, 0 },
	{ "dnsmasq", lan_dnsmasq_section, 0 },
	{ "log", fleetlog_cfg_section, 0 },
	{ "ntp", ntp_cfg_section, 0 },
	{ "metrics", metrics_cfg_section, 0 },
	{ "ship", ship_cfg_section, 0 },
	{ "daemon", privdrop_cfg_section, 0 },
	{ NULL, NULL, 0 },
};

/* Rules that span sections; node is the root, for the location. */
static int
config_check(struct cfg_ctx *ctx, yaml_node_t *root, struct config *conf)
{
	if (ntp_cfg_check(ctx, root, conf) == -1)
		return -1;
	if (conf->relay != NULL && conf->nresolvers == 0 &&
	    conf->relay->proxy_host == NULL)
		return cfg_error(ctx, root, "relay needs wan.resolvers (or "
		    "relay.upstream_proxy) to reach the cloud");
	if (conf->ship != NULL && conf->log == NULL)
		return cfg_error(ctx, root, "ship sends the fleet log: it "
		    "needs a log section");
	if (lan_config_check(ctx, root, conf) == -1)
		return -1;
	return 0;
}

static void
cfg_sockaddr_free(struct cfg_sockaddr *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(a[i].text);
	free(a);
}

void
config_free(struct config *conf)
{
	size_t i, j;

	if (conf == NULL)
		return;
	free(conf->path);
	free(conf->site_name);
	cfg_sockaddr_free(conf->resolvers, conf->nresolvers);
	if (conf->relay != NULL) {
		struct cfg_relay *r = conf->relay;

		cfg_sockaddr_free(r->listen, r->nlisten);
		for (i = 0; i < r->nroutes; i++) {
			for (j = 0; j < r->routes[i].nallow; j++)
				free(r->routes[i].allow[j]);
			free(r->routes[i].allow);
		}
		free(r->routes);
		free(r->proxy_host);
		free(r);
	}
	free(conf->control.socket);
	free(conf->control.group);
	lan_config_free(conf);
	fleetlog_cfg_free(conf->log);
	ntp_cfg_free(conf->ntp);
	metrics_cfg_free(conf->metrics);
	ship_cfg_free(conf->ship);
	privdrop_cfg_free(conf->daemon);
	free(conf);
}

const struct cfg_route *
config_route(const struct cfg_relay *relay, uint16_t port)
{
	size_t i;

	for (i = 0; relay != NULL && i < relay->nroutes; i++)
		if (relay->routes[i].port == port)
			return &relay->routes[i];
	return NULL;
}

struct config *
config_load_buffer(const char *name, const uint8_t *buf, size_t len,
    char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct cfg_ctx ctx;
	struct config *conf = NULL;
	int have_doc = 0;

	memset(&ctx, 0, sizeof(ctx));
	ctx.name = name;
	ctx.err = err;
	ctx.errlen = errlen;
	err[0] = '\0';
	if (len > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s:1:1: file larger than %d bytes", name,
		    CONFIG_MAX_BYTES);
		return NULL;
	}
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: cannot initialise the YAML parser",
		    name);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: %s%s%s", name,
		    parser.problem_mark.line + 1,
		    parser.problem_mark.column + 1,
		    parser.problem ? parser.problem : "YAML syntax error",
		    parser.context ? " " : "",
		    parser.context ? parser.context : "");
		goto out;
	}
	have_doc = 1;
	conf = xcalloc(1, sizeof(*conf));
	conf->path = xstrdup(name);
	conf->resolver_timeout_ms = 3000;
	conf->control.mode = 0660;
	ctx.conf = conf;
	ctx.doc = &doc;
	ctx.nnodes = (size_t)(doc.nodes.top - doc.nodes.start);
	if (ctx.nnodes > CONFIG_MAX_NODES) {
		snprintf(err, errlen, "%s:1:1: more than %d YAML nodes", name,
		    CONFIG_MAX_NODES);
		goto fail;
	}
	ctx.visited = xcalloc(ctx.nnodes ? ctx.nnodes : 1, 1);
	root = yaml_document_get_root_node(&doc);
	if (root != NULL) {
		/* A second document in the same file is not ours to read. */
		yaml_document_t extra;

		if (root->type == YAML_SCALAR_NODE &&
		    root->data.scalar.length == 0) {
			/* an empty file */
		} else if (cfg_visit(&ctx, root, root) == -1 ||
		    cfg_map(&ctx, root, root_keys, conf) == -1 ||
		    config_check(&ctx, root, conf) == -1)
			goto fail;
		if (yaml_parser_load(&parser, &extra)) {
			yaml_node_t *r2 = yaml_document_get_root_node(&extra);

			if (r2 != NULL) {
				cfg_error(&ctx, r2, "only one YAML document "
				    "is allowed");
				yaml_document_delete(&extra);
				goto fail;
			}
			yaml_document_delete(&extra);
		}
	}
	if (conf->control.socket == NULL)
		conf->control.socket = xstrdup(RUNSTATEDIR "/evgate/evgated.sock");
	goto out;
fail:
	config_free(conf);
	conf = NULL;
out:
	free(ctx.visited);
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return conf;
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct config *conf;
	uint8_t *buf;
	size_t len = 0, cap = 8192;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(cap);
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len, fp);

		len += n;
		if (n == 0)
			break;
		if (len > CONFIG_MAX_BYTES)
			break;
		if (len == cap)
			buf = xreallocarray(buf, cap *= 2, 1);
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	conf = config_load_buffer(path, buf, len, err, errlen);
	free(buf);
	return conf;
}
