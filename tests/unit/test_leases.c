/*
 * Tests for leases.c: the lease-event and lease-line parsers (valid,
 * torn and hostile input), the table's rules (reservations, moves, pool
 * use, what dnsmasq gets back at its start) and the atomic persistence
 * round trip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <arpa/inet.h>

#include "daemon/config.h"
#include "site/lan.h"
#include "site/leases.h"

/* The site's view of c (a few at once, for calls in one expression). */
static const struct site_conf *
SC(const struct config *c)
{
	static struct site_conf v[4];
	static unsigned i;
	struct site_conf *sc = &v[i++ % 4];

	config_site(c, sc);
	return sc;
}

#define NOW	1795596000LL

static enum lease_status
line(const char *s, struct lease_line *ln)
{
	return lease_parse_line((const uint8_t *)s, strlen(s), ln);
}

static enum lease_status
event(const char *s, struct lease_event *ev)
{
	return lease_event_parse((const uint8_t *)s, strlen(s), ev);
}

static struct in_addr
ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* --- lease lines ------------------------------------------------------- */

static void
test_line_valid(void **state)
{
	struct lease_line ln;

	assert_int_equal(line("1795599690 02:42:00:00:00:01 10.42.0.21 * "
	    "01:02:42:00:00:00:01", &ln), LEASE_OK);
	assert_true(ln.dnsmasq_form);
	assert_int_equal(ln.expires, 1795599690LL);
	assert_memory_equal(ln.mac, "\x02\x42\x00\x00\x00\x01", 6);
	assert_int_equal(ln.addr.s_addr, ip("10.42.0.21").s_addr);
	assert_string_equal(ln.hostname, "");
	assert_string_equal(ln.client_id, "01:02:42:00:00:00:01");

	assert_int_equal(line("0 02:42:00:00:00:01 10.42.0.21 ZAP000101 * "
	    "ZAP000101 1795596090 1795596096", &ln), LEASE_OK);
	assert_false(ln.dnsmasq_form);
	assert_int_equal(ln.expires, 0);	/* never expires */
	assert_string_equal(ln.hostname, "ZAP000101");
	assert_string_equal(ln.charger, "ZAP000101");
	assert_int_equal(ln.first_seen, 1795596090LL);
	assert_int_equal(ln.last_seen, 1795596096LL);

	/* Ours may say "no lease now"; dnsmasq's form may not. */
	assert_int_equal(line("- 02:42:00:00:00:01 10.42.0.21 * * ZAP1 1 2",
	    &ln), LEASE_OK);
	assert_int_equal(ln.expires, -1);
	assert_int_equal(line("- 02:42:00:00:00:01 10.42.0.21 * *", &ln),
	    LEASE_E_EXPIRES);

	assert_int_equal(line("", &ln), LEASE_SKIP);
	assert_int_equal(line("# evgate lease database v1", &ln), LEASE_SKIP);
}

