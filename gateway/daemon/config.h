/*
 * config: evgated.yaml into one validated, immutable struct config.
 *
 * This file keeps the root: the table of sections, the rules that span
 * sections, load and free.  Each section is parsed and checked by its own
 * module (relay_conf.c, resolver.c, control.c, lan.c, ntp.c, fleetlog.c,
 * metrics.c, ship.c) with the cfg framework (common/cfg.h), so every
 * error names file:line:column.  config_load() either returns a complete
 * configuration or NULL and one message; the daemon offers the whole
 * struct to every module on a reload and keeps the old one when any
 * module refuses (daemon/module.h).  A missing section switches its
 * service off.
 *
 * Modules are given their own sections, not this struct: only the daemon,
 * the site services (whose dnsmasq configuration spans five sections) and
 * the CLI read the root.
 */
#ifndef EVG_CONFIG_H
#define EVG_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/cfg.h"
#include "common/control.h"
#include "relay/resolver.h"

#define CONFIG_DEFAULT_PATH	SYSCONFDIR "/evgate/evgated.yaml"
#define CONFIG_MAX_BYTES	CFG_MAX_BYTES

struct cfg_relay;	/* relay/relay_conf.h */
struct cfg_lan;		/* site/lan.h: lan, dhcp, dns, dnsmasq sections */
struct cfg_dhcp;
struct cfg_dns;
struct cfg_dnsmasq;
struct cfg_log;		/* fleetlog/fleetlog.h */
struct cfg_ntp;		/* time/ntp.h */
struct cfg_metrics;	/* fleetlog/metrics.h */
struct cfg_ship;	/* fleetlog/ship.h */

/* The daemon section: the daemon's own settings. */
struct cfg_daemon {
	char	*user;		/* drop to this user when started as root */
};

struct config {
	char			*path;
	char			*site_name;
	struct cfg_wan		 wan;		/* nresolvers 0: none */
	struct cfg_relay	*relay;		/* NULL: no relay */
	struct cfg_control	 control;
	struct cfg_lan		*lan;		/* NULL: no DHCP/DNS service */
	struct cfg_dhcp		*dhcp;		/* NULL: no DHCP */
	struct cfg_dns		*dns;		/* NULL: no DNS */
	struct cfg_dnsmasq	*dnsmasq;	/* set (defaults) when lan is */
	struct cfg_log		*log;		/* NULL: no fleet log */
	struct cfg_ntp		*ntp;		/* NULL: no time service */
	struct cfg_metrics	*metrics;	/* NULL: no metrics endpoint */
	struct cfg_ship		*ship;		/* NULL: no shipping */
	struct cfg_daemon	*daemon;	/* NULL: no privilege drop */
};

/*
 * Load and validate path.  Returns a new config, or NULL and a message in
 * err ("file:line:column: ...").  Never exits.
 */
struct config	*config_load(const char *path, char *err, size_t errlen);
/* Same, from a buffer; name is used in messages.  For tests and fuzzing. */
struct config	*config_load_buffer(const char *name, const uint8_t *buf,
		    size_t len, char *err, size_t errlen);
void		 config_free(struct config *);

/* What the site services read of conf (site/lan.h), pointing into it. */
struct site_conf;
void		 config_site(const struct config *, struct site_conf *);

#endif
