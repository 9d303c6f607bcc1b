/*
 * Tests for checkpoint (crash accounting): the file it writes, the clean
 * stop that removes it, and recovery after an unclean stop -- including
 * a connection that closed after the last checkpoint, and a crash in the
 * middle of a recovery (the end records must reach the log once, never
 * twice).
 *
 * The relay is mocked at link time (-Wl,--wrap=relay_foreach): the test
 * says which connections are live.  The fleet log is real, in a temporary
 * directory, without a timer: only fleetlog_flush writes, so the
 * directory at any moment is what a kill -9 would leave.  A crash is
 * simulated by copying the directory, stopping cleanly, and putting the
 * copy back.
 */
#include <sys/stat.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <json-c/json.h>

#include "common/events.h"
#include "common/log.h"
#include "common/util.h"
#include "fleetlog/checkpoint.h"
#include "fleetlog/fleetlog.h"
#include "relay/relay.h"
#include "relay/relay_report.h"
#include "testutil.h"

#define MAXRECS	8

/* The live connections relay_foreach reports. */
static struct relay_record recs[MAXRECS];
static size_t nrecs;

void	__wrap_relay_foreach(const struct relay *,
	    void (*)(const struct relay_record *, void *), void *);

void
__wrap_relay_foreach(const struct relay *relay,
    void (*fn)(const struct relay_record *, void *), void *arg)
{
	size_t i;

	for (i = 0; i < nrecs; i++)
		fn(&recs[i], arg);
}

struct fx {
	char			 dir[64];
	char			 dir2[64];
	struct cfg_log		 log;
	struct event_base	*base;
	struct fleetlog		*fl;
	struct checkpoint	*cp;
};

static void
add_rec(uint64_t id, enum relay_state st, uint64_t up, uint64_t down,
    uint64_t age_ms)
{
	struct relay_record *r = &recs[nrecs++];

	memset(r, 0, sizeof(*r));
	r->id = id;
	r->client.sin.sin_family = AF_INET;
	r->client.sin.sin_addr.s_addr = htonl(0x0a2a0015);	/* 10.42.0.21 */
	r->client.sin.sin_port = htons(40000 + (uint16_t)id);
	r->upstream.sin.sin_family = AF_INET;
	r->upstream.sin.sin_addr.s_addr = htonl(0xcb00710a);
	r->upstream.sin.sin_port = htons(8883);
	r->port = 8883;
	r->sni = "zapcloud.azure-devices.net";
	r->state = st;
	r->start_wall_ms = now_wall_ms() - age_ms;
	r->start_mono_ms = now_mono_ms() - age_ms;
	r->bytes_up = up;
	r->bytes_down = down;
	snprintf(r->charger, sizeof(r->charger), "ZAP%06llu",
	    (unsigned long long)id);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (test_tmpdir(fx->dir, sizeof(fx->dir), "evgate-ckpt") == -1 ||
	    test_tmpdir(fx->dir2, sizeof(fx->dir2), "evgate-ckpt2") == -1)
		return -1;
	fx->log.dir = fx->dir;
	fx->log.retention_days = 90;
	fx->log.max_bytes = 1024 * 1024 * 1024;
	fx->log.segment_bytes = 16 * 1024 * 1024;
	fx->log.fsync_ms = 1000;
	fx->log.checkpoint_ms = 30000;
	fx->base = event_base_new();
	nrecs = 0;
	*state = fx;
	return 0;
}

/* A run of evgated: the fleet log and the checkpoint, committed. */
static void
start(struct fx *fx)
{
	char err[256];

	fx->fl = fleetlog_new(NULL);
	if (fleetlog_configure(fx->fl, &fx->log, err, sizeof(err)) == -1)
		fail_msg("fleetlog: %s", err);
	events_set_sink(fleetlog_append, fx->fl);
	events_set_recording(1);
	fx->cp = checkpoint_new(fx->base, fx->fl, NULL);
	assert_int_equal(checkpoint_prepare(fx->cp, &fx->log, err,
	    sizeof(err)), 0);
	checkpoint_commit(fx->cp);
}

