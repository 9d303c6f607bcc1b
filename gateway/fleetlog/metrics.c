/*
 * metrics: see metrics.h.  The table below is the whole mapping from the
 * status JSON to metric names; read it as the list of what is exported.
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>

#include "common/cfg.h"
#include "common/log.h"
#include "fleetlog/metrics.h"
#include "common/util.h"

/* --- the table ------------------------------------------------------- */

enum mtype { COUNTER, GAUGE };

struct metric_def {
	const char	*path;		/* dotted; a last part "*" = each key */
	const char	*name;
	enum mtype	 type;
	const char	*help;
	const char	*labels;	/* fixed, e.g. direction="up" */
	const char	*key_label;	/* label for the key of a "*" */
	const char	*eq;		/* string value: 1 when equal, else 0 */
	const char	*value_label;	/* string value as this label, 1 */
	const char	*states;	/* "a|b|c": a sample per state, 0/1 */
	double		 scale;		/* value times this (0: 1) */
};

#define M(p, n, t, h)	.path = (p), .name = (n), .type = (t), .help = (h)
#define C(p, n, h)		{ M(p, n, COUNTER, h) }
#define G(p, n, h)		{ M(p, n, GAUGE, h) }
#define CL(p, n, h, l)		{ M(p, n, COUNTER, h), .labels = (l) }
#define GL(p, n, h, l)		{ M(p, n, GAUGE, h), .labels = (l) }
#define CK(p, n, h, k)		{ M(p, n, COUNTER, h), .key_label = (k) }
#define GK(p, n, h, k)		{ M(p, n, GAUGE, h), .key_label = (k) }
#define GEQ(p, n, h, v)		{ M(p, n, GAUGE, h), .eq = (v) }
#define GV(p, n, h, l)		{ M(p, n, GAUGE, h), .value_label = (l) }
/* One sample per state, 1 for the current: a state left goes to 0 instead
 * of vanishing (Prometheus' convention for enums). */
#define GST(p, n, h, l, st)	{ M(p, n, GAUGE, h), .value_label = (l), \
				    .states = (st) }
/* A value scaled, e.g. a percentage as a ratio. */
#define GSC(p, n, h, sc)	{ M(p, n, GAUGE, h), .scale = (sc) }

