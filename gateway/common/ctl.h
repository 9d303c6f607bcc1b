/*
 * ctl: the pieces of evgatectl shared by its commands: talking to the
 * control socket, aligned tables, human-readable numbers.  Each command
 * lives in a ctl_<concern>.c file and is listed in evgatectl.c.
 */
#ifndef EVG_CTL_H
#define EVG_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_object;

struct ctl_opts {
	const char	*socket;
	int		 json;		/* --json: print the reply as JSON */
	const char	*config;	/* -c FILE, or NULL */
};

/*
 * Send req, wait for the one-line reply (timeout 30 s).  Returns 0 with
 * *reply set (its "ok" was true), or -1 with err set: not running, not
 * permitted, or the daemon's own error text.
 */
int	 ctl_request(const struct ctl_opts *, struct json_object *req,
	    struct json_object **reply, char *err, size_t errlen);
/* The same with another limit for the reply (keepalived's checks). */
int	 ctl_request_timeout(const struct ctl_opts *, struct json_object *req,
	    int timeout_ms, struct json_object **reply, char *err,
	    size_t errlen);
/* ctl_request for {"cmd": cmd}; prints errors to stderr.  0 or -1. */
int	 ctl_simple(const struct ctl_opts *, const char *cmd,
	    struct json_object **reply);
/* Print an object as indented JSON followed by a newline. */
void	 ctl_print_json(struct json_object *);

/* Lookups that tolerate missing members. */
int64_t	 ctl_int(struct json_object *, const char *key);
const char *ctl_str(struct json_object *, const char *key);
struct json_object *ctl_obj(struct json_object *, const char *key);

/* "1.2 MB", "17 B". */
const char *ctl_bytes(uint64_t, char *, size_t);
/* "3d 04:05:06", "12.5s". */
const char *ctl_duration(double seconds, char *, size_t);

/* Aligned text tables: columns sized to their widest cell. */
struct ctl_table;
struct ctl_table *ctl_table_new(size_t ncols, const char *const *headers);
void	 ctl_table_row(struct ctl_table *, ...);	/* ncols strings */
void	 ctl_table_print(struct ctl_table *, FILE *);
void	 ctl_table_free(struct ctl_table *);

/* The commands (ctl_<concern>.c). */
int	 ctl_cmd_status(const struct ctl_opts *, int, char **);
int	 ctl_cmd_connections(const struct ctl_opts *, int, char **);
int	 ctl_cmd_reload(const struct ctl_opts *, int, char **);
int	 ctl_cmd_time(const struct ctl_opts *, int, char **);	/* ctl_time.c */
int	 ctl_cmd_chargers(const struct ctl_opts *, int, char **);
int	 ctl_cmd_charger(const struct ctl_opts *, int, char **);
/* The last 7 days of the log for one charger (ctl_log.c); 0 or -1. */
int	 ctl_charger_history(const struct ctl_opts *, const char *who,
	    int online_now);
/* The dnsmasq and dhcp lines of "status" (ctl_chargers.c). */
void	 ctl_site_status(struct json_object *status);
int	 ctl_cmd_export(const struct ctl_opts *, int, char **);	/* ctl_log.c */
int	 ctl_cmd_report(const struct ctl_opts *, int, char **);
/* status lines for the log, metrics and ship sections (ctl_log.c) */
void	 ctl_log_status(struct json_object *status);
/* A redundant pair (ctl_pair.c): the role, keepalived's health check,
 * the link to the peer, and the pair line of "status". */
int	 ctl_cmd_role(const struct ctl_opts *, int, char **);
int	 ctl_cmd_health(const struct ctl_opts *, int, char **);
int	 ctl_cmd_pair(const struct ctl_opts *, int, char **);
void	 ctl_pair_status(struct json_object *status);

#endif
