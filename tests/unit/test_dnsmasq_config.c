/*
 * Tests for the site-services configuration (lan.c) and the dnsmasq files
 * generated from it (dnsmasq.c): the sections parse, every error names
 * file:line:column, and the generated dnsmasq.conf and dhcp-hosts are
 * exactly what dnsmasq should get (golden texts).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "daemon/config.h"
#include "site/dnsmasq.h"
#include "site/lan.h"

/* The site's view of c (a few at once, for calls in one expression). */
static const struct site_conf *
SC(const struct config *c)
{
	static struct site_conf v[4];
	static unsigned i;
	struct site_conf *sc = &v[i++ % 4];

	config_site(c, sc);
	return sc;
}

static struct config *
load(const char *text, char *err, size_t errlen)
{
	return config_load_buffer("t.yaml", (const uint8_t *)text,
	    strlen(text), err, errlen);
}

static struct config *
load_ok(const char *text)
{
	char err[512];
	struct config *c = load(text, err, sizeof(err));

	if (c == NULL)
		fail_msg("%s", err);
	return c;
}

static const struct dnsmasq_run run = {
	.binary = "/usr/sbin/dnsmasq",
	.conf_path = "/run/evgate/dnsmasq/dnsmasq.conf",
	.hosts_path = "/run/evgate/dnsmasq/dhcp-hosts",
	.pid_path = "/run/evgate/dnsmasq/dnsmasq.pid",
	.hook = "/usr/libexec/evgate-dhcp-hook",
	.lease_socket = "/run/evgate/dnsmasq/lease.sock",
	.user = "dnsmasq",
	.group = "nogroup",
	.uid = 999,
	.gid = 65534,
};

#define WAN "wan: {resolvers: [203.0.113.53, \"198.51.100.7:5353\"]}\n"
#define LAN "lan: {interface: plc0, address: 10.42.0.1/24}\n"
#define RELAY \
    "relay:\n" \
    "  listen: 10.42.0.1\n" \
    "  routes:\n" \
    "    - {port: 8883, allow: [zapcloud.azure-devices.net]}\n" \
    "    - {port: 443, allow: [api.zaptec.com, \"*.blob.core.windows.net\"," \
    " API.zaptec.com.]}\n"

static const char site[] =
    WAN RELAY LAN
    "dhcp:\n"
    "  range: 10.42.0.10-10.42.0.250\n"
    "  lease_time: 1h\n"
    "  known_only: true\n"
    "  chargers:\n"
    "    - {id: ZAP000101, mac: \"02:42:00:00:00:01\", address: 10.42.0.21}\n"
    "    - {id: ZAP000102, mac: \"02:42:00:00:00:02\", address: 10.42.0.5}\n"
    "    - {id: ZAP000103, mac: \"02:42:00:00:00:03\"}\n"
    "dns:\n"
    "  cache_size: 500\n"
    "  steer: [no.pool.ntp.org, \"*.pool.ntp.org\"]\n"
    "  pass_through: [updates.example.com]\n"
    "dnsmasq: {user: dnsmasq, state_dir: /var/lib/evgate-test,"
    " run_dir: /run/evgate-test, hook: /opt/evgate/hook}\n";

