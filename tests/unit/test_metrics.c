/*
 * Tests for metrics: rendering a given status as Prometheus text (names,
 * types, help once per name, labels and their escaping, booleans and
 * strings, missing sections harmless), the HTTP endpoint on loopback
 * (200 on /metrics with the 0.0.4 content type, 404, 405), and the
 * metrics section of the configuration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <json-c/json.h>

#include "daemon/config.h"
#include "fleetlog/metrics.h"

static const char status_json[] =
    "{\"version\":\"0.1.0\",\"uptime_s\":42,\"events\":7,"
    "\"config\":{\"reloads\":2,\"reload_failures\":1,"
    "\"state\":\"last-reload-failed\"},"
    "\"relay\":{\"active\":3,\"by_state\":{\"peek\":1,\"splice\":2},"
    "\"refused\":{\"no-sni\":5,\"odd\\\"na\\\\me\\n\":1},"
    "\"bytes_up\":1000,\"bytes_down\":20000,\"pipes_in_use\":1,"
    "\"pipes_pooled\":4,\"accepted\":\"not a number\"},"
    "\"log\":{\"state\":\"disk-full\",\"dropped\":12,\"committed_seq\":99},"
    "\"ntp\":{\"sync\":true,\"offset_s\":-0.00125,\"stratum\":3,"
    "\"state\":\"warp\"},"
    "\"dhcp\":{\"pool_use_pct\":45,\"online\":{\"ZAP1\":1,\"ZAP2\":0}},"
    "\"start_time_s\":1764979200.5,"
    "\"future_section\":{\"anything\":1}}";

static char *
render(const char *json)
{
	struct json_object *st = json_tokener_parse(json);
	size_t len;
	char *text;

	assert_non_null(st);
	text = metrics_render(st, &len);
	assert_int_equal(strlen(text), len);
	json_object_put(st);
	return text;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay++;
	}
	return n;
}

static void
test_render(void **state)
{
	char *t = render(status_json);

	assert_non_null(strstr(t, "# HELP evgate_build_info "));
	assert_non_null(strstr(t, "\nevgate_build_info{version=\"0.1.0\"} 1\n"));
	assert_non_null(strstr(t, "# TYPE evgate_uptime_seconds gauge\n"
	    "evgate_uptime_seconds 42\n"));
	assert_non_null(strstr(t, "# TYPE evgate_events_total counter\n"
	    "evgate_events_total 7\n"));
	assert_non_null(strstr(t, "\nevgate_config_last_reload_ok 0\n"));
	/* one key per sample, from the JSON object's keys */
	assert_non_null(strstr(t, "# TYPE evgate_relay_connections gauge\n"
	    "evgate_relay_connections{state=\"peek\"} 1\n"
	    "evgate_relay_connections{state=\"splice\"} 2\n"));
	assert_non_null(strstr(t,
	    "evgate_relay_refused_total{reason=\"no-sni\"} 5\n"));
	/* label values escaped as the format wants */
	assert_non_null(strstr(t, "evgate_relay_refused_total{reason="
	    "\"odd\\\"na\\\\me\\n\"} 1\n"));
	/* two JSON paths, one metric: help and type once */
	assert_non_null(strstr(t, "# TYPE evgate_relay_bytes_total counter\n"
	    "evgate_relay_bytes_total{direction=\"up\"} 1000\n"
	    "evgate_relay_bytes_total{direction=\"down\"} 20000\n"));
	assert_int_equal(count(t, "# TYPE evgate_relay_bytes_total "), 1);
	assert_int_equal(count(t, "# HELP evgate_relay_pipes "), 1);
	/* strings are no numbers: skipped, and no orphan help either */
	assert_null(strstr(t, "evgate_relay_accepted_total"));
	/* an enum: every state, 0 but the current -- an old state's series
	 * goes to 0 instead of vanishing */
	assert_non_null(strstr(t, "\nevgate_log_state{state=\"ok\"} 0\n"
	    "evgate_log_state{state=\"disk-full\"} 1\n"
	    "evgate_log_state{state=\"error\"} 0\n"
	    "evgate_log_state{state=\"off\"} 0\n"));
	assert_non_null(strstr(t, "\nevgate_log_disk_full 1\n"));
	assert_non_null(strstr(t, "\nevgate_log_dropped_events_total 12\n"));
	assert_non_null(strstr(t, "\nevgate_ntp_synced 1\n"));
	assert_non_null(strstr(t, "\nevgate_ntp_offset_seconds -0.00125\n"));
	assert_non_null(strstr(t, "\nevgate_ntp_stratum 3\n"));
	/* a state the table does not know is shown, not hidden */
	assert_non_null(strstr(t, "evgate_ntp_state{state=\"off\"} 0\n"
	    "evgate_ntp_state{state=\"warp\"} 1\n"));
	/* a ratio is 0 to 1; the percentage stays one release, deprecated */
	assert_non_null(strstr(t, "\nevgate_dhcp_pool_use_ratio 0.45000000000000001\n"));
	assert_non_null(strstr(t, "# HELP evgate_dhcp_pool_use_percent "
	    "Deprecated"));
	assert_non_null(strstr(t, "\nevgate_dhcp_pool_use_percent 45\n"));
	assert_non_null(strstr(t, "\nevgate_start_time_seconds 1764979200.5\n"));
	/* per charger, by reservation id only */
	assert_non_null(strstr(t, "# TYPE evgate_charger_online gauge\n"
	    "evgate_charger_online{charger=\"ZAP1\"} 1\n"
	    "evgate_charger_online{charger=\"ZAP2\"} 0\n"));
	/* sections that are not there cost nothing */
	assert_null(strstr(t, "resolver"));
	assert_null(strstr(t, "evgate_ship_"));
	assert_null(strstr(t, "future"));
	/* every line is a comment or "name{labels} value" */
	{
		char *line, *save = NULL;

		for (line = strtok_r(t, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			if (line[0] == '#')
				continue;
			assert_true(strncmp(line, "evgate_", 7) == 0);
			assert_non_null(strrchr(line, ' '));
		}
	}
	free(t);
}

