/*
 * test_session: a charging session's record across power cuts.  The
 * charger, the store-and-forward and a cloud that acknowledges what it
 * receives (and keeps a message once by its id, as the cloud behind the
 * hub does by $.mid), on the fake HAL.  The HAL calls that make something
 * durable are wrapped (-Wl,--wrap) so that the power can be cut after any
 * one of them: from then on nothing reaches the "flash" (the store's
 * unsynced writes are lost with it), the charger and the store are thrown
 * away, and new ones start from what was kept.  For every such cut, with
 * the car still plugged in or gone when the power comes back, the
 * session's record (723) reaches the cloud exactly once, with the
 * session's id and its original start.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/charger.h"
#include "core/session.h"
#include "core/store.h"
#include "core/telemetry.h"
#include "core/usage.h"
#include "hal/fake/hal_fake.h"

int	__real_hal_kv_set(const char *, const void *, size_t);
int	__real_hal_kv_del(const char *);
int	__real_hal_store_write(int, size_t, const void *, size_t);
int	__real_hal_store_sync(int);
int	__wrap_hal_kv_set(const char *, const void *, size_t);
int	__wrap_hal_kv_del(const char *);
int	__wrap_hal_store_write(int, size_t, const void *, size_t);
int	__wrap_hal_store_sync(int);

static unsigned ops;		/* durable operations so far */
static int session_kept;	/* the session reached the kv store */
static unsigned cut_at;		/* the power goes after this one; 0 never */
static int cut;
static uint8_t *flash[HAL_STORE_REGIONS];	/* as of the last sync */
static size_t flash_len[HAL_STORE_REGIONS];

static int
durable(void)
{
	if (cut)
		return 0;
	ops++;
	if (cut_at != 0 && ops == cut_at)
		cut = 1;	/* this one still happens */
	return 1;
}

int
__wrap_hal_kv_set(const char *k, const void *v, size_t n)
{
	if (cut)
		return 0;	/* the power is gone: nothing reaches flash */
	durable();
	if (strcmp(k, "session") == 0)
		session_kept = 1;
	return __real_hal_kv_set(k, v, n);
}

int
__wrap_hal_kv_del(const char *k)
{
	if (cut)
		return 0;
	durable();
	return __real_hal_kv_del(k);
}

int
__wrap_hal_store_write(int r, size_t off, const void *b, size_t n)
{
	if (cut)
		return 0;
	return __real_hal_store_write(r, off, b, n);
}

/* A sync makes the region's writes durable: the flash copy follows. */
int
__wrap_hal_store_sync(int r)
{
	uint8_t *mem;
	size_t len;

	if (cut)
		return 0;
	durable();
	mem = fake_store(r, &len);
	if (flash_len[r] != len) {
		free(flash[r]);
		flash[r] = malloc(len);
		flash_len[r] = len;
	}
	memcpy(flash[r], mem, len);
	return __real_hal_store_sync(r);
}

/* After the cut: what was not synced never happened. */
static void
power_back(void)
{
	uint8_t *mem;
	size_t len;
	int r;

	for (r = 0; r < HAL_STORE_REGIONS; r++) {
		mem = fake_store(r, &len);
		if (mem != NULL && flash[r] != NULL && len == flash_len[r])
			memcpy(mem, flash[r], len);
	}
	cut = 0;
	cut_at = 0;
}

/* --- the cloud: keeps each message once, by its id ------------------- */

#define CLOUD_MAX	256

static struct {
	char	mid[STORE_MID_MAX];
	char	json[STORE_MSG_MAX + 1];
} cloud[CLOUD_MAX];
static size_t ncloud;
static unsigned copies;		/* received, duplicates included */

static void
cloud_receive(uint32_t id, int64_t wall, const char *json)
{
	char mid[STORE_MID_MAX];
	size_t i;

	store_mid(id, wall, mid, sizeof(mid));
	copies++;
	for (i = 0; i < ncloud; i++)
		if (strcmp(cloud[i].mid, mid) == 0)
			return;		/* the same message again */
	assert_true(ncloud < CLOUD_MAX);
	snprintf(cloud[ncloud].mid, sizeof(cloud[0].mid), "%s", mid);
	snprintf(cloud[ncloud].json, sizeof(cloud[0].json), "%s", json);
	ncloud++;
}

