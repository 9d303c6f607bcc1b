/*
 * fwconfig: libyaml's document API gives every node its position, which
 * the error messages quote.  A table maps each dotted key to a setter.
 */
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/fwconfig.h"
#include "core/yamlcfg.h"

#include "core/fwlog.h"

static int
get_str(struct yamlcfg *x, const yaml_node_t *n, const char *key, char *out,
    size_t cap)
{
	const char *s = yamlcfg_scalar(x, n, key);

	if (s == NULL)
		return -1;
	if (*s == '\0')
		return yamlcfg_fail(x, n, "%s: must not be empty", key);
	if (strlen(s) >= cap)
		return yamlcfg_fail(x, n, "%s: too long (at most %zu bytes)", key,
		    cap - 1);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int
get_uint(struct yamlcfg *x, const yaml_node_t *n, const char *key,
    unsigned long min, unsigned long max, unsigned long *out)
{
	return yamlcfg_uint(x, n, key, min, max, out);
}

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
		return yamlcfg_fail(x, n, "%s: \"%s\" is not an IPv4 address", key, s);
	snprintf(buf, sizeof(buf), "%s", s);
	if ((colon = strchr(buf, ':')) != NULL) {
		*colon++ = '\0';
		port = strtoul(colon, &end, 10);
		if (*colon == '\0' || *end != '\0' || port == 0 ||
		    port > 65535)
			return yamlcfg_fail(x, n, "%s: bad port in \"%s\"", key, s);
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return yamlcfg_fail(x, n, "%s: \"%s\" is not an IPv4 address", key, s);
	out->addr = ntohl(a.s_addr);
	out->port = (uint16_t)port;
	return 0;
}

static int
set_key(struct yamlcfg *x, struct fw_config *c, const char *key,
    const yaml_node_t *v)
{
	unsigned long u;
	const char *s;
	long l;
	char *end;

	if (strcmp(key, "interface") == 0)
		return get_str(x, v, key, c->interface, sizeof(c->interface));
	if (strcmp(key, "network") == 0) {
		if ((s = yamlcfg_scalar(x, v, key)) == NULL)
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
	if (strcmp(key, "state_dir") == 0)
		return get_str(x, v, key, c->state_dir, sizeof(c->state_dir));
	if (strcmp(key, "cloud.host") == 0)
		return get_str(x, v, key, c->cloud.host, sizeof(c->cloud.host));
	if (strcmp(key, "cloud.port") == 0) {
		if (get_uint(x, v, key, 1, 65535, &u) == -1)
			return -1;
		c->cloud.port = (uint16_t)u;
		return 0;
	}
	if (strcmp(key, "cloud.ca_file") == 0)
		return get_str(x, v, key, c->cloud.ca_file,
		    sizeof(c->cloud.ca_file));
	if (strcmp(key, "cloud.auth") == 0) {
		if ((s = yamlcfg_scalar(x, v, key)) == NULL)
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
	if (strcmp(key, "cloud.keepalive") == 0) {
		/* The hub drops idle links after 1.5 x keepalive, <= 1767 s. */
		if (get_uint(x, v, key, 30, FWCONFIG_KEEPALIVE_MAX, &u) == -1)
			return -1;
		c->cloud.keepalive_s = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "cloud.sas_ttl") == 0) {
		if (get_uint(x, v, key, 300, 365 * 86400UL, &u) == -1)
			return -1;
		c->cloud.sas_ttl_s = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "cloud.connect_timeout") == 0) {
		if (get_uint(x, v, key, 5, 600, &u) == -1)
			return -1;
		c->cloud.connect_timeout_s = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "dns.timeout_ms") == 0) {
		if (get_uint(x, v, key, 100, 30000, &u) == -1)
			return -1;
		c->dns_timeout_ms = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "ntp.server") == 0)
		return get_str(x, v, key, c->ntp_server, sizeof(c->ntp_server));
	if (strcmp(key, "ntp.port") == 0) {
		if (get_uint(x, v, key, 1, 65535, &u) == -1)
			return -1;
		c->ntp_port = (uint16_t)u;
		return 0;
	}
	if (strcmp(key, "telemetry.meter_interval") == 0) {
		if (get_uint(x, v, key, 1, 86400, &u) == -1)
			return -1;
		c->charger.meter_interval_s = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "telemetry.pulse_idle") == 0) {
		if (get_uint(x, v, key, 1, 86400, &u) == -1)
			return -1;
		c->charger.pulse_idle_s = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "telemetry.pulse_charging") == 0) {
		if (get_uint(x, v, key, 1, 86400, &u) == -1)
			return -1;
		c->charger.pulse_charging_s = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "telemetry.data_usage_interval") == 0) {
		if (get_uint(x, v, key, 60, 86400, &u) == -1)
			return -1;
		c->data_usage_s = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "charger.default_current") == 0) {
		if (get_uint(x, v, key, 6, 32, &u) == -1)
			return -1;
		c->charger.default_current_a = (unsigned)u;
		return 0;
	}
	if (strcmp(key, "control.socket") == 0)
		return get_str(x, v, key, c->control_socket,
		    sizeof(c->control_socket));
	if (strcmp(key, "log.level") == 0) {
		if ((s = yamlcfg_scalar(x, v, key)) == NULL)
			return -1;
		if ((c->log_level = fwlog_level_parse(s)) == -1)
			return yamlcfg_fail(x, v, "log.level: \"%s\": expected error, "
			    "warn, info or debug", s);
		return 0;
	}
	if (strcmp(key, "simulation.rtc_offset") == 0) {
		if ((s = yamlcfg_scalar(x, v, key)) == NULL)
			return -1;
		errno = 0;
		l = strtol(s, &end, 10);
		if (*s == '\0' || *end != '\0' || errno != 0 ||
		    l > 100L * 365 * 86400 || l < -100L * 365 * 86400)
			return yamlcfg_fail(x, v, "%s: \"%s\" is not a number of "
			    "seconds", key, s);
		c->rtc_offset_s = l;
		return 0;
	}
	return yamlcfg_fail(x, v, "unknown key \"%s\"", key);
}

