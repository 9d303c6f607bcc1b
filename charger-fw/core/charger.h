/*
 * charger: the operation-mode state machine, its direct methods and its
 * telemetry.  Inputs: the HAL car state (charger_car_event), direct
 * methods (charger_method) and time (charger_tick).  Outputs: the HAL
 * contactor, and telemetry handed to cb.publish.
 *
 * Modes (observation 710): 1 disconnected, 2 connected and requesting
 * (car plugged in, no energy flowing: waits for 501 start), 3 charging,
 * 5 connected finished (the car is full, or paused by 506).  A session
 * starts with the first 501 after plug-in and ends at unplug, when its
 * summary (723) goes up.
 *
 * Sessions survive power cuts: the start (id, user, meter, time, the
 * current granted) is kept in the kv store ("session") when it begins,
 * its progress every progress_s, and its end before the record goes out.
 * After a restart a session left open is resumed when the car is still
 * plugged in (charging again if it was), and closed otherwise, its end
 * the last progress and the meter's register as it is; a session whose
 * record was made but perhaps not stored is recorded once (cb.recorded
 * says whether the store has it).  Steps, each durable before the next:
 * kv "session" -> 721 | progress ... | kv "session" ended -> 723 stored
 * (by cb.publish) -> kv "session" removed.
 *
 * Telemetry is kept small: periodic meter values carry power and session
 * energy, and volts and amps only when they moved; a pulse (-1) goes up
 * only when nothing else did for its interval; charger_set_stretch
 * lengthens the periodic intervals (the daily data budget), never a
 * session record or a state change.
 *
 * Method rules (reply 200 done, 400 refused):
 *   1 ping: 200.   102 restart: 200, then cb.reboot.
 *   501 start [A, phases]: 400 without a car, with a full car, or while
 *       paused; 200 starts (or changes current while charging); the
 *       current is capped at the limit the cloud set (maxCurrent).
 *   502 stop: 400 unless charging; 200 opens the contactor (mode 2).
 *   503 report: 200 and the full state goes up at once.
 *   504 session id, 505 user id: 400 on a bad value.
 *   506 pause (stop final): 400 without a car or when paused already.
 *   507 resume: 400 unless paused; resumes charging if it was charging.
 */
#ifndef EVFW_CHARGER_H
#define EVFW_CHARGER_H

#include <stddef.h>
#include <stdint.h>

#include "core/method.h"

enum charger_mode {
	CHARGER_UNKNOWN = 0,
	CHARGER_DISCONNECTED = 1,
	CHARGER_REQUESTING = 2,
	CHARGER_CHARGING = 3,
	CHARGER_FINISHED = 5,
};

struct charger_cfg {
	unsigned	meter_interval_s;	/* while charging; default 60 */
	unsigned	pulse_idle_s;		/* default 600 */
	unsigned	pulse_charging_s;	/* default 180 */
	unsigned	default_current_a;	/* 501 without arguments */
	unsigned	progress_s;		/* session kept; default 300 */
};

/* What the cloud may set (twin desired properties); 0: as configured. */
struct charger_limits {
	unsigned	max_current_a;		/* 0: no limit */
	unsigned	pulse_idle_s;
	unsigned	pulse_charging_s;
	unsigned	meter_interval_s;
};

struct tel_msg;

struct charger_cb {
	/* A message: its observations (key set for a session record) and
	 * its JSON text. */
	void	(*publish)(void *arg, const struct tel_msg *, const char *json);
	void	(*reboot)(void *arg);
	/* A charging session began (1) or ended (0). */
	void	(*session)(void *arg, int active);
	/* Is the session record with this key stored already? */
	int	(*recorded)(void *arg, uint32_t key);
	/* Bytes so far, at the interface and MQTT level (monotonic across
	 * reboots): a session's record says what it cost. */
	void	(*bytes)(void *arg, uint64_t *iface, uint64_t *mqtt);
	void	*arg;
};

struct charger_status {
	enum charger_mode mode;
	int		paused;
	int		car;		/* enum hal_car */
	unsigned	current_a;
	unsigned	max_current_a;	/* 0: no limit */
	unsigned	phases;
	double		power_w;
	double		session_wh;
	double		meter_wh;
	int		in_session;
	char		session_id[METHOD_TEXT_MAX + 1];
	char		user_id[METHOD_TEXT_MAX + 1];
	unsigned long	sessions;	/* completed since boot */
	unsigned long	resumed;	/* sessions taken up after a restart */
	unsigned long	closed;		/* ... or closed after it */
	unsigned long	published;
	unsigned	stretch;	/* periodic intervals x this */
};

struct charger;

struct charger *charger_new(const struct charger_cfg *,
	    const struct charger_cb *);
void	 charger_free(struct charger *);
/* Read the car and set the initial mode (no telemetry yet). */
void	 charger_start(struct charger *, uint64_t now_ms);
void	 charger_car_event(struct charger *, uint64_t now_ms);
/*
 * A direct method with its raw payload; returns the HTTP-like status and
 * writes the JSON reply body into reply.
 */
int	 charger_method(struct charger *, int id, const uint8_t *, size_t,
	    uint64_t now_ms, char *reply, size_t cap);
/* Publish the complete state (on every cloud connect, and for 503). */
void	 charger_report(struct charger *, uint64_t now_ms);
void	 charger_tick(struct charger *, uint64_t now_ms);
/*
 * New limits, effective at once: a running session's current is lowered
 * to the new maximum (the contactor is told), the next pulse and meter
 * values follow the new intervals.
 */
void	 charger_set_limits(struct charger *, const struct charger_limits *,
	    uint64_t now_ms);
/* Periodic intervals x factor (>= 1): the daily data budget. */
void	 charger_set_stretch(struct charger *, unsigned factor, uint64_t now_ms);
uint64_t charger_deadline(const struct charger *);
void	 charger_status(struct charger *, struct charger_status *);
const char *charger_mode_name(enum charger_mode);

#endif