/* A clean stop, in the daemon's order. */
static void
stop(struct fx *fx)
{
	checkpoint_free(fx->cp);
	fx->cp = NULL;
	events_set_sink(NULL, NULL);
	events_set_recording(0);
	fleetlog_free(fx->fl);
	fx->fl = NULL;
}

static void
sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
}

/* kill -9: the directory stays as it is now, whatever a stop would do. */
static void
crash(struct fx *fx)
{
	sh("cp -a '%s' '%s.crash'", fx->dir, fx->dir);
	stop(fx);
	sh("rm -rf '%s' && mv '%s.crash' '%s'", fx->dir, fx->dir, fx->dir);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	if (fx->cp != NULL || fx->fl != NULL)
		stop(fx);
	event_base_free(fx->base);
	if (test_rmtree(fx->dir) == -1 || test_rmtree(fx->dir2) == -1)
		return -1;
	free(fx);
	return 0;
}

/* The checkpoint files in dir (suffix: ".jsonl", ".bad", ...). */
static int
files(const char *dir, const char *suffix)
{
	char cmd[256], buf[32];
	FILE *fp;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls '%s' | grep -c '^%s.*%s$'", dir,
	    CHECKPOINT_PREFIX, suffix);
	assert_non_null(fp = popen(cmd, "r"));
	if (fgets(buf, sizeof(buf), fp) != NULL)
		n = atoi(buf);
	pclose(fp);
	return n;
}

/* The one checkpoint file's lines (header first); n lines. */
static struct json_object *
file_lines(const char *dir, int *n)
{
	struct json_object *a = json_object_new_array(), *o;
	char cmd[256], *line = NULL;
	size_t cap = 0;
	FILE *fp;

	snprintf(cmd, sizeof(cmd), "cat '%s'/%s*%s", dir, CHECKPOINT_PREFIX,
	    CHECKPOINT_SUFFIX);
	assert_non_null(fp = popen(cmd, "r"));
	while (getline(&line, &cap, fp) > 0) {
		assert_non_null(o = json_tokener_parse(line));
		json_object_array_add(a, o);
	}
	free(line);
	pclose(fp);
	*n = (int)json_object_array_length(a);
	return a;
}

static int64_t
get_int(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		fail_msg("no %s in %s", k, json_object_to_json_string(o));
	return json_object_get_int64(v);
}

static const char *
get_str(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v))
		fail_msg("no %s in %s", k, json_object_to_json_string(o));
	return json_object_get_string(v);
}

/* Every "connection" event in the log, in seq order (a new array). */
static struct json_object *
connections(struct fx *fx)
{
	struct json_object *a = json_object_new_array();
	struct fleetlog_segment *segs;
	struct fleetlog_line fl;
	ssize_t n, i;
	char path[256], *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *fp;

	assert_true((n = fleetlog_list_segments(fx->dir, &segs)) >= 0);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", fx->dir, segs[i].name);
		assert_non_null(fp = fopen(path, "r"));
		while ((len = getline(&line, &cap, fp)) > 0) {
			assert_int_equal(fleetlog_parse_line((uint8_t *)line,
			    (size_t)len - 1, 1, &fl), FLEETLOG_LINE_OK);
			if (strcmp(fl.type, EVENT_CONNECTION) == 0)
				json_object_array_add(a, fl.ev);
			else
				json_object_put(fl.ev);
		}
		fclose(fp);
	}
	free(line);
	free(segs);
	return a;
}

static struct checkpoint_stats
stats(struct fx *fx)
{
	struct checkpoint_stats st;

	checkpoint_stats(fx->cp, &st);
	return st;
}

/* --- tests ----------------------------------------------------------- */

