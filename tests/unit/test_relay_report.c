/*
 * Unit tests for relay_report.c: a relay record's event and status forms,
 * the refusal policy it reports under (events.c), and the relay's status
 * section.
 */
#include "evgate_config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture.h"

#include <arpa/inet.h>
#include <json-c/json.h>

#include "common/log.h"
#include "common/events.h"
#include "relay/relay.h"
#include "relay/relay_report.h"

/* 2026-11-25T23:59:59.500Z */
#define T_EVENING	1795651199500ULL

/*
 * The refusal bucket refills with time: the test holds the clock still
 * (now_mono_ms is wrapped at link time), so a slow machine cannot let a
 * token more through.
 */
uint64_t	__real_now_mono_ms(void);
uint64_t	__wrap_now_mono_ms(void);

static uint64_t	frozen_ms;	/* 0: the real clock */

uint64_t
__wrap_now_mono_ms(void)
{
	return frozen_ms != 0 ? frozen_ms : __real_now_mono_ms();
}

static void
record(struct relay_record *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->id = 9;
	rec->client.sin.sin_family = AF_INET;
	rec->client.sin.sin_port = htons(40000);
	inet_pton(AF_INET, "10.42.0.21", &rec->client.sin.sin_addr);
	rec->upstream.sin.sin_family = AF_INET;
	rec->upstream.sin.sin_port = htons(8883);
	inet_pton(AF_INET, "203.0.113.10", &rec->upstream.sin.sin_addr);
	rec->port = 8883;
	rec->sni = "zapcloud.azure-devices.net";
	rec->state = RELAY_SPLICE;
	rec->close = CLOSE_DONE;
	rec->start_wall_ms = T_EVENING;
	rec->start_mono_ms = 1000;
	rec->end_mono_ms = 62250;
	rec->bytes_up = 1234;
	rec->bytes_down = 5678;
	strcpy(rec->charger, "ZAP000101");
}

static void
test_event_form(void **state)
{
	struct relay_record rec;
	struct json_object *o;

	record(&rec);
	o = relay_record_event(&rec, 99999);
	assert_string_equal(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN), "{\"charger\":\"ZAP000101\","
	    "\"client\":\"10.42.0.21\",\"sni\":\"zapcloud.azure-devices.net\","
	    "\"port\":8883,\"upstream\":\"203.0.113.10:8883\",\"start\":"
	    "\"2026-11-25T23:59:59.500Z\",\"duration_s\":61.250,"
	    "\"bytes_up\":1234,\"bytes_down\":5678,\"reason\":\"done\","
	    "\"conn\":9}");
	json_object_put(o);

	rec.close = CLOSE_REFUSED;
	rec.refusal = REFUSE_NOT_ALLOWED;
	rec.sni = "evil.example.com";
	rec.charger[0] = '\0';
	o = relay_record_event(&rec, 99999);
	assert_string_equal(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN), "{\"reason\":\"not-allowed\","
	    "\"client\":\"10.42.0.21\",\"sni\":\"evil.example.com\","
	    "\"port\":8883,\"conn\":9}");
	json_object_put(o);
}

static void
test_status_form(void **state)
{
	struct relay_record rec;
	struct json_object *o;

	record(&rec);
	rec.end_mono_ms = 0;		/* live: the duration runs to now */
	o = relay_record_status(&rec, 3500);
	assert_string_equal(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN), "{\"id\":9,\"client\":"
	    "\"10.42.0.21:40000\",\"charger\":\"ZAP000101\",\"port\":8883,"
	    "\"sni\":\"zapcloud.azure-devices.net\",\"upstream\":"
	    "\"203.0.113.10:8883\",\"state\":\"splice\",\"started\":"
	    "\"2026-11-25T23:59:59Z\",\"duration_s\":2.5,\"bytes_up\":1234,"
	    "\"bytes_down\":5678}");
	json_object_put(o);
	/* a connection still in its hello: no name, no upstream yet */
	rec.sni = NULL;
	rec.charger[0] = '\0';
	rec.state = RELAY_PEEK;
	memset(&rec.upstream, 0, sizeof(rec.upstream));
	o = relay_record_status(&rec, 1000);
	assert_true(json_object_object_get_ex(o, "sni", NULL));
	assert_null(json_object_object_get(o, "sni"));
	assert_null(json_object_object_get(o, "upstream"));
	assert_null(json_object_object_get(o, "charger"));
	json_object_put(o);
}

struct sink {
	int		 connections, refusals;
	int64_t		 last_suppressed;
};

static void
sink_fn(struct json_object *ev, void *arg)
{
	struct sink *s = arg;
	const char *type = json_object_get_string(json_object_object_get(ev,
	    "type"));
	struct json_object *sup;

	if (strcmp(type, EVENT_CONNECTION) == 0)
		s->connections++;
	if (strcmp(type, EVENT_REFUSAL) == 0) {
		s->refusals++;
		if (json_object_object_get_ex(ev, "suppressed", &sup))
			s->last_suppressed = json_object_get_int64(sup);
	}
}

