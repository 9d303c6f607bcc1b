/*
 * Tests for netpolicy.c, the upstream address policy: classes by value,
 * prefixes, v4-mapped addresses, the loop rule against evgated's own
 * listeners, the gateway's own addresses (loopback is local on every
 * box), and configured addresses getting only the "never" rules.
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "common/netpolicy.h"

static union sockaddr_any
sa(const char *text, uint16_t port)
{
	union sockaddr_any a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, text, &a.sin.sin_addr) == 1) {
		a.sin.sin_family = AF_INET;
		a.sin.sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &a.sin6.sin6_addr),
		    1);
		a.sin6.sin6_family = AF_INET6;
		a.sin6.sin6_port = htons(port);
	}
	return a;
}

static enum netpolicy_class
cls(const char *text)
{
	union sockaddr_any a = sa(text, 0);

	return netpolicy_classify(&a.sa);
}

static void
test_classify(void **state)
{
	assert_int_equal(cls("0.0.0.0"), NETPOLICY_UNSPECIFIED);
	assert_int_equal(cls("0.1.2.3"), NETPOLICY_UNSPECIFIED);
	assert_int_equal(cls("::"), NETPOLICY_UNSPECIFIED);
	assert_int_equal(cls("224.0.0.1"), NETPOLICY_MULTICAST);
	assert_int_equal(cls("239.255.255.250"), NETPOLICY_MULTICAST);
	assert_int_equal(cls("ff02::1"), NETPOLICY_MULTICAST);
	assert_int_equal(cls("255.255.255.255"), NETPOLICY_BROADCAST);
	assert_int_equal(cls("240.0.0.1"), NETPOLICY_RESERVED);
	assert_int_equal(cls("127.0.0.1"), NETPOLICY_LOOPBACK);
	assert_int_equal(cls("127.255.0.9"), NETPOLICY_LOOPBACK);
	assert_int_equal(cls("::1"), NETPOLICY_LOOPBACK);
	assert_int_equal(cls("169.254.169.254"), NETPOLICY_LINK_LOCAL);
	assert_int_equal(cls("fe80::1"), NETPOLICY_LINK_LOCAL);
	assert_int_equal(cls("10.0.0.5"), NETPOLICY_PRIVATE);
	assert_int_equal(cls("172.16.0.1"), NETPOLICY_PRIVATE);
	assert_int_equal(cls("172.31.255.255"), NETPOLICY_PRIVATE);
	assert_int_equal(cls("172.32.0.1"), NETPOLICY_PUBLIC);
	assert_int_equal(cls("192.168.1.1"), NETPOLICY_PRIVATE);
	assert_int_equal(cls("100.64.0.1"), NETPOLICY_SHARED);
	assert_int_equal(cls("100.127.255.255"), NETPOLICY_SHARED);
	assert_int_equal(cls("100.128.0.1"), NETPOLICY_PUBLIC);
	assert_int_equal(cls("fc00::1"), NETPOLICY_UNIQUE_LOCAL);
	assert_int_equal(cls("fd12:3456::1"), NETPOLICY_UNIQUE_LOCAL);
	assert_int_equal(cls("203.0.113.10"), NETPOLICY_PUBLIC);
	assert_int_equal(cls("2001:db8::1"), NETPOLICY_PUBLIC);
	/* v4-mapped: the IPv4 address's class */
	assert_int_equal(cls("::ffff:127.0.0.1"), NETPOLICY_LOOPBACK);
	assert_int_equal(cls("::ffff:10.1.1.1"), NETPOLICY_PRIVATE);
	assert_string_equal(netpolicy_class_str(NETPOLICY_OWN_LISTENER),
	    "own-listener");
}

static void
test_prefixes(void **state)
{
	struct netpolicy_prefix p;
	const char *why;
	union sockaddr_any a;

	assert_int_equal(netpolicy_parse_prefix("10.9.0.0/16", &p, &why), 0);
	a = sa("10.9.200.1", 0);
	assert_true(netpolicy_prefix_contains(&p, &a.sa));
	a = sa("10.10.0.1", 0);
	assert_false(netpolicy_prefix_contains(&p, &a.sa));
	a = sa("::ffff:10.9.0.1", 0);	/* not unmapped: another family */
	assert_false(netpolicy_prefix_contains(&p, &a.sa));
	assert_int_equal(netpolicy_parse_prefix("fd00::/8", &p, &why), 0);
	a = sa("fd99::1", 0);
	assert_true(netpolicy_prefix_contains(&p, &a.sa));
	assert_int_equal(netpolicy_parse_prefix("0.0.0.0/0", &p, &why), 0);
	a = sa("1.2.3.4", 0);
	assert_true(netpolicy_prefix_contains(&p, &a.sa));
	assert_int_equal(netpolicy_parse_prefix("10.9.0.1/16", &p, &why), -1);
	assert_int_equal(netpolicy_parse_prefix("10.9.0.0", &p, &why), -1);
	assert_int_equal(netpolicy_parse_prefix("10.9.0.0/33", &p, &why), -1);
	assert_int_equal(netpolicy_parse_prefix("10.9.0.0/x", &p, &why), -1);
	assert_int_equal(netpolicy_parse_prefix("/8", &p, &why), -1);
	assert_int_equal(netpolicy_parse_prefix("::/129", &p, &why), -1);
	assert_int_equal(netpolicy_parse_prefix("10.128.0.0/9", &p, &why), 0);
	assert_int_equal(netpolicy_parse_prefix("10.64.0.0/9", &p, &why), -1);
}

