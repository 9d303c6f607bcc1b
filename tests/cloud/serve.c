/*
 * serve: the cloud behind the stand-in hub, and the commands that read
 * what it recorded.
 *
 * It subscribes to every device's telemetry (devices/+/messages/events/#)
 * and to what devices send to the hub itself (hub/+/#, rewritten from
 * $iothub/... by the iothub plugin), and:
 *   - appends every telemetry message to DIR/<id>.jsonl, one JSON object
 *     per line with the time it was received -- once: a message that
 *     carries a message id ($.mid in its property bag) already recorded
 *     for that device is counted as a duplicate and not recorded again,
 *     as a cloud behind a hub keeps a device's at-least-once messages
 *     (the ids recorded are read back from the file when serve starts);
 *   - holds each device's twin in DIR/<id>.twin.json and answers like the
 *     hub: GET -> twin/res/200 with {"desired":{...},"reported":{...}},
 *     reported PATCH -> twin/res/204 with the new $version (merge-patch
 *     semantics, null deletes a key);
 *   - applies desired patches asked for by "evcloud twin-set" (topic
 *     evcloud/twin-set/<id>) and pushes them to the device as
 *     twin/PATCH/properties/desired/?$version=n;
 *   - keeps a per-device summary in DIR/state.json ("evcloud devices").
 * Every file is written whole (temp file + rename) or appended with one
 * write(2) per line, so a reader never sees half a record.
 */
#include "evgate_config.h"

#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "evcloud.h"

#define RID_MAX 64

#define MID_MAX 64

struct dev {
	LIST_ENTRY(dev)		 entry;
	char			 id[EVCLOUD_ID_MAX];
	char			(*mids)[MID_MAX];	/* hash set, open */
	size_t			 nmids;
	size_t			 capmids;
	uint64_t		 duplicates;
	struct json_object	*desired;	/* includes "$version" */
	struct json_object	*reported;	/* includes "$version" */
	uint64_t		 messages;	/* telemetry messages */
	uint64_t		 bytes;		/* telemetry payload bytes */
	uint64_t		 twin_gets;
	uint64_t		 reported_patches;
	uint64_t		 method_replies;
	char			 first[40];	/* first telemetry received */
	char			 last[40];	/* last message of any kind */
	char			 mode[16];	/* last observation 710 */
};

struct serve {
	const struct evc_opts	*o;
	struct mosquitto	*m;
	LIST_HEAD(, dev)	 devs;
	int			 subs_pending;
	bool			 ready;
};

static int64_t
version_of(struct json_object *o)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, "$version", &v))
		return json_object_get_int64(v);
	return 0;
}

static void
set_version(struct json_object *o, int64_t v)
{
	json_object_object_add(o, "$version", json_object_new_int64(v));
}

/*
 * JSON merge patch, as the hub applies twin patches: null deletes a key,
 * objects merge recursively, anything else replaces.  "$version" and
 * other "$" metadata in a patch are ignored.
 */
static void
merge_patch(struct json_object *dst, struct json_object *patch)
{
	json_object_object_foreach(patch, key, val) {
		struct json_object *cur;

		if (key[0] == '$')
			continue;
		if (val == NULL) {
			json_object_object_del(dst, key);
		} else if (json_object_is_type(val, json_type_object) &&
		    json_object_object_get_ex(dst, key, &cur) &&
		    json_object_is_type(cur, json_type_object)) {
			merge_patch(cur, val);
		} else {
			struct json_object *copy = NULL;

			if (json_object_deep_copy(val, &copy, NULL) == 0)
				json_object_object_add(dst, key, copy);
		}
	}
}

static void
path_of(const struct serve *s, const char *id, const char *suffix,
    char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s%s", s->o->dir, id, suffix);
}

/* The $.mid of a property bag ("$.mid=x&$.ct=..."); -1 if none. */
static int
props_mid(const char *props, char *mid, size_t cap)
{
	const char *p = props;
	size_t n;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, "$.mid=", 6) == 0) {
			n = strcspn(p + 6, "&");
			if (n == 0 || n >= cap)
				return -1;
			memcpy(mid, p + 6, n);
			mid[n] = '\0';
			return 0;
		}
		if ((p = strchr(p, '&')) != NULL)
			p++;
	}
	return -1;
}

