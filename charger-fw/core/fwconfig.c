/*
 * fwconfig: libyaml's document API gives every node its position, which
 * the error messages quote.  Tables of keys (one per section) say what
 * each key is and where it goes; yamlcfg_map applies them, so that every
 * mapping of the file follows the same rules (unknown and duplicate keys
 * are errors).
 */
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/fwconfig.h"
#include "core/fwlog.h"
#include "core/yamlcfg.h"

#define F(field)	offsetof(struct fw_config, field), \
			sizeof(((struct fw_config *)0)->field)
#define STR(name, field)	{ name, yamlcfg_string, F(field), 0, 0, NULL }
#define NUM(name, field, min, max) \
			{ name, yamlcfg_number, F(field), min, max, NULL }
#define FN(name, fn)	{ name, fn, 0, 0, 0, 0, NULL }
#define SECTION(name, table) \
			{ name, yamlcfg_section, 0, 0, 0, 0, table }
#define END		{ NULL, NULL, 0, 0, 0, 0, NULL }

/* "a.b.c.d" or "a.b.c.d:port" (port: for tests with local servers). */
static int
get_server(struct yamlcfg *x, const yaml_node_t *n, const char *key,
    struct dns_server *out)
{
	const char *s = yamlcfg_scalar(x, n, key);
	char buf[64], *colon, *end;
	struct in_addr a;
	unsigned long port = 53;

	if (s == NULL)
		return -1;
	if (strlen(s) >= sizeof(buf))
		return yamlcfg_fail(x, n, "%s: \"%s\" is not an IPv4 address",
		    key, s);
	snprintf(buf, sizeof(buf), "%s", s);
	if ((colon = strchr(buf, ':')) != NULL) {
		*colon++ = '\0';
		port = strtoul(colon, &end, 10);
		if (*colon == '\0' || *end != '\0' || port == 0 ||
		    port > 65535)
			return yamlcfg_fail(x, n, "%s: bad port in \"%s\"", key,
			    s);
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return yamlcfg_fail(x, n, "%s: \"%s\" is not an IPv4 address",
		    key, s);
	out->addr = ntohl(a.s_addr);
	out->port = (uint16_t)port;
	return 0;
}

static int
set_network(struct yamlcfg *x, const yaml_node_t *v, const char *path,
    const struct yamlcfg_key *k, void *obj)
{
	struct fw_config *c = obj;
	const char *s;

	if ((s = yamlcfg_scalar(x, v, path)) == NULL)
		return -1;
	if (strcmp(s, "dhcp") == 0)
		c->netmode = FW_NET_DHCP;
	else if (strcmp(s, "static") == 0)
		c->netmode = FW_NET_STATIC;
	else
		return yamlcfg_fail(x, v, "network: \"%s\": expected dhcp or "
		    "static", s);
	return 0;
}

static int
set_auth(struct yamlcfg *x, const yaml_node_t *v, const char *path,
    const struct yamlcfg_key *k, void *obj)
{
	struct fw_config *c = obj;
	const char *s;

	if ((s = yamlcfg_scalar(x, v, path)) == NULL)
		return -1;
	if (strcmp(s, "password") == 0)
		c->cloud.auth = CLOUD_AUTH_PASSWORD;
	else if (strcmp(s, "sas") == 0)
		c->cloud.auth = CLOUD_AUTH_SAS;
	else
		return yamlcfg_fail(x, v, "cloud.auth: \"%s\": expected "
		    "password or sas", s);
	return 0;
}

static int
set_fallback(struct yamlcfg *x, const yaml_node_t *v, const char *path,
    const struct yamlcfg_key *k, void *obj)
{
	struct fw_config *c = obj;
	const yaml_node_item_t *it;
	const yaml_node_t *item;

	if (v->type != YAML_SEQUENCE_NODE)
		return yamlcfg_fail(x, v, "dns.fallback: expected a list of "
		    "addresses");
	c->ndns_fallback = 0;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		if ((item = yaml_document_get_node(x->doc, *it)) == NULL)
			return yamlcfg_fail(x, v, "dns.fallback: bad item");
		if (c->ndns_fallback == DNS_MAX_SERVERS)
			return yamlcfg_fail(x, item, "dns.fallback: at most %d "
			    "servers", DNS_MAX_SERVERS);
		if (get_server(x, item, path,
		    &c->dns_fallback[c->ndns_fallback]) == -1)
			return -1;
		c->ndns_fallback++;
	}
	return 0;
}

