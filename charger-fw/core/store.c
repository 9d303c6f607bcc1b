/*
 * store: see store.h.  An id is the class in the top bit and the ring's
 * sequence number below it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fwlog.h"
#include "core/store.h"
#include "hal/hal.h"

#define ID(cls, seq)	((uint32_t)(cls) << 31 | ((seq) & 0x7fffffffU))
#define ID_CLS(id)	((int)((id) >> 31))
#define ID_SEQ(id)	((id) & 0x7fffffffU)

struct store {
	struct ring		*ring[2];
	struct store_msg	 msg;	/* store_next's */
	struct store_stats	 stats;
};

static const int regions[2] = { HAL_STORE_RECORDS, HAL_STORE_TELEMETRY };

struct store *
store_open(const struct store_cfg *cfg)
{
	struct store *s;
	size_t sz[2];
	int i;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	sz[0] = cfg != NULL && cfg->record_bytes != 0 ? cfg->record_bytes :
	    STORE_DEFAULT_BYTES;
	sz[1] = cfg != NULL && cfg->periodic_bytes != 0 ?
	    cfg->periodic_bytes : STORE_DEFAULT_BYTES;
	for (i = 0; i < 2; i++)
		if ((s->ring[i] = ring_open(regions[i], sz[i])) == NULL) {
			store_free(s);
			return NULL;
		}
	if (ring_count(s->ring[0]) + ring_count(s->ring[1]) > 0)
		fw_info("store: %zu records and %zu telemetry messages to send",
		    ring_count(s->ring[0]), ring_count(s->ring[1]));
	return s;
}

void
store_free(struct store *s)
{
	if (s == NULL)
		return;
	ring_free(s->ring[0]);
	ring_free(s->ring[1]);
	free(s);
}

/* Periodic: the older ones with the same key, not handed on, go. */
static void
collapse(struct store *s, uint32_t key)
{
	struct ring *g = s->ring[STORE_PERIODIC];
	struct ring_rec *r;
	size_t i = 0;

	while ((r = ring_at(g, i)) != NULL) {
		if (r->key == key && !r->handed &&
		    ring_kill(g, r->seq) == 0) {
			s->stats.collapsed++;
			continue;	/* the next one moved to i */
		}
		i++;
	}
}

uint32_t
store_put(struct store *s, enum store_class cls, uint32_t key, int64_t wall,
    const char *json)
{
	struct ring *g = s->ring[cls];
	size_t len = strlen(json);
	struct ring_rec *r;
	uint32_t seq;

	if (cls == STORE_PERIODIC) {
		if (key != 0)
			collapse(s, key);
		/* Full: the oldest periodic message goes first. */
		while (len <= RING_REC_MAX && !ring_fits(g, len) &&
		    (r = ring_at(g, 0)) != NULL) {
			if (ring_kill(g, r->seq) == -1)
				break;
			s->stats.dropped[cls]++;
		}
	}
	if (ring_put(g, (uint8_t)cls, key, wall, json, len, &seq) == -1) {
		if (cls == STORE_RECORD) {
			s->stats.unstored++;
			fw_err("store: a record (%zu bytes) could not be kept: "
			    "its ring is full", len);
		} else
			s->stats.dropped[cls]++;
		return 0;
	}
	s->stats.stored[cls]++;
	return ID(cls, seq);
}

const struct store_msg *
store_next(struct store *s)
{
	struct ring_rec *r;
	size_t i;
	int c;

	for (c = 0; c < 2; c++)
		for (i = 0; (r = ring_at(s->ring[c], i)) != NULL; i++) {
			if (r->handed)
				continue;
			if (ring_read(s->ring[c], r, s->msg.json,
			    sizeof(s->msg.json)) == -1) {
				/*
				 * Unreadable: it would block the rest.  If it
				 * cannot be marked dead either (the storage
				 * fails), step over it: never the same index
				 * for ever.
				 */
				if (ring_kill(s->ring[c], r->seq) == 0) {
					fw_warn("store: a stored message cannot "
					    "be read: dropped");
					s->stats.dropped[c]++;
					i--;
				} else
					fw_warn("store: a stored message can be "
					    "neither read nor dropped");
				continue;
			}
			s->msg.id = ID(c, r->seq);
			s->msg.wall = r->wall;
			return &s->msg;
		}
	return NULL;
}

void
store_handed(struct store *s, uint32_t id)
{
	struct ring_rec *r = ring_find(s->ring[ID_CLS(id)], ID_SEQ(id));

	if (r != NULL) {
		r->handed = 1;
		s->stats.sent[ID_CLS(id)]++;
	}
}

void
store_acked(struct store *s, uint32_t id)
{
	if (ring_kill(s->ring[ID_CLS(id)], ID_SEQ(id)) == 0)
		s->stats.acked[ID_CLS(id)]++;
}

void
store_link_down(struct store *s)
{
	struct ring_rec *r;
	size_t i;
	int c;

	for (c = 0; c < 2; c++)
		for (i = 0; (r = ring_at(s->ring[c], i)) != NULL; i++)
			r->handed = 0;
}

int
store_has_record(const struct store *s, uint32_t key)
{
	return ring_has_key(s->ring[STORE_RECORD], key);
}

size_t
store_pending(const struct store *s, int cls)
{
	if (cls == STORE_RECORD || cls == STORE_PERIODIC)
		return ring_count(s->ring[cls]);
	return ring_count(s->ring[0]) + ring_count(s->ring[1]);
}

size_t
store_unsent(const struct store *s)
{
	size_t i, n = 0;
	int c;

	for (c = 0; c < 2; c++)
		for (i = 0; i < ring_count(s->ring[c]); i++)
			if (!ring_at(s->ring[c], i)->handed)
				n++;
	return n;
}

void
store_mid(uint32_t id, int64_t wall, char *buf, size_t cap)
{
	snprintf(buf, cap, "%c%" PRIu32 "-%" PRId64,
	    ID_CLS(id) == STORE_RECORD ? 'r' : 't', ID_SEQ(id), wall);
}

const struct store_stats *
store_stats(const struct store *s)
{
	return &s->stats;
}

size_t
store_used(const struct store *s, int cls)
{
	return ring_used(s->ring[cls]);
}

size_t
store_size(const struct store *s, int cls)
{
	return ring_size(s->ring[cls]);
}
