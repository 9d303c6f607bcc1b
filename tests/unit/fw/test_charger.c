/*
 * test_charger: the operation-mode state machine and direct-method
 * validity on the fake HAL; what goes up as telemetry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/charger.h"
#include "core/telemetry.h"
#include "hal/fake/hal_fake.h"

#define MAXMSG	64

static char *msgs[MAXMSG];
static size_t nmsgs;
static unsigned reboots;

static void
publish(void *arg, const struct tel_msg *m, const char *json)
{
	if (nmsgs < MAXMSG)
		msgs[nmsgs++] = strdup(json);
}

static void
reboot(void *arg)
{
	reboots++;
}

static void
clear(void)
{
	while (nmsgs > 0)
		free(msgs[--nmsgs]);
}

/* Value of observation id in any message since clear(); NULL if none. */
static const char *
last_value(int id)
{
	static char v[1024];
	const char *found = NULL;
	size_t i, k;

	for (i = 0; i < nmsgs; i++) {
		struct json_object *root = json_tokener_parse(msgs[i]), *arr;

		assert_non_null(root);
		assert_true(json_object_object_get_ex(root, "Observations",
		    &arr));
		for (k = 0; k < json_object_array_length(arr); k++) {
			struct json_object *o = json_object_array_get_idx(arr,
			    k), *x;

			json_object_object_get_ex(o, "ObservationId", &x);
			if (json_object_get_int(x) != id)
				continue;
			json_object_object_get_ex(o, "Value", &x);
			snprintf(v, sizeof(v), "%s", json_object_get_string(x));
			found = v;
		}
		json_object_put(root);
	}
	return found;
}

static struct charger *
charger(void)
{
	struct charger_cfg cfg = { 60, 600, 180, 16, 300 };
	struct charger_cb cb = { publish, reboot, NULL, NULL, NULL, NULL };
	struct charger *c;

	fake_hal_reset();
	clear();
	reboots = 0;
	c = charger_new(&cfg, &cb);
	charger_start(c, hal_mono_ms());
	return c;
}

static int
method(struct charger *c, int id, const char *payload)
{
	char reply[256];

	return charger_method(c, id, (const uint8_t *)payload, strlen(payload),
	    hal_mono_ms(), reply, sizeof(reply));
}

static enum charger_mode
mode(struct charger *c)
{
	struct charger_status s;

	charger_status(c, &s);
	return s.mode;
}

static void
plug(struct charger *c, enum hal_car car)
{
	fake_car_set(car);
	charger_car_event(c, hal_mono_ms());
}

static void
test_plug_start_stop(void **state)
{
	struct charger *c = charger();
	unsigned a, ph;

	assert_int_equal(mode(c), CHARGER_DISCONNECTED);
	assert_int_equal(method(c, 501, "[\"16\",\"3\"]"), 400);
	assert_int_equal(method(c, 502, ""), 400);
	plug(c, HAL_CAR_PLUGGED);
	assert_int_equal(mode(c), CHARGER_REQUESTING);
	assert_string_equal(last_value(710), "2");
	clear();
	assert_int_equal(method(c, 501, "[\"16\",\"3\"]"), 200);
	assert_int_equal(mode(c), CHARGER_CHARGING);
	assert_int_equal(fake_contactor(&a, &ph), 1);
	assert_int_equal(a, 16);
	assert_int_equal(ph, 3);
	assert_string_equal(last_value(710), "3");
	assert_non_null(last_value(721));	/* a session id was made */
	/* Change the current while charging. */
	assert_int_equal(method(c, 501, "[10,1]"), 200);
	fake_contactor(&a, &ph);
	assert_int_equal(a, 10);
	assert_int_equal(ph, 1);
	clear();
	assert_int_equal(method(c, 502, ""), 200);
	assert_int_equal(fake_contactor(NULL, NULL), 0);
	assert_int_equal(mode(c), CHARGER_REQUESTING);
	assert_string_equal(last_value(710), "2");
	assert_int_equal(method(c, 502, ""), 400);
	charger_free(c);
	clear();
}

static void
test_bad_start(void **state)
{
	struct charger *c = charger();

	plug(c, HAL_CAR_PLUGGED);
	assert_int_equal(method(c, 501, "[\"40\",\"3\"]"), 400);
	assert_int_equal(method(c, 501, "[\"16\",\"2\"]"), 400);
	assert_int_equal(method(c, 501, "nonsense"), 400);
	assert_int_equal(mode(c), CHARGER_REQUESTING);
	assert_int_equal(fake_contactor(NULL, NULL), 0);
	/* No arguments: the configured default current. */
	assert_int_equal(method(c, 501, ""), 200);
	{
		unsigned a;

		fake_contactor(&a, NULL);
		assert_int_equal(a, 16);
	}
	charger_free(c);
	clear();
}