static int
set_log_level(struct yamlcfg *x, const yaml_node_t *v, const char *path,
    const struct yamlcfg_key *k, void *obj)
{
	struct fw_config *c = obj;
	const char *s;

	if ((s = yamlcfg_scalar(x, v, path)) == NULL)
		return -1;
	if ((c->log_level = fwlog_level_parse(s)) == -1)
		return yamlcfg_fail(x, v, "log.level: \"%s\": expected error, "
		    "warn, info or debug", s);
	return 0;
}

static int
set_rtc_offset(struct yamlcfg *x, const yaml_node_t *v, const char *path,
    const struct yamlcfg_key *k, void *obj)
{
	struct fw_config *c = obj;
	const char *s;
	char *end;
	long l;

	if ((s = yamlcfg_scalar(x, v, path)) == NULL)
		return -1;
	errno = 0;
	l = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 ||
	    l > 100L * 365 * 86400 || l < -100L * 365 * 86400)
		return yamlcfg_fail(x, v, "%s: \"%s\" is not a number of "
		    "seconds", path, s);
	c->rtc_offset_s = l;
	return 0;
}

/* The update engine's section: its own parser (core/update/). */
static int
set_firmware(struct yamlcfg *x, const yaml_node_t *v, const char *path,
    const struct yamlcfg_key *k, void *obj)
{
	struct fw_config *c = obj;

	return fwupdate_conf_parse(x->doc, (yaml_node_t *)v, x->fname,
	    &c->firmware, x->err, x->errlen);
}

static const struct yamlcfg_key cloud_keys[] = {
	STR("host", cloud.host),
	NUM("port", cloud.port, 1, 65535),
	STR("ca_file", cloud.ca_file),
	FN("auth", set_auth),
	/* The hub drops idle links after 1.5 x keepalive, <= 1767 s. */
	NUM("keepalive", cloud.keepalive_s, 30, FWCONFIG_KEEPALIVE_MAX),
	NUM("sas_ttl", cloud.sas_ttl_s, 60, 365 * 86400UL),
	NUM("connect_timeout", cloud.connect_timeout_s, 5, 600),
	NUM("backoff_base", cloud.backoff_base_s, 1, 600),
	NUM("backoff_cap", cloud.backoff_cap_s, 1, 3600),
	NUM("stable_after", cloud.stable_s, 10, 3600),
	END
};

static const struct yamlcfg_key dns_keys[] = {
	FN("fallback", set_fallback),
	NUM("timeout_ms", dns_timeout_ms, 100, 30000),
	END
};

static const struct yamlcfg_key ntp_keys[] = {
	STR("server", ntp_server),
	NUM("port", ntp_port, 1, 65535),
	END
};

static const struct yamlcfg_key telemetry_keys[] = {
	NUM("meter_interval", charger.meter_interval_s, 1, 86400),
	NUM("pulse_idle", charger.pulse_idle_s, 1, 86400),
	NUM("pulse_charging", charger.pulse_charging_s, 1, 86400),
	NUM("data_usage_interval", data_usage_s, 60, 86400),
	END
};

static const struct yamlcfg_key charger_keys[] = {
	NUM("default_current", charger.default_current_a, 6, 32),
	NUM("session_progress", charger.progress_s, 10, 3600),
	END
};

static const struct yamlcfg_key store_keys[] = {
	NUM("records", store.record_bytes, RING_MIN_SIZE, 64UL << 20),
	NUM("telemetry", store.periodic_bytes, RING_MIN_SIZE, 64UL << 20),
	NUM("drain_rate", store.drain_rate, 1, 100),
	END
};

static const struct yamlcfg_key budget_keys[] = {
	NUM("daily", budget_daily, 0, 1UL << 40),
	END
};

static const struct yamlcfg_key control_keys[] = {
	STR("socket", control_socket),
	END
};

static const struct yamlcfg_key log_keys[] = {
	FN("level", set_log_level),
	END
};

static const struct yamlcfg_key simulation_keys[] = {
	FN("rtc_offset", set_rtc_offset),
	END
};

/* The whole file: doc/evcharger.yaml.5 lists the same keys. */
static const struct yamlcfg_key top_keys[] = {
	STR("interface", interface),
	FN("network", set_network),
	STR("state_dir", state_dir),
	SECTION("cloud", cloud_keys),
	SECTION("dns", dns_keys),
	SECTION("ntp", ntp_keys),
	SECTION("telemetry", telemetry_keys),
	SECTION("charger", charger_keys),
	SECTION("store", store_keys),
	SECTION("budget", budget_keys),
	SECTION("control", control_keys),
	SECTION("log", log_keys),
	SECTION("simulation", simulation_keys),
	FN("firmware", set_firmware),
	END
};

