/*
 * charger: see charger.h.  Every mode change goes through charger_set_mode,
 * which publishes 710 at once; timers are deadlines on the monotonic
 * clock passed in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/charger.h"
#include "core/fwlog.h"
#include "core/telemetry.h"
#include "hal/hal.h"

#define SEC	1000ULL
#define NEVER	UINT64_MAX

struct charger {
	struct charger_cfg	 cfg;
	struct charger_limits	 lim;
	struct charger_cb	 cb;
	enum charger_mode	 mode;
	enum hal_car		 car;
	int			 paused;
	int			 was_charging;	/* before a pause */
	unsigned		 current_a;
	unsigned		 phases;
	int			 in_session;
	double			 session_start_wh;
	double			 session_last_wh;
	int64_t			 session_start_wall;
	char			 session_id[METHOD_TEXT_MAX + 1];
	char			 user_id[METHOD_TEXT_MAX + 1];
	uint64_t		 next_meter;
	uint64_t		 next_pulse;
	unsigned long		 sessions;
	unsigned long		 published;
};

const char *
charger_mode_name(enum charger_mode m)
{
	switch (m) {
	case CHARGER_DISCONNECTED:
		return "disconnected";
	case CHARGER_REQUESTING:
		return "requesting";
	case CHARGER_CHARGING:
		return "charging";
	case CHARGER_FINISHED:
		return "finished";
	default:
		return "unknown";
	}
}

static void
charger_publish(struct charger *c, const struct tel_msg *m)
{
	char *json;

	if (m->n == 0 || c->cb.publish == NULL)
		return;
	if ((json = tel_encode(m, hal_wall_ms())) == NULL)
		return;
	c->published++;
	c->cb.publish(c->cb.arg, json);
	free(json);
}

static void
add_meter(struct charger *c, struct tel_msg *m)
{
	struct hal_meter mv;

	if (hal_meter_read(&mv) == -1)
		return;
	tel_addf(m, TEL_VOLTAGE1, TEL_DECIMAL, "%.1f", mv.voltage[0]);
	tel_addf(m, TEL_VOLTAGE2, TEL_DECIMAL, "%.1f", mv.voltage[1]);
	tel_addf(m, TEL_VOLTAGE3, TEL_DECIMAL, "%.1f", mv.voltage[2]);
	tel_addf(m, TEL_CURRENT1, TEL_DECIMAL, "%.2f", mv.current[0]);
	tel_addf(m, TEL_CURRENT2, TEL_DECIMAL, "%.2f", mv.current[1]);
	tel_addf(m, TEL_CURRENT3, TEL_DECIMAL, "%.2f", mv.current[2]);
	tel_addf(m, TEL_POWER, TEL_DECIMAL, "%.0f", mv.power);
	if (c->in_session) {
		c->session_last_wh = mv.energy;
		tel_addf(m, TEL_SESSION_ENERGY, TEL_DECIMAL, "%.3f",
		    (mv.energy - c->session_start_wh) / 1000.0);
	}
}

static uint64_t
pulse_interval(const struct charger *c)
{
	unsigned s;

	if (c->mode == CHARGER_CHARGING)
		s = c->lim.pulse_charging_s != 0 ? c->lim.pulse_charging_s :
		    c->cfg.pulse_charging_s;
	else
		s = c->lim.pulse_idle_s != 0 ? c->lim.pulse_idle_s :
		    c->cfg.pulse_idle_s;
	return s * SEC;
}

static uint64_t
meter_interval(const struct charger *c)
{
	return (c->lim.meter_interval_s != 0 ? c->lim.meter_interval_s :
	    c->cfg.meter_interval_s) * SEC;
}

/* The current to offer for a request of want A (0: the default). */
static unsigned
offered_current(const struct charger *c, unsigned want)
{
	unsigned a = want != 0 ? want : c->cfg.default_current_a;

	if (c->lim.max_current_a != 0 && a > c->lim.max_current_a)
		a = c->lim.max_current_a;
	return a;
}

