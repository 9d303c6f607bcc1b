/*
 * ntp_client: evgated's upstream NTP client (RFC 5905 client mode).
 *
 * Each configured server is a name or an address; a name is resolved with
 * the site's own resolvers (resolver.h) and gives up to NTP_PER_NAME
 * servers (a pool), re-resolved every hour and sooner when all of them
 * fail.  Each server is polled with a fresh UDP socket (a new random
 * source port) and a random 64-bit cookie as transmit timestamp (not our
 * time); a reply must echo the cookie, come from the server's address, be
 * mode 4, LI != 3, stratum 1..14 (we serve upstream + 1), have a sane root
 * distance and consistent timestamps.  Kiss-o'-death: RATE doubles the
 * poll interval, DENY and RSTR stop using that server (logged).
 *
 * Polling: a burst of 4 queries 2 s apart at start, then poll_min; the
 * interval doubles after 4 good samples in a row (up to poll_max) and
 * halves after repeated outliers.  Samples go through the clock filter
 * (lowest delay of the last 8); after every sample the servers are
 * selected by agreement (ntp_select.h) and the result handed to the
 * module through the update callback.  The client measures offsets
 * against the system clock and never sets it (the module may); every
 * sample is moved by the module's correction C(t), the sum of all known
 * movements of the system clock since start (its own adjustments and
 * steps by others), so filter and selection see one steady clock.
 */
#ifndef EVG_NTP_CLIENT_H
#define EVG_NTP_CLIENT_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "time/ntp_proto.h"
#include "time/ntp_select.h"

struct event_base;
struct resolver;
struct cfg_ntp;
struct ntp_client;

#define NTP_PER_NAME		4	/* servers taken from one name */
#define NTP_MAX_PEERS		32
#define NTP_BURST		4	/* initial queries ... */
#define NTP_BURST_MS		2000	/* ... this far apart */
#define NTP_QUERY_TIMEOUT_MS	1900	/* a reply later than this is lost */
#define NTP_MIN_POLL_MS		16000	/* never faster, after the burst */

/* What judging one reply found. */
enum ntp_reply {
	NTP_REPLY_OK = 0,
	NTP_REPLY_MALFORMED,	/* does not parse */
	NTP_REPLY_MODE,		/* not a server reply */
	NTP_REPLY_BOGUS,	/* origin is not our cookie */
	NTP_REPLY_KOD_RATE,	/* kiss-o'-death RATE: poll slower */
	NTP_REPLY_KOD_DENY,	/* DENY or RSTR: stop using this server */
	NTP_REPLY_UNSYNC,	/* the server is not synchronised */
	NTP_REPLY_STRATUM,	/* stratum 15: we could serve only 16 */
	NTP_REPLY_DISTANCE,	/* root distance >= NTP_MAXDIST */
	NTP_REPLY_TIMES,	/* inconsistent timestamps */
	NTP_REPLY_NSTATUS
};
const char	*ntp_reply_str(enum ntp_reply);

/*
 * Judge the datagram buf answering our query with transmit cookie, sent
 * at t1 and received at t4 (local clock, wire form); precision is our
 * clock reading's (log2 s).  On NTP_REPLY_OK the sample is filled
 * (mono_ms left 0).  pkt is filled whenever the datagram parses.  Pure.
 */
enum ntp_reply	 ntp_client_judge(const uint8_t *buf, size_t len,
		    uint64_t cookie, uint64_t t1, uint64_t t4, int precision,
		    struct ntp_packet *pkt, struct ntp_sample *);

/* The reference id we give for a source address (RFC 5905: IPv4 as is,
 * IPv6 as the first four bytes of the MD5 of the address). */
uint32_t	 ntp_refid_for(const struct sockaddr *);

enum ntp_peer_state {
	NTP_PEER_NEW = 0,	/* no usable reply yet */
	NTP_PEER_SELECTED,	/* the system peer */
	NTP_PEER_CANDIDATE,	/* agrees with the majority */
	NTP_PEER_FALSETICKER,	/* outvoted */
	NTP_PEER_UNSYNC,	/* says it is not synchronised */
	NTP_PEER_REJECTED,	/* replies fail our checks */
	NTP_PEER_KOD,		/* denied us: no longer polled */
	NTP_PEER_UNREACHABLE,	/* no reply to the last 3 polls */
	NTP_PEER_NSTATES
};
const char	*ntp_peer_state_str(enum ntp_peer_state);

/* One upstream server as evgatectl shows it. */
struct ntp_peer_info {
	const char	*name;		/* as configured */
	char		 addr[64];	/* "203.0.113.123:123" */
	enum ntp_peer_state state;
	uint8_t		 reach;		/* last 8 polls, 1 = answered */
	int		 stratum;
	uint32_t	 refid;
	uint64_t	 poll_ms;
	int		 have_sample;
	double		 last_sample_age_s;	/* of the newest valid sample */
	double		 offset, delay, jitter;	/* of the filter's best */
	double		 rootdist;
	enum ntp_reply	 last_reply;	/* of the last datagram judged */
	unsigned long	 polls, replies, kods;
};

/* The selection after a sample, handed to the module. */
struct ntp_selection {
	int		 ok;		/* 0: no majority, or no candidates */
	int		 fresh;		/* the new sample's server agrees */
	uint64_t	 sample_mono_ms; /* the system peer's best sample */
	double		 offset;	/* combined: true - steady clock, s */
	double		 jitter;	/* s */
	double		 delay;		/* system peer's, s */
	int		 stratum;	/* system peer's (we are + 1) */
	uint8_t		 leap;
	uint32_t	 refid;		/* for our replies */
	double		 root_delay;	/* to the primary source, s */
	double		 root_disp;	/* s */
	const char	*peer_name;
	const char	*peer_addr;
	size_t		 ncandidates, ntruechimers;
};

typedef void	(*ntp_client_update_fn)(const struct ntp_selection *,
		    void *arg);
/* The correction C(t) at a monotonic time: system clock minus the
 * steady clock samples are kept against, seconds. */
typedef double	(*ntp_client_corr_fn)(void *arg, uint64_t mono_ms);
/* A server asked us to slow down or denied us (KoD): for events. */
typedef void	(*ntp_client_notice_fn)(const char *name, const char *addr,
		    const char *what, void *arg);

struct ntp_client *ntp_client_new(struct event_base *, struct resolver *,
		    ntp_client_update_fn, ntp_client_notice_fn,
		    ntp_client_corr_fn, void *arg);
/*
 * Use the servers and poll limits of conf (NULL: stop).  Servers still
 * listed keep their state; new ones start with a burst.  Cannot fail.
 * conf must stay valid until the next call.
 */
void		 ntp_client_configure(struct ntp_client *,
		    const struct cfg_ntp *);
/* Our clock reading's precision (log2 s), for dispersion. */
void		 ntp_client_set_precision(struct ntp_client *, int);
/*
 * The system clock stepped (the correction already has it): forget the
 * queries in flight, whose send time is on the old clock, and poll again
 * soon.
 */
void		 ntp_client_clock_stepped(struct ntp_client *);
void		 ntp_client_free(struct ntp_client *);

/* The servers, in configuration order. */
size_t		 ntp_client_peers(const struct ntp_client *,
		    struct ntp_peer_info *, size_t max);

#endif
