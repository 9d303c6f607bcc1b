/*
 * Tests for export: the segment reader (order, torn and garbage lines,
 * overlong lines, resuming after a seq, following a growing log), CSV
 * quoting (RFC 4180), filters, command-line times, and the report's
 * aggregation (online time as the union of intervals, cut at midnight;
 * bytes shared out over days; counts per day) and its output formats.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <json-c/json.h>

#include "common/util.h"
#include "common/events.h"
#include "fleetlog/export.h"
#include "fleetlog/fleetlog.h"
#include "testutil.h"

#define H		3600000ULL
#define DAY		86400000ULL
/* 2026-11-25T00:00:00Z */
#define D25		1795564800000ULL
#define D24		(D25 - DAY)
#define D26		(D25 + DAY)

static char dir[64];

static int
setup(void **state)
{
	return test_tmpdir(dir, sizeof(dir), "evgate-export");
}

static int
teardown(void **state)
{
	return test_rmtree(dir);
}

static void
put(const char *name, const char *text)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_true((fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0640)) >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

#define SEG1	"events-20261125T000000Z-000000000001.jsonl"
#define SEG2	"events-20261125T120000Z-000000000005.jsonl"
#define SEG3	"events-20261126T000000Z-000000000008.jsonl"

static void
make_log(void)
{
	put(SEG1,
	    "{\"seq\":1,\"ts\":\"2026-11-25T00:00:01Z\",\"type\":\"lease\","
	    "\"charger\":\"ZAP000101\",\"mac\":\"02:42:00:00:00:01\"}\n"
	    "{\"seq\":2,\"ts\":\"2026-11-25T01:00:00Z\",\"type\":\"refusal\","
	    "\"client\":\"10.42.0.22\",\"reason\":\"not-allowed\"}\n"
	    "this line is garbage\n"
	    "{\"seq\":3,\"ts\":\"2026-11-25T02:00:00Z\",\"type\":\"connection\","
	    "\"charger\":\"ZAP000101\",\"port\":8883,\"start\":"
	    "\"2026-11-25T01:00:00Z\",\"duration_s\":3600,\"bytes_up\":10,"
	    "\"bytes_down\":20,\"reason\":\"done\"}\n"
	    /* a tail that lost its newline in an older segment: torn */
	    "{\"seq\":4,\"ts\":\"2026-11-25T03:");
	put(SEG2,
	    "{\"seq\":5,\"ts\":\"2026-11-25T12:00:00Z\",\"type\":\"time\","
	    "\"state\":\"synced\"}\n"
	    /* not our prefix order, still an event */
	    "{\"type\":\"lease\",\"seq\":6,\"ts\":\"2026-11-25T13:00:00Z\","
	    "\"charger\":\"ZAP000102\"}\n"
	    "{\"seq\":7,\"ts\":\"2026-11-25T14:00:00Z\",\"type\":\"dnsmasq\","
	    "\"broken\":\n");
	put(SEG3,
	    "{\"seq\":8,\"ts\":\"2026-11-26T00:00:00Z\",\"type\":\"reload\","
	    "\"ok\":true}\n");
}