/* The file holds each relayed connection's end record; a stop removes it. */
static void
test_save_and_clean_stop(void **state)
{
	struct fx *fx = *state;
	struct json_object *a, *o;
	int n;

	start(fx);
	add_rec(7, RELAY_SPLICE, 1000, 2000, 65000);
	add_rec(8, RELAY_PEEK, 0, 0, 10);	/* not relayed: left out */
	add_rec(9, RELAY_SPLICE, 5, 6, 1000);
	assert_int_equal(checkpoint_save(fx->cp), 0);
	assert_int_equal(files(fx->dir, CHECKPOINT_SUFFIX), 1);
	a = file_lines(fx->dir, &n);
	assert_int_equal(n, 3);
	o = json_object_array_get_idx(a, 0);
	assert_int_equal(get_int(o, "checkpoint"), 1);
	assert_int_equal(get_int(o, "from_seq"), 1);
	o = json_object_array_get_idx(a, 1);
	assert_int_equal(get_int(o, "conn"), 7);
	assert_string_equal(get_str(o, "reason"), CHECKPOINT_REASON);
	assert_string_equal(get_str(o, "charger"), "ZAP000007");
	assert_string_equal(get_str(o, "sni"), "zapcloud.azure-devices.net");
	assert_int_equal(get_int(o, "bytes_up"), 1000);
	assert_int_equal(get_int(o, "bytes_down"), 2000);
	assert_true(atof(get_str(o, "duration_s")) >= 65.0);
	assert_int_equal(get_int(json_object_array_get_idx(a, 2), "conn"), 9);
	json_object_put(a);
	assert_int_equal(stats(fx).saved_conns, 2);
	/* a clean stop: no file, no end record of ours */
	stop(fx);
	assert_int_equal(files(fx->dir, ""), 0);
	a = connections(fx);
	assert_int_equal(json_object_array_length(a), 0);
	json_object_put(a);
}

/* Nothing open: no file (an old one goes). */
static void
test_nothing_open(void **state)
{
	struct fx *fx = *state;

	start(fx);
	assert_int_equal(checkpoint_save(fx->cp), 0);
	assert_int_equal(files(fx->dir, ""), 0);
	add_rec(1, RELAY_SPLICE, 1, 1, 1);
	assert_int_equal(checkpoint_save(fx->cp), 0);
	assert_int_equal(files(fx->dir, CHECKPOINT_SUFFIX), 1);
	nrecs = 0;
	assert_int_equal(checkpoint_save(fx->cp), 0);
	assert_int_equal(files(fx->dir, ""), 0);
}

/* kill -9 with connections open: the next start closes them, once. */
static void
test_crash_recovery(void **state)
{
	struct fx *fx = *state;
	struct json_object *a, *o;

	start(fx);
	add_rec(3, RELAY_SPLICE, 4096, 1 << 20, 3600000);
	add_rec(4, RELAY_SPLICE, 10, 20, 5000);
	assert_int_equal(checkpoint_save(fx->cp), 0);
	crash(fx);
	assert_int_equal(files(fx->dir, CHECKPOINT_SUFFIX), 1);

	nrecs = 0;
	start(fx);
	assert_int_equal(stats(fx).recovered, 2);
	assert_int_equal(stats(fx).files_recovered, 1);
	assert_int_equal(files(fx->dir, ""), 0);	/* done with it */
	a = connections(fx);		/* on disk already: flushed */
	assert_int_equal(json_object_array_length(a), 2);
	o = json_object_array_get_idx(a, 0);
	assert_int_equal(get_int(o, "conn"), 3);
	assert_string_equal(get_str(o, "reason"), CHECKPOINT_REASON);
	assert_int_equal(get_int(o, "bytes_up"), 4096);
	assert_int_equal(get_int(o, "bytes_down"), 1 << 20);
	assert_true(atof(get_str(o, "duration_s")) >= 3600.0);
	assert_true(atof(get_str(o, "duration_s")) < 3610.0);
	assert_string_equal(get_str(o, "upstream"), "203.0.113.10:8883");
	assert_string_equal(get_str(json_object_array_get_idx(a, 1),
	    "charger"), "ZAP000004");
	json_object_put(a);

	/* a clean restart after that finds nothing more to do */
	stop(fx);
	start(fx);
	assert_int_equal(stats(fx).recovered, 0);
	a = connections(fx);
	assert_int_equal(json_object_array_length(a), 2);
	json_object_put(a);
}

