/*
 * config: the root of evgated.yaml (see config.h): the table of sections,
 * the site and daemon sections, the rules that span sections, load and
 * free.  Every other section belongs to its module.
 */
#include "evgate_config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfg.h"
#include "common/util.h"
#include "daemon/config.h"
#include "common/control.h"
#include "fleetlog/fleetlog.h"
#include "fleetlog/metrics.h"
#include "fleetlog/ship.h"
#include "relay/relay_conf.h"
#include "relay/resolver.h"
#include "site/lan.h"
#include "site/pair.h"
#include "time/ntp.h"

/* --- site and daemon ------------------------------------------------ */

static int
site_name(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	char **name = arg;

	return cfg_str(ctx, node, name);
}

/* arg: the struct config's site_name */
static int
site_section(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "name", site_name, 0 },
		{ NULL, NULL, 0 },
	};

	return cfg_map(ctx, node, keys, arg);
}


static int
daemon_user(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_daemon *dm = arg;

	if (cfg_str(ctx, node, &dm->user) == -1)
		return -1;
	if (strcmp(dm->user, "root") == 0)
		return cfg_error(ctx, node, "\"root\" is not an unprivileged "
		    "user: leave daemon.user out to stay root");
	return 0;
}

static int
daemon_section(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "user", daemon_user, 0 },
		{ NULL, NULL, 0 },
	};
	struct cfg_daemon **dm = arg;

	*dm = xcalloc(1, sizeof(**dm));
	return cfg_map(ctx, node, keys, *dm);
}

/* --- the sections of the modules ------------------------------------- */

/*
 * While loading: the config being filled, and which sections had errors,
 * so that the rules across sections check only what parsed (a rule over
 * a half-parsed section would report nonsense, or trip over it).
 */
struct load {
	struct config	*conf;
	uint32_t	 bad;		/* 1 << enum section */
	unsigned	 nsections;	/* sections present in the file */
};

enum section {
	S_SITE, S_WAN, S_RELAY, S_CONTROL, S_LAN, S_DHCP, S_DNS, S_DNSMASQ,
	S_LOG, S_NTP, S_METRICS, S_SHIP, S_DAEMON, S_PAIR,
};

#define BAD(l, s)	((l)->bad & (1U << (s)))

/*
 * The root table hands each module a pointer to its own slot of struct
 * config: a module's parser never sees the root.
 */
#define SECTION(fn, id, parse, field)					\
static int								\
fn(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)		\
{									\
	struct load *l = arg;						\
	size_t e0 = cfg_nerrors(ctx);					\
									\
	l->nsections++;							\
	parse(ctx, node, &l->conf->field);				\
	if (cfg_nerrors(ctx) > e0)					\
		l->bad |= 1U << (id);					\
	return cfg_nerrors(ctx) > e0 ? -1 : 0;				\
}
SECTION(site_section_of, S_SITE, site_section, site_name)
SECTION(wan_section, S_WAN, resolver_cfg_section, wan)
SECTION(relay_section, S_RELAY, relay_conf_section, relay)
SECTION(control_section, S_CONTROL, control_cfg_section, control)
SECTION(log_section, S_LOG, fleetlog_cfg_section, log)
SECTION(ntp_section, S_NTP, ntp_cfg_section, ntp)
SECTION(metrics_section, S_METRICS, metrics_cfg_section, metrics)
SECTION(ship_section, S_SHIP, ship_cfg_section, ship)
SECTION(lan_section_of, S_LAN, lan_section, lan)
SECTION(dhcp_section_of, S_DHCP, lan_dhcp_section, dhcp)
SECTION(dns_section_of, S_DNS, lan_dns_section, dns)
SECTION(dnsmasq_section_of, S_DNSMASQ, lan_dnsmasq_section, dnsmasq)
SECTION(daemon_section_of, S_DAEMON, daemon_section, daemon)
SECTION(pair_section, S_PAIR, pair_cfg_section, pair)

static const struct cfg_key root_keys[] = {
	{ "site", site_section_of, 0 },
	{ "wan", wan_section, 0 },
	{ "relay", relay_section, 0 },
	{ "control", control_section, 0 },
	{ "lan", lan_section_of, 0 },
	{ "dhcp", dhcp_section_of, 0 },
	{ "dns", dns_section_of, 0 },
	{ "dnsmasq", dnsmasq_section_of, 0 },
	{ "log", log_section, 0 },
	{ "ntp", ntp_section, 0 },
	{ "metrics", metrics_section, 0 },
	{ "ship", ship_section, 0 },
	{ "daemon", daemon_section_of, 0 },
	{ "pair", pair_section, 0 },
	{ NULL, NULL, 0 },
};

