/*
 * config: evgated.yaml into one validated, immutable struct config.
 *
 * config_load() parses the whole file with libyaml, checks every key, type
 * and value, and either returns a complete configuration or NULL with one
 * message of the form "file:line:column: message".  Nothing is half
 * applied: the daemon swaps the whole struct on a successful reload and
 * keeps the old one otherwise.  A missing section switches its service off.
 *
 * The YAML helpers (cfg_*) are exported so that each module can parse its
 * own section with the same error reporting.
 */
#ifndef EVG_CONFIG_H
#define EVG_CONFIG_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#define CONFIG_DEFAULT_PATH	SYSCONFDIR "/evgate/evgated.yaml"
#define CONFIG_MAX_BYTES	(1024 * 1024)	/* refuse larger files */
#define CONFIG_MAX_NODES	20000		/* and deeper/larger trees */

struct cfg_sockaddr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			*text;		/* as written in the file */
};

struct cfg_route {
	uint16_t	 port;		/* where chargers connect */
	uint16_t	 upstream_port;	/* where we connect (default: port) */
	char		**allow;	/* exact names or "*.suffix" */
	size_t		 nallow;
};

struct cfg_relay {
	struct cfg_sockaddr	*listen;	/* addresses, port unused */
	size_t			 nlisten;
	struct cfg_route	*routes;
	size_t			 nroutes;
	unsigned		 per_client;	/* connections per client IP */
	unsigned		 total;		/* connections in all */
	uint64_t		 hello_ms;	/* whole hello must arrive */
	uint64_t		 connect_ms;	/* resolve + connect upstream */
	uint64_t		 idle_ms;	/* no byte either way */
	uint64_t		 drain_ms;	/* grace on SIGTERM */
	char			*proxy_host;	/* upstream HTTP CONNECT proxy */
	uint16_t		 proxy_port;
	uint16_t		 transparent_port;	/* 0: off */
};

struct cfg_control {
	char		*socket;
	char		*group;		/* owner group of the socket, or NULL */
	unsigned	 mode;		/* permission bits, default 0660 */
};

struct cfg_lan;		/* lan.h: lan, dhcp, dns, dnsmasq sections */
struct cfg_dhcp;
struct cfg_dns;
struct cfg_dnsmasq;

struct config {
	char			*path;
	char			*site_name;
	struct cfg_sockaddr	*resolvers;	/* wan.resolvers, in order */
	size_t			 nresolvers;
	uint64_t		 resolver_timeout_ms;
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

/* The route for a listening port, or NULL. */
const struct cfg_route *config_route(const struct cfg_relay *, uint16_t port);

/* --- helpers for section parsers ------------------------------------- */

struct cfg_ctx;
typedef int (*cfg_key_fn)(struct cfg_ctx *, yaml_node_t *, void *);

struct cfg_key {
	const char	*name;
	cfg_key_fn	 fn;
	int		 required;
};

/* Record "file:line:col: path: message" for node; returns -1. */
int	cfg_error(struct cfg_ctx *, yaml_node_t *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* Walk a mapping: unknown, duplicate and missing required keys are errors. */
int	cfg_map(struct cfg_ctx *, yaml_node_t *, const struct cfg_key *,
	    void *);
/* Call fn for each item of a sequence (a single scalar is not a list). */
int	cfg_seq(struct cfg_ctx *, yaml_node_t *,
	    int (*)(struct cfg_ctx *, yaml_node_t *, size_t, void *), void *);
/* Scalars.  Each checks the type and range and reports errors itself. */
int	cfg_str(struct cfg_ctx *, yaml_node_t *, char **);
int	cfg_uint(struct cfg_ctx *, yaml_node_t *, unsigned long min,
	    unsigned long max, unsigned long *);
int	cfg_bool(struct cfg_ctx *, yaml_node_t *, int *);
int	cfg_duration(struct cfg_ctx *, yaml_node_t *, uint64_t min_ms,
	    uint64_t max_ms, uint64_t *);
int	cfg_addr(struct cfg_ctx *, yaml_node_t *, uint16_t defport,
	    struct cfg_sockaddr *);
/* A list of strings (or one string) into a new array. */
int	cfg_strlist(struct cfg_ctx *, yaml_node_t *, char ***, size_t *);

/* Sections parsed by their modules (arg: the struct config). */
struct cfg_log;
int	fleetlog_cfg_section(struct cfg_ctx *, yaml_node_t *, void *);
void	fleetlog_cfg_free(struct cfg_log *);
struct cfg_ntp;						/* ntp.c */
int	ntp_cfg_section(struct cfg_ctx *, yaml_node_t *, void *);
int	ntp_cfg_check(struct cfg_ctx *, yaml_node_t *, struct config *);
void	ntp_cfg_free(struct cfg_ntp *);
struct cfg_metrics;
int	metrics_cfg_section(struct cfg_ctx *, yaml_node_t *, void *);
void	metrics_cfg_free(struct cfg_metrics *);
struct cfg_ship;
int	ship_cfg_section(struct cfg_ctx *, yaml_node_t *, void *);
void	ship_cfg_free(struct cfg_ship *);

#endif
