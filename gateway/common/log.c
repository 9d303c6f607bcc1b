/*
 * log: stderr or syslog, with levels and a rate limiter for messages that
 * the outside world can provoke.
 */
#include "evgate_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"

static int		 log_stderr = 1;
static enum log_level	 log_level = LOG_LEVEL_INFO;
static const char	*log_ident = "evgate";

void
log_init(const char *ident, int to_stderr, enum log_level level)
{
	log_ident = ident;
	log_stderr = to_stderr;
	log_level = level;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setlevel(enum log_level level)
{
	log_level = level;
}

enum log_level
log_getlevel(void)
{
	return log_level;
}

int
log_level_parse(const char *name)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

static void
log_emit(enum log_level level, const char *msg)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const tag[] = { "error", "warning", "info", "debug" };
	char when[40];

	if (!log_stderr) {
		syslog(prio[level], "%s", msg);
		return;
	}
	fprintf(stderr, "%s %s[%s]: %s\n", format_utc_ms(now_wall_ms(), when,
	    sizeof(when)), log_ident, tag[level], msg);
	fflush(stderr);
}

static void
vlog(enum log_level level, int err, const char *fmt, va_list ap)
{
	char msg[2048];
	int n;

	if (level > log_level)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err && n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(err));
	log_emit(level, msg);
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_WARN, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_WARN, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
log_warnx_rl(struct log_ratelimit *rl, const char *fmt, ...)
{
	struct timespec now;
	char msg[2048];
	va_list ap;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (rl->interval > 0 && now.tv_sec > rl->last) {
		unsigned long add = (now.tv_sec - rl->last) / rl->interval;

		if (add > 0) {
			rl->tokens = add >= rl->burst ? rl->burst :
			    rl->tokens + (unsigned)add > rl->burst ? rl->burst :
			    rl->tokens + (unsigned)add;
			/*
			 * Keep the part of an interval already gone: moving
			 * "last" to now would give the next token one whole
			 * interval later, not at its time.  A full bucket
			 * starts counting afresh.
			 */
			if (rl->tokens == rl->burst)
				rl->last = now.tv_sec;
			else
				rl->last += (time_t)(add * rl->interval);
		}
	}
	if (rl->tokens == 0) {
		rl->suppressed++;
		return;
	}
	rl->tokens--;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rl->suppressed > 0) {
		log_warnx("%s (%lu similar messages suppressed)", msg,
		    rl->suppressed);
		rl->suppressed = 0;
	} else
		log_warnx("%s", msg);
}
