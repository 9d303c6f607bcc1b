/*
 * Tests for pair_proto.c: every message type read and written back, and
 * the edges of what the parser refuses -- lengths, NUL bytes, trailing
 * bytes, depth, types and ranges of every field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "site/pair_proto.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static enum pair_status
parse(const char *s, struct pair_msg *m)
{
	const char *why;

	return pair_msg_parse((const uint8_t *)s, strlen(s), m, &why);
}

/* parse s and say which field failed. */
static enum pair_status
parse_why(const char *s, struct pair_msg *m, const char **why)
{
	return pair_msg_parse((const uint8_t *)s, strlen(s), m, why);
}

static void
test_hello(void **state)
{
	struct pair_msg m;

	assert_int_equal(parse("{\"t\":\"hello\",\"v\":1,\"box\":\"gw-a\","
	    "\"role\":\"backup\",\"since\":1795596090,\"failover\":0,"
	    "\"digest\":{\"lan\":\"" D64 "\",\"relay\":\"" D64 "\"}}", &m),
	    PAIR_OK);
	assert_int_equal(m.type, PAIR_MSG_HELLO);
	assert_string_equal(m.box, "gw-a");
	assert_int_equal(m.role, PAIR_ROLE_BACKUP);
	assert_int_equal(m.since, 1795596090LL);
	assert_int_equal(m.ndigest, 2);
	assert_string_equal(m.digest[PAIR_DIGEST_LAN], D64);
	assert_string_equal(m.digest[PAIR_DIGEST_RELAY], D64);
	assert_string_equal(m.digest[PAIR_DIGEST_DHCP], "");
	/* a newer peer's parts we do not know: ignored */
	assert_int_equal(parse("{\"t\":\"hello\",\"v\":1,\"box\":\"gw-a\","
	    "\"role\":\"master\",\"since\":1,\"failover\":2,\"digest\":{"
	    "\"later\":\"x\"}}", &m), PAIR_OK);
	assert_int_equal(m.ndigest, 0);
}

