/*
 * Tests for psl: the Public Suffix List parser and lookup, on edge cases
 * and on the list Debian's publicsuffix package ships (the one evgated
 * --check-config reads).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/psl.h"

static struct psl *
parse(const char *text, char *err, size_t errlen)
{
	err[0] = '\0';
	return psl_parse((const uint8_t *)text, strlen(text), err, errlen);
}

static void
test_rules(void **state)
{
	char err[256];
	struct psl *p = parse(
	    "// comment\n"
	    "\n"
	    "com\r\n"
	    "CO.UK  the rest of a line is not the rule\n"
	    "\t*.ck\n"
	    "!www.ck\n"
	    "azurewebsites.net\n"
	    "net\n"
	    "net\n"			/* twice: folded */
	    "\xe5\x85\xac\xe5\x8f\xb8.cn\n"	/* UTF-8 rule */
	    "*.kawasaki.jp\n"
	    "kawasaki.jp", err, sizeof(err));

	if (p == NULL)
		fail_msg("%s", err);
	assert_int_equal(psl_count(p), 8);
	assert_true(psl_is_suffix(p, "com"));
	assert_true(psl_is_suffix(p, "co.uk"));
	assert_true(psl_is_suffix(p, "Co.Uk."));
	assert_false(psl_is_suffix(p, "example.co.uk"));
	/* a wildcard makes every child a suffix, but not the exception */
	assert_true(psl_is_suffix(p, "foo.ck"));
	assert_false(psl_is_suffix(p, "www.ck"));
	assert_false(psl_is_suffix(p, "a.foo.ck"));
	assert_true(psl_is_suffix(p, "kawasaki.jp"));
	assert_true(psl_is_suffix(p, "city.kawasaki.jp"));
	/* private section rules count: anyone can have a site there */
	assert_true(psl_is_suffix(p, "azurewebsites.net"));
	assert_false(psl_is_suffix(p, "zapcloud-api.azurewebsites.net"));
	/* the implicit rule "*": any single label */
	assert_true(psl_is_suffix(p, "lan"));
	assert_true(psl_is_suffix(p, "ck"));
	assert_false(psl_is_suffix(p, "example.lan"));
	assert_false(psl_is_suffix(p, ""));
	assert_false(psl_is_suffix(p, "."));
	psl_free(p);
}

static void
test_refused(void **state)
{
	static const struct {
		const char	*text;
		size_t		 len;
		const char	*err;
	} bad[] = {
		{ "", 0, "no rules: not a public suffix list" },
		{ "// only\n\n", 9, "no rules: not a public suffix list" },
		{ "com\0net\n", 8, "a NUL byte: not a text file" },
		{ "com\na..b\n", 9, "line 2: empty label in rule" },
		{ "com\n.com\n", 9, "line 2: empty label in rule" },
		{ "com.\n", 5, "line 1: empty label in rule" },
		{ "a/b\n", 4, "line 1: a rule is a name, \"*.name\" or \"!name\"" },
		{ "*.*.x\n", 6, "line 1: a rule is a name, \"*.name\" or \"!name\"" },
		{ "!\n", 2, "line 1: empty rule" },
		{ "*.\n", 3, "line 1: empty rule" },
	};
	char err[256], *big;
	size_t i;
	struct psl *p;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		p = psl_parse((const uint8_t *)bad[i].text, bad[i].len, err,
		    sizeof(err));
		if (p != NULL)
			fail_msg("case %zu parsed", i);
		if (strcmp(err, bad[i].err) != 0)
			fail_msg("case %zu: %s", i, err);
	}
	/* A line too long, a rule too long, too many rules. */
	big = malloc(PSL_MAX_RULES * 2 + 4096);
	memset(big, 'a', 2000);
	big[2000] = '\n';
	assert_null(psl_parse((uint8_t *)big, 2001, err, sizeof(err)));
	assert_string_equal(err, "line 1: longer than 1024 bytes");
	assert_null(psl_parse((uint8_t *)big, 300, err, sizeof(err)));
	assert_string_equal(err, "line 1: a rule longer than 253 bytes");
	for (i = 0; i <= PSL_MAX_RULES; i++) {
		big[i * 2] = 'a';
		big[i * 2 + 1] = '\n';
	}
	assert_null(psl_parse((uint8_t *)big, (PSL_MAX_RULES + 1) * 2, err,
	    sizeof(err)));
	assert_string_equal(err, "line 200001: more than 200000 rules");
	free(big);
}

/* The list evgated reads on a Debian box (scripts/setup installs it). */
static void
test_debian_list(void **state)
{
	char err[256];
	struct psl *p = psl_load(PSL_DEFAULT_PATH, err, sizeof(err));

	if (p == NULL)
		fail_msg("%s", err);
	assert_true(psl_count(p) > 5000);
	assert_true(psl_is_suffix(p, "net"));
	assert_true(psl_is_suffix(p, "com"));
	assert_true(psl_is_suffix(p, "co.uk"));
	assert_true(psl_is_suffix(p, "azurewebsites.net"));
	assert_false(psl_is_suffix(p, "azure-devices.net"));
	assert_false(psl_is_suffix(p, "zaptec.com"));
	assert_false(psl_is_suffix(p, "www.ck"));
	psl_free(p);
	assert_null(psl_load("/nonexistent/list.dat", err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/list.dat: No such file or "
	    "directory");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_debian_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
