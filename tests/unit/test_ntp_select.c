/*
 * Tests for ntp_select: the clock filter (lowest delay of the last 8),
 * selection by agreement (a falseticker is outvoted, no majority means no
 * time), the choice of the system peer, combining, and offset tracking
 * with a frequency estimate.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>

#include "time/ntp_select.h"

static struct ntp_sample
sample(double offset, double delay, uint64_t ms)
{
	struct ntp_sample s = { offset, delay, 1e-6, ms };

	return s;
}

static void
test_filter_lowest_delay_of_last_8(void **state)
{
	struct ntp_filter f;
	struct ntp_sample best, s;
	double jitter;
	size_t i;

	ntp_filter_clear(&f);
	assert_int_equal(ntp_filter_best(&f, &best, &jitter), -1);

	/* The fastest exchange first, then 8 slower ones push it out. */
	s = sample(0.5, 0.001, 1000);
	ntp_filter_add(&f, &s);
	assert_int_equal(ntp_filter_best(&f, &best, &jitter), 0);
	assert_true(best.offset == 0.5);
	assert_true(jitter == 0);
	for (i = 0; i < 7; i++) {
		s = sample(0.010 + 0.001 * (double)i, 0.020 + 0.001 * (double)i,
		    2000 + 1000 * i);
		ntp_filter_add(&f, &s);
	}
	assert_int_equal(f.n, 8);
	assert_int_equal(ntp_filter_best(&f, &best, &jitter), 0);
	assert_true(best.offset == 0.5);	/* still held: 8 samples */
	assert_true(jitter > 0.4);		/* the others disagree */

	s = sample(0.017, 0.027, 9000);
	ntp_filter_add(&f, &s);			/* the 9th: 0.5 is gone */
	assert_int_equal(ntp_filter_best(&f, &best, &jitter), 0);
	assert_true(fabs(best.offset - 0.010) < 1e-12);
	assert_true(fabs(best.delay - 0.020) < 1e-12);
	assert_int_equal(best.mono_ms, 2000);
	/* RMS of 1..7 ms differences over n-1 = 7. */
	assert_true(fabs(jitter - sqrt((1 + 4 + 9 + 16 + 25 + 36 + 49) /
	    7.0) * 0.001) < 1e-9);

	/* A spike of delay (queueing) never wins over a quiet exchange. */
	s = sample(-3.0, 2.0, 10000);
	ntp_filter_add(&f, &s);			/* and 0.010 is gone */
	assert_int_equal(ntp_filter_best(&f, &best, &jitter), 0);
	assert_true(fabs(best.offset - 0.011) < 1e-12);

	/* Equal delays: the newer sample. */
	ntp_filter_clear(&f);
	s = sample(0.1, 0.01, 1);
	ntp_filter_add(&f, &s);
	s = sample(0.2, 0.01, 2);
	ntp_filter_add(&f, &s);
	assert_int_equal(ntp_filter_best(&f, &best, &jitter), 0);
	assert_true(best.offset == 0.2);
}

static struct ntp_cand
cand(double offset, double rootdist, int stratum)
{
	struct ntp_cand c = { offset, rootdist, stratum, -1 };

	return c;
}

static void
test_select_one_server(void **state)
{
	struct ntp_cand c[1] = { cand(0.25, 0.01, 1) };
	double lo, hi;

	assert_int_equal(ntp_select(c, 1, &lo, &hi), 1);
	assert_true(c[0].truechimer);
	assert_true(fabs(lo - 0.24) < 1e-12 && fabs(hi - 0.26) < 1e-12);
	assert_int_equal(ntp_select(c, 0, &lo, &hi), 0);
}

