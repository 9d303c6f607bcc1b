/*
 * charger: see charger.h.  Every mode change goes through charger_set_mode,
 * which publishes 710 at once; timers are deadlines on the monotonic
 * clock passed in.  The session's durable state is one kv record of text
 * (session_save / session_load).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/charger.h"
#include "core/fwlog.h"
#include "core/session.h"
#include "core/telemetry.h"
#include "hal/hal.h"

#define SEC	1000ULL
#define NEVER	UINT64_MAX
#define KV_SESSION	"session"
/* Volts and amps go up again when they moved more than this. */
#define DELTA_V		2.0
#define DELTA_A		0.2

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
	int64_t			 session_last_wall;
	uint32_t		 session_key;
	uint64_t		 session_if0;	/* bytes at its start */
	uint64_t		 session_mqtt0;
	uint64_t		 next_progress;
	unsigned		 stretch;
	uint64_t		 last_sent;	/* mono: anything published */
	int			 have_sent_vi;
	double			 sent_v[3];
	double			 sent_i[3];
	char			 session_id[METHOD_TEXT_MAX + 1];
	char			 user_id[METHOD_TEXT_MAX + 1];
	uint64_t		 next_meter;
	uint64_t		 next_pulse;
	unsigned long		 sessions;
	unsigned long		 resumed;
	unsigned long		 closed;
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
	c->last_sent = hal_mono_ms();
	c->cb.publish(c->cb.arg, m, json);
	free(json);
}

/* Volts and amps that moved since they last went up (or all: full). */
static int
vi_moved(const struct charger *c, const struct hal_meter *mv)
{
	int i;

	if (!c->have_sent_vi)
		return 1;
	for (i = 0; i < 3; i++)
		if (mv->voltage[i] > c->sent_v[i] + DELTA_V ||
		    mv->voltage[i] < c->sent_v[i] - DELTA_V ||
		    mv->current[i] > c->sent_i[i] + DELTA_A ||
		    mv->current[i] < c->sent_i[i] - DELTA_A)
			return 1;
	return 0;
}

/*
 * The meter's observations: power and, in a session, its energy always;
 * volts and amps with a state change or a report (full), else only when
 * they moved: the periodic message is two values, not nine.
 */
static void
add_meter_vi(struct charger *c, struct tel_msg *m, int full)
{
	struct hal_meter mv;
	int i;

	if (hal_meter_read(&mv) == -1)
		return;
	if (full || vi_moved(c, &mv)) {
		tel_addf(m, TEL_VOLTAGE1, TEL_DECIMAL, "%.1f", mv.voltage[0]);
		tel_addf(m, TEL_VOLTAGE2, TEL_DECIMAL, "%.1f", mv.voltage[1]);
		tel_addf(m, TEL_VOLTAGE3, TEL_DECIMAL, "%.1f", mv.voltage[2]);
		tel_addf(m, TEL_CURRENT1, TEL_DECIMAL, "%.2f", mv.current[0]);
		tel_addf(m, TEL_CURRENT2, TEL_DECIMAL, "%.2f", mv.current[1]);
		tel_addf(m, TEL_CURRENT3, TEL_DECIMAL, "%.2f", mv.current[2]);
		for (i = 0; i < 3; i++) {
			c->sent_v[i] = mv.voltage[i];
			c->sent_i[i] = mv.current[i];
		}
		c->have_sent_vi = 1;
	}
	tel_addf(m, TEL_POWER, TEL_DECIMAL, "%.0f", mv.power);
	if (c->in_session) {
		c->session_last_wh = mv.energy;
		tel_addf(m, TEL_SESSION_ENERGY, TEL_DECIMAL, "%.3f",
		    (mv.energy - c->session_start_wh) / 1000.0);
	}
}

static void
add_meter(struct charger *c, struct tel_msg *m)
{
	add_meter_vi(c, m, 1);
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
	return s * SEC * c->stretch;
}

