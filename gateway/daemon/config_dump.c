/*
 * config_dump: the configuration in force, defaults included, written back
 * as evgated.yaml (`evgated --dump-config`).  What an operator reads to
 * see what a key left out means, and what a test compares.  The output
 * loads again to the same configuration: every value is written in the
 * form the parsers read, strings quoted.
 */
#include "evgate_config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "common/control.h"
#include "common/util.h"
#include "daemon/config.h"
#include "fleetlog/fleetlog.h"
#include "fleetlog/metrics.h"
#include "fleetlog/ship.h"
#include "relay/relay_conf.h"
#include "relay/resolver.h"
#include "site/lan.h"
#include "site/pair.h"
#include "time/ntp.h"

/*
 * A YAML double-quoted string.  A quoted value may hold any character
 * (a site name spread over lines, say): escape what YAML would otherwise
 * fold or refuse, so the dump reads back to the same bytes.
 */
static void
q(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		const unsigned char *u = (const unsigned char *)s;
		unsigned char c = u[0];

		/* YAML's line breaks beyond \n, and the byte order mark */
		if (c == 0xc2 && u[1] == 0x85) {
			fputs("\\N", fp);
			s++;
			continue;
		}
		if (c == 0xe2 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9)) {
			fputs(u[2] == 0xa8 ? "\\L" : "\\P", fp);
			s += 2;
			continue;
		}
		if (c == 0xef && u[1] == 0xbb && u[2] == 0xbf) {
			fputs("\\uFEFF", fp);
			s += 2;
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", fp);
		else if (c == '\t')
			fputs("\\t", fp);
		else if (c < 0x20 || c == 0x7f)
			fprintf(fp, "\\x%02x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

static const char *
dur(uint64_t ms, char *buf, size_t len)
{
	format_duration_ms(ms, buf, len);
	return buf;
}

static void
strlist(FILE *fp, char *const *v, size_t n)
{
	size_t i;

	fputc('[', fp);
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", fp);
		q(fp, v[i]);
	}
	fputs("]\n", fp);
}

static void
addrlist(FILE *fp, const struct cfg_sockaddr *v, size_t n)
{
	size_t i;

	fputc('[', fp);
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", fp);
		q(fp, v[i].text);
	}
	fputs("]\n", fp);
}

static void
dump_relay(FILE *fp, const struct cfg_relay *r)
{
	char b1[32], b2[32], b3[32], b4[32];
	size_t i;

	fputs("relay:\n  listen: ", fp);
	addrlist(fp, r->listen, r->nlisten);
	fputs("  routes:\n", fp);
	for (i = 0; i < r->nroutes; i++) {
		fprintf(fp, "    - port: %u\n      upstream_port: %u\n"
		    "      allow: ", r->routes[i].port,
		    r->routes[i].upstream_port);
		strlist(fp, r->routes[i].allow, r->routes[i].nallow);
	}
	fprintf(fp, "  limits: {per_client: %u, total: %u}\n", r->per_client,
	    r->total);
	fprintf(fp, "  timeouts: {hello: %s, connect: %s, idle: %s, "
	    "drain: %s}\n", dur(r->hello_ms, b1, sizeof(b1)),
	    dur(r->connect_ms, b2, sizeof(b2)), dur(r->idle_ms, b3,
	    sizeof(b3)), dur(r->drain_ms, b4, sizeof(b4)));
	if (r->proxy_host != NULL) {
		fputs("  upstream_proxy: ", fp);
		fprintf(fp, strchr(r->proxy_host, ':') != NULL ?
		    "\"http://[%s]:%u\"\n" : "\"http://%s:%u\"\n",
		    r->proxy_host, r->proxy_port);
	}
	if (r->transparent_port != 0)
		fprintf(fp, "  transparent: {port: %u}\n", r->transparent_port);
}