static void
test_sections(void **state)
{
	struct config *c = load_ok(site);
	char a[INET_ADDRSTRLEN];

	assert_non_null(c->lan);
	assert_string_equal(c->lan->interface, "plc0");
	assert_string_equal(inet_ntop(AF_INET, &c->lan->addr, a, sizeof(a)),
	    "10.42.0.1");
	assert_int_equal(c->lan->prefix, 24);
	assert_string_equal(inet_ntop(AF_INET, &c->lan->mask, a, sizeof(a)),
	    "255.255.255.0");
	assert_non_null(c->dhcp);
	assert_int_equal(c->dhcp->lease_ms, 3600000);
	assert_true(c->dhcp->known_only);
	assert_int_equal(c->dhcp->ncharger, 3);
	assert_string_equal(c->dhcp->chargers[1].id, "ZAP000102");
	assert_int_equal(c->dhcp->chargers[1].mac[5], 2);
	assert_int_equal(c->dhcp->chargers[2].addr.s_addr, 0);
	/* 241 in the range, plus 10.42.0.5 reserved outside it */
	assert_int_equal(lan_pool_size(c->dhcp), 242);
	assert_non_null(lan_charger_by_mac(c->dhcp,
	    c->dhcp->chargers[2].mac));
	assert_non_null(c->dns);
	assert_int_equal(c->dns->cache_size, 500);
	assert_int_equal(c->dns->nsteer, 2);
	assert_int_equal(c->dns->npass, 1);
	assert_string_equal(c->dnsmasq->binary, "/usr/sbin/dnsmasq");
	assert_string_equal(c->dnsmasq->run_dir, "/run/evgate-test");
	assert_string_equal(c->dnsmasq->hook, "/opt/evgate/hook");
	config_free(c);
}

static void
test_defaults(void **state)
{
	struct config *c;

	/* No lan: no site services, and no dnsmasq defaults either. */
	c = load_ok(WAN);
	assert_null(c->lan);
	assert_null(c->dhcp);
	assert_null(c->dns);
	assert_null(c->dnsmasq);
	config_free(c);

	c = load_ok(LAN "dhcp: {range: 10.42.0.10-10.42.0.20}\ndns: {}\n");
	assert_int_equal(c->dhcp->lease_ms, 3600000);
	assert_true(c->dhcp->known_only);
	assert_int_equal(c->dhcp->ncharger, 0);
	assert_int_equal(c->dns->cache_size, 1000);
	/* The chargers' static NTP name is steered unless told otherwise. */
	assert_int_equal(c->dns->nsteer, 1);
	assert_string_equal(c->dns->steer[0], "no.pool.ntp.org");
	assert_string_equal(c->dnsmasq->binary, "/usr/sbin/dnsmasq");
	assert_string_equal(c->dnsmasq->user, "dnsmasq");
	assert_string_equal(c->dnsmasq->state_dir, LOCALSTATEDIR "/lib/evgate");
	assert_string_equal(c->dnsmasq->run_dir, RUNSTATEDIR "/evgate/dnsmasq");
	assert_string_equal(c->dnsmasq->hook, LIBEXECDIR "/evgate-dhcp-hook");
	config_free(c);

	c = load_ok(LAN "dns: {steer: []}\n");
	assert_int_equal(c->dns->nsteer, 0);
	config_free(c);
}

struct bad {
	const char	*yaml;
	const char	*error;
};

#define DHCP_OK "dhcp: {range: 10.42.0.10-10.42.0.250}\n"