static uint64_t
mid_hash(const char *m)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *m != '\0'; m++)
		h = (h ^ (uint8_t)*m) * 1099511628211ULL;
	return h;
}

/* Add mid to d's set; 1 if it was new, 0 if seen before, -1 on ENOMEM. */
static int
mid_add(struct dev *d, const char *mid)
{
	char (*old)[MID_MAX] = d->mids;
	size_t oldcap = d->capmids, i, k;

	if (d->nmids * 2 >= d->capmids) {
		d->capmids = oldcap ? oldcap * 2 : 64;
		if ((d->mids = calloc(d->capmids, MID_MAX)) == NULL) {
			d->mids = old;
			d->capmids = oldcap;
			return -1;
		}
		d->nmids = 0;
		for (i = 0; i < oldcap; i++)
			if (old[i][0] != '\0')
				mid_add(d, old[i]);
		free(old);
	}
	for (k = mid_hash(mid) % d->capmids;; k = (k + 1) % d->capmids) {
		if (d->mids[k][0] == '\0')
			break;
		if (strcmp(d->mids[k], mid) == 0)
			return 0;
	}
	strlcpy(d->mids[k], mid, MID_MAX);
	d->nmids++;
	return 1;
}

/* The ids already recorded, from the device's file (serve restarted). */
static void
mids_load(struct serve *s, struct dev *d)
{
	char path[4096], *line = NULL, mid[MID_MAX];
	struct json_object *rec, *props;
	size_t cap = 0;
	FILE *fp;

	path_of(s, d->id, ".jsonl", path, sizeof(path));
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (getline(&line, &cap, fp) != -1) {
		if ((rec = json_tokener_parse(line)) == NULL)
			continue;
		if (json_object_object_get_ex(rec, "properties", &props) &&
		    props_mid(json_object_get_string(props), mid,
		    sizeof(mid)) == 0)
			mid_add(d, mid);
		json_object_put(rec);
	}
	free(line);
	fclose(fp);
}

static void
twin_save(struct serve *s, struct dev *d)
{
	struct json_object *t = json_object_new_object();
	char path[4096];
	const char *txt;

	json_object_object_add(t, "deviceId", json_object_new_string(d->id));
	json_object_object_add(t, "desired", json_object_get(d->desired));
	json_object_object_add(t, "reported", json_object_get(d->reported));
	txt = json_object_to_json_string_ext(t, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	path_of(s, d->id, ".twin.json", path, sizeof(path));
	evc_write_file(path, txt, strlen(txt));
	json_object_put(t);
}

static struct dev *
dev_get(struct serve *s, const char *id)
{
	struct json_object *t, *x;
	struct dev *d;
	char path[4096];

	LIST_FOREACH(d, &s->devs, entry)
		if (strcmp(d->id, id) == 0)
			return d;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	strlcpy(d->id, id, sizeof(d->id));
	/* A twin outlives the serve process, as it does on a real hub. */
	path_of(s, id, ".twin.json", path, sizeof(path));
	if ((t = json_object_from_file(path)) != NULL) {
		if (json_object_object_get_ex(t, "desired", &x) &&
		    json_object_is_type(x, json_type_object))
			d->desired = json_object_get(x);
		if (json_object_object_get_ex(t, "reported", &x) &&
		    json_object_is_type(x, json_type_object))
			d->reported = json_object_get(x);
		json_object_put(t);
	}
	if (d->desired == NULL) {
		d->desired = json_object_new_object();
		set_version(d->desired, 1);
	}
	if (d->reported == NULL) {
		d->reported = json_object_new_object();
		set_version(d->reported, 1);
	}
	mids_load(s, d);
	LIST_INSERT_HEAD(&s->devs, d, entry);
	return d;
}

static void
state_save(struct serve *s)
{
	struct json_object *st = json_object_new_object();
	struct json_object *devs = json_object_new_object();
	char now[40], path[4096];
	const char *txt;
	struct dev *d;

	evc_now_iso(now, sizeof(now));
	LIST_FOREACH(d, &s->devs, entry) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "messages",
		    json_object_new_int64((int64_t)d->messages));
		json_object_object_add(o, "bytes",
		    json_object_new_int64((int64_t)d->bytes));
		json_object_object_add(o, "first", d->first[0] ?
		    json_object_new_string(d->first) : NULL);
		json_object_object_add(o, "last", d->last[0] ?
		    json_object_new_string(d->last) : NULL);
		json_object_object_add(o, "mode", d->mode[0] ?
		    json_object_new_string(d->mode) : NULL);
		json_object_object_add(o, "twin_gets",
		    json_object_new_int64((int64_t)d->twin_gets));
		json_object_object_add(o, "reported_patches",
		    json_object_new_int64((int64_t)d->reported_patches));
		json_object_object_add(o, "method_replies",
		    json_object_new_int64((int64_t)d->method_replies));
		json_object_object_add(o, "duplicates",
		    json_object_new_int64((int64_t)d->duplicates));
		json_object_object_add(o, "desired_version",
		    json_object_new_int64(version_of(d->desired)));
		json_object_object_add(o, "reported_version",
		    json_object_new_int64(version_of(d->reported)));
		json_object_object_add(devs, d->id, o);
	}
	json_object_object_add(st, "updated", json_object_new_string(now));
	json_object_object_add(st, "devices", devs);
	txt = json_object_to_json_string_ext(st, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	snprintf(path, sizeof(path), "%s/state.json", s->o->dir);
	evc_write_file(path, txt, strlen(txt));
	json_object_put(st);
}

