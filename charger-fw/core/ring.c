/*
 * ring: see ring.h.  The index of live records is an array in sequence
 * order (the oldest first); the region is touched only through the HAL.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/fwlog.h"
#include "core/bytes.h"
#include "core/ring.h"
#include "hal/hal.h"

#define MAGIC0		'E'
#define MAGIC1		'V'
#define MAGIC2		'R'
#define MAGIC3		'1'
#define OFF_STATE	11
#define STATE_LIVE	0xff
#define STATE_DEAD	0x00
#define CHUNK		4096

struct ring {
	int		 region;
	size_t		 size;
	size_t		 head;		/* where the next record goes */
	uint32_t	 next_seq;
	struct ring_rec	*live;
	size_t		 nlive;
	size_t		 cap;
	uint32_t	 deadkeys[RING_DEADKEYS];
	size_t		 ndead;		/* ring buffer of the last ones */
	uint8_t		*buf;		/* one record: RING_HDR + RING_REC_MAX */
	size_t		 newest;	/* where the newest record (live or
					   dead) starts: ends at head */
	int		 any;		/* the scan found a record */
	struct ring_stats stats;
};

static uint32_t	crc_table[256];

uint32_t
ring_crc32(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t c;
	size_t i;
	int k;

	if (crc_table[1] == 0)
		for (i = 0; i < 256; i++) {
			for (c = (uint32_t)i, k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320U ^ (c >> 1) : c >> 1;
			crc_table[i] = c;
		}
	crc = ~crc;
	for (i = 0; i < len; i++)
		crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static size_t
total_of(size_t len)
{
	return (RING_HDR + len + RING_ALIGN - 1) / RING_ALIGN * RING_ALIGN;
}

/* The CRC of a record: header without the state byte, then payload. */
static uint32_t
rec_crc(const uint8_t *b, size_t len)
{
	uint32_t c = ring_crc32(0, b, OFF_STATE);

	c = ring_crc32(c, b + OFF_STATE + 1, 24 - OFF_STATE - 1);
	return ring_crc32(c, b + RING_HDR, len);
}

size_t
ring_encode(uint8_t *out, size_t cap, uint32_t seq, uint8_t cls,
    uint32_t key, int64_t wall, const void *data, size_t len)
{
	size_t total = total_of(len);

	if (len > RING_REC_MAX || total > cap)
		return 0;
	memset(out, 0, total);
	out[0] = MAGIC0;
	out[1] = MAGIC1;
	out[2] = MAGIC2;
	out[3] = MAGIC3;
	put32(out + 4, seq);
	out[8] = (uint8_t)(len >> 8);
	out[9] = (uint8_t)len;
	out[10] = cls;
	out[OFF_STATE] = STATE_LIVE;
	put32(out + 12, key);
	put32(out + 16, (uint32_t)((uint64_t)wall >> 32));
	put32(out + 20, (uint32_t)wall);
	memcpy(out + RING_HDR, data, len);
	put32(out + 24, rec_crc(out, len));
	return total;
}

size_t
ring_parse(const uint8_t *b, size_t len, struct ring_rec *r, int *live)
{
	size_t n;

	memset(r, 0, sizeof(*r));
	if (len < RING_HDR || b[0] != MAGIC0 || b[1] != MAGIC1 ||
	    b[2] != MAGIC2 || b[3] != MAGIC3)
		return 0;
	n = (size_t)b[8] << 8 | b[9];
	if (n > RING_REC_MAX || RING_HDR + n > len)
		return 0;
	if (get32(b + 24) != rec_crc(b, n))
		return 0;
	r->seq = get32(b + 4);
	r->len = (uint16_t)n;
	r->cls = b[10];
	r->key = get32(b + 12);
	r->wall = (int64_t)((uint64_t)get32(b + 16) << 32 | get32(b + 20));
	*live = b[OFF_STATE] == STATE_LIVE;
	return total_of(n);
}

/* ------------------------------------------------------------------ */

static int
index_add(struct ring *g, const struct ring_rec *r)
{
	struct ring_rec *p;
	size_t i;

	if (g->nlive == g->cap) {
		p = realloc(g->live, (g->cap ? g->cap * 2 : 16) * sizeof(*p));
		if (p == NULL)
			return -1;
		g->live = p;
		g->cap = g->cap ? g->cap * 2 : 16;
	}
	/* Sequence order; appends are the common case. */
	for (i = g->nlive; i > 0 && g->live[i - 1].seq > r->seq; i--)
		;
	memmove(&g->live[i + 1], &g->live[i],
	    (g->nlive - i) * sizeof(*g->live));
	g->live[i] = *r;
	g->nlive++;
	return 0;
}

static void
remember_dead(struct ring *g, uint32_t key)
{
	if (key != 0)
		g->deadkeys[g->ndead++ % RING_DEADKEYS] = key;
}

/* Where a record of total bytes goes now, or -1 if it does not fit. */
static long
place(const struct ring *g, size_t total)
{
	size_t tail;

	if (total > g->size)
		return -1;
	if (g->nlive == 0)
		return g->head + total <= g->size ? (long)g->head : 0;
	tail = g->live[0].off;
	if (g->head > tail) {
		if (g->head + total <= g->size)
			return (long)g->head;
		return total <= tail ? 0 : -1;
	}
	return g->head + total <= tail ? (long)g->head : -1;
}

/*
 * Scan the region (size bytes): every valid record, live ones into the
 * index, the head after the newest.  Bytes are read a chunk at a time;
 * a candidate record is read whole into g->buf.
 */
static int
scan(struct ring *g, size_t size)
{
	uint8_t *chunk;
	size_t pos = 0, cbase = 0, clen = 0, total, n;
	uint32_t maxseq = 0;
	struct ring_rec r;
	int live, any = 0;

	if ((chunk = malloc(CHUNK)) == NULL)
		return -1;
	while (pos + RING_HDR <= size) {
		if (pos < cbase || pos + 4 > cbase + clen) {
			cbase = pos;
			clen = size - pos < CHUNK ? size - pos : CHUNK;
			if (hal_store_read(g->region, cbase, chunk, clen) ==
			    -1) {
				free(chunk);
				return -1;
			}
		}
		if (chunk[pos - cbase] != MAGIC0 ||
		    chunk[pos - cbase + 1] != MAGIC1 ||
		    chunk[pos - cbase + 2] != MAGIC2 ||
		    chunk[pos - cbase + 3] != MAGIC3) {
			pos += RING_ALIGN;
			continue;
		}
		n = size - pos < RING_HDR + RING_REC_MAX ? size - pos :
		    RING_HDR + RING_REC_MAX;
		if (hal_store_read(g->region, pos, g->buf, n) == -1) {
			free(chunk);
			return -1;
		}
		if ((total = ring_parse(g->buf, n, &r, &live)) == 0) {
			g->stats.torn++;
			pos += RING_ALIGN;
			continue;
		}
		r.off = (uint32_t)pos;
		if (!any || r.seq > maxseq) {
			maxseq = r.seq;
			g->head = pos + total;
			g->newest = pos;
			any = 1;
		}
		if (live) {
			if (index_add(g, &r) == -1) {
				free(chunk);
				return -1;
			}
		} else
			remember_dead(g, r.key);
		pos += total;
	}
	free(chunk);
	g->any = any;
	g->next_seq = any ? maxseq + 1 : 1;
	if (g->head >= size)
		g->head = 0;
	return 0;
}

/*
 * The scan's walk from pos (a place it visits) as it was before a write
 * of [pos, end): past valid records whole, past anything else 8 bytes at
 * a time.  Returns the first place it visits at or after end.  g->buf
 * is used.
 */
static long
walk_to(struct ring *g, size_t pos, size_t end)
{
	struct ring_rec r;
	size_t n, total;
	int live;

	while (pos < end && pos + RING_HDR <= g->size) {
		n = g->size - pos < RING_HDR + RING_REC_MAX ? g->size - pos :
		    RING_HDR + RING_REC_MAX;
		if (hal_store_read(g->region, pos, g->buf, n) == -1)
			return -1;
		total = ring_parse(g->buf, n, &r, &live);
		pos += total != 0 ? total : RING_ALIGN;
	}
	return (long)pos;
}

/* Write erased bytes (0xff: no magic, never a record) over [from, to). */
static int
erase(struct ring *g, size_t from, size_t to)
{
	size_t n;

	memset(g->buf, 0xff, RING_HDR + RING_REC_MAX);
	for (; from < to; from += n) {
		n = to - from < RING_HDR + RING_REC_MAX ? to - from :
		    RING_HDR + RING_REC_MAX;
		if (hal_store_write(g->region, from, g->buf, n) == -1)
			return -1;
	}
	return 0;
}

/*
 * Bytes the scan stepped over inside a valid record are not looked at;
 * bytes it walked 8 at a time were looked at and are not records.  If
 * either became something else, records that ring_put never wrote could
 * appear: a write over the start of an old record exposes its inside to
 * the scan (ring_put erases what it exposes), and a state byte flipped in
 * a record can complete the CRC of a torn candidate that overlaps it.
 * So when the scan found bytes that are not ours (a torn candidate, a
 * misplaced record), everything but the live records is erased, also
 * between them, except the newest record, which keeps the sequence
 * going.
 */
static int
span_cmp(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

static void
erase_foreign(struct ring *g)
{
	uint32_t (*keep)[2];
	size_t i, n = 0, at = 0;
	int bad = 0;

	if (g->stats.torn == 0 && g->stats.misplaced == 0)
		return;
	if ((keep = calloc(g->nlive + 1, sizeof(*keep))) == NULL) {
		fw_warn("store: region %d: no memory to erase foreign bytes",
		    g->region);
		return;
	}
	for (i = 0; i < g->nlive; i++) {
		keep[n][0] = g->live[i].off;
		keep[n++][1] = g->live[i].off + (uint32_t)total_of(
		    g->live[i].len);
	}
	if (g->any) {
		keep[n][0] = (uint32_t)g->newest;
		keep[n++][1] = g->head != 0 ? (uint32_t)g->head :
		    (uint32_t)g->size;
	}
	qsort(keep, n, sizeof(*keep), span_cmp);
	for (i = 0; i < n && !bad; i++) {
		if (keep[i][0] > at && erase(g, at, keep[i][0]) == -1)
			bad = 1;
		if (keep[i][1] > at)
			at = keep[i][1];
	}
	if (!bad && at < g->size && erase(g, at, g->size) == -1)
		bad = 1;
	free(keep);
	if (bad || hal_store_sync(g->region) == -1) {
		fw_warn("store: cannot write region %d", g->region);
		return;
	}
	fw_info("store: region %d: bytes that are not records erased",
	    g->region);
}

/*
 * The live records must lie in one arc behind the head, in sequence
 * order, each ending before the next begins: that is how ring_put lays
 * them down, and what place() assumes when it writes ahead of the head.
 * Bytes that were never ours (bit rot, a region from elsewhere) may hold
 * intact records out of that order; walking back from the newest, one
 * that overlaps the arc, or repeats a sequence number, is made dead, so
 * that it can neither be overwritten while thought live nor come back
 * after a later open.
 */
/* How far back from the head a record starts (size when at the head). */
static size_t
arc_back(const struct ring *g, const struct ring_rec *r)
{
	return r->off < g->head ? g->head - r->off :
	    g->head + g->size - r->off;
}

static void
arc_check(struct ring *g)
{
	static const uint8_t dead = STATE_DEAD;
	struct ring_rec *r, t;
	size_t i, j, d, total, kept_d = 0;
	uint32_t kept_seq = 0;
	int kept = 0;

	/*
	 * Of records repeating a sequence number, the one nearest the head
	 * is tried first (it is the last of its run in the index).
	 */
	for (i = 1; i < g->nlive; i++)
		for (j = i; j > 0 && g->live[j - 1].seq == g->live[j].seq &&
		    arc_back(g, &g->live[j - 1]) < arc_back(g, &g->live[j]);
		    j--) {
			t = g->live[j];
			g->live[j] = g->live[j - 1];
			g->live[j - 1] = t;
		}
	i = g->nlive;
	while (i-- > 0) {
		r = &g->live[i];
		total = total_of(r->len);
		d = arc_back(g, r);
		if (d >= total && d - total >= kept_d &&
		    (!kept || r->seq != kept_seq)) {
			kept_d = d;
			kept_seq = r->seq;
			kept = 1;
			continue;
		}
		fw_warn("store: region %d: record %" PRIu32 " at %" PRIu32
		    " is out of place; dropped", g->region, r->seq, r->off);
		if (hal_store_write(g->region, r->off + OFF_STATE, &dead, 1) ==
		    -1 || hal_store_sync(g->region) == -1)
			fw_warn("store: cannot write region %d", g->region);
		memmove(&g->live[i], &g->live[i + 1],
		    (g->nlive - i - 1) * sizeof(*g->live));
		g->nlive--;
		g->stats.misplaced++;
	}
}

struct ring *
ring_open(int region, size_t size)
{
	struct ring *g;
	size_t have = hal_store_size(region);

	if (size < RING_MIN_SIZE)
		size = RING_MIN_SIZE;
	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->buf = malloc(RING_HDR + RING_REC_MAX)) == NULL)
		goto fail;
	g->region = region;
	g->size = have != 0 ? have : size;
	g->next_seq = 1;
	if (have != 0) {
		if (scan(g, have) == -1)
			goto fail;
		arc_check(g);
		/*
		 * A new size only for an empty ring.  Moving live records
		 * would format the region while they are in RAM alone (a
		 * power cut then loses the backlog, billing records too) and
		 * give them new sequence numbers, hence new message ids (one
		 * sent before whose PUBACK was lost would reach the cloud
		 * twice).  The configured size waits for the backlog to be
		 * sent: the first start with the ring empty takes it.
		 */
		if (have == size || g->nlive > 0) {
			if (have != size) {
				g->stats.resize_waiting = 1;
				fw_warn("store: region %d stays at %zu bytes "
				    "(configured %zu) until its %zu waiting "
				    "messages are sent", region, have, size,
				    g->nlive);
			}
			erase_foreign(g);
			return g;
		}
		g->size = size;
	}
	if (hal_store_format(region, size) == -1) {
		fw_err("store: cannot make region %d (%zu bytes)", region,
		    size);
		goto fail;
	}
	if (have != 0)
		fw_info("store: region %d resized %zu -> %zu bytes (empty)",
		    region, have, size);
	g->head = 0;
	return g;
fail:
	ring_free(g);
	return NULL;
}

void
ring_free(struct ring *g)
{
	if (g == NULL)
		return;
	free(g->live);
	free(g->buf);
	free(g);
}

int
ring_fits(const struct ring *g, size_t len)
{
	return len <= RING_REC_MAX && place(g, total_of(len)) != -1;
}

int
ring_put(struct ring *g, uint8_t cls, uint32_t key, int64_t wall,
    const void *data, size_t len, uint32_t *seq)
{
	struct ring_rec r;
	size_t total;
	long off, resume;

	if (len > RING_REC_MAX || (off = place(g, total_of(len))) == -1)
		return -1;
	/* Where the scan went on after the bytes this record covers. */
	if ((resume = walk_to(g, (size_t)off, (size_t)off + total_of(len))) ==
	    -1) {
		fw_warn("store: cannot read region %d", g->region);
		return -1;
	}
	total = ring_encode(g->buf, RING_HDR + RING_REC_MAX, g->next_seq, cls,
	    key, wall, data, len);
	if (hal_store_write(g->region, (size_t)off, g->buf, total) == -1 ||
	    ((size_t)resume > (size_t)off + total &&
	    erase(g, (size_t)off + total, (size_t)resume) == -1) ||
	    hal_store_sync(g->region) == -1) {
		fw_warn("store: cannot write region %d", g->region);
		return -1;
	}
	memset(&r, 0, sizeof(r));
	r.seq = g->next_seq++;
	r.off = (uint32_t)off;
	r.len = (uint16_t)len;
	r.cls = cls;
	r.key = key;
	r.wall = wall;
	if (index_add(g, &r) == -1)
		return -1;
	g->head = (size_t)off + total;
	g->stats.appended++;
	*seq = r.seq;
	return 0;
}

int
ring_kill(struct ring *g, uint32_t seq)
{
	static const uint8_t dead = STATE_DEAD;
	size_t i;

	for (i = 0; i < g->nlive && g->live[i].seq != seq; i++)
		;
	if (i == g->nlive)
		return -1;
	if (hal_store_write(g->region, g->live[i].off + OFF_STATE, &dead,
	    1) == -1 || hal_store_sync(g->region) == -1) {
		fw_warn("store: cannot write region %d", g->region);
		return -1;
	}
	remember_dead(g, g->live[i].key);
	memmove(&g->live[i], &g->live[i + 1],
	    (g->nlive - i - 1) * sizeof(*g->live));
	g->nlive--;
	g->stats.killed++;
	return 0;
}

size_t
ring_count(const struct ring *g)
{
	return g->nlive;
}

struct ring_rec *
ring_at(struct ring *g, size_t i)
{
	return i < g->nlive ? &g->live[i] : NULL;
}

struct ring_rec *
ring_find(struct ring *g, uint32_t seq)
{
	size_t i;

	for (i = 0; i < g->nlive; i++)
		if (g->live[i].seq == seq)
			return &g->live[i];
	return NULL;
}

int
ring_read(struct ring *g, const struct ring_rec *r, void *buf, size_t cap)
{
	if (cap <= r->len ||
	    hal_store_read(g->region, r->off + RING_HDR, buf, r->len) == -1)
		return -1;
	((char *)buf)[r->len] = '\0';
	return 0;
}

int
ring_has_key(const struct ring *g, uint32_t key)
{
	size_t i, n = g->ndead < RING_DEADKEYS ? g->ndead : RING_DEADKEYS;

	if (key == 0)
		return 0;
	for (i = 0; i < g->nlive; i++)
		if (g->live[i].key == key)
			return 1;
	for (i = 0; i < n; i++)
		if (g->deadkeys[i] == key)
			return 1;
	return 0;
}

size_t
ring_used(const struct ring *g)
{
	size_t tail;

	if (g->nlive == 0)
		return 0;
	tail = g->live[0].off;
	return g->head > tail ? g->head - tail : g->size - tail + g->head;
}

size_t
ring_size(const struct ring *g)
{
	return g->size;
}

const struct ring_stats *
ring_stats(const struct ring *g)
{
	return &g->stats;
}
