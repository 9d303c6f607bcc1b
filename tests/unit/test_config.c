/*
 * Tests for config: a full valid file, and every error path with the exact
 * "file:line:column: path: message" an operator would read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <netinet/in.h>

#include "daemon/config.h"
#include "relay/relay_conf.h"
#include "common/match.h"

static struct config *
load(const char *text, char *err, size_t errlen)
{
	return config_load_buffer("t.yaml", (const uint8_t *)text,
	    strlen(text), err, errlen);
}

static const char full[] =
    "site: {name: \"P-hus Sentrum\"}\n"
    "wan:\n"
    "  resolvers: [\"192.0.2.53\", \"198.51.100.53:5353\", \"[2001:db8::53]:53\"]\n"
    "  resolver_timeout: 2s\n"
    "relay:\n"
    "  listen: [10.42.0.1, \"fd00::1\"]\n"
    "  routes:\n"
    "    - {port: 8883, allow: [zapcloud.azure-devices.net]}\n"
    "    - port: 443\n"
    "      allow: [zapcloud-api.azurewebsites.net, devices.zaptec.com,\n"
    "              api.zaptec.com, \"*.blob.core.windows.net\"]\n"
    "      upstream_port: 8443\n"
    "  limits: {per_client: 8, total: 5000}\n"
    "  timeouts: {hello: 5s, connect: 7s, idle: 1h, drain: 15s}\n"
    "  upstream_proxy: \"http://proxy.example:3128\"\n"
    "  transparent: {port: 15001}\n"
    "control: {socket: /run/evgate/test.sock, mode: \"0660\"}\n";

static void
test_full(void **state)
{
	char err[512];
	struct config *c = load(full, err, sizeof(err));
	const struct cfg_route *r;

	if (c == NULL)
		fail_msg("%s", err);
	assert_string_equal(c->site_name, "P-hus Sentrum");
	assert_int_equal(c->wan.nresolvers, 3);
	assert_int_equal(ntohs(((struct sockaddr_in *)&c->wan.resolvers[1].ss)->sin_port),
	    5353);
	assert_int_equal(c->wan.resolvers[2].ss.ss_family, AF_INET6);
	assert_int_equal(c->wan.resolver_timeout_ms, 2000);
	assert_non_null(c->relay);
	assert_int_equal(c->relay->nlisten, 2);
	assert_int_equal(c->relay->nroutes, 2);
	r = relay_conf_route(c->relay, 443);
	assert_non_null(r);
	assert_int_equal(r->upstream_port, 8443);
	assert_int_equal(r->nallow, 4);
	assert_true(match_any(r->allow, r->nallow, "x.blob.core.windows.net",
	    23));
	r = relay_conf_route(c->relay, 8883);
	assert_int_equal(r->upstream_port, 8883);
	assert_null(relay_conf_route(c->relay, 80));
	assert_int_equal(c->relay->per_client, 8);
	assert_int_equal(c->relay->total, 5000);
	assert_int_equal(c->relay->hello_ms, 5000);
	assert_int_equal(c->relay->connect_ms, 7000);
	assert_int_equal(c->relay->idle_ms, 3600000);
	assert_int_equal(c->relay->drain_ms, 15000);
	assert_string_equal(c->relay->proxy_host, "proxy.example");
	assert_int_equal(c->relay->proxy_port, 3128);
	assert_int_equal(c->relay->transparent_port, 15001);
	assert_string_equal(c->control.socket, "/run/evgate/test.sock");
	assert_int_equal(c->control.mode, 0660);
	config_free(c);
}

static void
test_defaults_and_empty(void **state)
{
	char err[512];
	struct config *c;

	/* An empty file (an editor's truncation) would switch all off. */
	assert_null(load("", err, sizeof(err)));
	assert_string_equal(err, "t.yaml:1:1: the file has no settings "
	    "(empty, or only comments): evgated would run no service; see "
	    "evgated.yaml(5)");
	assert_null(load("# only a comment\n\n", err, sizeof(err)));
	assert_string_equal(err, "t.yaml:1:1: the file has no settings "
	    "(empty, or only comments): evgated would run no service; see "
	    "evgated.yaml(5)");

	c = load("site: {name: x}\n", err, sizeof(err));
	assert_non_null(c);
	assert_null(c->relay);		/* no section: no relay */
	assert_int_equal(c->wan.nresolvers, 0);
	assert_non_null(c->control.socket);
	config_free(c);

	c = load("wan: {resolvers: [192.0.2.1]}\n"
	    "relay: {listen: 127.0.0.1, routes: [{port: 443, allow: [a.b]}]}\n",
	    err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->relay->per_client, 16);
	assert_int_equal(c->relay->total, 20000);
	assert_int_equal(c->relay->hello_ms, 10000);
	assert_int_equal(c->relay->connect_ms, 10000);
	assert_int_equal(c->relay->idle_ms, 7200000);
	assert_int_equal(c->relay->transparent_port, 0);
	assert_null(c->relay->proxy_host);
	config_free(c);
}