static void
publish(struct serve *s, const char *topic, const char *payload)
{
	int rc;

	rc = mosquitto_publish(s->m, NULL, topic, (int)strlen(payload),
	    payload, 1, false);
	if (rc != MOSQ_ERR_SUCCESS)
		evc_log("publish %s: %s", topic, mosquitto_strerror(rc));
	else if (s->o->verbose)
		evc_log("-> %s %s", topic, payload);
}

/* The request id of a "...?$rid=R[&...]" topic; -1 if none or bad. */
static int
topic_rid(const char *topic, char *rid, size_t len)
{
	const char *p = strstr(topic, "?$rid=");
	size_t n, i;

	if (p == NULL)
		return -1;
	p += 6;
	n = strcspn(p, "&");
	if (n == 0 || n >= len || n >= RID_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (!(p[i] >= '0' && p[i] <= '9') &&
		    !(p[i] >= 'a' && p[i] <= 'z') &&
		    !(p[i] >= 'A' && p[i] <= 'Z') && p[i] != '-' &&
		    p[i] != '_')
			return -1;
	memcpy(rid, p, n);
	rid[n] = '\0';
	return 0;
}

/* The last observation 710 (ChargerOperationMode) in a telemetry body. */
static void
telemetry_mode(struct json_object *body, char *mode, size_t len)
{
	struct json_object *obs, *o, *id, *val;
	size_t i, n;

	if (!json_object_is_type(body, json_type_object) ||
	    !json_object_object_get_ex(body, "Observations", &obs) ||
	    !json_object_is_type(obs, json_type_array))
		return;
	n = json_object_array_length(obs);
	for (i = 0; i < n; i++) {
		o = json_object_array_get_idx(obs, i);
		if (!json_object_object_get_ex(o, "ObservationId", &id) ||
		    json_object_get_int(id) != 710 ||
		    !json_object_object_get_ex(o, "Value", &val))
			continue;
		strlcpy(mode, json_object_get_string(val), len);
	}
}

static void
on_telemetry(struct serve *s, const char *id, const char *props,
    const struct mosquitto_message *msg)
{
	struct json_object *rec, *body = NULL;
	struct json_tokener *tok;
	char path[4096], now[40], mid[MID_MAX];
	const char *line;
	struct dev *d;
	int fd;

	if ((d = dev_get(s, id)) == NULL)
		return;
	/* At least once from the device, once in the records. */
	if (props_mid(props, mid, sizeof(mid)) == 0 && mid_add(d, mid) == 0) {
		d->duplicates++;
		if (s->o->verbose)
			evc_log("telemetry from %s: %s again, not recorded", id,
			    mid);
		return;
	}
	evc_now_iso(now, sizeof(now));
	if (msg->payloadlen > 0 && (tok = json_tokener_new()) != NULL) {
		body = json_tokener_parse_ex(tok, msg->payload,
		    msg->payloadlen);
		if (json_tokener_get_error(tok) != json_tokener_success ||
		    tok->char_offset != msg->payloadlen) {
			json_object_put(body);
			body = NULL;
		}
		json_tokener_free(tok);
	}
	rec = json_object_new_object();
	json_object_object_add(rec, "received", json_object_new_string(now));
	json_object_object_add(rec, "device", json_object_new_string(id));
	json_object_object_add(rec, "topic",
	    json_object_new_string(msg->topic));
	if (props[0] != '\0')
		json_object_object_add(rec, "properties",
		    json_object_new_string(props));
	json_object_object_add(rec, "bytes",
	    json_object_new_int(msg->payloadlen));
	if (body != NULL) {
		telemetry_mode(body, d->mode, sizeof(d->mode));
		json_object_object_add(rec, "payload", body);
	} else {
		json_object_object_add(rec, "payload_text",
		    json_object_new_string_len(msg->payload ? msg->payload :
		    "", msg->payloadlen));
	}
	line = json_object_to_json_string_ext(rec, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	path_of(s, id, ".jsonl", path, sizeof(path));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644)) == -1) {
		evc_log("%s: %s", path, strerror(errno));
	} else {
		/* One write(2) per record: readers never see half a line. */
		size_t n = strlen(line);
		char *buf = malloc(n + 1);

		if (buf != NULL) {
			memcpy(buf, line, n);
			buf[n] = '\n';
			if (write(fd, buf, n + 1) != (ssize_t)(n + 1))
				evc_log("%s: write: %s", path,
				    strerror(errno));
			free(buf);
		}
		close(fd);
	}
	json_object_put(rec);
	d->messages++;
	d->bytes += (uint64_t)msg->payloadlen;
	if (d->first[0] == '\0')
		strlcpy(d->first, now, sizeof(d->first));
	strlcpy(d->last, now, sizeof(d->last));
	if (s->o->verbose)
		evc_log("telemetry from %s: %d bytes", id, msg->payloadlen);
}

