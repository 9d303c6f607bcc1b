/*
 * util: allocation wrappers that treat out-of-memory in one place (as tmux
 * does), and small parsers shared by the configuration and the CLI.
 */
#ifndef EVG_UTIL_H
#define EVG_UTIL_H

#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/clock.h"	/* now_*_ms, format_utc*: most users want them */

/* A socket address small enough to keep per connection (28 bytes). */
union sockaddr_any {
	struct sockaddr		sa;
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
};

/* These never return NULL: out of memory is fatal. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Parse a duration such as "250ms", "10s", "5m", "2h", "1d" (a bare number
 * is seconds) into milliseconds.  Returns 0, or -1 on a malformed value or
 * overflow.
 */
int	 parse_duration_ms(const char *, uint64_t *);
/* Format milliseconds back the way parse_duration_ms reads them. */
void	 format_duration_ms(uint64_t, char *, size_t);

/*
 * Parse "addr", "addr:port", "[v6]:port" or "v6" into a socket address,
 * with defport when no port is given.  Numeric only (no DNS).  Returns 0
 * or -1.
 */
int	 parse_sockaddr(const char *, uint16_t defport,
	    struct sockaddr_storage *, socklen_t *);
/* "1.2.3.4:443" / "[::1]:443" into buf; returns buf. */
const char *format_sockaddr(const struct sockaddr *, char *, size_t);
/* Address only, no port. */
const char *format_addr(const struct sockaddr *, char *, size_t);


/*
 * Bytes from outside, fit to show in a log line or an event: at most
 * max_in bytes of s (then "..."), printable ASCII as is, anything else
 * (and the backslash) as \xNN.  out holds at least 4 * max_in + 4 bytes
 * for the whole; shorter, it is cut.  Returns out.
 */
const char *str_escape(const void *s, size_t len, size_t max_in, char *out,
	    size_t outlen);

/*
 * mkdir -p: make path and its missing parents (parents mode 0755, path
 * itself mode); what it makes belongs to uid:gid unless uid is
 * (uid_t)-1.  An existing path must be a directory.  0, or -1 with err.
 */
int	 mkdir_p(const char *path, mode_t mode, uid_t uid, gid_t gid,
	    char *err, size_t errlen);

/*
 * chown (by path, or fd when fd >= 0) only when the owner or group is not
 * already uid/gid ((uid_t)-1 / (gid_t)-1: leave that one): under the
 * shipped systemd unit what evgated makes already has the right owner,
 * and the unit's system-call filter (~@privileged) refuses chown itself
 * with EPERM.  0 or -1 with errno.
 */
int	 chown_changed(const char *path, int fd, uid_t uid, gid_t gid);

/* Set O_NONBLOCK and FD_CLOEXEC; 0 or -1. */
int	 set_nonblock_cloexec(int);

#endif