static void
test_pause_resume(void **state)
{
	struct charger *c = charger();

	assert_int_equal(method(c, 506, ""), 400);	/* no car */
	assert_int_equal(method(c, 507, ""), 400);	/* not paused */
	plug(c, HAL_CAR_PLUGGED);
	assert_int_equal(method(c, 501, "[16,3]"), 200);
	clear();
	assert_int_equal(method(c, 506, ""), 200);
	assert_int_equal(mode(c), CHARGER_FINISHED);
	assert_string_equal(last_value(718), "1");
	assert_int_equal(fake_contactor(NULL, NULL), 0);
	assert_int_equal(method(c, 506, ""), 400);	/* already */
	assert_int_equal(method(c, 501, "[16,3]"), 400); /* paused */
	clear();
	assert_int_equal(method(c, 507, ""), 200);
	assert_string_equal(last_value(718), "0");
	assert_int_equal(mode(c), CHARGER_CHARGING);
	assert_int_equal(fake_contactor(NULL, NULL), 1);
	assert_int_equal(method(c, 507, ""), 400);
	/* Paused while only requesting: resume goes back to requesting. */
	assert_int_equal(method(c, 502, ""), 200);
	assert_int_equal(method(c, 506, ""), 200);
	assert_int_equal(method(c, 507, ""), 200);
	assert_int_equal(mode(c), CHARGER_REQUESTING);
	charger_free(c);
	clear();
}

static void
test_car_full_and_unplug(void **state)
{
	struct charger *c = charger();
	struct hal_meter m = { { 230, 230, 230 }, { 16, 16, 16 }, 11040, 5000 };
	struct json_object *sum, *v;
	const char *s;

	plug(c, HAL_CAR_PLUGGED);
	fake_meter_set(&m);
	assert_int_equal(method(c, 504, "\"S-42\""), 200);
	assert_int_equal(method(c, 505, "\"driver-7\""), 200);
	assert_int_equal(method(c, 501, "[16,3]"), 200);
	m.energy = 12500;
	fake_meter_set(&m);
	plug(c, HAL_CAR_FULL);
	assert_int_equal(mode(c), CHARGER_FINISHED);
	/* The car is not requesting. */
	assert_int_equal(method(c, 501, "[16,3]"), 400);
	/* The car wants more again: charging resumes. */
	plug(c, HAL_CAR_PLUGGED);
	assert_int_equal(mode(c), CHARGER_CHARGING);
	clear();
	plug(c, HAL_CAR_ABSENT);
	assert_int_equal(mode(c), CHARGER_DISCONNECTED);
	assert_int_equal(fake_contactor(NULL, NULL), 0);
	assert_string_equal(last_value(710), "1");
	s = last_value(723);
	assert_non_null(s);
	sum = json_tokener_parse(s);
	assert_non_null(sum);
	assert_true(json_object_object_get_ex(sum, "SessionId", &v));
	assert_string_equal(json_object_get_string(v), "S-42");
	assert_true(json_object_object_get_ex(sum, "UserId", &v));
	assert_string_equal(json_object_get_string(v), "driver-7");
	assert_true(json_object_object_get_ex(sum, "Energy", &v));
	assert_float_equal(json_object_get_double(v), 7.5, 0.0001);
	json_object_put(sum);
	/* The next session starts clean. */
	plug(c, HAL_CAR_PLUGGED);
	clear();
	assert_int_equal(method(c, 501, "[16,3]"), 200);
	assert_string_not_equal(last_value(721), "S-42");
	charger_free(c);
	clear();
}

/*
 * Meter values every meter_interval while charging (power and energy;
 * volts and amps only when they moved); a pulse only when nothing else
 * went up for its interval (600 s idle, 180 s charging); stretched.
 */