static void
dump_site(FILE *fp, const struct config *c)
{
	char a[INET_ADDRSTRLEN], a2[INET_ADDRSTRLEN], mac[18], b[32];
	const struct cfg_dhcp *d = c->dhcp;
	size_t i;

	fprintf(fp, "lan:\n  interface: ");
	q(fp, c->lan->interface);
	fprintf(fp, "\n  address: %s\n", c->lan->text);
	if (d != NULL) {
		fprintf(fp, "dhcp:\n  range: %s-%s\n  lease_time: %s\n"
		    "  known_only: %s\n  chargers:%s\n",
		    inet_ntop(AF_INET, &d->range_lo, a, sizeof(a)),
		    inet_ntop(AF_INET, &d->range_hi, a2, sizeof(a2)),
		    dur(d->lease_ms, b, sizeof(b)),
		    d->known_only ? "true" : "false",
		    d->ncharger == 0 ? " []" : "");
		for (i = 0; i < d->ncharger; i++) {
			fputs("    - {id: ", fp);
			q(fp, d->chargers[i].id);
			fprintf(fp, ", mac: \"%s\"", lan_format_mac(
			    d->chargers[i].mac, mac, sizeof(mac)));
			if (d->chargers[i].addr.s_addr != 0)
				fprintf(fp, ", address: %s", inet_ntop(AF_INET,
				    &d->chargers[i].addr, a, sizeof(a)));
			fputs("}\n", fp);
		}
	}
	if (c->dns != NULL) {
		fprintf(fp, "dns:\n  cache_size: %u\n  steer: ",
		    c->dns->cache_size);
		strlist(fp, c->dns->steer, c->dns->nsteer);
		fputs("  pass_through: ", fp);
		strlist(fp, c->dns->pass_through, c->dns->npass);
	}
	if (c->dnsmasq != NULL) {
		fputs("dnsmasq:\n  binary: ", fp);
		q(fp, c->dnsmasq->binary);
		fputs("\n  user: ", fp);
		q(fp, c->dnsmasq->user);
		fputs("\n  state_dir: ", fp);
		q(fp, c->dnsmasq->state_dir);
		fputs("\n  run_dir: ", fp);
		q(fp, c->dnsmasq->run_dir);
		fputs("\n  hook: ", fp);
		q(fp, c->dnsmasq->hook);
		fputc('\n', fp);
	}
}

static void
dump_ntp(FILE *fp, const struct cfg_ntp *n)
{
	char b1[32], b2[32], b3[32], b4[32];
	size_t i;

	fputs("ntp:\n  servers: [", fp);
	for (i = 0; i < n->nservers; i++) {
		if (i > 0)
			fputs(", ", fp);
		q(fp, n->servers[i].text);
	}
	fprintf(fp, "]\n  serve: %s\n", n->serve ? "true" : "false");
	if (n->nlisten > 0) {
		fputs("  listen: ", fp);
		addrlist(fp, n->listen, n->nlisten);
	}
	fprintf(fp, "  set_clock: %s\n  holdover: %s\n"
	    "  poll: {min: %s, max: %s}\n"
	    "  rate_limit: {enabled: %s, burst: %u, interval: %s, "
	    "clients: %u}\n", n->set_clock ? "true" : "false",
	    dur(n->holdover_ms, b1, sizeof(b1)),
	    dur(n->poll_min_ms, b2, sizeof(b2)),
	    dur(n->poll_max_ms, b3, sizeof(b3)),
	    n->rl_enabled ? "true" : "false", n->rl_burst,
	    dur(n->rl_interval_ms, b4, sizeof(b4)), n->rl_clients);
}

static void
dump_log(FILE *fp, const struct cfg_log *l)
{
	char b[32];

	fputs("log:\n  dir: ", fp);
	q(fp, l->dir);
	fprintf(fp, "\n  fsync_interval: %s\n  segment_mb: %llu\n"
	    "  max_mb: %llu\n  retention_days: %u\n  queue_max: %u\n",
	    dur(l->fsync_ms, b, sizeof(b)),
	    (unsigned long long)(l->segment_bytes / (1024 * 1024)),
	    (unsigned long long)(l->max_bytes / (1024 * 1024)),
	    l->retention_days, l->queue_max);
}