static void
test_hello_bad(void **state)
{
	struct pair_msg m;
	const char *why;

	/* another version: its own status */
	assert_int_equal(parse_why("{\"t\":\"hello\",\"v\":2,\"box\":\"gw-a\","
	    "\"role\":\"backup\",\"since\":1,\"failover\":0,\"digest\":{}}",
	    &m, &why), PAIR_E_VERSION);
	assert_string_equal(why, "v");
	/* a name that is not one */
	assert_int_equal(parse_why("{\"t\":\"hello\",\"v\":1,\"box\":\"gw a\","
	    "\"role\":\"backup\",\"since\":1,\"failover\":0,\"digest\":{}}",
	    &m, &why), PAIR_E_FIELD);
	assert_string_equal(why, "box");
	assert_int_equal(parse_why("{\"t\":\"hello\",\"v\":1,\"box\":\"\","
	    "\"role\":\"backup\",\"since\":1,\"failover\":0,\"digest\":{}}",
	    &m, &why), PAIR_E_FIELD);
	/* "single" is no role on the wire */
	assert_int_equal(parse_why("{\"t\":\"hello\",\"v\":1,\"box\":\"gw\","
	    "\"role\":\"single\",\"since\":1,\"failover\":0,\"digest\":{}}",
	    &m, &why), PAIR_E_FIELD);
	assert_string_equal(why, "role");
	/* digests: 64 lower-case hex digits */
	assert_int_equal(parse_why("{\"t\":\"hello\",\"v\":1,\"box\":\"gw\","
	    "\"role\":\"master\",\"since\":1,\"failover\":0,\"digest\":{"
	    "\"lan\":\"abc\"}}", &m, &why), PAIR_E_FIELD);
	assert_string_equal(why, "digest");
	assert_int_equal(parse("{\"t\":\"hello\",\"v\":1,\"box\":\"gw\","
	    "\"role\":\"master\",\"since\":1,\"failover\":0,\"digest\":{"
	    "\"lan\":\"" "0123456789ABCDEF0123456789abcdef0123456789abcdef"
	    "0123456789abcdef" "\"}}", &m), PAIR_E_FIELD);
	assert_int_equal(parse("{\"t\":\"hello\",\"v\":1,\"box\":\"gw\","
	    "\"role\":\"master\",\"since\":1,\"failover\":0,\"digest\":{"
	    "\"lan\":7}}", &m), PAIR_E_FIELD);
	/* the digest must be an object, times must be integers */
	assert_int_equal(parse("{\"t\":\"hello\",\"v\":1,\"box\":\"gw\","
	    "\"role\":\"master\",\"since\":1,\"failover\":0,\"digest\":[]}",
	    &m), PAIR_E_FIELD);
	assert_int_equal(parse("{\"t\":\"hello\",\"v\":1,\"box\":\"gw\","
	    "\"role\":\"master\",\"since\":\"1\",\"failover\":0,\"digest\":{}}",
	    &m), PAIR_E_FIELD);
	assert_int_equal(parse("{\"t\":\"hello\",\"v\":1,\"box\":\"gw\","
	    "\"role\":\"master\",\"since\":-1,\"failover\":0,\"digest\":{}}",
	    &m), PAIR_E_FIELD);
	assert_int_equal(parse("{\"t\":\"hello\",\"v\":1,\"box\":\"gw\","
	    "\"role\":\"master\",\"since\":1.5,\"failover\":0,\"digest\":{}}",
	    &m), PAIR_E_FIELD);
	/* a field missing */
	assert_int_equal(parse("{\"t\":\"hello\",\"v\":1,\"box\":\"gw\","
	    "\"role\":\"master\",\"since\":1,\"digest\":{}}", &m),
	    PAIR_E_FIELD);
	/* on failure nothing half-filled stays behind */
	assert_string_equal(m.box, "");
}

static void
test_lease(void **state)
{
	struct pair_msg m;
	char a[INET_ADDRSTRLEN];

	assert_int_equal(parse("{\"t\":\"lease\",\"seq\":7,\"op\":\"add\","
	    "\"mac\":\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\",\"ttl\":3540,"
	    "\"client_id\":\"01:02:42:00:00:00:01\",\"hostname\":"
	    "\"ZAP000101\"}", &m), PAIR_OK);
	assert_int_equal(m.type, PAIR_MSG_LEASE);
	assert_int_equal(m.seq, 7);
	assert_false(m.del);
	assert_memory_equal(m.mac, "\x02\x42\x00\x00\x00\x01", 6);
	assert_string_equal(inet_ntop(AF_INET, &m.addr, a, sizeof(a)),
	    "10.42.0.21");
	assert_int_equal(m.ttl, 3540);
	assert_string_equal(m.client_id, "01:02:42:00:00:00:01");
	assert_string_equal(m.hostname, "ZAP000101");
	/* del, no optional fields, a lease without end */
	assert_int_equal(parse("{\"t\":\"lease\",\"seq\":9007199254740992,"
	    "\"op\":\"del\",\"mac\":\"02:42:00:00:00:01\",\"ip\":"
	    "\"10.42.0.21\",\"ttl\":-1}", &m), PAIR_OK);
	assert_true(m.del);
	assert_int_equal(m.ttl, -1);
	assert_string_equal(m.hostname, "");
}