static void
charger_set_mode(struct charger *c, enum charger_mode mode, uint64_t now)
{
	struct tel_msg m;

	if (c->mode == mode)
		return;
	fw_info("charger: %s -> %s", charger_mode_name(c->mode),
	    charger_mode_name(mode));
	c->mode = mode;
	tel_init(&m);
	tel_addf(&m, TEL_MODE, TEL_INT, "%d", (int)mode);
	/* Energy flow starts or stops: the meter goes up with it. */
	add_meter(c, &m);
	charger_publish(c, &m);
	c->next_meter = mode == CHARGER_CHARGING ?
	    now + meter_interval(c) : NEVER;
	c->next_pulse = now + pulse_interval(c);
}

static void
publish_one(struct charger *c, int id, enum tel_type type, const char *v)
{
	struct tel_msg m;

	tel_init(&m);
	tel_add(&m, id, type, v);
	charger_publish(c, &m);
}

static void
session_begin(struct charger *c)
{
	struct hal_meter mv;
	uint8_t r[8];
	size_t i;

	if (c->in_session)
		return;
	if (hal_meter_read(&mv) == -1)
		memset(&mv, 0, sizeof(mv));
	c->in_session = 1;
	c->session_start_wh = c->session_last_wh = mv.energy;
	c->session_start_wall = hal_wall_ms();
	if (c->session_id[0] == '\0') {
		/* No id from the cloud (504) yet: make one. */
		hal_random(r, sizeof(r));
		for (i = 0; i < sizeof(r); i++)
			snprintf(c->session_id + 2 * i, 3, "%02x", r[i]);
	}
	publish_one(c, TEL_SESSION_ID, TEL_TEXT, c->session_id);
	if (c->cb.session != NULL)
		c->cb.session(c->cb.arg, 1);
}

