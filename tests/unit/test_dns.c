/*
 * Tests for dns.c, the resolver's message codec: queries as the wire
 * wants them, and answers read strictly -- only what answers our own
 * question, the CNAME chain followed with the smallest TTL over it, every
 * length and compression pointer checked.  Answers are built here byte by
 * byte, so each case says exactly what is on the wire.
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "relay/dns.h"

#define QNAME	"ZapCloud.Azure-Devices.NET"
#define ID	0xbeef

/* --- a response, built by hand ---------------------------------------- */

struct msg {
	uint8_t	 b[DNS_MAX_MSG + 64];
	size_t	 n;
};

static void
u8(struct msg *m, unsigned v)
{
	m->b[m->n++] = (uint8_t)v;
}

static void
u16(struct msg *m, unsigned v)
{
	u8(m, v >> 8);
	u8(m, v);
}

static void
u32(struct msg *m, uint32_t v)
{
	u16(m, v >> 16);
	u16(m, v & 0xffff);
}

/* A name in labels ("a.b" -> 1a1b0). */
static void
name(struct msg *m, const char *s)
{
	const char *dot;

	while (*s != '\0') {
		dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);

		u8(m, (unsigned)l);
		memcpy(m->b + m->n, s, l);
		m->n += l;
		s += l + (dot ? 1 : 0);
	}
	u8(m, 0);
}

/* Header and our question; counts are patched by the caller. */
static void
head(struct msg *m, unsigned flags, unsigned an, unsigned ns,
    const char *qname, unsigned qtype)
{
	m->n = 0;
	u16(m, ID);
	u16(m, flags);
	u16(m, 1);
	u16(m, an);
	u16(m, ns);
	u16(m, 0);
	name(m, qname);
	u16(m, qtype);
	u16(m, DNS_CLASS_IN);
}

static void
rr_a(struct msg *m, const char *owner, uint32_t ttl, const char *addr)
{
	struct in_addr a;

	name(m, owner);
	u16(m, DNS_TYPE_A);
	u16(m, DNS_CLASS_IN);
	u32(m, ttl);
	u16(m, 4);
	assert_int_equal(inet_pton(AF_INET, addr, &a), 1);
	memcpy(m->b + m->n, &a, 4);
	m->n += 4;
}

static void
rr_aaaa(struct msg *m, const char *owner, uint32_t ttl, const char *addr)
{
	struct in6_addr a;

	name(m, owner);
	u16(m, DNS_TYPE_AAAA);
	u16(m, DNS_CLASS_IN);
	u32(m, ttl);
	u16(m, 16);
	assert_int_equal(inet_pton(AF_INET6, addr, &a), 1);
	memcpy(m->b + m->n, &a, 16);
	m->n += 16;
}

static void
rr_cname(struct msg *m, const char *owner, uint32_t ttl, const char *target)
{
	size_t at;

	name(m, owner);
	u16(m, DNS_TYPE_CNAME);
	u16(m, DNS_CLASS_IN);
	u32(m, ttl);
	at = m->n;
	u16(m, 0);
	name(m, target);
	m->b[at] = (uint8_t)((m->n - at - 2) >> 8);
	m->b[at + 1] = (uint8_t)(m->n - at - 2);
}

static void
rr_soa(struct msg *m, uint32_t ttl, uint32_t minimum)
{
	size_t at;

	name(m, "azure-devices.net");
	u16(m, DNS_TYPE_SOA);
	u16(m, DNS_CLASS_IN);
	u32(m, ttl);
	at = m->n;
	u16(m, 0);
	name(m, "ns1.azure-devices.net");
	name(m, "hostmaster.azure-devices.net");
	u32(m, 2026120601);
	u32(m, 3600);
	u32(m, 600);
	u32(m, 86400);
	u32(m, minimum);
	m->b[at] = (uint8_t)((m->n - at - 2) >> 8);
	m->b[at + 1] = (uint8_t)(m->n - at - 2);
}