static const struct bad bad[] = {
	{ "lan: {interface: plc0}\n",
	  "t.yaml:1:6: lan: missing required key \"address\"" },
	{ "lan: {interface: plc0, address: 10.42.0.1}\n",
	  "t.yaml:1:33: lan.address: expected the gateway's address with its "
	  "prefix length, such as 10.42.0.1/24, found \"10.42.0.1\"" },
	{ "lan: {interface: plc0, address: 10.42.0.0/24}\n",
	  "t.yaml:1:33: lan.address: 10.42.0.0 is the network or broadcast "
	  "address of /24, not a host address" },
	{ "lan: {interface: plc0, address: 10.42.0.1/31}\n",
	  "t.yaml:1:33: lan.address: the prefix length must be 8 to 30 "
	  "(found \"31\")" },
	{ "lan: {interface: plc0, address: \"fd00::1/64\"}\n",
	  "t.yaml:1:33: lan.address: \"fd00::1\" is not an IPv4 address" },
	{ "lan: {interface: lo, address: 127.0.0.1/8}\n",
	  "t.yaml:1:18: lan.interface: the chargers are not on the loopback "
	  "interface" },
	{ "lan: {interface: \"plc 0\", address: 10.42.0.1/24}\n",
	  "t.yaml:1:18: lan.interface: \"plc 0\" is not an interface name" },
	{ "lan: {interface: averyveryverylongname, address: 10.42.0.1/24}\n",
	  "t.yaml:1:18: lan.interface: an interface name has at most 15 "
	  "characters" },
	{ DHCP_OK,
	  "t.yaml:1:7: dhcp: needs a lan section" },
	{ "dns: {}\n",
	  "t.yaml:1:6: dns: needs a lan section" },
	{ LAN "dhcp: {range: 10.42.0.10}\n",
	  "t.yaml:2:15: dhcp.range: expected first-last, such as "
	  "10.42.0.10-10.42.0.250, found \"10.42.0.10\"" },
	{ LAN "dhcp: {range: 10.42.0.250-10.42.0.10}\n",
	  "t.yaml:2:15: dhcp.range: the range's first address is after its "
	  "last" },
	{ LAN "dhcp: {range: 10.42.0.10-10.43.0.10}\n",
	  "t.yaml:2:15: dhcp.range: 10.43.0.10 is outside lan.address's "
	  "subnet 10.42.0.1/24" },
	{ LAN "dhcp: {range: 10.42.0.10-10.42.0.255}\n",
	  "t.yaml:2:15: dhcp.range: 10.42.0.255 is the broadcast address of "
	  "lan.address's subnet 10.42.0.1/24, not a host address" },
	{ LAN "dhcp: {range: 10.42.0.0-10.42.0.9}\n",
	  "t.yaml:2:15: dhcp.range: 10.42.0.0 is the network address of "
	  "lan.address's subnet 10.42.0.1/24, not a host address" },
	{ "lan: {interface: plc0, address: 10.42.0.100/24}\n" DHCP_OK,
	  "t.yaml:2:15: dhcp.range: the range contains the gateway's own "
	  "address 10.42.0.100" },
	{ LAN "dhcp: {range: 10.42.0.10-10.42.0.250, lease_time: 30s}\n",
	  "t.yaml:2:51: dhcp.lease_time: 30s is out of range (2m-7d)" },
	{ LAN "dhcp: {range: 10.42.0.10-10.42.0.250, known_only: maybe}\n",
	  "t.yaml:2:51: dhcp.known_only: expected true or false, found "
	  "\"maybe\"" },
	{ LAN "dhcp:\n  range: 10.42.0.10-10.42.0.250\n  chargers:\n"
	  "    - {mac: \"02:42:00:00:00:01\"}\n",
	  "t.yaml:5:7: dhcp.chargers[0]: missing required key \"id\"" },
	{ LAN "dhcp:\n  range: 10.42.0.10-10.42.0.250\n  chargers:\n"
	  "    - {id: \"ZAP 1\", mac: \"02:42:00:00:00:01\"}\n",
	  "t.yaml:5:12: dhcp.chargers[0].id: \"ZAP 1\": a charger id has only "
	  "letters, digits, '-', '_' and '.'" },
	{ LAN "dhcp:\n  range: 10.42.0.10-10.42.0.250\n  chargers:\n"
	  "    - {id: ZAP1, mac: 02:42:00:00:00}\n",
	  "t.yaml:5:23: dhcp.chargers[0].mac: expected a MAC address such as "
	  "\"02:42:00:00:00:01\", found \"02:42:00:00:00\"" },
	{ LAN "dhcp:\n  range: 10.42.0.10-10.42.0.250\n  chargers:\n"
	  "    - {id: ZAP1, mac: \"01:00:5e:00:00:01\"}\n",
	  "t.yaml:5:23: dhcp.chargers[0].mac: 01:00:5e:00:00:01 is a "
	  "multicast address, not a charger's" },
	{ LAN "dhcp:\n  range: 10.42.0.10-10.42.0.250\n  chargers:\n"
	  "    - {id: ZAP1, mac: \"02:42:00:00:00:01\"}\n"
	  "    - {id: zap1, mac: \"02:42:00:00:00:02\"}\n",
	  "t.yaml:6:12: dhcp.chargers[1].id: charger id zap1 is listed twice "
	  "(also dhcp.chargers[0])" },
	{ LAN "dhcp:\n  range: 10.42.0.10-10.42.0.250\n  chargers:\n"
	  "    - {id: ZAP1, mac: \"02:42:00:00:00:01\"}\n"
	  "    - {id: ZAP2, mac: \"02:42:00:00:00:01\"}\n",
	  "t.yaml:6:23: dhcp.chargers[1].mac: MAC 02:42:00:00:00:01 is listed "
	  "twice (also dhcp.chargers[0])" },
	{ LAN "dhcp:\n  range: 10.42.0.10-10.42.0.250\n  chargers:\n"
	  "    - {id: ZAP1, mac: \"02:42:00:00:00:01\", address: 10.42.0.21}\n"
	  "    - {id: ZAP2, mac: \"02:42:00:00:00:02\", address: 10.42.0.21}\n",
	  "t.yaml:6:53: dhcp.chargers[1].address: address 10.42.0.21 is "
	  "reserved twice (also for ZAP1)" },
	{ LAN "dhcp:\n  range: 10.42.0.10-10.42.0.250\n  chargers:\n"
	  "    - {id: ZAP1, mac: \"02:42:00:00:00:01\", address: 10.43.0.21}\n",
	  "t.yaml:5:53: dhcp.chargers[0].address: 10.43.0.21 is outside "
	  "lan.address's subnet 10.42.0.1/24" },
	{ LAN "dhcp:\n  range: 10.42.0.10-10.42.0.250\n  chargers:\n"
	  "    - {id: ZAP1, mac: \"02:42:00:00:00:01\", address: 10.42.0.1}\n",
	  "t.yaml:5:53: dhcp.chargers[0].address: 10.42.0.1 is the gateway's "
	  "own address" },
	{ LAN "dhcp:\n  range: 10.42.0.10-10.42.0.250\n  chargers:\n"
	  "    - {id: ZAP1, mac: \"02:42:00:00:00:01\", address: 10.42.0.255}\n",
	  "t.yaml:5:53: dhcp.chargers[0].address: 10.42.0.255 is the "
	  "broadcast address of lan.address's subnet 10.42.0.1/24, not a "
	  "host address" },
	{ LAN "dns: {cache_size: 20000}\n",
	  "t.yaml:2:19: dns.cache_size: 20000 is out of range (0-10000)" },
	{ LAN "dns: {steer: no.pool.ntp.org}\n",
	  "t.yaml:2:14: dns.steer: expected a list of names, found a scalar" },
	{ LAN "dns: {steer: [\"*\"]}\n",
	  "t.yaml:2:15: dns.steer[0]: \"*\": a wildcard must be written "
	  "\"*.suffix\"" },
	{ LAN "dns: {pass_through: [a.example]}\n",
	  "t.yaml:2:21: dns.pass_through: needs wan.resolvers to resolve "
	  "through" },
	{ WAN LAN "dns: {steer: [a.example], pass_through: [A.example.]}\n",
	  "t.yaml:3:42: dns.pass_through[0]: A.example. is both in "
	  "dns.steer and in dns.pass_through" },
	{ WAN RELAY LAN "dns: {pass_through: [api.zaptec.com]}\n",
	  "t.yaml:8:22: dns.pass_through[0]: api.zaptec.com is in "
	  "dns.pass_through but the relay allows it (relay.routes[1]): "
	  "relayed names are steered to the gateway" },
	{ WAN "relay: {listen: 10.42.0.2, routes: [{port: 443, allow: [a.b]}]}\n"
	  LAN "dns: {}\n",
	  "t.yaml:3:33: lan.address: the relay does not listen on 10.42.0.1, "
	  "but steered names are answered with it: add it to relay.listen" },
	{ LAN "dnsmasq: {user: root}\n",
	  "t.yaml:2:17: dnsmasq.user: dnsmasq must not keep root privileges: "
	  "give an unprivileged user" },
	{ LAN "dnsmasq: {binary: dnsmasq}\n",
	  "t.yaml:2:19: dnsmasq.binary: the path must be absolute" },
	{ LAN "dnsmasq: {hook: \"/usr/lib/hook; rm -rf /\"}\n",
	  "t.yaml:2:17: dnsmasq.hook: use only letters, digits and / . _ - + "
	  "in this path" },
	{ LAN "dnsmasq: {run_dir: /run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}\n",
	  "t.yaml:2:20: dnsmasq.run_dir: run_dir is longer than 80 bytes (it "
	  "holds a Unix socket)" },
	{ LAN "dnsmasq: {pid_file: /x}\n",
	  "t.yaml:2:11: dnsmasq: unknown key \"pid_file\"" },
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
			fail_msg("case %zu accepted: %s", i, bad[i].yaml);
		if (strcmp(err, bad[i].error) != 0) {
			print_message("case %zu:\n  want: %s\n  got:  %s\n",
			    i, bad[i].error, err);
			nbad++;
		}
	}
	assert_int_equal(nbad, 0);
}

