/*
 * clock: see clock.h.
 */
#include "evgate_config.h"

#include <stdio.h>
#include <time.h>

#include "common/clock.h"

uint64_t
now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
now_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *
format_utc(uint64_t wall_ms, const char *fmt, char *buf, size_t len)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	/* fmt is checked at every call (the format attribute in clock.h). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	if (strftime(buf, len, fmt, &tm) == 0 && len > 0)
		buf[0] = '\0';
#pragma GCC diagnostic pop
	return buf;
}

const char *
format_utc_s(uint64_t wall_ms, char *buf, size_t len)
{
	return format_utc(wall_ms, "%Y-%m-%dT%H:%M:%SZ", buf, len);
}

const char *
format_utc_ms(uint64_t wall_ms, char *buf, size_t len)
{
	char base[32];
	int n;

	format_utc(wall_ms, "%Y-%m-%dT%H:%M:%S", base, sizeof(base));
	n = snprintf(buf, len, "%s.%03uZ", base, (unsigned)(wall_ms % 1000));
	/* As format_utc: empty rather than cut (a time without its Z). */
	if ((n < 0 || (size_t)n >= len) && len > 0)
		buf[0] = '\0';
	return buf;
}