static enum dns_status
parse(const struct msg *m, uint16_t qtype, struct dns_answer *a)
{
	return dns_answer_parse(m->b, m->n, ID, QNAME, qtype, a);
}

#define OK_FLAGS	0x8180	/* QR, RD, RA, NOERROR */

/* --- queries ----------------------------------------------------------- */

static void
test_query(void **state)
{
	static const uint8_t want[] = {
		0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1,
		8, 'Z', 'a', 'p', 'C', 'l', 'o', 'u', 'd',
		13, 'A', 'z', 'u', 'r', 'e', '-', 'D', 'e', 'v', 'i', 'c',
		'e', 's',
		3, 'N', 'E', 'T', 0,
		0, 28, 0, 1,
		0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0,
	};
	uint8_t buf[512];
	size_t n;

	n = dns_query_encode(buf, sizeof(buf), ID, QNAME, DNS_TYPE_AAAA);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, n);
	/* a final dot changes nothing */
	assert_int_equal(dns_query_encode(buf, sizeof(buf), ID, QNAME ".",
	    DNS_TYPE_AAAA), sizeof(want));
	/* what is not a name is not asked */
	assert_int_equal(dns_query_encode(buf, sizeof(buf), 1, "", 1), 0);
	assert_int_equal(dns_query_encode(buf, sizeof(buf), 1, ".", 1), 0);
	assert_int_equal(dns_query_encode(buf, sizeof(buf), 1, "a..b", 1), 0);
	assert_int_equal(dns_query_encode(buf, sizeof(buf), 1, ".a", 1), 0);
	assert_int_equal(dns_query_encode(buf, sizeof(buf), 1, "a b", 1), 0);
	assert_int_equal(dns_query_encode(buf, sizeof(buf), 1, "a\nb", 1), 0);
	{
		char label[70], longname[300];

		memset(label, 'a', 64);
		label[64] = '\0';
		assert_int_equal(dns_query_encode(buf, sizeof(buf), 1, label,
		    1), 0);
		memset(longname, 'a', 254);
		for (n = 63; n < 254; n += 64)
			longname[n] = '.';
		longname[254] = '\0';
		assert_int_equal(dns_query_encode(buf, sizeof(buf), 1,
		    longname, 1), 0);
	}
	/* a buffer too small */
	assert_int_equal(dns_query_encode(buf, 20, ID, QNAME, 1), 0);
}

/* --- answers ------------------------------------------------------------ */

static void
test_plain_answer(void **state)
{
	struct msg m;
	struct dns_answer a;
	char txt[64];

	head(&m, OK_FLAGS, 2, 0, QNAME, DNS_TYPE_A);
	rr_a(&m, "zapcloud.azure-devices.net", 300, "203.0.113.10");
	rr_a(&m, "ZAPCLOUD.azure-devices.net", 120, "203.0.113.11");
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_OK);
	assert_int_equal(a.naddrs, 2);
	assert_int_equal(a.ttl, 120);
	assert_int_equal(a.chain, 0);
	inet_ntop(AF_INET, &((struct sockaddr_in *)&a.addrs[1])->sin_addr,
	    txt, sizeof(txt));
	assert_string_equal(txt, "203.0.113.11");

	head(&m, OK_FLAGS, 1, 0, QNAME, DNS_TYPE_AAAA);
	rr_aaaa(&m, "zapcloud.azure-devices.net", 30, "2001:db8::10");
	assert_int_equal(parse(&m, DNS_TYPE_AAAA, &a), DNS_OK);
	assert_int_equal(a.naddrs, 1);
	assert_int_equal(a.addrs[0].ss_family, AF_INET6);
	assert_int_equal(a.ttl, 30);
}

