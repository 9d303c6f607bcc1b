/*
 * ring: a durable FIFO of small records in one HAL store region (flash
 * or a file), the bottom half of the store-and-forward (core/store.c).
 *
 * Records are appended at the head, each written whole and synced before
 * ring_put returns; they leave when they are marked dead (acknowledged or
 * dropped), which flips one state byte (0xff -> 0x00: a flash may clear
 * bits without an erase).  Space is reclaimed from the tail, the oldest
 * live record: dead records between live ones wait until the tail passes
 * them.  A record never wraps; one that does not fit before the end of
 * the region goes to its start.
 *
 *   +0  magic "EVR1"   +4 seq (u32)   +8 length (u16)   +10 class (u8)
 *   +11 state (0xff live, else dead)  +12 key (u32)  +16 wall ms (i64)
 *   +24 CRC-32 of the header (state excluded) and the payload
 *   +28 payload; the next record at the next multiple of 8
 *
 * Power cuts: a torn append has a bad CRC and is not a record (it was
 * never handed on: the caller sends only after ring_put returned); a torn
 * state byte is old or new.  ring_open scans the region for valid
 * records (every 8 bytes, in chunks), takes the newest as the head and
 * the live ones, in sequence order, as the backlog.  Records that are
 * intact but dead keep their keys known (ring_has_key), which is how a
 * session record is made exactly once across a power cut.  Live records
 * that do not lie in order in one arc behind the head (bytes that were
 * never written by ring_put) are made dead at open.
 *
 * Nothing else ever turns into a record: a write over the start of an
 * old record erases the rest of it (its inside would otherwise be read
 * by the next scan: text the firmware stored may hold a record's
 * bytes), and when the scan finds bytes that are not ours (a torn
 * candidate, a misplaced record) everything but the live records and
 * the newest one is erased at open (a state byte flipped later could
 * complete a torn candidate's CRC).
 *
 * Not thread-safe; every call from the firmware thread.  The parser of a
 * region's bytes (ring_parse) is pure and bounded (fuzzed:
 * tests/fuzz/fuzz_ring.c).
 */
#ifndef EVFW_RING_H
#define EVFW_RING_H

#include <stddef.h>
#include <stdint.h>

#define RING_HDR	28
#define RING_ALIGN	8
#define RING_REC_MAX	1024	/* payload bytes */
#define RING_MIN_SIZE	4096
#define RING_DEADKEYS	64	/* dead records' keys remembered */

/* A live record as the index keeps it. */
struct ring_rec {
	uint32_t	seq;
	uint32_t	off;
	uint16_t	len;
	uint8_t		cls;
	uint8_t		handed;		/* given to the link; RAM only */
	uint32_t	key;
	int64_t		wall;
};

struct ring_stats {
	unsigned long	appended;
	unsigned long	killed;		/* marked dead */
	unsigned long	torn;		/* records with a bad CRC at open */
	unsigned long	resize_waiting;	/* 1: another size is configured, and
					 * waits for the ring to be empty */
	unsigned long	misplaced;	/* live ones out of order at open */
};

/*
 * Parse one record at the start of buf (len bytes).  Pure.  Returns the
 * record's total size (header, payload, padding) and fills rec (state
 * in *live), or 0 when buf does not hold a valid record.
 */
size_t	 ring_parse(const uint8_t *buf, size_t len, struct ring_rec *rec,
	    int *live);
/* The bytes of a record as ring_put writes it; returns the total size. */
size_t	 ring_encode(uint8_t *out, size_t cap, uint32_t seq, uint8_t cls,
	    uint32_t key, int64_t wall, const void *data, size_t len);

struct ring;

/*
 * The ring in HAL store region `region` of size bytes: scanned, or made
 * (formatted) when it does not exist; when its size changed the live
 * records are moved into the new one, oldest dropped first if they do
 * not all fit.  NULL on a HAL error (logged).
 */
struct ring *ring_open(int region, size_t size);
void	 ring_free(struct ring *);
/* Would a record of len bytes fit now? */
int	 ring_fits(const struct ring *, size_t len);
/* Append; 0 with *seq once durable, -1 when it does not fit or on error. */
int	 ring_put(struct ring *, uint8_t cls, uint32_t key, int64_t wall,
	    const void *, size_t len, uint32_t *seq);
/* Mark a live record dead (durable); -1 if it is not live. */
int	 ring_kill(struct ring *, uint32_t seq);
/* The live records, oldest first. */
size_t	 ring_count(const struct ring *);
struct ring_rec *ring_at(struct ring *, size_t i);
struct ring_rec *ring_find(struct ring *, uint32_t seq);
/* A record's payload into buf (cap > rec->len: NUL-terminated). */
int	 ring_read(struct ring *, const struct ring_rec *, void *, size_t);
/* Is there a live record, or an intact dead one, with this key? */
int	 ring_has_key(const struct ring *, uint32_t key);
/* Bytes between the tail and the head (what the live records hold up). */
size_t	 ring_used(const struct ring *);
size_t	 ring_size(const struct ring *);
const struct ring_stats *ring_stats(const struct ring *);

/* CRC-32 (IEEE 802.3), as zlib's crc32(). */
uint32_t ring_crc32(uint32_t crc, const void *, size_t);

#endif
