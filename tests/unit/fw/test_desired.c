/*
 * test_desired: the settings the cloud may change through the twin --
 * whole documents and patches, ranges, null, the acknowledgement that is
 * reported back, bounds, and the text they are kept in across reboots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/desired.h"

static enum desired_status
apply(struct desired_settings *s, const char *json, int full, int64_t v,
    char *ack)
{
	return desired_apply(s, json, strlen(json), full, v, ack,
	    DESIRED_ACK_MAX);
}

static void
test_patch_and_full(void **state)
{
	struct desired_settings s;
	char ack[DESIRED_ACK_MAX];

	memset(&s, 0, sizeof(s));
	assert_int_equal(apply(&s, "{\"maxCurrent\":16,\"$version\":3}", 0, 3,
	    ack), DESIRED_OK);
	assert_int_equal(s.max_current_a, 16);
	assert_string_equal(ack, "{\"desiredVersion\":3,\"maxCurrent\":"
	    "{\"value\":16,\"ac\":200,\"av\":3}}");
	assert_int_equal(apply(&s, "{\"telemetry\":{\"pulseIdle\":900,"
	    "\"meterInterval\":30}}", 0, 4, ack), DESIRED_OK);
	assert_int_equal(s.max_current_a, 16);		/* untouched */
	assert_int_equal(s.pulse_idle_s, 900);
	assert_int_equal(s.meter_interval_s, 30);
	assert_string_equal(ack, "{\"desiredVersion\":4,\"telemetry\":"
	    "{\"value\":{\"pulseIdle\":900,\"meterInterval\":30},\"ac\":200,"
	    "\"av\":4}}");
	/* null deletes: back to what is configured. */
	assert_int_equal(apply(&s, "{\"maxCurrent\":null,\"telemetry\":"
	    "{\"pulseIdle\":null}}", 0, 5, ack), DESIRED_OK);
	assert_int_equal(s.max_current_a, 0);
	assert_int_equal(s.pulse_idle_s, 0);
	assert_int_equal(s.meter_interval_s, 30);
	assert_non_null(strstr(ack, "\"maxCurrent\":{\"value\":null,\"ac\":200"));
	/* A whole document resets what it does not name. */
	assert_int_equal(apply(&s, "{\"maxCurrent\":10,\"firmware\":{\"url\":"
	    "\"https://x/y.manifest\"},\"$version\":6}", 1, 6, ack),
	    DESIRED_OK);
	assert_int_equal(s.max_current_a, 10);
	assert_int_equal(s.meter_interval_s, 0);
	/* Not ours ("firmware"), not acknowledged here. */
	assert_null(strstr(ack, "firmware"));
	assert_int_equal(apply(&s, "{}", 1, 7, ack), DESIRED_OK);
	assert_int_equal(s.max_current_a, 0);
	assert_string_equal(ack, "{\"desiredVersion\":7}");
}

/* Out of range: the old value stays, the ack says 400 and why. */
static void
test_bad_values(void **state)
{
	struct desired_settings s;
	char ack[DESIRED_ACK_MAX];

	memset(&s, 0, sizeof(s));
	s.max_current_a = 20;
	s.pulse_idle_s = 600;
	assert_int_equal(apply(&s, "{\"maxCurrent\":5}", 0, 2, ack),
	    DESIRED_OK);
	assert_int_equal(s.max_current_a, 20);
	assert_string_equal(ack, "{\"desiredVersion\":2,\"maxCurrent\":"
	    "{\"value\":20,\"ac\":400,\"av\":2,\"ad\":\"an integer 6..32 (A), "
	    "or null\"}}");
	apply(&s, "{\"maxCurrent\":33}", 0, 3, ack);
	apply(&s, "{\"maxCurrent\":\"16\"}", 0, 4, ack);
	apply(&s, "{\"maxCurrent\":16.5}", 0, 5, ack);
	apply(&s, "{\"maxCurrent\":-16}", 0, 6, ack);
	assert_int_equal(s.max_current_a, 20);
	/* One bad member spoils the telemetry object, not the others. */
	assert_int_equal(apply(&s, "{\"telemetry\":{\"pulseIdle\":900,"
	    "\"pulseCharging\":5},\"maxCurrent\":8}", 0, 7, ack), DESIRED_OK);
	assert_int_equal(s.pulse_idle_s, 600);
	assert_int_equal(s.max_current_a, 8);
	assert_non_null(strstr(ack, "\"telemetry\":{\"value\":{},\"ac\":400"));
	apply(&s, "{\"telemetry\":{\"pulseIdel\":900}}", 0, 8, ack);
	apply(&s, "{\"telemetry\":[900]}", 0, 9, ack);
	apply(&s, "{\"telemetry\":{\"meterInterval\":86401}}", 0, 10, ack);
	assert_int_equal(s.pulse_idle_s, 600);
	assert_int_equal(s.meter_interval_s, 0);
}

/* Not JSON, not an object, too big, NUL inside: nothing changes. */
static void
test_bad_documents(void **state)
{
	struct desired_settings s, before;
	char ack[DESIRED_ACK_MAX], *big;
	size_t n = DESIRED_DOC_MAX + 1;

	memset(&s, 0, sizeof(s));
	s.max_current_a = 12;
	before = s;
	assert_int_equal(apply(&s, "{\"maxCurrent\":", 0, 1, ack),
	    DESIRED_BAD_JSON);
	assert_int_equal(apply(&s, "[1,2]", 0, 1, ack), DESIRED_NOT_OBJECT);
	assert_int_equal(apply(&s, "{\"maxCurrent\":10} x", 0, 1, ack),
	    DESIRED_BAD_JSON);
	assert_int_equal(desired_apply(&s, "{\"a\":1}\0{}", 10, 0, 1, ack,
	    sizeof(ack)), DESIRED_BAD_JSON);
	assert_int_equal(apply(&s, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]"
	    "]]]]]]]]]]]]]]]]]]]]]]]]]", 0, 1, ack), DESIRED_BAD_JSON);
	big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	assert_int_equal(desired_apply(&s, big, n, 0, 1, ack, sizeof(ack)),
	    DESIRED_TOO_LARGE);
	free(big);
	assert_memory_equal(&s, &before, sizeof(s));
	assert_string_equal(desired_strerror(DESIRED_NOT_OBJECT),
	    "not a JSON object");
}

static void
test_keep(void **state)
{
	struct desired_settings s = { 16, 900, 0, 30 }, back;
	char text[DESIRED_STATE_MAX];
	int64_t v;

	assert_int_equal(desired_encode(&s, 42, text, sizeof(text)), 0);
	assert_string_equal(text, "v=42 max=16 pi=900 pc=0 mi=30");
	assert_int_equal(desired_decode(text, strlen(text), &back, &v), 0);
	assert_memory_equal(&s, &back, sizeof(s));
	assert_int_equal(v, 42);
	assert_int_equal(desired_decode("v=1 max=5 pi=0 pc=0 mi=0", 24, &back,
	    &v), -1);
	assert_int_equal(desired_decode("v=1 max=16", 10, &back, &v), -1);
	assert_int_equal(desired_decode("", 0, &back, &v), -1);
	assert_int_equal(desired_decode("v=-1 max=0 pi=0 pc=0 mi=0", 25, &back,
	    &v), -1);
	assert_int_equal(desired_encode(&s, 42, text, 8), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patch_and_full),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_bad_documents),
		cmocka_unit_test(test_keep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
