/*
 * dnsmasq: the site's DHCP and DNS server, run and watched by evgated the
 * way libvirt and OpenWrt do it.
 *
 * evgated writes dnsmasq's whole configuration (dnsmasq.conf, mode 0600,
 * read as root before dnsmasq drops to its user) and the reservations
 * (dhcp-hosts, readable by dnsmasq's user: it re-reads them on SIGHUP
 * after dropping privileges), each by temp file + rename.  dnsmasq runs
 * as evgated's child in the foreground (-k), logging to stderr, which is
 * a pipe into evgated's loop: every line is logged again here, and the
 * few that matter are parsed (a refused MAC, a port already in use).
 * SIGCHLD comes through a libevent signal event.  If dnsmasq dies it is
 * started again after a back-off (1 s, doubling up to 60 s; back to 1 s
 * after a minute of running).  On reload, a change to the reservations
 * only is a SIGHUP; any other change a restart.
 *
 * Generation is pure (dnsmasq_conf_text, dnsmasq_hosts_text) and so is
 * the log-line parser; both have unit tests.
 */
#ifndef EVG_DNSMASQ_H
#define EVG_DNSMASQ_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct site_conf;
struct dnsmasq;

#define DNSMASQ_BACKOFF_MIN_S	1
#define DNSMASQ_BACKOFF_MAX_S	60
#define DNSMASQ_STABLE_MS	60000	/* running this long resets back-off */
#define DNSMASQ_LOCAL_TTL	60	/* TTL of steered answers, seconds */

/* Where things are and who dnsmasq runs as; filled in by the caller. */
struct dnsmasq_run {
	const char	*binary;	/* dnsmasq.binary */
	const char	*conf_path;	/* run_dir/dnsmasq.conf */
	const char	*hosts_path;	/* run_dir/dhcp-hosts */
	const char	*pid_path;	/* run_dir/dnsmasq.pid (ours) */
	const char	*hook;		/* dnsmasq.hook */
	const char	*lease_socket;	/* given to the hook in its env */
	const char	*user;		/* dnsmasq.user */
	const char	*group;		/* that user's primary group */
	uid_t		 uid;
	gid_t		 gid;
	/*
	 * evgated is not root (systemd's User=, or after privdrop): dnsmasq
	 * runs as evgated's own user and must not be asked to switch the
	 * lease hook's user, which it cannot do without CAP_SETUID.
	 */
	int		 as_self;
};

/*
 * dnsmasq's configuration for conf (conf->lan must be set), as a new
 * string.  Pure: the same input gives the same bytes, so a reload can
 * tell "changed" from "unchanged" by comparing.
 */
char	*dnsmasq_conf_text(const struct site_conf *, const struct dnsmasq_run *);
/* The dhcp-hostsfile: one "MAC[,address]" line per reservation. */
char	*dnsmasq_hosts_text(const struct site_conf *);

/* One line of dnsmasq's log, classified. */
enum dnsmasq_log_kind {
	DNSMASQ_LOG_INFO = 0,	/* start-up and other notes */
	DNSMASQ_LOG_DHCP,	/* a DHCP transaction (chatty: debug) */
	DNSMASQ_LOG_IGNORED,	/* a DHCP request refused: unknown MAC */
	DNSMASQ_LOG_ERROR,	/* failed, cannot, unknown interface, ... */
	DNSMASQ_LOG_SCRIPT,	/* output of the lease hook */
};

struct dnsmasq_log {
	enum dnsmasq_log_kind kind;
	const char	*msg;		/* points into the line */
	size_t		 msglen;
	uint8_t		 mac[6];	/* IGNORED */
	char		 interface[16];	/* IGNORED */
	int		 in_use;	/* ERROR: "Address already in use" */
};

/* Classify a line (without newline).  Pure, bounded. */
enum dnsmasq_log_kind dnsmasq_parse_log(const char *line, size_t len,
		    struct dnsmasq_log *out);

/* The wait before the next start: prev doubled (or the minimum after a
 * stable run of ran_ms), capped. */
unsigned	 dnsmasq_next_backoff(unsigned prev_s, uint64_t ran_ms);

/* Called for each DHCP request dnsmasq refused (rate-limit it yourself). */
typedef void (*dnsmasq_refusal_fn)(const uint8_t mac[6], const char *ifname,
	    void *arg);

struct dnsmasq	*dnsmasq_new(struct event_base *);
void		 dnsmasq_set_refusal_cb(struct dnsmasq *, dnsmasq_refusal_fn,
		    void *);
/*
 * Make dnsmasq run as conf says (conf->lan NULL: stop it).  Writes the
 * files; starts, restarts or SIGHUPs dnsmasq as the change requires.
 * Never fails: problems are logged, shown in the status and retried with
 * back-off.  run's strings are copied.
 */
void		 dnsmasq_configure(struct dnsmasq *, const struct site_conf *,
		    const struct dnsmasq_run *);
/*
 * The pair's backup: stop dnsmasq (SIGTERM, not waiting) and start
 * nothing until the next dnsmasq_configure, which starts it at once.
 */
void		 dnsmasq_standby(struct dnsmasq *);
/* Stop dnsmasq and wait for it (at most a few seconds). */
void		 dnsmasq_stop(struct dnsmasq *);
void		 dnsmasq_free(struct dnsmasq *);

struct dnsmasq_status {
	const char	*state;		/* off, running, stopping, waiting */
	int		 enabled;	/* configured to run */
	int		 running;
	pid_t		 pid;
	unsigned long	 starts;
	unsigned long	 restarts;	/* starts after an unexpected exit */
	unsigned long	 hups;		/* reservations re-read */
	unsigned long	 ignored;	/* DHCP requests refused */
	uint64_t	 up_since_wall_ms;	/* 0 when not running */
	unsigned	 backoff_s;	/* wait before the next start */
	char		 last_exit[96];	/* "exit 2", "signal 9", "" */
	char		 last_error[512];
};
void		 dnsmasq_status(const struct dnsmasq *, struct dnsmasq_status *);

#endif
