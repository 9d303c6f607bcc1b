/*
 * device: a stand-in charger for the test world, until charger-fw's
 * evcharger takes its place (WORLD_DEVICE in tests/integration/world.sh).
 *
 * It is a real IoT hub device client, not a fake: one MQTT 3.1.1
 * connection over TLS (server certificate and host name verified against
 * the world's CA) to zapcloud.azure-devices.net, which the charger's
 * namespace resolves to the gateway, so every byte goes through the relay.
 * Client id = device id, username "{hub}/{id}/?api-version=2021-04-12",
 * password = the device secret, CleanSession 0.  One connection per
 * device is also why it is a program and not a mosquitto_sub |
 * mosquitto_pub pair: a second connection with the same client id makes
 * the hub (and mosquitto) drop the first.
 *
 * What it does, and nothing more: subscribes to direct methods and twin
 * topics, GETs its twin after every connect and reports to it, answers
 * methods 1 (ping), 501 (start charging), 502 (stop charging) and 503
 * (report state), and sends telemetry in the vendor's observation format:
 * 710 (ChargerOperationMode) whenever it changes, and a pulse (-1) every
 * --telemetry seconds.  It simulates no meter readings: there is no meter
 * behind it, and the demo must not show values nobody measured.
 */
#include "evgate_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "evcloud.h"

/* ChargerOperationMode values (observation 710). */
#define MODE_DISCONNECTED	1
#define MODE_REQUESTING		2
#define MODE_CHARGING		3
#define MODE_FINISHED		5

struct device {
	const struct evc_opts	*o;
	struct mosquitto	*m;
	char			 topic_events[256];
	int			 mode;
	int			 subs_pending;
	bool			 ready;
	unsigned		 rid;
	int64_t			 desired_version;
	time_t			 next_pulse;
};

static void
dev_publish(struct device *d, const char *topic, const char *payload)
{
	int rc;

	rc = mosquitto_publish(d->m, NULL, topic, (int)strlen(payload),
	    payload, 1, false);
	if (rc != MOSQ_ERR_SUCCESS)
		evc_log("%s: publish %s: %s", d->o->device, topic,
		    mosquitto_strerror(rc));
	else if (d->o->verbose)
		evc_log("%s: -> %s %s", d->o->device, topic, payload);
}

static void
add_observation(struct json_object *arr, const char *at, int id,
    const char *value)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ObservedAt", json_object_new_string(at));
	json_object_object_add(o, "Value", json_object_new_string(value));
	json_object_object_add(o, "ObservationId", json_object_new_int(id));
	json_object_object_add(o, "Type", json_object_new_int(1));
	json_object_array_add(arr, o);
}

