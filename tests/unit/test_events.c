/*
 * Tests for events: what events_emit adds and in which order, who owns
 * what (fields taken over, the event lent to the sink), the count, debug
 * logging, and the refusal policy, driven directly with refusals of the
 * test's own (test_relay_report.c covers it from the relay's side).
 *
 * The refusal bucket is one per process and refills with time, so the
 * refusal tests keep a model of it: every refusal the policy leaves out
 * is counted here too, and each one it lets through must carry exactly
 * that count.  Only the bucket's size and rate are compared with elapsed
 * time, as bounds.
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

#include <json-c/json.h>

#include "common/clock.h"
#include "common/events.h"
#include "common/log.h"

struct sink {
	int			 n;		/* events received */
	int			 refusals;
	int64_t			 suppressed;	/* of the last; -1: none */
	char			 last[1024];	/* the last, as JSON */
	int			 keep;		/* take a reference */
	struct json_object	*kept;
};

static void
sink_fn(struct json_object *ev, void *arg)
{
	struct sink *s = arg;
	struct json_object *v;

	s->n++;
	snprintf(s->last, sizeof(s->last), "%s",
	    json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
	if (strcmp(json_object_get_string(json_object_object_get(ev, "type")),
	    EVENT_REFUSAL) == 0) {
		s->refusals++;
		s->suppressed = -1;
		if (json_object_object_get_ex(ev, "suppressed", &v))
			s->suppressed = json_object_get_int64(v);
	}
	if (s->keep) {
		json_object_put(s->kept);
		s->kept = json_object_get(ev);
	}
}

/* "2024-02-29T12:34:56.789Z" */
static void
assert_ts_shape(const char *ts)
{
	size_t i;

	assert_int_equal(strlen(ts), 24);
	for (i = 0; i < 24; i++) {
		switch (i) {
		case 4: case 7:
			assert_int_equal(ts[i], '-');
			break;
		case 10:
			assert_int_equal(ts[i], 'T');
			break;
		case 13: case 16:
			assert_int_equal(ts[i], ':');
			break;
		case 19:
			assert_int_equal(ts[i], '.');
			break;
		case 23:
			assert_int_equal(ts[i], 'Z');
			break;
		default:
			assert_true(ts[i] >= '0' && ts[i] <= '9');
		}
	}
}

static void
test_emit(void **state)
{
	struct sink s = { .suppressed = -1 };
	struct json_object *f, *ts;
	char lo[40], hi[40], want[256];
	const char *tsv;
	uint64_t n0 = events_count();

	events_set_sink(sink_fn, &s);
	s.keep = 1;
	f = json_object_new_object();
	json_object_object_add(f, "mac", json_object_new_string(
	    "02:00:00:00:00:01"));
	json_object_object_add(f, "type", json_object_new_string("bogus"));
	json_object_object_add(f, "n", json_object_new_int(7));
	format_utc_ms(now_wall_ms(), lo, sizeof(lo));
	events_emit(EVENT_LEASE, f);
	format_utc_ms(now_wall_ms(), hi, sizeof(hi));
	assert_int_equal(s.n, 1);
	assert_int_equal(events_count(), n0 + 1);

	/* "ts" (now) and "type" first; the fields' own "type" loses. */
	assert_non_null(s.kept);
	assert_true(json_object_object_get_ex(s.kept, "ts", &ts));
	tsv = json_object_get_string(ts);
	assert_ts_shape(tsv);
	assert_true(strcmp(lo, tsv) <= 0 && strcmp(tsv, hi) <= 0);
	snprintf(want, sizeof(want), "{\"ts\":\"%s\",\"type\":\"lease\","
	    "\"mac\":\"02:00:00:00:00:01\",\"n\":7}", tsv);
	assert_string_equal(s.last, want);
	/* The sink's reference is the last one: emit let go of its own. */
	assert_int_equal(json_object_put(s.kept), 1);
	s.kept = NULL;

	/* A "ts" given is kept, still first. */
	f = json_object_new_object();
	json_object_object_add(f, "state", json_object_new_string("synced"));
	json_object_object_add(f, "ts", json_object_new_string(
	    "2024-02-29T12:34:56.789Z"));
	events_emit(EVENT_TIME, f);
	assert_string_equal(s.last, "{\"ts\":\"2024-02-29T12:34:56.789Z\","
	    "\"type\":\"time\",\"state\":\"synced\"}");
	json_object_put(s.kept);
	s.kept = NULL;

	/* No fields at all. */
	s.keep = 0;
	events_emit(EVENT_DAEMON, NULL);
	assert_int_equal(strncmp(s.last, "{\"ts\":\"", 7), 0);
	assert_string_equal(s.last + 7 + 24, "\",\"type\":\"daemon\"}");
	assert_int_equal(s.n, 3);
	assert_int_equal(events_count(), n0 + 3);
	events_set_sink(NULL, NULL);
}

/* fields is taken over: a caller's extra reference is the last one. */
static void
test_ownership(void **state)
{
	struct sink s = { .suppressed = -1 };
	struct json_object *f, *inner;

	events_set_sink(sink_fn, &s);
	f = json_object_new_object();
	inner = json_object_new_array();
	json_object_array_add(inner, json_object_new_int(1));
	json_object_object_add(f, "list", inner);
	json_object_get(f);
	json_object_get(inner);
	events_emit(EVENT_RELOAD, f);
	assert_string_equal(strstr(s.last, "\"type\""),
	    "\"type\":\"reload\",\"list\":[1]}");
	/* the event shared inner, and let it go with itself */
	assert_int_equal(json_object_array_length(inner), 1);
	assert_int_equal(json_object_put(f), 1);
	assert_int_equal(json_object_put(inner), 1);
	events_set_sink(NULL, NULL);
}

/* No sink: counted, nothing else. */
static void
test_no_sink(void **state)
{
	struct sink s = { .suppressed = -1 };
	uint64_t n0 = events_count();

	events_set_sink(sink_fn, &s);
	events_set_sink(NULL, &s);
	events_emit(EVENT_DNSMASQ, NULL);
	events_emit(EVENT_DNSMASQ, json_object_new_object());
	assert_int_equal(events_count(), n0 + 2);
	assert_int_equal(s.n, 0);
}

static void
test_recording(void **state)
{
	assert_int_equal(events_recording(), 0);
	events_set_recording(1);
	assert_int_equal(events_recording(), 1);
	events_set_recording(0);
	assert_int_equal(events_recording(), 0);
}

/* stderr into a temporary file. */
static size_t
count(const char *s, const char *needle)
{
	size_t n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/* Without a sink an event is logged at debug level, and only then. */
static void
test_debug_log(void **state)
{
	struct capture c;
	struct json_object *f;
	char *out;

	log_init("evtest", 1, LOG_LEVEL_INFO);
	capture_start(&c);
	events_emit(EVENT_DAEMON, NULL);
	out = capture_end(&c);
	assert_string_equal(out, "");
	free(out);

	log_setlevel(LOG_LEVEL_DEBUG);
	capture_start(&c);
	f = json_object_new_object();
	json_object_object_add(f, "ts", json_object_new_string(
	    "2024-02-29T12:34:56.789Z"));
	json_object_object_add(f, "state", json_object_new_string("started"));
	events_emit(EVENT_DAEMON, f);
	out = capture_end(&c);
	log_setlevel(LOG_LEVEL_INFO);
	assert_non_null(strstr(out, " evtest[debug]: event: {\"ts\":"
	    "\"2024-02-29T12:34:56.789Z\",\"type\":\"daemon\",\"state\":"
	    "\"started\"}\n"));
	assert_int_equal(count(out, "\n"), 1);
	free(out);
}

/* --- refusals -------------------------------------------------------- */

/* The model: refusals left out since the last one reported. */
static uint64_t pending;

static struct json_object *
dhcp_fields(int i)
{
	struct json_object *f = json_object_new_object();
	char mac[32];

	snprintf(mac, sizeof(mac), "02:00:00:00:%02x:%02x", (i >> 8) & 0xff,
	    i & 0xff);
	json_object_object_add(f, "kind", json_object_new_string("dhcp"));
	json_object_object_add(f, "mac", json_object_new_string(mac));
	return f;
}

/*
 * One refusal, in the two steps the header prescribes.  Returns 1 when
 * it was reported; then it carried "suppressed" exactly when the model
 * says some were left out, with the model's count.
 */
static int
refuse(struct sink *s, int i)
{
	int before = s->refusals;

	if (!events_refusal_take()) {
		pending++;
		assert_int_equal(s->refusals, before);
		return 0;
	}
	events_refusal(dhcp_fields(i), "dhcp: refused %d", i);
	assert_int_equal(s->refusals, before + 1);
	if (pending > 0)
		assert_int_equal(s->suppressed, (int64_t)pending);
	else
		assert_int_equal(s->suppressed, -1);
	pending = 0;
	return 1;
}

/*
 * The policy from a fresh bucket: EVENTS_REFUSAL_BURST go through (plus
 * what the rate adds while they are sent), then refusals are left out
 * and counted, and the next one through says how many.
 */
static void
test_refusal_burst(void **state)
{
	struct sink s = { .suppressed = -1 };
	struct capture c;
	uint64_t t0, t1, sup0 = events_refusals_suppressed();
	int i, through = 0, out_ = 0;
	char *out, line[128];

	events_set_sink(sink_fn, &s);
	log_init("evtest", 1, LOG_LEVEL_INFO);
	capture_start(&c);
	t0 = now_mono_ms();
	for (i = 0; i < 10 * EVENTS_REFUSAL_BURST && refuse(&s, i); i++)
		through++;
	t1 = now_mono_ms();
	/* left out from here: a few more in a row */
	out_ = 1;
	for (i = 0; i < 5; i++)
		if (!refuse(&s, 10000 + i))
			out_++;
	out = capture_end(&c);

	assert_true(through >= EVENTS_REFUSAL_BURST);
	assert_true((uint64_t)through <= EVENTS_REFUSAL_BURST +
	    (t1 - t0) * EVENTS_REFUSAL_RATE / 1000 + 1);
	assert_int_equal(s.refusals, through + (5 - (out_ - 1)));
	assert_int_equal(events_refusals_suppressed() - sup0,
	    (uint64_t)out_);
	/* one warning for each reported, with the caller's message */
	assert_int_equal(count(out, "evtest[warning]: dhcp: refused "),
	    (size_t)s.refusals);
	assert_non_null(strstr(out, "evtest[warning]: dhcp: refused 0\n"));
	assert_non_null(strstr(out, "evtest[warning]: dhcp: refused 199\n"));
	free(out);

	/* The fields are the caller's, after "ts" and "type". */
	assert_int_equal(strncmp(s.last, "{\"ts\":\"", 7), 0);
	assert_non_null(strstr(s.last, "\",\"type\":\"refusal\",\"kind\":"
	    "\"dhcp\",\"mac\":\"02:00:00:00:"));

	/* Make sure some are left out, then wait for the next token. */
	while (pending == 0)
		refuse(&s, 30000);
	capture_start(&c);
	for (i = 0; i < 400 && !refuse(&s, 20000 + i); i++)
		usleep(10000);
	out = capture_end(&c);
	assert_true(i < 400);
	assert_true(s.suppressed > 0);
	snprintf(line, sizeof(line), "evtest[warning]: dhcp: refused %d "
	    "(%lld similar refusals suppressed)\n", 20000 + i,
	    (long long)s.suppressed);
	assert_non_null(strstr(out, line));
	assert_true(strstr(s.last, "\"suppressed\":") != NULL);
	/* "suppressed" comes after the caller's fields */
	assert_non_null(strstr(s.last, "\",\"suppressed\":"));
	free(out);
	events_set_sink(NULL, NULL);
}

/*
 * After the burst: at most EVENTS_REFUSAL_RATE a second, and at least
 * one over a few times 1/RATE.
 */
static void
test_refusal_rate(void **state)
{
	struct sink s = { .suppressed = -1 };
	uint64_t t0, t1, spent = 0;
	int i = 0, through = 0;

	events_set_sink(sink_fn, &s);
	log_setlevel(LOG_LEVEL_ERR);
	/* empty the bucket first */
	while (refuse(&s, i++))
		;
	t0 = now_mono_ms();
	do {
		through += refuse(&s, i++);
		usleep(2000);
		t1 = now_mono_ms();
		spent = t1 - t0;
	} while (spent < 8 * 1000 / EVENTS_REFUSAL_RATE);
	/* a token may have been on its way at t0: one more at most */
	assert_true((uint64_t)through <= spent * EVENTS_REFUSAL_RATE / 1000 +
	    1);
	assert_true(through >= 1);
	log_setlevel(LOG_LEVEL_INFO);
	events_set_sink(NULL, NULL);
}

/* A refusal with no fields still says how many were left out. */
static void
test_refusal_no_fields(void **state)
{
	struct sink s = { .suppressed = -1 };
	uint64_t sup0, left = 0;
	int i;

	events_set_sink(sink_fn, &s);
	log_setlevel(LOG_LEVEL_ERR);
	while (events_refusal_take())
		;			/* taken, not reported: allowed */
	pending++;
	sup0 = events_refusals_suppressed();
	for (i = 0; i < 3; i++)
		if (!events_refusal_take()) {
			pending++;
			left++;
		}
	assert_int_equal(events_refusals_suppressed() - sup0, left);
	for (i = 0; i < 400 && !events_refusal_take(); i++) {
		pending++;
		usleep(10000);
	}
	assert_true(i < 400);
	events_refusal(NULL, "relay: refused %s", "x");
	assert_int_equal(s.suppressed, (int64_t)pending);
	assert_non_null(strstr(s.last, "\"type\":\"refusal\",\"suppressed\":"));
	pending = 0;
	/* and none the next time */
	events_refusal(NULL, "relay: refused %s", "y");
	assert_string_equal(s.last + 7 + 24, "\",\"type\":\"refusal\"}");
	log_setlevel(LOG_LEVEL_INFO);
	events_set_sink(NULL, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recording),
		cmocka_unit_test(test_emit),
		cmocka_unit_test(test_ownership),
		cmocka_unit_test(test_no_sink),
		cmocka_unit_test(test_debug_log),
		/* in this order: the first finds the bucket full */
		cmocka_unit_test(test_refusal_burst),
		cmocka_unit_test(test_refusal_rate),
		cmocka_unit_test(test_refusal_no_fields),
	};

	return cmocka_run_group_tests_name("events", tests, NULL, NULL);
}
