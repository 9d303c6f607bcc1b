/*
 * telemetry: json-c builds the text, so values are always escaped right.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "core/telemetry.h"

void
tel_init(struct tel_msg *m)
{
	m->n = 0;
}

int
tel_add(struct tel_msg *m, int id, enum tel_type type, const char *value)
{
	struct tel_obs *o;

	if (m->n >= TEL_MAX_OBS || strlen(value) >= TEL_VALUE_MAX)
		return -1;
	o = &m->obs[m->n++];
	o->id = id;
	o->type = type;
	memcpy(o->value, value, strlen(value) + 1);
	return 0;
}

int
tel_addf(struct tel_msg *m, int id, enum tel_type type, const char *fmt, ...)
{
	char buf[TEL_VALUE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return tel_add(m, id, type, buf);
}

void
tel_time(int64_t wall_ms, char *buf, size_t cap)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *
tel_encode(const struct tel_msg *m, int64_t wall_ms)
{
	struct json_object *root, *arr, *o;
	char when[32], *out = NULL;
	size_t i;

	tel_time(wall_ms, when, sizeof(when));
	root = json_object_new_object();
	arr = json_object_new_array();
	for (i = 0; i < m->n; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "ObservedAt",
		    json_object_new_string(when));
		json_object_object_add(o, "Value",
		    json_object_new_string(m->obs[i].value));
		json_object_object_add(o, "ObservationId",
		    json_object_new_int(m->obs[i].id));
		json_object_object_add(o, "Type",
		    json_object_new_int((int)m->obs[i].type));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "Observations", arr);
	json_object_object_add(root, "Type", json_object_new_int(6));
	out = strdup(json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return out;
}

struct tel_queue {
	char		**items;
	size_t		  max;
	size_t		  head;
	size_t		  len;
	unsigned long	  dropped;
};

struct tel_queue *
tel_queue_new(size_t max)
{
	struct tel_queue *q;

	if (max == 0 || (q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	if ((q->items = calloc(max, sizeof(*q->items))) == NULL) {
		free(q);
		return NULL;
	}
	q->max = max;
	return q;
}

void
tel_queue_free(struct tel_queue *q)
{
	char *s;

	if (q == NULL)
		return;
	while ((s = tel_queue_pop(q)) != NULL)
		free(s);
	free(q->items);
	free(q);
}

void
tel_queue_push(struct tel_queue *q, char *json)
{
	if (json == NULL)
		return;
	if (q->len == q->max) {
		free(tel_queue_pop(q));
		q->dropped++;
	}
	q->items[(q->head + q->len) % q->max] = json;
	q->len++;
}

char *
tel_queue_pop(struct tel_queue *q)
{
	char *s;

	if (q->len == 0)
		return NULL;
	s = q->items[q->head];
	q->items[q->head] = NULL;
	q->head = (q->head + 1) % q->max;
	q->len--;
	return s;
}

size_t
tel_queue_len(const struct tel_queue *q)
{
	return q->len;
}

unsigned long
tel_queue_dropped(const struct tel_queue *q)
{
	return q->dropped;
}
