/*
 * config: the root of evgated.yaml (see config.h): the table of sections,
 * the site and daemon sections, the rules that span sections, load and
 * free.  Every other section belongs to its module.
 */
#include "evgate_config.h"

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
#include "time/ntp.h"

/* --- site and daemon ------------------------------------------------ */

static int
site_name(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct config *conf = arg;

	return cfg_str(ctx, node, &conf->site_name);
}

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
	struct config *conf = arg;

	conf->daemon = xcalloc(1, sizeof(*conf->daemon));
	return cfg_map(ctx, node, keys, conf->daemon);
}

/* --- the sections of the modules ------------------------------------- */

/*
 * The root table hands each module a pointer to its own slot of struct
 * config: a module's parser never sees the root.
 */
#define SECTION(fn, parse, field)					\
static int								\
fn(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)		\
{									\
	struct config *conf = arg;					\
									\
	return parse(ctx, node, &conf->field);				\
}
SECTION(wan_section, resolver_cfg_section, wan)
SECTION(relay_section, relay_conf_section, relay)
SECTION(control_section, control_cfg_section, control)
SECTION(log_section, fleetlog_cfg_section, log)
SECTION(ntp_section, ntp_cfg_section, ntp)
SECTION(metrics_section, metrics_cfg_section, metrics)
SECTION(ship_section, ship_cfg_section, ship)
SECTION(lan_section_of, lan_section, lan)
SECTION(dhcp_section_of, lan_dhcp_section, dhcp)
SECTION(dns_section_of, lan_dns_section, dns)
SECTION(dnsmasq_section_of, lan_dnsmasq_section, dnsmasq)

static const struct cfg_key root_keys[] = {
	{ "site", site_section, 0 },
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
	{ "daemon", daemon_section, 0 },
	{ NULL, NULL, 0 },
};

/* --- rules that span sections ---------------------------------------- */

static int
config_check(struct cfg_ctx *ctx, struct cfg_node *root, void *arg)
{
	struct config *conf = arg;

	if (conf->ntp != NULL && ntp_cfg_check(ctx, root, conf->ntp,
	    conf->wan.nresolvers, conf->lan != NULL ? &conf->lan->addr :
	    NULL) == -1)
		return -1;
	if (conf->relay != NULL && conf->wan.nresolvers == 0 &&
	    conf->relay->proxy_host == NULL)
		return cfg_error(ctx, root, "relay needs wan.resolvers (or "
		    "relay.upstream_proxy) to reach the cloud");
	if (conf->ship != NULL && conf->log == NULL)
		return cfg_error(ctx, root, "ship sends the fleet log: it "
		    "needs a log section");
	if (lan_config_check(ctx, root, conf->lan, conf->dhcp, conf->dns,
	    &conf->dnsmasq, conf->relay, conf->wan.nresolvers) == -1)
		return -1;
	return 0;
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
}

/* --- load and free --------------------------------------------------- */

void
config_free(struct config *conf)
{
	if (conf == NULL)
		return;
	free(conf->path);
	free(conf->site_name);
	resolver_cfg_free(&conf->wan);
	relay_conf_free(conf->relay);
	control_cfg_free(&conf->control);
	lan_config_free(conf->lan, conf->dhcp, conf->dns, conf->dnsmasq);
	fleetlog_cfg_free(conf->log);
	ntp_cfg_free(conf->ntp);
	metrics_cfg_free(conf->metrics);
	ship_cfg_free(conf->ship);
	if (conf->daemon != NULL) {
		free(conf->daemon->user);
		free(conf->daemon);
	}
	free(conf);
}

struct config *
config_load_buffer(const char *name, const uint8_t *buf, size_t len,
    char *err, size_t errlen)
{
	struct config *conf = xcalloc(1, sizeof(*conf));

	conf->path = xstrdup(name);
	resolver_cfg_defaults(&conf->wan);
	control_cfg_defaults(&conf->control);
	if (cfg_parse(name, buf, len, root_keys, config_check, conf, err,
	    errlen) == -1) {
		config_free(conf);
		return NULL;
	}
	control_cfg_finish(&conf->control);
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
		if (len > CFG_MAX_BYTES)
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