static const struct metric_def table[] = {
	GV("version", "evgate_build_info", "evgated's version (always 1).",
	    "version"),
	G("uptime_s", "evgate_uptime_seconds", "Seconds since evgated started."),
	G("start_time_s", "evgate_start_time_seconds",
	    "Start time of evgated since the Unix epoch, in seconds."),
	C("events", "evgate_events_total", "Events emitted (fleet log input)."),
	C("config.reloads", "evgate_config_reloads_total",
	    "Successful configuration reloads."),
	C("config.reload_failures", "evgate_config_reload_failures_total",
	    "Reloads refused (the old configuration stayed)."),
	GEQ("config.state", "evgate_config_last_reload_ok",
	    "1 unless the last reload failed.", "ok"),
	G("config.loaded_s",
	    "evgate_config_last_reload_success_timestamp_seconds",
	    "When the configuration in force was loaded (start or last "
	    "successful reload), since the Unix epoch."),

	/* relay */
	G("relay.listeners", "evgate_relay_listeners", "Listening sockets."),
	G("relay.active", "evgate_relay_active_connections",
	    "Connections open now, in any state."),
	GK("relay.by_state.*", "evgate_relay_connections",
	    "Connections open now, by state.", "state"),
	C("relay.accepted", "evgate_relay_accepted_total",
	    "Connections accepted from chargers."),
	C("relay.relayed", "evgate_relay_relayed_total",
	    "Connections that reached the cloud (splice)."),
	C("relay.closed", "evgate_relay_closed_total",
	    "Relayed connections closed."),
	CK("relay.refused.*", "evgate_relay_refused_total",
	    "Connections refused, by reason.", "reason"),
	CK("relay.closes.*", "evgate_relay_closes_total",
	    "Connection ends, by reason.", "reason"),
	CL("relay.bytes_up", "evgate_relay_bytes_total",
	    "Bytes relayed (up: charger to cloud).", "direction=\"up\""),
	CL("relay.bytes_down", "evgate_relay_bytes_total",
	    "Bytes relayed (up: charger to cloud).", "direction=\"down\""),
	C("relay.accept_errors", "evgate_relay_accept_errors_total",
	    "accept(2) failures (e.g. out of descriptors)."),
	GL("relay.pipes_in_use", "evgate_relay_pipes",
	    "splice(2) pipe pairs.", "state=\"in_use\""),
	GL("relay.pipes_pooled", "evgate_relay_pipes",
	    "splice(2) pipe pairs.", "state=\"pooled\""),
	G("relay.max_connections", "evgate_relay_max_connections",
	    "Connections the open-file limit allows."),

	/* resolver */
	C("resolver.queries", "evgate_resolver_queries_total",
	    "Upstream DNS queries for cloud names."),
	C("resolver.cache_hits", "evgate_resolver_cache_hits_total",
	    "Lookups answered from the cache."),
	C("resolver.joined", "evgate_resolver_joined_total",
	    "Lookups that joined a query in flight."),
	C("resolver.failures", "evgate_resolver_failures_total",
	    "Lookups that failed."),
	G("resolver.cached", "evgate_resolver_cached_names",
	    "Names in the cache."),

	/* fleet log */
	GST("log.state", "evgate_log_state",
	    "Fleet log state: 1 for the current one, 0 for the others.",
	    "state", "ok|disk-full|error|off"),
	GEQ("log.state", "evgate_log_disk_full",
	    "1 while the fleet log cannot write (disk full).", "disk-full"),
	G("log.committed_seq", "evgate_log_committed_seq",
	    "Sequence number of the last event synced to disk."),
	G("log.queued", "evgate_log_queued_events",
	    "Events waiting to be written."),
	G("log.queued_bytes", "evgate_log_queued_bytes",
	    "Bytes waiting to be written."),
	C("log.dropped", "evgate_log_dropped_events_total",
	    "Events lost (queue full while the disk could not take them)."),
	C("log.written", "evgate_log_written_events_total",
	    "Events committed to disk."),
	C("log.batches", "evgate_log_batches_total",
	    "Batches written and synced."),
	C("log.write_errors", "evgate_log_write_errors_total",
	    "Failed batch writes."),
	G("log.segments", "evgate_log_segments", "Segment files kept."),
	G("log.bytes", "evgate_log_bytes", "Bytes in all segments."),
	C("log.deleted", "evgate_log_deleted_segments_total",
	    "Segments deleted by retention."),
	C("log.refusals_suppressed", "evgate_log_suppressed_refusals_total",
	    "Refusal events not logged during a flood (rate limit)."),

	/* shipping */
	G("ship.healthy", "evgate_ship_up",
	    "1 unless the last push to the collector failed."),
	G("ship.acked_seq", "evgate_ship_acked_seq",
	    "Last event the collector acknowledged."),
	G("ship.lag", "evgate_ship_lag_events",
	    "Committed events not yet acknowledged by the collector."),
	C("ship.sent_events", "evgate_ship_sent_events_total",
	    "Events acknowledged by the collector."),
	C("ship.batches", "evgate_ship_batches_total",
	    "Batches acknowledged by the collector."),
	C("ship.bytes", "evgate_ship_bytes_total",
	    "Request body bytes sent (after gzip)."),
	C("ship.failures", "evgate_ship_failures_total",
	    "Pushes that failed (retried with back-off)."),
	C("ship.skipped", "evgate_ship_skipped_lines_total",
	    "Torn or malformed log lines not shipped."),

	/* metrics itself */
	C("metrics.scrapes", "evgate_metrics_scrapes_total",
	    "Scrapes of this endpoint."),

	/* time service (ntp section) */
	G("ntp.sync", "evgate_ntp_synced",
	    "1 when the gateway's clock is synchronised to upstream."),
	GST("ntp.state", "evgate_ntp_state",
	    "Time service state: 1 for the current one, 0 for the others.",
	    "state", "synchronised|holdover|unsynchronised|off"),
	G("ntp.offset_s", "evgate_ntp_offset_seconds",
	    "Offset of the system clock from upstream time."),
	G("ntp.stratum", "evgate_ntp_stratum",
	    "Stratum served to chargers (0: not synchronised, alarm)."),
	C("ntp.requests", "evgate_ntp_requests_total",
	    "NTP requests from chargers."),
	CL("ntp.replies", "evgate_ntp_replies_total",
	    "NTP replies, synchronised or not.", "synced=\"yes\""),
	CL("ntp.unsync_replies", "evgate_ntp_replies_total",
	    "NTP replies, synchronised or not.", "synced=\"no\""),
	C("ntp.kod_sent", "evgate_ntp_kod_total",
	    "Kiss-o'-death replies (rate limit)."),
	CK("ntp.drops.*", "evgate_ntp_drops_total",
	    "NTP requests dropped, by reason.", "reason"),

	/* DHCP and DNS (dnsmasq and dhcp sections) */
	G("dnsmasq.running", "evgate_dnsmasq_up", "1 while dnsmasq runs."),
	C("dnsmasq.starts", "evgate_dnsmasq_starts_total",
	    "Times dnsmasq was started."),
	C("dnsmasq.restarts", "evgate_dnsmasq_restarts_total",
	    "Times dnsmasq was restarted after it exited."),
	G("dhcp.leases", "evgate_dhcp_leases", "DHCP leases in use."),
	G("dhcp.pool_size", "evgate_dhcp_pool_size",
	    "Addresses in the DHCP range."),
	GSC("dhcp.pool_use_pct", "evgate_dhcp_pool_use_ratio",
	    "Share of the DHCP pool in use, 0 to 1.", 0.01),
	G("dhcp.pool_use_pct", "evgate_dhcp_pool_use_percent",
	    "Deprecated (removed in the next release): "
	    "evgate_dhcp_pool_use_ratio times 100."),
	G("dhcp.reservations", "evgate_dhcp_reservations",
	    "Chargers with a reserved address."),
	GK("dhcp.online.*", "evgate_charger_online",
	    "1 while a reserved charger has a lease and a relayed connection "
	    "on port 8883 (its cloud link), else 0.", "charger"),
	C("dhcp.refusals", "evgate_dhcp_refusals_total",
	    "DHCP requests refused (unknown MAC)."),
	C("dhcp.lease_events", "evgate_dhcp_lease_events_total",
	    "Lease events from dnsmasq."),

	/* a redundant pair (pair section) */
	GST("pair.role", "evgate_pair_role",
	    "This box's role (single, master, backup, fault): 1 for the "
	    "current.", "role", "single|master|backup|fault"),
	G("pair.peer.connected", "evgate_pair_peer_connected",
	    "1 while both connections to the peer box are up."),
	G("pair.sync.lag_changes", "evgate_pair_sync_lag_changes",
	    "Lease changes not yet acknowledged by the peer."),
	G("pair.sync.lag_oldest_s", "evgate_pair_sync_lag_seconds",
	    "Age of the oldest lease change not yet acknowledged."),
	C("pair.sync.applied", "evgate_pair_leases_merged_total",
	    "The peer's lease changes merged into this box's table."),
	C("pair.sync.conflicts", "evgate_pair_lease_conflicts_total",
	    "The peer's leases not taken (the address is another MAC's)."),
	G("pair.config.agree", "evgate_pair_config_agree",
	    "1 when the settings both boxes must share agree."),
	G("pair.last_failover_unix", "evgate_pair_last_takeover_timestamp_"
	    "seconds", "When this box last took over as master (0: never)."),
	C("pair.role_changes", "evgate_pair_role_changes_total",
	    "Role changes of this box."),
	{ .path = NULL },
};

