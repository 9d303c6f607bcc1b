/*
 * test_method: the direct-method topic and payload parsers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/method.h"

static enum method_status
topic(const char *t, struct method_req *r)
{
	return method_parse_topic(t, strlen(t), r);
}

static enum method_status
payload(int id, const char *p, struct method_args *a)
{
	return method_parse_payload(id, (const uint8_t *)p, strlen(p), a);
}

static void
test_topic(void **state)
{
	struct method_req r;

	assert_int_equal(topic("$iothub/methods/POST/501/?$rid=1", &r),
	    METHOD_OK);
	assert_int_equal(r.id, 501);
	assert_string_equal(r.name, "501");
	assert_string_equal(r.rid, "1");
	assert_int_equal(topic("$iothub/methods/POST/ping/?$rid=a1-f", &r),
	    METHOD_OK);
	assert_int_equal(r.id, -1);
	assert_string_equal(r.rid, "a1-f");
	assert_int_equal(topic("$iothub/methods/POST/1234567/?$rid=1", &r),
	    METHOD_OK);
	assert_int_equal(r.id, -1);
	assert_int_equal(topic("$iothub/methods/POST/501", &r), METHOD_BAD_RID);
	assert_int_equal(topic("$iothub/methods/POST/501/?$rid=", &r),
	    METHOD_BAD_RID);
	assert_int_equal(topic("$iothub/methods/POST/501/?$rid=1&x=2", &r),
	    METHOD_BAD_RID);
	assert_int_equal(topic("$iothub/methods/POST//?$rid=1", &r),
	    METHOD_BAD_TOPIC);
	assert_int_equal(topic("$iothub/twin/res/200/?$rid=1", &r),
	    METHOD_BAD_TOPIC);
	assert_int_equal(topic("$iothub/methods/POST/", &r), METHOD_BAD_TOPIC);
	/* Length is honoured: a topic cut before the rid is refused. */
	assert_int_equal(method_parse_topic("$iothub/methods/POST/501/?$rid=1",
	    26, &r), METHOD_BAD_RID);
	{
		char big[200];

		memset(big, '7', sizeof(big));
		memcpy(big, "$iothub/methods/POST/1/?$rid=", 29);
		assert_int_equal(method_parse_topic(big, sizeof(big), &r),
		    METHOD_BAD_RID);
	}
}

static void
test_start_payloads(void **state)
{
	struct method_args a;

	assert_int_equal(payload(501, "[\"16\",\"3\"]", &a), METHOD_OK);
	assert_int_equal(a.current_a, 16);
	assert_int_equal(a.phases, 3);
	assert_int_equal(payload(501, " [ 32 , 1 ] \n", &a), METHOD_OK);
	assert_int_equal(a.current_a, 32);
	assert_int_equal(a.phases, 1);
	assert_int_equal(payload(501, "[\"10\"]", &a), METHOD_OK);
	assert_int_equal(a.phases, 3);
	assert_int_equal(payload(501, "", &a), METHOD_OK);
	assert_int_equal(a.current_a, 0);
	assert_int_equal(payload(501, "null", &a), METHOD_OK);
	assert_int_equal(payload(501, "[]", &a), METHOD_OK);

	assert_int_equal(payload(501, "[\"5\",\"3\"]", &a), METHOD_BAD_VALUE);
	assert_int_equal(payload(501, "[\"33\",\"3\"]", &a), METHOD_BAD_VALUE);
	assert_int_equal(payload(501, "[\"16\",\"2\"]", &a), METHOD_BAD_VALUE);
	assert_int_equal(payload(501, "[\"-16\",\"3\"]", &a), METHOD_BAD_SHAPE);
	assert_int_equal(payload(501, "[\"16A\",\"3\"]", &a), METHOD_BAD_SHAPE);
	assert_int_equal(payload(501, "[16.5,3]", &a), METHOD_BAD_SHAPE);
	assert_int_equal(payload(501, "[16,3,1]", &a), METHOD_BAD_SHAPE);
	assert_int_equal(payload(501, "{\"a\":1}", &a), METHOD_BAD_SHAPE);
	assert_int_equal(payload(501, "16", &a), METHOD_BAD_SHAPE);
	assert_int_equal(payload(501, "[\"16\",\"3\"", &a), METHOD_BAD_JSON);
	assert_int_equal(payload(501, "[16,3] x", &a), METHOD_BAD_JSON);
	assert_int_equal(payload(501, "[[[[[[[[[[1]]]]]]]]]]", &a),
	    METHOD_BAD_JSON);
	assert_int_equal(method_parse_payload(501, (const uint8_t *)"[16\0,3]",
	    7, &a), METHOD_BAD_JSON);
}

static void
test_text_payloads(void **state)
{
	struct method_args a;
	char big[80];

	assert_int_equal(payload(504, "\"S-1\"", &a), METHOD_OK);
	assert_string_equal(a.text, "S-1");
	assert_int_equal(payload(505, "[\"user@example\"]", &a), METHOD_OK);
	assert_string_equal(a.text, "user@example");
	assert_int_equal(payload(504, "\"\"", &a), METHOD_BAD_VALUE);
	assert_int_equal(payload(504, "\"a\\u0001\"", &a), METHOD_BAD_VALUE);
	assert_int_equal(payload(504, "12", &a), METHOD_BAD_SHAPE);
	assert_int_equal(payload(504, "", &a), METHOD_BAD_SHAPE);
	memset(big, 'x', sizeof(big));
	big[0] = '"';
	big[66] = '"';
	big[67] = '\0';
	assert_int_equal(payload(504, big, &a), METHOD_BAD_VALUE);
	big[65] = '"';
	big[66] = '\0';
	assert_int_equal(payload(504, big, &a), METHOD_OK);
	assert_int_equal(strlen(a.text), 64);
}

static void
test_other_payloads(void **state)
{
	struct method_args a;
	static uint8_t huge[METHOD_MAX_PAYLOAD + 1];

	assert_int_equal(payload(1, "", &a), METHOD_OK);
	assert_int_equal(payload(502, "{}", &a), METHOD_OK);
	assert_int_equal(payload(507, "{", &a), METHOD_BAD_JSON);
	memset(huge, ' ', sizeof(huge));
	assert_int_equal(method_parse_payload(503, huge, sizeof(huge), &a),
	    METHOD_TOO_LARGE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_topic),
		cmocka_unit_test(test_start_payloads),
		cmocka_unit_test(test_text_payloads),
		cmocka_unit_test(test_other_payloads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
