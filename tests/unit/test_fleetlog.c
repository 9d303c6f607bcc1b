/*
 * Tests for fleetlog: the line reader (timestamps, torn and hostile
 * lines), segment names, batch and commit semantics, torn-tail recovery,
 * rotation by size and at UTC midnight (with an injected clock),
 * retention by size and age, write failures (queue bound, drops, retry),
 * and the log section of the configuration.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <json-c/json.h>

#include "common/util.h"
#include "daemon/config.h"
#include "common/events.h"
#include "fleetlog/fleetlog.h"
#include "testutil.h"

/* 2026-11-25T23:59:59.500Z */
#define T_EVENING	1795651199500ULL
#define DAY		86400000ULL

static uint64_t fake_now;

static uint64_t
fake_clock(void *arg)
{
	return fake_now;
}

struct fx {
	char		 dir[64];
	struct cfg_log	 log;
	struct fleetlog	*fl;
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (test_tmpdir(fx->dir, sizeof(fx->dir), "evgate-fleetlog") == -1)
		return -1;
	fx->log.dir = fx->dir;
	fx->log.retention_days = 90;
	fx->log.max_bytes = 1024 * 1024 * 1024;
	fx->log.segment_bytes = 16 * 1024 * 1024;
	fx->log.fsync_ms = 1000;
	fake_now = T_EVENING - 3600000;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	fleetlog_free(fx->fl);
	if (test_rmtree(fx->dir) == -1)
		return -1;
	free(fx);
	return 0;
}

static struct fleetlog *
open_log(struct fx *fx)
{
	char err[256];

	fleetlog_free(fx->fl);
	fx->fl = fleetlog_new(NULL);
	fleetlog_set_clock(fx->fl, fake_clock, NULL);
	if (fleetlog_configure(fx->fl, &fx->log, err, sizeof(err)) == -1)
		fail_msg("configure: %s", err);
	return fx->fl;
}

static void
append(struct fleetlog *fl, const char *type, int n)
{
	struct json_object *ev = json_object_new_object();
	char ts[40];

	json_object_object_add(ev, "ts", json_object_new_string(
	    format_utc_ms(fake_now, ts, sizeof(ts))));
	json_object_object_add(ev, "type", json_object_new_string(type));
	json_object_object_add(ev, "n", json_object_new_int(n));
	fleetlog_append(ev, fl);
	json_object_put(ev);
}