static void
test_lease_bad(void **state)
{
	static const struct {
		const char	*msg;
		const char	*why;
	} bad[] = {
		/* seq: 1 .. 2^53 */
		{ "{\"t\":\"lease\",\"seq\":0,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\",\"ttl\":1}",
		    "seq" },
		{ "{\"t\":\"lease\",\"seq\":9007199254740993,\"op\":\"add\","
		    "\"mac\":\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\","
		    "\"ttl\":1}", "seq" },
		{ "{\"t\":\"lease\",\"seq\":99999999999999999999,\"op\":"
		    "\"add\",\"mac\":\"02:42:00:00:00:01\",\"ip\":"
		    "\"10.42.0.21\",\"ttl\":1}", "seq" },
		{ "{\"t\":\"lease\",\"seq\":-3,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\",\"ttl\":1}",
		    "seq" },
		{ "{\"t\":\"lease\",\"seq\":true,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\",\"ttl\":1}",
		    "seq" },
		/* op */
		{ "{\"t\":\"lease\",\"seq\":1,\"op\":\"old\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\",\"ttl\":1}",
		    "op" },
		/* mac: exact form, never multicast */
		{ "{\"t\":\"lease\",\"seq\":1,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:1\",\"ip\":\"10.42.0.21\",\"ttl\":1}",
		    "mac" },
		{ "{\"t\":\"lease\",\"seq\":1,\"op\":\"add\",\"mac\":"
		    "\"01:00:5e:00:00:01\",\"ip\":\"10.42.0.21\",\"ttl\":1}",
		    "mac" },
		/* ip: a host address */
		{ "{\"t\":\"lease\",\"seq\":1,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"0.0.0.0\",\"ttl\":1}",
		    "ip" },
		{ "{\"t\":\"lease\",\"seq\":1,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"255.255.255.255\","
		    "\"ttl\":1}", "ip" },
		{ "{\"t\":\"lease\",\"seq\":1,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"10.42.0.021\",\"ttl\":1}",
		    "ip" },
		{ "{\"t\":\"lease\",\"seq\":1,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"fe80::1\",\"ttl\":1}",
		    "ip" },
		/* ttl: -1 .. 8 days */
		{ "{\"t\":\"lease\",\"seq\":1,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\",\"ttl\":-2}",
		    "ttl" },
		{ "{\"t\":\"lease\",\"seq\":1,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\","
		    "\"ttl\":691201}", "ttl" },
		{ "{\"t\":\"lease\",\"seq\":1,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\"}", "ttl" },
		/* what reaches the lease table is checked as the hook's is */
		{ "{\"t\":\"lease\",\"seq\":1,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\",\"ttl\":1,"
		    "\"hostname\":\"x;reboot\"}", "hostname" },
		{ "{\"t\":\"lease\",\"seq\":1,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\",\"ttl\":1,"
		    "\"hostname\":null}", "hostname" },
		{ "{\"t\":\"lease\",\"seq\":1,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\",\"ttl\":1,"
		    "\"client_id\":\"01:2\"}", "client_id" },
		{ "{\"t\":\"lease\",\"seq\":1,\"op\":\"add\",\"mac\":"
		    "\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\",\"ttl\":1,"
		    "\"hostname\":\"a\\u0000b\"}", "hostname" },
	};
	struct pair_msg m;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_why(bad[i].msg, &m, &why),
		    PAIR_E_FIELD);
		assert_non_null(why);
		if (strcmp(why, bad[i].why) != 0)
			fail_msg("case %zu: failed on %s, expected %s", i, why,
			    bad[i].why);
	}
}

static void
test_small(void **state)
{
	struct pair_msg m;

	assert_int_equal(parse("{\"t\":\"ack\",\"seq\":0}", &m), PAIR_OK);
	assert_int_equal(m.type, PAIR_MSG_ACK);
	assert_int_equal(parse("{\"t\":\"ping\",\"seq\":12}", &m), PAIR_OK);
	assert_int_equal(m.seq, 12);
	assert_int_equal(parse("{\"t\":\"synced\",\"seq\":3}", &m), PAIR_OK);
	assert_int_equal(parse("{\"t\":\"role\",\"role\":\"fault\",\"since\":"
	    "5,\"failover\":0}", &m), PAIR_OK);
	assert_int_equal(m.role, PAIR_ROLE_FAULT);
	assert_int_equal(parse("{\"t\":\"ack\"}", &m), PAIR_E_FIELD);
	assert_int_equal(parse("{\"t\":\"ack\",\"seq\":\"1\"}", &m),
	    PAIR_E_FIELD);
}

