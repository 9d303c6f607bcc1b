/*
 * test_link: the hub link's policy on a fake clock -- the back-off window
 * (doubling to a cap, shorter with a car), full jitter, the stable-link
 * rule (a link the hub accepts and drops keeps backing off; only a link
 * that stayed up resets it), and when a SAS token is renewed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/link.h"

#define SEC	1000ULL

static struct link l;

static void
init(unsigned token_s)
{
	struct link_cfg c;

	memset(&c, 0, sizeof(c));
	c.token_s = token_s;
	link_init(&l, &c);
}

static void
test_window(void **state)
{
	init(0);
	assert_int_equal(link_window_ms(&l, 0), 10 * SEC);
	link_failed(&l, 0, 0, 0);
	assert_int_equal(l.failures, 1);
	assert_int_equal(link_window_ms(&l, 0), 10 * SEC);
	link_failed(&l, 0, 0, 0);
	assert_int_equal(link_window_ms(&l, 0), 20 * SEC);
	link_failed(&l, 0, 0, 0);
	assert_int_equal(link_window_ms(&l, 0), 40 * SEC);
	link_failed(&l, 0, 0, 0);
	link_failed(&l, 0, 0, 0);
	assert_int_equal(link_window_ms(&l, 0), 160 * SEC);
	link_failed(&l, 0, 0, 0);
	assert_int_equal(link_window_ms(&l, 0), 190 * SEC);	/* capped */
	/* A driver at the charger: 55 s at most. */
	assert_int_equal(link_window_ms(&l, 1), 55 * SEC);
	/* No overflow however long it fails. */
	l.failures = 4000000000U;
	assert_int_equal(link_window_ms(&l, 0), 190 * SEC);
	assert_int_equal(link_failed(&l, 0, 0, 65535), 190 * SEC * 65535 / 65536);
}

/* Full jitter: anywhere in [1 s, window]. */
static void
test_jitter(void **state)
{
	init(0);
	l.failures = 3;		/* the next is the 4th: window 80 s */
	assert_int_equal(link_failed(&l, 0, 0, 0), 1 * SEC);	/* the floor */
	l.failures = 3;
	assert_int_equal(link_failed(&l, 0, 0, 32768), 40 * SEC);
	l.failures = 3;
	assert_int_equal(link_failed(&l, 0, 0, 65535),
	    80 * SEC * 65535 / 65536);
}

/*
 * A hub that accepts and then drops the device (a duplicate id, say):
 * the back-off is not reset by the CONNACKs, it grows to the cap, and
 * every such link counts as "connected then dropped".
 */
static void
test_dropped_keeps_backing_off(void **state)
{
	uint64_t now = 1000;
	int i;

	init(0);
	for (i = 1; i <= 8; i++) {
		link_connected(&l, now);
		now += 5 * SEC;
		link_proven(&l, now);		/* even a SUBACK and a 200 */
		now += 30 * SEC;
		link_tick(&l, now);
		assert_int_equal(l.phase, LINK_PROVEN);
		link_failed(&l, now, 0, 0);
		assert_int_equal(l.failures, (unsigned)i);
		assert_int_equal(l.dropped, (unsigned long)i);
	}
	assert_int_equal(link_window_ms(&l, 0), 190 * SEC);
	/* Dropped before the hub ever answered: also unstable. */
	link_connected(&l, now);
	link_failed(&l, now, 0, 0);
	assert_int_equal(l.dropped, 9);
	/* A connect that never got a CONNACK is a plain failure. */
	link_failed(&l, now, 0, 0);
	assert_int_equal(l.dropped, 9);
	assert_int_equal(l.failures, 10);
}

/* Proven, then minutes without a drop: stable; only now n goes to 0. */
static void
test_stable_resets(void **state)
{
	uint64_t now = 1000;

	init(0);
	link_failed(&l, now, 0, 0);
	link_failed(&l, now, 0, 0);
	link_connected(&l, now);
	link_tick(&l, now + 3600 * SEC);	/* up, but never proven */
	assert_int_equal(l.phase, LINK_UP);
	assert_int_equal(l.failures, 2);
	link_proven(&l, now);
	assert_int_equal(link_deadline(&l), now + 180 * SEC);
	link_tick(&l, now + 179 * SEC);
	assert_int_equal(l.failures, 2);
	link_tick(&l, now + 180 * SEC);
	assert_int_equal(l.phase, LINK_STABLE);
	assert_int_equal(l.failures, 0);
	assert_int_equal(link_deadline(&l), UINT64_MAX);
	/* The first failure after a stable link: the smallest window. */
	link_failed(&l, now + 999 * SEC, 0, 65535);
	assert_int_equal(l.failures, 1);
	assert_int_equal(l.dropped, 0);
	assert_int_equal(link_window_ms(&l, 0), 10 * SEC);
	/* proven only counts on a link that is up. */
	link_proven(&l, now);
	assert_int_equal(l.phase, LINK_DOWN);
}

/*
 * The token is renewed at 80 % of its life; while the host is busy it
 * waits, but not past 95 %.  A renewal is no failure, and the time the
 * link has been proven carries across it.
 */
static void
test_renewal(void **state)
{
	int64_t t0 = 1767225600;
	uint64_t now = 1000;

	init(3600);
	link_token(&l, t0);
	assert_false(link_renew_due(&l, t0 + 3000, 0));	/* link down */
	link_connected(&l, now);
	link_proven(&l, now);
	assert_int_equal(link_renew_at(&l), t0 + 2880);
	assert_int_equal(link_renew_by(&l), t0 + 3420);
	assert_false(link_renew_due(&l, t0 + 2879, 0));
	assert_true(link_renew_due(&l, t0 + 2880, 0));
	assert_false(link_renew_due(&l, t0 + 2880, 1));	/* busy: later */
	assert_false(link_renew_due(&l, t0 + 3419, 1));
	assert_true(link_renew_due(&l, t0 + 3420, 1));	/* not any later */
	l.failures = 3;
	link_renewing(&l);
	assert_int_equal(l.renewals, 1);
	assert_int_equal(l.failures, 3);
	assert_int_equal(l.phase, LINK_DOWN);
	/* The new connection is proven since the old one was. */
	link_token(&l, t0 + 2880);
	link_connected(&l, now + 2880 * SEC);
	link_proven(&l, now + 2881 * SEC);
	assert_int_equal(l.proven_ms, now);
	link_tick(&l, now + 2882 * SEC);
	assert_int_equal(l.phase, LINK_STABLE);
	assert_int_equal(l.failures, 0);
	assert_int_equal(link_renew_at(&l), t0 + 2880 + 2880);
	/* Without tokens (password), never. */
	init(0);
	link_connected(&l, now);
	assert_false(link_renew_due(&l, t0 + 365 * 86400, 0));
}

/* Down on purpose (a new address): no failure, nothing carried. */
static void
test_reset(void **state)
{
	uint64_t now = 1000;

	init(0);
	link_failed(&l, now, 0, 0);
	link_connected(&l, now);
	link_proven(&l, now);
	link_reset(&l);
	assert_int_equal(l.failures, 1);
	assert_int_equal(l.dropped, 0);
	link_connected(&l, now + 10 * SEC);
	link_proven(&l, now + 10 * SEC);
	assert_int_equal(l.proven_ms, now + 10 * SEC);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_dropped_keeps_backing_off),
		cmocka_unit_test(test_stable_resets),
		cmocka_unit_test(test_renewal),
		cmocka_unit_test(test_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
