/*
 * desired: see desired.h.  json-c with a depth limit parses; the ack is
 * built with json-c too (the values are numbers and fixed words).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/desired.h"

#define JSON_DEPTH	16

struct range {
	const char	*name;
	size_t		 off;
	unsigned	 min, max;
};

static const struct range telemetry_keys[] = {
	{ "pulseIdle", offsetof(struct desired_settings, pulse_idle_s),
	    10, 86400 },
	{ "pulseCharging", offsetof(struct desired_settings, pulse_charging_s),
	    10, 86400 },
	{ "meterInterval", offsetof(struct desired_settings, meter_interval_s),
	    10, 86400 },
};
#define NTELEMETRY	(sizeof(telemetry_keys) / sizeof(telemetry_keys[0]))

static unsigned *
field(struct desired_settings *s, size_t off)
{
	return (unsigned *)(void *)((char *)s + off);
}

/* An integer JSON value in min..max; -1 if not. */
static long
int_in(struct json_object *v, unsigned min, unsigned max)
{
	int64_t x;

	if (v == NULL || !json_object_is_type(v, json_type_int))
		return -1;
	x = json_object_get_int64(v);
	return x < min || x > max ? -1 : (long)x;
}

static struct json_object *
ack(int status, struct json_object *value, int64_t version, const char *why)
{
	struct json_object *a = json_object_new_object();

	json_object_object_add(a, "value", value);
	json_object_object_add(a, "ac", json_object_new_int(status));
	json_object_object_add(a, "av", json_object_new_int64(version));
	if (why != NULL)
		json_object_object_add(a, "ad", json_object_new_string(why));
	return a;
}

static void
do_max_current(struct desired_settings *s, struct json_object *v,
    int64_t ver, struct json_object *out)
{
	long a;

	if (v == NULL) {
		s->max_current_a = 0;
		json_object_object_add(out, "maxCurrent", ack(200, NULL, ver,
		    NULL));
		return;
	}
	if ((a = int_in(v, 6, 32)) < 0) {
		json_object_object_add(out, "maxCurrent", ack(400,
		    json_object_new_int((int)s->max_current_a), ver,
		    "an integer 6..32 (A), or null"));
		return;
	}
	s->max_current_a = (unsigned)a;
	json_object_object_add(out, "maxCurrent", ack(200,
	    json_object_new_int((int)a), ver, NULL));
}

static void
do_telemetry(struct desired_settings *s, struct json_object *v, int64_t ver,
    struct json_object *out)
{
	struct desired_settings n = *s;
	struct json_object *x, *val;
	size_t i;
	long t;

	if (v == NULL) {
		for (i = 0; i < NTELEMETRY; i++)
			*field(s, telemetry_keys[i].off) = 0;
		json_object_object_add(out, "telemetry", ack(200, NULL, ver,
		    NULL));
		return;
	}
	if (!json_object_is_type(v, json_type_object))
		goto bad;
	json_object_object_foreach(v, key, member) {
		for (i = 0; i < NTELEMETRY; i++)
			if (strcmp(key, telemetry_keys[i].name) == 0)
				break;
		if (i == NTELEMETRY)
			goto bad;
		if (member == NULL) {
			*field(&n, telemetry_keys[i].off) = 0;
			continue;
		}
		if ((t = int_in(member, telemetry_keys[i].min,
		    telemetry_keys[i].max)) < 0)
			goto bad;
		*field(&n, telemetry_keys[i].off) = (unsigned)t;
	}
	*s = n;
	val = json_object_new_object();
	for (i = 0; i < NTELEMETRY; i++)
		if ((t = (long)*field(s, telemetry_keys[i].off)) != 0)
			json_object_object_add(val, telemetry_keys[i].name,
			    json_object_new_int((int)t));
	json_object_object_add(out, "telemetry", ack(200, val, ver, NULL));
	return;
bad:
	x = json_object_new_object();
	json_object_object_add(out, "telemetry", ack(400, x, ver,
	    "an object of pulseIdle, pulseCharging, meterInterval: "
	    "10..86400 s each"));
}

enum desired_status
desired_apply(struct desired_settings *s, const char *buf, size_t len,
    int full, int64_t version, char *ackbuf, size_t cap)
{
	struct json_tokener *tok;
	struct json_object *o, *out, *v;
	struct desired_settings n = *s;
	enum desired_status st = DESIRED_OK;

	if (cap > 0)
		ackbuf[0] = '\0';
	if (len > DESIRED_DOC_MAX)
		return DESIRED_TOO_LARGE;
	if (memchr(buf, '\0', len) != NULL ||
	    (tok = json_tokener_new_ex(JSON_DEPTH)) == NULL)
		return DESIRED_BAD_JSON;
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    tok->char_offset != (int)len)
		st = DESIRED_BAD_JSON;
	else if (!json_object_is_type(o, json_type_object))
		st = DESIRED_NOT_OBJECT;
	json_tokener_free(tok);
	if (st != DESIRED_OK) {
		json_object_put(o);
		return st;
	}
	if (full)
		memset(&n, 0, sizeof(n));
	out = json_object_new_object();
	json_object_object_add(out, "desiredVersion",
	    json_object_new_int64(version));
	if (json_object_object_get_ex(o, "maxCurrent", &v))
		do_max_current(&n, v, version, out);
	if (json_object_object_get_ex(o, "telemetry", &v))
		do_telemetry(&n, v, version, out);
	snprintf(ackbuf, cap, "%s", json_object_to_json_string_ext(out,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	json_object_put(o);
	*s = n;
	return DESIRED_OK;
}

const char *
desired_strerror(enum desired_status st)
{
	switch (st) {
	case DESIRED_OK:
		return "ok";
	case DESIRED_TOO_LARGE:
		return "too large";
	case DESIRED_BAD_JSON:
		return "not JSON";
	case DESIRED_NOT_OBJECT:
		return "not a JSON object";
	}
	return "?";
}

int
desired_encode(const struct desired_settings *s, int64_t version, char *buf,
    size_t cap)
{
	int n;

	n = snprintf(buf, cap, "v=%" PRId64 " max=%u pi=%u pc=%u mi=%u",
	    version, s->max_current_a, s->pulse_idle_s, s->pulse_charging_s,
	    s->meter_interval_s);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int
desired_decode(const char *buf, size_t len, struct desired_settings *s,
    int64_t *version)
{
	char text[DESIRED_STATE_MAX];
	struct desired_settings n;
	long long v;

	if (len == 0 || len >= sizeof(text))
		return -1;
	memcpy(text, buf, len);
	text[len] = '\0';
	memset(&n, 0, sizeof(n));
	if (sscanf(text, "v=%lld max=%u pi=%u pc=%u mi=%u", &v,
	    &n.max_current_a, &n.pulse_idle_s, &n.pulse_charging_s,
	    &n.meter_interval_s) != 5 || v < 0 ||
	    (n.max_current_a != 0 && (n.max_current_a < 6 ||
	    n.max_current_a > 32)) ||
	    n.pulse_idle_s > 86400 || n.pulse_charging_s > 86400 ||
	    n.meter_interval_s > 86400)
		return -1;
	*s = n;
	*version = v;
	return 0;
}