static void
test_timers(void **state)
{
	struct charger *c = charger();
	struct hal_meter mv;
	uint64_t t0 = hal_mono_ms();
	int i;

	assert_int_equal(charger_deadline(c), t0 + 600000);
	fake_advance(600000);
	charger_tick(c, hal_mono_ms());
	assert_string_equal(last_value(-1), "1");
	plug(c, HAL_CAR_PLUGGED);
	memset(&mv, 0, sizeof(mv));
	for (i = 0; i < 3; i++) {
		mv.voltage[i] = 230;
		mv.current[i] = 16;
	}
	mv.power = 11040;
	fake_meter_set(&mv);
	assert_int_equal(method(c, 501, "[16,3]"), 200);
	assert_non_null(last_value(501));	/* with the state change */
	clear();
	assert_int_equal(charger_deadline(c), hal_mono_ms() + 60000);
	for (i = 0; i < 3; i++) {
		fake_advance(60000);
		charger_tick(c, hal_mono_ms());
	}
	assert_int_equal(nmsgs, 3);
	assert_non_null(last_value(513));
	assert_non_null(last_value(553));
	assert_null(last_value(501));		/* unchanged: not again */
	assert_null(last_value(-1));		/* the meter is the sign */
	clear();
	mv.voltage[1] = 225;
	fake_meter_set(&mv);
	fake_advance(60000);
	charger_tick(c, hal_mono_ms());
	assert_string_equal(last_value(502), "225.0");
	assert_int_equal(method(c, 502, ""), 200);
	clear();
	fake_advance(300000);
	charger_tick(c, hal_mono_ms());
	assert_null(last_value(513));		/* no meter values idle */
	/* Stretched (the daily budget): the idle pulse at 4 x 600 s. */
	fake_advance(600000);
	charger_tick(c, hal_mono_ms());
	assert_string_equal(last_value(-1), "1");
	clear();
	charger_set_stretch(c, 4, hal_mono_ms());
	fake_advance(600000 * 3);
	charger_tick(c, hal_mono_ms());
	assert_null(last_value(-1));
	fake_advance(600000);
	charger_tick(c, hal_mono_ms());
	assert_string_equal(last_value(-1), "1");
	charger_free(c);
	clear();
}

/*
 * The cloud's limits (twin desired properties): a lower maximum current
 * applies at once to a running session and caps later 501s; intervals
 * take effect from the next pulse; 0 is "as configured".
 */
static void
test_limits(void **state)
{
	struct charger *c = charger();
	struct charger_limits l = { 10, 0, 0, 0 };
	struct charger_status st;
	unsigned a, ph;

	plug(c, HAL_CAR_PLUGGED);
	assert_int_equal(method(c, 501, "[16,3]"), 200);
	fake_contactor(&a, &ph);
	assert_int_equal(a, 16);
	charger_set_limits(c, &l, hal_mono_ms());
	assert_int_equal(fake_contactor(&a, &ph), 1);
	assert_int_equal(a, 10);
	assert_int_equal(mode(c), CHARGER_CHARGING);
	charger_status(c, &st);
	assert_int_equal(st.current_a, 10);
	assert_int_equal(st.max_current_a, 10);
	assert_int_equal(method(c, 501, "[32,3]"), 200);
	fake_contactor(&a, &ph);
	assert_int_equal(a, 10);
	assert_int_equal(method(c, 501, "[6,1]"), 200);	/* below: as asked */
	fake_contactor(&a, &ph);
	assert_int_equal(a, 6);
	/* The limit lifted: what 501 asks again. */
	l.max_current_a = 0;
	charger_set_limits(c, &l, hal_mono_ms());
	assert_int_equal(method(c, 501, "[32,3]"), 200);
	fake_contactor(&a, &ph);
	assert_int_equal(a, 32);
	/* Intervals: a shorter one takes effect now. */
	assert_int_equal(method(c, 502, ""), 200);
	/* The session's progress record (300 s) comes before the pulse. */
	assert_int_equal(charger_deadline(c), hal_mono_ms() + 300000);
	l.pulse_idle_s = 60;
	charger_set_limits(c, &l, hal_mono_ms());
	assert_int_equal(charger_deadline(c), hal_mono_ms() + 60000);
	charger_free(c);
	clear();
}

static void
test_misc_methods(void **state)
{
	struct charger *c = charger();
	char reply[256];

	assert_int_equal(method(c, 1, ""), 200);
	assert_int_equal(method(c, 504, "\"\""), 400);
	assert_int_equal(method(c, 505, "42"), 400);
	clear();
	assert_int_equal(method(c, 503, ""), 200);
	assert_string_equal(last_value(710), "1");
	assert_string_equal(last_value(718), "0");
	assert_int_equal(charger_method(c, 999, NULL, 0, hal_mono_ms(), reply,
	    sizeof(reply)), 400);
	assert_non_null(strstr(reply, "unknown"));
	assert_int_equal(method(c, 102, ""), 200);
	assert_int_equal(reboots, 1);
	charger_free(c);
	clear();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plug_start_stop),
		cmocka_unit_test(test_bad_start),
		cmocka_unit_test(test_pause_resume),
		cmocka_unit_test(test_car_full_and_unplug),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_misc_methods),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
