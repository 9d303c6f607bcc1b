/* Tests for control_parse_request: the control socket's request parser. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "common/control.h"

static struct json_object *
parse(const char *s, const char **cmd, char *err)
{
	return control_parse_request(s, strlen(s), cmd, err, 256);
}

static void
test_good(void **state)
{
	struct json_object *o;
	const char *cmd;
	char err[256];

	o = parse("{\"cmd\":\"status\"}", &cmd, err);
	assert_non_null(o);
	assert_string_equal(cmd, "status");
	json_object_put(o);
	o = parse(" {\"cmd\": \"connections\", \"x\": [1, 2]} ", &cmd, err);
	assert_non_null(o);
	assert_string_equal(cmd, "connections");
	json_object_put(o);
}

static void
expect_error(const char *req, const char *substr)
{
	const char *cmd;
	char err[256];

	err[0] = '\0';
	assert_null(parse(req, &cmd, err));
	assert_null(cmd);
	if (strstr(err, substr) == NULL)
		fail_msg("request %s: error \"%s\" lacks \"%s\"", req, err,
		    substr);
}

static void
test_bad(void **state)
{
	expect_error("", "incomplete");
	expect_error("{", "incomplete");
	expect_error("[\"status\"]", "must be a JSON object");
	expect_error("\"status\"", "must be a JSON object");
	expect_error("{}", "needs a \"cmd\"");
	expect_error("{\"cmd\":1}", "needs a \"cmd\"");
	expect_error("{\"cmd\":\"\"}", "bad command name");
	expect_error("{\"cmd\":\"STATUS\"}", "bad command name");
	expect_error("{\"cmd\":\"a b\"}", "bad command name");
	expect_error("{\"cmd\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	    "bad command name");
	expect_error("{\"cmd\":\"status\"} {}", "malformed");
	expect_error("{\"cmd\":\"status\",}", "malformed");
	expect_error("{'cmd':'status'}", "malformed");
	/* Deeper than the tokener allows. */
	expect_error("{\"cmd\":\"x\",\"a\":[[[[[[[[[[[[1]]]]]]]]]]]]}",
	    "malformed");
}

static void
test_nul_and_size(void **state)
{
	const char req[] = "{\"cmd\":\"status\"}\0{}";
	const char *cmd;
	char err[256];
	char *big;

	assert_null(control_parse_request(req, sizeof(req) - 1, &cmd, err,
	    sizeof(err)));
	assert_non_null(strstr(err, "NUL"));
	big = malloc(CONTROL_MAX_REQUEST + 2);
	memset(big, ' ', CONTROL_MAX_REQUEST + 1);
	big[CONTROL_MAX_REQUEST + 1] = '\0';
	assert_null(control_parse_request(big, CONTROL_MAX_REQUEST + 1, &cmd,
	    err, sizeof(err)));
	assert_non_null(strstr(err, "longer"));
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_nul_and_size),
	};

	return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