/* CNAME 5 s + A 3000 s lives 5 s; records of other names do not count. */
static void
test_chain(void **state)
{
	struct msg m;
	struct dns_answer a;

	head(&m, OK_FLAGS, 4, 0, QNAME, DNS_TYPE_A);
	rr_cname(&m, "zapcloud.azure-devices.net", 5, "ih-1.cloudapp.net");
	rr_cname(&m, "ih-1.cloudapp.net", 60, "edge.cloudapp.net");
	rr_a(&m, "edge.cloudapp.net", 3000, "203.0.113.20");
	rr_a(&m, "other.example", 1, "198.51.100.1");
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_OK);
	assert_int_equal(a.naddrs, 1);
	assert_int_equal(a.ttl, 5);
	assert_int_equal(a.chain, 2);

	/* an A for the question's name itself is not the chain's end */
	head(&m, OK_FLAGS, 3, 0, QNAME, DNS_TYPE_A);
	rr_cname(&m, "zapcloud.azure-devices.net", 300, "edge.cloudapp.net");
	rr_a(&m, "zapcloud.azure-devices.net", 300, "198.51.100.66");
	rr_a(&m, "edge.cloudapp.net", 300, "203.0.113.20");
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_OK);
	assert_int_equal(a.naddrs, 1);

	/* a loop, or more than DNS_MAX_CHAIN hops, is broken */
	head(&m, OK_FLAGS, 2, 0, QNAME, DNS_TYPE_A);
	rr_cname(&m, "zapcloud.azure-devices.net", 300, "b.example");
	rr_cname(&m, "b.example", 300, "zapcloud.azure-devices.net");
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_MALFORMED);
}

static void
test_negative(void **state)
{
	struct msg m;
	struct dns_answer a;

	/* NXDOMAIN with an SOA: min(SOA TTL, MINIMUM) */
	head(&m, 0x8183, 0, 1, QNAME, DNS_TYPE_A);
	rr_soa(&m, 900, 30);
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_NXDOMAIN);
	assert_true(a.have_neg_ttl);
	assert_int_equal(a.neg_ttl, 30);
	head(&m, 0x8183, 0, 1, QNAME, DNS_TYPE_A);
	rr_soa(&m, 20, 3600);
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_NXDOMAIN);
	assert_int_equal(a.neg_ttl, 20);
	/* NODATA: NOERROR, nothing of the type */
	head(&m, OK_FLAGS, 1, 1, QNAME, DNS_TYPE_AAAA);
	rr_a(&m, "zapcloud.azure-devices.net", 300, "203.0.113.10");
	rr_soa(&m, 60, 60);
	assert_int_equal(parse(&m, DNS_TYPE_AAAA, &a), DNS_NODATA);
	assert_int_equal(a.naddrs, 0);
	assert_int_equal(a.neg_ttl, 60);
	/* without an SOA: no lifetime given */
	head(&m, 0x8183, 0, 0, QNAME, DNS_TYPE_A);
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_NXDOMAIN);
	assert_false(a.have_neg_ttl);
	/* the other codes */
	head(&m, 0x8182, 0, 0, QNAME, DNS_TYPE_A);
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_SERVFAIL);
	head(&m, 0x8185, 0, 0, QNAME, DNS_TYPE_A);
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_REFUSED);
	head(&m, 0x8384, 0, 0, QNAME, DNS_TYPE_A);	/* TC set */
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_TRUNCATED);
}

/* Anything that does not answer our own question is ignored. */
static void
test_not_our_answer(void **state)
{
	struct msg m;
	struct dns_answer a;

	head(&m, OK_FLAGS, 1, 0, QNAME, DNS_TYPE_A);
	rr_a(&m, "zapcloud.azure-devices.net", 300, "203.0.113.10");
	/* another id */
	assert_int_equal(dns_answer_parse(m.b, m.n, ID + 1, QNAME,
	    DNS_TYPE_A, &a), DNS_NOT_ANSWER);
	/* the name in another case: the 0x20 bits do not match */
	assert_int_equal(dns_answer_parse(m.b, m.n, ID,
	    "zapcloud.azure-devices.net", DNS_TYPE_A, &a), DNS_NOT_ANSWER);
	/* another type */
	assert_int_equal(parse(&m, DNS_TYPE_AAAA, &a), DNS_NOT_ANSWER);
	/* a query, not a response */
	head(&m, 0x0100, 0, 0, QNAME, DNS_TYPE_A);
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_NOT_ANSWER);
	/* two questions */
	head(&m, OK_FLAGS, 0, 0, QNAME, DNS_TYPE_A);
	m.b[5] = 2;
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_NOT_ANSWER);
	/* shorter than a header */
	assert_int_equal(dns_answer_parse(m.b, 11, ID, QNAME, DNS_TYPE_A, &a),
	    DNS_NOT_ANSWER);
}