/*
 * A flood of refusals: the policy lets EVENTS_REFUSAL_BURST through, then
 * EVENTS_REFUSAL_RATE a second; relayed connections are never left out;
 * the next refusal reported says how many were left out.
 */
static void
test_refusal_flood(void **state)
{
	struct relay_record rec;
	struct sink s;
	uint64_t before = events_refusals_suppressed();
	int i;

	memset(&s, 0, sizeof(s));
	record(&rec);
	rec.close = CLOSE_REFUSED;
	rec.refusal = REFUSE_NOT_TLS;
	rec.sni = NULL;
	events_set_sink(sink_fn, &s);
	events_set_recording(1);
	frozen_ms = __real_now_mono_ms();
	for (i = 0; i < EVENTS_REFUSAL_BURST + 50; i++)
		relay_report_record(&rec, NULL);
	assert_int_equal(s.refusals, EVENTS_REFUSAL_BURST);
	assert_int_equal(events_refusals_suppressed() - before, 50);
	rec.close = CLOSE_DONE;
	for (i = 0; i < 10; i++)
		relay_report_record(&rec, NULL);
	assert_int_equal(s.connections, 10);
	/* a little later the bucket has a token again */
	frozen_ms += 3 * 1000 / EVENTS_REFUSAL_RATE;
	rec.close = CLOSE_REFUSED;
	relay_report_record(&rec, NULL);
	assert_int_equal(s.refusals, EVENTS_REFUSAL_BURST + 1);
	assert_int_equal(s.last_suppressed, 50);
	frozen_ms = 0;
	events_set_sink(NULL, NULL);
	events_set_recording(0);
}

/* With nobody storing events, a relayed connection builds none. */
static void
test_not_recording(void **state)
{
	struct relay_record rec;
	struct sink s;

	memset(&s, 0, sizeof(s));
	record(&rec);
	events_set_sink(sink_fn, &s);
	events_set_recording(0);
	relay_report_record(&rec, NULL);
	assert_int_equal(s.connections, 0);
	events_set_recording(1);
	relay_report_record(&rec, NULL);
	assert_int_equal(s.connections, 1);
	events_set_sink(NULL, NULL);
	events_set_recording(0);
}

/* --- the close line ------------------------------------------------- */

/* The close line of rec, without the log's prefix. */
static char *
close_line(const struct relay_record *rec)
{
	struct capture c;
	char *out, *msg, *nl;

	log_setlevel(LOG_LEVEL_INFO);
	capture_start(&c);
	relay_report_record(rec, NULL);
	out = capture_end(&c);
	log_setlevel(LOG_LEVEL_ERR);
	msg = strstr(out, "relay: ");
	assert_non_null(msg);
	if ((nl = strchr(msg, '\n')) != NULL)
		*nl = '\0';
	msg = strdup(msg);
	free(out);
	return msg;
}

/*
 * The line every relayed connection leaves: its addresses are formatted
 * by hand (the common formatter was most of the line's cost), so every
 * digit count is checked, and IPv6 still goes the common way.
 */
static void
test_close_line(void **state)
{
	struct relay_record rec;
	char *l;

	record(&rec);
	l = close_line(&rec);
	assert_string_equal(l, "relay: #9 10.42.0.21:40000 (ZAP000101) -> "
	    "zapcloud.azure-devices.net (203.0.113.10:8883) closed: done, "
	    "61.3s, up 1234 B, down 5678 B");
	free(l);
	rec.charger[0] = '\0';		/* not a reserved charger */
	inet_pton(AF_INET, "0.0.0.0", &rec.client.sin.sin_addr);
	rec.client.sin.sin_port = htons(0);
	inet_pton(AF_INET, "255.255.255.255", &rec.upstream.sin.sin_addr);
	rec.upstream.sin.sin_port = htons(65535);
	rec.end_mono_ms = rec.start_mono_ms + 49;	/* rounds down */
	rec.close = CLOSE_UPSTREAM_RESET;
	l = close_line(&rec);
	assert_string_equal(l, "relay: #9 0.0.0.0:0 -> "
	    "zapcloud.azure-devices.net (255.255.255.255:65535) closed: "
	    "upstream-reset, 0.0s, up 1234 B, down 5678 B");
	free(l);
	memset(&rec.client, 0, sizeof(rec.client));
	rec.client.sin6.sin6_family = AF_INET6;
	rec.client.sin6.sin6_port = htons(443);
	inet_pton(AF_INET6, "fd00::21", &rec.client.sin6.sin6_addr);
	memset(&rec.upstream, 0, sizeof(rec.upstream));	/* none yet */
	rec.sni = NULL;
	rec.end_mono_ms = rec.start_mono_ms + 3600000 + 950;
	l = close_line(&rec);
	assert_string_equal(l, "relay: #9 [fd00::21]:443 -> - (-) closed: "
	    "upstream-reset, 3601.0s, up 1234 B, down 5678 B");
	free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_form),
		cmocka_unit_test(test_close_line),
		cmocka_unit_test(test_status_form),
		cmocka_unit_test(test_refusal_flood),
		cmocka_unit_test(test_not_recording),
	};

	log_init("test", 1, LOG_LEVEL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