static void
test_unmap(void **state)
{
	union sockaddr_any a = sa("::ffff:192.0.2.7", 443);

	netpolicy_unmap(&a);
	assert_int_equal(a.sa.sa_family, AF_INET);
	assert_int_equal(ntohs(a.sin.sin_port), 443);
	assert_int_equal(ntohl(a.sin.sin_addr.s_addr), 0xc0000207);
	a = sa("2001:db8::1", 443);
	netpolicy_unmap(&a);
	assert_int_equal(a.sa.sa_family, AF_INET6);
}

static void
test_check(void **state)
{
	struct netpolicy *np = netpolicy_new(NULL);
	struct netpolicy_prefix p;
	struct netpolicy_stats st;
	struct sockaddr_storage l[2];
	union sockaddr_any a;
	const char *why;

	/* evgated listens on 0.0.0.0:443 and 127.0.0.1:9310 */
	memset(l, 0, sizeof(l));
	a = sa("0.0.0.0", 443);
	memcpy(&l[0], &a, sizeof(a.sin));
	a = sa("127.0.0.1", 9310);
	memcpy(&l[1], &a, sizeof(a.sin));
	netpolicy_set_listeners(np, l, 2);

	a = sa("203.0.113.10", 443);
	assert_int_equal(netpolicy_check(np, &a, 0), NETPOLICY_PUBLIC);
	a = sa("127.0.0.1", 8883);
	assert_int_equal(netpolicy_check(np, &a, 0), NETPOLICY_LOOPBACK);
	a = sa("::ffff:127.0.0.1", 8883);
	assert_int_equal(netpolicy_check(np, &a, 0), NETPOLICY_LOOPBACK);
	assert_int_equal(a.sa.sa_family, AF_INET);	/* unmapped in place */
	a = sa("10.0.0.5", 443);
	assert_int_equal(netpolicy_check(np, &a, 0), NETPOLICY_PRIVATE);
	a = sa("224.0.0.1", 443);
	assert_int_equal(netpolicy_check(np, &a, 1), NETPOLICY_MULTICAST);

	/* an allowed prefix opens a class, never the loop */
	assert_int_equal(netpolicy_parse_prefix("127.0.0.0/8", &p, &why), 0);
	netpolicy_set_allowed(np, &p, 1);
	a = sa("127.0.0.1", 8883);
	assert_int_equal(netpolicy_check(np, &a, 0), NETPOLICY_PUBLIC);
	a = sa("127.0.0.1", 443);	/* loopback is local: the wildcard */
	assert_int_equal(netpolicy_check(np, &a, 0), NETPOLICY_OWN_LISTENER);
	a = sa("::ffff:127.0.0.9", 443);
	assert_int_equal(netpolicy_check(np, &a, 0), NETPOLICY_OWN_LISTENER);
	a = sa("127.0.0.1", 9310);
	assert_int_equal(netpolicy_check(np, &a, 1), NETPOLICY_OWN_LISTENER);
	/* a public address on a port we listen on: not ours */
	a = sa("203.0.113.10", 443);
	assert_int_equal(netpolicy_check(np, &a, 0), NETPOLICY_PUBLIC);

	/* a configured address: only the never-rules */
	netpolicy_set_allowed(np, NULL, 0);
	a = sa("10.0.0.5", 3128);
	assert_int_equal(netpolicy_check(np, &a, 1), NETPOLICY_PUBLIC);
	a = sa("0.0.0.0", 3128);
	assert_int_equal(netpolicy_check(np, &a, 1), NETPOLICY_UNSPECIFIED);

	netpolicy_stats(np, &st);
	assert_int_equal(st.checks, 12);
	assert_int_equal(st.refused[NETPOLICY_OWN_LISTENER], 3);
	assert_int_equal(st.refused[NETPOLICY_LOOPBACK], 2);
	assert_true(st.local_addrs >= 1);	/* lo, at least */

	/* the lifecycle: prepared, then in force only at commit */
	a = sa("10.0.0.5", 443);
	assert_int_equal(netpolicy_parse_prefix("10.0.0.0/8", &p, &why), 0);
	netpolicy_prepare(np, &p, 1, NULL, 0);
	assert_int_equal(netpolicy_check(np, &a, 0), NETPOLICY_PRIVATE);
	netpolicy_abort(np);
	assert_int_equal(netpolicy_check(np, &a, 0), NETPOLICY_PRIVATE);
	netpolicy_prepare(np, &p, 1, NULL, 0);
	netpolicy_commit(np);
	assert_int_equal(netpolicy_check(np, &a, 0), NETPOLICY_PUBLIC);
	a = sa("127.0.0.1", 443);	/* the listeners went with it */
	assert_int_equal(netpolicy_check(np, &a, 0), NETPOLICY_LOOPBACK);
	netpolicy_free(np);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_unmap),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
