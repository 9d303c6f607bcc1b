/*
 * events: see events.h.  Deliberately tiny: the fleet log does the
 * recording, this only stamps and forwards, so that a module reporting an
 * event needs to know nothing about where it goes.
 */
#include "evgate_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "common/events.h"
#include "common/log.h"
#include "common/util.h"

static events_sink_fn	 sink;
static void		*sink_arg;
static int		 recording;
static uint64_t		 emitted;
static char		 box[64];	/* "": none */
/* the refusal bucket */
static uint64_t		 rl_last_ms;
static uint64_t		 rl_tokens;
static uint64_t		 rl_pending;	/* left out since the last one */
static uint64_t		 rl_suppressed;	/* left out since start */

void
events_set_sink(events_sink_fn fn, void *arg)
{
	sink = fn;
	sink_arg = arg;
}

void
events_set_box(const char *name)
{
	strlcpy(box, name != NULL ? name : "", sizeof(box));
}

const char *
events_box(void)
{
	return box[0] != '\0' ? box : NULL;
}

void
events_set_recording(int on)
{
	recording = on;
}

int
events_recording(void)
{
	return recording;
}

static int
refusal_allowed(uint64_t now)
{
	uint64_t add;

	if (rl_last_ms == 0) {
		rl_last_ms = now;
		rl_tokens = EVENTS_REFUSAL_BURST;
	}
	add = (now - rl_last_ms) * EVENTS_REFUSAL_RATE / 1000;
	if (add > 0) {
		rl_tokens = rl_tokens + add > EVENTS_REFUSAL_BURST ?
		    EVENTS_REFUSAL_BURST : rl_tokens + add;
		rl_last_ms += add * 1000 / EVENTS_REFUSAL_RATE;
	}
	if (rl_tokens == 0)
		return 0;
	rl_tokens--;
	return 1;
}

int
events_refusal_take(void)
{
	if (refusal_allowed(now_mono_ms()))
		return 1;
	rl_pending++;
	rl_suppressed++;
	return 0;
}

void
events_refusal(struct json_object *fields, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rl_pending > 0) {
		log_warnx("%s (%llu similar refusals suppressed)", msg,
		    (unsigned long long)rl_pending);
		if (fields == NULL)
			fields = json_object_new_object();
		json_object_object_add(fields, "suppressed",
		    json_object_new_int64((int64_t)rl_pending));
		rl_pending = 0;
	} else
		log_warnx("%s", msg);
	events_emit(EVENT_REFUSAL, fields);
}

uint64_t
events_refusals_suppressed(void)
{
	return rl_suppressed;
}

void
events_emit(const char *type, struct json_object *fields)
{
	struct json_object *ev = json_object_new_object(), *ts_in = NULL;
	char ts[40];

	/* "ts" and "type" first: a person reading a log line wants them. */
	if (fields != NULL && json_object_object_get_ex(fields, "ts", &ts_in))
		json_object_object_add(ev, "ts", json_object_get(ts_in));
	else
		json_object_object_add(ev, "ts", json_object_new_string(
		    format_utc_ms(now_wall_ms(), ts, sizeof(ts))));
	json_object_object_add(ev, "type", json_object_new_string(type));
	if (box[0] != '\0')
		json_object_object_add(ev, "box", json_object_new_string(box));
	if (fields != NULL) {
		json_object_object_foreach(fields, key, val) {
			if (strcmp(key, "ts") == 0 || strcmp(key, "type") == 0 ||
			    (box[0] != '\0' && strcmp(key, "box") == 0))
				continue;
			json_object_object_add(ev, key, json_object_get(val));
		}
		json_object_put(fields);
	}
	emitted++;
	if (log_getlevel() >= LOG_LEVEL_DEBUG)
		log_debug("event: %s", json_object_to_json_string_ext(ev,
		    JSON_C_TO_STRING_PLAIN));
	if (sink != NULL)
		sink(ev, sink_arg);
	json_object_put(ev);
}

uint64_t
events_count(void)
{
	return emitted;
}