static void
test_line_torn_and_hostile(void **state)
{
	static const struct {
		const char		*s;
		enum lease_status	 want;
	} cases[] = {
		/* torn: cut anywhere, a field is missing */
		{ "1795599690 02:42:00:00:00:01 10.42.0.21 *", LEASE_E_SYNTAX },
		{ "1795599690 02:42:00:00:00:01 10.42.0.2", LEASE_E_SYNTAX },
		{ "1795599690 02:42:00:00:00:01 10.42.0.21 * * ZAP1 1",
		  LEASE_E_SYNTAX },
		{ "1795599690", LEASE_E_SYNTAX },
		/* one field too many, or empty fields */
		{ "1 02:42:00:00:00:01 10.42.0.21 * * ZAP1 1 2 3",
		  LEASE_E_SYNTAX },
		{ "1  02:42:00:00:00:01 10.42.0.21 * *", LEASE_E_SYNTAX },
		{ "1 02:42:00:00:00:01 10.42.0.21 * * ", LEASE_E_SYNTAX },
		{ " 1 02:42:00:00:00:01 10.42.0.21 * *", LEASE_E_SYNTAX },
		/* control characters, tabs, bytes outside ASCII */
		{ "1 02:42:00:00:00:01 10.42.0.21 a\tb *", LEASE_E_SYNTAX },
		{ "1 02:42:00:00:00:01 10.42.0.21 a\rb *", LEASE_E_SYNTAX },
		{ "1 02:42:00:00:00:01 10.42.0.21 \xc3\xa6 *", LEASE_E_SYNTAX },
		/* fields */
		{ "-1 02:42:00:00:00:01 10.42.0.21 * *", LEASE_E_EXPIRES },
		{ "1234567890123 02:42:00:00:00:01 10.42.0.21 * *",
		  LEASE_E_EXPIRES },
		{ "1 02:42:00:00:00:0 10.42.0.21 * *", LEASE_E_MAC },
		{ "1 06-02:42:00:00:00:01 10.42.0.21 * *", LEASE_E_MAC },
		{ "1 02:42:00:00:00:01 10.42.0.256 * *", LEASE_E_ADDR },
		{ "1 02:42:00:00:00:01 0.0.0.0 * *", LEASE_E_ADDR },
		{ "1 02:42:00:00:00:01 fd00::1 * *", LEASE_E_ADDR },
		{ "1 02:42:00:00:00:01 10.42.0.21 a;reboot *", LEASE_E_HOSTNAME },
		{ "1 02:42:00:00:00:01 10.42.0.21 $(id) *", LEASE_E_HOSTNAME },
		{ "1 02:42:00:00:00:01 10.42.0.21 -x *", LEASE_E_HOSTNAME },
		{ "1 02:42:00:00:00:01 10.42.0.21 * 1", LEASE_E_CLIENT_ID },
		{ "1 02:42:00:00:00:01 10.42.0.21 * 01:zz", LEASE_E_CLIENT_ID },
		{ "1 02:42:00:00:00:01 10.42.0.21 * * ../x 1 2",
		  LEASE_E_CHARGER },
		{ "1 02:42:00:00:00:01 10.42.0.21 * * ZAP1 x 2", LEASE_E_TIME },
	};
	struct lease_line ln;
	char big[LEASE_LINE_MAX + 2];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (line(cases[i].s, &ln) != cases[i].want)
			fail_msg("case %zu \"%s\": got %s, want %s", i,
			    cases[i].s, lease_status_str(line(cases[i].s,
			    &ln)), lease_status_str(cases[i].want));
	/* a 64-byte hostname is one byte too long */
	snprintf(big, sizeof(big), "1 02:42:00:00:00:01 10.42.0.21 %064d *", 7);
	assert_int_equal(line(big, &ln), LEASE_E_HOSTNAME);
	snprintf(big, sizeof(big), "1 02:42:00:00:00:01 10.42.0.21 %063d *", 7);
	assert_int_equal(line(big, &ln), LEASE_OK);
	memset(big, '1', sizeof(big));
	assert_int_equal(lease_parse_line((const uint8_t *)big, sizeof(big),
	    &ln), LEASE_E_TOO_LONG);
	/* An embedded NUL is not the end of the line. */
	assert_int_equal(lease_parse_line((const uint8_t *)
	    "1 02:42:00:00:00:01 10.42.0.21 a\0b *", 35, &ln), LEASE_E_SYNTAX);
}

/* --- lease events -------------------------------------------------------- */

static void
test_event_valid(void **state)
{
	struct lease_event ev;

	assert_int_equal(event("{\"cmd\":\"lease-event\",\"action\":\"add\","
	    "\"mac\":\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\",\"expires\":"
	    "\"1795599690\",\"hostname\":\"ZAP000101\",\"client_id\":"
	    "\"01:02:42:00:00:00:01\",\"interface\":\"plc0\",\"future\":1}",
	    &ev), LEASE_OK);
	assert_int_equal(ev.action, LEASE_ADD);
	assert_memory_equal(ev.mac, "\x02\x42\x00\x00\x00\x01", 6);
	assert_int_equal(ev.addr.s_addr, ip("10.42.0.21").s_addr);
	assert_int_equal(ev.expires, 1795599690LL);
	assert_int_equal(ev.remaining, -1);
	assert_string_equal(ev.hostname, "ZAP000101");
	assert_string_equal(ev.client_id, "01:02:42:00:00:00:01");
	assert_string_equal(ev.interface, "plc0");
	assert_int_equal(ev.rejected, 0);

	/* The least dnsmasq sends: a del with MAC and address. */
	assert_int_equal(event("{\"cmd\":\"lease-event\",\"action\":\"del\","
	    "\"mac\":\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\"}", &ev),
	    LEASE_OK);
	assert_int_equal(ev.action, LEASE_DEL);
	assert_int_equal(ev.expires, -1);
	assert_string_equal(ev.hostname, "");
	assert_int_equal(event("{\"cmd\":\"lease-event\",\"action\":\"old\","
	    "\"mac\":\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\","
	    "\"remaining\":\"3599\",\"hostname\":\"\"}", &ev), LEASE_OK);
	assert_int_equal(ev.action, LEASE_OLD);
	assert_int_equal(ev.remaining, 3599);
	assert_int_equal(ev.rejected, 0);
}

