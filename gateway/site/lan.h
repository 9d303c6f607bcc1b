/*
 * lan: the configuration of the site services on the chargers' network,
 * i.e. the sections lan, dhcp, dns and dnsmasq of evgated.yaml.
 *
 * The parsers use the cfg framework (common/cfg.h), so every error names
 * file:line:column.  Rules that need more than one section (a reservation
 * inside lan.address's subnet, the range clear of the gateway's own
 * address, relay.listen including lan.address, ...) run in
 * lan_config_check() once the whole file is read.  The result is part of
 * the immutable struct config: dnsmasq.c turns it into dnsmasq's files,
 * leases.c takes the reservations from it.
 */
#ifndef EVG_LAN_H
#define EVG_LAN_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfg.h"

struct cfg_relay;
struct cfg_wan;
struct cfg_pair;

#define LAN_ID_MAX	63	/* charger id: [A-Za-z0-9][A-Za-z0-9._-]* */
#define LAN_MAX_CHARGERS 65536

/* lan: the interface facing the chargers and the gateway's address on it. */
struct cfg_lan {
	char		*interface;
	struct in_addr	 addr;		/* the gateway's own address */
	struct in_addr	 mask;
	unsigned	 prefix;	/* 8..30 */
	char		*text;		/* "10.42.0.1/24", as written */
	struct cfg_mark	 mark;		/* where lan.address is, for errors */
};

/* dhcp.chargers[]: a known charger and, optionally, its own address. */
struct cfg_charger {
	char		*id;
	uint8_t		 mac[6];
	struct in_addr	 addr;		/* INADDR_ANY: any from the range */
	struct cfg_mark	 addr_mark;
};

struct cfg_dhcp {
	struct in_addr	 range_lo, range_hi;	/* inclusive */
	struct cfg_mark	 range_mark;
	uint64_t	 lease_ms;
	int		 known_only;	/* only listed MACs get a lease */
	struct cfg_charger *chargers;
	size_t		 ncharger;
};

struct cfg_dns {
	unsigned	 cache_size;
	char		**steer;	/* answered with lan.address */
	size_t		 nsteer;
	char		**pass_through;	/* resolved through wan.resolvers */
	size_t		 npass;
};

/* How evgated runs dnsmasq (defaults suit Debian's dnsmasq-base). */
struct cfg_dnsmasq {
	char		*binary;	/* /usr/sbin/dnsmasq */
	char		*user;		/* dnsmasq; also runs the lease hook */
	char		*state_dir;	/* lease database */
	char		*run_dir;	/* generated files, lease socket */
	char		*hook;		/* the dhcp-script */
};

/*
 * What the site services read of the configuration: their own sections and
 * two of others.  The daemon fills it from struct config (config_site());
 * the pointers stay valid while that configuration is in force.
 */
struct site_conf {
	const char		 *path;		/* the file, for messages */
	const struct cfg_lan	 *lan;		/* NULL: no site services */
	const struct cfg_dhcp	 *dhcp;		/* NULL: no DHCP */
	const struct cfg_dns	 *dns;		/* NULL: no DNS */
	const struct cfg_dnsmasq *dnsmasq;	/* set when lan is */
	const struct cfg_relay	 *relay;	/* its names are steered */
	const struct cfg_wan	 *wan;		/* pass_through goes there */
	/*
	 * One box of a redundant pair (site/pair.h): lan->addr is the
	 * virtual address keepalived moves between the boxes, and dnsmasq
	 * answers from it whatever else the interface has.
	 */
	const struct cfg_pair	 *pair;
	/* The pair's backup: dnsmasq stopped, the lease table kept. */
	int			  standby;
};

/* Section parsers (arg: a struct cfg_lan **, cfg_dhcp **, ...: a new
 * struct each, freed with lan_config_free also on error). */
int	lan_section(struct cfg_ctx *, struct cfg_node *, void *);
int	lan_dhcp_section(struct cfg_ctx *, struct cfg_node *, void *);
int	lan_dns_section(struct cfg_ctx *, struct cfg_node *, void *);
int	lan_dnsmasq_section(struct cfg_ctx *, struct cfg_node *, void *);
/*
 * The rules that need more than one section, once the whole file is read;
 * fills in *dnsmasq's defaults (making it when the file has none) when
 * there is a lan section.
 */
int	lan_config_check(struct cfg_ctx *, struct cfg_node *root,
	    const struct cfg_lan *, const struct cfg_dhcp *,
	    const struct cfg_dns *, struct cfg_dnsmasq **dnsmasq,
	    const struct cfg_relay *, size_t nresolvers);
/* Free what the sections above allocated (each may be NULL). */
void	lan_config_free(struct cfg_lan *, struct cfg_dhcp *, struct cfg_dns *,
	    struct cfg_dnsmasq *);
/* Is addr inside lan's subnet (network and broadcast excluded)? */
int	lan_contains(const struct cfg_lan *, struct in_addr);
/* The reservation for a MAC, or NULL. */
const struct cfg_charger *lan_charger_by_mac(const struct cfg_dhcp *,
	    const uint8_t mac[6]);
/* Number of addresses dnsmasq may hand out: the range plus reservations
 * outside it. */
size_t	lan_pool_size(const struct cfg_dhcp *);

/*
 * Parse "aa:bb:cc:dd:ee:ff" (exactly, hex either case) into mac.  Pure;
 * s need not be NUL-terminated.  0 or -1.
 */
int	lan_parse_mac(const char *s, size_t len, uint8_t mac[6]);
/* "02:42:00:00:00:01" into buf (at least 18 bytes); returns buf. */
const char *lan_format_mac(const uint8_t mac[6], char *buf, size_t len);
/* A valid charger id?  NULL or the reason. */
const char *lan_check_id(const char *s, size_t len);

#endif
