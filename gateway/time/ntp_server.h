/*
 * ntp_server: the gateway's NTP server for the chargers (UDP 123 on the
 * LAN addresses).
 *
 * A client request (mode 3; an NTPv1 request has mode 0) gets a server
 * reply (mode 4) with the request's version, our stratum (upstream + 1),
 * precision, root delay and dispersion (growing at 15 ppm since the last
 * upstream update), the selected upstream as reference id, the last
 * update as reference time, the request's transmit time as origin, the
 * kernel's receive timestamp (SO_TIMESTAMPNS) as receive time and the
 * clock read just before sendmsg() as transmit time, both corrected by
 * the offset the upstream client tracks.  While not synchronised the
 * reply says so: leap indicator 3, stratum 0, reference id "INIT",
 * reference time 0, root dispersion 16 s.
 *
 * Everything else is dropped and counted by reason.  A token bucket per
 * source address (in a bounded table) drops floods; a client over its
 * limit gets at most one "RATE" kiss-o'-death per burst period.
 *
 * The pure parts (checking a request, building a reply, the rate
 * limiter) are exported for the tests and the fuzzer.  One thread: the
 * daemon's event loop.
 */
#ifndef EVG_NTP_SERVER_H
#define EVG_NTP_SERVER_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "time/ntp_proto.h"

struct event_base;
struct cfg_sockaddr;
struct ntp_server;

enum ntp_drop {
	NTP_DROP_SHORT = 0,	/* fewer than 48 bytes */
	NTP_DROP_LENGTH,	/* bad extension/MAC layout, or too long */
	NTP_DROP_VERSION,	/* version 0 or above 4 */
	NTP_DROP_MODE,		/* not a client request (peer, control, ...) */
	NTP_DROP_AUTH,		/* carries a MAC: we hold no keys */
	NTP_DROP_RATE,		/* over the client's rate limit */
	NTP_DROP_SEND,		/* sendmsg failed */
	NTP_DROP_NREASONS
};
const char	*ntp_drop_str(enum ntp_drop);

/* What the server states about time; filled by the module per batch. */
struct ntp_sysinfo {
	int		 synced;	/* 0: LI=3, stratum 0, "INIT" */
	uint8_t		 leap;		/* 0..2, from upstream */
	uint8_t		 stratum;	/* ours: upstream + 1 */
	int8_t		 precision;	/* log2 s, of our clock reading */
	uint32_t	 refid;
	uint64_t	 ref;		/* last update, true time, wire form */
	double		 root_delay;	/* s, to the primary source */
	double		 root_disp;	/* s, at ref */
};

/* The server asks for the state and the offset to add to the system
 * clock (true - system, seconds) once per batch of requests. */
typedef void	(*ntp_server_sys_fn)(void *arg, struct ntp_sysinfo *,
		    double *offset);

/*
 * Judge one datagram from src_port: NTP_DROP_NREASONS when it is a
 * request to answer (req filled), else the reason to drop it.
 */
enum ntp_drop	 ntp_server_check(const uint8_t *buf, size_t len,
		    uint16_t src_port, struct ntp_packet *req);
/*
 * The reply to req received at rx (true time, wire form).  The transmit
 * timestamp is left 0: the caller sets it just before sending.
 */
void		 ntp_server_reply(const struct ntp_packet *req,
		    const struct ntp_sysinfo *, uint64_t rx,
		    struct ntp_packet *rep);
/* A kiss-o'-death (code such as NTP_KISS_RATE) answering req. */
void		 ntp_server_kod(const struct ntp_packet *req, uint32_t code,
		    struct ntp_packet *rep);

/* --- per-client rate limiting ---------------------------------------- */

enum ntp_rl {
	NTP_RL_PASS = 0,	/* answer */
	NTP_RL_DROP,		/* over the limit: drop */
	NTP_RL_KOD,		/* over the limit: drop, but send a RATE KoD */
};

struct ntp_ratelimit;
/*
 * A table of at most clients source addresses (rounded up to a power of
 * two, at least 8), each allowed burst requests at once and one more per
 * interval_ms (GCRA).  seed keys the table's hash.
 */
struct ntp_ratelimit *ntp_ratelimit_new(size_t clients, unsigned burst,
		    uint64_t interval_ms, uint64_t seed);
void		 ntp_ratelimit_free(struct ntp_ratelimit *);
/* Account one request from sa at now_ms (monotonic). */
enum ntp_rl	 ntp_ratelimit_check(struct ntp_ratelimit *,
		    const struct sockaddr *sa, uint64_t now_ms);
/* Addresses held, and how many live entries were pushed out. */
size_t		 ntp_ratelimit_size(const struct ntp_ratelimit *);
unsigned long	 ntp_ratelimit_evictions(const struct ntp_ratelimit *);

/* --- the server ------------------------------------------------------ */

struct ntp_server_limits {
	int		 enabled;
	unsigned	 burst;
	uint64_t	 interval_ms;
	unsigned	 clients;
};

struct ntp_server_counters {
	unsigned long	 requests;	/* datagrams received */
	unsigned long	 replies;	/* answered synchronised */
	unsigned long	 unsync_replies;	/* answered LI=3, stratum 0 */
	unsigned long	 kod_sent;
	unsigned long	 drops[NTP_DROP_NREASONS];
	unsigned long	 no_kernel_ts;	/* receive time read in user space */
	size_t		 listeners;
	size_t		 clients;	/* addresses in the rate table */
	unsigned long	 evictions;
};

struct ntp_server *ntp_server_new(struct event_base *, ntp_server_sys_fn,
		    void *arg);
/*
 * Listen on addrs (port 0 means 123) with limits.  Two phases so that a
 * reload changes nothing when anything fails: prepare opens what is new
 * (sockets already open for an address are kept), commit switches over
 * and closes what is no longer listed, abort forgets the prepared set.
 * n == 0 stops serving.  prepare returns 0, or -1 with err set.
 */
int		 ntp_server_prepare(struct ntp_server *,
		    const struct cfg_sockaddr *addrs, size_t n,
		    const struct ntp_server_limits *, char *err, size_t errlen);
void		 ntp_server_commit(struct ntp_server *);
void		 ntp_server_abort(struct ntp_server *);
void		 ntp_server_free(struct ntp_server *);
void		 ntp_server_counters(const struct ntp_server *,
		    struct ntp_server_counters *);
/* "10.42.0.1:123" of listener i (i < counters.listeners), else NULL. */
const char	*ntp_server_listener(const struct ntp_server *, size_t i);

#endif