/* A connection that ended after the last checkpoint has its own record. */
static void
test_closed_after_checkpoint(void **state)
{
	struct fx *fx = *state;
	struct json_object *a, *ev;

	start(fx);
	add_rec(5, RELAY_SPLICE, 1, 2, 1000);
	add_rec(6, RELAY_SPLICE, 3, 4, 1000);
	assert_int_equal(checkpoint_save(fx->cp), 0);
	/* #5 ends normally: relay_report.c's event, committed */
	recs[0].close = CLOSE_DONE;
	recs[0].end_mono_ms = now_mono_ms();
	recs[0].bytes_up = 100;
	events_emit(EVENT_CONNECTION, relay_record_event(&recs[0],
	    now_mono_ms()));
	assert_int_equal(fleetlog_flush(fx->fl), 0);
	crash(fx);

	nrecs = 0;
	start(fx);
	assert_int_equal(stats(fx).recovered, 1);
	assert_int_equal(stats(fx).already_closed, 1);
	a = connections(fx);
	assert_int_equal(json_object_array_length(a), 2);
	ev = json_object_array_get_idx(a, 0);
	assert_int_equal(get_int(ev, "conn"), 5);
	assert_string_equal(get_str(ev, "reason"), "done");
	assert_int_equal(get_int(ev, "bytes_up"), 100);
	ev = json_object_array_get_idx(a, 1);
	assert_int_equal(get_int(ev, "conn"), 6);
	assert_string_equal(get_str(ev, "reason"), CHECKPOINT_REASON);
	json_object_put(a);
}

/*
 * A crash in the middle of a recovery.  Before the log's flush: the next
 * start does the whole recovery again.  After the flush, before the file
 * is removed: the next start finds the records in the log and emits none.
 */
static void
test_crash_during_recovery(void **state)
{
	struct fx *fx = *state;
	struct json_object *a;
	char saved[128];

	start(fx);
	add_rec(11, RELAY_SPLICE, 1, 2, 1000);
	add_rec(12, RELAY_SPLICE, 3, 4, 1000);
	assert_int_equal(checkpoint_save(fx->cp), 0);
	crash(fx);
	snprintf(saved, sizeof(saved), "%s.saved", fx->dir);
	sh("cp -a '%s' '%s'", fx->dir, saved);
	nrecs = 0;

	/* killed before its flush: the same as never having started */
	start(fx);
	assert_int_equal(stats(fx).recovered, 2);
	stop(fx);
	sh("rm -rf '%s' && cp -a '%s' '%s'", fx->dir, saved, fx->dir);
	start(fx);
	assert_int_equal(stats(fx).recovered, 2);
	a = connections(fx);
	assert_int_equal(json_object_array_length(a), 2);
	json_object_put(a);

	/* killed after the flush, before the file was removed */
	sh("cp '%s'/%s* '%s'/", saved, CHECKPOINT_PREFIX, fx->dir);
	crash(fx);
	assert_int_equal(files(fx->dir, CHECKPOINT_SUFFIX), 1);
	start(fx);
	assert_int_equal(stats(fx).recovered, 0);
	assert_int_equal(stats(fx).already_closed, 2);
	assert_int_equal(files(fx->dir, ""), 0);
	a = connections(fx);
	assert_int_equal(json_object_array_length(a), 2);	/* not 4 */
	json_object_put(a);
	test_rmtree(saved);
}

