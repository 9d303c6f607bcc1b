/*
 * test_cloud: set-up failures that must be clear.  The link's policy
 * (back-off, stable link, renewal) is test_link's.
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
		cmocka_unit_test(test_bad_ca),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
