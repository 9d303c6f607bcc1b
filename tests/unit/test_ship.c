/*
 * Tests for ship: batches read back from the log (bounded by the
 * committed seq, the batch size and bytes; bad lines skipped but passed
 * over; expired seqs counted), gzip that a collector can inflate, the
 * back-off with jitter, the cursor file, and the ship section of the
 * configuration with its errors.  The HTTPS path runs against a real
 * collector in tests/integration/log_ship.sh.
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

#include <zlib.h>

#include "daemon/config.h"
#include "fleetlog/export.h"
#include "fleetlog/ship.h"
#include "testutil.h"

static char dir[64];

static int
setup(void **state)
{
	return test_tmpdir(dir, sizeof(dir), "evgate-ship");
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

static void
put_events(const char *seg, unsigned from, unsigned to)
{
	char line[128];
	unsigned i;

	for (i = from; i <= to; i++) {
		snprintf(line, sizeof(line), "{\"seq\":%u,\"ts\":\"2026-11-25T"
		    "08:00:00Z\",\"type\":\"lease\",\"n\":%u}\n", i, i);
		put(seg, line);
	}
}

#define SEG1	"events-20261125T080000Z-000000000001.jsonl"
#define SEG2	"events-20261125T090000Z-000000000008.jsonl"

static void
test_fill_batch(void **state)
{
	struct export_reader *r;
	struct ship_batch b;
	char err[256];

	put_events(SEG1, 1, 5);
	put(SEG1, "torn garbage\n");
	put(SEG1, "{\"seq\":6,\"ts\":\"2026-11-25T08:00:00Z\",\"type\":\"x\",\"bro\n");
	put_events(SEG1, 7, 7);
	put_events(SEG2, 8, 10);
	memset(&b, 0, sizeof(b));
	assert_non_null(r = export_reader_open(dir, 2, 0, UINT64_MAX, 1, err,
	    sizeof(err)));
	/* after 2, at most 2 lines */
	assert_int_equal(ship_fill_batch(r, 2, 7, 2, 1 << 20, &b, err,
	    sizeof(err)), 2);
	assert_int_equal(b.first, 3);
	assert_int_equal(b.last, 4);
	assert_int_equal(b.lost, 0);
	assert_memory_equal(b.raw, "{\"seq\":3,", 9);
	assert_int_equal(b.raw[b.len - 1], '\n');
	ship_batch_reset(&b);
	/* up to the committed seq 7: the garbage and the half-written 6 are
	 * skipped, the cursor may pass over 6 */
	assert_int_equal(ship_fill_batch(r, 4, 7, 100, 1 << 20, &b, err,
	    sizeof(err)), 2);
	assert_int_equal(b.first, 5);
	assert_int_equal(b.last, 7);
	assert_int_equal(b.skipped, 2);
	assert_null(strstr(b.raw, "\"seq\":6"));
	ship_batch_reset(&b);
	/* nothing committed beyond 7 yet: nothing, and 8 is not lost */
	assert_int_equal(ship_fill_batch(r, 7, 7, 100, 1 << 20, &b, err,
	    sizeof(err)), 0);
	ship_batch_reset(&b);
	assert_int_equal(ship_fill_batch(r, 7, 10, 100, 1 << 20, &b, err,
	    sizeof(err)), 3);
	assert_int_equal(b.first, 8);
	assert_int_equal(b.last, 10);
	ship_batch_reset(&b);
	/* the log grows while we follow it */
	put_events(SEG2, 11, 11);
	assert_int_equal(ship_fill_batch(r, 10, 11, 100, 1 << 20, &b, err,
	    sizeof(err)), 1);
	assert_int_equal(b.first, 11);
	ship_batch_reset(&b);
	export_reader_free(r);

	/* a byte bound: at least one line, then stop before the bound */
	assert_non_null(r = export_reader_open(dir, 0, 0, UINT64_MAX, 1, err,
	    sizeof(err)));
	assert_int_equal(ship_fill_batch(r, 0, 11, 100, 100, &b, err,
	    sizeof(err)), 1);
	ship_batch_reset(&b);
	export_reader_free(r);
}

static void
test_fill_batch_expired(void **state)
{
	struct export_reader *r;
	struct ship_batch b;
	char err[256];

	/* segments up to seq 7 were deleted by retention before shipping */
	put_events(SEG2, 8, 9);
	memset(&b, 0, sizeof(b));
	assert_non_null(r = export_reader_open(dir, 3, 0, UINT64_MAX, 1, err,
	    sizeof(err)));
	assert_int_equal(ship_fill_batch(r, 3, 9, 100, 1 << 20, &b, err,
	    sizeof(err)), 2);
	assert_int_equal(b.lost, 4);	/* 4, 5, 6, 7 */
	assert_int_equal(b.first, 8);
	ship_batch_reset(&b);
	export_reader_free(r);
}

static void
test_gzip(void **state)
{
	static const char text[] = "{\"seq\":1,\"type\":\"x\"}\n"
	    "{\"seq\":2,\"type\":\"x\"}\n{\"seq\":3,\"type\":\"x\"}\n";
	uint8_t *gz, back[256];
	size_t gzlen;
	z_stream zs;

	assert_int_equal(ship_gzip(text, strlen(text), &gz, &gzlen), 0);
	/* a gzip member (RFC 1952), not a bare zlib stream */
	assert_true(gzlen > 18);
	assert_int_equal(gz[0], 0x1f);
	assert_int_equal(gz[1], 0x8b);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = gz;
	zs.avail_in = (uInt)gzlen;
	zs.next_out = back;
	zs.avail_out = sizeof(back);
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.total_out, strlen(text));
	assert_memory_equal(back, text, strlen(text));
	inflateEnd(&zs);
	free(gz);
}

