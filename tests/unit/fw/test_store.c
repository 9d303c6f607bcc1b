/*
 * test_store: the durable rings and the store-and-forward over them, on
 * the fake HAL's store regions: append, read, acknowledge; reopen after a
 * restart; wrap around the end of the region; a full ring; a torn record
 * at the tail (a power cut in the middle of an append); a region resized
 * only when empty;
 * and the store's classes -- records never pushed out by telemetry,
 * periodic messages collapsed and dropped oldest first, the backlog
 * oldest first, records first, and what the link had not acknowledged
 * sent again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ring.h"
#include "core/store.h"
#include "hal/fake/hal_fake.h"

#define REGION	HAL_STORE_RECORDS

static int
setup(void **state)
{
	fake_hal_reset();
	return 0;
}

static void
msg_of(char *buf, size_t cap, unsigned i, size_t len)
{
	size_t n = (size_t)snprintf(buf, cap, "message %u ", i);

	while (n < len && n + 1 < cap) {
		buf[n] = (char)('a' + (i + n) % 26);
		n++;
	}
	buf[n] = '\0';
}

static void
test_put_read_kill(void **state)
{
	struct ring *g = ring_open(REGION, 4096);
	char buf[RING_REC_MAX + 1];
	uint32_t seq[3];
	int i;

	assert_non_null(g);
	assert_int_equal(ring_count(g), 0);
	for (i = 0; i < 3; i++) {
		msg_of(buf, sizeof(buf), (unsigned)i, 40);
		assert_int_equal(ring_put(g, 1, 7, 1000 + i, buf, strlen(buf),
		    &seq[i]), 0);
	}
	assert_int_equal(seq[1], seq[0] + 1);
	assert_int_equal(ring_count(g), 3);
	assert_int_equal(ring_read(g, ring_at(g, 1), buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "message 1 "));
	assert_int_equal(ring_at(g, 2)->wall, 1002);
	assert_int_equal(ring_at(g, 2)->key, 7);
	assert_int_equal(ring_kill(g, seq[1]), 0);
	assert_int_equal(ring_kill(g, seq[1]), -1);
	assert_int_equal(ring_count(g), 2);
	assert_int_equal(ring_at(g, 1)->seq, seq[2]);
	/* Too big for a record. */
	memset(buf, 'x', RING_REC_MAX);
	assert_int_equal(ring_put(g, 1, 0, 0, buf, RING_REC_MAX + 1, &seq[0]),
	    -1);
	ring_free(g);
}

/* After a restart: the same live records, in order; sequence goes on. */
static void
test_reopen(void **state)
{
	struct ring *g = ring_open(REGION, 8192);
	char buf[RING_REC_MAX + 1];
	uint32_t seq[5], s;
	int i;

	for (i = 0; i < 5; i++) {
		msg_of(buf, sizeof(buf), (unsigned)i, 100);
		assert_int_equal(ring_put(g, 0, (uint32_t)i + 100, i, buf,
		    strlen(buf), &seq[i]), 0);
	}
	ring_kill(g, seq[0]);
	ring_kill(g, seq[3]);
	ring_free(g);
	g = ring_open(REGION, 8192);
	assert_int_equal(ring_count(g), 3);
	assert_int_equal(ring_at(g, 0)->seq, seq[1]);
	assert_int_equal(ring_at(g, 1)->seq, seq[2]);
	assert_int_equal(ring_at(g, 2)->seq, seq[4]);
	assert_int_equal(ring_read(g, ring_at(g, 2), buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "message 4 "));
	/* The dead ones' keys are still known (exactly-once checks). */
	assert_true(ring_has_key(g, 100));
	assert_true(ring_has_key(g, 103));
	assert_true(ring_has_key(g, 104));
	assert_false(ring_has_key(g, 999));
	assert_int_equal(ring_put(g, 0, 0, 9, "new", 3, &s), 0);
	assert_int_equal(s, seq[4] + 1);
	ring_free(g);
}

/*
 * Many laps around a small region, acknowledging as a link would (the
 * oldest first, a few behind), reopening now and then: nothing lost,
 * nothing out of order.
 */
