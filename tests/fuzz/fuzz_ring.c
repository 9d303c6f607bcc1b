/*
 * libFuzzer target: the durable ring's record parser and its scan of a
 * region after a power cut (core/ring.c).  The input is a region's bytes
 * as a flash or a state file might hold them after anything: torn
 * appends, stale records, bit rot.  Whatever the bytes, opening the ring
 * must give a consistent backlog that reads back and takes a new record;
 * once opened (and repaired: an out-of-place record is made dead), it
 * opens again the same.
 *
 * And after that, the backlog changes only by what the ring does: a
 * record put is there after a reopen, a record killed is gone, and
 * nothing else appears.  (A write over the start of an old record would
 * expose its inside to the scan, and a state byte flipped inside a torn
 * candidate could complete its CRC -- the fuzzer's comparison tracing
 * finds such inputs at will; ring_put and ring_open erase what could.)
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ring.h"
#include "hal/fake/hal_fake.h"
#include "hal/hal.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define REGION	HAL_STORE_RECORDS

/* Every record the parser finds at an aligned offset is well formed. */
static void
parse_all(const uint8_t *data, size_t size)
{
	static uint8_t again[RING_HDR + RING_REC_MAX + RING_ALIGN];
	struct ring_rec r;
	size_t off, total, n;
	int live;

	for (off = 0; off + RING_HDR <= size; off += RING_ALIGN) {
		if ((total = ring_parse(data + off, size - off, &r, &live)) ==
		    0)
			continue;
		assert(r.len <= RING_REC_MAX);
		assert(total >= RING_HDR + (size_t)r.len);
		assert(total % RING_ALIGN == 0);
		assert(total < RING_HDR + (size_t)r.len + RING_ALIGN);
		/* What ring_put would write for it is the same record. */
		n = ring_encode(again, sizeof(again), r.seq, r.cls, r.key,
		    r.wall, data + off + RING_HDR, r.len);
		assert(n == total);
		assert(memcmp(again, data + off, 11) == 0);
		assert(memcmp(again + 12, data + off + 12,
		    RING_HDR - 12 + r.len) == 0);
	}
}

static void
same_backlog(struct ring *a, struct ring *b)
{
	size_t i;

	assert(ring_count(a) == ring_count(b));
	for (i = 0; i < ring_count(a); i++) {
		assert(ring_at(a, i)->seq == ring_at(b, i)->seq);
		assert(ring_at(a, i)->len == ring_at(b, i)->len);
		assert(ring_at(a, i)->key == ring_at(b, i)->key);
	}
}

static struct ring *
reopen(void)
{
	struct ring *h;

	if ((h = ring_open(REGION, RING_MIN_SIZE)) == NULL)
		abort();
	return h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[RING_REC_MAX + 1];
	struct ring *g, *h;
	struct ring_rec *r;
	uint32_t seq;
	size_t i, region = RING_MIN_SIZE;

	parse_all(data, size);

	/* The input as the start of a region (the rest erased: 0xff). */
	fake_hal_reset();
	if (hal_store_format(REGION, region) == -1 ||
	    hal_store_write(REGION, 0, data, size < region ? size : region) ==
	    -1)
		abort();
	if ((g = ring_open(REGION, region)) == NULL)
		abort();
	assert(ring_size(g) == region);
	assert(ring_used(g) <= region);
	for (i = 0; i < ring_count(g); i++) {
		r = ring_at(g, i);
		assert(i == 0 || ring_at(g, i - 1)->seq < r->seq);
		assert(r->len <= RING_REC_MAX);
		assert((size_t)r->off + RING_HDR + r->len <= region);
		assert(ring_read(g, r, buf, sizeof(buf)) == 0);
		assert(ring_find(g, r->seq) == r);
		assert(ring_has_key(g, r->key) || r->key == 0);
	}

	/* Opened (and repaired) once, it opens again the same. */
	ring_free(g);
	g = reopen();
	h = reopen();
	same_backlog(g, h);
	ring_free(h);

	/* A new record, when it fits, is there after a reopen. */
	if (ring_fits(g, 40) &&
	    ring_put(g, 1, 0x5eed, 1, "a record after whatever was there",
	    33, &seq) == 0) {
		assert(ring_at(g, ring_count(g) - 1)->seq == seq);
		h = reopen();
		same_backlog(g, h);
		assert(ring_find(h, seq) != NULL);
		assert(ring_find(h, seq)->key == 0x5eed);
		assert(ring_has_key(h, 0x5eed));
		ring_free(h);
	}
	/* Killing the oldest survives a reopen. */
	if (ring_count(g) > 0) {
		seq = ring_at(g, 0)->seq;
		assert(ring_kill(g, seq) == 0);
		assert(ring_find(g, seq) == NULL);
		h = reopen();
		same_backlog(g, h);
		assert(ring_find(h, seq) == NULL);
		ring_free(h);
	}
	ring_free(g);
	return 0;
}