static char *
read_path(const char *dir, const char *name, size_t *len)
{
	char path[256], *buf;
	FILE *fp;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(fp = fopen(path, "rb"));
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static size_t
segments(struct fx *fx, struct fleetlog_segment **segs)
{
	ssize_t n = fleetlog_list_segments(fx->dir, segs);

	assert_true(n >= 0);
	return (size_t)n;
}

/* Every line of every segment must parse, with seq 1, 2, 3, ... */
static uint64_t
check_all(struct fx *fx)
{
	struct fleetlog_segment *segs;
	size_t n = segments(fx, &segs), i;
	uint64_t want = 1;

	for (i = 0; i < n; i++) {
		size_t len, off = 0;
		char *buf = read_path(fx->dir, segs[i].name, &len);

		assert_int_equal(segs[i].first_seq, want);
		while (off < len) {
			char *nl = memchr(buf + off, '\n', len - off);
			struct fleetlog_line line;

			assert_non_null(nl);
			assert_int_equal(fleetlog_parse_line(
			    (uint8_t *)buf + off, (size_t)(nl - buf - off), 0,
			    &line), FLEETLOG_LINE_OK);
			assert_int_equal(line.seq, want);
			want++;
			off = (size_t)(nl - buf) + 1;
		}
		free(buf);
	}
	free(segs);
	return want - 1;
}

/* --- the line reader ------------------------------------------------- */

static void
test_parse_ts(void **state)
{
	uint64_t ms;

#define TS_OK(s, want) do {						\
	assert_int_equal(fleetlog_parse_ts((s), strlen(s), &ms), 0);	\
	assert_int_equal(ms, (want));					\
} while (0)
#define TS_BAD(s) assert_int_equal(fleetlog_parse_ts((s), strlen(s), &ms), -1)
	TS_OK("1970-01-01T00:00:00Z", 0);
	TS_OK("2026-11-25T23:59:59.500Z", T_EVENING);
	TS_OK("2026-11-25T23:59:59.5Z", T_EVENING);
	TS_OK("2026-11-25T23:59:59.500999Z", T_EVENING);
	TS_OK("2026-11-26T00:59:59.500+01:00", T_EVENING);
	TS_OK("2026-11-25T22:59:59.500-01:00", T_EVENING);
	TS_OK("2024-02-29T00:00:00Z", 1709164800000ULL);
	TS_OK("2026-11-25 23:59:59.500z", T_EVENING);
	TS_BAD("2026-02-29T00:00:00Z");		/* not a leap year */
	TS_BAD("2100-02-29T00:00:00Z");
	TS_BAD("2026-11-31T00:00:00Z");
	TS_BAD("2026-13-01T00:00:00Z");
	TS_BAD("2026-11-25T24:00:00Z");
	TS_BAD("1969-12-31T23:59:59Z");
	TS_BAD("2026-11-25T23:59:59");		/* no zone */
	TS_BAD("2026-11-25T23:59:59.Z");
	TS_BAD("2026-11-25T23:59:59.1234567890Z");
	TS_BAD("2026-11-25T23:59:59+1:00");
	TS_BAD("2026-11-25T23:59:59Zjunk");
	TS_BAD("2026-1-25T23:59:59Z");
	TS_BAD("");
	TS_BAD("1970-01-01T00:30:00+01:00");	/* before the epoch */
	/* bounded by len, not by a NUL */
	assert_int_equal(fleetlog_parse_ts("2026-11-25T23:59:59.500Zxx", 24,
	    &ms), 0);
	assert_int_equal(ms, T_EVENING);
}

#define PL(s, want) do {						\
	struct fleetlog_line l_;					\
	assert_int_equal(fleetlog_parse_line((const uint8_t *)(s),	\
	    sizeof(s) - 1, 0, &l_), (want));				\
} while (0)