/* Telemetry: the pulse, plus the operation mode when with_mode. */
static void
dev_telemetry(struct device *d, bool with_mode, bool with_fw)
{
	struct json_object *body = json_object_new_object();
	struct json_object *obs = json_object_new_array();
	char at[32], v[16];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	add_observation(obs, at, -1, "1");
	if (with_mode) {
		snprintf(v, sizeof(v), "%d", d->mode);
		add_observation(obs, at, 710, v);
	}
	if (with_fw)
		add_observation(obs, at, 908, "evcloud-standin");
	json_object_object_add(body, "Observations", obs);
	json_object_object_add(body, "Type", json_object_new_int(6));
	dev_publish(d, d->topic_events, json_object_to_json_string_ext(body,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(body);
	d->next_pulse = now + d->o->telemetry;
}

static void
dev_twin_report(struct device *d)
{
	char topic[128], payload[256];

	snprintf(topic, sizeof(topic),
	    "$iothub/twin/PATCH/properties/reported/?$rid=r%u", ++d->rid);
	snprintf(payload, sizeof(payload), "{\"firmware\":\"evcloud-standin\","
	    "\"mode\":%d,\"desiredVersion\":%lld}", d->mode,
	    (long long)d->desired_version);
	dev_publish(d, topic, payload);
}

static void
dev_answer(struct device *d, const char *rid, int status, const char *body)
{
	char topic[160];

	snprintf(topic, sizeof(topic), "$iothub/methods/res/%d/?$rid=%s",
	    status, rid);
	dev_publish(d, topic, body);
}

/* $iothub/methods/POST/<name>/?$rid=<rid> */
static void
dev_method(struct device *d, const char *rest,
    const struct mosquitto_message *msg)
{
	char name[32], rid[64], body[128];
	const char *slash, *r;
	size_t n;

	if ((slash = strchr(rest, '/')) == NULL ||
	    (size_t)(slash - rest) >= sizeof(name) ||
	    (r = strstr(slash, "?$rid=")) == NULL)
		return;
	n = (size_t)(slash - rest);
	memcpy(name, rest, n);
	name[n] = '\0';
	r += 6;
	n = strcspn(r, "&");
	if (n == 0 || n >= sizeof(rid))
		return;
	memcpy(rid, r, n);
	rid[n] = '\0';
	evc_log("%s: method %s (rid %s, %d bytes)", d->o->device, name, rid,
	    msg->payloadlen);

	if (strcmp(name, "1") == 0) {
		dev_answer(d, rid, 200, "{}");
	} else if (strcmp(name, "501") == 0) {
		if (d->mode == MODE_CHARGING) {
			dev_answer(d, rid, 400,
			    "{\"message\":\"already charging\"}");
			return;
		}
		d->mode = MODE_CHARGING;
		dev_answer(d, rid, 200, "{\"mode\":3}");
		dev_telemetry(d, true, false);
	} else if (strcmp(name, "502") == 0) {
		if (d->mode != MODE_CHARGING) {
			dev_answer(d, rid, 400, "{\"message\":\"not charging\"}");
			return;
		}
		d->mode = MODE_FINISHED;
		dev_answer(d, rid, 200, "{\"mode\":5}");
		dev_telemetry(d, true, false);
	} else if (strcmp(name, "503") == 0) {
		snprintf(body, sizeof(body), "{\"mode\":%d}", d->mode);
		dev_answer(d, rid, 200, body);
		dev_telemetry(d, true, false);
	} else {
		dev_answer(d, rid, 404, "{\"message\":\"unknown method\"}");
	}
}

static void
dev_desired_version(struct device *d, struct json_object *desired)
{
	struct json_object *v;

	if (desired != NULL &&
	    json_object_object_get_ex(desired, "$version", &v))
		d->desired_version = json_object_get_int64(v);
}

static void
on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	struct device *d = arg;
	struct json_object *j, *x;
	const char *t = msg->topic;

	if (d->o->verbose)
		evc_log("%s: <- %s (%d bytes)", d->o->device, t,
		    msg->payloadlen);
	if (strncmp(t, "$iothub/methods/POST/", 21) == 0) {
		dev_method(d, t + 21, msg);
	} else if (strncmp(t, "$iothub/twin/res/200/", 21) == 0) {
		/* Our GET: {"desired":{...},"reported":{...}} */
		j = msg->payloadlen ? json_tokener_parse(msg->payload) : NULL;
		if (j != NULL && json_object_object_get_ex(j, "desired", &x))
			dev_desired_version(d, x);
		json_object_put(j);
		dev_twin_report(d);
	} else if (strncmp(t, "$iothub/twin/res/", 17) == 0) {
		if (strncmp(t + 17, "204/", 4) != 0)
			evc_log("%s: twin request failed: %s", d->o->device,
			    t);
	} else if (strncmp(t, "$iothub/twin/PATCH/properties/desired/",
	    38) == 0) {
		j = msg->payloadlen ? json_tokener_parse(msg->payload) : NULL;
		dev_desired_version(d, j);
		json_object_put(j);
		evc_log("%s: desired properties, $version %lld",
		    d->o->device, (long long)d->desired_version);
		dev_twin_report(d);
	} else {
		evc_log("%s: message on %s", d->o->device, t);
	}
}

static void
on_connect(struct mosquitto *m, void *arg, int rc)
{
	struct device *d = arg;
	char devicebound[128];
	const char *topics[4];
	int i;

	if (rc != 0) {
		evc_log("%s: hub refused the connection: %s", d->o->device,
		    mosquitto_connack_string(rc));
		return;
	}
	evc_log("%s: connected to %s:%d", d->o->device, d->o->host,
	    d->o->port);
	snprintf(devicebound, sizeof(devicebound),
	    "devices/%s/messages/devicebound/#", d->o->device);
	topics[0] = "$iothub/methods/POST/#";
	topics[1] = "$iothub/twin/res/#";
	topics[2] = "$iothub/twin/PATCH/properties/desired/#";
	topics[3] = devicebound;
	d->subs_pending = 0;
	for (i = 0; i < 4; i++)
		if (mosquitto_subscribe(m, NULL, topics[i], 1) ==
		    MOSQ_ERR_SUCCESS)
			d->subs_pending++;
}

static void
on_subscribe(struct mosquitto *m, void *arg, int mid, int n,
    const int *granted)
{
	struct device *d = arg;
	char topic[64];

	if (--d->subs_pending > 0)
		return;
	/* Desired changes arrive only while connected: GET after each
	 * connect, as the hub's documentation says. */
	snprintf(topic, sizeof(topic), "$iothub/twin/GET/?$rid=g%u", ++d->rid);
	dev_publish(d, topic, "");
	dev_telemetry(d, true, !d->ready);
	if (!d->ready) {
		d->ready = true;
		evc_ready(d->o);
	}
}

int
evc_cmd_device(const struct evc_opts *o)
{
	struct device d;
	char user[256];
	int rc, backoff = 1;

	if (o->device == NULL) {
		fprintf(stderr, "evcloud device: --id is required\n");
		return 2;
	}
	memset(&d, 0, sizeof(d));
	d.o = o;
	d.mode = o->mode;
	snprintf(d.topic_events, sizeof(d.topic_events),
	    "devices/%s/messages/events/$.ct=application%%2Fjson&$.ce=utf-8",
	    o->device);
	snprintf(user, sizeof(user), "%s/%s/?api-version=%s", o->host,
	    o->device, EVCLOUD_API_VERSION);
	if ((d.m = evc_connect(o, o->device, user, false, true, &d)) == NULL)
		return 1;
	mosquitto_connect_callback_set(d.m, on_connect);
	mosquitto_subscribe_callback_set(d.m, on_subscribe);
	mosquitto_message_callback_set(d.m, on_message);
	while (!evc_stop) {
		rc = mosquitto_loop(d.m, 500, 1);
		if (rc == MOSQ_ERR_SUCCESS) {
			backoff = 1;
			if (d.ready && time(NULL) >= d.next_pulse)
				dev_telemetry(&d, false, false);
			continue;
		}
		if (evc_stop)
			break;
		/* Short, bounded back-off: this is a test stand-in, not the
		 * vendor's policy (PROTOCOLS.md), which evcharger follows. */
		evc_log("%s: connection lost (%s); reconnecting in %d s",
		    o->device, mosquitto_strerror(rc), backoff);
		sleep((unsigned)backoff);
		backoff = backoff < 8 ? backoff * 2 : 8;
		mosquitto_reconnect(d.m);
	}
	evc_log("%s: stopping", o->device);
	mosquitto_disconnect(d.m);
	mosquitto_loop(d.m, 100, 1);
	mosquitto_destroy(d.m);
	return 0;
}
