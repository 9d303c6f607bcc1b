/*
 * clock: the clocks and the one way to write a UTC time.  Used by the log
 * itself, so it depends on nothing else of ours.
 */
#ifndef EVG_CLOCK_H
#define EVG_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic and wall clocks in milliseconds. */
uint64_t now_mono_ms(void);
uint64_t now_wall_ms(void);

/*
 * UTC times.  format_utc formats wall_ms (ms since the epoch) with a
 * strftime(3) format; format_utc_s gives "2026-11-25T08:09:10Z", the form
 * of status fields; format_utc_ms "2026-11-25T08:09:10.123Z", the form of
 * event timestamps and log lines.  Each returns buf, which is left empty
 * when len is too short for the whole time.
 */
const char *format_utc(uint64_t wall_ms, const char *fmt, char *buf,
	    size_t len) __attribute__((format(strftime, 2, 0)));
const char *format_utc_s(uint64_t wall_ms, char *buf, size_t len);
const char *format_utc_ms(uint64_t wall_ms, char *buf, size_t len);

#endif
