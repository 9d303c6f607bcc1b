/*
 * Tests for clock and log: the UTC formatters at known instants and with
 * short buffers, the log's line format and levels, fatal's exit, and
 * log_warnx_rl's token bucket.  stderr is captured through a temporary
 * file.  Time passing for the bucket is simulated by moving its "last"
 * back, never waited for, so nothing here depends on how fast it runs.
 */
#include "evgate_config.h"

#include <sys/wait.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture.h"

#include "common/clock.h"
#include "common/log.h"

/* --- formatting ------------------------------------------------------ */

struct instant {
	uint64_t	 ms;
	const char	*s;	/* format_utc_s */
	const char	*ms_form;	/* format_utc_ms */
};

static const struct instant instants[] = {
	{ 0, "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z" },
	{ 1, "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.001Z" },
	/* milliseconds are cut, never rounded up into the next second */
	{ 59999, "1970-01-01T00:00:59Z", "1970-01-01T00:00:59.999Z" },
	{ 1709210096789ULL, "2024-02-29T12:34:56Z",
	    "2024-02-29T12:34:56.789Z" },
	/* 2000 is a leap year, 2100 is not */
	{ 951868799999ULL, "2000-02-29T23:59:59Z",
	    "2000-02-29T23:59:59.999Z" },
	{ 951868800000ULL, "2000-03-01T00:00:00Z",
	    "2000-03-01T00:00:00.000Z" },
	{ 4107542399500ULL, "2100-02-28T23:59:59Z",
	    "2100-02-28T23:59:59.500Z" },
	{ 4107542400000ULL, "2100-03-01T00:00:00Z",
	    "2100-03-01T00:00:00.000Z" },
	/* either side of the 32-bit time_t end, and of the unsigned one */
	{ 2147483647999ULL, "2038-01-19T03:14:07Z",
	    "2038-01-19T03:14:07.999Z" },
	{ 2147483648000ULL, "2038-01-19T03:14:08Z",
	    "2038-01-19T03:14:08.000Z" },
	{ 4294967296010ULL, "2106-02-07T06:28:16Z",
	    "2106-02-07T06:28:16.010Z" },
	{ 253402300799999ULL, "9999-12-31T23:59:59Z",
	    "9999-12-31T23:59:59.999Z" },
	{ 253402300800000ULL, "10000-01-01T00:00:00Z",
	    "10000-01-01T00:00:00.000Z" },
	/* the largest input still formats (a corrupt clock, say) */
	{ UINT64_MAX, "584556019-04-03T14:25:51Z",
	    "584556019-04-03T14:25:51.615Z" },
};

static void
test_instants(void **state)
{
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(instants) / sizeof(instants[0]); i++) {
		const struct instant *in = &instants[i];

		memset(buf, 'x', sizeof(buf));
		assert_ptr_equal(format_utc_s(in->ms, buf, sizeof(buf)), buf);
		assert_string_equal(buf, in->s);
		memset(buf, 'x', sizeof(buf));
		assert_ptr_equal(format_utc_ms(in->ms, buf, sizeof(buf)), buf);
		assert_string_equal(buf, in->ms_form);
	}
}

static void
test_format(void **state)
{
	char buf[64];

	assert_string_equal(format_utc(1709210096789ULL, "%Y-%m-%d", buf,
	    sizeof(buf)), "2024-02-29");
	assert_string_equal(format_utc(1709210096789ULL, "%Y%m%dT%H%M%SZ",
	    buf, sizeof(buf)), "20240229T123456Z");
	assert_string_equal(format_utc(1709210096789ULL, "%Y-%m-%d %H:%M UTC",
	    buf, sizeof(buf)), "2024-02-29 12:34 UTC");
	/* day of the year and week day of the leap day */
	assert_string_equal(format_utc(1709210096789ULL, "%j %a", buf,
	    sizeof(buf)), "060 Thu");
}

/*
 * A buffer too short for the whole time gets an empty string, never a
 * cut one (a time without its "Z" reads as local time), and never a byte
 * past len.
 */
static void
test_short_buffers(void **state)
{
	char buf[32];
	size_t len;

	for (len = 1; len <= 26; len++) {
		memset(buf, 'x', sizeof(buf));
		format_utc_s(1709210096789ULL, buf, len);
		if (len < 21)
			assert_string_equal(buf, "");
		else
			assert_string_equal(buf, "2024-02-29T12:34:56Z");
		assert_int_equal(buf[len], 'x');

		memset(buf, 'x', sizeof(buf));
		format_utc_ms(1709210096789ULL, buf, len);
		if (len < 25)
			assert_string_equal(buf, "");
		else
			assert_string_equal(buf, "2024-02-29T12:34:56.789Z");
		assert_int_equal(buf[len], 'x');

		memset(buf, 'x', sizeof(buf));
		format_utc(1709210096789ULL, "%Y-%m-%d", buf, len);
		if (len < 11)
			assert_string_equal(buf, "");
		else
			assert_string_equal(buf, "2024-02-29");
		assert_int_equal(buf[len], 'x');
	}
	/* len 0 writes nothing at all */
	memset(buf, 'x', sizeof(buf));
	format_utc_s(0, buf, 0);
	format_utc_ms(0, buf, 0);
	format_utc(0, "%Y", buf, 0);
	assert_int_equal(buf[0], 'x');
}

