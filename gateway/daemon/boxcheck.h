/*
 * boxcheck: a loaded configuration against the machine it is to run on.
 * config_load() is pure (unit tests and fuzzing run it anywhere); what a
 * file cannot say by itself -- the interface and its address, the users
 * and groups, the ports other programs hold, the helper programs, the
 * public suffixes an allowlist must not cover -- is checked here, by
 * `evgated --check-config` (and so by the unit's ExecStartPre) and before
 * a start.
 *
 * The machine is read once into a struct box (box_read); the checks are a
 * function of the configuration and that struct (config_check_box), so a
 * test builds the machine it means instead of depending on the one it
 * runs on.  Each finding names the key that causes it, at its place in
 * the file: "file:line:column: path: message", as load errors do.
 */
#ifndef EVG_BOXCHECK_H
#define EVG_BOXCHECK_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfg.h"

struct config;
struct psl;

/* An address configured on an interface. */
struct box_addr {
	char			 ifname[16];
	struct sockaddr_storage	 ss;		/* port 0 */
	unsigned		 prefix;
};

/* A socket some program listens on (TCP) or is bound to (UDP). */
struct box_listener {
	int			 tcp;		/* else UDP */
	struct sockaddr_storage	 ss;		/* address and port */
	char			 owner[64];	/* "nginx (pid 812)" or "" */
	int			 ours;		/* evgated or its dnsmasq */
};

struct box {
	char			**ifnames;	/* every interface */
	size_t			  nifnames;
	struct box_addr		 *addrs;
	size_t			  naddrs;
	struct box_listener	 *listeners;
	size_t			  nlisteners;
	/* NULL with psl_error set: the list could not be read. */
	struct psl		 *psl;
	char			  psl_error[256];
	/* The user evgated will run as (NULL: root, who may do all). */
	char			 *run_user;
	/* Users, groups and files; 1 yes, 0 no. */
	int	(*user_exists)(const char *);
	int	(*group_exists)(const char *);
	int	(*in_group)(const char *user, const char *group);
	/* 0, or an errno: why path cannot be run. */
	int	(*executable)(const char *path);
};

/*
 * Read this machine: interfaces and addresses (getifaddrs), listening
 * sockets and their programs (/proc/net and /proc/PID/fd: without root
 * the owners of other users' sockets are not known), the public suffix
 * list at psl_path, the user evgated will run as (daemon_user when run
 * as root, else the calling user), and the real lookups.  A dnsmasq run
 * with dnsmasq_conf (evgated's generated file; NULL: none) counts as
 * evgated's own: one left by an evgated killed with -9 is stopped by the
 * next start, so it must not fail the check that precedes that start.  0, or -1 with
 * err when the machine cannot be read at all.
 */
int	box_read(struct box *, const char *psl_path, const char *daemon_user,
	    const char *dnsmasq_conf, char *err, size_t errlen);
void	box_free(struct box *);

/* Check conf against box; findings go to diags.  0, or -1 on an error. */
int	config_check_box(const struct config *, const struct box *,
	    struct cfg_diags *);

/*
 * Parse one line of /proc/net/tcp, tcp6, udp or udp6 (v6: which).  Pure.
 * 1 with *out filled (and *inode) for a listening TCP socket or a bound
 * UDP one; 0 for any other line (the header, a connected socket); -1 for
 * a line that is not in that format.
 */
int	box_parse_proc_net(const char *line, size_t len, int tcp, int v6,
	    struct box_listener *out, unsigned long *inode);

#endif
