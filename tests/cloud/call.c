/*
 * call, twin-set: the cloud acting on one device, the way a service
 * application uses a real hub.
 *
 * call: publishes hub-to/<id>/methods/POST/<method>/?$rid=<rid> (the
 * plugin hands it to that device alone as $iothub/methods/POST/...) and
 * waits for hub/<id>/methods/res/<status>/?$rid=<rid>.  Like the hub's
 * service API it gives up after the timeout (the hub answers 504 then).
 *
 * twin-set: asks "evcloud serve", which holds the twins, to apply a
 * desired-properties patch; serve pushes it to the device.
 */
#include "evgate_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "evcloud.h"

struct call {
	const struct evc_opts	*o;
	char			 sub[256];	/* what we wait on */
	char			 pub[256];	/* what we send */
	const char		*payload;
	char			 rid[32];
	bool			 sent;
	bool			 done;
	int			 status;
	char			*answer;
	int			 answer_len;
	int			 connack;	/* -1 until known */
};

static void
call_on_connect(struct mosquitto *m, void *arg, int rc)
{
	struct call *c = arg;

	c->connack = rc;
	if (rc != 0) {
		evc_log("hub refused the connection: %s",
		    mosquitto_connack_string(rc));
		return;
	}
	/* Subscribe first, send once subscribed: no answer can be missed. */
	mosquitto_subscribe(m, NULL, c->sub, 1);
}

static void
call_on_subscribe(struct mosquitto *m, void *arg, int mid, int n,
    const int *granted)
{
	struct call *c = arg;
	int rc;

	if (c->sent)
		return;
	if (n < 1 || granted[0] > 2) {
		evc_log("subscription to %s refused", c->sub);
		c->done = true;
		c->status = -1;
		return;
	}
	rc = mosquitto_publish(m, NULL, c->pub, (int)strlen(c->payload),
	    c->payload, 1, false);
	if (rc != MOSQ_ERR_SUCCESS) {
		evc_log("publish %s: %s", c->pub, mosquitto_strerror(rc));
		c->done = true;
		c->status = -1;
		return;
	}
	c->sent = true;
	if (c->o->verbose)
		evc_log("-> %s %s", c->pub, c->payload);
}

/* methods: hub/<id>/methods/res/<status>/?$rid=<rid> */
static void
call_on_message(struct mosquitto *m, void *arg,
    const struct mosquitto_message *msg)
{
	struct call *c = arg;
	const char *p, *r;
	char *end;
	long st;

	if (c->o->verbose)
		evc_log("<- %s", msg->topic);
	if (strncmp(msg->topic, c->sub, strlen(c->sub) - 1) != 0)
		return;
	p = msg->topic + strlen(c->sub) - 1;	/* c->sub ends in "#" */
	st = strtol(p, &end, 10);
	if (end == p || *end != '/' || (r = strstr(end, "?$rid=")) == NULL)
		return;
	r += 6;
	if (strncmp(r, c->rid, strlen(c->rid)) != 0 ||
	    (r[strlen(c->rid)] != '\0' && r[strlen(c->rid)] != '&'))
		return;		/* someone else's answer */
	c->status = (int)st;
	if ((c->answer = malloc((size_t)msg->payloadlen + 1)) != NULL) {
		memcpy(c->answer, msg->payload, (size_t)msg->payloadlen);
		c->answer[msg->payloadlen] = '\0';
		c->answer_len = msg->payloadlen;
	}
	c->done = true;
}

/* twin-set: evcloud/twin-set-done/<id> carries {"$version":n}. */
static void
twin_on_message(struct mosquitto *m, void *arg,
    const struct mosquitto_message *msg)
{
	struct call *c = arg;

	if (strcmp(msg->topic, c->sub) != 0)
		return;
	c->status = 200;
	if ((c->answer = malloc((size_t)msg->payloadlen + 1)) != NULL) {
		memcpy(c->answer, msg->payload, (size_t)msg->payloadlen);
		c->answer[msg->payloadlen] = '\0';
		c->answer_len = msg->payloadlen;
	}
	c->done = true;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Connects, lets the callbacks do their work and waits for c->done or
 * the timeout.  Returns 0 when done, 2 on timeout, 3 when the hub could
 * not be reached or refused us.
 */
static int
call_run(struct call *c, void (*on_msg)(struct mosquitto *, void *,
    const struct mosquitto_message *))
{
	struct mosquitto *m;
	char clientid[64];
	double deadline;
	int rc, ret = 2;

	snprintf(clientid, sizeof(clientid), "evcloud-%d-%s", (int)getpid(),
	    c->rid);
	c->connack = -1;
	m = evc_connect(c->o, clientid, c->o->user, true, false, c);
	if (m == NULL)
		return 3;
	mosquitto_connect_callback_set(m, call_on_connect);
	mosquitto_subscribe_callback_set(m, call_on_subscribe);
	mosquitto_message_callback_set(m, on_msg);
	deadline = now_s() + c->o->timeout;
	while (!c->done && !evc_stop && now_s() < deadline) {
		rc = mosquitto_loop(m, 200, 1);
		if (c->connack > 0) {
			ret = 3;
			break;
		}
		if (rc != MOSQ_ERR_SUCCESS) {
			evc_log("connection lost: %s", mosquitto_strerror(rc));
			ret = 3;
			break;
		}
	}
	if (c->done)
		ret = 0;
	mosquitto_disconnect(m);
	mosquitto_loop(m, 100, 1);
	mosquitto_destroy(m);
	return ret;
}

static void
make_rid(char *buf, size_t len)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	srandom((unsigned)(ts.tv_nsec ^ getpid()));
	snprintf(buf, len, "%lx%04lx", (unsigned long)ts.tv_sec & 0xfffff,
	    (unsigned long)random() & 0xffff);
}

