/*
 * events: see events.h.  Deliberately tiny: the fleet log does the
 * recording, this only stamps and forwards, so that a module reporting an
 * event needs to know nothing about where it goes.
 */
#include "evgate_config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "daemon/events.h"
#include "common/log.h"
#include "common/util.h"

static events_sink_fn	 sink;
static void		*sink_arg;
static uint64_t		 emitted;

void
events_set_sink(events_sink_fn fn, void *arg)
{
	sink = fn;
	sink_arg = arg;
}

const char *
events_format_ts(uint64_t wall_ms, char *buf, size_t len)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	char base[32];

	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", base, (unsigned)(wall_ms % 1000));
	return buf;
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
		    events_format_ts(now_wall_ms(), ts, sizeof(ts))));
	json_object_object_add(ev, "type", json_object_new_string(type));
	if (fields != NULL) {
		json_object_object_foreach(fields, key, val) {
			if (strcmp(key, "ts") == 0 || strcmp(key, "type") == 0)
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