static void
test_broken(void **state)
{
	struct msg m;
	struct dns_answer a;
	size_t cut;

	/* an A record of 8 bytes */
	head(&m, OK_FLAGS, 1, 0, QNAME, DNS_TYPE_A);
	rr_a(&m, "zapcloud.azure-devices.net", 300, "203.0.113.10");
	m.b[m.n - 5] = 8;
	memset(m.b + m.n, 0, 4);
	m.n += 4;
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_MALFORMED);

	/* cut anywhere inside the answer section */
	head(&m, OK_FLAGS, 2, 0, QNAME, DNS_TYPE_A);
	cut = m.n;
	rr_cname(&m, "zapcloud.azure-devices.net", 5, "edge.cloudapp.net");
	rr_a(&m, "edge.cloudapp.net", 3000, "203.0.113.20");
	for (; cut < m.n; cut++)
		assert_int_equal(dns_answer_parse(m.b, cut, ID, QNAME,
		    DNS_TYPE_A, &a), DNS_MALFORMED);

	/* a compression pointer forwards, or to itself */
	head(&m, OK_FLAGS, 1, 0, QNAME, DNS_TYPE_A);
	u16(&m, 0xc000 | (unsigned)(m.n + 2));
	u16(&m, DNS_TYPE_A);
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_MALFORMED);
	head(&m, OK_FLAGS, 1, 0, QNAME, DNS_TYPE_A);
	u16(&m, 0xc000 | (unsigned)m.n);
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_MALFORMED);
	/* a label type that is not in use */
	head(&m, OK_FLAGS, 1, 0, QNAME, DNS_TYPE_A);
	u8(&m, 0x41);
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_MALFORMED);
	/* more answers than we read */
	head(&m, OK_FLAGS, 65, 0, QNAME, DNS_TYPE_A);
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_MALFORMED);
}

/* A pointer back to the question's name, as servers write answers. */
static void
test_compression(void **state)
{
	struct msg m;
	struct dns_answer a;

	head(&m, OK_FLAGS, 1, 0, QNAME, DNS_TYPE_A);
	u16(&m, 0xc00c);			/* the question's name */
	u16(&m, DNS_TYPE_A);
	u16(&m, DNS_CLASS_IN);
	u32(&m, 0x80000010);			/* top bit: taken as 0 */
	u16(&m, 4);
	u32(&m, 0xcb00710a);
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_OK);
	assert_int_equal(a.naddrs, 1);
	assert_int_equal(a.ttl, 0);
}

/* More addresses than DNS_MAX_ADDRS: the first ones, the TTL of all. */
static void
test_many(void **state)
{
	struct msg m;
	struct dns_answer a;
	char addr[32];
	int i;

	head(&m, OK_FLAGS, 40, 0, QNAME, DNS_TYPE_A);
	for (i = 0; i < 40; i++) {
		snprintf(addr, sizeof(addr), "203.0.113.%d", i + 1);
		rr_a(&m, "zapcloud.azure-devices.net", i == 39 ? 7 : 300,
		    addr);
	}
	assert_int_equal(parse(&m, DNS_TYPE_A, &a), DNS_OK);
	assert_int_equal(a.naddrs, DNS_MAX_ADDRS);
	assert_int_equal(a.ttl, 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_plain_answer),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_negative),
		cmocka_unit_test(test_not_our_answer),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_compression),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