/* --- rendering ------------------------------------------------------- */

struct out {
	char	*buf;
	size_t	 len, cap;
};

static void
out_add(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		while (o->len + n + 1 > o->cap)
			o->cap = o->cap ? o->cap * 2 : 4096;
		o->buf = xreallocarray(o->buf, o->cap, 1);
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void
out_str(struct out *o, const char *s)
{
	out_add(o, s, strlen(s));
}

/* A label value: \\, \" and \n escaped (exposition format 0.0.4). */
static void
out_label_value(struct out *o, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			out_str(o, "\\\\");
		else if (*s == '"')
			out_str(o, "\\\"");
		else if (*s == '\n')
			out_str(o, "\\n");
		else
			out_add(o, s, 1);
	}
}

/* The number a JSON value stands for; 0 on success. */
static int
value_of(const struct metric_def *m, struct json_object *v, double *out,
    int64_t *iout, int *is_int)
{
	*is_int = 0;
	switch (json_object_get_type(v)) {
	case json_type_int:
		*iout = json_object_get_int64(v);
		*is_int = 1;
		return 0;
	case json_type_double:
		*out = json_object_get_double(v);
		return 0;
	case json_type_boolean:
		*iout = json_object_get_boolean(v) ? 1 : 0;
		*is_int = 1;
		return 0;
	case json_type_string:
		if (m->eq != NULL) {
			*iout = strcmp(json_object_get_string(v), m->eq) == 0;
			*is_int = 1;
			return 0;
		}
		if (m->value_label != NULL) {
			*iout = 1;
			*is_int = 1;
			return 0;
		}
		return -1;
	default:
		return -1;
	}
}

