/*
 * ntp: trusted time for the chargers, the module evgated wires in.
 *
 * A charger with a wrong clock cannot authenticate to its cloud, and its
 * NTP host name is fixed, so the site DNS steers it here.  This module
 * ties together the upstream client (ntp_client.h: polls, filters and
 * selects servers), the offset tracking (ntp_select.h) and the server
 * (ntp_server.h), and owns the time state:
 *
 *   INIT     never synchronised since start: serve LI=3, stratum 0
 *   SYNCED   a majority of upstream servers agrees and answers
 *   HOLDOVER upstream lost or disagreeing, but the last good sample is
 *            younger than ntp.holdover: still serve as synchronised
 *   UNSYNC   holdover expired: serve LI=3, stratum 0 again
 *
 * Offsets are kept against a steady clock: the system clock minus C(t),
 * the sum of every known movement of the system clock since start (our
 * own slews, steps and frequency changes with set_clock, and steps by
 * anyone, noticed at once through a timerfd with TFD_TIMER_CANCEL_ON_SET).
 * Against that clock the offset is a straight line (the oscillator's
 * frequency error), tracked with a frequency estimate between polls; the
 * offset served is "true time - system clock" = prediction - C(now).
 * The system clock is left alone unless ntp.set_clock is true: then it is
 * slewed, or stepped beyond 0.128 s, and its frequency corrected by the
 * estimate (needs CAP_SYS_TIME).
 *
 * Every state change is logged and emitted as an EVENT_TIME event.
 */
#ifndef EVG_NTP_H
#define EVG_NTP_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfg.h"

struct event_base;
struct resolver;
struct control_peer;
struct json_object;
struct ntp;

/* One entry of ntp.servers. */
struct cfg_ntp_server {
	char			*text;		/* as written */
	char			*name;		/* a host name, or NULL */
	uint16_t		 port;
	struct sockaddr_storage	 ss;		/* an address (name NULL) */
	socklen_t		 sslen;
};

/* The ntp section of evgated.yaml; see evgated.yaml(5). */
struct cfg_ntp {
	struct cfg_ntp_server	*servers;
	size_t			 nservers;
	int			 serve;
	struct cfg_sockaddr	*listen;	/* port 0 = 123 */
	size_t			 nlisten;
	int			 set_clock;
	uint64_t		 holdover_ms;
	uint64_t		 poll_min_ms;
	uint64_t		 poll_max_ms;
	int			 rl_enabled;
	unsigned		 rl_burst;
	uint64_t		 rl_interval_ms;
	unsigned		 rl_clients;
};

/*
 * The section parser (arg: a struct cfg_ntp ** for a new struct); the
 * rules against other sections: host names need wan.resolvers (nresolvers
 * of them), and the default listen address is lan_addr (NULL: no lan).
 */
int	ntp_cfg_section(struct cfg_ctx *, struct cfg_node *, void *);
int	ntp_cfg_check(struct cfg_ctx *, struct cfg_node *root, struct cfg_ntp *,
	    size_t nresolvers, const struct in_addr *lan_addr);
void	ntp_cfg_free(struct cfg_ntp *);

#define NTP_DEFAULT_HOLDOVER_MS	3600000ULL
#define NTP_DEFAULT_POLL_MIN_MS	64000ULL
#define NTP_DEFAULT_POLL_MAX_MS	1024000ULL
#define NTP_DEFAULT_RL_BURST	16
#define NTP_DEFAULT_RL_INTERVAL_MS 2000ULL
#define NTP_DEFAULT_RL_CLIENTS	4096

enum ntp_state {
	NTP_STATE_OFF = 0,	/* no ntp section */
	NTP_STATE_INIT,
	NTP_STATE_SYNCED,
	NTP_STATE_HOLDOVER,
	NTP_STATE_UNSYNC,
	NTP_STATE_N
};
const char	*ntp_state_str(enum ntp_state);

struct ntp	*ntp_new(struct event_base *, struct resolver *);
/*
 * The module lifecycle (daemon/module.h).  prepare does all that can fail
 * for c (NULL: switch the time service off): checks CAP_SYS_TIME for
 * set_clock, opens new server sockets beside the old ones; 0, or -1 with
 * err and nothing changed.  commit switches over and cannot fail: the
 * upstream servers that stay keep their samples and state, the time state
 * is carried over (a synchronised gateway stays synchronised), requests
 * on sockets that go are simply not answered.  abort drops what prepare
 * made.  c must stay valid until the next commit.
 */
int		 ntp_prepare(struct ntp *, const struct cfg_ntp *, char *err,
		    size_t errlen);
void		 ntp_commit(struct ntp *);
void		 ntp_abort(struct ntp *);
void		 ntp_free(struct ntp *);

/* The "ntp" section of evgated's status (evgated_status_fn). */
struct json_object *ntp_status(void *ntp);
/* The "time" control command (control_fn): everything evgatectl shows. */
struct json_object *ntp_cmd_time(struct json_object *req,
		    const struct control_peer *, void *ntp, char *err,
		    size_t errlen);

/*
 * What set_clock does (pure, for the tests): with offset = true - system
 * clock now and the oscillator's estimated frequency error freq (s/s),
 * step when |offset| > 0.128 s, else slew; and run the clock faster by
 * freq (within +-500 ppm), so it needs no slewing between polls.
 */
struct ntp_discipline {
	int		 step;		/* 1: step by amount; 0: slew it */
	double		 amount;	/* s */
	double		 freq_ppm;	/* our share of the kernel frequency */
};
void		 ntp_discipline_plan(double offset, double freq,
		    struct ntp_discipline *);

#endif
