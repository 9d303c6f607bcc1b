/*
 * relay_report: records into log lines, events and status (see
 * relay_report.h).
 */
#include "evgate_config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/log.h"
#include "common/util.h"
#include "common/control.h"
#include "common/events.h"
#include "relay/relay.h"
#include "relay/relay_report.h"

static uint64_t
duration_ms(const struct relay_record *rec, uint64_t now_mono)
{
	uint64_t end = rec->end_mono_ms ? rec->end_mono_ms : now_mono;

	return end > rec->start_mono_ms ? end - rec->start_mono_ms : 0;
}

struct json_object *
relay_record_event(const struct relay_record *rec, uint64_t now_mono)
{
	struct json_object *o = json_object_new_object();
	char buf[64], num[32];
	uint64_t dur = duration_ms(rec, now_mono);

	if (rec->close == CLOSE_REFUSED)
		json_object_object_add(o, "reason", json_object_new_string(
		    relay_refusal_str(rec->refusal)));
	if (rec->charger[0] != '\0')
		json_object_object_add(o, "charger",
		    json_object_new_string(rec->charger));
	json_object_object_add(o, "client", json_object_new_string(
	    format_addr(&rec->client.sa, buf, sizeof(buf))));
	if (rec->sni != NULL)
		json_object_object_add(o, "sni",
		    json_object_new_string(rec->sni));
	json_object_object_add(o, "port", json_object_new_int(rec->port));
	if (rec->close != CLOSE_REFUSED) {
		if (rec->upstream.sa.sa_family != 0)
			json_object_object_add(o, "upstream",
			    json_object_new_string(format_sockaddr(
			    &rec->upstream.sa, buf, sizeof(buf))));
		json_object_object_add(o, "start", json_object_new_string(
		    format_utc_ms(rec->start_wall_ms, buf, sizeof(buf))));
		snprintf(num, sizeof(num), "%llu.%03u",
		    (unsigned long long)(dur / 1000), (unsigned)(dur % 1000));
		json_object_object_add(o, "duration_s",
		    json_object_new_double_s((double)dur / 1000, num));
		json_object_object_add(o, "bytes_up",
		    json_object_new_int64((int64_t)rec->bytes_up));
		json_object_object_add(o, "bytes_down",
		    json_object_new_int64((int64_t)rec->bytes_down));
		json_object_object_add(o, "reason", json_object_new_string(
		    relay_close_str(rec->close)));
	}
	json_object_object_add(o, "conn", json_object_new_int64(
	    (int64_t)rec->id));
	return o;
}

struct json_object *
relay_record_status(const struct relay_record *rec, uint64_t now_mono)
{
	struct json_object *o = json_object_new_object();
	char buf[64];

	json_object_object_add(o, "id", json_object_new_int64((int64_t)rec->id));
	json_object_object_add(o, "client", json_object_new_string(
	    format_sockaddr(&rec->client.sa, buf, sizeof(buf))));
	json_object_object_add(o, "charger", rec->charger[0] ?
	    json_object_new_string(rec->charger) : NULL);
	json_object_object_add(o, "port", json_object_new_int(rec->port));
	json_object_object_add(o, "sni", rec->sni ?
	    json_object_new_string(rec->sni) : NULL);
	json_object_object_add(o, "upstream", rec->upstream.sa.sa_family ?
	    json_object_new_string(format_sockaddr(&rec->upstream.sa, buf,
	    sizeof(buf))) : NULL);
	json_object_object_add(o, "state",
	    json_object_new_string(relay_state_str(rec->state)));
	json_object_object_add(o, "started", json_object_new_string(
	    format_utc_s(rec->start_wall_ms, buf, sizeof(buf))));
	json_object_object_add(o, "duration_s", json_object_new_double(
	    (double)duration_ms(rec, now_mono) / 1000));
	json_object_object_add(o, "bytes_up",
	    json_object_new_int64((int64_t)rec->bytes_up));
	json_object_object_add(o, "bytes_down",
	    json_object_new_int64((int64_t)rec->bytes_down));
	return o;
}

