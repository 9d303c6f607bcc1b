/*
 * telemetry: the observation message the vendor's chargers send,
 *   {"Observations":[{"ObservedAt":"2026-11-23T10:00:00Z","Value":"3",
 *     "ObservationId":710,"Type":1}, ...],"Type":6}
 * Values are strings; the observation "Type" says how to read them (our
 * decision, documented in doc/evcharger.8: 1 integer, 2 decimal, 3 text,
 * 4 JSON text).  Also a bounded queue that holds messages while the cloud
 * link is down (oldest dropped and counted when full).
 */
#ifndef EVFW_TELEMETRY_H
#define EVFW_TELEMETRY_H

#include <stddef.h>
#include <stdint.h>

enum tel_type {
	TEL_INT = 1,
	TEL_DECIMAL = 2,
	TEL_TEXT = 3,
	TEL_JSON = 4,
};

/* Observation ids (PROTOCOLS.md). */
enum tel_id {
	TEL_PULSE = -1,
	TEL_VOLTAGE1 = 501,
	TEL_VOLTAGE2 = 502,
	TEL_VOLTAGE3 = 503,
	TEL_CURRENT1 = 507,
	TEL_CURRENT2 = 508,
	TEL_CURRENT3 = 509,
	TEL_POWER = 513,
	TEL_SESSION_ENERGY = 553,
	TEL_MODE = 710,
	TEL_FINAL_STOP = 718,
	TEL_SESSION_ID = 721,
	TEL_SESSION_DONE = 723,
	TEL_DATA_USAGE = 822,
	TEL_FW_VERSION = 908,
	TEL_FW_VERSION_OTHER = 911,
	/* evgate's: hub links connected, then dropped before stable. */
	TEL_LINK_DROPPED = 930,
};

#define TEL_MAX_OBS	16
#define TEL_VALUE_MAX	1024

struct tel_obs {
	int		id;
	enum tel_type	type;
	char		value[TEL_VALUE_MAX];
};

struct tel_msg {
	struct tel_obs	obs[TEL_MAX_OBS];
	size_t		n;
};

void	 tel_init(struct tel_msg *);
/* Append; returns -1 when the message is full or the value too long. */
int	 tel_add(struct tel_msg *, int id, enum tel_type, const char *value);
int	 tel_addf(struct tel_msg *, int id, enum tel_type, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
/* The JSON text (malloc'd; NULL on failure), stamped with wall_ms. */
char	*tel_encode(const struct tel_msg *, int64_t wall_ms);
/* "2026-11-23T10:00:00Z" of wall_ms into buf (>= 21 bytes). */
void	 tel_time(int64_t wall_ms, char *buf, size_t cap);

/* The offline queue (FIFO of encoded messages). */
struct tel_queue;
struct tel_queue *tel_queue_new(size_t max);
void	 tel_queue_free(struct tel_queue *);
/* Takes ownership of json. */
void	 tel_queue_push(struct tel_queue *, char *json);
/* Oldest message or NULL; the caller frees it. */
char	*tel_queue_pop(struct tel_queue *);
size_t	 tel_queue_len(const struct tel_queue *);
unsigned long tel_queue_dropped(const struct tel_queue *);

#endif
