/*
 * twin: see twin.h.  The queue holds the requests not answered yet; only
 * its head is ever on the wire, so answers and reports keep their order.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/fwlog.h"
#include "core/twin.h"
#include "hal/hal.h"

#define NEVER		UINT64_MAX
#define QUEUE_MAX	8
#define RES_PREFIX	"$iothub/twin/res/"
#define DESIRED_PREFIX	"$iothub/twin/PATCH/properties/desired/"
#define TWIN_PREFIX	"$iothub/twin/"
#define JSON_DEPTH	16

enum req_kind {
	REQ_GET = 1,
	REQ_PATCH,
};

struct req {
	enum req_kind	 kind;
	uint32_t	 id;		/* the report's id (callbacks) */
	uint32_t	 rid;		/* on the wire; new for every send */
	char		*body;		/* PATCH: the reported JSON */
	int		 sent;		/* on the wire, unanswered */
	unsigned	 attempts;	/* retryable failures so far */
	uint64_t	 due_ms;	/* timeout when sent, else next send */
};

struct twin {
	struct twin_cb	 cb;
	int		 up;
	uint32_t	 next;		/* rids and ids */
	struct req	 q[QUEUE_MAX];
	size_t		 n;
	int64_t		 version;
	struct twin_stats stats;
};

/* ------------------------------------------------------------------ */
/* The topic parser (pure).                                           */

