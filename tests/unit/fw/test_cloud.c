/*
 * test_cloud: the reconnect back-off (10 s + min(n^2, cap) + jitter, cap
 * 45 s with a car, 180 s without) and set-up failures that must be clear.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "core/cloud.h"
#include "core/dns.h"
#include "hal/fake/hal_fake.h"

static void
test_backoff(void **state)
{
	assert_int_equal(cloud_backoff_ms(1, 0, 0), 11000);
	assert_int_equal(cloud_backoff_ms(2, 0, 0), 14000);
	assert_int_equal(cloud_backoff_ms(6, 1, 0), 46000);
	assert_int_equal(cloud_backoff_ms(7, 1, 0), 55000);	/* capped */
	assert_int_equal(cloud_backoff_ms(100, 1, 0), 55000);
	assert_int_equal(cloud_backoff_ms(13, 0, 0), 179000);
	assert_int_equal(cloud_backoff_ms(14, 0, 0), 190000);	/* capped */
	assert_int_equal(cloud_backoff_ms(100000, 0, 0), 190000);
	/* Jitter adds 0..5 s, never more. */
	assert_int_equal(cloud_backoff_ms(1, 0, 2500), 13500);
	assert_int_equal(cloud_backoff_ms(1, 0, 99999), 16000);
}

/* A CA bundle that cannot be read is an error at set-up, said once. */
static void
test_bad_ca(void **state)
{
	struct event_base *base = event_base_new();
	struct dns *d = dns_new(base, 1000, 1);
	struct cloud_cfg cfg;

	fake_hal_reset();
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.host, sizeof(cfg.host), "zapcloud.azure-devices.net");
	cfg.port = 8883;
	snprintf(cfg.ca_file, sizeof(cfg.ca_file), "/nonexistent/ca.pem");
	snprintf(cfg.id, sizeof(cfg.id), "ZAP000101");
	snprintf(cfg.secret, sizeof(cfg.secret), "s");
	cfg.keepalive_s = 300;
	assert_null(cloud_new(base, d, &cfg, NULL));
	assert_non_null(strstr(fake_log_last(), "/nonexistent/ca.pem"));
	dns_free(d);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_bad_ca),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