static void
test_event_hostile(void **state)
{
	struct lease_event ev;
	char buf[1024];

	/* What the charger chose is dropped, the lease is kept. */
	assert_int_equal(event("{\"cmd\":\"lease-event\",\"action\":\"add\","
	    "\"mac\":\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\",\"hostname\":"
	    "\"evil\\nhost;reboot\",\"client_id\":\"\\u0000\",\"interface\":"
	    "\"../../etc\",\"expires\":\"soon\"}", &ev), LEASE_OK);
	assert_string_equal(ev.hostname, "");
	assert_string_equal(ev.client_id, "");
	assert_string_equal(ev.interface, "");
	assert_int_equal(ev.expires, -1);
	assert_int_equal(ev.rejected, LEASE_REJ_HOSTNAME |
	    LEASE_REJ_CLIENT_ID | LEASE_REJ_INTERFACE | LEASE_REJ_EXPIRES);
	/* 64 characters: one too many for a DNS label */
	snprintf(buf, sizeof(buf), "{\"cmd\":\"lease-event\",\"action\":\"add\","
	    "\"mac\":\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\",\"hostname\":"
	    "\"%064d\"}", 1);
	assert_int_equal(event(buf, &ev), LEASE_OK);
	assert_int_equal(ev.rejected, LEASE_REJ_HOSTNAME);
	/* A type confusion is a bad field, not a crash. */
	assert_int_equal(event("{\"cmd\":\"lease-event\",\"action\":\"add\","
	    "\"mac\":\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\",\"hostname\":"
	    "[1,2]}", &ev), LEASE_OK);
	assert_int_equal(ev.rejected, LEASE_REJ_HOSTNAME);

	/* What the lease is about must be right. */
	assert_int_equal(event("{\"cmd\":\"lease-event\",\"action\":\"tftp\","
	    "\"mac\":\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\"}", &ev),
	    LEASE_E_ACTION);
	assert_int_equal(event("{\"cmd\":\"lease-event\",\"mac\":"
	    "\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21\"}", &ev),
	    LEASE_E_ACTION);
	assert_int_equal(event("{\"cmd\":\"lease-event\",\"action\":\"add\","
	    "\"mac\":\"02:42:00:00:00:01; rm -rf /\",\"ip\":\"10.42.0.21\"}",
	    &ev), LEASE_E_MAC);
	assert_int_equal(event("{\"cmd\":\"lease-event\",\"action\":\"add\","
	    "\"mac\":1,\"ip\":\"10.42.0.21\"}", &ev), LEASE_E_MAC);
	assert_int_equal(event("{\"cmd\":\"lease-event\",\"action\":\"add\","
	    "\"mac\":\"02:42:00:00:00:01\",\"ip\":\"10.42.0.21.5\"}", &ev),
	    LEASE_E_ADDR);
	assert_int_equal(event("{\"cmd\":\"lease-event\",\"action\":\"add\","
	    "\"mac\":\"02:42:00:00:00:01\"}", &ev), LEASE_E_ADDR);
	/* Not a lease event at all. */
	assert_int_equal(event("{\"cmd\":\"status\"}", &ev), LEASE_E_SYNTAX);
	assert_int_equal(event("{\"cmd\":\"lease-event\",\"action\":\"add\"",
	    &ev), LEASE_E_SYNTAX);
	assert_int_equal(event("add 02:42:00:00:00:01 10.42.0.21", &ev),
	    LEASE_E_SYNTAX);
	assert_int_equal(event("", &ev), LEASE_E_SYNTAX);
	assert_int_equal(lease_event_from_json(NULL, &ev), LEASE_E_SYNTAX);
}

/* --- the table ----------------------------------------------------------- */

static const char site[] =
    "lan: {interface: plc0, address: 10.42.0.1/24}\n"
    "dhcp:\n"
    "  range: 10.42.0.10-10.42.0.19\n"
    "  chargers:\n"
    "    - {id: ZAP000101, mac: \"02:42:00:00:00:01\", address: 10.42.0.21}\n"
    "    - {id: ZAP000102, mac: \"02:42:00:00:00:02\"}\n";

static struct config *
conf_of(const char *text)
{
	char err[512];
	struct config *c = config_load_buffer("t.yaml", (const uint8_t *)text,
	    strlen(text), err, sizeof(err));

	if (c == NULL)
		fail_msg("%s", err);
	return c;
}

static struct lease_event
ev_of(enum lease_action a, const char *mac, const char *addr,
    int64_t expires, const char *hostname)
{
	struct lease_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.action = a;
	assert_int_equal(lan_parse_mac(mac, strlen(mac), ev.mac), 0);
	ev.addr = ip(addr);
	ev.expires = expires;
	ev.remaining = -1;
	if (hostname != NULL)
		strncpy(ev.hostname, hostname, sizeof(ev.hostname) - 1);
	return ev;
}

static int
apply(struct leases *l, struct lease_event ev)
{
	const char *why;

	return leases_apply(l, &ev, NOW, &why);
}

