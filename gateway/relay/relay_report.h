/*
 * relay_report: the one place where a relayed connection becomes
 * something a person or another program reads: its log line, its event
 * in the fleet log (EVENT_CONNECTION or EVENT_REFUSAL, refusals under
 * the events' refusal policy), its row in "evgatectl connections", and
 * the relay's section of the status.  The relay's state machine reports
 * nothing itself; this adapter is its first record callback.
 */
#ifndef EVG_RELAY_REPORT_H
#define EVG_RELAY_REPORT_H

#include <stdint.h>

struct json_object;
struct control_peer;
struct relay_record;

/*
 * A relay_record_cb (arg unused): logs the end of a relayed connection
 * (info) or a refusal (warning, through events_refusal), and emits its
 * event when anyone stores or shows events.
 */
void	relay_report_record(const struct relay_record *, void *arg);

/* The event form of a record (a new object), as stored in the fleet log. */
struct json_object *relay_record_event(const struct relay_record *,
	    uint64_t now_mono_ms);
/* The live form, one row of "connections" (a new object). */
struct json_object *relay_record_status(const struct relay_record *,
	    uint64_t now_mono_ms);

/* The "relay" status section (an evgated_status_fn; arg: the relay). */
struct json_object *relay_status(void *relay);
/* The "connections" control command (a control_fn; arg: the relay). */
struct json_object *relay_cmd_connections(struct json_object *req,
	    const struct control_peer *, void *relay, char *err,
	    size_t errlen);

#endif