/* --- rules that span sections ---------------------------------------- */

/*
 * Ports: every socket evgated (and its dnsmasq) binds, by component, so
 * that two components asking for one port are told apart before they
 * meet at run time (a relay route on port 53 makes dnsmasq fail to bind
 * and retry for ever).
 */
struct bindings {
	struct config_binding	*v;
	size_t			 n;
};

static void
bind_add(struct bindings *b, const char *who, const char *path, int tcp,
    int udp, const struct sockaddr_storage *ss, uint16_t port)
{
	struct config_binding *x;

	b->v = xreallocarray(b->v, b->n + 1, sizeof(*b->v));
	x = &b->v[b->n++];
	memset(x, 0, sizeof(*x));
	x->who = who;
	strlcpy(x->path, path, sizeof(x->path));
	x->tcp = tcp;
	x->udp = udp;
	x->ss = *ss;
	x->port = port;
}

static uint16_t
ss_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

static int
ss_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
		    &((const struct sockaddr_in6 *)ss)->sin6_addr);
	return 0;
}

/* Same address (ports aside)? */
int
config_same_addr(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
	return 0;
}

/* Would binding both fail?  A wildcard takes the port on every address
 * of its family; "::" takes IPv4 too (dual-stack sockets). */
static int
overlaps(const struct config_binding *a, const struct config_binding *b)
{
	if (a->port != b->port || !((a->tcp && b->tcp) || (a->udp && b->udp)))
		return 0;
	if (ss_wildcard(&a->ss) && (a->ss.ss_family == b->ss.ss_family ||
	    a->ss.ss_family == AF_INET6))
		return 1;
	if (ss_wildcard(&b->ss) && (a->ss.ss_family == b->ss.ss_family ||
	    b->ss.ss_family == AF_INET6))
		return 1;
	return config_same_addr(&a->ss, &b->ss);
}

static const char *
ss_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = ss->ss_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)ss)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	if (inet_ntop(ss->ss_family, a, buf, (socklen_t)len) == NULL)
		strlcpy(buf, "?", len);
	return buf;
}

static const char *
proto_text(const struct config_binding *a, const struct config_binding *b)
{
	int tcp = a->tcp && b->tcp, udp = a->udp && b->udp;

	return tcp && udp ? "TCP and UDP" : tcp ? "TCP" : "UDP";
}

/* Every socket the configuration asks for, by component. */
void
config_bindings(const struct config *conf, struct config_binding **out,
    size_t *n)
{
	struct bindings b = { NULL, 0 };
	struct sockaddr_storage ss;
	char path[48];
	size_t i, j;

	if (conf->relay != NULL) {
		const struct cfg_relay *r = conf->relay;

		for (i = 0; i < r->nlisten; i++) {
			for (j = 0; j < r->nroutes; j++) {
				snprintf(path, sizeof(path),
				    "relay.routes[%zu].port", j);
				bind_add(&b, "the relay", path, 1, 0,
				    &r->listen[i].ss, r->routes[j].port);
			}
			if (r->transparent_port != 0)
				bind_add(&b, "the relay (transparent)",
				    "relay.transparent.port", 1, 0,
				    &r->listen[i].ss, r->transparent_port);
		}
	}
	if (conf->metrics != NULL)
		bind_add(&b, "metrics", "metrics.listen", 1, 0,
		    &conf->metrics->listen.ss,
		    ss_port(&conf->metrics->listen.ss));
	if (conf->ntp != NULL && conf->ntp->serve)
		for (i = 0; i < conf->ntp->nlisten; i++) {
			uint16_t port = ss_port(&conf->ntp->listen[i].ss);

			snprintf(path, sizeof(path), "ntp.listen[%zu]", i);
			bind_add(&b, "the NTP server", path, 0, 1,
			    &conf->ntp->listen[i].ss, port ? port : 123);
		}
	if (conf->lan != NULL) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		memset(&ss, 0, sizeof(ss));
		sin->sin_family = AF_INET;
		sin->sin_addr = conf->lan->addr;
		if (conf->dns != NULL)
			bind_add(&b, "dnsmasq's DNS", "dns", 1, 1,
			    &ss, 53);
		if (conf->dhcp != NULL) {
			/* dnsmasq's DHCP socket is bound to 0.0.0.0:67. */
			sin->sin_addr.s_addr = htonl(INADDR_ANY);
			bind_add(&b, "dnsmasq's DHCP", "dhcp", 0, 1, &ss, 67);
		}
	}
	*out = b.v;
	*n = b.n;
}

