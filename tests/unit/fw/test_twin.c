/*
 * test_twin: the device twin on a fake clock -- the GET only once the
 * link is subscribed, answers matched by $rid, 429/5xx and silence
 * retried with back-off, other errors not, reports merged while one is in
 * flight, desired changes version-ordered (stale ignored, a gap makes it
 * GET the whole twin), and the topic parser's edge cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/twin.h"
#include "hal/fake/hal_fake.h"

#define SENT_MAX	64

static struct {
	char	topic[256];
	char	payload[1024];
} sent[SENT_MAX];
static size_t nsent;
static int link_up;

static struct {
	char	json[1024];
	int64_t	version;
	int	full;
} des[16];
static size_t ndes;

static struct {
	uint32_t id;
	int	 status;
} rep[16];
static size_t nrep;

static struct twin *t;

static int
cb_send(void *arg, const char *topic, const char *payload)
{
	if (!link_up || nsent == SENT_MAX)
		return -1;
	snprintf(sent[nsent].topic, sizeof(sent[0].topic), "%s", topic);
	snprintf(sent[nsent].payload, sizeof(sent[0].payload), "%s", payload);
	nsent++;
	return 0;
}

static void
cb_desired(void *arg, const char *json, size_t len, int64_t version, int full)
{
	snprintf(des[ndes].json, sizeof(des[0].json), "%.*s", (int)len, json);
	des[ndes].version = version;
	des[ndes].full = full;
	ndes++;
}

static void
cb_reported(void *arg, uint32_t id, int status)
{
	rep[nrep].id = id;
	rep[nrep].status = status;
	nrep++;
}

static const struct twin_cb cb = { cb_send, cb_desired, cb_reported, NULL };

static int
setup(void **state)
{
	fake_hal_reset();
	nsent = ndes = nrep = 0;
	link_up = 1;
	t = twin_new(&cb, 0);
	assert_non_null(t);
	return 0;
}

static int
teardown(void **state)
{
	twin_free(t);
	return 0;
}

/* The $rid of the last request sent. */
static const char *
last_rid(void)
{
	const char *p;

	assert_true(nsent > 0);
	p = strstr(sent[nsent - 1].topic, "?$rid=");
	assert_non_null(p);
	return p + 6;
}

/* The hub answers the last request with status (and a body). */
static int
answer(int status, const char *extra, const char *body)
{
	char topic[256];

	snprintf(topic, sizeof(topic), "$iothub/twin/res/%d/?$rid=%s%s",
	    status, last_rid(), extra != NULL ? extra : "");
	return twin_input(t, topic, (const uint8_t *)body, strlen(body),
	    hal_mono_ms());
}

static void
run_for(uint64_t ms)
{
	uint64_t end = hal_mono_ms() + ms, d;

	while ((d = twin_deadline(t)) <= end) {
		if (d > hal_mono_ms())
			fake_advance(d - hal_mono_ms());
		twin_tick(t, hal_mono_ms());
	}
	if (end > hal_mono_ms())
		fake_advance(end - hal_mono_ms());
}

/* Run until the next request goes out (at most max ms): how long. */
static uint64_t
run_until_sent(uint64_t max)
{
	uint64_t t0 = hal_mono_ms(), d;
	size_t n = nsent;

	while (nsent == n && (d = twin_deadline(t)) <= t0 + max) {
		if (d > hal_mono_ms())
			fake_advance(d - hal_mono_ms());
		twin_tick(t, hal_mono_ms());
	}
	assert_int_equal(nsent, n + 1);
	return hal_mono_ms() - t0;
}

#define TWIN_DOC(v, extra) \
	"{\"desired\":{" extra "\"$version\":" #v "},\"reported\":" \
	"{\"$version\":1}}"

/* Nothing goes out before the link is up and subscribed; then a GET. */
static void
test_get_after_subscribe(void **state)
{
	assert_int_not_equal(twin_report(t, "{\"a\":1}", hal_mono_ms()), 0);
	assert_int_equal(nsent, 0);
	assert_int_equal(twin_deadline(t), UINT64_MAX);
	twin_up(t, hal_mono_ms());
	assert_int_equal(nsent, 1);
	assert_true(strncmp(sent[0].topic, "$iothub/twin/GET/?$rid=", 23) == 0);
	assert_string_equal(sent[0].payload, "");
	/* One request on the wire at a time: the report waits for the GET. */
	assert_int_equal(answer(200, NULL, TWIN_DOC(3, "\"maxCurrent\":10,")),
	    200);
	assert_int_equal(ndes, 1);
	assert_int_equal(des[0].version, 3);
	assert_int_equal(des[0].full, 1);
	assert_string_equal(des[0].json, "{\"maxCurrent\":10,\"$version\":3}");
	assert_int_equal(nsent, 2);
	assert_true(strncmp(sent[1].topic,
	    "$iothub/twin/PATCH/properties/reported/?$rid=", 45) == 0);
	assert_string_equal(sent[1].payload, "{\"a\":1}");
	assert_int_equal(answer(204, "&$version=2", ""), 204);
	assert_int_equal(nrep, 1);
	assert_int_equal(rep[0].status, 204);
	assert_int_equal(twin_pending(t), 0);
}