static void
sample(struct out *o, const struct metric_def *m, const char *key,
    struct json_object *v, const char **helped)
{
	char num[64];
	double d = 0;
	int64_t i = 0;
	int is_int, nlabels = 0;

	if (value_of(m, v, &d, &i, &is_int) == -1)
		return;
	if (m->scale != 0) {
		d = (is_int ? (double)i : d) * m->scale;
		is_int = 0;
	}
	if (*helped == NULL || strcmp(*helped, m->name) != 0) {
		out_str(o, "# HELP ");
		out_str(o, m->name);
		out_str(o, " ");
		out_str(o, m->help);
		out_str(o, "\n# TYPE ");
		out_str(o, m->name);
		out_str(o, m->type == COUNTER ? " counter\n" : " gauge\n");
		*helped = m->name;
	}
	out_str(o, m->name);
	if (m->labels != NULL || key != NULL || m->value_label != NULL)
		out_str(o, "{");
	if (m->labels != NULL) {
		out_str(o, m->labels);
		nlabels++;
	}
	if (key != NULL) {
		if (nlabels++)
			out_str(o, ",");
		out_str(o, m->key_label);
		out_str(o, "=\"");
		out_label_value(o, key);
		out_str(o, "\"");
	}
	if (m->value_label != NULL) {
		if (nlabels++)
			out_str(o, ",");
		out_str(o, m->value_label);
		out_str(o, "=\"");
		out_label_value(o, json_object_get_string(v));
		out_str(o, "\"");
	}
	if (nlabels > 0)
		out_str(o, "}");
	if (is_int)
		snprintf(num, sizeof(num), " %lld\n", (long long)i);
	else if (isnan(d))
		snprintf(num, sizeof(num), " NaN\n");
	else if (isinf(d))
		snprintf(num, sizeof(num), " %sInf\n", d > 0 ? "+" : "-");
	else
		snprintf(num, sizeof(num), " %.17g\n", d);
	out_str(o, num);
}

/*
 * An enum: one sample per known state, 1 for current, 0 for the others;
 * a state the table does not know yet is added, so nothing is hidden.
 */
static void
states(struct out *o, const struct metric_def *m, const char *current,
    const char **helped)
{
	struct metric_def one = *m;
	struct json_object *v;
	const char *p = m->states, *bar;
	char st[64];
	int seen = 0;

	one.states = NULL;
	one.value_label = NULL;
	one.key_label = m->value_label;
	while (*p != '\0') {
		bar = strchr(p, '|');
		snprintf(st, sizeof(st), "%.*s", bar ? (int)(bar - p) :
		    (int)strlen(p), p);
		v = json_object_new_int(strcmp(st, current) == 0);
		seen |= strcmp(st, current) == 0;
		sample(o, &one, st, v, helped);
		json_object_put(v);
		p = bar ? bar + 1 : p + strlen(p);
	}
	if (!seen) {
		v = json_object_new_int(1);
		sample(o, &one, current, v, helped);
		json_object_put(v);
	}
}

/* Walk "a.b.c" from o; NULL when any part is missing. */
static struct json_object *
lookup(struct json_object *o, const char *path, size_t len)
{
	char part[64];
	size_t i = 0, j;

	while (o != NULL && i < len) {
		for (j = i; j < len && path[j] != '.'; j++)
			;
		if (j - i >= sizeof(part) ||
		    !json_object_is_type(o, json_type_object))
			return NULL;
		memcpy(part, path + i, j - i);
		part[j - i] = '\0';
		if (!json_object_object_get_ex(o, part, &o))
			return NULL;
		i = j + 1;
	}
	return o;
}

