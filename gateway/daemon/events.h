/*
 * events: the one place where the daemon's modules report what happened to
 * a charger or to the site (a lease, a relayed connection, a refusal, a
 * time-state change, a dnsmasq restart, a reload).  The module that saw it
 * builds one JSON object and emits it; whoever records events (the fleet
 * log) subscribes as the sink.  Without a sink an event is only logged at
 * debug level.  One thread: emit and the sink run on the daemon's loop.
 */
#ifndef EVG_EVENTS_H
#define EVG_EVENTS_H

#include <stdint.h>

struct json_object;

/* Event types: the "type" member of every event. */
#define EVENT_LEASE		"lease"		/* DHCP lease add/old/del */
#define EVENT_CONNECTION	"connection"	/* a relayed connection ended */
#define EVENT_REFUSAL		"refusal"	/* a connection was refused */
#define EVENT_TIME		"time"		/* NTP sync state changed */
#define EVENT_DNSMASQ		"dnsmasq"	/* started, exited, restarted */
#define EVENT_RELOAD		"reload"	/* configuration reloaded/failed */
#define EVENT_DAEMON		"daemon"	/* evgated started/stopped */

/*
 * The sink receives every event after "type" and "ts" were set.  It
 * borrows ev (take a reference with json_object_get to keep it).
 */
typedef void (*events_sink_fn)(struct json_object *ev, void *arg);

/* Set (or with NULL clear) the sink. */
void	events_set_sink(events_sink_fn, void *arg);

/*
 * Report an event.  fields is taken over (it may be NULL for none); the
 * members "type" (type) and "ts" (RFC 3339 UTC with milliseconds, now
 * unless fields already has one) are added.
 */
void	events_emit(const char *type, struct json_object *fields);

/* Milliseconds since the epoch as "2026-11-25T08:09:10.123Z". */
const char *events_format_ts(uint64_t wall_ms, char *buf, size_t len);

/* How many events were emitted since start (for status and metrics). */
uint64_t events_count(void);

#endif