/* An answer for any other request id is dropped, and counted. */
static void
test_rid_matching(void **state)
{
	const char *body = TWIN_DOC(2, "");

	twin_up(t, hal_mono_ms());
	assert_int_equal(twin_input(t, "$iothub/twin/res/200/?$rid=999999999",
	    (const uint8_t *)body, strlen(body), hal_mono_ms()), 0);
	assert_int_equal(twin_input(t, "$iothub/twin/res/200/?$rid=",
	    (const uint8_t *)body, strlen(body), hal_mono_ms()), 0);
	assert_int_equal(ndes, 0);
	assert_int_equal(twin_stats(t)->unmatched, 1);
	assert_int_equal(twin_pending(t), 1);
	assert_int_equal(answer(200, NULL, body), 200);
	assert_int_equal(ndes, 1);
	/* The same answer again: its request is done. */
	assert_int_equal(twin_input(t, "$iothub/twin/res/200/?$rid=1",
	    (const uint8_t *)body, strlen(body), hal_mono_ms()), 0);
	assert_int_equal(ndes, 1);
	/* Not the twin's: -1; a malformed twin topic: dropped, 0. */
	assert_int_equal(twin_input(t, "devices/x/messages/devicebound/",
	    (const uint8_t *)"", 0, hal_mono_ms()), -1);
	assert_int_equal(twin_input(t, "$iothub/twin/res/2000/?$rid=1",
	    (const uint8_t *)"", 0, hal_mono_ms()), 0);
}

/* 429 and 5xx: again after a random wait in a window that doubles. */
static void
test_throttled_retry(void **state)
{
	uint32_t id;
	char first[32];
	uint64_t t0;

	twin_up(t, hal_mono_ms());
	answer(200, NULL, TWIN_DOC(1, ""));
	id = twin_report(t, "{\"fw\":\"2.0\"}", hal_mono_ms());
	assert_int_equal(nsent, 2);
	snprintf(first, sizeof(first), "%s", last_rid());
	assert_int_equal(answer(429, NULL, "{}"), 429);
	assert_int_equal(nrep, 0);
	assert_int_equal(nsent, 2);		/* not at once */
	t0 = hal_mono_ms();
	assert_true(twin_deadline(t) >= t0 + 1000);
	assert_true(twin_deadline(t) <= t0 + TWIN_RETRY_BASE_MS);
	run_for(TWIN_RETRY_BASE_MS);
	assert_int_equal(nsent, 3);
	assert_string_equal(sent[2].payload, "{\"fw\":\"2.0\"}");
	assert_string_not_equal(last_rid(), first);	/* a new $rid */
	assert_int_equal(answer(503, NULL, ""), 503);
	t0 = hal_mono_ms();
	assert_true(twin_deadline(t) <= t0 + 2 * TWIN_RETRY_BASE_MS);
	run_for(2 * TWIN_RETRY_BASE_MS);
	assert_int_equal(nsent, 4);
	assert_int_equal(answer(204, NULL, ""), 204);
	assert_int_equal(nrep, 1);
	assert_int_equal(rep[0].id, id);
	assert_int_equal(rep[0].status, 204);
	assert_int_equal(twin_stats(t)->retries, 2);
	assert_int_equal(twin_stats(t)->throttled, 1);
	/* The window stops growing at the cap. */
	twin_report(t, "{\"b\":1}", hal_mono_ms());
	for (int i = 0; i < 10; i++) {
		answer(429, NULL, "");
		assert_true(run_until_sent(TWIN_RETRY_CAP_MS) <=
		    TWIN_RETRY_CAP_MS);
	}
	/* A 400 is an answer: not retried, the caller hears it. */
	answer(400, NULL, "{\"message\":\"bad\"}");
	assert_int_equal(nrep, 2);
	assert_int_equal(rep[1].status, 400);
	assert_int_equal(twin_pending(t), 0);
	run_for(120000);
	assert_int_equal(nsent, 15);		/* and nothing more */
}