static void
test_table(void **state)
{
	struct config *c = conf_of(site);
	struct leases *l = leases_new();
	const struct lease_info *li;
	uint8_t mac1[6];
	const char *why;
	struct lease_event ev;

	leases_configure(l, SC(c));
	lan_parse_mac("02:42:00:00:00:01", 17, mac1);
	assert_int_equal(leases_pool_size(l), 11);	/* 10 + .21 */

	assert_int_equal(apply(l, ev_of(LEASE_ADD, "02:42:00:00:00:01",
	    "10.42.0.21", NOW + 3600, "whatever")), 1);
	li = leases_by_addr(l, ip("10.42.0.21"));
	assert_non_null(li);
	assert_string_equal(li->charger, "ZAP000101");	/* reservation */
	assert_string_equal(li->hostname, "whatever");
	assert_true(li->reserved);
	assert_true(li->active);
	assert_int_equal(li->first_seen, NOW);
	assert_string_equal(leases_name(l, ip("10.42.0.21")), "ZAP000101");
	assert_ptr_equal(leases_by_mac(l, mac1), li);

	/* An unreserved device names itself, but not as a reserved one. */
	assert_int_equal(apply(l, ev_of(LEASE_ADD, "02:42:00:00:00:09",
	    "10.42.0.11", NOW + 3600, "zap000101")), 1);
	li = leases_by_addr(l, ip("10.42.0.11"));
	assert_string_equal(li->charger, "");
	assert_false(li->reserved);
	assert_string_equal(leases_name(l, ip("10.42.0.11")),
	    "02:42:00:00:00:09");
	assert_int_equal(apply(l, ev_of(LEASE_OLD, "02:42:00:00:00:09",
	    "10.42.0.11", NOW + 7200, "meter-7")), 1);
	assert_string_equal(leases_name(l, ip("10.42.0.11")), "meter-7");
	assert_null(leases_name(l, ip("10.42.0.12")));

	/* "old" without a hostname (dnsmasq's restart) keeps what we had. */
	assert_int_equal(apply(l, ev_of(LEASE_OLD, "02:42:00:00:00:01",
	    "10.42.0.21", NOW + 4000, NULL)), 1);
	li = leases_by_mac(l, mac1);
	assert_string_equal(li->hostname, "whatever");
	assert_int_equal(li->expires, NOW + 4000);

	/* dnsmasq restarted and read the lease back: the same end, an hour
	 * later: no change, the charger was not seen. */
	ev = ev_of(LEASE_OLD, "02:42:00:00:00:01", "10.42.0.21", NOW + 4000,
	    NULL);
	assert_int_equal(leases_apply(l, &ev, NOW + 3600, &why), 0);
	assert_int_equal(li->last_seen, NOW);
	assert_int_equal(li->expires, NOW + 4000);
	/* a renewal moves the end: seen */
	ev = ev_of(LEASE_OLD, "02:42:00:00:00:01", "10.42.0.21", NOW + 5800,
	    NULL);
	assert_int_equal(leases_apply(l, &ev, NOW + 2000, &why), 1);
	assert_int_equal(li->last_seen, NOW + 2000);
	assert_int_equal(li->expires, NOW + 5800);

	/* The address moves to another MAC: the first loses it. */
	assert_int_equal(apply(l, ev_of(LEASE_ADD, "02:42:00:00:00:02",
	    "10.42.0.11", NOW + 3600, NULL)), 1);
	assert_string_equal(leases_name(l, ip("10.42.0.11")), "ZAP000102");
	lan_parse_mac("02:42:00:00:00:09", 17, ev.mac);
	assert_null(leases_by_mac(l, ev.mac));	/* unreserved: gone */
	assert_int_equal(leases_count(l), 2);

	/* Refused: outside the LAN, the gateway itself. */
	ev = ev_of(LEASE_ADD, "02:42:00:00:00:05", "192.0.2.1", NOW, NULL);
	assert_int_equal(leases_apply(l, &ev, NOW, &why), -1);
	assert_string_equal(why, "address outside the LAN");
	ev = ev_of(LEASE_ADD, "02:42:00:00:00:05", "10.42.0.1", NOW, NULL);
	assert_int_equal(leases_apply(l, &ev, NOW, &why), -1);
	assert_int_equal(leases_count(l), 2);

	/* Without an expiry: dhcp.lease_time from now, or remaining. */
	ev = ev_of(LEASE_OLD, "02:42:00:00:00:02", "10.42.0.11", -1, NULL);
	assert_int_equal(leases_apply(l, &ev, NOW + 10, &why), 1);
	assert_int_equal(leases_by_addr(l, ip("10.42.0.11"))->expires,
	    NOW + 3610);
	ev.remaining = 60;
	assert_int_equal(leases_apply(l, &ev, NOW, &why), 1);
	assert_int_equal(leases_by_addr(l, ip("10.42.0.11"))->expires,
	    NOW + 60);

	/* A del for another address than we hold changes nothing. */
	assert_int_equal(apply(l, ev_of(LEASE_DEL, "02:42:00:00:00:01",
	    "10.42.0.22", -1, NULL)), 0);
	/* A reserved charger's entry outlives its lease (last seen). */
	assert_int_equal(apply(l, ev_of(LEASE_DEL, "02:42:00:00:00:01",
	    "10.42.0.21", -1, NULL)), 1);
	li = leases_by_mac(l, mac1);
	assert_non_null(li);
	assert_false(li->active);
	assert_int_equal(li->last_seen, NOW);
	assert_null(leases_by_addr(l, ip("10.42.0.21")));
	assert_int_equal(leases_in_use(l, NOW), 1);

	leases_free(l);
	config_free(c);
}