static uint64_t
meter_interval(const struct charger *c)
{
	return (c->lim.meter_interval_s != 0 ? c->lim.meter_interval_s :
	    c->cfg.meter_interval_s) * SEC * c->stretch;
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

static void	session_progress(struct charger *, uint64_t);

static void
charger_set_mode(struct charger *c, enum charger_mode mode, uint64_t now)
{
	struct tel_msg m;

	if (c->mode == mode)
		return;
	fw_info("charger: %s -> %s", charger_mode_name(c->mode),
	    charger_mode_name(mode));
	c->mode = mode;
	/* Whether it charges is part of a session's durable state. */
	if (c->in_session)
		session_progress(c, now);
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

/* ------------------------------------------------------------------ */
/* The session's durable state: one line of text in the kv store      */
/* (core/session.h).                                                  */

struct session_end {
	int	ended;
	double	wh;
	int64_t	wall;
	int	reason;		/* enum session_reason */
};

/* Keep the session (and how it ended, if it did); -1 on a store error. */
static int
session_save(struct charger *c, const struct session_end *e)
{
	struct session_rec r;
	char text[SESSION_TEXT_MAX];
	int n;

	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "%s", c->session_id);
	snprintf(r.user, sizeof(r.user), "%s", c->user_id);
	r.start_wh = c->session_start_wh;
	r.last_wh = c->session_last_wh;
	r.start_wall = c->session_start_wall;
	r.last_wall = c->session_last_wall;
	r.current_a = c->current_a;
	r.phases = c->phases;
	r.charging = c->mode == CHARGER_CHARGING;
	r.if0 = c->session_if0;
	r.mqtt0 = c->session_mqtt0;
	r.ended = e->ended;
	r.end_wh = e->wh;
	r.end_wall = e->wall;
	r.reason = (enum session_reason)e->reason;
	if ((n = session_encode(&r, text, sizeof(text))) == -1 ||
	    hal_kv_set(KV_SESSION, text, (size_t)n) == -1) {
		fw_err("charger: cannot keep session %s", c->session_id);
		return -1;
	}
	return 0;
}

/* The kept session into c; was_charging and its end.  -1 if none. */
static int
session_load(struct charger *c, int *was_charging, struct session_end *e)
{
	struct session_rec r;
	char text[SESSION_TEXT_MAX];
	size_t len;

	if (hal_kv_get(KV_SESSION, text, sizeof(text), &len) == -1)
		return -1;
	if (session_decode(text, len, &r) == -1) {
		fw_err("charger: the kept session is unreadable: dropped");
		hal_kv_del(KV_SESSION);
		return -1;
	}
	snprintf(c->session_id, sizeof(c->session_id), "%s", r.id);
	snprintf(c->user_id, sizeof(c->user_id), "%s", r.user);
	c->session_start_wh = r.start_wh;
	c->session_last_wh = r.last_wh;
	c->session_start_wall = r.start_wall;
	c->session_last_wall = r.last_wall;
	c->session_if0 = r.if0;
	c->session_mqtt0 = r.mqtt0;
	c->current_a = r.current_a;
	c->phases = r.phases;
	*was_charging = r.charging;
	e->ended = r.ended;
	e->wh = r.end_wh;
	e->wall = r.end_wall;
	e->reason = (int)r.reason;
	c->session_key = session_key(c->session_id, r.start_wall);
	return 0;
}

static void
session_bytes(struct charger *c, uint64_t *iface, uint64_t *mqtt)
{
	*iface = *mqtt = 0;
	if (c->cb.bytes != NULL)
		c->cb.bytes(c->cb.arg, iface, mqtt);
}

static void
session_begin(struct charger *c, uint64_t now)
{
	struct session_end none = { 0, 0, 0, 0 };
	struct hal_meter mv;
	uint8_t r[8];
	size_t i;

	if (c->in_session)
		return;
	if (hal_meter_read(&mv) == -1)
		memset(&mv, 0, sizeof(mv));
	c->in_session = 1;
	c->session_start_wh = c->session_last_wh = mv.energy;
	c->session_start_wall = c->session_last_wall = hal_wall_ms();
	if (c->session_id[0] == '\0') {
		/* No id from the cloud (504) yet: make one. */
		hal_random(r, sizeof(r));
		for (i = 0; i < sizeof(r); i++)
			snprintf(c->session_id + 2 * i, 3, "%02x", r[i]);
	}
	c->session_key = session_key(c->session_id, c->session_start_wall);
	session_bytes(c, &c->session_if0, &c->session_mqtt0);
	session_save(c, &none);
	c->next_progress = now + c->cfg.progress_s * SEC;
	publish_one(c, TEL_SESSION_ID, TEL_TEXT, c->session_id);
	if (c->cb.session != NULL)
		c->cb.session(c->cb.arg, 1);
}

/* Its progress, durable: a power cut loses at most progress_s of it. */
static void
session_progress(struct charger *c, uint64_t now)
{
	struct session_end none = { 0, 0, 0, 0 };
	struct hal_meter mv;

	if (hal_meter_read(&mv) == 0)
		c->session_last_wh = mv.energy;
	c->session_last_wall = hal_wall_ms();
	session_save(c, &none);
	c->next_progress = now + c->cfg.progress_s * SEC;
}

/* The record (723) of the kept session, ended as e says. */
static void
session_record(struct charger *c, const struct session_end *e)
{
	char start[32], end[32], sum[TEL_VALUE_MAX], kwh[32];
	uint64_t ifb, mqb;
	struct json_object *o, *b;
	struct tel_msg m;
	double kw = (e->wh - c->session_start_wh) / 1000.0;

	tel_time(c->session_start_wall, start, sizeof(start));
	tel_time(e->wall, end, sizeof(end));
	/* json-c escapes the ids (they may hold quotes). */
	o = json_object_new_object();
	json_object_object_add(o, "SessionId",
	    json_object_new_string(c->session_id));
	json_object_object_add(o, "UserId", json_object_new_string(c->user_id));
	json_object_object_add(o, "StartDateTime",
	    json_object_new_string(start));
	json_object_object_add(o, "EndDateTime", json_object_new_string(end));
	snprintf(kwh, sizeof(kwh), "%.3f", kw);
	json_object_object_add(o, "Energy", json_object_new_double_s(kw, kwh));
	/* What the session cost in data, when it is known (not across a
	 * power cut: counters since boot). */
	session_bytes(c, &ifb, &mqb);
	if (e->reason == 0 && ifb >= c->session_if0) {
		b = json_object_new_object();
		json_object_object_add(b, "Interface", json_object_new_int64(
		    (int64_t)(ifb - c->session_if0)));
		json_object_object_add(b, "Mqtt", json_object_new_int64(
		    (int64_t)(mqb - c->session_mqtt0)));
		json_object_object_add(o, "Bytes", b);
	}
	if (e->reason == 1)
		json_object_object_add(o, "EndReason",
		    json_object_new_string("ChargerRestart"));
	snprintf(sum, sizeof(sum), "%s", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	tel_init(&m);
	tel_add(&m, TEL_SESSION_DONE, TEL_JSON, sum);
	m.key = c->session_key;
	charger_publish(c, &m);
}

/* End the session: kept as ended, its record out (stored), forgotten. */
static void
session_close(struct charger *c, const struct session_end *e)
{
	session_save(c, e);
	session_record(c, e);
	fw_info("charger: session %s ended, %.3f kWh%s", c->session_id,
	    (e->wh - c->session_start_wh) / 1000.0,
	    e->reason == 1 ? " (closed after a restart)" : "");
	hal_kv_del(KV_SESSION);
	c->in_session = 0;
	c->sessions++;
	c->session_id[0] = '\0';
	c->user_id[0] = '\0';
	c->next_progress = NEVER;
	if (c->cb.session != NULL)
		c->cb.session(c->cb.arg, 0);
}

static void
session_end(struct charger *c)
{
	struct session_end e = { 1, 0, 0, 0 };
	struct hal_meter mv;

	if (!c->in_session)
		return;
	if (hal_meter_read(&mv) == 0)
		c->session_last_wh = mv.energy;
	e.wh = c->session_last_wh;
	e.wall = hal_wall_ms();
	session_close(c, &e);
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
		c->cfg.pulse_idle_s = 900;
	if (c->cfg.pulse_charging_s == 0)
		c->cfg.pulse_charging_s = 180;
	if (c->cfg.default_current_a == 0)
		c->cfg.default_current_a = 16;
	if (c->cfg.progress_s == 0)
		c->cfg.progress_s = 300;
	if (cb != NULL)
		c->cb = *cb;
	c->mode = CHARGER_UNKNOWN;
	c->phases = 3;
	c->stretch = 1;
	c->next_meter = c->next_pulse = c->next_progress = NEVER;
	return c;
}

void
charger_free(struct charger *c)
{
	free(c);
}

/*
 * A session kept from before the restart: recorded once if it had ended,
 * resumed if the car is still there, closed otherwise.
 */
static void
session_recover(struct charger *c, uint64_t now)
{
	struct session_end e;
	struct hal_meter mv;
	int was_charging = 0;

	if (session_load(c, &was_charging, &e) == -1)
		return;
	c->in_session = 1;
	if (e.ended) {
		/* Its record may be stored already: once, not twice. */
		if (c->cb.recorded != NULL &&
		    c->cb.recorded(c->cb.arg, c->session_key)) {
			fw_info("charger: session %s was recorded before the "
			    "restart", c->session_id);
			hal_kv_del(KV_SESSION);
			c->in_session = 0;
			c->session_id[0] = c->user_id[0] = '\0';
			return;
		}
		c->closed++;
		session_close(c, &e);
		return;
	}
	if (c->car != HAL_CAR_ABSENT) {
		c->resumed++;
		fw_info("charger: session %s resumed after a restart%s",
		    c->session_id, was_charging && c->car == HAL_CAR_PLUGGED ?
		    ": charging again" : "");
		c->next_progress = now + c->cfg.progress_s * SEC;
		if (c->cb.session != NULL)
			c->cb.session(c->cb.arg, 1);
		if (was_charging && c->car == HAL_CAR_PLUGGED) {
			contactor(c, 1);
			charger_set_mode(c, CHARGER_CHARGING, now);
		}
		return;
	}
	/* The car left while we were off: the session ended at the last
	 * sign of it; the meter's register says how much it took. */
	e.ended = 1;
	e.reason = 1;
	e.wall = c->session_last_wall;
	e.wh = hal_meter_read(&mv) == 0 && mv.energy >= c->session_start_wh ?
	    mv.energy : c->session_last_wh;
	c->closed++;
	session_close(c, &e);
}

void
charger_start(struct charger *c, uint64_t now)
{
	contactor(c, 0);
	c->car = hal_car_state();
	c->mode = c->car == HAL_CAR_ABSENT ? CHARGER_DISCONNECTED :
	    CHARGER_REQUESTING;
	c->next_pulse = now + pulse_interval(c);
	session_recover(c, now);
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
		session_begin(c, now);
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
		add_meter_vi(c, &m, 0);
		charger_publish(c, &m);
		c->next_meter = now + meter_interval(c);
	}
	if (now >= c->next_pulse) {
		/* A sign of life only when nothing else was one. */
		if (c->last_sent == 0 || now - c->last_sent >= pulse_interval(c))
			publish_one(c, TEL_PULSE, TEL_INT, "1");
		c->next_pulse = (c->last_sent != 0 && c->last_sent > now -
		    pulse_interval(c) ? c->last_sent : now) + pulse_interval(c);
	}
	if (c->in_session && now >= c->next_progress)
		session_progress(c, now);
}

void
charger_set_stretch(struct charger *c, unsigned factor, uint64_t now)
{
	if (factor == 0)
		factor = 1;
	if (factor == c->stretch)
		return;
	c->stretch = factor;
	fw_info("charger: periodic telemetry every %ux its interval", factor);
	if (c->next_meter != NEVER)
		c->next_meter = now + meter_interval(c);
	if (c->next_pulse != NEVER)
		c->next_pulse = now + pulse_interval(c);
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
	uint64_t d = c->next_meter < c->next_pulse ? c->next_meter :
	    c->next_pulse;

	return c->in_session && c->next_progress < d ? c->next_progress : d;
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
	s->resumed = c->resumed;
	s->closed = c->closed;
	s->published = c->published;
	s->stretch = c->stretch;
}