/* No answer within the timeout: sent again (with a new $rid). */
static void
test_silence_retried(void **state)
{
	twin_up(t, hal_mono_ms());
	assert_int_equal(nsent, 1);
	run_for(TWIN_TIMEOUT_MS - 1);
	assert_int_equal(nsent, 1);
	run_for(1 + TWIN_RETRY_BASE_MS);
	assert_int_equal(nsent, 2);
	assert_true(strncmp(sent[1].topic, "$iothub/twin/GET/", 17) == 0);
}

/*
 * Reports made while one is in flight become one PATCH (merged, later
 * values win); a link that goes down sends them again after the GET.
 */
static void
test_merge_and_reconnect(void **state)
{
	uint32_t a, b, c;

	twin_up(t, hal_mono_ms());
	answer(200, NULL, TWIN_DOC(1, ""));
	a = twin_report(t, "{\"x\":1}", hal_mono_ms());
	b = twin_report(t, "{\"y\":{\"p\":1,\"q\":1},\"z\":1}",
	    hal_mono_ms());
	c = twin_report(t, "{\"y\":{\"q\":2},\"z\":2}", hal_mono_ms());
	assert_int_not_equal(a, b);
	assert_int_equal(b, c);
	assert_int_equal(twin_pending(t), 2);
	assert_int_equal(nsent, 2);
	twin_down(t);
	link_up = 0;
	twin_tick(t, hal_mono_ms() + 100000);
	assert_int_equal(nsent, 2);
	link_up = 1;
	twin_up(t, hal_mono_ms());
	assert_int_equal(nsent, 3);
	assert_true(strncmp(sent[2].topic, "$iothub/twin/GET/", 17) == 0);
	answer(200, NULL, TWIN_DOC(1, ""));
	assert_string_equal(sent[3].payload, "{\"x\":1}");
	answer(204, NULL, "");
	assert_string_equal(sent[4].payload,
	    "{\"y\":{\"p\":1,\"q\":2},\"z\":2}");
	answer(204, NULL, "");
	assert_int_equal(nrep, 2);
	assert_int_equal(rep[0].id, a);
	assert_int_equal(rep[1].id, b);
	/* Not a JSON object: refused. */
	assert_int_equal(twin_report(t, "[1]", hal_mono_ms()), 0);
	assert_int_equal(twin_report(t, "{", hal_mono_ms()), 0);
}

static int
desired_patch(int64_t v, const char *body)
{
	char topic[128];

	snprintf(topic, sizeof(topic),
	    "$iothub/twin/PATCH/properties/desired/?$version=%lld",
	    (long long)v);
	return twin_input(t, topic, (const uint8_t *)body, strlen(body),
	    hal_mono_ms());
}

/* Desired changes in version order; stale ones ignored; a gap resyncs. */
static void
test_desired_order(void **state)
{
	twin_up(t, hal_mono_ms());
	answer(200, NULL, TWIN_DOC(4, "\"maxCurrent\":16,"));
	assert_int_equal(ndes, 1);
	assert_int_equal(twin_version(t), 4);
	assert_int_equal(desired_patch(5, "{\"maxCurrent\":10,\"$version\":5}"),
	    0);
	assert_int_equal(ndes, 2);
	assert_int_equal(des[1].version, 5);
	assert_int_equal(des[1].full, 0);
	assert_int_equal(twin_version(t), 5);
	/* The same again, and an older one: stale. */
	desired_patch(5, "{\"maxCurrent\":10,\"$version\":5}");
	desired_patch(3, "{\"maxCurrent\":32,\"$version\":3}");
	assert_int_equal(ndes, 2);
	assert_int_equal(twin_stats(t)->stale, 2);
	/* 6 went missing: 7 is acted on, and the twin is read again. */
	nsent = 0;
	desired_patch(7, "{\"maxCurrent\":8,\"$version\":7}");
	assert_int_equal(ndes, 3);
	assert_int_equal(des[2].version, 7);
	assert_int_equal(nsent, 1);
	assert_true(strncmp(sent[0].topic, "$iothub/twin/GET/", 17) == 0);
	assert_int_equal(twin_version(t), 5);
	answer(200, NULL, TWIN_DOC(7, "\"maxCurrent\":8,\"x\":1,"));
	assert_int_equal(ndes, 4);
	assert_int_equal(des[3].full, 1);
	assert_int_equal(twin_version(t), 7);
	/* A GET answer older than what is applied is stale too. */
	twin_up(t, hal_mono_ms());
	answer(200, NULL, TWIN_DOC(6, ""));
	assert_int_equal(ndes, 4);
	/* Not JSON, or no version: nothing applied. */
	desired_patch(8, "{oops");
	assert_int_equal(ndes, 4);
	twin_up(t, hal_mono_ms());
	answer(200, NULL, "{\"desired\":{}}");
	assert_int_equal(ndes, 4);
}