/* How many distinct records of 723 the cloud holds for a session. */
static unsigned
records_of(const char *sid)
{
	char want[128];
	unsigned n = 0;
	size_t i;

	snprintf(want, sizeof(want), "\\\"SessionId\\\":\\\"%s\\\"", sid);
	for (i = 0; i < ncloud; i++)
		if (strstr(cloud[i].json, "\"ObservationId\":723") != NULL &&
		    strstr(cloud[i].json, want) != NULL)
			n++;
	return n;
}

/* --- the firmware's glue, as core/fw.c does it ----------------------- */

static struct store *st;
static struct charger *ch;
static int link_up;

static enum store_class
cls_of(const struct tel_msg *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->obs[i].id == TEL_MODE || m->obs[i].id == TEL_FINAL_STOP ||
		    m->obs[i].id == TEL_SESSION_ID ||
		    m->obs[i].id == TEL_SESSION_DONE)
			return STORE_RECORD;
	return STORE_PERIODIC;
}

/* The link: every stored message out and acknowledged (if it is up). */
static void
drain(void)
{
	const struct store_msg *m;

	while (link_up && !cut && (m = store_next(st)) != NULL) {
		uint32_t id = m->id;

		cloud_receive(id, m->wall, m->json);
		store_handed(st, id);
		store_acked(st, id);
	}
}

static void
publish(void *arg, const struct tel_msg *m, const char *json)
{
	enum store_class c = cls_of(m);

	if (cut)
		return;
	store_put(st, c, c == STORE_RECORD ? m->key : 0, hal_wall_ms(), json);
	drain();
}

static int
recorded(void *arg, uint32_t key)
{
	return store_has_record(st, key);
}

static void
boot(void)
{
	struct charger_cfg cfg = { 60, 600, 180, 16, 120 };
	struct charger_cb cb = { publish, NULL, NULL, recorded, NULL, NULL };

	st = store_open(NULL);
	assert_non_null(st);
	ch = charger_new(&cfg, &cb);
	assert_non_null(ch);
	charger_start(ch, hal_mono_ms());
	drain();
}

static void
halt(void)
{
	charger_free(ch);
	store_free(st);
	ch = NULL;
	st = NULL;
}

static void
run(uint64_t ms)
{
	uint64_t end = hal_mono_ms() + ms, d;

	while (!cut && (d = charger_deadline(ch)) <= end) {
		if (d > hal_mono_ms())
			fake_advance(d - hal_mono_ms());
		charger_tick(ch, hal_mono_ms());
	}
	if (end > hal_mono_ms())
		fake_advance(end - hal_mono_ms());
}

static void
reset(void)
{
	int r;

	fake_hal_reset();
	for (r = 0; r < HAL_STORE_REGIONS; r++) {
		free(flash[r]);
		flash[r] = NULL;
		flash_len[r] = 0;
	}
	ops = cut_at = 0;
	cut = 0;
	session_kept = 0;
	ncloud = copies = 0;
}

/*
 * One session, the link up or down (its record then waits in the store):
 * plug in, start, charge for a while, unplug.  Returns the session id.
 */
static void
session(char *sid, size_t cap)
{
	struct charger_status s;
	struct hal_meter mv;
	char reply[256];

	memset(&mv, 0, sizeof(mv));
	fake_meter_set(&mv);
	fake_car_set(HAL_CAR_PLUGGED);
	charger_car_event(ch, hal_mono_ms());
	if (!cut)
		charger_method(ch, 501, (const uint8_t *)"[16,3]", 6,
		    hal_mono_ms(), reply, sizeof(reply));
	charger_status(ch, &s);
	snprintf(sid, cap, "%s", s.session_id);
	mv.energy = 1000;
	fake_meter_set(&mv);
	run(300000);		/* progress kept every 120 s */
	mv.energy = 5000;
	fake_meter_set(&mv);
	fake_car_set(HAL_CAR_ABSENT);
	if (!cut)
		charger_car_event(ch, hal_mono_ms());
	run(60000);
}