static void
test_clocks(void **state)
{
	uint64_t m1, m2, w;

	m1 = now_mono_ms();
	w = now_wall_ms();
	m2 = now_mono_ms();
	assert_true(m2 >= m1);
	/* after 2024 and before 2200: a wall clock in milliseconds */
	assert_true(w > 1704067200000ULL);
	assert_true(w < 7258118400000ULL);
}

/* --- the log --------------------------------------------------------- */

/* The messages of the lines in out (after "ident[tag]: "), in order. */
static size_t
messages(const char *out, const char *ident, char msgs[][128], size_t max)
{
	const char *p = out, *nl, *m;
	size_t n = 0, len;

	while (*p != '\0' && n < max) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		m = strstr(p, "]: ");
		assert_non_null(m);
		assert_true(m < nl);
		/* "2024-02-29T12:34:56.789Z ident[...]: " */
		assert_int_equal(p[10], 'T');
		assert_int_equal(p[19], '.');
		assert_int_equal(p[23], 'Z');
		assert_int_equal(p[24], ' ');
		assert_memory_equal(p + 25, ident, strlen(ident));
		m += 3;
		len = (size_t)(nl - m);
		assert_true(len < 128);
		memcpy(msgs[n], m, len);
		msgs[n][len] = '\0';
		n++;
		p = nl + 1;
	}
	assert_int_equal(*p, '\0');
	return n;
}

static void
test_log_levels(void **state)
{
	struct capture c;
	char msgs[8][128];
	char *out;

	assert_int_equal(log_level_parse("error"), LOG_LEVEL_ERR);
	assert_int_equal(log_level_parse("warn"), LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("info"), LOG_LEVEL_INFO);
	assert_int_equal(log_level_parse("debug"), LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("warning"), -1);
	assert_int_equal(log_level_parse("INFO"), -1);
	assert_int_equal(log_level_parse(""), -1);

	log_init("clocktest", 1, LOG_LEVEL_INFO);
	assert_int_equal(log_getlevel(), LOG_LEVEL_INFO);
	capture_start(&c);
	log_debug("not shown %d", 1);
	log_info("info %d", 2);
	log_warnx("warnx %s", "three");
	errno = ENOENT;
	log_warn("warn %d", 4);
	log_setlevel(LOG_LEVEL_DEBUG);
	log_debug("debug %d", 5);
	log_setlevel(LOG_LEVEL_ERR);
	log_info("not shown %d", 6);
	log_warnx("not shown %d", 7);
	out = capture_end(&c);
	assert_int_equal(errno, ENOENT);	/* log_warn keeps errno */
	assert_int_equal(messages(out, "clocktest[", msgs, 8), 4);
	assert_string_equal(msgs[0], "info 2");
	assert_string_equal(msgs[1], "warnx three");
	assert_string_equal(msgs[2], "warn 4: No such file or directory");
	assert_string_equal(msgs[3], "debug 5");
	assert_non_null(strstr(out, "clocktest[info]: info 2\n"));
	assert_non_null(strstr(out, "clocktest[warning]: warnx three\n"));
	assert_non_null(strstr(out, "clocktest[debug]: debug 5\n"));
	free(out);
	log_setlevel(LOG_LEVEL_INFO);
}

/* A message longer than the log's buffer is cut, not overrun. */
static void
test_log_long(void **state)
{
	struct capture c;
	char *big, *out, *m;

	big = malloc(3000);
	assert_non_null(big);
	memset(big, 'a', 2999);
	big[2999] = '\0';
	log_init("clocktest", 1, LOG_LEVEL_INFO);
	capture_start(&c);
	errno = EPERM;
	log_warn("%s", big);
	out = capture_end(&c);
	m = strstr(out, "]: ");
	assert_non_null(m);
	m += 3;
	/* 2047 characters and the newline; no ": Operation..." after */
	assert_int_equal(strlen(m), 2048);
	assert_int_equal(m[2046], 'a');
	assert_int_equal(m[2047], '\n');
	free(out);
	free(big);
}