static void
test_render_empty(void **state)
{
	char *t = render("{}");

	assert_string_equal(t, "");
	free(t);
	t = render("{\"relay\":{\"refused\":[1,2],\"by_state\":7}}");
	assert_string_equal(t, "");
	free(t);
}

/* --- HTTP ------------------------------------------------------------ */

static int calls;

static struct json_object *
fake_status(void *arg)
{
	calls++;
	return json_tokener_parse("{\"events\":5}");
}

struct reply {
	struct event_base	*base;
	int			 code;
	char			 ctype[128];
	char			 body[4096];
};

static void
reply_cb(struct evhttp_request *req, void *arg)
{
	struct reply *r = arg;
	const char *ct;
	size_t n;

	r->code = req ? evhttp_request_get_response_code(req) : -1;
	if (req != NULL) {
		ct = evhttp_find_header(evhttp_request_get_input_headers(req),
		    "Content-Type");
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
		n = evbuffer_remove(evhttp_request_get_input_buffer(req),
		    r->body, sizeof(r->body) - 1);
		r->body[n > 0 ? n : 0] = '\0';
	}
	event_base_loopexit(r->base, NULL);
}

static void
request(struct event_base *base, uint16_t port, enum evhttp_cmd_type cmd,
    const char *path, struct reply *r)
{
	struct evhttp_connection *cn;
	struct evhttp_request *req;

	memset(r, 0, sizeof(*r));
	r->base = base;
	cn = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
	req = evhttp_request_new(reply_cb, r);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
	    "localhost");
	assert_int_equal(evhttp_make_request(cn, req, cmd, path), 0);
	event_base_dispatch(base);
	evhttp_connection_free(cn);
}

/* A port nobody uses right now (the kernel's pick). */
static unsigned
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static struct config *
load(const char *text, char *err, size_t errlen)
{
	return config_load_buffer("t.yaml", (const uint8_t *)text,
	    strlen(text), err, errlen);
}

