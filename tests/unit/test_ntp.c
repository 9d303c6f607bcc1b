/*
 * Tests for the ntp module: the ntp section of evgated.yaml (a full
 * section, the defaults, and every error with the file:line:column an
 * operator reads) and what set_clock decides to do with an offset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <math.h>
#include <string.h>

#include "daemon/config.h"
#include "time/ntp.h"

static struct config *
load(const char *text, char *err, size_t errlen)
{
	return config_load_buffer("t.yaml", (const uint8_t *)text,
	    strlen(text), err, errlen);
}

static uint16_t
port_of(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ?
	    ntohs(((const struct sockaddr_in *)ss)->sin_port) :
	    ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void
test_full_section(void **state)
{
	static const char y[] =
	    "wan: {resolvers: [203.0.113.53]}\n"
	    "ntp:\n"
	    "  servers: [no.pool.ntp.org, \"203.0.113.124:1123\",\n"
	    "            \"[2001:db8::123]\", \"time.example:4123\"]\n"
	    "  serve: true\n"
	    "  listen: [10.42.0.1, \"127.0.0.1:12345\"]\n"
	    "  set_clock: false\n"
	    "  holdover: 2h\n"
	    "  poll: {min: 32s, max: 512s}\n"
	    "  rate_limit: {enabled: true, burst: 8, interval: 4s, "
	    "clients: 1000}\n";
	char err[512];
	struct config *c = load(y, err, sizeof(err));
	const struct cfg_ntp *n;

	if (c == NULL)
		fail_msg("%s", err);
	n = c->ntp;
	assert_non_null(n);
	assert_int_equal(n->nservers, 4);
	assert_string_equal(n->servers[0].name, "no.pool.ntp.org");
	assert_int_equal(n->servers[0].port, 123);
	assert_null(n->servers[1].name);
	assert_int_equal(n->servers[1].port, 1123);
	assert_int_equal(port_of(&n->servers[1].ss), 1123);
	assert_null(n->servers[2].name);
	assert_int_equal(n->servers[2].ss.ss_family, AF_INET6);
	assert_int_equal(n->servers[2].port, 123);
	assert_string_equal(n->servers[3].name, "time.example");
	assert_int_equal(n->servers[3].port, 4123);
	assert_string_equal(n->servers[3].text, "time.example:4123");
	assert_true(n->serve);
	assert_int_equal(n->nlisten, 2);
	assert_int_equal(port_of(&n->listen[0].ss), 0);	/* 123 */
	assert_int_equal(port_of(&n->listen[1].ss), 12345);
	assert_false(n->set_clock);
	assert_int_equal(n->holdover_ms, 7200000);
	assert_int_equal(n->poll_min_ms, 32000);
	assert_int_equal(n->poll_max_ms, 512000);
	assert_true(n->rl_enabled);
	assert_int_equal(n->rl_burst, 8);
	assert_int_equal(n->rl_interval_ms, 4000);
	assert_int_equal(n->rl_clients, 1000);
	config_free(c);
}