static void
test_framing(void **state)
{
	struct pair_msg m;
	char big[PAIR_MSG_MAX + 16];
	uint8_t nul[] = "{\"t\":\"ack\",\"seq\":1}";

	/* not one object */
	assert_int_equal(parse("", &m), PAIR_E_SYNTAX);
	assert_int_equal(parse("[1]", &m), PAIR_E_SYNTAX);
	assert_int_equal(parse("\"x\"", &m), PAIR_E_SYNTAX);
	assert_int_equal(parse("{\"t\":\"ack\",\"seq\":1", &m), PAIR_E_SYNTAX);
	assert_int_equal(parse("{\"t\":\"ack\",\"seq\":1}x", &m),
	    PAIR_E_SYNTAX);
	assert_int_equal(parse("{\"t\":\"ack\",\"seq\":1}\r", &m),
	    PAIR_E_SYNTAX);
	assert_int_equal(parse("{\"t\":\"ack\",\"seq\":1}{}", &m),
	    PAIR_E_SYNTAX);
	assert_int_equal(parse(" {\"t\":\"ack\",\"seq\":1}", &m),
	    PAIR_E_SYNTAX);
	/* strict JSON only */
	assert_int_equal(parse("{'t':'ack','seq':1}", &m), PAIR_E_SYNTAX);
	/* a NUL byte anywhere */
	nul[3] = '\0';
	assert_int_equal(pair_msg_parse(nul, sizeof(nul) - 1, &m,
	    &(const char *){ NULL }), PAIR_E_SYNTAX);
	/* depth: an object in a digest is one level too deep */
	assert_int_equal(parse("{\"t\":\"hello\",\"v\":1,\"box\":\"gw\","
	    "\"role\":\"master\",\"since\":1,\"failover\":0,\"digest\":{"
	    "\"lan\":{\"x\":1}}}", &m), PAIR_E_SYNTAX);
	assert_int_equal(parse("{\"a\":[[[[1]]]],\"t\":\"ack\",\"seq\":1}",
	    &m), PAIR_E_SYNTAX);
	/* the length limit, newline included */
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"t\":\"ack\",\"seq\":1,\"x\":\"", 24);
	big[PAIR_MSG_MAX - 2] = '"';
	big[PAIR_MSG_MAX - 1] = '}';
	assert_int_equal(pair_msg_parse((uint8_t *)big, PAIR_MSG_MAX, &m,
	    &(const char *){ NULL }), PAIR_E_TOO_LONG);
	big[PAIR_MSG_MAX - 3] = '"';
	big[PAIR_MSG_MAX - 2] = '}';
	assert_int_equal(pair_msg_parse((uint8_t *)big, PAIR_MSG_MAX - 1, &m,
	    &(const char *){ NULL }), PAIR_OK);
	/* type */
	assert_int_equal(parse("{\"seq\":1}", &m), PAIR_E_TYPE);
	assert_int_equal(parse("{\"t\":\"nack\",\"seq\":1}", &m),
	    PAIR_E_TYPE);
	assert_int_equal(parse("{\"t\":7,\"seq\":1}", &m), PAIR_E_TYPE);
	assert_int_equal(parse("{\"t\":\"ackx\",\"seq\":1}", &m),
	    PAIR_E_TYPE);
}