/* The whole generated dnsmasq.conf for the full site (golden). */
static const char golden_conf[] =
    "# dnsmasq.conf for the chargers' LAN, generated by evgated from\n"
    "# t.yaml.  Do not edit: evgated rewrites it and restarts dnsmasq\n"
    "# when the site configuration changes (evgated.yaml(5)).\n"
    "\n"
    "# The process: evgated's child, logging to evgated.\n"
    "keep-in-foreground\n"
    "log-facility=-\n"
    "pid-file=\n"
    "user=dnsmasq\n"
    "group=nogroup\n"
    "\n"
    "# Only the LAN interface and address: never the WAN.\n"
    "interface=plc0\n"
    "except-interface=lo\n"
    "listen-address=10.42.0.1\n"
    "bind-interfaces\n"
    "\n"
    "# DNS: no upstream but for pass-through names.\n"
    "no-resolv\n"
    "no-hosts\n"
    "port=53\n"
    "cache-size=500\n"
    "local-ttl=60\n"
    "strict-order\n"
    "# Every name not listed below: NXDOMAIN.\n"
    "address=/#/\n"
    "# Steered to the gateway (relay allowlists, dns.steer); local= makes "
    "AAAA\n"
    "# an empty answer instead of NXDOMAIN.\n"
    "address=/zapcloud.azure-devices.net/10.42.0.1\n"
    "local=/zapcloud.azure-devices.net/\n"
    "address=/api.zaptec.com/10.42.0.1\n"
    "local=/api.zaptec.com/\n"
    "address=/blob.core.windows.net/10.42.0.1\n"
    "local=/blob.core.windows.net/\n"
    "address=/no.pool.ntp.org/10.42.0.1\n"
    "local=/no.pool.ntp.org/\n"
    "address=/pool.ntp.org/10.42.0.1\n"
    "local=/pool.ntp.org/\n"
    "# Resolved through wan.resolvers (dns.pass_through).\n"
    "server=/updates.example.com/203.0.113.53\n"
    "server=/updates.example.com/198.51.100.7#5353\n"
    "\n"
    "# DHCP: one address per charger; evgated keeps the leases.\n"
    "dhcp-range=10.42.0.10,10.42.0.250,255.255.255.0,3600\n"
    "dhcp-authoritative\n"
    "# Only MACs listed in dhcp.chargers.\n"
    "dhcp-ignore=tag:!known\n"
    "# Client hostnames stay out of DNS.\n"
    "dhcp-ignore-names\n"
    "dhcp-hostsfile=/run/evgate/dnsmasq/dhcp-hosts\n"
    "# No default route: the gateway does not forward.\n"
    "dhcp-option=3\n"
    "# DNS and NTP servers: this gateway (0.0.0.0 means \"this "
    "server\").\n"
    "dhcp-option=6,0.0.0.0\n"
    "dhcp-option=42,0.0.0.0\n"
    "# Leases live in evgated: init at start, then every change.\n"
    "leasefile-ro\n"
    "dhcp-script=/usr/libexec/evgate-dhcp-hook\n"
    "dhcp-scriptuser=dnsmasq\n";

