/*
 * test_fwconfig: evcharger's YAML configuration: defaults, every key,
 * range checks, duplicate keys, and errors that name file:line:column.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/fwconfig.h"

static int
parse(const char *text, struct fw_config *c, char *err)
{
	return fwconfig_parse(text, strlen(text), "t.yaml", c, err, 256);
}

static void
test_defaults(void **state)
{
	struct fw_config c;
	char err[256];

	assert_int_equal(parse("", &c, err), 0);
	assert_string_equal(c.cloud.host, "zapcloud.azure-devices.net");
	assert_int_equal(c.cloud.port, 8883);
	/* The data budget's defaults (doc/performance.md). */
	assert_int_equal(c.cloud.keepalive_s, 1177);
	assert_int_equal(c.cloud.sas_ttl_s, 86400);
	assert_int_equal(c.data_usage_s, 21600);
	assert_int_equal(c.budget_daily, 1000000);
	assert_int_equal(c.ndns_fallback, 2);
	assert_int_equal(c.dns_fallback[0].addr, 0x08080808);
	assert_int_equal(c.dns_fallback[1].addr, 0x01010101);
	assert_string_equal(c.ntp_server, "no.pool.ntp.org");
	assert_int_equal(c.charger.meter_interval_s, 120);
	assert_int_equal(c.charger.pulse_idle_s, 900);
	/* The idle pulse comes before the keepalive would: no PINGREQ. */
	assert_true(c.charger.pulse_idle_s < c.cloud.keepalive_s);
	assert_int_equal(c.charger.pulse_charging_s, 180);
	assert_int_equal(c.netmode, FW_NET_DHCP);
}

static void
test_full(void **state)
{
	struct fw_config c;
	char err[256];
	const char *y =
	    "interface: veth0\n"
	    "network: static\n"
	    "state_dir: /tmp/x\n"
	    "cloud:\n"
	    "  host: hub.example\n"
	    "  port: 18883\n"
	    "  ca_file: /tmp/ca.pem\n"
	    "  auth: sas\n"
	    "  keepalive: 1177\n"
	    "  sas_ttl: 3600\n"
	    "dns:\n"
	    "  fallback: [10.0.0.53, \"127.0.0.1:5353\"]\n"
	    "  timeout_ms: 500\n"
	    "ntp:\n"
	    "  server: ntp.example\n"
	    "telemetry:\n"
	    "  meter_interval: 10\n"
	    "  pulse_idle: 30\n"
	    "  pulse_charging: 20\n"
	    "charger:\n"
	    "  default_current: 10\n"
	    "control:\n"
	    "  socket: /tmp/c.sock\n"
	    "log:\n"
	    "  level: debug\n"
	    "simulation:\n"
	    "  rtc_offset: -86400\n"
	    "firmware:\n"
	    "  product: evcharger-test\n";

	assert_int_equal(parse(y, &c, err), 0);
	assert_string_equal(c.interface, "veth0");
	assert_int_equal(c.netmode, FW_NET_STATIC);
	assert_string_equal(c.cloud.host, "hub.example");
	assert_int_equal(c.cloud.port, 18883);
	assert_int_equal(c.cloud.auth, CLOUD_AUTH_SAS);
	assert_int_equal(c.cloud.keepalive_s, 1177);
	assert_int_equal(c.ndns_fallback, 2);
	assert_int_equal(c.dns_fallback[0].addr, 0x0a000035);
	assert_int_equal(c.dns_fallback[1].port, 5353);
	assert_int_equal(c.dns_timeout_ms, 500);
	assert_int_equal(c.charger.meter_interval_s, 10);
	assert_int_equal(c.charger.default_current_a, 10);
	assert_string_equal(c.control_socket, "/tmp/c.sock");
	assert_int_equal(c.log_level, 3);
	assert_int_equal(c.rtc_offset_s, -86400);
	/* The firmware: section goes to the update engine's parser. */
	assert_string_equal(c.firmware.product, "evcharger-test");
}

/*
 * A key given twice is an error naming the second one, in every mapping:
 * libyaml keeps both and the second would silently win.
 */
static void
test_duplicates(void **state)
{
	struct fw_config c;
	char err[256];

	c.cloud.port = 1;
	assert_int_equal(parse("cloud:\n  port: 8883\n  port: 18883\n", &c,
	    err), -1);
	assert_string_equal(err, "t.yaml:3:3: duplicate key \"cloud.port\"");
	assert_int_equal(c.cloud.port, 1);
	assert_int_equal(parse("interface: a\nnetwork: dhcp\ninterface: b\n",
	    &c, err), -1);
	assert_string_equal(err, "t.yaml:3:1: duplicate key \"interface\"");
	/* A whole section twice: the second would have merged unseen. */
	assert_int_equal(parse("cloud:\n  port: 1\nntp:\n  port: 2\n"
	    "cloud:\n  host: x\n", &c, err), -1);
	assert_string_equal(err, "t.yaml:5:1: duplicate key \"cloud\"");
	assert_int_equal(parse("dns: {timeout_ms: 500, timeout_ms: 600}\n",
	    &c, err), -1);
	assert_string_equal(err,
	    "t.yaml:1:24: duplicate key \"dns.timeout_ms\"");
	/* The firmware: section, parsed by the update engine, too. */
	assert_int_equal(parse("firmware:\n  product: a\n  product: b\n",
	    &c, err), -1);
	assert_string_equal(err,
	    "t.yaml:3:3: duplicate key \"firmware.product\"");
	assert_int_equal(parse("firmware: {}\nfirmware: {}\n", &c, err), -1);
	assert_string_equal(err, "t.yaml:2:1: duplicate key \"firmware\"");
	/* The same name in two sections is two keys. */
	assert_int_equal(parse("cloud:\n  port: 8883\nntp:\n  port: 123\n",
	    &c, err), 0);
}

static void
test_errors(void **state)
{
	struct fw_config c;
	char err[256];

	c.cloud.port = 1;
	assert_int_equal(parse("cloud:\n  keepalive: 1178\n", &c, err), -1);
	assert_string_equal(err,
	    "t.yaml:2:14: cloud.keepalive: 1178 is out of range 30..1177");
	/* A failed parse changes nothing in the output. */
	assert_int_equal(c.cloud.port, 1);
	assert_int_equal(parse("cloud:\n  hots: x\n", &c, err), -1);
	assert_string_equal(err, "t.yaml:2:9: unknown key \"cloud.hots\"");
	assert_int_equal(parse("dns:\n  fallback: [8.8.8]\n", &c, err), -1);
	assert_non_null(strstr(err, "t.yaml:2:14: dns.fallback: \"8.8.8\""));
	assert_int_equal(parse("cloud:\n  auth: token\n", &c, err), -1);
	assert_non_null(strstr(err, "t.yaml:2:9:"));
	assert_int_equal(parse("cloud: [1, 2]\n", &c, err), -1);
	assert_non_null(strstr(err, "t.yaml:1:8: cloud: expected a mapping"));
	assert_int_equal(parse("a: [\n", &c, err), -1);
	assert_non_null(strstr(err, "t.yaml:2:1:"));
	assert_int_equal(parse("cloud:\n  port: -1\n", &c, err), -1);
	assert_int_equal(parse("cloud:\n  port: 99999\n", &c, err), -1);
	assert_int_equal(parse("network: wifi\n", &c, err), -1);
	assert_int_equal(parse("state_dir: \"\"\n", &c, err), -1);
	assert_non_null(strstr(err, "must not be empty"));
	assert_int_equal(parse("charger:\n  default_current: 5\n", &c, err),
	    -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_duplicates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