/* How many durable operations a whole session makes. */
static unsigned
count_ops(int up)
{
	char sid[METHOD_TEXT_MAX + 1];

	reset();
	link_up = up;
	boot();
	session(sid, sizeof(sid));
	halt();
	return ops;
}

static void
cut_run(unsigned k, int up, int car_back)
{
	char sid[METHOD_TEXT_MAX + 1];

	reset();
	link_up = up;
	boot();
	cut_at = k;
	session(sid, sizeof(sid));
	halt();
	power_back();
	/* The car is still there, or it left while the charger was off. */
	fake_car_set(car_back ? HAL_CAR_PLUGGED : HAL_CAR_ABSENT);
	link_up = 1;
	boot();
	run(60000);
	if (car_back) {
		fake_car_set(HAL_CAR_ABSENT);
		charger_car_event(ch, hal_mono_ms());
		run(60000);
	}
	/* A second power cut later changes nothing. */
	halt();
	boot();
	run(60000);
	/* Once if it began before the cut; never, if it did not. */
	if (sid[0] != '\0' && records_of(sid) != (unsigned)session_kept)
		fail_msg("cut after op %u (link %s, car %s): %u records of "
		    "session %s, want %d", k, up ? "up" : "down",
		    car_back ? "back" : "gone", records_of(sid), sid,
		    session_kept);
	assert_int_equal(store_pending(st, -1), 0);
	halt();
}