static void
test_parse_line(void **state)
{
	static const char good[] = "{\"seq\":42,\"ts\":\"2026-11-25T23:59:59."
	    "500Z\",\"type\":\"connection\",\"sni\":\"a.b\"}";
	struct fleetlog_line l;
	uint64_t seq, ts;
	char *big;

	assert_int_equal(fleetlog_parse_line((const uint8_t *)good,
	    strlen(good), 1, &l), FLEETLOG_LINE_OK);
	assert_int_equal(l.seq, 42);
	assert_int_equal(l.ts_ms, T_EVENING);
	assert_string_equal(l.type, "connection");
	assert_non_null(l.ev);
	json_object_put(l.ev);
	assert_int_equal(fleetlog_peek_line((const uint8_t *)good,
	    strlen(good), &seq, &ts), 0);
	assert_int_equal(seq, 42);
	assert_int_equal(ts, T_EVENING);

	PL("", FLEETLOG_LINE_EMPTY);
	PL("  \r", FLEETLOG_LINE_EMPTY);
	/* torn: the batch was cut inside the line */
	PL("{\"seq\":42,\"ts\":\"2026-11-25T23:59:59.500Z\",\"ty",
	    FLEETLOG_LINE_NOT_JSON);
	PL("{\"seq\":1,\"ts\":\"2026-11-25T23:59:59Z\",\"type\":\"x\"}}",
	    FLEETLOG_LINE_NOT_JSON);
	PL("{\"seq\":1,\"ts\":\"2026-11-25T23:59:59Z\",\"type\":\"x\"}\r",
	    FLEETLOG_LINE_OK);
	PL("{\"seq\":1,\"ts\":\"2026-11-25T23:59:59Z\",\"type\":\"x\"}\0",
	    FLEETLOG_LINE_NOT_JSON);
	PL("\0\0\0\0\0\0", FLEETLOG_LINE_NOT_JSON);
	PL("[1,2]", FLEETLOG_LINE_NOT_OBJECT);
	PL("\"42\"", FLEETLOG_LINE_NOT_OBJECT);
	PL("{\"seq\":1,}", FLEETLOG_LINE_NOT_JSON);
	PL("{seq:1}", FLEETLOG_LINE_NOT_JSON);
	PL("{\"ts\":\"2026-11-25T23:59:59Z\",\"type\":\"x\"}",
	    FLEETLOG_LINE_BAD_SEQ);
	PL("{\"seq\":0,\"ts\":\"2026-11-25T23:59:59Z\",\"type\":\"x\"}",
	    FLEETLOG_LINE_BAD_SEQ);
	PL("{\"seq\":-3,\"ts\":\"2026-11-25T23:59:59Z\",\"type\":\"x\"}",
	    FLEETLOG_LINE_BAD_SEQ);
	PL("{\"seq\":\"7\",\"ts\":\"2026-11-25T23:59:59Z\",\"type\":\"x\"}",
	    FLEETLOG_LINE_BAD_SEQ);
	PL("{\"seq\":1.5,\"ts\":\"2026-11-25T23:59:59Z\",\"type\":\"x\"}",
	    FLEETLOG_LINE_BAD_SEQ);
	PL("{\"seq\":7,\"ts\":\"yesterday\",\"type\":\"x\"}",
	    FLEETLOG_LINE_BAD_TS);
	PL("{\"seq\":7,\"ts\":1795651199,\"type\":\"x\"}", FLEETLOG_LINE_BAD_TS);
	PL("{\"seq\":7,\"ts\":\"2026-11-25T23:59:59Z\"}",
	    FLEETLOG_LINE_BAD_TYPE);
	PL("{\"seq\":7,\"ts\":\"2026-11-25T23:59:59Z\",\"type\":\"\"}",
	    FLEETLOG_LINE_BAD_TYPE);
	PL("{\"seq\":7,\"ts\":\"2026-11-25T23:59:59Z\",\"type\":[]}",
	    FLEETLOG_LINE_BAD_TYPE);
	/* deep nesting is refused, not recursed into */
	PL("{\"seq\":7,\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]"
	    "]]]]]]]]]}", FLEETLOG_LINE_NOT_JSON);

	big = malloc(FLEETLOG_MAX_LINE + 2);
	memset(big, ' ', FLEETLOG_MAX_LINE + 1);
	assert_int_equal(fleetlog_parse_line((uint8_t *)big,
	    FLEETLOG_MAX_LINE + 1, 0, &l), FLEETLOG_LINE_TOO_LONG);
	free(big);

	/* the fast path wants our exact prefix, and falls back otherwise */
#define PEEK_BAD(s) assert_int_equal(fleetlog_peek_line(		\
	(const uint8_t *)(s), strlen(s), &seq, &ts), -1)
	PEEK_BAD("{\"ts\":\"2026-11-25T23:59:59Z\",\"seq\":1}");
	PEEK_BAD("{\"seq\":01,\"ts\":\"2026-11-25T23:59:59Z\"");
	PEEK_BAD("{\"seq\":,\"ts\":\"2026-11-25T23:59:59Z\"");
	PEEK_BAD("{\"seq\":1234567890123456789,\"ts\":\"2026-11-25T23:59:59Z\"");
	PEEK_BAD("{\"seq\":1,\"ts\":\"2026-11-25T23:59:59Z");
	PEEK_BAD("{\"seq\":1,\"ts\":\"2026-11-25T23:59:59\\u005a\"");
	PEEK_BAD("{\"seq\":1");
}

static void
test_segment_names(void **state)
{
	char name[FLEETLOG_SEG_NAMELEN];
	uint64_t ms, seq;

	fleetlog_segment_name(T_EVENING, 17, name, sizeof(name));
	assert_string_equal(name, "events-20261125T235959Z-000000000017.jsonl");
	assert_int_equal(fleetlog_segment_parse_name(name, &ms, &seq), 0);
	assert_int_equal(ms, T_EVENING - 500);
	assert_int_equal(seq, 17);
	assert_int_equal(fleetlog_segment_parse_name(
	    "events-20261125T235959Z-000000000017.jsonl.tmp", &ms, &seq), -1);
	assert_int_equal(fleetlog_segment_parse_name(
	    "events-20261325T235959Z-000000000017.jsonl", &ms, &seq), -1);
	assert_int_equal(fleetlog_segment_parse_name(
	    "events-20261125T235959Z-00000000001x.jsonl", &ms, &seq), -1);
	assert_int_equal(fleetlog_segment_parse_name("ship.cursor", &ms,
	    &seq), -1);
}