static void
test_backoff(void **state)
{
	uint64_t d;
	unsigned n;

	assert_int_equal(ship_backoff_ms(1, 0), 500);
	assert_int_equal(ship_backoff_ms(1, 500), 1000);
	assert_int_equal(ship_backoff_ms(2, 0), 1000);
	assert_int_equal(ship_backoff_ms(3, 0), 2000);
	for (n = 1; n < 40; n++) {
		d = ship_backoff_ms(n, 0xffffffff);
		assert_true(d <= SHIP_BACKOFF_MAX_MS);
		assert_true(d >= SHIP_BACKOFF_MIN_MS / 2);
	}
	assert_int_equal(ship_backoff_ms(30, 0), SHIP_BACKOFF_MAX_MS / 2);
}

static void
test_cursor(void **state)
{
	char err[256], path[256];
	uint64_t seq = 99;

	assert_int_equal(ship_cursor_load(dir, &seq, err, sizeof(err)), 0);
	assert_int_equal(seq, 0);
	assert_int_equal(ship_cursor_save(dir, 42, err, sizeof(err)), 0);
	assert_int_equal(ship_cursor_load(dir, &seq, err, sizeof(err)), 0);
	assert_int_equal(seq, 42);
	assert_int_equal(ship_cursor_save(dir, 43, err, sizeof(err)), 0);
	assert_int_equal(ship_cursor_load(dir, &seq, err, sizeof(err)), 0);
	assert_int_equal(seq, 43);
	snprintf(path, sizeof(path), "%s/%s.tmp", dir, SHIP_CURSOR_FILE);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/%s", dir, SHIP_CURSOR_FILE);
	unlink(path);
	put(SHIP_CURSOR_FILE, "nonsense");
	assert_int_equal(ship_cursor_load(dir, &seq, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a cursor file"));
	assert_int_equal(ship_cursor_save("/nonexistent", 1, err, sizeof(err)),
	    -1);
}

static struct config *
load(const char *text, char *err, size_t errlen)
{
	return config_load_buffer("t.yaml", (const uint8_t *)text,
	    strlen(text), err, errlen);
}

static void
test_config(void **state)
{
	char err[512], text[1024];
	struct config *c;

	put("token", "  s3cr3t-token\n");
	put("ca.pem", "x");
	snprintf(text, sizeof(text), "log: {dir: /tmp/x}\n"
	    "ship:\n  url: https://collector.example:8443/ingest\n"
	    "  ca_file: %s/ca.pem\n  cert_file: %s/ca.pem\n"
	    "  bearer_token_file: %s/token\n  batch: 100\n  interval: 2s\n"
	    "  gzip: false\n  timeout: 5s\n", dir, dir, dir);
	c = load(text, err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_string_equal(c->ship->url,
	    "https://collector.example:8443/ingest");
	assert_string_equal(c->ship->bearer_token, "s3cr3t-token");
	assert_int_equal(c->ship->batch, 100);
	assert_int_equal(c->ship->interval_ms, 2000);
	assert_int_equal(c->ship->timeout_ms, 5000);
	assert_int_equal(c->ship->gzip, 0);
	assert_null(c->ship->key_file);
	config_free(c);

	c = load("log: {dir: /tmp/x}\nship: {url: \"https://c.example/\"}\n",
	    err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(c->ship->batch, 500);
	assert_int_equal(c->ship->interval_ms, 10000);
	assert_int_equal(c->ship->gzip, 1);
	assert_null(c->ship->bearer_token);
	config_free(c);

#define CONF_ERR(t, msg) do {						\
	assert_null(c = load((t), err, sizeof(err)));			\
	assert_string_equal(err, (msg));				\
} while (0)
	CONF_ERR("log: {}\nship: {url: \"http://c.example/\"}\n",
	    "t.yaml:2:13: ship.url: the collector URL must be "
	    "https://host[:port]/path (events are not sent in clear)");
	CONF_ERR("ship: {url: \"https://c.example/\"}\n",
	    "t.yaml:1:7: ship: sends the fleet log: it needs a log section");
	CONF_ERR("log: {}\nship: {url: \"https://c.example/\", batch: 0}\n",
	    "t.yaml:2:42: ship.batch: 0 is out of range (1-10000)");
	CONF_ERR("log: {}\nship: {url: \"https://c.example/\", ca_file: "
	    "/nonexistent/ca.pem}\n",
	    "t.yaml:2:44: ship.ca_file: cannot read /nonexistent/ca.pem: "
	    "No such file or directory");
	snprintf(text, sizeof(text), "log: {}\nship: {url: \"https://c/\", "
	    "key_file: %s/ca.pem}\n", dir);
	CONF_ERR(text, "t.yaml:2:7: ship: key_file needs cert_file");
	put("badtoken", "two words\n");
	snprintf(text, sizeof(text), "log: {}\nship: {url: \"https://c/\", "
	    "bearer_token_file: %s/badtoken}\n", dir);
	assert_null(c = load(text, err, sizeof(err)));
	assert_non_null(strstr(err, "the token must be printable ASCII "
	    "without spaces"));
	CONF_ERR("log: {}\nship: {url: \"https://c/\", compress: yes}\n",
	    "t.yaml:2:27: ship: unknown key \"compress\"");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fill_batch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fill_batch_expired, setup,
		    teardown),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test_setup_teardown(test_cursor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