/* Decimal digits of v at p; the end. */
static char *
put_uint(char *p, unsigned v)
{
	char tmp[10];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/*
 * "a.b.c.d:port" for the close line, which is made for every connection:
 * format_sockaddr's snprintf was 2,800 instructions a call (callgrind,
 * doc/performance.md), this about 100.  IPv6 goes the common way.
 */
static const char *
addr_port(const union sockaddr_any *sa, char *buf, size_t len)
{
	const uint8_t *a = (const uint8_t *)&sa->sin.sin_addr;
	char *p = buf;
	int i;

	if (sa->sa.sa_family != AF_INET || len < sizeof("255.255.255.255:65535"))
		return format_sockaddr(&sa->sa, buf, len);
	for (i = 0; i < 4; i++) {
		p = put_uint(p, a[i]);
		*p++ = i < 3 ? '.' : ':';
	}
	p = put_uint(p, ntohs(sa->sin.sin_port));
	*p = '\0';
	return buf;
}

static void
report_refusal(const struct relay_record *rec, uint64_t now)
{
	char cl[64];

	if (!events_refusal_take())
		return;
	events_refusal(relay_record_event(rec, now),
	    "relay: refused %s%s%s%s on port %u: %s%s%s%s",
	    format_sockaddr(&rec->client.sa, cl, sizeof(cl)),
	    rec->charger[0] ? " (" : "", rec->charger,
	    rec->charger[0] ? ")" : "", rec->port,
	    relay_refusal_str(rec->refusal), rec->sni ? " (SNI " : "",
	    rec->sni ? rec->sni : "", rec->sni ? ")" : "");
}

void
relay_report_record(const struct relay_record *rec, void *arg)
{
	uint64_t now = now_mono_ms(), tenths;
	char cl[64], up[64];

	if (rec->close == CLOSE_REFUSED) {
		report_refusal(rec, now);
		return;
	}
	/* The formatting is not free: only when it will be shown.  The
	 * duration in tenths of a second, rounded, as "%.1f" would print
	 * it, with integers (printf's floating point is the dearer part). */
	if (log_getlevel() >= LOG_LEVEL_INFO) {
		tenths = (duration_ms(rec, now) + 50) / 100;
		log_info("relay: #%llu %s%s%s%s -> %s (%s) closed: %s, "
		    "%llu.%us, up %llu B, down %llu B",
		    (unsigned long long)rec->id,
		    addr_port(&rec->client, cl, sizeof(cl)),
		    rec->charger[0] ? " (" : "", rec->charger,
		    rec->charger[0] ? ")" : "",
		    rec->sni ? rec->sni : "-",
		    rec->upstream.sa.sa_family ?
		    addr_port(&rec->upstream, up, sizeof(up)) : "-",
		    relay_close_str(rec->close),
		    (unsigned long long)(tenths / 10), (unsigned)(tenths % 10),
		    (unsigned long long)rec->bytes_up,
		    (unsigned long long)rec->bytes_down);
	}
	/*
	 * Building the event is most of the relay's user-space work per
	 * short connection (callgrind, doc/performance.md): skip it when
	 * nobody stores or shows it.
	 */
	if (!events_recording() && log_getlevel() < LOG_LEVEL_DEBUG)
		return;
	events_emit(EVENT_CONNECTION, relay_record_event(rec, now));
}

struct json_object *
relay_status(void *arg)
{
	struct relay *relay = arg;
	struct json_object *r = json_object_new_object(), *rf, *st;
	struct relay_counters ctr;
	int i;

#define ADD_INT(o, k, v) json_object_object_add((o), (k), \
	json_object_new_int64((int64_t)(v)))
	relay_counters(relay, &ctr);
	json_object_object_add(r, "enabled",
	    json_object_new_boolean(relay_conf(relay) != NULL));
	ADD_INT(r, "listeners", ctr.listeners);
	ADD_INT(r, "active", ctr.active);
	st = json_object_new_object();
	for (i = 0; i < RELAY_NSTATES; i++)
		ADD_INT(st, relay_state_str(i), ctr.by_state[i]);
	json_object_object_add(r, "by_state", st);
	ADD_INT(r, "accepted", ctr.accepted);
	ADD_INT(r, "relayed", ctr.relayed);
	ADD_INT(r, "closed", ctr.closed);
	rf = json_object_new_object();
	for (i = 0; i < REFUSE_NREASONS; i++)
		ADD_INT(rf, relay_refusal_str(i), ctr.refused[i]);
	json_object_object_add(r, "refused", rf);
	rf = json_object_new_object();
	for (i = 1; i < CLOSE_NREASONS; i++)
		ADD_INT(rf, relay_close_str(i), ctr.closes[i]);
	json_object_object_add(r, "closes", rf);
	ADD_INT(r, "bytes_up", ctr.bytes_up);
	ADD_INT(r, "bytes_down", ctr.bytes_down);
	ADD_INT(r, "pipes_in_use", ctr.pipes_in_use);
	ADD_INT(r, "pipes_pooled", ctr.pipes_pooled);
	ADD_INT(r, "pipes_big", ctr.pipes_big);
	ADD_INT(r, "accept_errors", ctr.accept_errors);
	ADD_INT(r, "copy_fallbacks", ctr.copy_fallbacks);
	ADD_INT(r, "max_connections", relay_max_conns(relay));
#undef ADD_INT
	return r;
}

struct list_arg {
	struct json_object	*list;
	uint64_t		 now;
};

static void
add_connection(const struct relay_record *rec, void *arg)
{
	struct list_arg *la = arg;

	json_object_array_add(la->list, relay_record_status(rec, la->now));
}

struct json_object *
relay_cmd_connections(struct json_object *req, const struct control_peer *peer,
    void *arg, char *err, size_t errlen)
{
	struct json_object *o = json_object_new_object();
	struct list_arg la;

	la.list = json_object_new_array();
	la.now = now_mono_ms();
	relay_foreach(arg, add_connection, &la);
	json_object_object_add(o, "connections", la.list);
	return o;
}