static void
test_defaults(void **state)
{
	char err[512];
	struct config *c;

	c = load("ntp:\n  servers: 192.0.2.1\n  listen: 10.42.0.1\n", err,
	    sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->ntp->nservers, 1);
	assert_true(c->ntp->serve);
	assert_false(c->ntp->set_clock);
	assert_int_equal(c->ntp->holdover_ms, 3600000);
	assert_int_equal(c->ntp->poll_min_ms, 64000);
	assert_int_equal(c->ntp->poll_max_ms, 1024000);
	assert_true(c->ntp->rl_enabled);
	assert_int_equal(c->ntp->rl_burst, 16);
	assert_int_equal(c->ntp->rl_interval_ms, 2000);
	assert_int_equal(c->ntp->rl_clients, 4096);
	config_free(c);

	/* No section: no time service. */
	c = load("site: {name: x}\n", err, sizeof(err));
	assert_non_null(c);
	assert_null(c->ntp);
	config_free(c);

	/* A client only (serve: false) needs no listen address. */
	c = load("ntp: {servers: [192.0.2.1], serve: false}\n", err,
	    sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_false(c->ntp->serve);
	assert_int_equal(c->ntp->nlisten, 0);
	config_free(c);

	/* Serving without listen: on lan.address. */
	c = load("lan: {interface: plc0, address: 10.42.0.1/24}\n"
	    "ntp: {servers: [192.0.2.1]}\n", err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->ntp->nlisten, 1);
	assert_string_equal(c->ntp->listen[0].text, "10.42.0.1");
	assert_int_equal(c->ntp->listen[0].ss.ss_family, AF_INET);
	assert_int_equal(port_of(&c->ntp->listen[0].ss), 0);	/* 123 */
	config_free(c);
	/* An explicit listen wins. */
	c = load("lan: {interface: plc0, address: 10.42.0.1/24}\n"
	    "ntp: {servers: [192.0.2.1], listen: 127.0.0.1}\n", err,
	    sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_string_equal(c->ntp->listen[0].text, "127.0.0.1");
	config_free(c);

	/* poll.max alone, below the default minimum, lowers it. */
	c = load("ntp: {servers: [192.0.2.1], serve: false, poll: {max: 32s},"
	    " holdover: 2m}\n", err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_int_equal(c->ntp->poll_min_ms, 32000);
	assert_int_equal(c->ntp->poll_max_ms, 32000);
	config_free(c);
}

static void
test_errors(void **state)
{
	static const struct {
		const char	*yaml;
		const char	*msg;
	} cases[] = {
		{ "ntp: {serve: false}\n",
		  "t.yaml:1:6: ntp: missing required key \"servers\"" },
		{ "ntp: {servers: [no.pool.ntp.org], serve: false}\n",
		  "t.yaml:1:17: ntp.servers[0]: \"no.pool.ntp.org\" is a name; "
		  "resolving it needs wan.resolvers" },
		{ "ntp: {servers: [192.0.2.1]}\n",
		  "t.yaml:1:6: ntp: listen is required when ntp.serve is true "
		  "and there is no lan section (the gateway's LAN address, "
		  "e.g. [10.42.0.1])" },
		{ "ntp: {servers: [\"bad_name!\"], serve: false}\n",
		  "t.yaml:1:17: ntp.servers[0]: \"bad_name!\" is neither an IP "
		  "address nor a host name (with an optional :port)" },
		{ "ntp: {servers: [\"a.example:99999\"], serve: false}\n",
		  "t.yaml:1:17: ntp.servers[0]: bad port in "
		  "\"a.example:99999\"" },
		{ "ntp: {servers: [\"a.example:\"], serve: false}\n",
		  "t.yaml:1:17: ntp.servers[0]: bad port in \"a.example:\"" },
		{ "ntp: {servers: [\"-a.example\"], serve: false}\n",
		  "t.yaml:1:17: ntp.servers[0]: \"-a.example\" is neither an "
		  "IP address nor a host name (with an optional :port)" },
		{ "ntp: {servers: [192.0.2.1, 192.0.2.1], serve: false}\n",
		  "t.yaml:1:28: ntp.servers[1]: 192.0.2.1 is listed twice" },
		{ "ntp: {servers: [], serve: false}\n",
		  "t.yaml:1:16: ntp.servers: give 1 to 16 servers" },
		{ "ntp: {servers: {a: b}, serve: false}\n",
		  "t.yaml:1:16: ntp.servers: expected a list of servers" },
		{ "ntp: {servers: [192.0.2.1], serve: false, holdover: 10m}\n",
		  "t.yaml:1:6: ntp: holdover (10m) must be at least twice "
		  "poll.max (1024s), or the gateway would stop serving time "
		  "between two polls" },
		{ "ntp: {servers: [192.0.2.1], serve: false, holdover: 5s}\n",
		  "t.yaml:1:53: ntp.holdover: 5s is out of range (10s-7d)" },
		{ "ntp: {servers: [192.0.2.1], serve: false, "
		  "poll: {min: 8s}}\n",
		  "t.yaml:1:55: ntp.poll.min: 8s is out of range "
		  "(16s-131072s)" },
		{ "ntp: {servers: [192.0.2.1], serve: false, "
		  "poll: {min: 128s, max: 64s}}\n",
		  "t.yaml:1:49: ntp.poll: poll.min is larger than poll.max" },
		{ "ntp: {servers: [192.0.2.1], serve: false, "
		  "rate_limit: {burst: 0}}\n",
		  "t.yaml:1:63: ntp.rate_limit.burst: 0 is out of range "
		  "(1-1000)" },
		{ "ntp: {servers: [192.0.2.1], serve: false, "
		  "rate_limit: {clients: 2}}\n",
		  "t.yaml:1:65: ntp.rate_limit.clients: 2 is out of range "
		  "(8-1048576)" },
		{ "ntp: {servers: [192.0.2.1], serve: false, "
		  "set_clock: maybe}\n",
		  "t.yaml:1:54: ntp.set_clock: expected true or false, found "
		  "\"maybe\"" },
		{ "ntp: {servers: [192.0.2.1], listen: [10.0.0.1, 10.0.0.1]}\n",
		  "t.yaml:1:48: ntp.listen[1]: 10.0.0.1 is listed twice" },
		{ "ntp: {servers: [192.0.2.1], listen: [nowhere]}\n",
		  "t.yaml:1:38: ntp.listen[0]: \"nowhere\" is not an IP "
		  "address (with an optional :port)" },
		{ "ntp: {servers: [192.0.2.1], serve: false, foo: 1}\n",
		  "t.yaml:1:43: ntp: unknown key \"foo\"" },
	};
	char err[512];
	size_t i;
	int bad = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config *c = load(cases[i].yaml, err, sizeof(err));

		if (c != NULL) {
			config_free(c);
			fail_msg("case %zu loaded: %s", i, cases[i].yaml);
		}
		if (strcmp(err, cases[i].msg) != 0) {
			print_message("case %zu:\n  expected: %s\n  actual:   "
			    "%s\n", i, cases[i].msg, err);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void
test_discipline_plan(void **state)
{
	struct ntp_discipline d;

	/* Beyond 0.128 s: a step, either way. */
	ntp_discipline_plan(0.2, 0, &d);
	assert_true(d.step);
	assert_true(d.amount == 0.2);
	ntp_discipline_plan(-0.129, 0, &d);
	assert_true(d.step);
	assert_true(d.amount == -0.129);
	/* Within: a slew, and the frequency error corrected. */
	ntp_discipline_plan(0.128, 20e-6, &d);
	assert_false(d.step);
	assert_true(d.amount == 0.128);
	assert_true(fabs(d.freq_ppm - 20) < 1e-9);
	ntp_discipline_plan(-0.001, -3.5e-6, &d);
	assert_false(d.step);
	assert_true(fabs(d.freq_ppm + 3.5) < 1e-9);
	/* A frequency beyond what an oscillator does is capped. */
	ntp_discipline_plan(0.001, 1e-3, &d);
	assert_true(d.freq_ppm == 500);
	ntp_discipline_plan(0.001, -1e-3, &d);
	assert_true(d.freq_ppm == -500);
}

static void
test_state_names(void **state)
{
	assert_string_equal(ntp_state_str(NTP_STATE_SYNCED), "synchronised");
	assert_string_equal(ntp_state_str(NTP_STATE_HOLDOVER), "holdover");
	assert_string_equal(ntp_state_str(NTP_STATE_INIT), "unsynchronised");
	assert_string_equal(ntp_state_str(NTP_STATE_UNSYNC),
	    "unsynchronised");
	assert_string_equal(ntp_state_str(NTP_STATE_OFF), "off");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_section),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_discipline_plan),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