static void
test_http(void **state)
{
	struct event_base *base = event_base_new();
	struct metrics *m = metrics_new(base, fake_status, NULL);
	struct config *c;
	struct reply r;
	struct json_object *st;
	char err[256], text[128];
	uint16_t port;

	snprintf(text, sizeof(text), "metrics: {listen: \"127.0.0.1:%u\"}\n",
	    free_port());
	c = load(text, err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(metrics_configure(m, c->metrics, err, sizeof(err)), 0);
	assert_true((port = metrics_port(m)) != 0);
	/* the same address again: nothing changes */
	assert_int_equal(metrics_configure(m, c->metrics, err, sizeof(err)), 0);
	assert_int_equal(metrics_port(m), port);

	request(base, port, EVHTTP_REQ_GET, "/metrics", &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(r.ctype, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(r.body, "\nevgate_events_total 5\n"));
	assert_int_equal(calls, 1);
	request(base, port, EVHTTP_REQ_GET, "/metrics?x=1", &r);
	assert_int_equal(r.code, 200);
	request(base, port, EVHTTP_REQ_GET, "/", &r);
	assert_int_equal(r.code, 404);
	request(base, port, EVHTTP_REQ_POST, "/metrics", &r);
	assert_int_equal(r.code, 405);
	assert_int_equal(calls, 2);

	st = metrics_status(m);
	assert_int_equal(json_object_get_int64(json_object_object_get(st,
	    "scrapes")), 2);
	assert_int_equal(json_object_get_int64(json_object_object_get(st,
	    "not_found")), 1);
	json_object_put(st);

	/* off */
	config_free(c);
	c = load("site: {name: x}\n", err, sizeof(err));
	assert_int_equal(metrics_configure(m, c->metrics, err, sizeof(err)), 0);
	assert_int_equal(metrics_port(m), 0);
	config_free(c);

	/* an address that cannot be had: an error, nothing changes */
	c = load("metrics: {listen: \"192.0.2.1:9310\", allow_remote: true}\n",
	    err, sizeof(err));
	assert_int_equal(metrics_configure(m, c->metrics, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "metrics: cannot listen on 192.0.2.1:9310"));
	config_free(c);
	metrics_free(m);
	event_base_free(base);
}

static void
test_config(void **state)
{
	struct config *c;
	char err[256];

	c = load("metrics: {listen: 127.0.0.1}\n", err, sizeof(err));
	assert_non_null(c);
	assert_non_null(c->metrics);
	assert_int_equal(ntohs(((struct sockaddr_in *)&c->metrics->listen.ss)->
	    sin_port), METRICS_DEFAULT_PORT);
	config_free(c);
	c = load("metrics: {listen: \"[::1]:9100\"}\n", err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->metrics->listen.ss.ss_family, AF_INET6);
	config_free(c);

	assert_null(load("metrics: {}\n", err, sizeof(err)));
	assert_string_equal(err, "t.yaml:1:10: metrics: missing required key "
	    "\"listen\"");
	assert_null(load("metrics:\n  listen: localhost:9310\n", err,
	    sizeof(err)));
	assert_string_equal(err, "t.yaml:2:11: metrics.listen: "
	    "\"localhost:9310\" is not an IP address (with an optional :port)");

	/* no authentication: off the box only when the operator says so */
	assert_null(load("metrics:\n  listen: 0.0.0.0:9310\n", err,
	    sizeof(err)));
	assert_string_equal(err, "t.yaml:2:11: metrics: listen: "
	    "0.0.0.0:9310 is not a loopback address; the metrics have no "
	    "authentication: set metrics.allow_remote: true to serve them "
	    "there (on an admin network only)");
	assert_null(load("metrics: {listen: \"[2001:db8::1]:9310\", "
	    "allow_remote: no}\n", err, sizeof(err)));
	c = load("metrics: {listen: \"10.0.0.1:9310\", allow_remote: true}\n",
	    err, sizeof(err));
	assert_non_null(c);
	assert_true(c->metrics->allow_remote);
	config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_empty),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