int
evc_cmd_call(const struct evc_opts *o)
{
	struct json_object *pj, *out;
	struct call c;
	int rc;

	if (o->device == NULL || o->method == NULL) {
		fprintf(stderr, "evcloud call: --device and --method are "
		    "required\n");
		return 2;
	}
	if (strpbrk(o->method, "/+#") != NULL || o->method[0] == '\0') {
		fprintf(stderr, "evcloud call: bad method name\n");
		return 2;
	}
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.payload = o->payload ? o->payload : "{}";
	/* The hub only carries JSON method payloads. */
	if ((pj = json_tokener_parse(c.payload)) == NULL &&
	    strcmp(c.payload, "null") != 0) {
		fprintf(stderr, "evcloud call: --payload is not JSON\n");
		return 2;
	}
	json_object_put(pj);
	make_rid(c.rid, sizeof(c.rid));
	snprintf(c.sub, sizeof(c.sub), "hub/%s/methods/res/#", o->device);
	snprintf(c.pub, sizeof(c.pub), "hub-to/%s/methods/POST/%s/?$rid=%s",
	    o->device, o->method, c.rid);
	rc = call_run(&c, call_on_message);
	if (rc == 2) {
		if (o->json)
			printf("{\"status\":504,\"payload\":null,"
			    "\"error\":\"timeout\"}\n");
		else
			fprintf(stderr, "evcloud call: %s did not answer "
			    "method %s within %d s\n", o->device, o->method,
			    o->timeout);
		return 2;
	}
	if (rc != 0 || c.status < 0) {
		free(c.answer);
		return 3;
	}
	if (o->json) {
		out = json_object_new_object();
		json_object_object_add(out, "status",
		    json_object_new_int(c.status));
		pj = c.answer ? json_tokener_parse(c.answer) : NULL;
		json_object_object_add(out, "payload", pj ? pj :
		    json_object_new_string(c.answer ? c.answer : ""));
		printf("%s\n", json_object_to_json_string_ext(out,
		    JSON_C_TO_STRING_PLAIN));
		json_object_put(out);
	} else {
		printf("%d %s\n", c.status, c.answer ? c.answer : "");
	}
	free(c.answer);
	return c.status == 200 ? 0 : 1;
}

int
evc_cmd_twin_set(const struct evc_opts *o)
{
	struct json_object *pj;
	struct call c;
	int rc;

	if (o->device == NULL || o->payload == NULL) {
		fprintf(stderr, "evcloud twin-set: --device and a JSON patch "
		    "are required\n");
		return 2;
	}
	if ((pj = json_tokener_parse(o->payload)) == NULL ||
	    !json_object_is_type(pj, json_type_object)) {
		fprintf(stderr, "evcloud twin-set: the patch must be a JSON "
		    "object\n");
		json_object_put(pj);
		return 2;
	}
	json_object_put(pj);
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.payload = o->payload;
	make_rid(c.rid, sizeof(c.rid));
	snprintf(c.sub, sizeof(c.sub), "evcloud/twin-set-done/%s", o->device);
	snprintf(c.pub, sizeof(c.pub), "evcloud/twin-set/%s", o->device);
	rc = call_run(&c, twin_on_message);
	if (rc == 2) {
		fprintf(stderr, "evcloud twin-set: no answer from \"evcloud "
		    "serve\" within %d s\n", o->timeout);
		return 2;
	}
	if (rc != 0) {
		free(c.answer);
		return 3;
	}
	printf("%s\n", c.answer ? c.answer : "");
	free(c.answer);
	return 0;
}