/* --- writing --------------------------------------------------------- */

static void
test_batch_commit(void **state)
{
	struct fx *fx = *state;
	struct fleetlog *fl = open_log(fx);
	struct fleetlog_stats st;
	struct fleetlog_segment *segs;
	int i;

	for (i = 0; i < 100; i++)
		append(fl, "lease", i);
	fleetlog_stats(fl, &st);
	/* queued, not committed: nothing was written yet */
	assert_int_equal(st.queued, 100);
	assert_int_equal(st.committed_seq, 0);
	assert_int_equal(st.next_seq, 101);
	assert_int_equal(segments(fx, &segs), 0);
	free(segs);

	assert_int_equal(fleetlog_flush(fl), 0);
	fleetlog_stats(fl, &st);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.queued_bytes, 0);
	assert_int_equal(st.committed_seq, 100);
	assert_int_equal(st.written, 100);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.segments, 1);
	assert_true(st.bytes > 100 * 50);
	assert_string_equal(fleetlog_state_str(st.state), "ok");
	assert_int_equal(check_all(fx), 100);

	/* a second batch goes into the same segment */
	for (i = 0; i < 5; i++)
		append(fl, "lease", i);
	assert_int_equal(fleetlog_flush(fl), 0);
	assert_int_equal(fleetlog_committed(fl), 105);
	assert_int_equal(check_all(fx), 105);
	assert_int_equal(segments(fx, &segs), 1);
	assert_string_equal(segs[0].name,
	    "events-20261125T225959Z-000000000001.jsonl");
	free(segs);

	/* a restart goes on with seq 106, in the same segment */
	fl = open_log(fx);
	fleetlog_stats(fl, &st);
	assert_int_equal(st.next_seq, 106);
	assert_int_equal(st.committed_seq, 105);
	assert_int_equal(st.recovered_bytes, 0);
	append(fl, "lease", 0);
	assert_int_equal(fleetlog_flush(fl), 0);
	assert_int_equal(check_all(fx), 106);
}

static void
test_big_batch(void **state)
{
	struct fx *fx = *state;
	struct fleetlog *fl = open_log(fx);
	struct fleetlog_stats st;
	int i;

	/* more lines than one writev takes: still one synced batch */
	for (i = 0; i < 3000; i++)
		append(fl, "lease", i);
	assert_int_equal(fleetlog_flush(fl), 0);
	fleetlog_stats(fl, &st);
	assert_int_equal(st.batches, 1);
	assert_int_equal(st.committed_seq, 3000);
	assert_int_equal(check_all(fx), 3000);
}

static void
test_line_format(void **state)
{
	struct fx *fx = *state;
	struct fleetlog *fl = open_log(fx);
	struct fleetlog_segment *segs;
	struct json_object *ev = json_object_new_object();
	size_t len;
	char *buf;

	json_object_object_add(ev, "ts",
	    json_object_new_string("2026-11-25T22:59:59.500Z"));
	json_object_object_add(ev, "type", json_object_new_string("refusal"));
	json_object_object_add(ev, "sni", json_object_new_string(
	    "a/b\"c\n"));
	fleetlog_append(ev, fl);
	json_object_put(ev);
	assert_int_equal(fleetlog_flush(fl), 0);
	assert_int_equal(segments(fx, &segs), 1);
	buf = read_path(fx->dir, segs[0].name, &len);
	/* seq first, then the event as emitted; one line, escaped */
	assert_string_equal(buf, "{\"seq\":1,\"ts\":\"2026-11-25T22:59:59.500Z\","
	    "\"type\":\"refusal\",\"sni\":\"a/b\\\"c\\n\"}\n");
	free(buf);
	free(segs);
}

