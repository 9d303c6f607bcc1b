/*
 * site: the site services on the chargers' LAN, wired into evgated.
 *
 * It owns the dnsmasq supervisor (dnsmasq.c) and the lease table
 * (leases.c), listens on the lease socket that dnsmasq's hook
 * (evgate-dhcp-hook) talks to, names relayed connections after their
 * charger's lease, counts what the relay carried per charger, answers
 * "evgatectl chargers", and adds the "dnsmasq" and "dhcp" sections to
 * the status.
 *
 * The lease socket is a second control socket, not the operator's: it
 * answers only "lease-event" and "lease-init", belongs to dnsmasq's user
 * (mode 0600), and checks the peer's uid (that user, or root: dnsmasq
 * runs the hook's "init" before it drops privileges).
 */
#ifndef EVG_SITE_H
#define EVG_SITE_H

#include <stddef.h>

struct config;
struct evgated;
struct site;

/* Register commands, status sections and relay hooks with d. */
struct site	*site_new(struct evgated *d);
/*
 * What can fail about conf, checked before anything of a reload is
 * applied: dnsmasq's user exists, binary and hook are executable, the
 * state and run directories can be made.  0, or -1 and err.
 */
int		 site_prepare(struct site *, const struct config *,
		    char *err, size_t errlen);
/*
 * Apply conf (site_prepare accepted it); it must stay valid until the
 * next call.  Starts, restarts, SIGHUPs or stops dnsmasq as needed.
 */
void		 site_configure(struct site *, const struct config *);
/* Stop dnsmasq, write the leases, close the lease socket. */
void		 site_free(struct site *);

#endif