static int
check_ports(struct cfg_ctx *ctx, const struct config *conf)
{
	struct config_binding *cb;
	char a[INET6_ADDRSTRLEN];
	size_t n, i, j;
	int rv = 0;

	config_bindings(conf, &cb, &n);
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++) {
			if (cb[i].who == cb[j].who || !overlaps(&cb[i], &cb[j]))
				continue;	/* a section checks its own */
			rv = cfg_error_path(ctx, cb[i].path, "port %u (%s) on "
			    "%s is also taken by %s (%s): give one of them "
			    "another port or address", cb[i].port,
			    proto_text(&cb[i], &cb[j]),
			    ss_text(&cb[i].ss, a, sizeof(a)), cb[j].who,
			    cb[j].path);
			break;
		}
	free(cb);
	return rv;
}

/*
 * wan.resolvers must be the site's upstream DNS.  The gateway's own DNS
 * (dnsmasq on lan.address port 53) answers the cloud names with the
 * gateway's address, so the relay would connect to itself.  Other
 * addresses of this machine are checked against the machine (boxcheck.c):
 * a local resolver of its own on 127.0.0.1 is fine.
 */
static int
check_resolvers(struct cfg_ctx *ctx, const struct config *conf)
{
	char path[48], a[INET6_ADDRSTRLEN];
	size_t i;
	int rv = 0;

	for (i = 0; i < conf->wan.nresolvers; i++) {
		const struct sockaddr_storage *ss = &conf->wan.resolvers[i].ss;
		const char *what = NULL;

		snprintf(path, sizeof(path), "wan.resolvers[%zu]", i);
		if (conf->lan != NULL && conf->dns != NULL &&
		    ss->ss_family == AF_INET && ss_port(ss) == 53 &&
		    ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		    conf->lan->addr.s_addr)
			what = "lan.address, where the gateway's own DNS "
			    "answers cloud names with the gateway";
		if (ss_wildcard(ss))
			what = "not an address a resolver can have";
		if (what != NULL)
			rv = cfg_error_path(ctx, path, "%s is %s: the relay "
			    "would resolve cloud names to itself; give the "
			    "site's upstream DNS", ss_text(ss, a, sizeof(a)),
			    what);
	}
	return rv;
}

static int
config_check(struct cfg_ctx *ctx, struct cfg_node *root, void *arg)
{
	struct load *l = arg;
	struct config *conf = l->conf;
	const struct cfg_lan *lan = BAD(l, S_LAN) ? NULL : conf->lan;
	int rv = 0;

	if (l->nsections == 0 && cfg_nerrors(ctx) == 0)
		return cfg_error(ctx, root, "the file has no settings (empty, "
		    "or only comments): evgated would run no service; see "
		    "evgated.yaml(5)");
	if (conf->ntp != NULL && !BAD(l, S_NTP) && !BAD(l, S_WAN) &&
	    !BAD(l, S_LAN) && ntp_cfg_check(ctx, root, conf->ntp,
	    conf->wan.nresolvers, lan != NULL ? &lan->addr : NULL) == -1)
		rv = -1;
	if (conf->relay != NULL && !BAD(l, S_RELAY) && !BAD(l, S_WAN) &&
	    conf->wan.nresolvers == 0 && conf->relay->proxy_host == NULL)
		rv = cfg_error_path(ctx, "relay", "needs wan.resolvers (or "
		    "relay.upstream_proxy) to reach the cloud");
	if (conf->ship != NULL && conf->log == NULL)
		rv = cfg_error_path(ctx, "ship", "sends the fleet log: it "
		    "needs a log section");
	if (!BAD(l, S_LAN) && !BAD(l, S_DHCP) && !BAD(l, S_DNS) &&
	    !BAD(l, S_DNSMASQ) && !BAD(l, S_RELAY) && !BAD(l, S_WAN) &&
	    lan_config_check(ctx, root, conf->lan, conf->dhcp, conf->dns,
	    &conf->dnsmasq, conf->relay, conf->wan.nresolvers) == -1)
		rv = -1;
	if (cfg_nerrors(ctx) == 0 && check_ports(ctx, conf) == -1)
		rv = -1;
	if (!BAD(l, S_WAN) && !BAD(l, S_LAN) && !BAD(l, S_RELAY) &&
	    check_resolvers(ctx, conf) == -1)
		rv = -1;
	if (conf->dhcp != NULL && !BAD(l, S_DHCP) && !conf->dhcp->known_only)
		cfg_warn_path(ctx, "dhcp.known_only", "false: every device on "
		    "the chargers' segment gets an address, and with it the "
		    "relay and the gateway's DNS and NTP");
	if (conf->pair != NULL && !BAD(l, S_PAIR) && !BAD(l, S_LAN) &&
	    !BAD(l, S_DHCP) && pair_cfg_check(ctx, root, conf->pair,
	    conf->lan, conf->dhcp) == -1)
		rv = -1;
	return rv;
}