static void
append_raw(struct fx *fx, const char *name, const char *text)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	assert_true((fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0640)) >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void
test_torn_tail(void **state)
{
	struct fx *fx = *state;
	struct fleetlog *fl = open_log(fx);
	struct fleetlog_stats st;
	struct fleetlog_segment *segs;
	size_t len;
	char *buf;
	int i;

	for (i = 0; i < 3; i++)
		append(fl, "lease", i);
	assert_int_equal(fleetlog_flush(fl), 0);
	fleetlog_free(fx->fl);
	fx->fl = NULL;
	assert_int_equal(segments(fx, &segs), 1);
	/* a crash in the middle of a batch: two whole lines, then a cut */
	append_raw(fx, segs[0].name,
	    "{\"seq\":4,\"ts\":\"2026-11-25T22:59:59.500Z\",\"type\":\"x\"}\n"
	    "not json at all\n"
	    "{\"seq\":6,\"ts\":\"2026-11-25T22:59:59.500Z\",\"type\":\"x\"}\n"
	    "{\"seq\":7,\"ts\":\"2026-11-25T22:5");
	fl = open_log(fx);
	fleetlog_stats(fl, &st);
	/* whole lines survive (a bad one in the middle is left for export
	 * to skip); the cut line goes, and seq goes on after 6 */
	assert_int_equal(st.recovered_bytes, strlen(
	    "{\"seq\":7,\"ts\":\"2026-11-25T22:5"));
	assert_int_equal(st.next_seq, 7);
	assert_int_equal(st.committed_seq, 6);
	append(fl, "lease", 7);
	assert_int_equal(fleetlog_flush(fl), 0);
	buf = read_path(fx->dir, segs[0].name, &len);
	assert_non_null(strstr(buf, "\"type\":\"x\"}\n{\"seq\":7,"));
	assert_int_equal(buf[len - 1], '\n');
	free(buf);
	fleetlog_free(fx->fl);
	fx->fl = NULL;

	/* zeros after a power cut (blocks allocated, data never written),
	 * and a valid-looking line that lost its newline */
	append_raw(fx, segs[0].name, "{\"seq\":8,\"ts\":\"2026-11-25T22:59:59."
	    "500Z\",\"type\":\"x\"}");
	{
		char path[256];
		int fd;
		static const char zeros[100];

		snprintf(path, sizeof(path), "%s/%s", fx->dir, segs[0].name);
		fd = open(path, O_WRONLY | O_APPEND);
		assert_int_equal(write(fd, zeros, sizeof(zeros)), 100);
		close(fd);
	}
	fl = open_log(fx);
	fleetlog_stats(fl, &st);
	assert_int_equal(st.next_seq, 8);
	free(segs);
}

static void
test_torn_garbage_lines_at_end(void **state)
{
	struct fx *fx = *state;
	struct fleetlog *fl = open_log(fx);
	struct fleetlog_stats st;
	struct fleetlog_segment *segs;

	append(fl, "lease", 1);
	assert_int_equal(fleetlog_flush(fl), 0);
	fleetlog_free(fx->fl);
	fx->fl = NULL;
	assert_int_equal(segments(fx, &segs), 1);
	/* complete but broken lines at the very end are a tail too */
	append_raw(fx, segs[0].name, "garbage\n{\"seq\":2,\"ts\":\"bad\"}\n");
	fl = open_log(fx);
	fleetlog_stats(fl, &st);
	assert_int_equal(st.next_seq, 2);
	assert_int_equal(st.recovered_bytes, strlen("garbage\n"
	    "{\"seq\":2,\"ts\":\"bad\"}\n"));
	append(fl, "lease", 2);
	assert_int_equal(fleetlog_flush(fl), 0);
	assert_int_equal(check_all(fx), 2);
	free(segs);
}

static void
test_empty_newest_segment(void **state)
{
	struct fx *fx = *state;
	struct fleetlog *fl;
	struct fleetlog_stats st;

	/* the newest segment was created, then the crash: seq comes from
	 * its name */
	append_raw(fx, "events-20261125T100000Z-000000000001.jsonl",
	    "{\"seq\":1,\"ts\":\"2026-11-25T10:00:00Z\",\"type\":\"x\"}\n");
	append_raw(fx, "events-20261125T110000Z-000000000050.jsonl", "{\"seq\"");
	fl = open_log(fx);
	fleetlog_stats(fl, &st);
	assert_int_equal(st.next_seq, 50);
	assert_int_equal(st.segments, 2);
	append(fl, "lease", 1);
	assert_int_equal(fleetlog_flush(fl), 0);
	fleetlog_stats(fl, &st);
	assert_int_equal(st.committed_seq, 50);
}