/* After a reboot the kept version counts: the same twin is not applied. */
static void
test_kept_version(void **state)
{
	twin_free(t);
	t = twin_new(&cb, 9);
	twin_up(t, hal_mono_ms());
	answer(200, NULL, TWIN_DOC(9, "\"maxCurrent\":16,"));
	assert_int_equal(ndes, 0);
	desired_patch(10, "{\"maxCurrent\":12}");
	assert_int_equal(ndes, 1);
	assert_int_equal(twin_version(t), 10);
}

static void
test_parse_topic(void **state)
{
	struct twin_topic tt;

#define P(s)	twin_parse_topic(s, strlen(s), &tt)
	assert_int_equal(P("$iothub/twin/res/204/?$rid=12&$version=7"),
	    TWIN_TOPIC_RES);
	assert_int_equal(tt.status, 204);
	assert_string_equal(tt.rid, "12");
	assert_int_equal(tt.version, 7);
	assert_int_equal(P("$iothub/twin/res/200/?$version=3&$rid=a-1"),
	    TWIN_TOPIC_RES);
	assert_string_equal(tt.rid, "a-1");
	assert_int_equal(P("$iothub/twin/res/429/?$rid=1&other=x"),
	    TWIN_TOPIC_RES);
	assert_int_equal(tt.version, -1);
	assert_int_equal(P("$iothub/twin/PATCH/properties/desired/?$version=42"),
	    TWIN_TOPIC_DESIRED);
	assert_int_equal(tt.version, 42);
	assert_int_equal(P("$iothub/twin/res/20/?$rid=1"), TWIN_TOPIC_BAD);
	assert_int_equal(P("$iothub/twin/res/099/?$rid=1"), TWIN_TOPIC_BAD);
	assert_int_equal(P("$iothub/twin/res/600/?$rid=1"), TWIN_TOPIC_BAD);
	assert_int_equal(P("$iothub/twin/res/200?$rid=1"), TWIN_TOPIC_BAD);
	assert_int_equal(P("$iothub/twin/res/200/?$rid="), TWIN_TOPIC_BAD);
	assert_int_equal(P("$iothub/twin/res/200/?$rid=a/b"), TWIN_TOPIC_BAD);
	assert_int_equal(P("$iothub/twin/res/200/"
	    "?$rid=0123456789012345678901234567890123"), TWIN_TOPIC_BAD);
	assert_int_equal(P("$iothub/twin/res/200/?$rid=1&$version=x"),
	    TWIN_TOPIC_BAD);
	assert_int_equal(P("$iothub/twin/res/200/?$rid=1&$version="
	    "1234567890123456789"), TWIN_TOPIC_BAD);
	assert_int_equal(P("$iothub/twin/PATCH/properties/desired/"),
	    TWIN_TOPIC_BAD);
	assert_int_equal(P("$iothub/twin/PATCH/properties/desired/?$version="),
	    TWIN_TOPIC_BAD);
	assert_int_equal(P("$iothub/twin/PATCH/properties/reported/?$rid=1"),
	    TWIN_TOPIC_BAD);
	assert_int_equal(P("$iothub/twin/"), TWIN_TOPIC_BAD);
	assert_int_equal(P("$iothub/methods/POST/1/?$rid=1"), TWIN_TOPIC_OTHER);
	assert_int_equal(P(""), TWIN_TOPIC_OTHER);
	/* Bounded by len: bytes after it are not read. */
	assert_int_equal(twin_parse_topic("$iothub/twin/res/200/?$rid=1XYZ",
	    28, &tt), TWIN_TOPIC_RES);
	assert_string_equal(tt.rid, "1");
#undef P
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_get_after_subscribe),
		T(test_rid_matching),
		T(test_throttled_retry),
		T(test_silence_retried),
		T(test_merge_and_reconnect),
		T(test_desired_order),
		T(test_kept_version),
		cmocka_unit_test(test_parse_topic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
