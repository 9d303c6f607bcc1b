/*
 * privdrop: leave root for an unprivileged user at start-up, keeping only
 * the capabilities the daemon and its dnsmasq child need -- the same state
 * systemd's User= and AmbientCapabilities= give evgated.service, so that
 * both ways of starting run the same code afterwards.
 *
 * Kept: CAP_NET_BIND_SERVICE (ports 53, 67, 123, 443, 8883, also on a
 * reload), CAP_NET_ADMIN and CAP_NET_RAW (dnsmasq's DHCP), all three
 * ambient so that a restarted dnsmasq gets them; CAP_SYS_TIME only with
 * ntp.set_clock, and not ambient.  Everything else leaves the bounding
 * set, and no_new_privs is set.
 *
 * Configured by the "daemon" section (daemon.user, parsed in config.c) or
 * evgated -u.
 */
#ifndef EVG_PRIVDROP_H
#define EVG_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

struct config;

/*
 * The directories the daemon writes to (control socket, dnsmasq state and
 * run directories, fleet log): create what is missing, owned by uid:gid;
 * existing ones are left alone but must be writable by uid (checked after
 * the drop by the modules themselves).  0 or -1 with err.
 */
int	privdrop_prepare_dirs(const struct config *, uid_t, gid_t,
	    char *err, size_t errlen);

/*
 * When running as root and user is not NULL: become user, keeping the
 * capabilities above.  Returns 0 (also when there was nothing to do), or
 * -1 with err.  Start-up only.
 */
int	privdrop(const struct config *, const char *user, char *err,
	    size_t errlen);

/* "cap_net_bind_service,cap_net_admin" etc. for status; "" when none. */
const char *privdrop_caps_text(char *buf, size_t len);

#endif