static void
collect(const char *ln, void *arg)
{
	char *buf = arg;

	strcat(buf, ln);
	strcat(buf, "\n");
}

static void
test_init_lines(void **state)
{
	struct config *c = conf_of(site), *c2;
	struct leases *l = leases_new();
	char buf[2048] = "";
	struct lease_event ev;

	leases_configure(l, SC(c));
	/* known_only is off for a moment, to let an unknown MAC in */
	apply(l, ev_of(LEASE_ADD, "02:42:00:00:00:01", "10.42.0.21",
	    NOW + 3600, "x"));
	ev = ev_of(LEASE_ADD, "02:42:00:00:00:02", "10.42.0.12", NOW + 60,
	    NULL);
	strcpy(ev.client_id, "01:02:42:00:00:00:02");
	apply(l, ev);
	apply(l, ev_of(LEASE_ADD, "02:42:00:00:00:09", "10.42.0.13",
	    NOW + 3600, NULL));
	apply(l, ev_of(LEASE_ADD, "02:42:00:00:00:0a", "10.42.0.14",
	    NOW - 1, NULL));			/* expired */

	/* Unknown MAC (known_only), expired lease: not given back.  No
	 * hostnames: dnsmasq would answer them in DNS. */
	assert_int_equal(leases_init_lines(l, NOW, collect, buf), 2);
	assert_string_equal(buf,
	    "1795596060 02:42:00:00:00:02 10.42.0.12 * 01:02:42:00:00:00:02\n"
	    "1795599600 02:42:00:00:00:01 10.42.0.21 * *\n");

	/* Every line given back parses as dnsmasq's form. */
	{
		struct lease_line ln;
		char *p = buf, *nl;

		while ((nl = strchr(p, '\n')) != NULL) {
			assert_int_equal(lease_parse_line((uint8_t *)p,
			    (size_t)(nl - p), &ln), LEASE_OK);
			assert_true(ln.dnsmasq_form);
			p = nl + 1;
		}
	}

	/* The reservation moved: the old address is not given back. */
	c2 = conf_of("lan: {interface: plc0, address: 10.42.0.1/24}\n"
	    "dhcp:\n  range: 10.42.0.10-10.42.0.19\n  known_only: false\n"
	    "  chargers:\n"
	    "    - {id: ZAP000101, mac: \"02:42:00:00:00:01\", address: "
	    "10.42.0.31}\n");
	leases_configure(l, SC(c2));
	buf[0] = '\0';
	assert_int_equal(leases_init_lines(l, NOW, collect, buf), 2);
	assert_null(strstr(buf, "10.42.0.21"));
	assert_non_null(strstr(buf, "10.42.0.13"));	/* now welcome */
	leases_free(l);
	config_free(c);
	config_free(c2);
}

static void
test_pool_warning(void **state)
{
	struct config *c = conf_of("lan: {interface: plc0, address: "
	    "10.42.0.1/24}\ndhcp: {range: 10.42.0.10-10.42.0.19, known_only: "
	    "false}\n");
	struct leases *l = leases_new();
	char mac[32], a[32];
	int i, warnings = 0;

	leases_configure(l, SC(c));
	assert_int_equal(leases_pool_size(l), 10);
	for (i = 0; i < 10; i++) {
		snprintf(mac, sizeof(mac), "02:00:00:00:00:%02x", i + 1);
		snprintf(a, sizeof(a), "10.42.0.%d", 10 + i);
		apply(l, ev_of(LEASE_ADD, mac, a, NOW + 3600, NULL));
		if (leases_pool_check(l, NOW) == 1) {
			warnings++;
			/* at 9 of 10: 90 % */
			assert_int_equal(leases_in_use(l, NOW), 9);
		}
	}
	assert_int_equal(warnings, 1);		/* once per crossing */
	assert_int_equal(leases_pool_check(l, NOW), 0);
	apply(l, ev_of(LEASE_DEL, "02:00:00:00:00:01", "10.42.0.10", -1,
	    NULL));
	assert_int_equal(leases_pool_check(l, NOW), 0);	/* 9: still high */
	apply(l, ev_of(LEASE_DEL, "02:00:00:00:00:02", "10.42.0.11", -1,
	    NULL));
	assert_int_equal(leases_pool_check(l, NOW), -1);	/* 8: back */
	apply(l, ev_of(LEASE_ADD, "02:00:00:00:00:01", "10.42.0.10",
	    NOW + 3600, NULL));
	assert_int_equal(leases_pool_check(l, NOW), 1);	/* crossed again */
	/* Expired leases do not count. */
	assert_int_equal(leases_in_use(l, NOW + 7200), 0);
	leases_free(l);
	config_free(c);
}