char *
metrics_render(struct json_object *status, size_t *len)
{
	struct out o = { NULL, 0, 0 };
	const struct metric_def *m;
	const char *helped = NULL;

	out_add(&o, "", 0);
	for (m = table; m->path != NULL; m++) {
		size_t plen = strlen(m->path);
		struct json_object *v;

		if (plen > 2 && strcmp(m->path + plen - 2, ".*") == 0) {
			v = lookup(status, m->path, plen - 2);
			if (v == NULL || !json_object_is_type(v,
			    json_type_object))
				continue;
			json_object_object_foreach(v, key, val)
				sample(&o, m, key, val, &helped);
			continue;
		}
		if ((v = lookup(status, m->path, plen)) == NULL)
			continue;
		if (m->states != NULL && json_object_is_type(v,
		    json_type_string))
			states(&o, m, json_object_get_string(v), &helped);
		else
			sample(&o, m, NULL, v, &helped);
	}
	*len = o.len;
	return o.buf;
}

/* --- configuration --------------------------------------------------- */

static int
metrics_listen(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_metrics *m = arg;

	m->listen_mark = cfg_mark(node);
	return cfg_addr(ctx, node, METRICS_DEFAULT_PORT, &m->listen);
}

static int
metrics_allow_remote(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_metrics *m = arg;

	return cfg_bool(ctx, node, &m->allow_remote);
}

static int
is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr)
		    >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->
	    sin6_addr);
}

int
metrics_cfg_section(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "listen", metrics_listen, 1 },
		{ "allow_remote", metrics_allow_remote, 0 },
		{ NULL, NULL, 0 },
	};
	struct cfg_metrics **out = arg, *m;

	m = *out = xcalloc(1, sizeof(**out));
	if (cfg_map(ctx, node, keys, m) == -1)
		return -1;
	/*
	 * The endpoint has no authentication and tells who the chargers
	 * are and what they do: off the box only when the operator says so.
	 */
	if (!is_loopback(&m->listen.ss) && !m->allow_remote)
		return cfg_error_at(ctx, &m->listen_mark, "listen: %s "
		    "is not a loopback address; the metrics have no "
		    "authentication: set metrics.allow_remote: true to serve "
		    "them there (on an admin network only)", m->listen.text);
	return 0;
}

void
metrics_cfg_free(struct cfg_metrics *m)
{
	if (m == NULL)
		return;
	free(m->listen.text);
	free(m);
}

/* --- HTTP ------------------------------------------------------------ */

struct metrics {
	struct event_base		*base;
	struct evhttp			*http;
	uint16_t			 bound_port;
	struct sockaddr_storage		 addr;
	socklen_t			 addrlen;
	metrics_status_fn		 status;
	void				*status_arg;
	uint64_t			 scrapes;
	uint64_t			 not_found;
	char				 listen_text[128];
	int				 next_fd;	/* prepared, or -1 */
	int				 next_off;	/* prepared: stop */
	struct sockaddr_storage		 next_addr;
	socklen_t			 next_addrlen;
	char				 next_text[128];
};

static void
free_text(const void *data, size_t len, void *arg)
{
	free((void *)data);
}