void
config_site(const struct config *conf, struct site_conf *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->path = conf->path;
	sc->lan = conf->lan;
	sc->dhcp = conf->lan != NULL ? conf->dhcp : NULL;
	sc->dns = conf->lan != NULL ? conf->dns : NULL;
	sc->dnsmasq = conf->lan != NULL ? conf->dnsmasq : NULL;
	sc->relay = conf->relay;
	sc->wan = &conf->wan;
	sc->pair = conf->lan != NULL ? conf->pair : NULL;
	sc->standby = conf->standby;
}

void
config_pair(const struct config *conf, struct pair_conf *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->pair = conf->pair;
	pc->lan = conf->lan;
	pc->dhcp = conf->dhcp;
	pc->dns = conf->dns;
	pc->relay = conf->relay;
}

/* --- load and free --------------------------------------------------- */

void
config_free(struct config *conf)
{
	if (conf == NULL)
		return;
	free(conf->path);
	free(conf->site_name);
	cfg_index_free(conf->index);
	resolver_cfg_free(&conf->wan);
	relay_conf_free(conf->relay);
	control_cfg_free(&conf->control);
	lan_config_free(conf->lan, conf->dhcp, conf->dns, conf->dnsmasq);
	fleetlog_cfg_free(conf->log);
	ntp_cfg_free(conf->ntp);
	metrics_cfg_free(conf->metrics);
	ship_cfg_free(conf->ship);
	pair_cfg_free(conf->pair);
	if (conf->daemon != NULL) {
		free(conf->daemon->user);
		free(conf->daemon);
	}
	free(conf);
}

struct config *
config_load_buffer_diags(const char *name, const uint8_t *buf, size_t len,
    struct cfg_diags *diags)
{
	struct config *conf = xcalloc(1, sizeof(*conf));
	struct load l;

	memset(&l, 0, sizeof(l));
	l.conf = conf;
	conf->path = xstrdup(name);
	resolver_cfg_defaults(&conf->wan);
	control_cfg_defaults(&conf->control);
	if (cfg_parse(name, buf, len, root_keys, config_check, &l, diags,
	    &conf->index) == -1) {
		config_free(conf);
		return NULL;
	}
	control_cfg_finish(&conf->control);
	return conf;
}

struct config *
config_load_buffer(const char *name, const uint8_t *buf, size_t len,
    char *err, size_t errlen)
{
	struct cfg_diags diags;
	struct config *conf;

	memset(&diags, 0, sizeof(diags));
	conf = config_load_buffer_diags(name, buf, len, &diags);
	config_first_error(&diags, err, errlen);
	cfg_diags_free(&diags);
	return conf;
}

void
config_first_error(const struct cfg_diags *diags, char *err, size_t errlen)
{
	const char *first = cfg_diags_first_error(diags);

	if (errlen == 0)
		return;
	err[0] = '\0';
	if (first == NULL)
		return;
	if (diags->nerrors > 1)
		snprintf(err, errlen, "%s (and %zu more error%s: evgated "
		    "--check-config lists them)", first, diags->nerrors - 1,
		    diags->nerrors > 2 ? "s" : "");
	else
		strlcpy(err, first, errlen);
}

struct config *
config_load_diags(const char *path, struct cfg_diags *diags)
{
	struct config *conf;
	uint8_t *buf;
	size_t len = 0, cap = 8192;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		cfg_diags_add(diags, 0, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(cap);
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len, fp);

		len += n;
		if (n == 0)
			break;
		if (len > CFG_MAX_BYTES)
			break;
		if (len == cap)
			buf = xreallocarray(buf, cap *= 2, 1);
	}
	if (ferror(fp)) {
		cfg_diags_add(diags, 0, "%s: %s", path, strerror(errno));
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	conf = config_load_buffer_diags(path, buf, len, diags);
	free(buf);
	return conf;
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct cfg_diags diags;
	struct config *conf;

	memset(&diags, 0, sizeof(diags));
	conf = config_load_diags(path, &diags);
	config_first_error(&diags, err, errlen);
	cfg_diags_free(&diags);
	return conf;
}