static int
is_section(const char *k)
{
	static const char *const sections[] = { "cloud", "dns", "ntp",
		"telemetry", "charger", "control", "log", "simulation" };
	size_t i;

	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strcmp(k, sections[i]) == 0)
			return 1;
	return 0;
}

static int
walk(struct yamlcfg *x, struct fw_config *c, const yaml_node_t *map,
    const char *prefix)
{
	yaml_node_pair_t *p;
	yaml_node_t *k, *v, *item;
	yaml_node_item_t *it;
	char key[128];
	const char *ks;

	if (map->type != YAML_MAPPING_NODE)
		return yamlcfg_fail(x, map, "%s%sexpected a mapping", prefix,
		    *prefix ? ": " : "");
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(x->doc, p->key);
		v = yaml_document_get_node(x->doc, p->value);
		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
			return yamlcfg_fail(x, map, "bad key");
		ks = (const char *)k->data.scalar.value;
		snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "",
		    ks);
		if (*prefix == '\0' && is_section(ks)) {
			if (walk(x, c, v, ks) == -1)
				return -1;
			continue;
		}
		if (*prefix == '\0' && strcmp(ks, "firmware") == 0) {
			/* The update engine's section: its own parser. */
			if (fwupdate_conf_parse(x->doc, v, x->fname,
			    &c->firmware, x->err, x->errlen) == -1)
				return -1;
			continue;
		}
		if (strcmp(key, "dns.fallback") == 0) {
			if (v->type != YAML_SEQUENCE_NODE)
				return yamlcfg_fail(x, v, "dns.fallback: expected a "
				    "list of addresses");
			c->ndns_fallback = 0;
			for (it = v->data.sequence.items.start;
			    it < v->data.sequence.items.top; it++) {
				item = yaml_document_get_node(x->doc, *it);
				if (c->ndns_fallback == DNS_MAX_SERVERS)
					return yamlcfg_fail(x, item, "dns.fallback: at "
					    "most %d servers", DNS_MAX_SERVERS);
				if (get_server(x, item, key,
				    &c->dns_fallback[c->ndns_fallback]) == -1)
					return -1;
				c->ndns_fallback++;
			}
			continue;
		}
		if (set_key(x, c, key, v) == -1)
			return -1;
	}
	return 0;
}

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
	c->cloud.keepalive_s = 300;
	c->cloud.sas_ttl_s = 7 * 86400;
	c->cloud.connect_timeout_s = 30;
	/* The vendor's fallbacks; tests always replace them. */
	c->dns_fallback[0].addr = 0x08080808;
	c->dns_fallback[0].port = 53;
	c->dns_fallback[1].addr = 0x01010101;
	c->dns_fallback[1].port = 53;
	c->ndns_fallback = 2;
	c->dns_timeout_ms = 2000;
	snprintf(c->ntp_server, sizeof(c->ntp_server), "no.pool.ntp.org");
	c->ntp_port = 123;
	c->charger.meter_interval_s = 60;
	c->charger.pulse_idle_s = 600;
	c->charger.pulse_charging_s = 180;
	c->charger.default_current_a = 16;
	snprintf(c->control_socket, sizeof(c->control_socket),
	    "/run/evcharger.sock");
	c->log_level = 2;	/* info */
	c->data_usage_s = 3600;
	fwupdate_conf_defaults(&c->firmware);
}

int
fwconfig_parse(const char *buf, size_t len, const char *fname,
    struct fw_config *out, char *err, size_t errlen)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct fw_config c;
	struct yamlcfg x = { &doc, fname, err, errlen };
	int rv = -1;

	fwconfig_defaults(&c);
	if (!yaml_parser_initialize(&parser)) {
		snprintf(err, errlen, "%s: out of memory", fname);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: %s", fname,
		    parser.problem_mark.line + 1,
		    parser.problem_mark.column + 1,
		    parser.problem != NULL ? parser.problem : "syntax error");
		yaml_parser_delete(&parser);
		return -1;
	}
	root = yaml_document_get_root_node(&doc);
	if (root == NULL)
		rv = 0;		/* empty file: all defaults */
	else if (walk(&x, &c, root, "") == 0)
		rv = 0;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rv == 0)
		*out = c;
	return rv;
}
