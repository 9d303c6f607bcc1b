/*
 * site: the site services on the chargers' LAN, as a module of evgated.
 *
 * It owns the dnsmasq supervisor (dnsmasq.c) and the lease table
 * (leases.c), listens on the lease socket that dnsmasq's hook
 * (evgate-dhcp-hook) talks to, names relayed connections after their
 * charger's lease, counts what the relay carried per charger, answers
 * "evgatectl chargers", and has the "dnsmasq" and "dhcp" sections of the
 * status.  The daemon wires these into the control socket and the relay.
 *
 * The lease socket is a second control socket, not the operator's: it
 * answers only "lease-event" and "lease-init", belongs to dnsmasq's user
 * (mode 0600), and checks the peer's uid (that user, or root: dnsmasq
 * runs the hook's "init" before it drops privileges).
 */
#ifndef EVG_SITE_H
#define EVG_SITE_H

#include <stddef.h>

#include "common/util.h"

struct site_conf;
struct control_peer;
struct lease_change;
struct lease_peer;
struct leases;
struct event_base;
struct json_object;
struct relay;
struct relay_record;
struct site;

/*
 * A site with no service yet; relay: whose live connections it counts
 * (NULL: none, as in evgated without a relay or in a test).
 */
struct site	*site_new(struct event_base *, struct relay *relay);
/*
 * The module lifecycle (daemon/module.h).  prepare checks what can fail
 * about conf -- dnsmasq's user exists, binary and hook are executable,
 * the state and run directories can be made -- and binds the lease
 * socket for a new run directory beside the old one; 0, or -1 with err
 * and nothing changed.  commit applies conf (copied; what it points to
 * must stay valid until the next commit): it starts, restarts, SIGHUPs or stops dnsmasq as
 * needed, and the lease table takes the new reservations.  Leases in
 * force are kept; a dnsmasq restart in progress (back-off) goes on with
 * the new configuration.  abort undoes prepare.
 */
int		 site_prepare(struct site *, const struct site_conf *,
		    char *err, size_t errlen);
void		 site_commit(struct site *);
void		 site_abort(struct site *);
/* Stop dnsmasq, write the leases, close the lease socket. */
void		 site_free(struct site *);

/*
 * Every lease change our own dnsmasq reports (after it was applied and
 * changed the table) also goes to fn: the pair's link to its peer.
 */
typedef void (*site_lease_fn)(const struct lease_change *, void *arg);
void		 site_set_lease_cb(struct site *, site_lease_fn, void *arg);
/*
 * A lease of the pair's peer, merged into the table (leases_merge: the
 * later expiry wins); not written to disk yet (site_leases_save once per
 * batch), not reported as an event (the peer's fleet log has it), and
 * not told to a running dnsmasq (it gets the table at its next start).
 */
int		 site_lease_merge(struct site *, const struct lease_peer *,
		    const char **why);
/* Write the lease table now (after merges); check the pool. */
void		 site_leases_save(struct site *);
/* The table, to read (the pair's snapshot). */
const struct leases *site_leases(const struct site *);

/* Add the "dnsmasq" and "dhcp" status sections to into. */
void		 site_status(void *site, struct json_object *into);
/* The "chargers" control command (a control_fn; arg: the site). */
struct json_object *site_cmd_chargers(struct json_object *req,
		    const struct control_peer *, void *site, char *err,
		    size_t errlen);
/* For the relay: a client's charger id or MAC (a relay_namer_fn) ... */
const char	*site_relay_namer(const union sockaddr_any *, void *site);
/* ... and each finished connection counted for its charger. */
void		 site_relay_record(const struct relay_record *, void *site);

#endif