static void
test_wrap(void **state)
{
	struct ring *g = ring_open(REGION, RING_MIN_SIZE);
	char buf[RING_REC_MAX + 1], want[RING_REC_MAX + 1];
	uint32_t seq, next_read = 0;
	unsigned i, written = 0, checked = 0;

	for (i = 0; i < 200; i++) {
		msg_of(buf, sizeof(buf), i, 150 + (i * 37) % 300);
		while (!ring_fits(g, strlen(buf))) {
			/* The link acknowledges the oldest. */
			assert_true(ring_count(g) > 0);
			msg_of(want, sizeof(want), next_read,
			    150 + (next_read * 37) % 300);
			assert_int_equal(ring_read(g, ring_at(g, 0), buf,
			    sizeof(buf)), 0);
			assert_string_equal(buf, want);
			assert_int_equal(ring_kill(g, ring_at(g, 0)->seq), 0);
			next_read++;
			checked++;
			msg_of(buf, sizeof(buf), i, 150 + (i * 37) % 300);
		}
		assert_int_equal(ring_put(g, 1, 0, i, buf, strlen(buf), &seq),
		    0);
		written++;
		if (i % 23 == 0) {
			ring_free(g);
			g = ring_open(REGION, RING_MIN_SIZE);
			assert_int_equal(ring_count(g), written - checked);
		}
	}
	assert_true(checked > 150);
	assert_true(ring_used(g) <= RING_MIN_SIZE);
	ring_free(g);
}

