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
#define EVENT_ROLE		"role"		/* a pair's box changed role */
#define EVENT_PAIR		"pair"		/* the link to the peer box */

/*
 * The sink receives every event after "type" and "ts" were set.  It
 * borrows ev (take a reference with json_object_get to keep it).
 */
typedef void (*events_sink_fn)(struct json_object *ev, void *arg);

/* Set (or with NULL clear) the sink. */
void	events_set_sink(events_sink_fn, void *arg);
/*
 * Does the sink store events now (the fleet log is on)?  Set by the
 * daemon on every commit; a reporter may skip building an event nobody
 * stores (events_recording() is 0 and debug logging is off).
 */
void	events_set_recording(int);
int	events_recording(void);

/*
 * The box's name (the pair section's): every event carries it as "box",
 * so that the fleet logs of a pair's two boxes can be merged (NULL: no
 * box member, a single gateway).  Copied.
 */
void	events_set_box(const char *name);
const char *events_box(void);

/*
 * Report an event.  fields is taken over (it may be NULL for none); the
 * members "type" (type) and "ts" (RFC 3339 UTC with milliseconds, util.h's format_utc_ms, now
 * unless fields already has one) are added, and "box" when a box name
 * is set.
 */
void	events_emit(const char *type, struct json_object *fields);

/*
 * A refusal: what anyone on the LAN can cause at will (a refused relay
 * connection, a DHCP request from an unknown MAC).  One policy for every
 * kind: a token bucket lets EVENTS_REFUSAL_BURST through, then
 * EVENTS_REFUSAL_RATE a second.  One that gets through is logged (the
 * message, as a warning) and emitted as EVENT_REFUSAL; the first after a
 * gap carries "suppressed": N (and the log line says so).  A flood can
 * then neither rotate the site's history out of the fleet log nor fill
 * the system log; the modules' own counters still count every refusal.
 *
 * Two steps, so that nothing is built for a refusal left out:
 *	if (events_refusal_take())
 *		events_refusal(fields, "relay: refused %s", ...);
 * take returns 1 when this refusal is to be reported (then report it),
 * 0 when it is left out (counted).  events_refusal takes fields over.
 */
#define EVENTS_REFUSAL_BURST	200
#define EVENTS_REFUSAL_RATE	20	/* a second, after the burst */
int	events_refusal_take(void);
void	events_refusal(struct json_object *fields, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Refusals left out since start. */
uint64_t events_refusals_suppressed(void);


/* How many events were emitted since start (for status and metrics). */
uint64_t events_count(void);

#endif
