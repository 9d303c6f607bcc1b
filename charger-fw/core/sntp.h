/*
 * sntp: the SNTP client (RFC 4330 behaviour, RFC 5905 packet) that sets
 * the board's wall clock.  The cloud link waits until it has synced,
 * because the hub's tokens and the TLS certificate checks need the time.
 *
 * Pure parts: sntp_parse (bounded; 48-byte header, extensions ignored)
 * and sntp_check (the sanity checks: origin = our random transmit
 * cookie, LI != 3, stratum 1..15, root distance < 1.5 s, server mode).
 * The client polls one server at a time, never faster than every 15 s,
 * rotates to the next server on silence or a bad answer, steps the clock
 * on the first good sample, then keeps the lowest-delay sample of its
 * last 8 and steps again only when that is more than a second off.
 *
 * So that a network cannot push it over (RFC 4330 section 8, RFC 5905):
 * - kiss-o'-death, checked against our cookie first: DENY and RSTR end
 *   all requests to that server, RATE doubles its poll interval (at
 *   least SNTP_RATE_MIN_MS, up to SNTP_SYNCED_POLL_MS);
 * - unanswered polls back off: 15 s doubling to SNTP_BACKOFF_CAP_MS
 *   (SNTP_SYNCED_POLL_MS once synchronised), where 15 s for ever cost
 *   about 0.5 MB a day;
 * - the wall time of the last good sync is kept (kv "sntp.floor", written
 *   at most hourly) as a floor across restarts: an RTC behind it is raised
 *   to it at start, and a server whose time is below it is refused;
 * - the clock is stepped backwards only by two samples that agree
 *   (within SNTP_AGREE_MS): one server cannot set it back alone.
 */
#ifndef EVFW_SNTP_H
#define EVFW_SNTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SNTP_PKT_LEN		48
#define SNTP_MIN_POLL_MS	15000	/* never faster (pool etiquette) */
#define SNTP_SYNCED_POLL_MS	1024000
#define SNTP_TIMEOUT_MS		5000
#define SNTP_MAX_SERVERS	6
#define SNTP_MAX_DIST_MS	1500	/* RFC 5905 MAXDIST */
#define SNTP_STEP_MS		1000	/* step again beyond this */
#define SNTP_BACKOFF_CAP_MS	300000	/* unanswered, not synchronised */
#define SNTP_RATE_MIN_MS	64000	/* after a RATE kiss */
#define SNTP_AGREE_MS		1000	/* two backward samples agree */
#define SNTP_FLOOR_EVERY_MS	3600000	/* keep the floor this often */

struct sntp_pkt {
	uint8_t		li;
	uint8_t		vn;
	uint8_t		mode;
	uint8_t		stratum;
	int8_t		poll;
	int8_t		precision;
	uint32_t	root_delay;	/* 16.16 s */
	uint32_t	root_disp;	/* 16.16 s */
	uint32_t	refid;
	uint64_t	ref;		/* 32.32 NTP timestamps */
	uint64_t	org;
	uint64_t	rec;
	uint64_t	xmt;
};

enum sntp_parse_status {
	SNTP_PARSE_OK = 0,
	SNTP_PARSE_SHORT,
	SNTP_PARSE_BAD_VERSION,
};

enum sntp_verdict {
	SNTP_VALID = 0,
	SNTP_BAD_MODE,		/* not a server reply */
	SNTP_BAD_ORIGIN,	/* not an answer to our request */
	SNTP_UNSYNCED,		/* LI = 3: the server has no time */
	SNTP_BAD_STRATUM,	/* 0 (without a kiss code we know) or > 15 */
	SNTP_BAD_DISTANCE,	/* root distance too large */
	SNTP_BAD_TIMES,		/* zero receive/transmit timestamp */
	SNTP_KOD,		/* kiss-o'-death: see sntp_kiss */
};

/* The kiss codes RFC 4330 section 8 makes a client act on. */
enum sntp_kiss {
	SNTP_KISS_NONE = 0,
	SNTP_KISS_DENY,		/* access denied: stop */
	SNTP_KISS_RSTR,		/* access restricted: stop */
	SNTP_KISS_RATE,		/* too often: poll it less */
};

enum sntp_parse_status sntp_parse(const uint8_t *, size_t, struct sntp_pkt *);
enum sntp_verdict sntp_check(const struct sntp_pkt *, uint64_t cookie);
const char *sntp_verdict_str(enum sntp_verdict);
/* The kiss code of a stratum-0 packet (its refid), if one we act on. */
enum sntp_kiss sntp_kiss(const struct sntp_pkt *);

/* NTP 32.32 timestamp <-> Unix milliseconds (era 0/1 by pivot 1968/2036). */
uint64_t sntp_ms_to_ntp(int64_t);
int64_t	 sntp_ntp_to_ms(uint64_t);
/*
 * The offset (server - local) and round-trip delay of a valid reply sent
 * at local wall time t1 and received at t4 (ms).
 */
void	 sntp_sample(const struct sntp_pkt *, int64_t t1, int64_t t4,
	    int64_t *offset, int64_t *delay);

struct sntp_cb {
	/* The clock was set (stepped by step_ms); first call = synced. */
	void	(*synced)(void *arg, int64_t step_ms);
	void	*arg;
};

struct sntp_stats {
	unsigned long	sent;
	unsigned long	valid;
	unsigned long	timeouts;
	unsigned long	rejected;	/* failed sntp_check */
	unsigned long	steps;
	unsigned long	kods;		/* kiss-o'-death received */
	unsigned long	denied;		/* servers that said DENY or RSTR */
	unsigned long	below_floor;	/* samples below the floor */
	unsigned long	held_back;	/* backward steps waiting for a second */
	unsigned	misses;		/* unanswered polls in a row */
	enum sntp_verdict last_reject;
	int64_t		last_offset;
	int64_t		last_delay;
	uint32_t	last_server;
	int64_t		floor_ms;	/* the last good sync's wall time */
};

struct sntp;

/*
 * A client sending from UDP socket fd (hal_udp_open); port is 123.  Reads
 * the kept floor and raises the RTC to it if it is behind.
 */
struct sntp *sntp_new(int fd, uint16_t port, const struct sntp_cb *);
void	 sntp_free(struct sntp *);
/* Servers in order of preference; the next poll goes out at once. */
void	 sntp_set_servers(struct sntp *, const uint32_t *, size_t,
	    uint64_t now_ms);
void	 sntp_input(struct sntp *, const uint8_t *, size_t, uint32_t ip,
	    uint16_t port, int64_t rx_wall_ms, uint64_t now_ms);
void	 sntp_tick(struct sntp *, uint64_t now_ms);
uint64_t sntp_deadline(const struct sntp *);
int	 sntp_synced(const struct sntp *);
const struct sntp_stats *sntp_stats(const struct sntp *);

#endif