static void
test_golden_conf(void **state)
{
	struct config *c = load_ok(site);
	char *text = dnsmasq_conf_text(SC(c), &run), *again;

	assert_string_equal(text, golden_conf);
	/* Pure: the same input gives the same bytes (reload compares). */
	again = dnsmasq_conf_text(SC(c), &run);
	assert_string_equal(text, again);
	free(text);
	free(again);
	config_free(c);
}

static int
has_line(const char *text, const char *line)
{
	size_t len = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return 1;
		p++;
	}
	return 0;
}

/*
 * An unprivileged evgated runs dnsmasq as itself: no dhcp-scriptuser,
 * which dnsmasq cannot honour without CAP_SETUID (it refuses to start).
 */
static void
test_as_self(void **state)
{
	struct config *c = load_ok(site);
	struct dnsmasq_run self = run;
	char *text;

	self.as_self = 1;
	text = dnsmasq_conf_text(SC(c), &self);
	assert_null(strstr(text, "dhcp-scriptuser="));
	assert_true(has_line(text, "leasefile-ro"));
	assert_non_null(strstr(text, "\ndhcp-script="));
	free(text);
	text = dnsmasq_conf_text(SC(c), &run);
	assert_true(has_line(text, "dhcp-scriptuser=dnsmasq"));
	free(text);
	config_free(c);
}

