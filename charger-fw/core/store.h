/*
 * store: durable store-and-forward of the charger's messages to the hub.
 * Every message is written to the store before it is handed to MQTT and
 * removed only when the hub acknowledged it (PUBACK), so an outage, a
 * reboot or a power cut loses nothing that was stored.
 *
 * Two classes in two rings (core/ring.c, HAL store regions):
 *   STORE_RECORD    session and billing records (723, 721, the state
 *                   710/718): never dropped while their ring has room;
 *                   when it has none the message still goes out, but is
 *                   not kept (counted: unstored);
 *   STORE_PERIODIC  meter values, pulses, data usage, versions: a newer
 *                   one with the same key collapses the older ones not
 *                   yet handed on (the caller gives a key only to what
 *                   a newer value supersedes: a pulse, a report of
 *                   counters; meter values are a series, key 0); when
 *                   the ring is full the oldest go first (counted:
 *                   dropped).
 * Separate rings, so that no amount of periodic telemetry can push a
 * billing record out.
 *
 * The backlog (stored, not yet handed on) drains oldest first, records
 * before periodic telemetry; how fast is the caller's (core/fw.c keeps
 * at most two backlog messages in flight and sends drain_rate a second,
 * so live messages and method answers never wait behind it, and a fleet
 * coming back from an outage does not meet the hub's throttle at once).  Each message keeps the text -- and so
 * the observation time -- it was stored with, and an id that stays the
 * same across resends and reboots: the hub's message id ($.mid), by which
 * the cloud keeps a record once however often it arrives.
 */
#ifndef EVFW_STORE_H
#define EVFW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/ring.h"

#define STORE_MSG_MAX		RING_REC_MAX
#define STORE_MID_MAX		32	/* store_mid's text */
#define STORE_DEFAULT_BYTES	(64 * 1024)	/* each ring */
#define STORE_DEFAULT_RATE	2	/* backlog messages a second */

enum store_class {
	STORE_RECORD = 0,
	STORE_PERIODIC = 1,
};

struct store_cfg {
	size_t	record_bytes;		/* ring of records; default 64 KiB */
	size_t	periodic_bytes;		/* ring of telemetry; default 64 KiB */
	unsigned drain_rate;		/* backlog sent a second (core/fw.c) */
};

struct store_msg {
	uint32_t	 id;		/* class and sequence */
	int64_t		 wall;		/* when it was stored (ms) */
	char		 json[STORE_MSG_MAX + 1];
};

struct store_stats {
	unsigned long	stored[2];	/* by class */
	unsigned long	sent[2];	/* handed to the link (resends too) */
	unsigned long	acked[2];
	unsigned long	dropped[2];	/* periodic: ring full */
	unsigned long	collapsed;	/* periodic: superseded */
	unsigned long	unstored;	/* records: ring full or too big */
};

struct store;

/* Both rings from the HAL's store regions (scanned).  NULL on error. */
struct store *store_open(const struct store_cfg *);
void	 store_free(struct store *);
/*
 * Keep a message.  key: what a newer periodic message supersedes (0:
 * nothing), or the identity of a record (0: none).  Returns its id
 * (> 0), or 0 when it could not be kept.
 */
uint32_t store_put(struct store *, enum store_class, uint32_t key,
	    int64_t wall_ms, const char *json);
/*
 * The oldest message not handed on yet, or NULL when none; the message
 * is the store's (kept off the caller's stack) until the next call.
 */
const struct store_msg *store_next(struct store *);
/* It was handed to the link; the hub acknowledged it (removed). */
void	 store_handed(struct store *, uint32_t id);
void	 store_acked(struct store *, uint32_t id);
/* The link went down: whatever was handed on and not acknowledged goes
 * again. */
void	 store_link_down(struct store *);
/* Is a record with this key stored, or acknowledged since it opened? */
int	 store_has_record(const struct store *, uint32_t key);
/* Messages not acknowledged, of a class (-1: both); not handed on yet. */
size_t	 store_pending(const struct store *, int cls);
size_t	 store_unsent(const struct store *);
/* The message id as the hub's $.mid: "r12-1795600800000". */
void	 store_mid(uint32_t id, int64_t wall, char *, size_t);
const struct store_stats *store_stats(const struct store *);
size_t	 store_used(const struct store *, int cls);
size_t	 store_size(const struct store *, int cls);

#endif