/* Without cuts: one record, with what the session took. */
/* The durable lines: what the encoders write decodes; nothing else. */
static void
test_record_text(void **state)
{
	static const char *const bad_session[] = {
		"",
		"v1",
		"v2 s=6162 u=- sw=0.000 lw=0.000 st=0 lt=0 a=0 p=3 c=0 b=0 "
		    "m=0 e=0 ew=0.000 et=0 r=0",
		/* no id */
		"v1 s=- u=- sw=0.000 lw=0.000 st=0 lt=0 a=0 p=3 c=0 b=0 m=0 "
		    "e=0 ew=0.000 et=0 r=0",
		/* odd hex, upper-case hex, a control character */
		"v1 s=616 u=- sw=0.000 lw=0.000 st=0 lt=0 a=0 p=3 c=0 b=0 "
		    "m=0 e=0 ew=0.000 et=0 r=0",
		"v1 s=6A62 u=- sw=0.000 lw=0.000 st=0 lt=0 a=0 p=3 c=0 b=0 "
		    "m=0 e=0 ew=0.000 et=0 r=0",
		"v1 s=0a62 u=- sw=0.000 lw=0.000 st=0 lt=0 a=0 p=3 c=0 b=0 "
		    "m=0 e=0 ew=0.000 et=0 r=0",
		/* not a number of watt-hours */
		"v1 s=6162 u=- sw=nan lw=nan st=0 lt=0 a=0 p=3 c=0 b=0 m=0 "
		    "e=0 ew=0.000 et=0 r=0",
		"v1 s=6162 u=- sw=-1.000 lw=0.000 st=0 lt=0 a=0 p=3 c=0 b=0 "
		    "m=0 e=0 ew=0.000 et=0 r=0",
		/* the meter ran backwards; time too */
		"v1 s=6162 u=- sw=5.000 lw=4.000 st=0 lt=0 a=0 p=3 c=0 b=0 "
		    "m=0 e=0 ew=0.000 et=0 r=0",
		"v1 s=6162 u=- sw=0.000 lw=0.000 st=9 lt=8 a=0 p=3 c=0 b=0 "
		    "m=0 e=0 ew=0.000 et=0 r=0",
		/* out of range */
		"v1 s=6162 u=- sw=0.000 lw=0.000 st=0 lt=0 a=33 p=3 c=0 b=0 "
		    "m=0 e=0 ew=0.000 et=0 r=0",
		"v1 s=6162 u=- sw=0.000 lw=0.000 st=0 lt=0 a=0 p=2 c=0 b=0 "
		    "m=0 e=0 ew=0.000 et=0 r=0",
		"v1 s=6162 u=- sw=0.000 lw=0.000 st=0 lt=0 a=0 p=3 c=2 b=0 "
		    "m=0 e=0 ew=0.000 et=0 r=0",
		"v1 s=6162 u=- sw=0.000 lw=0.000 st=0 lt=0 a=0 p=3 c=0 b=0 "
		    "m=0 e=0 ew=0.000 et=0 r=2",
		/* not as written: a sign, zeros, trailing bytes */
		"v1 s=6162 u=- sw=0.000 lw=0.000 st=0 lt=0 a=0 p=3 c=0 b=-1 "
		    "m=0 e=0 ew=0.000 et=0 r=0",
		"v1 s=6162 u=- sw=0.000 lw=0.000 st=0 lt=0 a=016 p=3 c=0 "
		    "b=0 m=0 e=0 ew=0.000 et=0 r=0",
		"v1 s=6162 u=- sw=0.000 lw=0.000 st=0 lt=0 a=0 p=3 c=0 b=0 "
		    "m=0 e=0 ew=0.000 et=0 r=0 ",
	};
	static const char *const bad_usage[] = {
		"", "v1 if=1 mqtt=1 day=1 dif=1 dmqtt=1",
		"v1 if=-1 mqtt=0 day=-1 dif=0 dmqtt=0 over=0",
		"v1 if=1 mqtt=1 day=-2 dif=0 dmqtt=0 over=0",
		"v1 if=1 mqtt=1 day=3 dif=2 dmqtt=0 over=0",
		"v1 if=1 mqtt=1 day=3 dif=0 dmqtt=0 over=2",
		"v1 if=01 mqtt=1 day=3 dif=0 dmqtt=0 over=0",
		"v1 if=1 mqtt=1 day=3 dif=0 dmqtt=0 over=0\n",
	};
	struct session_rec r, t;
	struct usage u;
	char text[SESSION_TEXT_MAX];
	size_t i;
	int n;

	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "id with \"quotes\" and spaces");
	snprintf(r.user, sizeof(r.user), "~user~");
	r.start_wh = 1000.5;
	r.last_wh = 2000.25;
	r.start_wall = 1795600800000LL;
	r.last_wall = 1795601100000LL;
	r.current_a = 32;
	r.phases = 1;
	r.charging = 1;
	r.if0 = UINT64_MAX;
	r.mqtt0 = 7;
	r.ended = 1;
	r.end_wh = 2100;
	r.end_wall = 1795601200000LL;
	r.reason = SESSION_RESTART;
	n = session_encode(&r, text, sizeof(text));
	assert_true(n > 0);
	assert_int_equal(session_decode(text, (size_t)n, &t), 0);
	assert_string_equal(t.id, r.id);
	assert_string_equal(t.user, r.user);
	assert_true(t.start_wh == r.start_wh && t.last_wh == r.last_wh);
	assert_true(t.if0 == UINT64_MAX);
	assert_int_equal(t.reason, SESSION_RESTART);
	assert_int_equal(session_key(t.id, t.start_wall),
	    session_key(r.id, r.start_wall));
	assert_int_not_equal(session_key(t.id, t.start_wall),
	    session_key(t.id, t.start_wall + 1));
	/* Cut short anywhere: refused. */
	for (i = 0; i < (size_t)n; i++)
		assert_int_equal(session_decode(text, i, &t), -1);
	/* A NUL inside, or too long for the kept line. */
	text[5] = '\0';
	assert_int_equal(session_decode(text, (size_t)n, &t), -1);
	assert_int_equal(session_decode(text, SESSION_TEXT_MAX, &t), -1);
	for (i = 0; i < sizeof(bad_session) / sizeof(*bad_session); i++) {
		if (session_decode(bad_session[i], strlen(bad_session[i]),
		    &t) != -1)
			fail_msg("accepted: %s", bad_session[i]);
		assert_int_equal(t.id[0], '\0');
	}
	snprintf(text, sizeof(text), "v1 if=5 mqtt=3 day=-1 dif=0 dmqtt=0 "
	    "over=0");
	assert_int_equal(usage_decode(text, strlen(text), &u), 0);
	assert_true(u.total_if == 5 && u.total_mqtt == 3 && u.day == -1);
	for (i = 0; i < sizeof(bad_usage) / sizeof(*bad_usage); i++) {
		memset(&u, 0, sizeof(u));
		if (usage_decode(bad_usage[i], strlen(bad_usage[i]), &u) != -1)
			fail_msg("accepted: %s", bad_usage[i]);
		assert_true(u.total_if == 0);
	}
}