static void
test_select_falseticker_outvoted(void **state)
{
	/* Two honest servers near 0, one 10 s off with a tight interval. */
	struct ntp_cand c[3] = {
		cand(0.000, 0.05, 1),
		cand(10.00, 0.05, 1),
		cand(0.010, 0.05, 2),
	};
	double lo, hi;

	assert_int_equal(ntp_select(c, 3, &lo, &hi), 2);
	assert_true(c[0].truechimer);
	assert_false(c[1].truechimer);
	assert_true(c[2].truechimer);
	assert_true(lo <= 0.000 && hi >= 0.010 - 0.05);
	assert_true(hi < 1);
}

static void
test_select_two_liars_in_five(void **state)
{
	/* Two liars agree with each other; three honest servers win. */
	struct ntp_cand c[5] = {
		cand(-0.002, 0.01, 2),
		cand(5.000, 0.01, 1),
		cand(0.001, 0.02, 2),
		cand(5.003, 0.01, 1),
		cand(0.004, 0.01, 3),
	};
	double lo, hi;

	assert_int_equal(ntp_select(c, 5, &lo, &hi), 3);
	assert_true(c[0].truechimer && c[2].truechimer && c[4].truechimer);
	assert_false(c[1].truechimer || c[3].truechimer);
}

static void
test_select_no_majority(void **state)
{
	/* Two servers that disagree: nobody can be believed. */
	struct ntp_cand two[2] = { cand(0, 0.01, 1), cand(1.0, 0.01, 1) };
	/* Two against two. */
	struct ntp_cand four[4] = {
		cand(0, 0.01, 1), cand(0.005, 0.01, 1),
		cand(2.0, 0.01, 1), cand(2.005, 0.01, 1),
	};
	double lo, hi;

	assert_int_equal(ntp_select(two, 2, &lo, &hi), 0);
	assert_false(two[0].truechimer || two[1].truechimer);
	assert_int_equal(ntp_select(four, 4, &lo, &hi), 0);
	assert_int_equal(ntp_pick(four, 4, -1), -1);
}

static void
test_select_overlap_not_midpoints(void **state)
{
	/*
	 * Two servers whose intervals overlap although neither midpoint is
	 * inside the other interval: they agree (ntpd 4.2.8 semantics).
	 * Touching intervals agree too.
	 */
	struct ntp_cand c[2] = { cand(0, 0.01, 1), cand(0.015, 0.01, 1) };
	struct ntp_cand t[2] = { cand(0, 0.5, 1), cand(1.0, 0.5, 1) };
	double lo, hi;

	assert_int_equal(ntp_select(c, 2, &lo, &hi), 2);
	assert_true(fabs(lo - 0.005) < 1e-12 && fabs(hi - 0.01) < 1e-12);
	assert_int_equal(ntp_select(t, 2, &lo, &hi), 2);
}

static void
test_pick_and_combine(void **state)
{
	struct ntp_cand c[4] = {
		cand(0.002, 0.020, 2),
		cand(0.001, 0.010, 2),
		cand(0.004, 0.005, 3),
		cand(7.000, 0.010, 1),	/* the liar has the best stratum */
	};
	double lo, hi, off, jitter;
	int p;

	assert_int_equal(ntp_select(c, 4, &lo, &hi), 3);
	/* Lowest stratum among truechimers, then the smallest distance. */
	p = ntp_pick(c, 4, -1);
	assert_int_equal(p, 1);
	/* The current peer stays while it is a truechimer ... */
	assert_int_equal(ntp_pick(c, 4, 0), 0);
	/* ... but not when it turned falseticker. */
	assert_int_equal(ntp_pick(c, 4, 3), 1);

	off = ntp_combine(c, 4, p, &jitter);
	/* weights 50, 100, 200: (0.1 + 0.1 + 0.8) / 350 */
	assert_true(fabs(off - (0.002 * 50 + 0.001 * 100 + 0.004 * 200) /
	    350) < 1e-12);
	assert_true(off > 0.001 && off < 0.004);
	assert_true(jitter > 0 && jitter < 0.003);
	/* Nobody agreeing: nothing combined. */
	c[0].truechimer = c[1].truechimer = c[2].truechimer = 0;
	assert_true(ntp_combine(c, 4, -1, &jitter) == 0);
	assert_true(jitter == 0);
}

