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

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
struct cfg_pair;	/* site/pair.h */

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
	struct cfg_index	*index;		/* where each key was */
	struct cfg_pair		*pair;		/* NULL: a single gateway */
	/*
	 * Never set in a loaded configuration: a role view of one
	 * (daemon/role.h) for the pair's backup, which serves nothing.
	 */
	int			 standby;
};

/*
 * Load and validate path.  Returns a new config, or NULL and every error
 * (and warning) in diags, each "file:line:column: path: message".  Pure
 * but for reading path (and files the ship section names): the running
 * machine is checked by config_check_box (daemon/boxcheck.h).  Never
 * exits.
 */
struct config	*config_load_diags(const char *path, struct cfg_diags *);
/* Same, from a buffer; name is used in messages.  For tests and fuzzing. */
struct config	*config_load_buffer_diags(const char *name,
		    const uint8_t *buf, size_t len, struct cfg_diags *);
/*
 * The same with only the first error in err (and how many more there
 * are); warnings are dropped.
 */
struct config	*config_load(const char *path, char *err, size_t errlen);
struct config	*config_load_buffer(const char *name, const uint8_t *buf,
		    size_t len, char *err, size_t errlen);
/* The first error of diags and the count of the others, into err. */
void		 config_first_error(const struct cfg_diags *, char *err,
		    size_t errlen);

/* A socket the configuration asks for, by component (for port checks). */
struct config_binding {
	const char		*who;		/* "the relay", "metrics", ... */
	char			 path[48];	/* the key that sets it */
	int			 tcp, udp;
	struct sockaddr_storage	 ss;		/* the address; port below */
	uint16_t		 port;
};
/* Every one of them, in a new array (free it). */
void		 config_bindings(const struct config *,
		    struct config_binding **, size_t *n);
/* Same address, ports aside? */
int		 config_same_addr(const struct sockaddr_storage *,
		    const struct sockaddr_storage *);
void		 config_free(struct config *);

/*
 * Write conf back as evgated.yaml, every default filled in
 * (config_dump.c; evgated --dump-config).  It loads to the same
 * configuration.
 */
void		 config_dump(const struct config *, FILE *);

/* What the site services read of conf (site/lan.h), pointing into it. */
struct site_conf;
void		 config_site(const struct config *, struct site_conf *);
/* What the pair link reads of conf (site/pair.h), pointing into it. */
struct pair_conf;
void		 config_pair(const struct config *, struct pair_conf *);

#endif
