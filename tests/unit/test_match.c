/* Tests for match: the relay's allowlist rule. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "common/match.h"

static int
m(const char *pattern, const char *name)
{
	return match_name(pattern, name, strlen(name));
}

static void
test_exact(void **state)
{
	assert_true(m("api.zaptec.com", "api.zaptec.com"));
	assert_true(m("api.zaptec.com", "API.Zaptec.COM"));
	assert_true(m("api.zaptec.com", "api.zaptec.com."));
	assert_true(m("api.zaptec.com.", "api.zaptec.com"));
	assert_false(m("api.zaptec.com", "api.zaptec.co"));
	assert_false(m("api.zaptec.com", "xapi.zaptec.com"));
	assert_false(m("api.zaptec.com", "api.zaptec.com.evil"));
	assert_false(m("api.zaptec.com", ""));
}

static void
test_wildcard(void **state)
{
	assert_true(m("*.azure-devices.net", "zapcloud.azure-devices.net"));
	assert_true(m("*.azure-devices.net", "a.b.azure-devices.net"));
	assert_true(m("*.azure-devices.net", "X.AZURE-devices.net."));
	assert_false(m("*.azure-devices.net", "azure-devices.net"));
	assert_false(m("*.azure-devices.net", "evilazure-devices.net"));
	assert_false(m("*.azure-devices.net", ".azure-devices.net"));
	assert_false(m("*.azure-devices.net", "azure-devices.net.evil"));
}

static void
test_any(void **state)
{
	char *list[] = { "a.example", "*.b.example" };

	assert_true(match_any(list, 2, "x.b.example", 11));
	assert_true(match_any(list, 2, "a.example", 9));
	assert_false(match_any(list, 2, "b.example", 9));
	assert_false(match_any(list, 0, "a.example", 9));
	/* The length bounds the name: no reading past it. */
	assert_true(match_any(list, 2, "a.exampleXYZ", 9));
}

static void
test_pattern_check(void **state)
{
	assert_null(match_pattern_check("api.zaptec.com"));
	assert_null(match_pattern_check("*.zaptec.com"));
	assert_null(match_pattern_check("localhost"));
	assert_non_null(match_pattern_check(""));
	assert_non_null(match_pattern_check("*"));
	assert_non_null(match_pattern_check("*."));
	assert_non_null(match_pattern_check("a.*.com"));
	assert_non_null(match_pattern_check("*zaptec.com"));
	assert_non_null(match_pattern_check("a..b"));
	assert_non_null(match_pattern_check("a b"));
	/* IP addresses never match a server name */
	assert_non_null(match_pattern_check("192.0.2.1"));
	assert_non_null(match_pattern_check("192.0.2.1."));
	assert_non_null(match_pattern_check("*.0.2.1"));
	assert_non_null(match_pattern_check("10"));
	assert_null(match_pattern_check("1password.com"));
	assert_null(match_pattern_check("a.b2c"));
	assert_null(match_pattern_check("123.example"));
	assert_non_null(match_pattern_check("a.b/c"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_any),
		cmocka_unit_test(test_pattern_check),
	};

	return cmocka_run_group_tests_name("match", tests, NULL, NULL);
}