static void
session_end(struct charger *c)
{
	struct hal_meter mv;
	char start[32], end[32], sum[TEL_VALUE_MAX], kwh[32];
	struct json_object *o;

	if (!c->in_session)
		return;
	if (hal_meter_read(&mv) == 0)
		c->session_last_wh = mv.energy;
	tel_time(c->session_start_wall, start, sizeof(start));
	tel_time(hal_wall_ms(), end, sizeof(end));
	/* json-c escapes the ids (they may hold quotes). */
	o = json_object_new_object();
	json_object_object_add(o, "SessionId",
	    json_object_new_string(c->session_id));
	json_object_object_add(o, "UserId", json_object_new_string(c->user_id));
	json_object_object_add(o, "StartDateTime",
	    json_object_new_string(start));
	json_object_object_add(o, "EndDateTime", json_object_new_string(end));
	snprintf(kwh, sizeof(kwh), "%.3f",
	    (c->session_last_wh - c->session_start_wh) / 1000.0);
	json_object_object_add(o, "Energy", json_object_new_double_s(
	    (c->session_last_wh - c->session_start_wh) / 1000.0, kwh));
	snprintf(sum, sizeof(sum), "%s", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	publish_one(c, TEL_SESSION_DONE, TEL_JSON, sum);
	fw_info("charger: session %s ended, %.3f kWh", c->session_id,
	    (c->session_last_wh - c->session_start_wh) / 1000.0);
	c->in_session = 0;
	c->sessions++;
	c->session_id[0] = '\0';
	c->user_id[0] = '\0';
	if (c->cb.session != NULL)
		c->cb.session(c->cb.arg, 0);
}

static void
contactor(struct charger *c, int on)
{
	if (hal_contactor_set(on, c->current_a, c->phases) == -1)
		fw_err("charger: contactor did not switch %s",
		    on ? "on" : "off");
}

struct charger *
charger_new(const struct charger_cfg *cfg, const struct charger_cb *cb)
{
	struct charger *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->cfg = *cfg;
	if (c->cfg.meter_interval_s == 0)
		c->cfg.meter_interval_s = 60;
	if (c->cfg.pulse_idle_s == 0)
		c->cfg.pulse_idle_s = 600;
	if (c->cfg.pulse_charging_s == 0)
		c->cfg.pulse_charging_s = 180;
	if (c->cfg.default_current_a == 0)
		c->cfg.default_current_a = 16;
	if (cb != NULL)
		c->cb = *cb;
	c->mode = CHARGER_UNKNOWN;
	c->phases = 3;
	c->next_meter = c->next_pulse = NEVER;
	return c;
}

void
charger_free(struct charger *c)
{
	free(c);
}

void
charger_start(struct charger *c, uint64_t now)
{
	contactor(c, 0);
	c->car = hal_car_state();
	c->mode = c->car == HAL_CAR_ABSENT ? CHARGER_DISCONNECTED :
	    CHARGER_REQUESTING;
	c->next_pulse = now + pulse_interval(c);
}

void
charger_car_event(struct charger *c, uint64_t now)
{
	enum hal_car car = hal_car_state();
	int on = c->mode == CHARGER_CHARGING ||
	    (c->mode == CHARGER_FINISHED && !c->paused && c->in_session &&
	    c->car == HAL_CAR_FULL);

	if (car == c->car)
		return;
	c->car = car;
	switch (car) {
	case HAL_CAR_ABSENT:
		contactor(c, 0);
		if (c->paused) {
			c->paused = 0;
			publish_one(c, TEL_FINAL_STOP, TEL_INT, "0");
		}
		c->was_charging = 0;
		charger_set_mode(c, CHARGER_DISCONNECTED, now);
		session_end(c);
		break;
	case HAL_CAR_PLUGGED:
		/* A full car asking again resumes where it was. */
		charger_set_mode(c, on ? CHARGER_CHARGING : c->paused ?
		    CHARGER_FINISHED : CHARGER_REQUESTING, now);
		break;
	case HAL_CAR_FULL:
		charger_set_mode(c, on || c->paused ? CHARGER_FINISHED :
		    CHARGER_REQUESTING, now);
		break;
	}
}

static int
reply_err(char *reply, size_t cap, const char *why)
{
	snprintf(reply, cap, "{\"error\":\"%s\"}", why);
	return 400;
}

int
charger_method(struct charger *c, int id, const uint8_t *payload,
    size_t len, uint64_t now, char *reply, size_t cap)
{
	struct method_args a;
	enum method_status st;

	snprintf(reply, cap, "{}");
	if ((st = method_parse_payload(id, payload, len, &a)) != METHOD_OK)
		return reply_err(reply, cap, method_strerror(st));
	switch (id) {
	case METHOD_PING:
		return 200;
	case METHOD_RESTART:
		if (c->cb.reboot != NULL)
			c->cb.reboot(c->cb.arg);
		return 200;
	case METHOD_START:
		if (c->car == HAL_CAR_ABSENT)
			return reply_err(reply, cap, "no car connected");
		if (c->car == HAL_CAR_FULL)
			return reply_err(reply, cap, "car is not requesting");
		if (c->paused)
			return reply_err(reply, cap, "paused: resume with 507");
		c->current_a = offered_current(c, a.current_a);
		c->phases = a.phases;
		session_begin(c);
		contactor(c, 1);
		charger_set_mode(c, CHARGER_CHARGING, now);
		return 200;
	case METHOD_STOP:
		if (c->mode != CHARGER_CHARGING)
			return reply_err(reply, cap, "not charging");
		contactor(c, 0);
		charger_set_mode(c, CHARGER_REQUESTING, now);
		return 200;
	case METHOD_REPORT:
		charger_report(c, now);
		return 200;
	case METHOD_SESSION_ID:
		snprintf(c->session_id, sizeof(c->session_id), "%s", a.text);
		publish_one(c, TEL_SESSION_ID, TEL_TEXT, c->session_id);
		return 200;
	case METHOD_USER_ID:
		snprintf(c->user_id, sizeof(c->user_id), "%s", a.text);
		return 200;
	case METHOD_PAUSE:
		if (c->car == HAL_CAR_ABSENT)
			return reply_err(reply, cap, "no car connected");
		if (c->paused)
			return reply_err(reply, cap, "already paused");
		c->was_charging = c->mode == CHARGER_CHARGING;
		c->paused = 1;
		contactor(c, 0);
		publish_one(c, TEL_FINAL_STOP, TEL_INT, "1");
		charger_set_mode(c, CHARGER_FINISHED, now);
		return 200;
	case METHOD_RESUME:
		if (!c->paused)
			return reply_err(reply, cap, "not paused");
		c->paused = 0;
		publish_one(c, TEL_FINAL_STOP, TEL_INT, "0");
		if (c->was_charging && c->car == HAL_CAR_PLUGGED) {
			contactor(c, 1);
			charger_set_mode(c, CHARGER_CHARGING, now);
		} else
			charger_set_mode(c, c->car == HAL_CAR_ABSENT ?
			    CHARGER_DISCONNECTED : CHARGER_REQUESTING, now);
		c->was_charging = 0;
		return 200;
	default:
		return reply_err(reply, cap, "unknown method");
	}
}

void
charger_report(struct charger *c, uint64_t now)
{
	struct tel_msg m;

	tel_init(&m);
	tel_addf(&m, TEL_MODE, TEL_INT, "%d", (int)c->mode);
	tel_addf(&m, TEL_FINAL_STOP, TEL_INT, "%d", c->paused);
	if (c->in_session)
		tel_add(&m, TEL_SESSION_ID, TEL_TEXT, c->session_id);
	add_meter(c, &m);
	charger_publish(c, &m);
}

void
charger_tick(struct charger *c, uint64_t now)
{
	struct tel_msg m;

	if (now >= c->next_meter) {
		tel_init(&m);
		add_meter(c, &m);
		charger_publish(c, &m);
		c->next_meter = now + meter_interval(c);
	}
	if (now >= c->next_pulse) {
		publish_one(c, TEL_PULSE, TEL_INT, "1");
		c->next_pulse = now + pulse_interval(c);
	}
}

void
charger_set_limits(struct charger *c, const struct charger_limits *l,
    uint64_t now)
{
	unsigned a;

	c->lim = *l;
	if (c->mode == CHARGER_CHARGING &&
	    (a = offered_current(c, c->current_a)) != c->current_a) {
		fw_info("charger: current %u A -> %u A (the cloud's limit)",
		    c->current_a, a);
		c->current_a = a;
		contactor(c, 1);
	}
	if (c->next_pulse != NEVER && c->next_pulse > now + pulse_interval(c))
		c->next_pulse = now + pulse_interval(c);
	if (c->next_meter != NEVER && c->next_meter > now + meter_interval(c))
		c->next_meter = now + meter_interval(c);
}

uint64_t
charger_deadline(const struct charger *c)
{
	return c->next_meter < c->next_pulse ? c->next_meter : c->next_pulse;
}

void
charger_status(struct charger *c, struct charger_status *s)
{
	struct hal_meter mv;

	memset(s, 0, sizeof(*s));
	s->mode = c->mode;
	s->paused = c->paused;
	s->car = (int)c->car;
	s->current_a = c->mode == CHARGER_CHARGING ? c->current_a : 0;
	s->max_current_a = c->lim.max_current_a;
	s->phases = c->phases;
	if (hal_meter_read(&mv) == 0) {
		s->power_w = mv.power;
		s->meter_wh = mv.energy;
		if (c->in_session)
			s->session_wh = mv.energy - c->session_start_wh;
	}
	s->in_session = c->in_session;
	snprintf(s->session_id, sizeof(s->session_id), "%s", c->session_id);
	snprintf(s->user_id, sizeof(s->user_id), "%s", c->user_id);
	s->sessions = c->sessions;
	s->published = c->published;
}