/* The example shipped in conf/ must load. */
static void
test_shipped_example(void **state)
{
	const char *top = getenv("top_srcdir");
	char path[1024], err[512];
	struct config *c;

	snprintf(path, sizeof(path), "%s/conf/evgated.yaml", top ? top : ".");
	c = config_load(path, err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_non_null(c->relay);
	config_free(c);
}

struct bad {
	const char	*yaml;
	const char	*error;		/* the exact message */
};

#define RELAY_OK "wan: {resolvers: [192.0.2.1]}\n"

static const struct bad bad[] = {
	{ "site: [1]\n",
	  "t.yaml:1:7: site: expected a mapping, found a list" },
	{ "sight: {name: x}\n",
	  "t.yaml:1:1: unknown key \"sight\"" },
	{ "site: {name: x}\nsite: {name: y}\n",
	  "t.yaml:2:1: duplicate key \"site\"" },
	{ "site: {name: x, colour: red}\n",
	  "t.yaml:1:17: site: unknown key \"colour\"" },
	{ "site: {name: [a]}\n",
	  "t.yaml:1:14: site.name: expected a string, found a list" },
	{ "site: {name: \"\"}\n",
	  "t.yaml:1:14: site.name: empty value" },
	{ "wan: {}\n",
	  "t.yaml:1:6: wan: missing required key \"resolvers\"" },
	{ "wan: {resolvers: 192.0.2.1}\n",
	  "t.yaml:1:18: wan.resolvers: expected a list of addresses, found a scalar" },
	{ "wan: {resolvers: []}\n",
	  "t.yaml:1:18: wan.resolvers: give 1 to 8 resolvers" },
	{ "wan:\n  resolvers:\n    - 192.0.2.1\n    - dns.google\n",
	  "t.yaml:4:7: wan.resolvers[1]: \"dns.google\" is not an IP address (with an optional :port)" },
	{ "wan: {resolvers: [\"1.2.3.4:99999\"]}\n",
	  "t.yaml:1:19: wan.resolvers[0]: \"1.2.3.4:99999\" is not an IP address (with an optional :port)" },
	{ "wan: {resolvers: [1.1.1.1], resolver_timeout: soon}\n",
	  "t.yaml:1:47: wan.resolver_timeout: expected a duration such as 10s, 5m, 2h, found \"soon\"" },
	{ "wan: {resolvers: [1.1.1.1], resolver_timeout: 5m}\n",
	  "t.yaml:1:47: wan.resolver_timeout: 5m is out of range (100ms-1m)" },
	{ "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: [a.b]}]}\n",
	  "t.yaml:1:8: relay: needs wan.resolvers (or relay.upstream_proxy) to reach the cloud" },
	{ RELAY_OK "relay: {routes: [{port: 443, allow: [a.b]}]}\n",
	  "t.yaml:2:8: relay: missing required key \"listen\"" },
	{ RELAY_OK "relay: {listen: 10.42.0.1}\n",
	  "t.yaml:2:8: relay: missing required key \"routes\"" },
	{ RELAY_OK "relay: {listen: \"10.42.0.1:443\", routes: [{port: 443, allow: [a.b]}]}\n",
	  "t.yaml:2:17: relay.listen: give the address without a port: ports come from relay.routes" },
	{ RELAY_OK "relay: {listen: [10.42.0.1, 10.42.0.1], routes: [{port: 443, allow: [a.b]}]}\n",
	  "t.yaml:2:29: relay.listen[1]: 10.42.0.1 is listed twice" },
	{ RELAY_OK "relay: {listen: gateway, routes: [{port: 443, allow: [a.b]}]}\n",
	  "t.yaml:2:17: relay.listen: \"gateway\" is not an IP address (with an optional :port)" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: []}\n",
	  "t.yaml:2:36: relay.routes: give 1 to 64 routes" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 0, allow: [a.b]}]}\n",
	  "t.yaml:2:44: relay.routes[0].port: 0 is out of range (1-65535)" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: https, allow: [a.b]}]}\n",
	  "t.yaml:2:44: relay.routes[0].port: expected a number, found \"https\"" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 443}]}\n",
	  "t.yaml:2:37: relay.routes[0]: missing required key \"allow\"" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: []}]}\n",
	  "t.yaml:2:56: relay.routes[0].allow: a route must allow at least one name" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: [\"*\"]}]}\n",
	  "t.yaml:2:57: relay.routes[0].allow[0]: \"*\": a wildcard must be written \"*.suffix\"" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: [\"a..b\"]}]}\n",
	  "t.yaml:2:57: relay.routes[0].allow[0]: \"a..b\": empty label" },
	{ RELAY_OK "relay:\n  listen: 10.42.0.1\n  routes:\n    - {port: 443, allow: [a.b]}\n    - {port: 443, allow: [c.d]}\n",
	  "t.yaml:6:7: relay.routes[1]: port 443 has two routes" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: [a.b], upstream: x}]}\n",
	  "t.yaml:2:63: relay.routes[0]: unknown key \"upstream\"" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: [a.b]}], limits: {per_client: 0}}\n",
	  "t.yaml:2:86: relay.limits.per_client: 0 is out of range (1-100000)" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: [a.b]}], limits: {per_client: 50, total: 10}}\n",
	  "t.yaml:2:8: relay: limits.per_client (50) is larger than limits.total (10)" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: [a.b]}], timeouts: {hello: 0s}}\n",
	  "t.yaml:2:83: relay.timeouts.hello: 0s is out of range (100ms-5m)" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: [a.b]}], timeouts: {idle: -1}}\n",
	  "t.yaml:2:82: relay.timeouts.idle: expected a duration such as 10s, 5m, 2h, found \"-1\"" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: [a.b]}], upstream_proxy: \"socks5://p:1080\"}\n",
	  "t.yaml:2:81: relay.upstream_proxy: expected http://host:port, found \"socks5://p:1080\"" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: [a.b]}], upstream_proxy: \"http://p\"}\n",
	  "t.yaml:2:81: relay.upstream_proxy: the proxy URL needs a port" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: [a.b]}], upstream_proxy: \"http://u:pw@p:3128\"}\n",
	  "t.yaml:2:81: relay.upstream_proxy: bad host in proxy URL \"http://u:pw@p:3128\" (credentials are not supported)" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, transparent: {port: 443}, routes: [{port: 443, allow: [a.b]}]}\n",
	  "t.yaml:2:63: relay.routes[0]: port 443 is also the transparent port" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: [a.b]}], transparent: {port: 443}}\n",
	  "t.yaml:2:85: relay.transparent.port: port 443 is both a route and the transparent port" },
	{ "control: {socket: run/evgated.sock}\n",
	  "t.yaml:1:19: control.socket: the socket path must be absolute" },
	{ "control: {mode: \"0666\"}\n",
	  "t.yaml:1:17: control.mode: 0666 lets every user on the box drive evgated (reload, stop): give write to the owner and control.group only, such as 0660" },
	{ "control: {mode: \"0662\"}\n",
	  "t.yaml:1:17: control.mode: 0662 lets every user on the box drive evgated (reload, stop): give write to the owner and control.group only, such as 0660" },
	{ "site: {name: \"Car park\\r\\nX-Evil: 1\"}\n",
	  "t.yaml:1:14: site.name: control character (0x0d) in value" },
	{ "site:\n  name: |\n    two\n    lines\n",
	  "t.yaml:2:9: site.name: control character (0x0a) in value" },
	{ "site: {name: \"tab\\there\"}\n",
	  "t.yaml:1:14: site.name: control character (0x09) in value" },
	{ "wan: {resolvers: [1.1.1.1], allow_prefixes: 10.0.0.0/8}\n",
	  "t.yaml:1:45: wan.allow_prefixes: expected a list of prefixes, found a scalar" },
	{ "wan: {resolvers: [1.1.1.1], allow_prefixes: [10.0.0.1/8]}\n",
	  "t.yaml:1:46: wan.allow_prefixes[0]: \"10.0.0.1/8\": the address has bits set after the prefix length" },
	{ "wan: {resolvers: [1.1.1.1], allow_prefixes: [10.0.0.0]}\n",
	  "t.yaml:1:46: wan.allow_prefixes[0]: \"10.0.0.0\": expected an address and a prefix length, such as 10.0.0.0/8" },
	{ "wan: {resolvers: [1.1.1.1], allow_prefixes: [\"fd00::/129\"]}\n",
	  "t.yaml:1:46: wan.allow_prefixes[0]: \"fd00::/129\": bad prefix length" },
	{ "wan: {resolvers: [1.1.1.1], allow_prefixes: [ten/8]}\n",
	  "t.yaml:1:46: wan.allow_prefixes[0]: \"ten/8\": not an IP address" },
	{ "control: {mode: \"0400\"}\n",
	  "t.yaml:1:17: control.mode: expected an octal mode such as 0660 that lets the owner read and write, found \"0400\"" },
	{ "site: {name: x}\n  bad: indent\n",
	  "t.yaml:2:3: did not find expected key while parsing a block mapping" },
	{ "site: &a {name: x}\ncontrol: *a\n",
	  "t.yaml:2:1: control: YAML aliases are not supported" },
	{ "site: {name: x}\n---\nsite: {name: y}\n",
	  "t.yaml:3:1: only one YAML document is allowed" },
	{ "- a\n- b\n",
	  "t.yaml:1:1: expected a mapping, found a list" },
	{ "site: {name: \"a\\0b\"}\n",
	  "t.yaml:1:14: site.name: NUL byte in value" },
	{ "{[a]: 1}\n",
	  "t.yaml:1:2: a key must be a plain name" },
	{ RELAY_OK "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: "
	  "[a.example, 203.0.113.7]}]}\n",
	  "t.yaml:2:68: relay.routes[0].allow[1]: \"203.0.113.7\": an IP "
	  "address can never match: a TLS server name (SNI) is always a host "
	  "name; list the name the charger connects to" },
	{ "daemon: {user: root}\n",
	  "t.yaml:1:16: daemon.user: \"root\" is not an unprivileged user: leave daemon.user out to stay root" },
	{ "daemon: {user: evgate, group: x}\n",
	  "t.yaml:1:24: daemon: unknown key \"group\"" },
};