static void
test_reader(void **state)
{
	struct export_reader *r;
	struct export_line l;
	char err[256];
	uint64_t seqs[16];
	size_t n = 0, bad = 0;
	enum export_rc rc;

	make_log();
	assert_non_null(r = export_reader_open(dir, 0, 0, UINT64_MAX, 0, err,
	    sizeof(err)));
	while ((rc = export_reader_next(r, &l, err, sizeof(err))) !=
	    EXPORT_END) {
		assert_int_not_equal(rc, EXPORT_ERROR);
		if (rc == EXPORT_BAD) {
			bad++;
			continue;
		}
		if (export_reader_event(r) == NULL) {
			bad++;	/* prefix fine, body broken (seq 7) */
			continue;
		}
		seqs[n++] = l.seq;
	}
	/* garbage, the torn tail of SEG1, seq 7's broken body */
	assert_int_equal(bad, 3);
	assert_int_equal(n, 6);
	assert_int_equal(seqs[0], 1);
	assert_int_equal(seqs[2], 3);
	assert_int_equal(seqs[3], 5);
	assert_int_equal(seqs[4], 6);
	assert_int_equal(seqs[5], 8);
	assert_int_equal(export_reader_segments(r), 3);
	export_reader_free(r);

	/* after seq 5: starts in SEG2, skips 5 */
	assert_non_null(r = export_reader_open(dir, 5, 0, UINT64_MAX, 0, err,
	    sizeof(err)));
	assert_int_equal(export_reader_next(r, &l, err, sizeof(err)),
	    EXPORT_LINE);
	assert_int_equal(l.seq, 6);
	assert_int_equal(l.ts_ms, D25 + 13 * H);
	/* unread gives it again */
	export_reader_unread(r);
	assert_int_equal(export_reader_next(r, &l, err, sizeof(err)),
	    EXPORT_LINE);
	assert_int_equal(l.seq, 6);
	export_reader_free(r);
	assert_null(export_reader_open("/nonexistent/dir", 0, 0, UINT64_MAX,
	    0, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/dir"));
}

static void
test_reader_skips_by_name(void **state)
{
	struct export_reader *r;
	struct export_line l;
	char err[256];

	make_log();
	/* a window from 02:00 on the 26th needs only SEG3 (names are in
	 * time order; an hour of slack for events older than their
	 * segment) */
	assert_non_null(r = export_reader_open(dir, 0, D26 + 2 * H, UINT64_MAX,
	    0, err, sizeof(err)));
	assert_int_equal(export_reader_next(r, &l, err, sizeof(err)),
	    EXPORT_LINE);
	assert_int_equal(l.seq, 8);
	assert_int_equal(export_reader_segments(r), 1);
	export_reader_free(r);
	/* and one that ends early stops before SEG3 */
	assert_non_null(r = export_reader_open(dir, 0, 0, D25 + 2 * H, 0, err,
	    sizeof(err)));
	while (export_reader_next(r, &l, err, sizeof(err)) != EXPORT_END)
		;
	assert_int_equal(export_reader_segments(r), 1);
	export_reader_free(r);
}

static void
test_reader_clock_stepped_back(void **state)
{
	struct export_reader *r;
	struct export_line l;
	char err[256];
	size_t n = 0;

	/* seq 2 was written after a clock step back to 2025: its name is
	 * older, but it comes after seq 1, and nothing is skipped */
	put("events-20261125T000000Z-000000000001.jsonl",
	    "{\"seq\":1,\"ts\":\"2026-11-25T00:00:01Z\",\"type\":\"x\"}\n");
	put("events-20250101T000000Z-000000000002.jsonl",
	    "{\"seq\":2,\"ts\":\"2025-01-01T00:00:01Z\",\"type\":\"x\"}\n");
	assert_non_null(r = export_reader_open(dir, 0, D26, UINT64_MAX, 0, err,
	    sizeof(err)));
	while (export_reader_next(r, &l, err, sizeof(err)) == EXPORT_LINE)
		assert_int_equal(l.seq, ++n);
	assert_int_equal(n, 2);
	export_reader_free(r);
}

static void
test_reader_long_line(void **state)
{
	struct export_reader *r;
	struct export_line l;
	char err[256], *big;
	size_t len = FLEETLOG_MAX_LINE * 5;

	big = malloc(len + 1);
	memset(big, 'x', len);
	big[len - 1] = '\n';
	big[len] = '\0';
	put(SEG1, "{\"seq\":1,\"ts\":\"2026-11-25T00:00:01Z\",\"type\":\"x\"}\n");
	put(SEG1, big);
	put(SEG1, "{\"seq\":2,\"ts\":\"2026-11-25T00:00:02Z\",\"type\":\"x\"}\n");
	free(big);
	assert_non_null(r = export_reader_open(dir, 0, 0, UINT64_MAX, 0, err,
	    sizeof(err)));
	assert_int_equal(export_reader_next(r, &l, err, sizeof(err)),
	    EXPORT_LINE);
	assert_int_equal(export_reader_next(r, &l, err, sizeof(err)),
	    EXPORT_BAD);
	assert_int_equal(export_reader_next(r, &l, err, sizeof(err)),
	    EXPORT_LINE);
	assert_int_equal(l.seq, 2);
	assert_int_equal(export_reader_next(r, &l, err, sizeof(err)),
	    EXPORT_END);
	export_reader_free(r);
}

static void
test_reader_follow(void **state)
{
	struct export_reader *r;
	struct export_line l;
	char err[256];

	/* an empty directory first */
	assert_non_null(r = export_reader_open(dir, 0, 0, UINT64_MAX, 1, err,
	    sizeof(err)));
	assert_int_equal(export_reader_next(r, &l, err, sizeof(err)),
	    EXPORT_END);
	put(SEG1, "{\"seq\":1,\"ts\":\"2026-11-25T00:00:01Z\",\"type\":\"x\"}\n");
	assert_int_equal(export_reader_next(r, &l, err, sizeof(err)),
	    EXPORT_LINE);
	assert_int_equal(export_reader_next(r, &l, err, sizeof(err)),
	    EXPORT_END);
	/* half a line: not yet, and not bad */
	put(SEG1, "{\"seq\":2,\"ts\":\"2026-11-25T00:00:02Z\",");
	assert_int_equal(export_reader_next(r, &l, err, sizeof(err)),
	    EXPORT_END);
	put(SEG1, "\"type\":\"x\"}\n");
	assert_int_equal(export_reader_next(r, &l, err, sizeof(err)),
	    EXPORT_LINE);
	assert_int_equal(l.seq, 2);
	/* a new segment appears */
	put(SEG2, "{\"seq\":5,\"ts\":\"2026-11-25T12:00:00Z\",\"type\":\"x\"}\n");
	assert_int_equal(export_reader_next(r, &l, err, sizeof(err)),
	    EXPORT_LINE);
	assert_int_equal(l.seq, 5);
	assert_int_equal(export_reader_next(r, &l, err, sizeof(err)),
	    EXPORT_END);
	export_reader_free(r);
}

/* --- CSV and export --------------------------------------------------- */

static char *
capture(void (*fn)(FILE *, void *), void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	fn(fp, arg);
	fclose(fp);
	return buf;
}

static void
fields(FILE *fp, void *arg)
{
	static const char *const v[] = { "plain", "a,b", "say \"hi\"",
	    "two\nlines", "cr\r", "", "x;y", NULL };
	size_t i;

	for (i = 0; v[i] != NULL; i++) {
		export_csv_field(fp, v[i], strlen(v[i]));
		fputc('|', fp);
	}
}

static void
texts(FILE *fp, void *arg)
{
	static const char *const v[] = { "=HYPERLINK(\"http://x\")",
	    "+1", "-2", "@SUM(A1)", "\tx", "\rx", "a=b", "plain", "", NULL };
	size_t i;

	for (i = 0; v[i] != NULL; i++) {
		export_csv_text(fp, v[i], strlen(v[i]));
		fputc('|', fp);
	}
}

static void
row(FILE *fp, void *arg)
{
	export_csv_header(fp);
	export_csv_row(fp, arg);
}

static void
test_csv(void **state)
{
	struct json_object *ev;
	char *s;

	s = capture(fields, NULL);
	assert_string_equal(s, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"|"
	    "\"cr\r\"||x;y|");
	free(s);
	/* formulas are text, not formulas */
	s = capture(texts, NULL);
	assert_string_equal(s, "\"'=HYPERLINK(\"\"http://x\"\")\"|\"'+1\"|"
	    "\"'-2\"|\"'@SUM(A1)\"|\"'\tx\"|\"'\rx\"|a=b|plain||");
	free(s);
	ev = json_tokener_parse("{\"seq\":4,\"ts\":\"2026-11-25T02:00:00Z\","
	    "\"type\":\"refusal\",\"sni\":\"=cmd|' /C calc'!A0\","
	    "\"port\":443,\"duration_s\":-1}");
	s = capture(row, ev);
	assert_string_equal(s, "ts,seq,type,charger,client,sni,port,upstream,"
	    "start,duration_s,bytes_up,bytes_down,reason,box,detail\r\n"
	    "2026-11-25T02:00:00Z,4,refusal,,,\"'=cmd|' /C calc'!A0\",443,,,"
	    "-1,,,,,\r\n");
	free(s);
	json_object_put(ev);
	ev = json_tokener_parse("{\"seq\":3,\"ts\":\"2026-11-25T02:00:00Z\","
	    "\"type\":\"connection\",\"charger\":\"ZAP,01\",\"port\":8883,"
	    "\"sni\":null,\"duration_s\":3600.250,\"bytes_up\":10,"
	    "\"reason\":\"done\",\"mac\":\"02:42\",\"tags\":[1,\"a\"]}");
	s = capture(row, ev);
	assert_string_equal(s, "ts,seq,type,charger,client,sni,port,upstream,"
	    "start,duration_s,bytes_up,bytes_down,reason,box,detail\r\n"
	    "2026-11-25T02:00:00Z,3,connection,\"ZAP,01\",,,8883,,,3600.250,"
	    "10,,done,,\"{\"\"mac\"\":\"\"02:42\"\",\"\"tags\"\":[1,\"\"a\"\"]}\"\r\n");
	free(s);
	json_object_put(ev);
}

static char *
run(const struct export_filter *f, enum export_format fmt,
    struct export_stats *st)
{
	char *buf = NULL, err[256];
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_int_equal(export_run(dir, f, fmt, fp, st, err, sizeof(err)), 0);
	fclose(fp);
	return buf;
}

static void
test_export_filters(void **state)
{
	struct export_filter f;
	struct export_stats st;
	const char *ch[] = { "zap000101" }, *ty[] = { "lease", "reload" };
	char *s;

	make_log();
	memset(&f, 0, sizeof(f));
	f.to_ms = UINT64_MAX;
	s = run(&f, EXPORT_JSONL, &st);
	/* stored lines, byte for byte, in seq order */
	assert_non_null(strstr(s, "{\"seq\":1,\"ts\":\"2026-11-25T00:00:01Z\","
	    "\"type\":\"lease\",\"charger\":\"ZAP000101\",\"mac\":"
	    "\"02:42:00:00:00:01\"}\n{\"seq\":2,"));
	assert_int_equal(st.events, 6);
	assert_int_equal(st.bad, 3);
	assert_int_equal(st.lines, 9);
	free(s);

	f.chargers = ch;
	f.ncharger = 1;
	s = run(&f, EXPORT_CSV, &st);
	assert_int_equal(st.events, 2);	/* seq 1 and 3; case-insensitive */
	assert_non_null(strstr(s, "\r\n2026-11-25T00:00:01Z,1,lease,"));
	assert_non_null(strstr(s, "\r\n2026-11-25T02:00:00Z,3,connection,"));
	free(s);

	f.ncharger = 0;
	f.types = ty;
	f.ntypes = 2;
	f.from_ms = D25 + 6 * H;
	f.to_ms = D26;	/* exclusive: the reload at midnight is out */
	s = run(&f, EXPORT_JSONL, &st);
	assert_string_equal(s, "{\"type\":\"lease\",\"seq\":6,\"ts\":"
	    "\"2026-11-25T13:00:00Z\",\"charger\":\"ZAP000102\"}\n");
	free(s);
}

static void
test_parse_time(void **state)
{
	uint64_t t, now = D25 + 10 * H;

	assert_int_equal(export_parse_time("2026-11-25", now, 0, &t), 0);
	assert_int_equal(t, D25);
	assert_int_equal(export_parse_time("2026-11-25", now, 1, &t), 0);
	assert_int_equal(t, D26);
	assert_int_equal(export_parse_time("2026-11-25T01:00:00Z", now, 0, &t),
	    0);
	assert_int_equal(t, D25 + H);
	assert_int_equal(export_parse_time("2026-11-25T01:00:00", now, 0, &t),
	    0);
	assert_int_equal(t, D25 + H);
	assert_int_equal(export_parse_time("2026-11-25T01:00:00.250", now, 0,
	    &t), 0);
	assert_int_equal(t, D25 + H + 250);
	assert_int_equal(export_parse_time("2026-11-25T02:00:00+01:00", now, 0,
	    &t), 0);
	assert_int_equal(t, D25 + H);
	assert_int_equal(export_parse_time("-24h", now, 0, &t), 0);
	assert_int_equal(t, now - DAY);
	assert_int_equal(export_parse_time("-7d", now, 0, &t), 0);
	assert_int_equal(t, now - 7 * DAY);
	assert_int_equal(export_parse_time("now", now, 0, &t), 0);
	assert_int_equal(t, now);
	assert_int_equal(export_parse_time("yesterday", now, 0, &t), -1);
	assert_int_equal(export_parse_time("2026-13-01", now, 0, &t), -1);
	assert_int_equal(export_parse_time("-", now, 0, &t), -1);
	assert_int_equal(export_parse_time("-100000d", now, 0, &t), -1);
	assert_int_equal(export_parse_time("", now, 0, &t), -1);
}

/* --- the report ------------------------------------------------------- */

static struct json_object *
conn(const char *who, unsigned port, uint64_t start, uint64_t dur_ms,
    uint64_t up, uint64_t down)
{
	char buf[512], ts[40], st[40];

	snprintf(buf, sizeof(buf), "{\"ts\":\"%s\",\"type\":\"connection\","
	    "\"charger\":\"%s\",\"port\":%u,\"start\":\"%s\",\"duration_s\":"
	    "%llu.%03u,\"bytes_up\":%llu,\"bytes_down\":%llu}",
	    format_utc_ms(start + dur_ms, ts, sizeof(ts)), who, port,
	    format_utc_ms(start, st, sizeof(st)),
	    (unsigned long long)(dur_ms / 1000), (unsigned)(dur_ms % 1000),
	    (unsigned long long)up, (unsigned long long)down);
	return json_tokener_parse(buf);
}

static void
feed(struct report *rep, struct json_object *ev)
{
	struct json_object *ts;
	uint64_t t;

	assert_non_null(ev);
	ts = json_object_object_get(ev, "ts");
	assert_int_equal(fleetlog_parse_ts(json_object_get_string(ts),
	    (size_t)json_object_get_string_len(ts), &t), 0);
	report_add_event(rep, ev, t);
	json_object_put(ev);
}

static const struct report_row *
find_row(const struct report *rep, const char *who, uint64_t day_ms)
{
	const struct report_row *rows;
	size_t n = report_rows(rep, &rows), i;

	for (i = 0; i < n; i++)
		if (strcmp(rows[i].charger, who) == 0 &&
		    rows[i].day == (int64_t)(day_ms / DAY))
			return &rows[i];
	fail_msg("no row for %s", who);
	return NULL;
}

static void
test_report_online(void **state)
{
	struct report *rep = report_new(D24, D26 + DAY, 0);
	const struct report_row *r;

	/* Overlapping and nested MQTT connections count once: 10:00-12:00
	 * and 11:00-13:00 and 11:30-11:45 -> 3 h. */
	feed(rep, conn("A", 8883, D25 + 10 * H, 2 * H, 0, 0));
	feed(rep, conn("A", 8883, D25 + 11 * H, 2 * H, 0, 0));
	feed(rep, conn("A", 8883, D25 + 11 * H + H / 2, H / 4, 0, 0));
	/* touching intervals join: 13:00-14:00 */
	feed(rep, conn("A", 8883, D25 + 13 * H, H, 0, 0));
	/* HTTPS does not make a charger online */
	feed(rep, conn("A", 443, D25 + 15 * H, H, 0, 0));
	/* across midnight: 23:00 on the 25th to 01:00 on the 26th */
	feed(rep, conn("A", 8883, D25 + 23 * H, 2 * H, 0, 0));
	report_finish(rep);
	r = find_row(rep, "A", D25);
	assert_int_equal(r->online_ms, 4 * H + H);
	assert_int_equal(r->connections, 6);
	assert_int_equal(r->span_ms, DAY);
	r = find_row(rep, "A", D26);
	assert_int_equal(r->online_ms, H);
	assert_int_equal(r->connections, 0);	/* counted on its start day */
	/* every day of the window is there, even without activity */
	r = find_row(rep, "A", D24);
	assert_int_equal(r->online_ms, 0);
	report_free(rep);
}

static void
test_report_window_and_bytes(void **state)
{
	/* window: from 12:00 on the 25th to 12:00 on the 26th */
	struct report *rep = report_new(D25 + 12 * H, D26 + 12 * H, 8883);
	const struct report_row *r;
	const struct report_row *rows;

	/* 06:00-18:00 on the 25th: 6 h inside, bytes for the inside half,
	 * shared by time; the start is before the window: not counted */
	feed(rep, conn("B", 8883, D25 + 6 * H, 12 * H, 1200, 2400));
	/* 20:00 on the 25th to 04:00 on the 26th: 4 h + 4 h, 1000 bytes up
	 * split evenly */
	feed(rep, conn("B", 8883, D25 + 20 * H, 8 * H, 1001, 0));
	/* entirely before the window: nothing */
	feed(rep, conn("B", 8883, D24, H, 99, 99));
	/* a refusal and a lease inside, one refusal outside */
	feed(rep, json_tokener_parse("{\"ts\":\"2026-11-25T13:00:00Z\","
	    "\"type\":\"refusal\",\"client\":\"10.42.0.30\"}"));
	feed(rep, json_tokener_parse("{\"ts\":\"2026-11-25T11:00:00Z\","
	    "\"type\":\"refusal\",\"client\":\"10.42.0.30\"}"));
	feed(rep, json_tokener_parse("{\"ts\":\"2026-11-26T01:00:00Z\","
	    "\"type\":\"lease\",\"mac\":\"02:42:00:00:00:03\",\"action\":"
	    "\"add\"}"));
	/* the pool's state is no charger's lease */
	feed(rep, json_tokener_parse("{\"ts\":\"2026-11-26T01:00:00Z\","
	    "\"type\":\"lease\",\"action\":\"pool_high\",\"in_use\":200,"
	    "\"pool\":241}"));
	report_finish(rep);
	r = find_row(rep, "B", D25);
	assert_int_equal(r->span_ms, 12 * H);
	assert_int_equal(r->online_ms, 6 * H + 4 * H);
	assert_int_equal(r->connections, 1);
	assert_int_equal(r->bytes_up, 600 + 500);
	assert_int_equal(r->bytes_down, 1200);
	r = find_row(rep, "B", D26);
	assert_int_equal(r->span_ms, 12 * H);
	assert_int_equal(r->online_ms, 4 * H);
	assert_int_equal(r->bytes_up, 501);	/* the parts add up */
	r = find_row(rep, "10.42.0.30", D25);
	assert_int_equal(r->refusals, 1);
	r = find_row(rep, "02:42:00:00:00:03", D26);
	assert_int_equal(r->leases, 1);
	/* 3 chargers x 2 days, sorted by charger then day */
	assert_int_equal(report_rows(rep, &rows), 6);
	assert_string_equal(rows[0].charger, "02:42:00:00:00:03");
	assert_true(rows[0].day < rows[1].day);
	report_free(rep);
}

static void
test_report_live(void **state)
{
	struct report *rep = report_new(D25, D26, 0);
	const struct report_row *r;

	/* still open since yesterday: the daemon's live list */
	report_add_connection(rep, "C", 8883, D24 + 20 * H, D25 + 6 * H, 0, 0);
	report_finish(rep);
	r = find_row(rep, "C", D25);
	assert_int_equal(r->online_ms, 6 * H);
	report_free(rep);
}

struct wr {
	struct report		*rep;
	enum report_format	 fmt;
};

static void
write_it(FILE *fp, void *arg)
{
	struct wr *w = arg;

	report_write(w->rep, w->fmt, "P-hus <Sentrum>", fp);
}

static void
test_report_formats(void **state)
{
	struct report *rep = report_new(D25, D26, 0);
	struct wr w = { rep, REPORT_CSV };
	struct json_object *o;
	char *s;

	feed(rep, conn("ZAP000101", 8883, D25, 6 * H, 1000, 2000));
	feed(rep, conn("<script>x", 8883, D25, 24 * H, 5, 5));
	report_finish(rep);
	s = capture(write_it, &w);
	assert_string_equal(s, "day,charger,online_s,online_pct,connections,"
	    "bytes_up,bytes_down,refusals,leases\r\n"
	    "2026-11-25,<script>x,86400.000,100.00,1,5,5,0,0\r\n"
	    "2026-11-25,ZAP000101,21600.000,25.00,1,1000,2000,0,0\r\n");
	free(s);

	w.fmt = REPORT_JSON;
	s = capture(write_it, &w);
	assert_non_null(o = json_tokener_parse(s));
	assert_string_equal(json_object_get_string(json_object_object_get(o,
	    "site")), "P-hus <Sentrum>");
	assert_int_equal(json_object_array_length(json_object_object_get(o,
	    "chargers")), 2);
	json_object_put(o);
	free(s);

	w.fmt = REPORT_HTML;
	s = capture(write_it, &w);
	/* one page: no scripts, no external anything; names escaped */
	assert_non_null(strstr(s, "<!DOCTYPE html>"));
	assert_non_null(strstr(s, "<svg"));
	assert_non_null(strstr(s, "&lt;script&gt;x"));
	assert_null(strstr(s, "<script"));
	assert_null(strstr(s, "src="));
	assert_null(strstr(s, "href="));
	assert_null(strstr(s, "url("));
	assert_non_null(strstr(s, "P-hus &lt;Sentrum&gt;"));
	assert_non_null(strstr(s, "25.0%"));
	free(s);

	w.fmt = REPORT_TEXT;
	s = capture(write_it, &w);
	assert_non_null(strstr(s, "ZAP000101  06:00:00"));
	free(s);
	report_free(rep);
}

static void
test_report_read_dir(void **state)
{
	struct report *rep = report_new(D25, D26, 0);
	struct export_filter f;
	struct export_stats st;
	const struct report_row *r;
	char err[256];

	make_log();
	memset(&f, 0, sizeof(f));
	f.from_ms = D25;
	f.to_ms = D26;
	assert_int_equal(report_read_dir(rep, dir, &f, &st, err, sizeof(err)),
	    0);
	assert_int_equal(st.bad, 3);
	report_finish(rep);
	r = find_row(rep, "ZAP000101", D25);
	assert_int_equal(r->online_ms, H);
	assert_int_equal(r->leases, 1);
	assert_int_equal(r->bytes_up, 10);
	r = find_row(rep, "10.42.0.22", D25);
	assert_int_equal(r->refusals, 1);
	report_free(rep);
}


/* --- several directories: a pair's two logs -------------------------------- */

static void
put_in(const char *sub, const char *name, const char *text)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	mkdir(path, 0750);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	assert_true((fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0640)) >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

#define EV(seq, ts, box, type) "{\"seq\":" #seq ",\"ts\":\"2026-11-25T" ts \
	"Z\",\"type\":\"" type "\",\"box\":\"" box "\"}\n"

static void
test_export_dirs(void **state)
{
	struct export_filter f = { 0, UINT64_MAX, NULL, 0, NULL, 0 };
	struct export_stats st;
	char a[128], b[128], c[128], err[256], *buf = NULL;
	const char *dirs[3];
	size_t len = 0;
	FILE *fp;

	/* gw-a was master until 10:00, then gw-b; both log all along. */
	put_in("a", SEG1, EV(1, "08:00:00", "gw-a", "role")
	    EV(2, "09:00:00", "gw-a", "connection")
	    EV(3, "10:00:00.500", "gw-a", "role"));
	put_in("a", SEG2, EV(5, "11:00:00", "gw-a", "pair"));
	put_in("b", SEG1, EV(1, "08:00:00", "gw-b", "role")
	    EV(2, "10:00:00.250", "gw-b", "role")
	    EV(3, "10:00:05", "gw-b", "connection"));
	/* a copy of a's first segment given as well: nothing twice */
	put_in("c", SEG1, EV(1, "08:00:00", "gw-a", "role")
	    EV(2, "09:00:00", "gw-a", "connection")
	    EV(3, "10:00:00.500", "gw-a", "role"));
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(c, sizeof(c), "%s/c", dir);
	dirs[0] = a;
	dirs[1] = b;
	dirs[2] = c;
	fp = open_memstream(&buf, &len);
	assert_int_equal(export_run_dirs(dirs, 3, &f, EXPORT_JSONL, fp, &st,
	    err, sizeof(err)), 0);
	fclose(fp);
	/* time order; at the same time, by box name */
	assert_string_equal(buf, EV(1, "08:00:00", "gw-a", "role")
	    EV(1, "08:00:00", "gw-b", "role")
	    EV(2, "09:00:00", "gw-a", "connection")
	    EV(2, "10:00:00.250", "gw-b", "role")
	    EV(3, "10:00:00.500", "gw-a", "role")
	    EV(3, "10:00:05", "gw-b", "connection")
	    EV(5, "11:00:00", "gw-a", "pair"));
	free(buf);
	assert_int_equal(st.events, 7);
	assert_int_equal(st.duplicates, 3);
	assert_int_equal(st.boxes, 2);
	/* gw-a's seq 4 is in none of them */
	assert_int_equal(st.gaps, 1);

	/* filters and CSV as for one directory; the box has its column */
	buf = NULL;
	f.types = (const char *[]){ "connection" };
	f.ntypes = 1;
	fp = open_memstream(&buf, &len);
	assert_int_equal(export_run_dirs(dirs, 2, &f, EXPORT_CSV, fp, &st,
	    err, sizeof(err)), 0);
	fclose(fp);
	assert_non_null(strstr(buf, ",gw-a,\r\n"));
	assert_non_null(strstr(buf, ",gw-b,\r\n"));
	assert_int_equal(st.events, 2);
	free(buf);

	/* a directory that is not there: an error, not an empty export */
	dirs[1] = "/nonexistent/evgate-log";
	fp = open_memstream(&buf, &len);
	assert_int_equal(export_run_dirs(dirs, 2, &f, EXPORT_CSV, fp, &st,
	    err, sizeof(err)), -1);
	fclose(fp);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_skips_by_name,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_clock_stepped_back,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reader_long_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reader_follow, setup,
		    teardown),
		cmocka_unit_test(test_csv),
		cmocka_unit_test_setup_teardown(test_export_filters, setup,
		    teardown),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_report_online),
		cmocka_unit_test(test_report_window_and_bytes),
		cmocka_unit_test(test_report_live),
		cmocka_unit_test(test_report_formats),
		cmocka_unit_test_setup_teardown(test_report_read_dir, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_export_dirs, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