/* Whatever is formatted reads back the same. */
static void
test_round_trip(void **state)
{
	struct pair_msg m, r;
	char buf[PAIR_MSG_MAX];
	const char *why;
	size_t n;
	int i;

	memset(&m, 0, sizeof(m));
	m.type = PAIR_MSG_HELLO;
	m.version = PAIR_PROTO_VERSION;
	strcpy(m.box, "gw-b.2");
	m.role = PAIR_ROLE_MASTER;
	m.since = 1795596090;
	m.failover = 1795590000;
	for (i = 0; i < PAIR_DIGEST_NPARTS; i++) {
		strcpy(m.digest[i], D64);
		m.digest[i][i] = 'f';
	}
	m.ndigest = PAIR_DIGEST_NPARTS;
	assert_true((n = pair_msg_format(&m, buf, sizeof(buf))) > 0);
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', n - 1));
	assert_int_equal(pair_msg_parse((uint8_t *)buf, n - 1, &r, &why),
	    PAIR_OK);
	assert_memory_equal(&m, &r, sizeof(m));

	memset(&m, 0, sizeof(m));
	m.type = PAIR_MSG_LEASE;
	m.seq = 123456789;
	m.del = 1;
	memcpy(m.mac, "\x02\x42\x00\x00\x01\xff", 6);
	inet_pton(AF_INET, "10.42.0.250", &m.addr);
	m.ttl = PAIR_TTL_MAX;
	strcpy(m.client_id, "ff:00:01");
	strcpy(m.hostname, "charger_7");
	assert_true((n = pair_msg_format(&m, buf, sizeof(buf))) > 0);
	assert_int_equal(pair_msg_parse((uint8_t *)buf, n - 1, &r, &why),
	    PAIR_OK);
	assert_memory_equal(&m, &r, sizeof(m));

	memset(&m, 0, sizeof(m));
	m.type = PAIR_MSG_ACK;
	m.seq = PAIR_SEQ_MAX;
	assert_true((n = pair_msg_format(&m, buf, sizeof(buf))) > 0);
	assert_int_equal(pair_msg_parse((uint8_t *)buf, n - 1, &r, &why),
	    PAIR_OK);
	assert_memory_equal(&m, &r, sizeof(m));
}

/* The writer refuses what the reader would refuse. */
static void
test_format_refuses(void **state)
{
	struct pair_msg m;
	char buf[PAIR_MSG_MAX];

	memset(&m, 0, sizeof(m));
	m.type = PAIR_MSG_LEASE;
	m.seq = 0;
	inet_pton(AF_INET, "10.42.0.21", &m.addr);
	assert_int_equal(pair_msg_format(&m, buf, sizeof(buf)), 0);
	m.seq = 1;
	m.mac[0] = 1;			/* multicast */
	assert_int_equal(pair_msg_format(&m, buf, sizeof(buf)), 0);
	m.mac[0] = 2;
	strcpy(m.hostname, "no spaces");
	assert_int_equal(pair_msg_format(&m, buf, sizeof(buf)), 0);
	m.hostname[0] = '\0';
	assert_true(pair_msg_format(&m, buf, sizeof(buf)) > 0);
	/* too small a buffer */
	assert_int_equal(pair_msg_format(&m, buf, 10), 0);
	memset(&m, 0, sizeof(m));
	m.type = PAIR_MSG_HELLO;
	strcpy(m.box, "gw");
	m.role = PAIR_ROLE_SINGLE;
	assert_int_equal(pair_msg_format(&m, buf, sizeof(buf)), 0);
	m.role = PAIR_ROLE_BACKUP;
	strcpy(m.digest[0], "abc");
	assert_int_equal(pair_msg_format(&m, buf, sizeof(buf)), 0);
}

static void
test_roles(void **state)
{
	assert_int_equal(pair_role_parse("master", 6), PAIR_ROLE_MASTER);
	assert_int_equal(pair_role_parse("mast", 4), -1);
	assert_int_equal(pair_role_parse("masterx", 7), -1);
	assert_string_equal(pair_role_str(PAIR_ROLE_FAULT), "fault");
	assert_string_equal(pair_role_str((enum pair_role)99), "?");
	assert_true(pair_name_ok("gw-a", 4));
	assert_false(pair_name_ok("-gw", 3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_hello_bad),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_lease_bad),
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_format_refuses),
		cmocka_unit_test(test_roles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