/* known_only off: no dhcp-ignore; everything else the same. */
static void
test_open_dhcp(void **state)
{
	struct config *c = load_ok(LAN "dhcp: {range: 10.42.0.10-10.42.0.20, "
	    "known_only: false, lease_time: 10m}\ndns: {steer: []}\n");
	char *text = dnsmasq_conf_text(SC(c), &run);

	assert_false(has_line(text, "dhcp-ignore=tag:!known"));
	assert_true(has_line(text, "dhcp-range=10.42.0.10,10.42.0.20,"
	    "255.255.255.0,600"));
	assert_true(has_line(text, "dhcp-option=3"));
	assert_true(has_line(text, "dhcp-option=6,0.0.0.0"));
	assert_true(has_line(text, "address=/#/"));
	/* Nothing steered: no address= but the catch-all. */
	assert_null(strstr(text, "address=/no.pool"));
	assert_null(strstr(text, "server="));
	free(text);
	config_free(c);
}

/* A lan with DNS only: DNS served, no DHCP at all. */
static void
test_dns_only(void **state)
{
	struct config *c = load_ok(LAN "dns: {}\n");
	char *text = dnsmasq_conf_text(SC(c), &run);

	assert_true(has_line(text, "port=53"));
	assert_true(has_line(text, "address=/no.pool.ntp.org/10.42.0.1"));
	assert_true(has_line(text, "local=/no.pool.ntp.org/"));
	assert_null(strstr(text, "dhcp-"));
	assert_null(strstr(text, "leasefile-ro"));
	free(text);
	config_free(c);
}

/* DHCP only: DNS off (port=0), and then option 6 is not handed out. */
static void
test_dhcp_only(void **state)
{
	struct config *c = load_ok(LAN DHCP_OK);
	char *text = dnsmasq_conf_text(SC(c), &run);

	assert_true(has_line(text, "port=0"));
	assert_false(has_line(text, "address=/#/"));
	assert_false(has_line(text, "dhcp-option=6,0.0.0.0"));
	assert_true(has_line(text, "dhcp-option=42,0.0.0.0"));
	assert_true(has_line(text, "dhcp-ignore=tag:!known"));
	assert_true(has_line(text, "leasefile-ro"));
	free(text);
	config_free(c);
}

/* Steered names: relay allowlists and dns.steer, each domain once. */
static void
test_steer_dedup(void **state)
{
	struct config *c = load_ok(WAN RELAY LAN
	    "dns: {steer: [api.zaptec.com, \"*.ZAPCLOUD.azure-devices.net\"]}\n");
	char *text = dnsmasq_conf_text(SC(c), &run);
	const char *p;
	int n = 0;

	for (p = text; (p = strstr(p, "address=/api.zaptec.com/")) != NULL;
	    p++)
		n++;
	assert_int_equal(n, 1);
	n = 0;
	for (p = text; (p = strstr(p, "local=/zapcloud.azure-devices.net/"))
	    != NULL; p++)
		n++;
	assert_int_equal(n, 1);
	/* With no dns.steer key, the NTP name is there; with one, only it. */
	assert_null(strstr(text, "no.pool.ntp.org"));
	free(text);
	config_free(c);
}

