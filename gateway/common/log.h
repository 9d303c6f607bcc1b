/*
 * log: one way to report, used the same everywhere (after OpenNTPD's log.c).
 *
 * fatal/fatalx exit; they belong to start-up only.  log_warn appends
 * strerror(errno).  Output goes to stderr or to syslog(3); messages above
 * the chosen level are dropped before formatting.  Not thread-safe: evgated
 * is one thread per process.
 */
#ifndef EVG_LOG_H
#define EVG_LOG_H

#include <stdarg.h>
#include <time.h>

enum log_level {
	LOG_LEVEL_ERR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Start logging as ident to stderr (to_stderr != 0) or syslog. */
void	log_init(const char *ident, int to_stderr, enum log_level level);
void	log_setlevel(enum log_level level);
enum log_level log_getlevel(void);
/* Parse "error", "warn", "info", "debug"; -1 when unknown. */
int	log_level_parse(const char *name);

void	fatal(const char *, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));
void	fatalx(const char *, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * A token bucket for messages that an outsider can trigger at will (a
 * refused connection, a malformed packet): at most burst messages, then
 * one per interval; what was suppressed is counted and reported with the
 * next message that gets through.
 */
struct log_ratelimit {
	time_t		 last;
	unsigned	 tokens;
	unsigned	 burst;
	unsigned	 interval;	/* seconds per new token */
	unsigned long	 suppressed;
};
#define LOG_RATELIMIT_INIT(burst, interval) { 0, (burst), (burst), (interval), 0 }

void	log_warnx_rl(struct log_ratelimit *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
