/*
 * test_telemetry: the observation JSON (checked by parsing it back) and
 * the offline queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "core/telemetry.h"

static void
test_encode(void **state)
{
	struct tel_msg m;
	struct json_object *root, *arr, *o, *v;
	char *s;

	tel_init(&m);
	assert_int_equal(tel_add(&m, TEL_MODE, TEL_INT, "3"), 0);
	assert_int_equal(tel_addf(&m, TEL_POWER, TEL_DECIMAL, "%.0f", 11040.0),
	    0);
	assert_int_equal(tel_add(&m, TEL_SESSION_ID, TEL_TEXT, "a\"b\\c"), 0);
	/* 2026-11-23T10:00:00.999Z: seconds precision, Z suffix. */
	s = tel_encode(&m, 1795428000999LL);
	assert_non_null(s);
	assert_non_null(strstr(s, "\"ObservedAt\":\"2026-11-23T10:00:00Z\""));
	assert_non_null(strstr(s, "\"Type\":6}"));
	root = json_tokener_parse(s);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "Type", &v));
	assert_int_equal(json_object_get_int(v), 6);
	assert_true(json_object_object_get_ex(root, "Observations", &arr));
	assert_int_equal(json_object_array_length(arr), 3);
	o = json_object_array_get_idx(arr, 0);
	assert_true(json_object_object_get_ex(o, "ObservationId", &v));
	assert_int_equal(json_object_get_int(v), 710);
	assert_true(json_object_object_get_ex(o, "Value", &v));
	assert_true(json_object_is_type(v, json_type_string));
	assert_string_equal(json_object_get_string(v), "3");
	assert_true(json_object_object_get_ex(o, "Type", &v));
	assert_int_equal(json_object_get_int(v), TEL_INT);
	o = json_object_array_get_idx(arr, 2);
	assert_true(json_object_object_get_ex(o, "Value", &v));
	assert_string_equal(json_object_get_string(v), "a\"b\\c");
	json_object_put(root);
	free(s);
}

static void
test_limits(void **state)
{
	struct tel_msg m;
	char big[TEL_VALUE_MAX + 1];
	int i;

	tel_init(&m);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(tel_add(&m, 1, TEL_TEXT, big), -1);
	for (i = 0; i < TEL_MAX_OBS; i++)
		assert_int_equal(tel_add(&m, -1, TEL_INT, "1"), 0);
	assert_int_equal(tel_add(&m, -1, TEL_INT, "1"), -1);
	assert_int_equal(m.n, TEL_MAX_OBS);
}

static void
test_queue(void **state)
{
	struct tel_queue *q = tel_queue_new(3);
	char *s;
	int i;

	for (i = 0; i < 5; i++) {
		char buf[16];

		snprintf(buf, sizeof(buf), "m%d", i);
		tel_queue_push(q, strdup(buf));
	}
	assert_int_equal(tel_queue_len(q), 3);
	assert_int_equal(tel_queue_dropped(q), 2);
	s = tel_queue_pop(q);
	assert_string_equal(s, "m2");
	free(s);
	tel_queue_push(q, strdup("m5"));
	s = tel_queue_pop(q);
	assert_string_equal(s, "m3");
	free(s);
	tel_queue_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
