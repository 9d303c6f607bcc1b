/* Tests for util: durations and socket addresses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <netinet/in.h>

#include "common/util.h"

static void
test_duration(void **state)
{
	uint64_t v;
	char buf[32];

	assert_int_equal(parse_duration_ms("10s", &v), 0);
	assert_int_equal(v, 10000);
	assert_int_equal(parse_duration_ms("250ms", &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(parse_duration_ms("2h", &v), 0);
	assert_int_equal(v, 7200000);
	assert_int_equal(parse_duration_ms("5m", &v), 0);
	assert_int_equal(v, 300000);
	assert_int_equal(parse_duration_ms("1d", &v), 0);
	assert_int_equal(v, 86400000);
	assert_int_equal(parse_duration_ms("30", &v), 0);
	assert_int_equal(v, 30000);
	assert_int_equal(parse_duration_ms("", &v), -1);
	assert_int_equal(parse_duration_ms("s", &v), -1);
	assert_int_equal(parse_duration_ms("-1s", &v), -1);
	assert_int_equal(parse_duration_ms("1.5s", &v), -1);
	assert_int_equal(parse_duration_ms("10 s", &v), -1);
	assert_int_equal(parse_duration_ms("10y", &v), -1);
	assert_int_equal(parse_duration_ms("99999999999999999999s", &v), -1);
	assert_int_equal(parse_duration_ms("18446744073709552s", &v), -1);
	format_duration_ms(7200000, buf, sizeof(buf));
	assert_string_equal(buf, "2h");
	format_duration_ms(1500, buf, sizeof(buf));
	assert_string_equal(buf, "1500ms");
	format_duration_ms(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
}

static void
test_sockaddr(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[64];

	assert_int_equal(parse_sockaddr("192.0.2.53", 53, &ss, &len), 0);
	assert_string_equal(format_sockaddr((struct sockaddr *)&ss, buf,
	    sizeof(buf)), "192.0.2.53:53");
	assert_int_equal(parse_sockaddr("192.0.2.53:5353", 53, &ss, &len), 0);
	assert_string_equal(format_sockaddr((struct sockaddr *)&ss, buf,
	    sizeof(buf)), "192.0.2.53:5353");
	assert_int_equal(parse_sockaddr("2001:db8::1", 53, &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_string_equal(format_sockaddr((struct sockaddr *)&ss, buf,
	    sizeof(buf)), "[2001:db8::1]:53");
	assert_int_equal(parse_sockaddr("[2001:db8::1]:853", 53, &ss, &len), 0);
	assert_string_equal(format_sockaddr((struct sockaddr *)&ss, buf,
	    sizeof(buf)), "[2001:db8::1]:853");
	assert_string_equal(format_addr((struct sockaddr *)&ss, buf,
	    sizeof(buf)), "2001:db8::1");
	assert_int_equal(parse_sockaddr("dns.google", 53, &ss, &len), -1);
	assert_int_equal(parse_sockaddr("1.2.3.4:0", 53, &ss, &len), -1);
	assert_int_equal(parse_sockaddr("1.2.3.4:65536", 53, &ss, &len), -1);
	assert_int_equal(parse_sockaddr("1.2.3.4:x", 53, &ss, &len), -1);
	assert_int_equal(parse_sockaddr("[::1", 53, &ss, &len), -1);
	assert_int_equal(parse_sockaddr("[::1]x", 53, &ss, &len), -1);
	assert_int_equal(parse_sockaddr("", 53, &ss, &len), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_sockaddr),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