/* Two unclean stops in a row, each with its own file: both recovered. */
static void
test_two_runs_left_files(void **state)
{
	struct fx *fx = *state;
	struct json_object *a;

	start(fx);
	add_rec(1, RELAY_SPLICE, 1, 1, 1000);
	assert_int_equal(checkpoint_save(fx->cp), 0);
	crash(fx);
	/* the next run's recovery cannot write (as if the disk were full):
	 * simulated by taking its file away from it and putting it back */
	sh("mkdir '%s.hold' && mv '%s'/%s* '%s.hold'/", fx->dir, fx->dir,
	    CHECKPOINT_PREFIX, fx->dir);
	usleep(2000);	/* another run: another file name */
	start(fx);
	nrecs = 0;
	add_rec(1, RELAY_SPLICE, 7, 7, 1000);	/* its own #1 */
	recs[0].start_wall_ms -= 5000;
	assert_int_equal(checkpoint_save(fx->cp), 0);
	crash(fx);
	sh("mv '%s.hold'/* '%s'/ && rmdir '%s.hold'", fx->dir, fx->dir,
	    fx->dir);
	assert_int_equal(files(fx->dir, CHECKPOINT_SUFFIX), 2);
	nrecs = 0;
	start(fx);
	assert_int_equal(stats(fx).recovered, 2);
	assert_int_equal(stats(fx).files_recovered, 2);
	assert_int_equal(files(fx->dir, ""), 0);
	a = connections(fx);
	assert_int_equal(json_object_array_length(a), 2);
	assert_int_equal(get_int(json_object_array_get_idx(a, 0),
	    "bytes_up") + get_int(json_object_array_get_idx(a, 1),
	    "bytes_up"), 8);
	json_object_put(a);
}

/* What is not a checkpoint is put aside; a cut-short write removed. */
static void
test_bad_files(void **state)
{
	struct fx *fx = *state;
	struct json_object *a;

	sh("echo 'not json' >'%s'/%s1-1%s", fx->dir, CHECKPOINT_PREFIX,
	    CHECKPOINT_SUFFIX);
	sh("echo '{\"checkpoint\":1,\"from' >'%s'/%s2-2%s.tmp", fx->dir,
	    CHECKPOINT_PREFIX, CHECKPOINT_SUFFIX);
	start(fx);
	assert_int_equal(stats(fx).recovered, 0);
	assert_int_equal(stats(fx).errors, 1);
	assert_int_equal(files(fx->dir, ".bad"), 1);
	assert_int_equal(files(fx->dir, ".tmp"), 0);
	assert_int_equal(files(fx->dir, CHECKPOINT_SUFFIX), 0);
	a = connections(fx);
	assert_int_equal(json_object_array_length(a), 0);
	json_object_put(a);
}

/* A reload to another log directory takes the file along. */
static void
test_reload_other_dir(void **state)
{
	struct fx *fx = *state;
	struct cfg_log l2 = fx->log;
	char err[256];

	start(fx);
	add_rec(1, RELAY_SPLICE, 1, 1, 1000);
	assert_int_equal(checkpoint_save(fx->cp), 0);
	assert_int_equal(files(fx->dir, CHECKPOINT_SUFFIX), 1);
	l2.dir = fx->dir2;
	assert_int_equal(fleetlog_configure(fx->fl, &l2, err, sizeof(err)), 0);
	assert_int_equal(checkpoint_prepare(fx->cp, &l2, err, sizeof(err)), 0);
	checkpoint_commit(fx->cp);
	assert_int_equal(files(fx->dir, ""), 0);
	assert_int_equal(files(fx->dir2, CHECKPOINT_SUFFIX), 1);
	/* and the log switched off: gone there too */
	assert_int_equal(fleetlog_configure(fx->fl, NULL, err, sizeof(err)), 0);
	assert_int_equal(checkpoint_prepare(fx->cp, NULL, err, sizeof(err)), 0);
	checkpoint_commit(fx->cp);
	assert_int_equal(files(fx->dir2, ""), 0);
	assert_int_equal(checkpoint_save(fx->cp), 0);
	assert_int_equal(files(fx->dir2, ""), 0);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_save_and_clean_stop),
		T(test_nothing_open),
		T(test_crash_recovery),
		T(test_closed_after_checkpoint),
		T(test_crash_during_recovery),
		T(test_two_runs_left_files),
		T(test_bad_files),
		T(test_reload_other_dir),
	};
#undef T

	signal(SIGPIPE, SIG_IGN);
	log_init("test", 1, LOG_LEVEL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