/* fatal and fatalx log at error level and exit 1: in a child. */
static void
test_fatal(void **state)
{
	struct capture c;
	char *out;
	pid_t pid;
	int status;

	log_init("clocktest", 1, LOG_LEVEL_INFO);
	fflush(stdout);		/* or the child's exit prints it again */
	capture_start(&c);
	if ((pid = fork()) == 0) {
		errno = EACCES;
		fatal("cannot %s", "go on");
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	if ((pid = fork()) == 0)
		fatalx("stop %d", 42);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	out = capture_end(&c);
	assert_non_null(strstr(out, "clocktest[error]: cannot go on: "
	    "Permission denied\n"));
	assert_non_null(strstr(out, "clocktest[error]: stop 42\n"));
	free(out);
}

/* --- the rate limiter ------------------------------------------------ */

static time_t
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
test_ratelimit(void **state)
{
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(3, 3600);
	struct capture c;
	char msgs[16][128];
	char *out;
	int i;

	log_init("clocktest", 1, LOG_LEVEL_INFO);
	capture_start(&c);
	/* A burst of 3, then nothing: 2 left out. */
	for (i = 1; i <= 5; i++)
		log_warnx_rl(&rl, "refused %d", i);
	assert_int_equal(rl.suppressed, 2);
	assert_int_equal(rl.tokens, 0);
	/* Another 2 within the same hour: still nothing. */
	log_warnx_rl(&rl, "refused %d", 6);
	log_warnx_rl(&rl, "refused %d", 7);
	assert_int_equal(rl.suppressed, 4);
	/* One interval later: one token, and the count goes with it. */
	rl.last = mono_s() - 3600;
	log_warnx_rl(&rl, "refused %d", 8);
	assert_int_equal(rl.suppressed, 0);
	log_warnx_rl(&rl, "refused %d", 9);
	assert_int_equal(rl.suppressed, 1);
	/* Ten intervals later: the bucket holds at most a burst. */
	rl.last = mono_s() - 10 * 3600;
	for (i = 10; i <= 14; i++)
		log_warnx_rl(&rl, "refused %d", i);
	assert_int_equal(rl.tokens, 0);
	assert_int_equal(rl.suppressed, 2);
	out = capture_end(&c);

	assert_int_equal(messages(out, "clocktest[", msgs, 16), 7);
	assert_string_equal(msgs[0], "refused 1");
	assert_string_equal(msgs[1], "refused 2");
	assert_string_equal(msgs[2], "refused 3");
	assert_string_equal(msgs[3],
	    "refused 8 (4 similar messages suppressed)");
	assert_string_equal(msgs[4],
	    "refused 10 (1 similar messages suppressed)");
	assert_string_equal(msgs[5], "refused 11");
	assert_string_equal(msgs[6], "refused 12");
	assert_non_null(strstr(out, "clocktest[warning]: refused 1\n"));
	free(out);
}

/*
 * A token comes every interval on the interval's own time: the part of
 * an interval gone when a token is taken counts toward the next one.
 */
static void
test_ratelimit_part_interval(void **state)
{
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(2, 100);
	struct capture c;
	time_t now;
	char *out;

	log_init("clocktest", 1, LOG_LEVEL_INFO);
	capture_start(&c);
	log_warnx_rl(&rl, "a");
	log_warnx_rl(&rl, "b");
	assert_int_equal(rl.tokens, 0);
	/* 150 s later: one token, and 50 s toward the next. */
	now = mono_s();
	rl.last = now - 150;
	log_warnx_rl(&rl, "c");
	assert_int_equal(rl.tokens, 0);
	assert_true(rl.last >= now - 50 && rl.last <= now - 50 + 2);
	/* Another 50 s: the second token is due. */
	rl.last -= 50;
	log_warnx_rl(&rl, "d");
	assert_int_equal(rl.suppressed, 0);
	/* A bucket filled to its burst starts counting afresh. */
	rl.last = mono_s() - 1000;
	log_warnx_rl(&rl, "e");
	assert_int_equal(rl.tokens, 1);
	assert_true(rl.last >= mono_s() - 2);
	out = capture_end(&c);
	assert_non_null(strstr(out, "clocktest[warning]: d\n"));
	free(out);
	(void)state;
}

/* Each limiter has a bucket of its own. */
static void
test_ratelimit_separate(void **state)
{
	struct log_ratelimit a = LOG_RATELIMIT_INIT(1, 3600);
	struct log_ratelimit b = LOG_RATELIMIT_INIT(1, 3600);
	struct capture c;
	char msgs[8][128];
	char *out;

	log_init("clocktest", 1, LOG_LEVEL_INFO);
	capture_start(&c);
	log_warnx_rl(&a, "a1");
	log_warnx_rl(&a, "a2");
	log_warnx_rl(&b, "b1");
	log_warnx_rl(&b, "b2");
	log_warnx_rl(&b, "b3");
	out = capture_end(&c);
	assert_int_equal(a.suppressed, 1);
	assert_int_equal(b.suppressed, 2);
	assert_int_equal(messages(out, "clocktest[", msgs, 8), 2);
	assert_string_equal(msgs[0], "a1");
	assert_string_equal(msgs[1], "b1");
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_instants),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_short_buffers),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_log_long),
		cmocka_unit_test(test_fatal),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_ratelimit_part_interval),
		cmocka_unit_test(test_ratelimit_separate),
	};

	return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