static void
test_account(void **state)
{
	struct config *c = conf_of(site);
	struct leases *l = leases_new();
	const struct lease_info *li;

	leases_configure(l, SC(c));
	apply(l, ev_of(LEASE_ADD, "02:42:00:00:00:01", "10.42.0.21",
	    NOW + 3600, NULL));
	leases_account(l, ip("10.42.0.21"), 1, 1, 1000, 5000, NOW + 10);
	li = leases_by_addr(l, ip("10.42.0.21"));
	assert_int_equal(li->link_closed, NOW + 10);	/* its cloud link */
	leases_account(l, ip("10.42.0.21"), 1, 0, 1, 2, NOW + 20);
	leases_account(l, ip("10.42.0.21"), 0, 1, 0, 0, NOW + 30);
	leases_account(l, ip("10.42.0.99"), 1, 1, 7, 7, NOW + 30); /* nobody */
	assert_int_equal(li->conns, 2);
	assert_int_equal(li->refused, 1);
	assert_int_equal(li->bytes_up, 1001);
	assert_int_equal(li->bytes_down, 5002);
	assert_int_equal(li->last_seen, NOW + 30);
	/* neither another port's connection nor a refusal ends a link */
	assert_int_equal(li->link_closed, NOW + 10);
	leases_free(l);
	config_free(c);
}

/* --- persistence --------------------------------------------------------- */

struct tmpdir {
	char	dir[64];
	char	path[128];
};

