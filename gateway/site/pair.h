/*
 * pair: the link between the two evgated boxes of a redundant pair, as a
 * module of evgated (doc/operator-guide.md, "Running a pair").
 *
 * keepalived (VRRP) decides which box is master; evgated follows through
 * its role (daemon/role.c).  This module keeps the two lease tables one:
 * each box opens one TLS connection to its peer (TLS 1.3, both sides
 * present a certificate, and each accepts exactly the one certificate
 * configured for the other: pinned, no CA), sends its hello and a
 * snapshot of its leases, then every lease change its own dnsmasq makes,
 * each with a sequence number.  The peer merges each one into its table
 * (the later expiry wins: leases.c's leases_merge), acknowledges, and
 * never passes a merged lease on, so nothing echoes between the boxes.
 * The lag is what was sent or changed and not yet acknowledged, and how
 * old the oldest of it is.  The hello carries digests of the settings the
 * two boxes must share (the virtual address, DHCP range and lease time,
 * reservations, DNS names, relay routes); the status says whether they
 * agree, and which part does not.
 *
 * The messages are pair_proto.h's: one JSON line each, parsed by a pure,
 * bounded, fuzzed parser.  A connection that sends anything else, or
 * nothing for PAIR_DEAD_MS, is closed; the box that opened it opens it
 * again (1 s, doubling to PAIR_RETRY_MAX_MS; back to 1 s only after a
 * link that lasted PAIR_STABLE_MS).
 *
 * The pair section is parsed and checked here too (evgated.yaml(5)).
 */
#ifndef EVG_PAIR_H
#define EVG_PAIR_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfg.h"
#include "site/pair_proto.h"

struct cfg_lan;
struct cfg_dhcp;
struct cfg_dns;
struct cfg_relay;
struct event_base;
struct json_object;
struct site;
struct lease_change;
struct pair;

#define PAIR_DEFAULT_PORT	7411
#define PAIR_PING_MS		2000	/* a ping when nothing else is sent */
#define PAIR_DEAD_MS		6000	/* silence that closes a connection */
#define PAIR_HANDSHAKE_MS	10000
#define PAIR_RETRY_MIN_MS	1000
#define PAIR_RETRY_MAX_MS	10000
#define PAIR_STABLE_MS		30000	/* a link up this long resets the
					 * back-off */
#define PAIR_MAX_PENDING	4	/* connections still in their handshake */
#define PAIR_OUTBOX_MAX		200000	/* sent, not acknowledged */

/* The pair section of evgated.yaml; NULL in struct config: no pair. */
struct cfg_pair {
	char		*name;		/* this box, in events and the peer's */
	struct in_addr	 address;	/* this box's own address on lan */
	struct cfg_mark	 address_mark;
	struct cfg_sockaddr listen;	/* where the peer connects */
	struct cfg_mark	 listen_mark;
	struct cfg_sockaddr peer;	/* where we connect */
	struct cfg_mark	 peer_mark;
	char		*cert_file;	/* ours (PEM) */
	char		*key_file;
	char		*peer_cert_file;	/* exactly what the peer shows */
};

/* The section parser (arg: a struct cfg_pair ** for a new struct). */
int	pair_cfg_section(struct cfg_ctx *, struct cfg_node *, void *);
/*
 * The rules against other sections: a lan section (its address is the
 * virtual address), pair.address inside its subnet and clear of the
 * virtual address, the DHCP range and every reservation; the peer not
 * the virtual address nor our own listen address.
 */
int	pair_cfg_check(struct cfg_ctx *, struct cfg_node *root,
	    const struct cfg_pair *, const struct cfg_lan *,
	    const struct cfg_dhcp *);
void	pair_cfg_free(struct cfg_pair *);

/*
 * What the pair module reads of the configuration (the daemon fills it,
 * as config_site() does for the site): its own section and the ones
 * whose digests it compares.  Pointers stay valid while that
 * configuration is in force.
 */
struct pair_conf {
	const struct cfg_pair	*pair;		/* NULL: no pair */
	const struct cfg_lan	*lan;
	const struct cfg_dhcp	*dhcp;
	const struct cfg_dns	*dns;
	const struct cfg_relay	*relay;
};

/* The digests of c's shared settings (lower-case hex) into d. */
void	pair_digests(const struct pair_conf *c,
	    char d[PAIR_DIGEST_NPARTS][PAIR_DIGEST_HEX + 1]);

/* A pair link that merges the peer's leases into site's table. */
struct pair	*pair_new(struct event_base *, struct site *site);
/*
 * The module lifecycle (daemon/module.h).  prepare loads the
 * certificates and key (TLS contexts) and binds the listen address
 * (IP_FREEBIND) when it is new; 0, or -1 with err and nothing changed.
 * commit switches: with the same addresses and certificates the
 * connections stay (a new hello tells the peer the new digests), else
 * they are closed and opened again; c->pair NULL closes everything.
 * abort drops what prepare made.
 */
int		 pair_prepare(struct pair *, const struct pair_conf *c,
		    char *err, size_t errlen);
void		 pair_commit(struct pair *);
void		 pair_abort(struct pair *);
void		 pair_free(struct pair *);

/*
 * This box's role (the daemon's, daemon/role.c), when it took it and
 * when it last took over as master (epoch ms; 0: never): told to the
 * peer and shown in the status.
 */
void		 pair_set_role(struct pair *, enum pair_role, uint64_t since_ms,
		    uint64_t failover_ms);
/* A lease changed by our own dnsmasq (site's lease callback). */
void		 pair_lease_changed(const struct lease_change *, void *pair);

/* What the daemon's health and status read. */
struct pair_peer_info {
	int		 enabled;	/* a pair section */
	int		 out_up;	/* our connection to the peer */
	int		 in_up;		/* the peer's connection to us */
	char		 box[PAIR_NAME_MAX + 1];	/* "": no hello yet */
	enum pair_role	 role;		/* PAIR_ROLE_SINGLE: not known */
	uint64_t	 failover_ms;	/* the peer's last takeover */
	int		 agree;		/* -1 unknown, 0 differ, 1 agree */
	size_t		 lag_changes;
	uint64_t	 lag_oldest_ms;	/* age of the oldest; 0: none */
};
void		 pair_peer_info(const struct pair *, struct pair_peer_info *);

/* The "pair" status section (a new object). */
struct json_object *pair_status(void *pair);

#endif