static void
test_hosts(void **state)
{
	struct config *c = load_ok(site);
	char *text = dnsmasq_hosts_text(SC(c));

	assert_string_equal(text,
	    "# dnsmasq dhcp-hostsfile generated by evgated from "
	    "dhcp.chargers.\n"
	    "# Do not edit; evgated rewrites it and sends dnsmasq SIGHUP.\n"
	    "# ZAP000101\n"
	    "02:42:00:00:00:01,10.42.0.21\n"
	    "# ZAP000102\n"
	    "02:42:00:00:00:02,10.42.0.5\n"
	    "# ZAP000103 (any address from the range)\n"
	    "02:42:00:00:00:03\n");
	free(text);
	config_free(c);
}

/* A reservation change alters the hosts file only (SIGHUP, no restart). */
static void
test_reservation_change_is_hosts_only(void **state)
{
	static const char a[] = LAN "dhcp:\n  range: 10.42.0.10-10.42.0.250\n"
	    "  chargers: [{id: A1, mac: \"02:00:00:00:00:01\"}]\ndns: {}\n";
	static const char b[] = LAN "dhcp:\n  range: 10.42.0.10-10.42.0.250\n"
	    "  chargers: [{id: A1, mac: \"02:00:00:00:00:01\"},"
	    " {id: B2, mac: \"02:00:00:00:00:02\", address: 10.42.0.2}]\n"
	    "dns: {}\n";
	struct config *ca = load_ok(a), *cb = load_ok(b);
	char *conf_a = dnsmasq_conf_text(SC(ca), &run);
	char *conf_b = dnsmasq_conf_text(SC(cb), &run);
	char *hosts_a = dnsmasq_hosts_text(SC(ca));
	char *hosts_b = dnsmasq_hosts_text(SC(cb));

	assert_string_equal(conf_a, conf_b);
	assert_string_not_equal(hosts_a, hosts_b);
	assert_true(has_line(hosts_b, "02:00:00:00:00:02,10.42.0.2"));
	free(conf_a);
	free(conf_b);
	free(hosts_a);
	free(hosts_b);
	config_free(ca);
	config_free(cb);
}

static void
test_mac_and_id(void **state)
{
	uint8_t mac[6];
	char buf[18];

	assert_int_equal(lan_parse_mac("02:42:AA:bb:0c:Ff", 17, mac), 0);
	assert_string_equal(lan_format_mac(mac, buf, sizeof(buf)),
	    "02:42:aa:bb:0c:ff");
	assert_int_equal(lan_parse_mac("02:42:aa:bb:0c:f", 16, mac), -1);
	assert_int_equal(lan_parse_mac("02-42-aa-bb-0c-ff", 17, mac), -1);
	assert_int_equal(lan_parse_mac("02:42:aa:bb:0c:fg", 17, mac), -1);
	assert_int_equal(lan_parse_mac("02:42:aa:bb:0c:ff:", 18, mac), -1);
	assert_null(lan_check_id("ZAP000123", 9));
	assert_null(lan_check_id("a.b-c_d", 7));
	assert_non_null(lan_check_id("", 0));
	assert_non_null(lan_check_id("-x", 2));
	assert_non_null(lan_check_id("x/y", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_golden_conf),
		cmocka_unit_test(test_open_dhcp),
		cmocka_unit_test(test_as_self),
		cmocka_unit_test(test_dns_only),
		cmocka_unit_test(test_dhcp_only),
		cmocka_unit_test(test_steer_dedup),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_reservation_change_is_hosts_only),
		cmocka_unit_test(test_mac_and_id),
	};

	return cmocka_run_group_tests_name("dnsmasq_config", tests, NULL,
	    NULL);
}