/* A decimal of at most 18 digits at p (n bytes); -1 if not one. */
static int64_t
parse_dec(const char *p, size_t n)
{
	int64_t v = 0;
	size_t i;

	if (n == 0 || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/*
 * The query after "?": "$rid=R", "$version=V", in any order, joined by
 * '&'; other parameters are ignored.
 */
static int
parse_query(const char *p, size_t n, struct twin_topic *t)
{
	size_t i = 0, j, k;

	while (i < n) {
		for (j = i; j < n && p[j] != '&'; j++)
			;
		if (j - i > 5 && memcmp(p + i, "$rid=", 5) == 0) {
			if (j - i - 5 >= TWIN_RID_MAX)
				return -1;
			for (k = i + 5; k < j; k++)
				if (!isalnum((unsigned char)p[k]) &&
				    p[k] != '-')
					return -1;
			memcpy(t->rid, p + i + 5, j - i - 5);
			t->rid[j - i - 5] = '\0';
		} else if (j - i > 9 && memcmp(p + i, "$version=", 9) == 0) {
			if ((t->version = parse_dec(p + i + 9, j - i - 9)) < 0)
				return -1;
		}
		i = j + 1;
	}
	return 0;
}

enum twin_topic_kind
twin_parse_topic(const char *s, size_t len, struct twin_topic *t)
{
	size_t rl = sizeof(RES_PREFIX) - 1, dl = sizeof(DESIRED_PREFIX) - 1;
	size_t i;

	memset(t, 0, sizeof(*t));
	t->version = -1;
	if (len < sizeof(TWIN_PREFIX) - 1 ||
	    memcmp(s, TWIN_PREFIX, sizeof(TWIN_PREFIX) - 1) != 0)
		return t->kind = TWIN_TOPIC_OTHER;
	t->kind = TWIN_TOPIC_BAD;
	if (len > rl && memcmp(s, RES_PREFIX, rl) == 0) {
		/* {status}/?... */
		for (i = rl; i < len && isdigit((unsigned char)s[i]); i++)
			;
		if (i - rl != 3 || len - i < 2 || s[i] != '/' ||
		    s[i + 1] != '?')
			return t->kind;
		t->status = (int)parse_dec(s + rl, 3);
		if (t->status < 100 || t->status > 599 ||
		    parse_query(s + i + 2, len - i - 2, t) == -1 ||
		    t->rid[0] == '\0')
			return t->kind;
		return t->kind = TWIN_TOPIC_RES;
	}
	if (len > dl + 1 && memcmp(s, DESIRED_PREFIX, dl) == 0 &&
	    s[dl] == '?') {
		if (parse_query(s + dl + 1, len - dl - 1, t) == -1 ||
		    t->version < 0)
			return t->kind;
		return t->kind = TWIN_TOPIC_DESIRED;
	}
	return t->kind;
}

/* ------------------------------------------------------------------ */
/* JSON helpers (bounded).                                            */

static struct json_object *
json_parse(const char *buf, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (len > TWIN_DOC_MAX || memchr(buf, '\0', len) != NULL ||
	    (tok = json_tokener_new_ex(JSON_DEPTH)) == NULL)
		return NULL;
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    tok->char_offset != (int)len) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* Reported properties merge: objects recursively, the rest replaced. */
static void
json_merge(struct json_object *dst, struct json_object *src)
{
	struct json_object *cur, *copy;

	json_object_object_foreach(src, key, val) {
		if (val != NULL && json_object_is_type(val, json_type_object) &&
		    json_object_object_get_ex(dst, key, &cur) && cur != NULL &&
		    json_object_is_type(cur, json_type_object)) {
			json_merge(cur, val);
			continue;
		}
		copy = NULL;
		if (val != NULL && json_object_deep_copy(val, &copy, NULL) != 0)
			continue;
		json_object_object_add(dst, key, copy);
	}
}

static char *
json_text(struct json_object *o)
{
	return strdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* ------------------------------------------------------------------ */
/* The queue.                                                         */

static uint32_t
next_id(struct twin *t)
{
	if (++t->next == 0)
		t->next = 1;
	return t->next;
}

static void
req_clear(struct req *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static void
pop(struct twin *t)
{
	req_clear(&t->q[0]);
	memmove(&t->q[0], &t->q[1], (t->n - 1) * sizeof(t->q[0]));
	memset(&t->q[t->n - 1], 0, sizeof(t->q[0]));
	t->n--;
}

/* Put the head on the wire, with a new request id. */
static void
send_head(struct twin *t, uint64_t now)
{
	struct req *r = &t->q[0];
	char topic[128];
	const char *body = "";

	if (!t->up || t->n == 0 || r->sent || now < r->due_ms)
		return;
	r->rid = next_id(t);
	if (r->kind == REQ_GET) {
		snprintf(topic, sizeof(topic), "$iothub/twin/GET/?$rid=%" PRIu32,
		    r->rid);
		t->stats.gets++;
	} else {
		snprintf(topic, sizeof(topic),
		    "$iothub/twin/PATCH/properties/reported/?$rid=%" PRIu32,
		    r->rid);
		body = r->body;
		t->stats.patches++;
	}
	if (t->cb.send == NULL || t->cb.send(t->cb.arg, topic, body) == -1)
		return;		/* the link went: resent after twin_up */
	r->sent = 1;
	r->due_ms = now + TWIN_TIMEOUT_MS;
}

/* A retryable failure of the head: wait, then send it again. */
static void
retry_head(struct twin *t, uint64_t now, const char *why)
{
	struct req *r = &t->q[0];
	uint64_t w = TWIN_RETRY_CAP_MS, d;
	uint16_t rnd;

	if (r->attempts < 16 &&
	    ((uint64_t)TWIN_RETRY_BASE_MS << r->attempts) < TWIN_RETRY_CAP_MS)
		w = (uint64_t)TWIN_RETRY_BASE_MS << r->attempts;
	r->attempts++;
	hal_random(&rnd, sizeof(rnd));
	d = w * rnd / 65536;
	if (d < 1000)
		d = 1000;
	r->sent = 0;
	r->due_ms = now + d;
	t->stats.retries++;
	fw_info("twin: %s %s: again in %" PRIu64 " ms",
	    r->kind == REQ_GET ? "GET" : "reported PATCH", why, d);
}

struct twin *
twin_new(const struct twin_cb *cb, int64_t version)
{
	struct twin *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if (cb != NULL)
		t->cb = *cb;
	t->version = version;
	/* Request ids of an earlier run must not match this one's. */
	hal_random(&t->next, sizeof(t->next));
	t->next &= 0x3fffffff;
	return t;
}

void
twin_free(struct twin *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++)
		req_clear(&t->q[i]);
	free(t);
}

void
twin_up(struct twin *t, uint64_t now)
{
	size_t i;

	t->up = 1;
	/* A GET first, every time: desired changes made while we were away
	 * are not sent again. */
	for (i = 0; i < t->n && t->q[i].kind != REQ_GET; i++)
		;
	if (i == t->n) {
		if (t->n == QUEUE_MAX) {
			fw_warn("twin: queue full: the oldest report is lost");
			pop(t);
		}
		i = t->n++;
		memset(&t->q[i], 0, sizeof(t->q[i]));
		t->q[i].kind = REQ_GET;
	}
	if (i != 0) {
		struct req get = t->q[i];

		memmove(&t->q[1], &t->q[0], i * sizeof(t->q[0]));
		t->q[0] = get;
	}
	for (i = 0; i < t->n; i++) {
		t->q[i].sent = 0;
		t->q[i].due_ms = now;
	}
	send_head(t, now);
}

void
twin_down(struct twin *t)
{
	size_t i;

	t->up = 0;
	for (i = 0; i < t->n; i++)
		t->q[i].sent = 0;
}

uint32_t
twin_report(struct twin *t, const char *json, uint64_t now)
{
	struct json_object *o, *acc;
	struct req *r;
	char *merged;

	if ((o = json_parse(json, strlen(json))) == NULL ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		fw_warn("twin: a report that is not a JSON object: dropped");
		return 0;
	}
	r = t->n > 0 ? &t->q[t->n - 1] : NULL;
	if (r != NULL && r->kind == REQ_PATCH && !(t->n == 1 && r->sent) &&
	    (acc = json_parse(r->body, strlen(r->body))) != NULL) {
		/* Not on the wire yet: one PATCH says both. */
		json_merge(acc, o);
		merged = json_text(acc);
		json_object_put(acc);
		json_object_put(o);
		if (merged == NULL)
			return 0;
		free(r->body);
		r->body = merged;
		return r->id;
	}
	if (t->n == QUEUE_MAX) {
		fw_warn("twin: queue full: report dropped");
		json_object_put(o);
		return 0;
	}
	r = &t->q[t->n];
	memset(r, 0, sizeof(*r));
	r->kind = REQ_PATCH;
	r->id = next_id(t);
	r->body = json_text(o);
	r->due_ms = now;
	json_object_put(o);
	if (r->body == NULL)
		return 0;
	t->n++;
	send_head(t, now);
	return r->id;
}

/* The "desired" object of a GET answer, if newer than what we have. */
static void
got_twin(struct twin *t, const uint8_t *p, size_t len)
{
	struct json_object *o, *d, *v;
	const char *s;
	int64_t ver;

	if ((o = json_parse((const char *)p, len)) == NULL) {
		fw_warn("twin: the twin is not JSON (%zu bytes)", len);
		return;
	}
	if (!json_object_object_get_ex(o, "desired", &d) ||
	    !json_object_is_type(d, json_type_object) ||
	    !json_object_object_get_ex(d, "$version", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		fw_warn("twin: the twin has no desired $version");
		json_object_put(o);
		return;
	}
	ver = json_object_get_int64(v);
	if (ver <= t->version) {
		fw_debug("twin: desired $version %" PRId64 " known", ver);
	} else {
		s = json_object_to_json_string_ext(d, JSON_C_TO_STRING_PLAIN);
		t->version = ver;
		t->stats.desired++;
		if (t->cb.desired != NULL)
			t->cb.desired(t->cb.arg, s, strlen(s), ver, 1);
	}
	json_object_put(o);
}

static void
got_desired(struct twin *t, const struct twin_topic *tt, const uint8_t *p,
    size_t len, uint64_t now)
{
	int64_t v = tt->version;
	struct json_object *o;

	if (v <= t->version) {
		t->stats.stale++;
		fw_info("twin: desired $version %" PRId64 " ignored: %" PRId64
		    " applied already", v, t->version);
		return;
	}
	if ((o = json_parse((const char *)p, len)) == NULL ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		fw_warn("twin: a desired change that is not a JSON object");
		return;
	}
	json_object_put(o);
	if (v == t->version + 1)
		t->version = v;
	else {
		/*
		 * One went missing (or none is known yet): act on this one
		 * now, and read the whole document again; its version, not
		 * this patch's, becomes the one applied.
		 */
		fw_info("twin: desired $version %" PRId64 " after %" PRId64
		    ": getting the twin", v, t->version);
		twin_up(t, now);
	}
	t->stats.desired++;
	if (t->cb.desired != NULL)
		t->cb.desired(t->cb.arg, (const char *)p, len, v, 0);
}

int
twin_input(struct twin *t, const char *topic, const uint8_t *p, size_t len,
    uint64_t now)
{
	struct twin_topic tt;
	struct req *r = &t->q[0];
	char rid[16];
	int st;

	switch (twin_parse_topic(topic, strlen(topic), &tt)) {
	case TWIN_TOPIC_OTHER:
		return -1;
	case TWIN_TOPIC_BAD:
		fw_warn("twin: malformed topic dropped");
		return 0;
	case TWIN_TOPIC_DESIRED:
		got_desired(t, &tt, p, len, now);
		return 0;
	case TWIN_TOPIC_RES:
		break;
	}
	st = tt.status;
	snprintf(rid, sizeof(rid), "%" PRIu32, r->rid);
	if (t->n == 0 || !r->sent || strcmp(rid, tt.rid) != 0) {
		t->stats.unmatched++;
		fw_debug("twin: answer %d for unknown $rid %s dropped", st,
		    tt.rid);
		return 0;
	}
	t->stats.last_status = st;
	if (st == 429)
		t->stats.throttled++;
	if (st == 429 || (st >= 500 && st <= 599)) {
		retry_head(t, now, st == 429 ? "throttled (429)" :
		    "failed (5xx)");
		return st;
	}
	if (r->kind == REQ_GET) {
		if (st == 200)
			got_twin(t, p, len);
		else
			fw_warn("twin: GET answered %d", st);
	} else {
		if (st < 200 || st > 299)
			fw_warn("twin: reported PATCH answered %d", st);
		if (t->cb.reported != NULL)
			t->cb.reported(t->cb.arg, r->id, st);
	}
	pop(t);
	send_head(t, now);
	return st;
}

void
twin_tick(struct twin *t, uint64_t now)
{
	struct req *r = &t->q[0];

	if (!t->up || t->n == 0 || now < r->due_ms)
		return;
	if (r->sent)
		retry_head(t, now, "not answered");
	else
		send_head(t, now);
}

uint64_t
twin_deadline(const struct twin *t)
{
	return t->up && t->n > 0 ? t->q[0].due_ms : NEVER;
}

int64_t
twin_version(const struct twin *t)
{
	return t->version;
}

size_t
twin_pending(const struct twin *t)
{
	return t->n;
}

const struct twin_stats *
twin_stats(const struct twin *t)
{
	return &t->stats;
}