static void
test_plain(void **state)
{
	char sid[METHOD_TEXT_MAX + 1];

	reset();
	link_up = 1;
	boot();
	session(sid, sizeof(sid));
	assert_int_equal(records_of(sid), 1);
	assert_non_null(strstr(cloud[ncloud - 1].json, "\\\"Energy\\\":5.000"));
	halt();
	/* Offline: the record waits in the store, across a restart. */
	reset();
	link_up = 0;
	boot();
	session(sid, sizeof(sid));
	assert_int_equal(ncloud, 0);
	halt();
	link_up = 1;
	boot();
	assert_int_equal(records_of(sid), 1);
	halt();
}

static void
test_power_cut_every_step(void **state)
{
	unsigned n, k;
	int up, car;

	for (up = 0; up < 2; up++) {
		n = count_ops(up);
		assert_true(n >= 6);
		for (k = 1; k <= n; k++)
			for (car = 0; car < 2; car++)
				cut_run(k, up, car);
	}
}

/* Cut while charging, car still there: resumed, charging again. */
static void
test_resume(void **state)
{
	struct charger_status s;
	struct hal_meter mv;
	char reply[256], sid[METHOD_TEXT_MAX + 1];
	unsigned a, ph;

	reset();
	link_up = 1;
	boot();
	memset(&mv, 0, sizeof(mv));
	fake_meter_set(&mv);
	fake_car_set(HAL_CAR_PLUGGED);
	charger_car_event(ch, hal_mono_ms());
	charger_method(ch, 501, (const uint8_t *)"[10,1]", 6, hal_mono_ms(),
	    reply, sizeof(reply));
	charger_status(ch, &s);
	snprintf(sid, sizeof(sid), "%s", s.session_id);
	run(200000);
	halt();			/* the power goes; the car stays */
	hal_contactor_set(0, 0, 0);
	boot();
	charger_status(ch, &s);
	assert_int_equal(s.resumed, 1);
	assert_true(s.in_session);
	assert_string_equal(s.session_id, sid);
	assert_int_equal(s.mode, CHARGER_CHARGING);
	assert_int_equal(fake_contactor(&a, &ph), 1);
	assert_int_equal(a, 10);
	assert_int_equal(ph, 1);
	assert_int_equal(records_of(sid), 0);
	fake_car_set(HAL_CAR_ABSENT);
	charger_car_event(ch, hal_mono_ms());
	assert_int_equal(records_of(sid), 1);
	halt();
}

/* Cut while charging, car gone: closed at its last sign, once. */
static void
test_close_after_restart(void **state)
{
	struct charger_status s;
	char reply[256], sid[METHOD_TEXT_MAX + 1];
	struct hal_meter mv;

	reset();
	link_up = 1;
	boot();
	memset(&mv, 0, sizeof(mv));
	fake_meter_set(&mv);
	fake_car_set(HAL_CAR_PLUGGED);
	charger_car_event(ch, hal_mono_ms());
	charger_method(ch, 501, NULL, 0, hal_mono_ms(), reply, sizeof(reply));
	charger_status(ch, &s);
	snprintf(sid, sizeof(sid), "%s", s.session_id);
	mv.energy = 2500;
	fake_meter_set(&mv);
	run(250000);
	halt();
	fake_car_set(HAL_CAR_ABSENT);
	mv.energy = 3000;	/* the meter's register ran on to the cut */
	fake_meter_set(&mv);
	boot();
	charger_status(ch, &s);
	assert_int_equal(s.closed, 1);
	assert_false(s.in_session);
	assert_int_equal(records_of(sid), 1);
	assert_non_null(strstr(cloud[ncloud - 1].json,
	    "\\\"EndReason\\\":\\\"ChargerRestart\\\""));
	assert_non_null(strstr(cloud[ncloud - 1].json, "\\\"Energy\\\":3.000"));
	halt();
	boot();
	assert_int_equal(records_of(sid), 1);
	halt();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_text),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_close_after_restart),
		cmocka_unit_test(test_power_cut_every_step),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
