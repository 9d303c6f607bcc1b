/*
 * usage: see usage.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/fwlog.h"
#include "core/usage.h"
#include "hal/hal.h"

#define KV_USAGE	"usage"
#define DAY_MS		86400000LL

int
usage_encode(const struct usage *u, char *buf, size_t cap)
{
	int n;

	n = snprintf(buf, cap, "v1 if=%" PRIu64 " mqtt=%" PRIu64 " day=%"
	    PRId64 " dif=%" PRIu64 " dmqtt=%" PRIu64 " over=%d", u->total_if,
	    u->total_mqtt, u->day, u->day_if, u->day_mqtt, u->over);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int
usage_decode(const char *buf, size_t len, struct usage *u)
{
	char text[USAGE_TEXT_MAX], again[USAGE_TEXT_MAX];
	struct usage t;
	unsigned long long a, b, d, e;
	long long day;
	int over, end = -1;

	if (len == 0 || len >= sizeof(text) || memchr(buf, '\0', len) != NULL)
		return -1;
	memcpy(text, buf, len);
	text[len] = '\0';
	if (sscanf(text, "v1 if=%llu mqtt=%llu day=%lld dif=%llu dmqtt=%llu "
	    "over=%d%n", &a, &b, &day, &d, &e, &over, &end) != 6 ||
	    end != (int)len || d > a || e > b || day < -1 ||
	    (over != 0 && over != 1))
		return -1;
	t = *u;
	t.total_if = a;
	t.total_mqtt = b;
	t.day = day;
	t.day_if = d;
	t.day_mqtt = e;
	t.over = over;
	/*
	 * Only what usage_encode writes: sscanf is lenient (it takes "-1"
	 * for a huge unsigned number, leading zeros, a '+').
	 */
	if (usage_encode(&t, again, sizeof(again)) == -1 ||
	    strcmp(again, text) != 0)
		return -1;
	*u = t;
	return 0;
}

void
usage_init(struct usage *u, uint64_t budget)
{
	char text[USAGE_TEXT_MAX];
	size_t len;

	memset(u, 0, sizeof(*u));
	u->day = -1;
	if (hal_kv_get(KV_USAGE, text, sizeof(text), &len) == 0 &&
	    usage_decode(text, len, u) == -1) {
		fw_warn("usage: the kept counts are unreadable: from zero");
		memset(u, 0, sizeof(*u));
		u->day = -1;
	}
	u->budget = budget;
}

void
usage_keep(struct usage *u, uint64_t now)
{
	char text[USAGE_TEXT_MAX];

	if (usage_encode(u, text, sizeof(text)) == 0 &&
	    hal_kv_set(KV_USAGE, text, strlen(text)) == 0) {
		u->kept_ms = now;
		u->dirty = 0;
	}
}

int
usage_update(struct usage *u, uint64_t if_now, uint64_t mqtt_now,
    int64_t wall, uint64_t now)
{
	uint64_t dif, dmq;
	int64_t day;
	int was = u->over;

	/* Counters since boot: the first reading after a boot is a base. */
	if (!u->started) {
		u->started = 1;
		dif = if_now;
		dmq = mqtt_now;
	} else {
		dif = if_now >= u->last_if ? if_now - u->last_if : if_now;
		dmq = mqtt_now >= u->last_mqtt ? mqtt_now - u->last_mqtt :
		    mqtt_now;
	}
	u->last_if = if_now;
	u->last_mqtt = mqtt_now;
	u->total_if += dif;
	u->total_mqtt += dmq;
	if (wall >= 0) {
		day = wall / DAY_MS;
		if (day != u->day) {
			if (u->day >= 0)
				fw_info("usage: day %" PRId64 ": %" PRIu64
				    " bytes (interface), %" PRIu64 " (MQTT)",
				    u->day, u->day_if, u->day_mqtt);
			u->day = day;
			u->day_if = u->day_mqtt = 0;
			u->over = 0;
			u->dirty = 1;
			u->kept_ms = 0;		/* a new day is kept at once */
		}
	}
	u->day_if += dif;
	u->day_mqtt += dmq;
	if (dif != 0 || dmq != 0)
		u->dirty = 1;
	if (u->budget != 0 && u->day_if > u->budget)
		u->over = 1;
	if (u->dirty && (u->over != was || u->kept_ms == 0 ||
	    now - u->kept_ms >= USAGE_KEEP_MS))
		usage_keep(u, now);
	return u->over && !was;
}