static void
test_rotate_size(void **state)
{
	struct fx *fx = *state;
	struct fleetlog *fl;
	struct fleetlog_segment *segs;
	size_t n, i;
	int k;

	fx->log.segment_bytes = 400;
	fl = open_log(fx);
	for (k = 0; k < 20; k++) {
		append(fl, "lease", k);
		fake_now += 1000;
	}
	assert_int_equal(fleetlog_flush(fl), 0);
	assert_int_equal(check_all(fx), 20);
	n = segments(fx, &segs);
	assert_true(n >= 4);
	for (i = 0; i < n; i++) {
		/* never over the limit, unless a single line is */
		assert_true(segs[i].size <= 400);
		assert_true(segs[i].size > 0);
	}
	free(segs);
}

static void
test_rotate_midnight(void **state)
{
	struct fx *fx = *state;
	struct fleetlog *fl;
	struct fleetlog_segment *segs;

	fake_now = T_EVENING;
	fl = open_log(fx);
	append(fl, "lease", 1);
	append(fl, "lease", 2);
	fake_now = T_EVENING + 600;	/* 00:00:00.100 the next day */
	append(fl, "lease", 3);
	/* one batch spanning midnight: two segments */
	assert_int_equal(fleetlog_flush(fl), 0);
	assert_int_equal(segments(fx, &segs), 2);
	assert_string_equal(segs[0].name,
	    "events-20261125T235959Z-000000000001.jsonl");
	assert_string_equal(segs[1].name,
	    "events-20261126T000000Z-000000000003.jsonl");
	free(segs);
	assert_int_equal(check_all(fx), 3);

	/* a restart on a later day does not append to yesterday's file */
	fake_now += DAY;
	fl = open_log(fx);
	append(fl, "lease", 4);
	assert_int_equal(fleetlog_flush(fl), 0);
	assert_int_equal(segments(fx, &segs), 3);
	assert_string_equal(segs[2].name,
	    "events-20261127T000000Z-000000000004.jsonl");
	free(segs);
	assert_int_equal(check_all(fx), 4);
}

static void
test_retention_size(void **state)
{
	struct fx *fx = *state;
	struct fleetlog *fl;
	struct fleetlog_segment *segs;
	struct fleetlog_stats st;
	size_t n, i;
	uint64_t total = 0;
	int k;

	fx->log.segment_bytes = 300;
	fx->log.max_bytes = 1000;
	fl = open_log(fx);
	for (k = 0; k < 40; k++) {
		append(fl, "lease", k);
		assert_int_equal(fleetlog_flush(fl), 0);
	}
	n = segments(fx, &segs);
	for (i = 0; i < n; i++)
		total += segs[i].size;
	/* whole segments went, oldest first; what is left is contiguous
	 * and ends with the newest event */
	assert_true(total <= 1000 + 300);
	assert_true(segs[0].first_seq > 1);
	for (i = 1; i < n; i++)
		assert_true(segs[i].first_seq > segs[i - 1].first_seq);
	fleetlog_stats(fl, &st);
	assert_true(st.deleted > 0);
	assert_int_equal(st.segments, n);
	assert_int_equal(st.committed_seq, 40);
	free(segs);
}