static void
test_errors(void **state)
{
	char err[512];
	size_t i;
	int nbad = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config *c = load(bad[i].yaml, err, sizeof(err));

		if (c != NULL)
			fail_msg("accepted: %s", bad[i].yaml);
		if (strcmp(err, bad[i].error) != 0) {
			print_message("case %zu:\n  want: %s\n  got:  %s\n",
			    i, bad[i].error, err);
			nbad++;
		}
	}
	assert_int_equal(nbad, 0);
}

static void
test_routes_not_a_list(void **state)
{
	char err[512];
	struct config *c = load(RELAY_OK
	    "relay: {listen: 10.42.0.1, routes: {port: 443}}\n", err,
	    sizeof(err));

	assert_null(c);
	assert_string_equal(err, "t.yaml:2:36: relay.routes: expected a list "
	    "of routes, found a mapping");
}

static void
test_limits(void **state)
{
	char err[512];
	char *big = malloc(CONFIG_MAX_BYTES + 2);
	struct config *c;

	memset(big, '#', CONFIG_MAX_BYTES + 1);
	big[CONFIG_MAX_BYTES + 1] = '\0';
	c = load(big, err, sizeof(err));
	assert_null(c);
	assert_non_null(strstr(err, "larger than"));
	free(big);
}

static void
test_missing_file(void **state)
{
	char err[512];

	assert_null(config_load("/nonexistent/evgated.yaml", err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/evgated.yaml: No such file or "
	    "directory");
}

/* Load text; return every diagnostic, one per line. */
static struct config *
load_all(const char *text, char *out, size_t outlen, size_t *nerr,
    size_t *nwarn)
{
	struct cfg_diags d;
	struct config *c;
	size_t i;

	memset(&d, 0, sizeof(d));
	c = config_load_buffer_diags("t.yaml", (const uint8_t *)text,
	    strlen(text), &d);
	out[0] = '\0';
	for (i = 0; i < d.n; i++) {
		strlcat(out, d.v[i].text, outlen);
		strlcat(out, "\n", outlen);
	}
	*nerr = d.nerrors;
	*nwarn = d.nwarnings;
	cfg_diags_free(&d);
	return c;
}

/* Every error of a file in one round, each at its own node. */
static void
test_every_error(void **state)
{
	char out[4096], err[512];
	size_t ne, nw;
	struct config *c;
	const char *text =
	    "site: {name: \"\"}\n"
	    "wan: {resolvers: [not-an-address], colour: red}\n"
	    "relay:\n"
	    "  listen: 10.42.0.1\n"
	    "  routes:\n"
	    "    - {port: 0, allow: [a.example]}\n"
	    "    - {port: 443, allow: [\"a..b\", ok.example, \"*\"]}\n"
	    "metrics: {listen: nowhere}\n"
	    "bogus: 1\n";

	c = load_all(text, out, sizeof(out), &ne, &nw);
	assert_null(c);
	assert_string_equal(out,
	    "t.yaml:1:14: site.name: empty value\n"
	    "t.yaml:2:19: wan.resolvers[0]: \"not-an-address\" is not an IP "
	    "address (with an optional :port)\n"
	    "t.yaml:2:36: wan: unknown key \"colour\"\n"
	    "t.yaml:6:14: relay.routes[0].port: 0 is out of range (1-65535)\n"
	    "t.yaml:7:27: relay.routes[1].allow[0]: \"a..b\": empty label\n"
	    "t.yaml:7:47: relay.routes[1].allow[2]: \"*\": a wildcard must be "
	    "written \"*.suffix\"\n"
	    "t.yaml:8:19: metrics.listen: \"nowhere\" is not an IP address "
	    "(with an optional :port)\n"
	    "t.yaml:9:1: unknown key \"bogus\"\n");
	assert_int_equal(ne, 8);
	assert_int_equal(nw, 0);
	/* The one-line form says how many more there are. */
	assert_null(load(text, err, sizeof(err)));
	assert_string_equal(err, "t.yaml:1:14: site.name: empty value (and 7 "
	    "more errors: evgated --check-config lists them)");
}

/* Encoding errors point where the bad byte is, not at 1:1. */
static void
test_encoding_position(void **state)
{
	char err[512];

	assert_null(load("site:\n  name: \"ab\xff\"\n", err, sizeof(err)));
	assert_string_equal(err, "t.yaml:2:12: invalid leading UTF-8 octet "
	    "(byte 0xff at offset 17): the file must be UTF-8 text");
	assert_null(load("site: {name: x}\nwan: \x01\n", err, sizeof(err)));
	assert_string_equal(err, "t.yaml:2:6: control characters are not "
	    "allowed (byte 0x01 at offset 21): the file must be UTF-8 text");
}

#define SITE								\
	"wan: {resolvers: [192.0.2.53]}\n"				\
	"relay:\n"							\
	"  listen: 10.42.0.1\n"						\
	"  routes:\n"							\
	"    - {port: 443, allow: [a.example]}\n"			\
	"lan: {interface: plc0, address: 10.42.0.1/24}\n"

/* Two components on one port are refused where the second is set. */
static void
test_port_clash(void **state)
{
	char out[4096];
	size_t ne, nw;

	/* A relay route on 53 takes dnsmasq's DNS port. */
	assert_null(load_all(SITE
	    "dns: {}\n"
	    "metrics: {listen: \"127.0.0.1:9310\"}\n"
	    "ntp: {servers: [192.0.2.123], listen: [\"0.0.0.0:123\"]}\n"
	    "relay2: x\n", out, sizeof(out), &ne, &nw));
	assert_string_equal(out, "t.yaml:10:1: unknown key \"relay2\"\n");
	assert_null(load_all(
	    "wan: {resolvers: [192.0.2.53]}\n"
	    "relay:\n"
	    "  listen: 10.42.0.1\n"
	    "  routes:\n"
	    "    - {port: 443, allow: [a.example]}\n"
	    "    - {port: 53, allow: [b.example]}\n"
	    "    - {port: 9310, allow: [c.example]}\n"
	    "lan: {interface: plc0, address: 10.42.0.1/24}\n"
	    "dns: {}\n"
	    "dhcp: {range: 10.42.0.10-10.42.0.20}\n"
	    "metrics: {listen: \"0.0.0.0:9310\", allow_remote: true}\n"
	    "ntp: {servers: [192.0.2.123], listen: [\"0.0.0.0:67\"]}\n",
	    out, sizeof(out), &ne, &nw));
	assert_string_equal(out,
	    "t.yaml:11:19: metrics.listen: port 9310 (TCP) on 0.0.0.0 is also "
	    "taken by the relay (relay.routes[2].port): give one of them "
	    "another port or address\n"
	    "t.yaml:9:6: dns: port 53 (TCP) on 10.42.0.1 is also taken by the "
	    "relay (relay.routes[1].port): give one of them another port or "
	    "address\n"
	    "t.yaml:10:7: dhcp: port 67 (UDP) on 0.0.0.0 is also taken by the "
	    "NTP server (ntp.listen[0]): give one of them another port or "
	    "address\n");
	assert_int_equal(ne, 3);
}

/* The resolver must not be the gateway's own DNS. */
static void
test_resolver_is_gateway(void **state)
{
	char err[512];
	struct config *c;

	assert_null(load(
	    "wan: {resolvers: [192.0.2.53, 10.42.0.1]}\n"
	    "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: [a.b]}]}\n"
	    "lan: {interface: plc0, address: 10.42.0.1/24}\n"
	    "dns: {}\n", err, sizeof(err)));
	assert_string_equal(err, "t.yaml:1:31: wan.resolvers[1]: 10.42.0.1 "
	    "is lan.address, where the gateway's own DNS answers cloud names "
	    "with the gateway: the relay would resolve cloud names to itself; "
	    "give the site's upstream DNS");
	/* Another port of the same address is not the gateway's DNS. */
	c = load("wan: {resolvers: [\"10.42.0.1:5353\"]}\n"
	    "relay: {listen: 10.42.0.1, routes: [{port: 443, allow: [a.b]}]}\n"
	    "lan: {interface: plc0, address: 10.42.0.1/24}\n"
	    "dns: {}\n", err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	config_free(c);
}

/* A pool too small for the chargers without an address; a warning. */
static void
test_pool_and_warning(void **state)
{
	char out[4096];
	size_t ne, nw;
	struct config *c;

	assert_null(load_all(SITE
	    "dhcp:\n"
	    "  range: 10.42.0.10-10.42.0.11\n"
	    "  chargers:\n"
	    "    - {id: A1, mac: \"02:00:00:00:00:01\"}\n"
	    "    - {id: A2, mac: \"02:00:00:00:00:02\"}\n"
	    "    - {id: A3, mac: \"02:00:00:00:00:03\", address: 10.42.0.10}\n",
	    out, sizeof(out), &ne, &nw));
	assert_string_equal(out, "t.yaml:8:10: dhcp.range: 2 chargers have no "
	    "reserved address but the range has only 1 free (2 addresses, 1 "
	    "of them reserved): widen dhcp.range or give chargers an "
	    "address\n");
	c = load_all(SITE "dhcp: {range: 10.42.0.10-10.42.0.11, known_only: "
	    "false}\n", out, sizeof(out), &ne, &nw);
	assert_non_null(c);
	assert_int_equal(ne, 0);
	assert_int_equal(nw, 1);
	assert_string_equal(out, "t.yaml:7:50: dhcp.known_only: warning: "
	    "false: every device on the chargers' segment gets an address, "
	    "and with it the relay and the gateway's DNS and NTP\n");
	config_free(c);
}

/* Private upstreams allowed: legal, and said on every check. */
static void
test_allow_prefixes_warning(void **state)
{
	char out[4096];
	size_t ne, nw;
	struct config *c;

	(void)state;
	c = load_all("wan: {resolvers: [192.0.2.53], allow_prefixes: "
	    "[10.0.0.0/8, \"fd00::/8\"]}\n", out, sizeof(out), &ne, &nw);
	assert_non_null(c);
	assert_int_equal(ne, 0);
	assert_int_equal(nw, 1);
	assert_string_equal(out, "t.yaml:1:48: wan.allow_prefixes: warning: "
	    "the relay and the fleet log's shipper may connect to 2 private "
	    "or local prefixes (10.0.0.0/8, ...): a name that resolves there "
	    "reaches the site's own networks\n");
	config_free(c);
	/* An empty list opens nothing and says nothing. */
	c = load_all("wan: {resolvers: [192.0.2.53], allow_prefixes: []}\n",
	    out, sizeof(out), &ne, &nw);
	assert_non_null(c);
	assert_int_equal(ne + nw, 0);
	config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults_and_empty),
		cmocka_unit_test(test_every_error),
		cmocka_unit_test(test_encoding_position),
		cmocka_unit_test(test_port_clash),
		cmocka_unit_test(test_resolver_is_gateway),
		cmocka_unit_test(test_pool_and_warning),
		cmocka_unit_test(test_allow_prefixes_warning),
		cmocka_unit_test(test_shipped_example),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_routes_not_a_list),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_missing_file),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
