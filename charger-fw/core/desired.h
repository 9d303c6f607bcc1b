/*
 * desired: the charger's settings the cloud may change through the
 * twin's desired properties, and the acknowledgement it reports back.
 *
 *   "maxCurrent": 6..32          the most current offered (A), whatever
 *                                method 501 asks; null: no limit
 *   "telemetry": {"pulseIdle": s, "pulseCharging": s,
 *                 "meterInterval": s}   10..86400 each; null: configured
 *
 * Other members ("firmware" belongs to the update engine) are not ours
 * and left alone.  A value out of range keeps the old one and is
 * reported with "ac":400 (the IoT Plug and Play convention for writable
 * properties: value, ac = status, av = desired version, ad =
 * description); accepted ones with "ac":200.  A whole document (the GET
 * after a reconnect) sets what it names and resets what it does not; a
 * PATCH changes only what it names.  Pure and bounded (fuzzed:
 * tests/fuzz/fuzz_desired.c).
 */
#ifndef EVFW_DESIRED_H
#define EVFW_DESIRED_H

#include <stddef.h>
#include <stdint.h>

#define DESIRED_DOC_MAX		(64 * 1024)
#define DESIRED_ACK_MAX		512
#define DESIRED_STATE_MAX	128	/* desired_encode's text */

struct desired_settings {
	unsigned	max_current_a;		/* 0: no limit */
	unsigned	pulse_idle_s;		/* 0: as configured */
	unsigned	pulse_charging_s;
	unsigned	meter_interval_s;
};

enum desired_status {
	DESIRED_OK = 0,
	DESIRED_TOO_LARGE,
	DESIRED_BAD_JSON,
	DESIRED_NOT_OBJECT,
};

/*
 * Apply a desired document (full) or patch of len bytes to s, which is
 * changed only on DESIRED_OK; the reported acknowledgement (JSON object,
 * with "desiredVersion": version) goes into ack.
 */
enum desired_status desired_apply(struct desired_settings *, const char *,
	    size_t, int full, int64_t version, char *ack, size_t cap);
const char *desired_strerror(enum desired_status);

/* The settings and their version as one line of text, and back. */
int	 desired_encode(const struct desired_settings *, int64_t version,
	    char *, size_t);
int	 desired_decode(const char *, size_t, struct desired_settings *,
	    int64_t *version);

#endif