static void
test_retention_age(void **state)
{
	struct fx *fx = *state;
	struct fleetlog *fl;
	struct fleetlog_segment *segs;
	struct timespec ts[2];
	char path[256];

	fx->log.retention_days = 2;
	append_raw(fx, "events-20261101T000000Z-000000000001.jsonl",
	    "{\"seq\":1,\"ts\":\"2026-11-01T00:00:00Z\",\"type\":\"x\"}\n");
	append_raw(fx, "events-20261124T000000Z-000000000002.jsonl",
	    "{\"seq\":2,\"ts\":\"2026-11-24T00:00:00Z\",\"type\":\"x\"}\n");
	append_raw(fx, "events-20261125T000000Z-000000000003.jsonl",
	    "{\"seq\":3,\"ts\":\"2026-11-25T00:00:00Z\",\"type\":\"x\"}\n");
	/* last written (mtime) is what counts */
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	ts[0].tv_sec = ts[1].tv_sec = (time_t)(T_EVENING / 1000) - 10 * 86400;
	snprintf(path, sizeof(path), "%s/%s", fx->dir,
	    "events-20261101T000000Z-000000000001.jsonl");
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	ts[0].tv_sec = ts[1].tv_sec = (time_t)(T_EVENING / 1000) - 86400;
	snprintf(path, sizeof(path), "%s/%s", fx->dir,
	    "events-20261124T000000Z-000000000002.jsonl");
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	ts[0].tv_sec = ts[1].tv_sec = (time_t)(T_EVENING / 1000) - 30 * 86400;
	snprintf(path, sizeof(path), "%s/%s", fx->dir,
	    "events-20261125T000000Z-000000000003.jsonl");
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	fake_now = T_EVENING;
	fl = open_log(fx);
	/* the first is old; the newest is kept whatever its age */
	assert_int_equal(segments(fx, &segs), 2);
	assert_int_equal(segs[0].first_seq, 2);
	assert_int_equal(segs[1].first_seq, 3);
	free(segs);
	append(fl, "lease", 4);
	assert_int_equal(fleetlog_flush(fl), 0);
	assert_int_equal(fleetlog_committed(fl), 4);
}

static void
test_write_failure(void **state)
{
	struct fx *fx = *state;
	struct fleetlog *fl;
	struct fleetlog_stats st;
	struct rlimit rl, old;
	struct json_object *o;
	const char *s;
	int k;

	fl = open_log(fx);
	fleetlog_set_queue_max(fl, 10);
	append(fl, "lease", 0);
	assert_int_equal(fleetlog_flush(fl), 0);
	/* a file size limit makes the next write fail as a full disk would */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	rl = old;
	rl.rlim_cur = 100;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
	for (k = 1; k <= 15; k++)
		append(fl, "lease", k);
	assert_int_equal(fleetlog_flush(fl), -1);
	fleetlog_stats(fl, &st);
	assert_int_equal(st.state, FLEETLOG_ERROR);
	assert_int_equal(st.committed_seq, 1);
	assert_int_equal(st.queued, 10);	/* the bound */
	assert_int_equal(st.dropped, 5);
	assert_int_equal(st.next_seq, 12);	/* drops take no seq */
	assert_true(st.write_errors >= 1);
	o = fleetlog_status(fl);
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	assert_non_null(strstr(s, "\"state\":\"error\""));
	assert_non_null(strstr(s, "\"dropped\":5"));
	assert_non_null(strstr(s, "\"last_error\":\"write: File too large\""));
	json_object_put(o);
	/* nothing half-written stays behind */
	assert_int_equal(check_all(fx), 1);

	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(fleetlog_flush(fl), 0);
	fleetlog_stats(fl, &st);
	assert_int_equal(st.state, FLEETLOG_OK);
	assert_int_equal(st.committed_seq, 11);
	/* the loss is on record: a "log" event with the count */
	assert_int_equal(st.queued, 1);
	assert_int_equal(fleetlog_flush(fl), 0);
	assert_int_equal(check_all(fx), 12);
	{
		struct fleetlog_segment *segs;
		size_t len;
		char *buf;

		segments(fx, &segs);
		buf = read_path(fx->dir, segs[0].name, &len);
		assert_non_null(strstr(buf, "{\"seq\":12,"));
		assert_non_null(strstr(buf, "\"type\":\"log\",\"state\":"
		    "\"resumed\",\"dropped\":5,\"reason\":\"write-error\"}"));
		free(buf);
		free(segs);
	}
}

