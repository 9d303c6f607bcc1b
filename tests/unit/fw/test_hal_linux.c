/*
 * test_hal_linux: the Linux HAL's storage and the boot loader's A/B rule
 * (hal.h) in a temporary state directory: a "reboot" is a new
 * hal_linux_init on the same directory.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hal/linux/hal_linux.h"
#include "../testutil.h"

static char dir[64];

static int
setup(void **state)
{
	return test_tmpdir(dir, sizeof(dir), "evfw-hal");
}

static int
teardown(void **state)
{
	return test_rmtree(dir);
}

static void
boot(void)
{
	struct hal_linux_params p;

	memset(&p, 0, sizeof(p));
	p.state_dir = dir;
	p.log_stderr = 1;
	p.slot_size = 4096;
	assert_int_equal(hal_linux_init(&p), 0);
}

static void
test_kv_and_cred(void **state)
{
	struct hal_cred c, back;
	char buf[16];
	size_t len;

	boot();
	assert_int_equal(hal_kv_get("absent", buf, sizeof(buf), &len), -1);
	assert_int_equal(hal_kv_set("a.b-c_1", "hello", 5), 0);
	assert_int_equal(hal_kv_get("a.b-c_1", buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(hal_kv_set("../escape", "x", 1), -1);
	assert_int_equal(hal_kv_set("Upper", "x", 1), -1);
	assert_int_equal(hal_kv_del("a.b-c_1"), 0);
	assert_int_equal(hal_kv_get("a.b-c_1", buf, sizeof(buf), &len), -1);

	assert_int_equal(hal_cred_load(&back), -1);
	memset(&c, 0, sizeof(c));
	snprintf(c.device_id, sizeof(c.device_id), "ZAP000101");
	snprintf(c.secret, sizeof(c.secret), "0123abcd");
	assert_int_equal(hal_cred_store(&c), 0);
	assert_int_equal(hal_cred_load(&back), 0);
	assert_string_equal(back.device_id, "ZAP000101");
	assert_string_equal(back.secret, "0123abcd");
	snprintf(c.secret, sizeof(c.secret), "two\nlines");
	assert_int_equal(hal_cred_store(&c), -1);
}

/* The wall clock: an offset kept across a reboot. */
static void
test_rtc(void **state)
{
	int64_t t = 1800000000000LL;

	boot();
	assert_int_equal(hal_wall_set_ms(t), 0);
	boot();
	assert_true(hal_wall_ms() >= t && hal_wall_ms() < t + 5000);
}

static void
test_slots_and_trial(void **state)
{
	struct hal_boot_state b;
	uint8_t buf[8];

	boot();
	assert_int_equal(hal_slot_running(), HAL_SLOT_A);
	assert_int_equal(hal_boot_state_get(&b), 0);
	assert_true(b.confirmed);
	assert_string_equal(b.version[0], hal_linux_build_version());
	/* The running slot is never written. */
	assert_int_equal(hal_slot_write(HAL_SLOT_A, 0, "x", 1), -1);
	assert_int_equal(hal_slot_erase(HAL_SLOT_A), -1);
	assert_int_equal(hal_slot_erase(HAL_SLOT_B), 0);
	assert_int_equal(hal_slot_write(HAL_SLOT_B, 4, "image", 5), 0);
	assert_int_equal(hal_slot_write(HAL_SLOT_B, 4094, "xyz", 3), -1);
	assert_int_equal(hal_slot_sync(HAL_SLOT_B), 0);
	assert_int_equal(hal_slot_read(HAL_SLOT_B, 4, buf, 5), 0);
	assert_memory_equal(buf, "image", 5);

	/* The engine marks B for one try. */
	b.previous = b.active;
	b.active = HAL_SLOT_B;
	b.try_once = 1;
	b.confirmed = 0;
	snprintf(b.version[1], sizeof(b.version[1]), "2.0.0");
	assert_int_equal(hal_boot_state_set(&b), 0);
	boot();				/* the try */
	assert_int_equal(hal_slot_running(), HAL_SLOT_B);
	assert_int_equal(hal_boot_state_get(&b), 0);
	assert_false(b.try_once);
	assert_true(b.trying);
	assert_string_equal(b.version[1], "2.0.0");
	/* Not confirmed: the next boot rolls back to A. */
	boot();
	assert_int_equal(hal_slot_running(), HAL_SLOT_A);
	assert_int_equal(hal_boot_state_get(&b), 0);
	assert_true(b.rolled_back);
	assert_true(b.confirmed);
	assert_false(b.trying);

	/* Again, and this time confirmed: B stays. */
	b.previous = HAL_SLOT_A;
	b.active = HAL_SLOT_B;
	b.try_once = 1;
	b.confirmed = 0;
	b.rolled_back = 0;
	assert_int_equal(hal_boot_state_set(&b), 0);
	boot();
	assert_int_equal(hal_boot_state_get(&b), 0);
	b.confirmed = 1;
	b.trying = 0;
	b.security_floor = 2;
	assert_int_equal(hal_boot_state_set(&b), 0);
	boot();
	assert_int_equal(hal_slot_running(), HAL_SLOT_B);
	assert_int_equal(hal_boot_state_get(&b), 0);
	assert_int_equal(b.security_floor, 2);
	assert_false(b.rolled_back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kv_and_cred, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rtc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots_and_trial, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