/* A deterministic noise source in [-1, 1]. */
static double
noise(unsigned *seed)
{
	*seed = *seed * 1103515245 + 12345;
	return (double)((*seed >> 8) % 20001) / 10000.0 - 1.0;
}

static void
test_track_frequency(void **state)
{
	struct ntp_track tr;
	unsigned seed = 7;
	double t;
	int i;

	ntp_track_reset(&tr);
	assert_true(ntp_track_predict(&tr, 100) == 0);
	/* A clock 20 ppm slow, measured every 64 s with 50 us noise. */
	for (i = 0; i < 8; i++) {
		t = 64.0 * i;
		assert_int_equal(ntp_track_add(&tr, t,
		    0.003 + 20e-6 * t + 50e-6 * noise(&seed)), 0);
	}
	assert_true(fabs(tr.freq - 20e-6) < 2e-6);
	/* 1000 s after the last update the prediction is still good. */
	t = 64.0 * 7 + 1000;
	assert_true(fabs(ntp_track_predict(&tr, t) - (0.003 + 20e-6 * t)) <
	    0.5e-3);
}

static void
test_track_no_made_up_drift(void **state)
{
	struct ntp_track tr;
	unsigned seed = 3;
	int i;

	/* A disciplined clock: offsets are pure noise around 0. */
	ntp_track_reset(&tr);
	for (i = 0; i < 8; i++)
		ntp_track_add(&tr, 64.0 * i, 200e-6 * noise(&seed));
	assert_true(tr.freq == 0);
	assert_true(fabs(ntp_track_predict(&tr, 64.0 * 7 + 3600) -
	    tr.last_off) < 1e-12);
	/* A burst: 4 points 2 s apart with a slope, too short to tell. */
	ntp_track_reset(&tr);
	for (i = 0; i < 4; i++)
		ntp_track_add(&tr, 2.0 * i, 1e-5 * i);
	assert_true(tr.freq_raw > 4e-6);
	assert_true(tr.freq == 0);
	/* Two points give no estimate at all. */
	ntp_track_reset(&tr);
	ntp_track_add(&tr, 0, 0);
	ntp_track_add(&tr, 64, 0.01);
	assert_true(tr.freq == 0);
	/* An absurd slope (a broken clock) is not used. */
	ntp_track_reset(&tr);
	for (i = 0; i < 5; i++)
		ntp_track_add(&tr, 16.0 * i, 0.016 * i);	/* 1000 ppm */
	assert_true(tr.freq == 0);
	assert_true(fabs(tr.freq_raw - 1e-3) < 1e-9);
}

static void
test_track_restart(void **state)
{
	struct ntp_track tr;
	int i;

	ntp_track_reset(&tr);
	for (i = 0; i < 4; i++)
		ntp_track_add(&tr, 64.0 * i, 0.001);
	/* 0.2 s away from the prediction: the history starts afresh. */
	assert_int_equal(ntp_track_add(&tr, 256, 0.201), 1);
	assert_int_equal(tr.n, 1);
	assert_true(ntp_track_predict(&tr, 300) == 0.201);
	assert_int_equal(ntp_track_add(&tr, 320, 0.2012), 0);
	assert_int_equal(tr.n, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_lowest_delay_of_last_8),
		cmocka_unit_test(test_select_one_server),
		cmocka_unit_test(test_select_falseticker_outvoted),
		cmocka_unit_test(test_select_two_liars_in_five),
		cmocka_unit_test(test_select_no_majority),
		cmocka_unit_test(test_select_overlap_not_midpoints),
		cmocka_unit_test(test_pick_and_combine),
		cmocka_unit_test(test_track_frequency),
		cmocka_unit_test(test_track_no_made_up_drift),
		cmocka_unit_test(test_track_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