static void
test_off(void **state)
{
	struct fx *fx = *state;
	struct fleetlog *fl = fleetlog_new(NULL);
	struct fleetlog_stats st;
	struct json_object *o;
	char err[64];

	append(fl, "lease", 1);
	fleetlog_stats(fl, &st);
	assert_int_equal(st.queued, 0);
	assert_null(fleetlog_dir(fl));
	o = fleetlog_status(fl);
	assert_string_equal(json_object_get_string(json_object_object_get(o,
	    "state")), "off");
	json_object_put(o);
	/* on, then off again: what was queued is written first */
	assert_int_equal(fleetlog_configure(fl, &fx->log, err, sizeof(err)),
	    0);
	append(fl, "lease", 1);
	assert_int_equal(fleetlog_configure(fl, NULL, err, sizeof(err)), 0);
	assert_int_equal(check_all(fx), 1);
	fleetlog_free(fl);
}

static void
test_bad_dir(void **state)
{
	struct fx *fx = *state;
	struct fleetlog *fl = fleetlog_new(NULL);
	char err[256], path[128];

	snprintf(path, sizeof(path), "%s/file", fx->dir);
	append_raw(fx, "file", "x");
	fx->log.dir = path;
	assert_int_equal(fleetlog_configure(fl, &fx->log, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "/file"));
	fleetlog_free(fl);
}

/* --- configuration --------------------------------------------------- */

static struct config *
load(const char *text, char *err, size_t errlen)
{
	return config_load_buffer("t.yaml", (const uint8_t *)text,
	    strlen(text), err, errlen);
}

static void
test_config(void **state)
{
	char err[512];
	struct config *c;

	c = load("log: {dir: /srv/log, retention_days: 30, max_mb: 64,\n"
	    "      segment_mb: 4, fsync_interval: 250ms, queue_max: 500}\n",
	    err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_non_null(c->log);
	assert_string_equal(c->log->dir, "/srv/log");
	assert_int_equal(c->log->retention_days, 30);
	assert_int_equal(c->log->max_bytes, 64 << 20);
	assert_int_equal(c->log->segment_bytes, 4 << 20);
	assert_int_equal(c->log->fsync_ms, 250);
	assert_int_equal(c->log->queue_max, 500);
	config_free(c);

	c = load("log: {}\n", err, sizeof(err));
	assert_non_null(c);
	assert_string_equal(c->log->dir, LOCALSTATEDIR "/lib/evgate/log");
	assert_int_equal(c->log->retention_days, 90);
	assert_int_equal(c->log->max_bytes, 1024 << 20);
	assert_int_equal(c->log->segment_bytes, 16 << 20);
	assert_int_equal(c->log->fsync_ms, 1000);
	assert_int_equal(c->log->queue_max, FLEETLOG_QUEUE_MAX);
	config_free(c);

	c = load("site: {name: x}\n", err, sizeof(err));
	assert_non_null(c);
	assert_null(c->log);
	config_free(c);

#define CONF_ERR(text, msg) do {					\
	assert_null(c = load((text), err, sizeof(err)));		\
	assert_string_equal(err, (msg));				\
} while (0)
	CONF_ERR("log:\n  dir: var/log\n",
	    "t.yaml:2:8: log.dir: the log directory must be an absolute path");
	CONF_ERR("log:\n  max_mb: 8\n  segment_mb: 16\n",
	    "t.yaml:2:3: log: segment_mb (16) is larger than max_mb (8)");
	CONF_ERR("log: {fsync_interval: 5ms}\n",
	    "t.yaml:1:23: log.fsync_interval: 5ms is out of range (10ms-1m)");
	CONF_ERR("log: {rotate: daily}\n",
	    "t.yaml:1:7: log: unknown key \"rotate\"");
	CONF_ERR("log: {retention_days: -1}\n",
	    "t.yaml:1:23: log.retention_days: expected a number, found \"-1\"");
	CONF_ERR("log: /var/log\n",
	    "t.yaml:1:6: log: expected a mapping, found a scalar");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ts),
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_segment_names),
		cmocka_unit_test_setup_teardown(test_batch_commit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_big_batch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_line_format, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_torn_garbage_lines_at_end,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_newest_segment,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotate_size, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rotate_midnight, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retention_size, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retention_age, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_write_failure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_dir, setup, teardown),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