static void
mktmp(struct tmpdir *t)
{
	strcpy(t->dir, "/tmp/test_leases.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->path, sizeof(t->path), "%s/leases", t->dir);
}

static void
rmtmp(struct tmpdir *t)
{
	char tmp[160];

	unlink(t->path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", t->path);
	unlink(tmp);
	rmdir(t->dir);
}

static void
test_round_trip(void **state)
{
	struct config *c = conf_of(site);
	struct leases *l = leases_new(), *l2 = leases_new();
	const struct lease_info *a, *b;
	struct lease_event ev;
	struct tmpdir t;
	struct stat sb;
	char err[256], tmp[160];
	size_t loaded, skipped;

	mktmp(&t);
	leases_configure(l, SC(c));
	ev = ev_of(LEASE_ADD, "02:42:00:00:00:01", "10.42.0.21", NOW + 3600,
	    "ZAP000101");
	strcpy(ev.client_id, "01:02:42:00:00:00:01");
	apply(l, ev);
	apply(l, ev_of(LEASE_ADD, "02:42:00:00:00:02", "10.42.0.12", 0, NULL));
	apply(l, ev_of(LEASE_ADD, "02:42:00:00:00:07", "10.42.0.13",
	    NOW + 60, "meter"));
	apply(l, ev_of(LEASE_DEL, "02:42:00:00:00:02", "10.42.0.12", -1,
	    NULL));
	assert_int_equal(leases_save(l, t.path, err, sizeof(err)), 0);
	assert_int_equal(stat(t.path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s.tmp", t.path);
	assert_int_equal(access(tmp, F_OK), -1);	/* renamed away */

	leases_configure(l2, SC(c));
	assert_int_equal(leases_load(l2, t.path, &loaded, &skipped, err,
	    sizeof(err)), 0);
	assert_int_equal(loaded, 3);
	assert_int_equal(skipped, 0);
	assert_int_equal(leases_count(l2), 3);
	a = leases_by_addr(l, ip("10.42.0.21"));
	b = leases_by_addr(l2, ip("10.42.0.21"));
	assert_non_null(b);
	assert_int_equal(a->expires, b->expires);
	assert_string_equal(a->hostname, b->hostname);
	assert_string_equal(a->client_id, b->client_id);
	assert_string_equal(b->charger, "ZAP000101");
	assert_int_equal(a->first_seen, b->first_seen);
	assert_int_equal(a->last_seen, b->last_seen);
	b = leases_by_addr(l2, ip("10.42.0.13"));
	assert_string_equal(b->charger, "meter");
	/* ZAP000102: no lease, but remembered */
	assert_null(leases_by_addr(l2, ip("10.42.0.12")));
	assert_int_equal(leases_in_use(l2, NOW), 2);
	/* Saving the loaded table gives the same bytes. */
	{
		struct tmpdir t2;
		char b1[4096], b2[4096];
		FILE *f1, *f2;
		size_t n1, n2;

		mktmp(&t2);
		assert_int_equal(leases_save(l2, t2.path, err, sizeof(err)), 0);
		f1 = fopen(t.path, "r");
		f2 = fopen(t2.path, "r");
		n1 = fread(b1, 1, sizeof(b1), f1);
		n2 = fread(b2, 1, sizeof(b2), f2);
		fclose(f1);
		fclose(f2);
		assert_int_equal(n1, n2);
		assert_memory_equal(b1, b2, n1);
		rmtmp(&t2);
	}
	leases_free(l);
	leases_free(l2);
	rmtmp(&t);
	config_free(c);
}

static void
test_load_damaged(void **state)
{
	struct config *c = conf_of(site);
	struct leases *l = leases_new();
	struct tmpdir t;
	char err[256];
	size_t loaded, skipped;
	FILE *fp;

	mktmp(&t);
	fp = fopen(t.path, "w");
	fprintf(fp, "# evgate lease database v1\n"
	    "1795599690 02:42:00:00:00:01 10.42.0.21 * * ZAP000101 1 2\n"
	    "1795599690 02:42:00:00:00:05 10.42.0.15 a;reboot * * 1 2\n"
	    "garbage\n"
	    "1795599690 02:42:00:00:00:01 10.42.0.22 * * * 1 2\n"
	    "1795599690 02:42:00:00:00:06 10.42.0.21 * * * 1 2\n"
	    "1795599690 02:42:00:00:00:02 10.42.0.12 * * * 3 4\n"
	    "1795599690 02:42:00:00:00:03 10.4");	/* torn */
	fclose(fp);
	leases_configure(l, SC(c));
	assert_int_equal(leases_load(l, t.path, &loaded, &skipped, err,
	    sizeof(err)), 0);
	/* 01 and 02; 06 is there but lost the address to 01 */
	assert_int_equal(loaded, 3);
	assert_int_equal(skipped, 4);
	assert_string_equal(leases_name(l, ip("10.42.0.21")), "ZAP000101");
	assert_string_equal(leases_name(l, ip("10.42.0.12")), "ZAP000102");
	assert_null(leases_name(l, ip("10.42.0.15")));
	assert_int_equal(leases_in_use(l, NOW), 2);
	leases_free(l);

	/* No file: an empty table, no error. */
	l = leases_new();
	unlink(t.path);
	assert_int_equal(leases_load(l, t.path, &loaded, &skipped, err,
	    sizeof(err)), 0);
	assert_int_equal(loaded, 0);
	/* A directory in its place: an error that says so. */
	assert_int_equal(mkdir(t.path, 0700), 0);
	assert_int_equal(leases_load(l, t.path, &loaded, &skipped, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	rmdir(t.path);
	/* Cannot write: the error names the file. */
	assert_int_equal(leases_save(l, "/nonexistent/dir/leases", err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/dir/leases.tmp"));
	leases_free(l);
	rmtmp(&t);
	config_free(c);
}


/* --- the pair's peer: leases_merge --------------------------------------- */

static struct lease_peer
peer_of(int del, const char *mac, const char *addr, int64_t expires)
{
	struct lease_peer p;

	memset(&p, 0, sizeof(p));
	p.del = del;
	assert_int_equal(lan_parse_mac(mac, strlen(mac), p.mac), 0);
	p.addr = ip(addr);
	p.expires = expires;
	return p;
}

static enum lease_merge
merge(struct leases *l, struct lease_peer p)
{
	const char *why;

	return leases_merge(l, &p, NOW, &why);
}

static void
test_merge(void **state)
{
	struct config *c = conf_of(site);
	struct leases *l = leases_new();
	const struct lease_info *li;
	struct lease_peer p;
	const char *why;

	leases_configure(l, SC(c));
	/* A lease we do not know: taken, named after its reservation. */
	assert_int_equal(merge(l, peer_of(0, "02:42:00:00:00:01", "10.42.0.21",
	    NOW + 3600)), LEASE_MERGE_APPLIED);
	li = leases_by_addr(l, ip("10.42.0.21"));
	assert_non_null(li);
	assert_string_equal(li->charger, "ZAP000101");
	assert_int_equal(li->expires, NOW + 3600);
	/* The same again, or a second later (clocks, rounding): nothing. */
	assert_int_equal(merge(l, peer_of(0, "02:42:00:00:00:01", "10.42.0.21",
	    NOW + 3600)), LEASE_MERGE_SAME);
	assert_int_equal(merge(l, peer_of(0, "02:42:00:00:00:01", "10.42.0.21",
	    NOW + 3601)), LEASE_MERGE_SAME);
	/* Older: ours stands. */
	assert_int_equal(merge(l, peer_of(0, "02:42:00:00:00:01", "10.42.0.21",
	    NOW + 100)), LEASE_MERGE_SAME);
	assert_int_equal(leases_by_mac(l, li->mac)->expires, NOW + 3600);
	/* Renewed by the peer: the later expiry wins. */
	assert_int_equal(merge(l, peer_of(0, "02:42:00:00:00:01", "10.42.0.21",
	    NOW + 7200)), LEASE_MERGE_APPLIED);
	assert_int_equal(leases_by_addr(l, ip("10.42.0.21"))->expires,
	    NOW + 7200);
	/* Another address for the MAC, but older than ours: kept ours. */
	assert_int_equal(merge(l, peer_of(0, "02:42:00:00:00:01", "10.42.0.22",
	    NOW + 60)), LEASE_MERGE_OLDER);
	assert_non_null(leases_by_addr(l, ip("10.42.0.21")));
	assert_null(leases_by_addr(l, ip("10.42.0.22")));

	/* The address held here by another MAC with a later expiry. */
	assert_int_equal(merge(l, peer_of(0, "02:42:00:00:00:09", "10.42.0.21",
	    NOW + 60)), LEASE_MERGE_CONFLICT);
	assert_string_equal(leases_by_addr(l, ip("10.42.0.21"))->charger,
	    "ZAP000101");
	/* ... and with an earlier one: the later lease takes the address. */
	assert_int_equal(merge(l, peer_of(0, "02:42:00:00:00:09", "10.42.0.21",
	    NOW + 9000)), LEASE_MERGE_APPLIED);
	assert_memory_equal(leases_by_addr(l, ip("10.42.0.21"))->mac,
	    "\x02\x42\x00\x00\x00\x09", 6);
	/* the reserved charger's entry stays, without a lease */
	assert_false(leases_by_mac(l, (const uint8_t *)
	    "\x02\x42\x00\x00\x00\x01")->active);

	/* Outside the LAN, or the gateway's own address: refused. */
	p = peer_of(0, "02:42:00:00:00:05", "192.0.2.5", NOW + 60);
	assert_int_equal(leases_merge(l, &p, NOW, &why), LEASE_MERGE_REFUSED);
	assert_non_null(why);
	assert_int_equal(merge(l, peer_of(0, "02:42:00:00:00:05", "10.42.0.1",
	    NOW + 60)), LEASE_MERGE_REFUSED);
	/* Over already: nothing to take. */
	assert_int_equal(merge(l, peer_of(0, "02:42:00:00:00:05", "10.42.0.15",
	    NOW - 1)), LEASE_MERGE_OLDER);
	assert_null(leases_by_addr(l, ip("10.42.0.15")));
	/* No end ("never") is later than anything. */
	assert_int_equal(merge(l, peer_of(0, "02:42:00:00:00:05", "10.42.0.15",
	    0)), LEASE_MERGE_APPLIED);
	assert_int_equal(merge(l, peer_of(0, "02:42:00:00:00:05", "10.42.0.15",
	    NOW + 99999)), LEASE_MERGE_SAME);
	leases_free(l);
	config_free(c);
}

static void
test_merge_del(void **state)
{
	struct config *c = conf_of(site);
	struct leases *l = leases_new();

	leases_configure(l, SC(c));
	assert_int_equal(merge(l, peer_of(0, "02:42:00:00:00:07", "10.42.0.12",
	    NOW + 3600)), LEASE_MERGE_APPLIED);
	/* A del of another address, or of a MAC we do not know: nothing. */
	assert_int_equal(merge(l, peer_of(1, "02:42:00:00:00:07", "10.42.0.13",
	    NOW + 3600)), LEASE_MERGE_SAME);
	assert_int_equal(merge(l, peer_of(1, "02:42:00:00:00:08", "10.42.0.12",
	    NOW + 3600)), LEASE_MERGE_SAME);
	/* Renewed here after the peer ended it: ours stands. */
	assert_int_equal(merge(l, peer_of(1, "02:42:00:00:00:07", "10.42.0.12",
	    NOW + 60)), LEASE_MERGE_OLDER);
	assert_non_null(leases_by_addr(l, ip("10.42.0.12")));
	/* The lease the peer ended is ours (give or take a second). */
	assert_int_equal(merge(l, peer_of(1, "02:42:00:00:00:07", "10.42.0.12",
	    NOW + 3599)), LEASE_MERGE_APPLIED);
	assert_null(leases_by_addr(l, ip("10.42.0.12")));
	/* an unreserved MAC without a lease is forgotten */
	assert_null(leases_by_mac(l, (const uint8_t *)
	    "\x02\x42\x00\x00\x00\x07"));
	/* A reserved charger's entry stays, without its lease. */
	assert_int_equal(merge(l, peer_of(0, "02:42:00:00:00:02", "10.42.0.14",
	    NOW + 600)), LEASE_MERGE_APPLIED);
	assert_int_equal(merge(l, peer_of(1, "02:42:00:00:00:02", "10.42.0.14",
	    NOW + 600)), LEASE_MERGE_APPLIED);
	assert_false(leases_by_mac(l, (const uint8_t *)
	    "\x02\x42\x00\x00\x00\x02")->active);
	assert_string_equal(lease_merge_str(LEASE_MERGE_CONFLICT), "conflict");
	leases_free(l);
	config_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_valid),
		cmocka_unit_test(test_line_torn_and_hostile),
		cmocka_unit_test(test_event_valid),
		cmocka_unit_test(test_event_hostile),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_init_lines),
		cmocka_unit_test(test_pool_warning),
		cmocka_unit_test(test_account),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_load_damaged),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_del),
	};

	return cmocka_run_group_tests_name("leases", tests, NULL, NULL);
}
