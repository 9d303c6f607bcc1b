/*
 * Tests for dnsmasq.c's pure parts: classifying dnsmasq's log lines (the
 * refusal of an unknown MAC, a port conflict) and the restart back-off.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "site/dnsmasq.h"

static enum dnsmasq_log_kind
parse(const char *line, struct dnsmasq_log *lg)
{
	return dnsmasq_parse_log(line, strlen(line), lg);
}

static void
test_ignored(void **state)
{
	struct dnsmasq_log lg;

	assert_int_equal(parse("dnsmasq-dhcp[24504]: DHCPDISCOVER(plc0) "
	    "02:42:00:00:00:02 ignored", &lg), DNSMASQ_LOG_IGNORED);
	assert_memory_equal(lg.mac, "\x02\x42\x00\x00\x00\x02", 6);
	assert_string_equal(lg.interface, "plc0");

	/* A REQUEST names the address it wants first. */
	assert_int_equal(parse("dnsmasq-dhcp[1]: DHCPREQUEST(eth1.42) "
	    "10.42.0.77 0a:0B:0c:0d:0e:0f ignored", &lg),
	    DNSMASQ_LOG_IGNORED);
	assert_memory_equal(lg.mac, "\x0a\x0b\x0c\x0d\x0e\x0f", 6);
	assert_string_equal(lg.interface, "eth1.42");

	/* An interface name that is not one is not passed on. */
	assert_int_equal(parse("dnsmasq-dhcp[1]: DHCPDISCOVER(a b) "
	    "02:42:00:00:00:02 ignored", &lg), DNSMASQ_LOG_IGNORED);
	assert_string_equal(lg.interface, "");
}

static void
test_dhcp_lines(void **state)
{
	struct dnsmasq_log lg;

	assert_int_equal(parse("dnsmasq-dhcp[1]: DHCPACK(plc0) 10.42.0.21 "
	    "02:42:00:00:00:01 ", &lg), DNSMASQ_LOG_DHCP);
	assert_int_equal(parse("dnsmasq-dhcp[1]: DHCPOFFER(plc0) 10.42.0.21 "
	    "02:42:00:00:00:01", &lg), DNSMASQ_LOG_DHCP);
	/* "ignored" must be the last word after a MAC */
	assert_int_equal(parse("dnsmasq-dhcp[1]: DHCPDISCOVER(plc0) "
	    "not-a-mac-address ignored", &lg), DNSMASQ_LOG_DHCP);
	assert_int_equal(parse("dnsmasq-dhcp[1]: DHCPDISCOVER(plc0) "
	    "02:42:00:00:00:01 ignored extra", &lg), DNSMASQ_LOG_DHCP);
	assert_int_equal(parse("dnsmasq-dhcp[1]: DHCP ignored", &lg),
	    DNSMASQ_LOG_DHCP);
	/* Start-up notes about DHCP are not transactions. */
	assert_int_equal(parse("dnsmasq-dhcp[1]: DHCP, IP range 10.42.0.10 -- "
	    "10.42.0.250, lease time 1h", &lg), DNSMASQ_LOG_INFO);
	assert_int_equal(lg.msglen, strlen("DHCP, IP range 10.42.0.10 -- "
	    "10.42.0.250, lease time 1h"));
}

static void
test_errors(void **state)
{
	struct dnsmasq_log lg;

	assert_int_equal(parse("dnsmasq: failed to create listening socket "
	    "for 10.42.0.1: Address already in use", &lg), DNSMASQ_LOG_ERROR);
	assert_true(lg.in_use);
	assert_string_equal(lg.msg, "failed to create listening socket for "
	    "10.42.0.1: Address already in use");
	assert_int_equal(parse("dnsmasq: unknown interface plc9", &lg),
	    DNSMASQ_LOG_ERROR);
	assert_false(lg.in_use);
	assert_int_equal(parse("dnsmasq: lease-init script returned exit "
	    "code 1", &lg), DNSMASQ_LOG_ERROR);
	assert_int_equal(parse("dnsmasq[9]: cannot read /run/x/dhcp-hosts: "
	    "Permission denied", &lg), DNSMASQ_LOG_ERROR);
	assert_int_equal(parse("dnsmasq[9]: started, version 2.90 cachesize "
	    "1000", &lg), DNSMASQ_LOG_INFO);
	/* expected with no pass_through names: not an error */
	assert_int_equal(parse("dnsmasq[9]: warning: no upstream servers "
	    "configured", &lg), DNSMASQ_LOG_INFO);
	assert_int_equal(parse("dnsmasq-script[9]: evgate-dhcp-hook: evgated "
	    "is not running", &lg), DNSMASQ_LOG_SCRIPT);
	assert_string_equal(lg.msg, "evgate-dhcp-hook: evgated is not running");
}

static void
test_odd_lines(void **state)
{
	struct dnsmasq_log lg;
	char big[3000];

	/* Lines without dnsmasq's prefix are kept whole. */
	assert_int_equal(parse("something else", &lg), DNSMASQ_LOG_INFO);
	assert_int_equal(lg.msglen, 14);
	assert_int_equal(parse("", &lg), DNSMASQ_LOG_INFO);
	assert_int_equal(parse("dnsmasq", &lg), DNSMASQ_LOG_INFO);
	assert_int_equal(parse("dnsmasq: ", &lg), DNSMASQ_LOG_INFO);
	assert_int_equal(lg.msglen, 0);
	assert_int_equal(parse("dnsmasq-dhcp[1]: DHCP", &lg),
	    DNSMASQ_LOG_DHCP);
	assert_int_equal(parse("dnsmasq-dhcp[1]: DHCPX 02:42:00:00:00:01 "
	    "ignored", &lg), DNSMASQ_LOG_IGNORED);
	assert_string_equal(lg.interface, "");
	/* Not NUL-terminated at len: the parser stays within len. */
	memset(big, 'A', sizeof(big));
	memcpy(big, "dnsmasq-dhcp[1]: DHCP", 21);
	assert_int_equal(dnsmasq_parse_log(big, sizeof(big), &lg),
	    DNSMASQ_LOG_DHCP);
	assert_int_equal(dnsmasq_parse_log(big, 5, &lg), DNSMASQ_LOG_INFO);
}

static void
test_backoff(void **state)
{
	unsigned b = 0;
	int i;

	/* 1, 2, 4, ... 32, 60, 60: doubling, capped at a minute. */
	b = dnsmasq_next_backoff(b, 100);
	assert_int_equal(b, 1);
	b = dnsmasq_next_backoff(b, 100);
	assert_int_equal(b, 2);
	b = dnsmasq_next_backoff(b, 100);
	assert_int_equal(b, 4);
	for (i = 0; i < 10; i++)
		b = dnsmasq_next_backoff(b, 100);
	assert_int_equal(b, DNSMASQ_BACKOFF_MAX_S);
	/* A minute of stable running starts the count again. */
	assert_int_equal(dnsmasq_next_backoff(b, DNSMASQ_STABLE_MS),
	    DNSMASQ_BACKOFF_MIN_S);
	assert_int_equal(dnsmasq_next_backoff(b, DNSMASQ_STABLE_MS - 1),
	    DNSMASQ_BACKOFF_MAX_S);
	assert_int_equal(dnsmasq_next_backoff(32, 0), 60);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ignored),
		cmocka_unit_test(test_dhcp_lines),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_odd_lines),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests_name("dnsmasq", tests, NULL, NULL);
}
