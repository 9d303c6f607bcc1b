/*
 * method: see method.h.  The topic parser is byte-by-byte over a length;
 * the payload goes through json-c with a depth limit, and the whole buffer
 * must be one JSON value (trailing bytes other than blanks are refused).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/method.h"

#define TOPIC_PREFIX	"$iothub/methods/POST/"
#define RID_MARK	"/?$rid="

enum method_status
method_parse_topic(const char *t, size_t len, struct method_req *r)
{
	size_t plen = sizeof(TOPIC_PREFIX) - 1, mlen = sizeof(RID_MARK) - 1;
	size_t i, n, start;
	long v;

	memset(r, 0, sizeof(*r));
	r->id = -1;
	if (len < plen || memcmp(t, TOPIC_PREFIX, plen) != 0)
		return METHOD_BAD_TOPIC;
	start = plen;
	for (i = start; i < len && t[i] != '/'; i++)
		if (t[i] == '\0' || t[i] == '+' || t[i] == '#')
			return METHOD_BAD_TOPIC;
	n = i - start;
	if (n == 0 || n >= METHOD_NAME_MAX)
		return METHOD_BAD_TOPIC;
	memcpy(r->name, t + start, n);
	r->name[n] = '\0';
	if (len - i < mlen || memcmp(t + i, RID_MARK, mlen) != 0)
		return METHOD_BAD_RID;
	i += mlen;
	n = len - i;
	if (n == 0 || n >= METHOD_RID_MAX)
		return METHOD_BAD_RID;
	for (size_t k = 0; k < n; k++)
		if (!isalnum((unsigned char)t[i + k]) && t[i + k] != '-')
			return METHOD_BAD_RID;
	memcpy(r->rid, t + i, n);
	r->rid[n] = '\0';
	/* Vendor method names are numbers of at most 6 digits. */
	for (i = 0, v = 0; r->name[i] != '\0'; i++) {
		if (!isdigit((unsigned char)r->name[i]) || i >= 6)
			break;
		v = v * 10 + (r->name[i] - '0');
	}
	if (r->name[i] == '\0')
		r->id = (int)v;
	return METHOD_OK;
}

/* A number from a JSON string ("16") or integer (16); -1 if neither. */
static long
json_number(struct json_object *o)
{
	const char *s;
	char *end;
	long v;

	if (json_object_is_type(o, json_type_int)) {
		v = (long)json_object_get_int64(o);
		return v < 0 ? -1 : v;
	}
	if (!json_object_is_type(o, json_type_string))
		return -1;
	s = json_object_get_string(o);
	if (*s == '\0' || strlen(s) > 6)
		return -1;
	v = strtol(s, &end, 10);
	return *end != '\0' || v < 0 ? -1 : v;
}

static enum method_status
parse_start(struct json_object *o, struct method_args *a)
{
	size_t n;
	long cur, ph = 3;

	if (o == NULL)
		return METHOD_OK;
	if (!json_object_is_type(o, json_type_array))
		return METHOD_BAD_SHAPE;
	n = json_object_array_length(o);
	if (n == 0)
		return METHOD_OK;
	if (n > 2)
		return METHOD_BAD_SHAPE;
	if ((cur = json_number(json_object_array_get_idx(o, 0))) == -1)
		return METHOD_BAD_SHAPE;
	if (n == 2 &&
	    (ph = json_number(json_object_array_get_idx(o, 1))) == -1)
		return METHOD_BAD_SHAPE;
	/* IEC 61851: 6 A is the least a car can be offered. */
	if (cur < 6 || cur > 32 || (ph != 1 && ph != 3))
		return METHOD_BAD_VALUE;
	a->current_a = (unsigned)cur;
	a->phases = (unsigned)ph;
	return METHOD_OK;
}

static enum method_status
parse_text(struct json_object *o, struct method_args *a)
{
	const char *s;
	size_t n, i;

	if (o != NULL && json_object_is_type(o, json_type_array) &&
	    json_object_array_length(o) == 1)
		o = json_object_array_get_idx(o, 0);
	if (o == NULL || !json_object_is_type(o, json_type_string))
		return METHOD_BAD_SHAPE;
	s = json_object_get_string(o);
	n = (size_t)json_object_get_string_len(o);
	if (n == 0 || n > METHOD_TEXT_MAX)
		return METHOD_BAD_VALUE;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return METHOD_BAD_VALUE;
	memcpy(a->text, s, n);
	a->text[n] = '\0';
	return METHOD_OK;
}

enum method_status
method_parse_payload(int id, const uint8_t *buf, size_t len,
    struct method_args *a)
{
	struct json_tokener *tok;
	struct json_object *o = NULL;
	enum method_status st = METHOD_OK;
	size_t i, end;

	memset(a, 0, sizeof(*a));
	a->phases = 3;
	if (len > METHOD_MAX_PAYLOAD)
		return METHOD_TOO_LARGE;
	for (i = 0; i < len && isspace(buf[i]); i++)
		;
	if (i < len) {
		if (memchr(buf, '\0', len) != NULL)
			return METHOD_BAD_JSON;
		if ((tok = json_tokener_new_ex(8)) == NULL)
			return METHOD_BAD_JSON;
		o = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
		end = json_tokener_get_parse_end(tok);
		if (o == NULL &&
		    json_tokener_get_error(tok) == json_tokener_continue) {
			/* A lone number needs an end mark. */
			o = json_tokener_parse_ex(tok, "", 1);
			end = len;
		}
		/* JSON null is a NULL object with success. */
		if (json_tokener_get_error(tok) != json_tokener_success)
			st = METHOD_BAD_JSON;
		json_tokener_free(tok);
		for (; st == METHOD_OK && end < len; end++)
			if (!isspace(buf[end]))
				st = METHOD_BAD_JSON;
		if (st != METHOD_OK) {
			json_object_put(o);
			return st;
		}
	}
	switch (id) {
	case METHOD_START:
		st = parse_start(o, a);
		break;
	case METHOD_SESSION_ID:
	case METHOD_USER_ID:
		st = parse_text(o, a);
		break;
	default:
		break;
	}
	json_object_put(o);
	return st;
}

const char *
method_strerror(enum method_status st)
{
	switch (st) {
	case METHOD_OK:
		return "ok";
	case METHOD_BAD_TOPIC:
		return "not a method topic";
	case METHOD_BAD_RID:
		return "bad request id";
	case METHOD_TOO_LARGE:
		return "payload too large";
	case METHOD_BAD_JSON:
		return "payload is not JSON";
	case METHOD_BAD_SHAPE:
		return "payload has the wrong shape";
	case METHOD_BAD_VALUE:
		return "payload value out of range";
	}
	return "?";
}