static void
twin_get(struct serve *s, struct dev *d, const char *rid)
{
	struct json_object *t = json_object_new_object();
	char topic[256];

	json_object_object_add(t, "desired", json_object_get(d->desired));
	json_object_object_add(t, "reported", json_object_get(d->reported));
	snprintf(topic, sizeof(topic), "hub-to/%s/twin/res/200/?$rid=%s",
	    d->id, rid);
	publish(s, topic, json_object_to_json_string_ext(t,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(t);
	d->twin_gets++;
}

static void
twin_reported(struct serve *s, struct dev *d, const char *rid,
    const struct mosquitto_message *msg)
{
	struct json_object *patch;
	char topic[256];
	int64_t v;

	patch = msg->payloadlen > 0 ? json_tokener_parse(msg->payload) : NULL;
	if (patch == NULL || !json_object_is_type(patch, json_type_object)) {
		snprintf(topic, sizeof(topic),
		    "hub-to/%s/twin/res/400/?$rid=%s", d->id, rid);
		publish(s, topic, "{\"message\":\"the patch must be a JSON "
		    "object\"}");
		json_object_put(patch);
		return;
	}
	merge_patch(d->reported, patch);
	json_object_put(patch);
	v = version_of(d->reported) + 1;
	set_version(d->reported, v);
	twin_save(s, d);
	d->reported_patches++;
	snprintf(topic, sizeof(topic),
	    "hub-to/%s/twin/res/204/?$rid=%s&$version=%lld", d->id, rid,
	    (long long)v);
	publish(s, topic, "");
}

static void
twin_desired(struct serve *s, const char *id,
    const struct mosquitto_message *msg)
{
	struct json_object *patch, *done;
	char topic[256];
	struct dev *d;
	int64_t v;

	patch = msg->payloadlen > 0 ? json_tokener_parse(msg->payload) : NULL;
	if (patch == NULL || !json_object_is_type(patch, json_type_object) ||
	    (d = dev_get(s, id)) == NULL) {
		evc_log("twin-set %s: not a JSON object, ignored", id);
		json_object_put(patch);
		return;
	}
	merge_patch(d->desired, patch);
	v = version_of(d->desired) + 1;
	set_version(d->desired, v);
	twin_save(s, d);
	/* The hub sends the patch itself, stamped with the new version. */
	set_version(patch, v);
	snprintf(topic, sizeof(topic),
	    "hub-to/%s/twin/PATCH/properties/desired/?$version=%lld", id,
	    (long long)v);
	publish(s, topic, json_object_to_json_string_ext(patch,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(patch);
	done = json_object_new_object();
	set_version(done, v);
	snprintf(topic, sizeof(topic), "evcloud/twin-set-done/%s", id);
	publish(s, topic, json_object_to_json_string(done));
	json_object_put(done);
	evc_log("twin of %s: desired $version %lld", id, (long long)v);
}

/*
 * Splits "a/b/rest" into the id after a fixed first level and the rest;
 * -1 if the id is missing or unsafe.
 */
static int
topic_id(const char *topic, size_t skip, char *id, const char **rest)
{
	const char *p = topic + skip, *slash = strchr(p, '/');
	size_t n;

	n = slash ? (size_t)(slash - p) : strlen(p);
	if (n == 0 || n >= EVCLOUD_ID_MAX)
		return -1;
	memcpy(id, p, n);
	id[n] = '\0';
	if (!evc_id_ok(id))
		return -1;
	*rest = slash ? slash + 1 : "";
	return 0;
}

static void
on_hub(struct serve *s, const char *id, const char *rest,
    const struct mosquitto_message *msg)
{
	char rid[RID_MAX];
	struct dev *d;

	if ((d = dev_get(s, id)) == NULL)
		return;
	evc_now_iso(d->last, sizeof(d->last));
	if (strncmp(rest, "twin/GET/", 9) == 0) {
		if (topic_rid(rest, rid, sizeof(rid)) == 0)
			twin_get(s, d, rid);
	} else if (strncmp(rest, "twin/PATCH/properties/reported/", 31) == 0) {
		if (topic_rid(rest, rid, sizeof(rid)) == 0)
			twin_reported(s, d, rid, msg);
	} else if (strncmp(rest, "methods/res/", 12) == 0) {
		/* Answers to "evcloud call", which waits for them itself. */
		d->method_replies++;
	} else {
		evc_log("%s sent to an unknown hub topic \"$iothub/%s\"", id,
		    rest);
	}
}

static void
on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	struct serve *s = arg;
	const char *t = msg->topic, *rest;
	char id[EVCLOUD_ID_MAX];

	if (s->o->verbose)
		evc_log("<- %s (%d bytes)", t, msg->payloadlen);
	if (strncmp(t, "devices/", 8) == 0) {
		if (topic_id(t, 8, id, &rest) == 0 &&
		    strncmp(rest, "messages/events/", 16) == 0)
			on_telemetry(s, id, rest + 16, msg);
	} else if (strncmp(t, "hub/", 4) == 0) {
		if (topic_id(t, 4, id, &rest) == 0)
			on_hub(s, id, rest, msg);
	} else if (strncmp(t, "evcloud/twin-set/", 17) == 0) {
		if (topic_id(t, 17, id, &rest) == 0 && rest[0] == '\0')
			twin_desired(s, id, msg);
		return;
	} else {
		return;
	}
	state_save(s);
}

static void
on_connect(struct mosquitto *m, void *arg, int rc)
{
	static const char *const topics[] = {
		"devices/+/messages/events/#", "hub/+/#", "evcloud/twin-set/+"
	};
	struct serve *s = arg;
	size_t i;

	if (rc != 0) {
		evc_log("hub refused the connection: %s",
		    mosquitto_connack_string(rc));
		return;
	}
	evc_log("connected to %s:%d", s->o->host, s->o->port);
	s->subs_pending = 0;
	for (i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
		if (mosquitto_subscribe(m, NULL, topics[i], 1) ==
		    MOSQ_ERR_SUCCESS)
			s->subs_pending++;
}

static void
on_subscribe(struct mosquitto *m, void *arg, int mid, int n,
    const int *granted)
{
	struct serve *s = arg;

	if (--s->subs_pending == 0 && !s->ready) {
		s->ready = true;
		state_save(s);
		evc_ready(s->o);
		evc_log("serving; records in %s", s->o->dir);
	}
}

int
evc_cmd_serve(const struct evc_opts *o)
{
	struct serve s;
	struct dev *d;
	int rc, backoff = 1;

	if (o->dir == NULL) {
		fprintf(stderr, "evcloud serve: --dir is required\n");
		return 2;
	}
	if (mkdir(o->dir, 0755) == -1 && errno != EEXIST) {
		evc_log("%s: %s", o->dir, strerror(errno));
		return 1;
	}
	memset(&s, 0, sizeof(s));
	s.o = o;
	LIST_INIT(&s.devs);
	/*
	 * A persistent session (clean session off): while serve reconnects,
	 * the broker keeps its subscriptions and queues what devices send at
	 * QoS 1, so nothing is lost from the records.
	 */
	if ((s.m = evc_connect(o, "evcloud-serve", o->user, false, true,
	    &s)) == NULL)
		return 1;
	mosquitto_connect_callback_set(s.m, on_connect);
	mosquitto_subscribe_callback_set(s.m, on_subscribe);
	mosquitto_message_callback_set(s.m, on_message);
	while (!evc_stop) {
		rc = mosquitto_loop(s.m, 1000, 1);
		if (rc == MOSQ_ERR_SUCCESS) {
			backoff = 1;
			continue;
		}
		if (evc_stop)
			break;
		evc_log("connection lost (%s); reconnecting in %d s",
		    mosquitto_strerror(rc), backoff);
		sleep((unsigned)backoff);
		backoff = backoff < 8 ? backoff * 2 : 8;
		mosquitto_reconnect(s.m);
	}
	evc_log("stopping");
	mosquitto_disconnect(s.m);
	mosquitto_destroy(s.m);
	while ((d = LIST_FIRST(&s.devs)) != NULL) {
		LIST_REMOVE(d, entry);
		json_object_put(d->desired);
		json_object_put(d->reported);
		free(d->mids);
		free(d);
	}
	return 0;
}

/* --- readers of the records -------------------------------------- */

static int
need_dir_device(const struct evc_opts *o, const char *cmd, bool device)
{
	if (o->dir == NULL || (device && o->device == NULL)) {
		fprintf(stderr, "evcloud %s: --dir%s required\n", cmd,
		    device ? " and --device are" : " is");
		return -1;
	}
	return 0;
}

int
evc_cmd_telemetry(const struct evc_opts *o)
{
	char path[4096], line[65536];
	unsigned long n = 0;
	FILE *fp;

	if (need_dir_device(o, "telemetry", true) == -1)
		return 2;
	snprintf(path, sizeof(path), "%s/%s.jsonl", o->dir, o->device);
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno != ENOENT) {
			fprintf(stderr, "evcloud: %s: %s\n", path,
			    strerror(errno));
			return 1;
		}
		/* Nothing recorded for that device (yet). */
		if (o->count)
			printf("0\n");
		return 0;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		n++;
		if (!o->count)
			fputs(line, stdout);
	}
	fclose(fp);
	if (o->count)
		printf("%lu\n", n);
	return 0;
}

int
evc_cmd_twin(const struct evc_opts *o)
{
	struct json_object *t;
	char path[4096];

	if (need_dir_device(o, "twin", true) == -1)
		return 2;
	snprintf(path, sizeof(path), "%s/%s.twin.json", o->dir, o->device);
	if ((t = json_object_from_file(path)) == NULL) {
		fprintf(stderr, "evcloud: no twin for %s in %s\n", o->device,
		    o->dir);
		return 1;
	}
	printf("%s\n", json_object_to_json_string_ext(t,
	    JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(t);
	return 0;
}

static const char *
str_or_dash(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) && v != NULL)
		return json_object_get_string(v);
	return "-";
}

int
evc_cmd_devices(const struct evc_opts *o)
{
	struct json_object *st, *devs;
	char path[4096];

	if (need_dir_device(o, "devices", false) == -1)
		return 2;
	snprintf(path, sizeof(path), "%s/state.json", o->dir);
	if ((st = json_object_from_file(path)) == NULL) {
		fprintf(stderr, "evcloud: no %s: is \"evcloud serve\" "
		    "running?\n", path);
		return 1;
	}
	if (o->json) {
		printf("%s\n", json_object_to_json_string_ext(st,
		    JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(st);
		return 0;
	}
	printf("%-12s %8s %9s %-24s %-4s %s\n", "DEVICE", "MESSAGES", "BYTES",
	    "LAST", "MODE", "TWIN(desired/reported)");
	if (json_object_object_get_ex(st, "devices", &devs)) {
		json_object_object_foreach(devs, id, d) {
			printf("%-12s %8s %9s %-24s %-4s %s/%s\n", id,
			    str_or_dash(d, "messages"),
			    str_or_dash(d, "bytes"), str_or_dash(d, "last"),
			    str_or_dash(d, "mode"),
			    str_or_dash(d, "desired_version"),
			    str_or_dash(d, "reported_version"));
		}
	}
	json_object_put(st);
	return 0;
}
