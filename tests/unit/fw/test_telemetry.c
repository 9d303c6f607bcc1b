/*
 * test_telemetry: the observation JSON (checked by parsing it back, and
 * byte for byte against what json-c writes for the same tree) and the
 * message's bounds (it lives on a controller's stack).
 */
#include <limits.h>
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

/* The same message as a json-c tree, written the way the hub's peers do. */
static char *
reference(const struct tel_msg *m, const char *when)
{
	struct json_object *root, *arr, *o;
	char *out;
	size_t i;

	root = json_object_new_object();
	arr = json_object_new_array();
	for (i = 0; i < m->n; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "ObservedAt",
		    json_object_new_string(when));
		json_object_object_add(o, "Value",
		    json_object_new_string(tel_value(m, i)));
		json_object_object_add(o, "ObservationId",
		    json_object_new_int(m->obs[i].id));
		json_object_object_add(o, "Type",
		    json_object_new_int((int)m->obs[i].type));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "Observations", arr);
	json_object_object_add(root, "Type", json_object_new_int(6));
	out = strdup(json_object_to_json_string_ext(root,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return out;
}

static void
test_encode_escapes(void **state)
{
	static const char *const values[] = {
		"", "plain", "q\"uote", "back\\slash", "a/b", "tab\there",
		"\b\f\n\r\t", "\x01\x1f\x7f", "\xc3\xa6\xc3\xb8\xc3\xa5 UTF-8",
		"{\"json\":[1,2]}", "\x1b[0m",
	};
	struct tel_msg m;
	char when[32], *mine, *ref;
	size_t i;

	/* No observations at all. */
	tel_init(&m);
	tel_time(0, when, sizeof(when));
	assert_string_equal(when, "1970-01-01T00:00:00Z");
	mine = tel_encode(&m, 0);
	ref = reference(&m, when);
	assert_non_null(mine);
	assert_string_equal(mine, ref);
	free(mine);
	free(ref);

	/* Every escape, negative and large ids, all observation types. */
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		assert_int_equal(tel_add(&m, i == 0 ? TEL_PULSE : 2147483647 -
		    (int)i, (enum tel_type)(1 + i % 4), values[i]), 0);
	assert_int_equal(tel_add(&m, INT_MIN, TEL_INT, "min"), 0);
	assert_int_equal(tel_add(&m, 0, TEL_INT, "0"), 0);
	tel_time(4102444799000LL, when, sizeof(when));
	mine = tel_encode(&m, 4102444799000LL);
	ref = reference(&m, when);
	assert_non_null(mine);
	assert_string_equal(mine, ref);
	assert_non_null(strstr(mine, "\\u0001\\u001f\x7f"));
	free(mine);
	free(ref);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_encode_escapes),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