/* Full: nothing more fits until the oldest goes; then it does. */
static void
test_full(void **state)
{
	struct ring *g = ring_open(REGION, RING_MIN_SIZE);
	char buf[600];
	uint32_t seq;
	unsigned n = 0;

	memset(buf, 'r', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	while (ring_put(g, 0, 0, n, buf, strlen(buf), &seq) == 0)
		n++;
	assert_int_equal(n, RING_MIN_SIZE / (RING_HDR + 600 + 4));
	assert_false(ring_fits(g, strlen(buf)));
	assert_true(ring_fits(g, 8));	/* the end's remainder */
	/* A dead record in the middle frees nothing yet. */
	assert_int_equal(ring_kill(g, ring_at(g, 1)->seq), 0);
	assert_int_equal(ring_put(g, 0, 0, 0, buf, strlen(buf), &seq), -1);
	assert_int_equal(ring_kill(g, ring_at(g, 0)->seq), 0);
	assert_int_equal(ring_put(g, 0, 0, 0, buf, strlen(buf), &seq), 0);
	assert_int_equal(ring_put(g, 0, 0, 0, buf, strlen(buf), &seq), 0);
	ring_free(g);
}

/*
 * A power cut in the middle of an append: the torn record fails its CRC
 * and is not a record; the ones before it are whole; its space is used
 * again.  A torn state byte reads as dead or live, never as garbage.
 */
static void
test_torn_tail(void **state)
{
	struct ring *g = ring_open(REGION, 8192);
	uint32_t seq[3], s;
	uint8_t *mem;
	size_t len;
	int i;

	for (i = 0; i < 3; i++)
		assert_int_equal(ring_put(g, 0, 0, i, "payload-of-a-record",
		    19, &seq[i]), 0);
	mem = fake_store(REGION, &len);
	mem[ring_at(g, 2)->off + RING_HDR + 5] ^= 0x40;
	ring_free(g);
	g = ring_open(REGION, 8192);
	assert_int_equal(ring_count(g), 2);
	assert_int_equal(ring_stats(g)->torn, 1);
	assert_int_equal(ring_at(g, 1)->seq, seq[1]);
	/* The head is after the last whole record: the torn one's place. */
	assert_int_equal(ring_put(g, 0, 0, 3, "again", 5, &s), 0);
	assert_int_equal(ring_at(g, 2)->off, 2 * 48);
	assert_int_equal(s, seq[1] + 1);
	/* A header torn in its length: not a record either. */
	mem[ring_at(g, 0)->off + 8] = 0xff;
	/* A state byte half written: not live. */
	mem[ring_at(g, 1)->off + 11] = 0x7f;
	ring_free(g);
	g = ring_open(REGION, 8192);
	assert_int_equal(ring_count(g), 1);
	assert_int_equal(ring_at(g, 0)->seq, s);
	ring_free(g);
}

/*
 * A region is resized only when it is empty: a backlog keeps the size it
 * was written in (moving it would hold it in RAM alone while the region
 * is formatted, and give it new message ids), whether the ring is to grow
 * or shrink; the first open with nothing waiting takes the new size.
 */
static void
test_resize(void **state)
{
	struct ring *g = ring_open(REGION, 8192);
	char buf[500];
	uint32_t seq[12];
	int i;

	memset(buf, 'z', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	for (i = 0; i < 12; i++) {
		buf[0] = (char)('A' + i);
		assert_int_equal(ring_put(g, 0, 0, i, buf, strlen(buf),
		    &seq[i]), 0);
	}
	ring_free(g);
	/* Bigger, and smaller: the backlog stays whole, with its ids. */
	g = ring_open(REGION, 16384);
	assert_int_equal(ring_count(g), 12);
	assert_int_equal(ring_stats(g)->resize_waiting, 1);
	assert_int_equal(hal_store_size(REGION), 8192);
	ring_free(g);
	g = ring_open(REGION, RING_MIN_SIZE);
	assert_int_equal(ring_count(g), 12);
	assert_int_equal(ring_at(g, 0)->seq, seq[0]);
	assert_int_equal(ring_at(g, 11)->seq, seq[11]);
	assert_int_equal(hal_store_size(REGION), 8192);
	/* It goes on working at its old size. */
	for (i = 0; i < 12; i++)
		assert_int_equal(ring_kill(g, seq[i]), 0);
	assert_int_equal(ring_put(g, 0, 0, 99, "x", 1, &seq[0]), 0);
	assert_int_equal(ring_kill(g, seq[0]), 0);
	ring_free(g);
	/* Sent: the next open takes the configured size. */
	g = ring_open(REGION, 16384);
	assert_int_equal(ring_count(g), 0);
	assert_int_equal(ring_stats(g)->resize_waiting, 0);
	assert_int_equal(hal_store_size(REGION), 16384);
	assert_int_equal(ring_put(g, 0, 0, 1, buf, strlen(buf), &seq[0]), 0);
	ring_free(g);
	g = ring_open(REGION, 16384);
	assert_int_equal(ring_count(g), 1);
	ring_free(g);
}

/*
 * Bytes ring_put never wrote.  A live record repeating a sequence number
 * (here one ahead of the head, where the next records go) is made dead at
 * open, so that it is neither overwritten while thought live nor comes
 * back later.  An older record in the free space cannot be told from a
 * backlog that wrapped: it is kept, as the oldest.  Either way the ring
 * stays consistent: what is written over the free space reads back.
 */
static void
test_misplaced(void **state)
{
	struct ring *g = ring_open(REGION, 4096);
	uint8_t rec[RING_HDR + 64], *img;
	char buf[RING_REC_MAX + 1];
	uint32_t seq[3], s;
	size_t n, len;
	int i;

	for (i = 0; i < 3; i++) {
		msg_of(buf, sizeof(buf), (unsigned)i, 40);
		assert_int_equal(ring_put(g, 1, 0, i, buf, strlen(buf),
		    &seq[i]), 0);
	}
	ring_free(g);
	img = fake_store(REGION, &len);
	/* An old live record (seq 1 again) where the next ones will go. */
	n = ring_encode(rec, sizeof(rec), seq[0], 1, 0, 0, "stale", 5);
	memcpy(img + 2048, rec, n);
	/* And a seq-0 one, older than everything, at the end. */
	n = ring_encode(rec, sizeof(rec), 0, 1, 0, 0, "older", 5);
	memcpy(img + 3072, rec, n);
	g = ring_open(REGION, 4096);
	assert_int_equal(ring_stats(g)->misplaced, 1);
	assert_int_equal(ring_count(g), 4);
	assert_int_equal(ring_at(g, 0)->seq, 0);
	assert_int_equal(ring_at(g, 0)->off, 3072);
	assert_int_equal(ring_at(g, 1)->seq, seq[0]);
	assert_int_equal(ring_at(g, 1)->off, 0);
	assert_int_equal(ring_at(g, 3)->seq, seq[2]);
	ring_free(g);
	/* Dead on the medium: the next open finds nothing to drop. */
	g = ring_open(REGION, 4096);
	assert_int_equal(ring_stats(g)->misplaced, 0);
	assert_int_equal(ring_count(g), 4);
	/* Fill it: the records written over the stale ones read back. */
	for (i = 0; ring_fits(g, 100); i++) {
		msg_of(buf, sizeof(buf), (unsigned)i + 10, 100);
		assert_int_equal(ring_put(g, 1, 0, i, buf, strlen(buf), &s),
		    0);
	}
	ring_free(g);
	g = ring_open(REGION, 4096);
	assert_int_equal(ring_stats(g)->misplaced, 0);
	assert_int_equal(ring_count(g), 4 + (size_t)i);
	assert_int_equal(ring_read(g, ring_at(g, ring_count(g) - 1), buf,
	    sizeof(buf)), 0);
	assert_non_null(strstr(buf, "message "));
	ring_free(g);
}

/*
 * A record inside another one's payload (text the firmware stored that
 * happens to hold, or was made to hold, a record's bytes) is never seen:
 * the scan steps over the outer record.  When a new record is written
 * over the start of the old one, the scan would walk into its inside;
 * ring_put erases what it would expose.
 */
static void
test_hidden_record(void **state)
{
	struct ring *g = ring_open(REGION, 4096);
	uint8_t outer[RING_HDR + 200 + RING_ALIGN], inner[RING_HDR + 64];
	uint8_t pay[200], *img;
	uint32_t s;
	size_t n, len;

	ring_free(g);
	img = fake_store(REGION, &len);
	/* The newest record (dead) ends at 1024, where the next one goes. */
	n = ring_encode(outer, sizeof(outer), 6, 1, 0, 0,
	    "the newest, acknowledged", 20);
	assert_int_equal(n, 48);
	memcpy(img + 976, outer, n);
	img[976 + 11] = 0;
	/* At 1024 an older dead record; 32 bytes in, a "record" in its text. */
	memset(pay, 'x', sizeof(pay));
	n = ring_encode(inner, sizeof(inner), 1000, 1, 0x723, 0,
	    "forged billing record", 21);
	assert_int_equal(n, 56);
	memcpy(pay + 4, inner, n);
	n = ring_encode(outer, sizeof(outer), 5, 1, 0, 0, pay, sizeof(pay));
	assert_int_equal(n, 232);
	memcpy(img + 1024, outer, n);
	img[1024 + 11] = 0;

	g = ring_open(REGION, 4096);
	assert_int_equal(ring_count(g), 0);
	assert_int_equal(ring_stats(g)->torn, 0);
	/* 4 bytes: 32 in all, the new record ends where the inner starts. */
	assert_int_equal(ring_put(g, 1, 0, 0, "tiny", 4, &s), 0);
	assert_int_equal(s, 7);
	assert_int_equal(ring_at(g, 0)->off, 1024);
	ring_free(g);
	g = ring_open(REGION, 4096);
	assert_int_equal(ring_count(g), 1);
	assert_int_equal(ring_at(g, 0)->seq, 7);
	assert_null(ring_find(g, 1000));
	assert_false(ring_has_key(g, 0x723));
	assert_int_equal(ring_put(g, 1, 0, 0, "next", 4, &s), 0);
	assert_int_equal(s, 8);		/* not 1001 */
	ring_free(g);
}

/*
 * Bytes that are not records (a torn candidate: a power cut, bit rot)
 * are erased at open, all but the live records (also a dead one between
 * them): nothing that was walked over as garbage can turn into a record
 * later.  The newest record stays (the sequence goes on from it).
 */
static void
test_foreign_erased(void **state)
{
	struct ring *g = ring_open(REGION, 4096);
	uint32_t seq[3], s;
	uint8_t *mem;
	size_t len, i, end;
	int k;

	for (k = 0; k < 3; k++)
		assert_int_equal(ring_put(g, 0, 0, k, "payload-of-a-record",
		    19, &seq[k]), 0);
	assert_int_equal(ring_put(g, 0, 0, 3, "payload-of-a-record", 19, &s),
	    0);
	assert_int_equal(ring_kill(g, seq[0]), 0);
	assert_int_equal(ring_kill(g, seq[2]), 0);	/* between live ones */
	mem = fake_store(REGION, &len);
	/* A torn candidate far ahead of the head. */
	memcpy(mem + 2048, "EVR1\0\0\0\x09", 8);
	end = ring_at(g, 0)->off;	/* the oldest live: seq[1] */
	ring_free(g);
	g = ring_open(REGION, 4096);
	assert_int_equal(ring_stats(g)->torn, 1);
	assert_int_equal(ring_count(g), 2);
	/* Everything but the live records (at 48 and 144) is erased. */
	for (i = 0; i < len; i++)
		if ((i < 48 || (i >= 96 && i < 144) || i >= 192) &&
		    mem[i] != 0xff)
			break;
	assert_int_equal(i, len);
	assert_int_equal(end, 48);
	ring_free(g);
	g = ring_open(REGION, 4096);
	assert_int_equal(ring_stats(g)->torn, 0);
	assert_int_equal(ring_count(g), 2);
	assert_int_equal(ring_put(g, 0, 0, 3, "again", 5, &s), 0);
	assert_int_equal(s, seq[2] + 2);
	ring_free(g);
}

static void
test_parse_edges(void **state)
{
	uint8_t b[RING_HDR + 64];
	struct ring_rec r;
	size_t n;
	int live;

	n = ring_encode(b, sizeof(b), 42, 1, 9, -5, "hello", 5);
	assert_int_equal(n, 40);
	assert_int_equal(ring_parse(b, n, &r, &live), 40);
	assert_int_equal(r.seq, 42);
	assert_int_equal(r.wall, -5);
	assert_true(live);
	assert_int_equal(ring_parse(b, RING_HDR + 4, &r, &live), 0);
	assert_int_equal(ring_parse(b, 10, &r, &live), 0);
	b[0] = 'X';
	assert_int_equal(ring_parse(b, n, &r, &live), 0);
	assert_int_equal(ring_encode(b, 30, 1, 0, 0, 0, "hello", 5), 0);
	/* A known check value: CRC-32("123456789") = 0xcbf43926. */
	assert_int_equal(ring_crc32(0, "123456789", 9), 0xcbf43926U);
}

/* --- the store ------------------------------------------------------ */

static struct store *
store(size_t rec, size_t per)
{
	struct store_cfg cfg = { rec, per, STORE_DEFAULT_RATE };
	struct store *s = store_open(&cfg);

	assert_non_null(s);
	return s;
}

/* The backlog: records first, each class oldest first. */
static void
test_store_order(void **state)
{
	struct store *s = store(8192, 8192);
	const struct store_msg *m;
	uint32_t a, b, c;
	char mid[STORE_MID_MAX];

	a = store_put(s, STORE_PERIODIC, 1, 100, "{\"p\":1}");
	b = store_put(s, STORE_RECORD, 0, 200, "{\"r\":1}");
	c = store_put(s, STORE_RECORD, 0, 300, "{\"r\":2}");
	assert_true(a != 0 && b != 0 && c != 0);
	m = store_next(s);
	assert_int_equal(m->id, b);
	assert_string_equal(m->json, "{\"r\":1}");
	assert_int_equal(m->wall, 200);
	store_handed(s, b);
	assert_int_equal(store_next(s)->id, c);
	store_handed(s, c);
	assert_int_equal(store_next(s)->id, a);
	store_handed(s, a);
	assert_null(store_next(s));
	assert_int_equal(store_unsent(s), 0);
	assert_int_equal(store_pending(s, -1), 3);
	/* The link goes down before the PUBACKs: all of them again. */
	store_acked(s, c);
	store_link_down(s);
	assert_int_equal(store_unsent(s), 2);
	assert_int_equal(store_next(s)->id, b);
	store_mid(b, 200, mid, sizeof(mid));
	assert_string_equal(mid, "r1-200");
	store_mid(a, 100, mid, sizeof(mid));
	assert_string_equal(mid, "t1-100");
	store_free(s);
	/* A restart: what was not acknowledged is there, same ids. */
	s = store(8192, 8192);
	assert_int_equal(store_pending(s, -1), 2);
	assert_int_equal(store_next(s)->id, b);
	assert_true(store_has_record(s, 0) == 0);
	store_free(s);
}

/*
 * Periodic: a newer one collapses the older ones with the same key not
 * handed on yet; a full ring drops its oldest.  Records are never pushed
 * out by telemetry, and when their own ring is full they are counted.
 */
static void
test_store_priorities(void **state)
{
	struct store *s = store(RING_MIN_SIZE, RING_MIN_SIZE);
	char big[700];
	uint32_t first, rec[8], id;
	unsigned i, nrec = 0;

	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	first = store_put(s, STORE_PERIODIC, 5, 1, "{\"pulse\":1}");
	store_handed(s, first);		/* on the wire: not collapsed */
	store_put(s, STORE_PERIODIC, 5, 2, "{\"pulse\":2}");
	store_put(s, STORE_PERIODIC, 5, 3, "{\"pulse\":3}");
	assert_int_equal(store_stats(s)->collapsed, 1);
	assert_int_equal(store_pending(s, STORE_PERIODIC), 2);
	/* Records fill their ring ... */
	while ((id = store_put(s, STORE_RECORD, 1000 + nrec, nrec, big)) != 0)
		if (nrec < 8)
			rec[nrec++] = id;
		else
			nrec++;
	assert_int_equal(store_stats(s)->unstored, 1);
	/* ... and telemetry cannot touch them: it drops its own oldest. */
	for (i = 0; i < 20; i++)
		assert_int_not_equal(store_put(s, STORE_PERIODIC, 100 + i, i,
		    big), 0);
	assert_true(store_stats(s)->dropped[STORE_PERIODIC] > 0);
	assert_int_equal(store_pending(s, STORE_RECORD), nrec);
	assert_int_equal(store_next(s)->id, rec[0]);
	assert_true(store_has_record(s, 1000));
	assert_false(store_has_record(s, 999));
	/* Acknowledged and gone, its key is still known (once, not twice). */
	store_acked(s, rec[0]);
	assert_true(store_has_record(s, 1000));
	store_free(s);
}

/*
 * Storage that fails every read and every write: store_next says there is
 * nothing to send (it used to retry the same unreadable, undroppable
 * record for ever), and once the storage works again, nothing was lost.
 */
static void
test_store_failing(void **state)
{
	struct store *s = store(8192, 8192);
	uint32_t a, b;

	a = store_put(s, STORE_RECORD, 0, 200, "{\"r\":1}");
	b = store_put(s, STORE_RECORD, 0, 300, "{\"r\":2}");
	assert_true(a != 0 && b != 0);
	fake_store_fail(1, 1);
	assert_null(store_next(s));
	assert_int_equal(store_pending(s, -1), 2);
	fake_store_fail(0, 0);
	assert_int_equal(store_next(s)->id, a);
	store_handed(s, a);
	assert_int_equal(store_next(s)->id, b);
	store_free(s);
	(void)state;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_put_read_kill, setup),
		cmocka_unit_test_setup(test_reopen, setup),
		cmocka_unit_test_setup(test_wrap, setup),
		cmocka_unit_test_setup(test_full, setup),
		cmocka_unit_test_setup(test_torn_tail, setup),
		cmocka_unit_test_setup(test_resize, setup),
		cmocka_unit_test_setup(test_misplaced, setup),
		cmocka_unit_test_setup(test_hidden_record, setup),
		cmocka_unit_test_setup(test_foreign_erased, setup),
		cmocka_unit_test_setup(test_parse_edges, setup),
		cmocka_unit_test_setup(test_store_order, setup),
		cmocka_unit_test_setup(test_store_priorities, setup),
		cmocka_unit_test_setup(test_store_failing, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