static void
metrics_request_cb(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct evbuffer *body;
	struct json_object *st;
	char *text;
	size_t len;

	if (path == NULL || strcmp(path, METRICS_PATH) != 0) {
		m->not_found++;
		evhttp_add_header(out, "Content-Type", "text/plain");
		body = evbuffer_new();
		evbuffer_add_printf(body, "not found: metrics are at %s\n",
		    METRICS_PATH);
		evhttp_send_reply(req, HTTP_NOTFOUND, "Not Found", body);
		evbuffer_free(body);
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(out, "Allow", "GET, HEAD");
		evhttp_send_reply(req, 405, "Method Not Allowed", NULL);
		return;
	}
	m->scrapes++;
	st = m->status(m->status_arg);
	text = metrics_render(st, &len);
	json_object_put(st);
	body = evbuffer_new();
	/* the body goes out later: the buffer frees the text then */
	evbuffer_add_reference(body, text, len, free_text, NULL);
	evhttp_add_header(out, "Content-Type", METRICS_CONTENT_TYPE);
	evhttp_add_header(out, "Cache-Control", "no-store");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

struct metrics *
metrics_new(struct event_base *base, metrics_status_fn fn, void *arg)
{
	struct metrics *m = xcalloc(1, sizeof(*m));

	m->base = base;
	m->status = fn;
	m->status_arg = arg;
	m->next_fd = -1;
	return m;
}

static void
metrics_stop(struct metrics *m)
{
	if (m->http != NULL)
		evhttp_free(m->http);	/* closes the bound socket too */
	m->http = NULL;
	m->addrlen = 0;
	m->listen_text[0] = '\0';
}

int
metrics_prepare(struct metrics *m, const struct cfg_metrics *c, char *err,
    size_t errlen)
{
	int fd = -1, one = 1;

	metrics_abort(m);
	if (c == NULL) {
		m->next_off = 1;
		return 0;
	}
	if (m->http != NULL && m->addrlen == c->listen.len &&
	    memcmp(&m->addr, &c->listen.ss, c->listen.len) == 0)
		return 0;	/* same address: keep the socket */
	if ((fd = socket(c->listen.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
	    -1 ||
	    bind(fd, (const struct sockaddr *)&c->listen.ss, c->listen.len) ==
	    -1 || listen(fd, 64) == -1) {
		snprintf(err, errlen, "metrics: cannot listen on %s: %s",
		    c->listen.text, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	m->next_fd = fd;
	m->next_addr = c->listen.ss;
	m->next_addrlen = c->listen.len;
	strlcpy(m->next_text, c->listen.text, sizeof(m->next_text));
	return 0;
}

void
metrics_abort(struct metrics *m)
{
	if (m->next_fd != -1)
		close(m->next_fd);
	m->next_fd = -1;
	m->next_off = 0;
}

void
metrics_commit(struct metrics *m)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct evhttp *http;
	char buf[64];
	int fd = m->next_fd;

	if (m->next_off) {
		if (m->http != NULL)
			log_info("metrics: off");
		metrics_stop(m);
		m->next_off = 0;
		return;
	}
	if (fd == -1)
		return;
	m->next_fd = -1;
	/* Only allocation can fail here: the socket is bound. */
	if ((http = evhttp_new(m->base)) == NULL)
		fatalx("metrics: evhttp_new failed");
	evhttp_set_timeout(http, 10);
	evhttp_set_max_headers_size(http, 8192);
	evhttp_set_max_body_size(http, 4096);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(http, metrics_request_cb, m);
	if (evhttp_accept_socket_with_handle(http, fd) == NULL)
		fatalx("metrics: cannot serve on %s", m->next_text);
	metrics_stop(m);
	m->http = http;
	m->addr = m->next_addr;
	m->addrlen = m->next_addrlen;
	strlcpy(m->listen_text, m->next_text, sizeof(m->listen_text));
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		log_info("metrics: http://%s%s", format_sockaddr(
		    (struct sockaddr *)&ss, buf, sizeof(buf)), METRICS_PATH);
	m->bound_port = 0;
	if (ss.ss_family == AF_INET)
		m->bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		m->bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int
metrics_configure(struct metrics *m, const struct cfg_metrics *c, char *err,
    size_t errlen)
{
	if (metrics_prepare(m, c, err, errlen) == -1)
		return -1;
	metrics_commit(m);
	return 0;
}

uint16_t
metrics_port(const struct metrics *m)
{
	return m->http != NULL ? m->bound_port : 0;
}

struct json_object *
metrics_status(void *arg)
{
	struct metrics *m = arg;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "enabled",
	    json_object_new_boolean(m->http != NULL));
	if (m->http != NULL)
		json_object_object_add(o, "listen",
		    json_object_new_string(m->listen_text));
	json_object_object_add(o, "scrapes",
	    json_object_new_int64((int64_t)m->scrapes));
	json_object_object_add(o, "not_found",
	    json_object_new_int64((int64_t)m->not_found));
	return o;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	metrics_abort(m);
	metrics_stop(m);
	free(m);
}
