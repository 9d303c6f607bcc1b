/*
 * telemetry: the observation message the vendor's chargers send,
 *   {"Observations":[{"ObservedAt":"2026-11-23T10:00:00Z","Value":"3",
 *     "ObservationId":710,"Type":1}, ...],"Type":6}
 * Values are strings; the observation "Type" says how to read them (our
 * decision, documented in doc/evcharger.8: 1 integer, 2 decimal, 3 text,
 * 4 JSON text).  Messages are kept until the hub has them by the
 * store-and-forward (core/store.c).
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
	/* evgate's: the daily data budget is exceeded (1). */
	TEL_BUDGET_EXCEEDED = 931,
};

/*
 * A message is small enough for a controller's stack (the core's budget:
 * no object over 1 KB): the values share one text area.  The largest
 * value is the session record (723), a few hundred bytes.
 */
#define TEL_MAX_OBS	16
#define TEL_VALUE_MAX	512	/* one value, with its NUL */
#define TEL_TEXT_MAX	768	/* every value of a message, NULs included */

struct tel_obs {
	int		id;
	enum tel_type	type;
	uint16_t	off;		/* its value: text + off */
};

struct tel_msg {
	struct tel_obs	obs[TEL_MAX_OBS];
	size_t		n;
	size_t		used;		/* of text */
	uint32_t	key;		/* a record's identity; 0 */
	char		text[TEL_TEXT_MAX];
};

void	 tel_init(struct tel_msg *);
/*
 * Append; returns -1 when the message is full, or the value too long
 * (TEL_VALUE_MAX) or too much for the message (TEL_TEXT_MAX).
 */
int	 tel_add(struct tel_msg *, int id, enum tel_type, const char *value);
/* Observation i's value (i < n). */
const char *tel_value(const struct tel_msg *, size_t i);
int	 tel_addf(struct tel_msg *, int id, enum tel_type, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
/* The JSON text (malloc'd; NULL on failure), stamped with wall_ms. */
char	*tel_encode(const struct tel_msg *, int64_t wall_ms);
/* "2026-11-23T10:00:00Z" of wall_ms into buf (>= 21 bytes). */
void	 tel_time(int64_t wall_ms, char *buf, size_t cap);

#endif