void
fwconfig_defaults(struct fw_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->interface, sizeof(c->interface), "eth0");
	snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/evcharger");
	snprintf(c->cloud.host, sizeof(c->cloud.host),
	    "zapcloud.azure-devices.net");
	c->cloud.port = 8883;
	snprintf(c->cloud.ca_file, sizeof(c->cloud.ca_file),
	    "/etc/ssl/certs/ca-certificates.crt");
	c->cloud.auth = CLOUD_AUTH_SAS;
	/*
	 * The data budget (doc/performance.md): an idle day at or under
	 * 100 kB at IP level.  The idle pulse (900 s) keeps the link busy,
	 * so the keepalive (the hub's maximum) sends no PINGREQ of its own;
	 * a token lives a day: a renewal is a new TLS connection of ~10 kB
	 * at IP level, and hourly tokens alone would be about 280 kB a day.
	 */
	c->cloud.keepalive_s = FWCONFIG_KEEPALIVE_MAX;
	c->cloud.sas_ttl_s = 86400;
	c->cloud.connect_timeout_s = 30;
	c->cloud.backoff_base_s = 10;
	c->cloud.backoff_cap_s = 190;
	c->cloud.stable_s = 180;
	/* The vendor's fallbacks; tests always replace them. */
	c->dns_fallback[0].addr = 0x08080808;
	c->dns_fallback[0].port = 53;
	c->dns_fallback[1].addr = 0x01010101;
	c->dns_fallback[1].port = 53;
	c->ndns_fallback = 2;
	c->dns_timeout_ms = 2000;
	snprintf(c->ntp_server, sizeof(c->ntp_server), "no.pool.ntp.org");
	c->ntp_port = 123;
	/* A 4-hour session at or under 150 kB at IP level: meter values
	 * (~600 B each with their PUBACK) every 2 minutes. */
	c->charger.meter_interval_s = 120;
	c->charger.pulse_idle_s = 900;
	c->charger.pulse_charging_s = 180;
	c->charger.default_current_a = 16;
	c->charger.progress_s = 300;
	c->store.record_bytes = STORE_DEFAULT_BYTES;
	c->store.periodic_bytes = STORE_DEFAULT_BYTES;
	c->store.drain_rate = STORE_DEFAULT_RATE;
	c->budget_daily = 1000 * 1000;
	snprintf(c->control_socket, sizeof(c->control_socket),
	    "/run/evcharger.sock");
	c->log_level = 2;	/* info */
	c->data_usage_s = 6 * 3600;
	fwupdate_conf_defaults(&c->firmware);
}

int
fwconfig_parse(const char *buf, size_t len, const char *fname,
    struct fw_config *out, char *err, size_t errlen)
{
	/*
	 * The parser, the document and the configuration being filled are
	 * several kilobytes together: they live on the heap so that the
	 * core's stack budget (no object over 1 KB) holds here too.
	 */
	struct {
		yaml_parser_t	parser;
		yaml_document_t	doc;
		struct fw_config c;
	} *p;
	yaml_node_t *root;
	struct yamlcfg x = { NULL, fname, err, errlen, 1 };
	int rv = -1;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", fname);
		return -1;
	}
	x.doc = &p->doc;
	fwconfig_defaults(&p->c);
	if (!yaml_parser_initialize(&p->parser)) {
		snprintf(err, errlen, "%s: out of memory", fname);
		free(p);
		return -1;
	}
	yaml_parser_set_input_string(&p->parser, (const unsigned char *)buf,
	    len);
	if (!yaml_parser_load(&p->parser, &p->doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: %s", fname,
		    p->parser.problem_mark.line + 1,
		    p->parser.problem_mark.column + 1,
		    p->parser.problem != NULL ? p->parser.problem :
		    "syntax error");
		yaml_parser_delete(&p->parser);
		free(p);
		return -1;
	}
	root = yaml_document_get_root_node(&p->doc);
	if (root == NULL)
		rv = 0;		/* empty file: all defaults */
	else if (yamlcfg_map(&x, root, "", top_keys, &p->c) == 0)
		rv = 0;
	yaml_document_delete(&p->doc);
	yaml_parser_delete(&p->parser);
	if (rv == 0)
		*out = p->c;
	free(p);
	return rv;
}