static void
dump_ship(FILE *fp, const struct cfg_ship *s)
{
	char b1[32], b2[32];

	fputs("ship:\n  url: ", fp);
	q(fp, s->url);
	fputc('\n', fp);
	if (s->ca_file != NULL) {
		fputs("  ca_file: ", fp);
		q(fp, s->ca_file);
		fputc('\n', fp);
	}
	if (s->cert_file != NULL) {
		fputs("  cert_file: ", fp);
		q(fp, s->cert_file);
		fputc('\n', fp);
	}
	if (s->key_file != NULL) {
		fputs("  key_file: ", fp);
		q(fp, s->key_file);
		fputc('\n', fp);
	}
	if (s->bearer_token_file != NULL) {
		fputs("  bearer_token_file: ", fp);
		q(fp, s->bearer_token_file);
		fputc('\n', fp);
	}
	fprintf(fp, "  batch: %u\n  interval: %s\n  timeout: %s\n"
	    "  gzip: %s\n", s->batch, dur(s->interval_ms, b1, sizeof(b1)),
	    dur(s->timeout_ms, b2, sizeof(b2)), s->gzip ? "true" : "false");
}

static void
dump_pair(FILE *fp, const struct cfg_pair *p)
{
	char a[INET_ADDRSTRLEN];

	fputs("pair:\n  name: ", fp);
	q(fp, p->name);
	fprintf(fp, "\n  address: %s\n  listen: ", inet_ntop(AF_INET,
	    &p->address, a, sizeof(a)));
	q(fp, p->listen.text);
	fputs("\n  peer: ", fp);
	q(fp, p->peer.text);
	fputs("\n  certificate: ", fp);
	q(fp, p->cert_file);
	fputs("\n  key: ", fp);
	q(fp, p->key_file);
	fputs("\n  peer_certificate: ", fp);
	q(fp, p->peer_cert_file);
	fputc('\n', fp);
}

void
config_dump(const struct config *c, FILE *fp)
{
	char b[32];

	fprintf(fp, "# The configuration in force, defaults included "
	    "(evgated --dump-config).\n");
	if (c->site_name != NULL) {
		fputs("site:\n  name: ", fp);
		q(fp, c->site_name);
		fputc('\n', fp);
	}
	if (c->wan.nresolvers > 0) {
		fputs("wan:\n  resolvers: ", fp);
		addrlist(fp, c->wan.resolvers, c->wan.nresolvers);
		fprintf(fp, "  resolver_timeout: %s\n",
		    dur(c->wan.resolver_timeout_ms, b, sizeof(b)));
	}
	if (c->relay != NULL)
		dump_relay(fp, c->relay);
	fputs("control:\n  socket: ", fp);
	q(fp, c->control.socket);
	fprintf(fp, "\n  mode: \"%04o\"\n", c->control.mode);
	if (c->control.group != NULL) {
		fputs("  group: ", fp);
		q(fp, c->control.group);
		fputc('\n', fp);
	}
	if (c->lan != NULL)
		dump_site(fp, c);
	if (c->ntp != NULL)
		dump_ntp(fp, c->ntp);
	if (c->log != NULL)
		dump_log(fp, c->log);
	if (c->metrics != NULL) {
		fputs("metrics:\n  listen: ", fp);
		q(fp, c->metrics->listen.text);
		fputc('\n', fp);
	}
	if (c->ship != NULL)
		dump_ship(fp, c->ship);
	if (c->daemon != NULL && c->daemon->user != NULL) {
		fputs("daemon:\n  user: ", fp);
		q(fp, c->daemon->user);
		fputc('\n', fp);
	}
	if (c->pair != NULL)
		dump_pair(fp, c->pair);
}
