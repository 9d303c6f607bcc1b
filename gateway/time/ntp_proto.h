/*
 * ntp_proto: the NTP packet codec and timestamp arithmetic (RFC 5905), pure
 * and bounded: no I/O, no allocation, no clock reads.  Everything the
 * server and the upstream client do to bytes on the wire goes through here,
 * and this is what the unit tests and the fuzzer exercise.
 *
 * Timestamps on the wire are 64-bit 32.32 fixed point seconds since 1900
 * with the era (which 2^32-second period) left out: era 0 ends on
 * 2036-02-07T06:28:16Z.  We keep them as uint64_t in wire form and
 * convert to and from struct timespec (64-bit time_t) with an explicit
 * era choice.  Differences of two timestamps are taken in wrapping 64-bit
 * arithmetic, which is exact across the era boundary as long as the two
 * are less than 68 years apart (RFC 5905, section 6).
 */
#ifndef EVG_NTP_PROTO_H
#define EVG_NTP_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define NTP_PORT		123
#define NTP_HEADER_LEN		48
#define NTP_MAX_PACKET		2048	/* bigger datagrams are dropped */
#define NTP_VERSION		4
#define NTP_UNIX_EPOCH		2208988800LL	/* 1900 -> 1970, seconds */
#define NTP_ERA_SECONDS		4294967296LL

/* Leap indicator. */
#define NTP_LEAP_NONE		0
#define NTP_LEAP_ADD		1
#define NTP_LEAP_DEL		2
#define NTP_LEAP_ALARM		3	/* not synchronised */

/* Modes. */
#define NTP_MODE_RESERVED	0
#define NTP_MODE_SYM_ACTIVE	1
#define NTP_MODE_SYM_PASSIVE	2
#define NTP_MODE_CLIENT		3
#define NTP_MODE_SERVER		4
#define NTP_MODE_BROADCAST	5
#define NTP_MODE_CONTROL	6
#define NTP_MODE_PRIVATE	7

#define NTP_MAX_STRATUM		16	/* 16 = unsynchronised */

/* A reference id or kiss code from four ASCII characters. */
#define NTP_REFID(a, b, c, d)						\
	(((uint32_t)(uint8_t)(a) << 24) | ((uint32_t)(uint8_t)(b) << 16) | \
	 ((uint32_t)(uint8_t)(c) << 8) | (uint32_t)(uint8_t)(d))
#define NTP_KISS_RATE		NTP_REFID('R', 'A', 'T', 'E')
#define NTP_KISS_DENY		NTP_REFID('D', 'E', 'N', 'Y')
#define NTP_KISS_RSTR		NTP_REFID('R', 'S', 'T', 'R')
#define NTP_KISS_INIT		NTP_REFID('I', 'N', 'I', 'T')

/* One NTP packet, header fields in host order. */
struct ntp_packet {
	uint8_t		 leap;		/* 0..3 */
	uint8_t		 version;	/* 0..7 */
	uint8_t		 mode;		/* 0..7 */
	uint8_t		 stratum;
	int8_t		 poll;		/* log2 seconds */
	int8_t		 precision;	/* log2 seconds */
	uint32_t	 root_delay;	/* 16.16 seconds */
	uint32_t	 root_disp;	/* 16.16 seconds */
	uint32_t	 refid;		/* the four bytes, big-endian */
	uint64_t	 ref;		/* 32.32 timestamps, era dropped */
	uint64_t	 org;
	uint64_t	 rec;
	uint64_t	 xmt;
	/* What followed the header (set by ntp_parse, ignored by encode). */
	size_t		 ext_len;	/* extension fields, bytes */
	size_t		 next;		/* number of extension fields */
	size_t		 mac_len;	/* key id + digest, 0 if none */
	uint32_t	 keyid;		/* valid when mac_len > 0 */
};

enum ntp_parse_status {
	NTP_PARSE_OK = 0,
	NTP_PARSE_SHORT,	/* fewer than 48 bytes */
	NTP_PARSE_VERSION,	/* version 0 or above 4 */
	NTP_PARSE_LENGTH,	/* trailing bytes that are neither extension
				   fields nor a MAC, or too long */
	NTP_PARSE_NSTATUS
};

/*
 * Parse one datagram.  Checks only the structure (length, version, the
 * layout of extension fields and MAC after RFC 7822); whether the mode,
 * stratum or timestamps make sense is for the caller to judge.  On
 * NTP_PARSE_VERSION and NTP_PARSE_LENGTH the header fields are filled.
 */
enum ntp_parse_status ntp_parse(const uint8_t *buf, size_t len,
		    struct ntp_packet *);
const char	*ntp_parse_status_str(enum ntp_parse_status);

/* Write the 48-byte header of p into out (extensions are never sent). */
void		 ntp_encode(const struct ntp_packet *p,
		    uint8_t out[NTP_HEADER_LEN]);

/* --- timestamps ------------------------------------------------------ */

/* A timespec (any era, 64-bit time_t) as a wire timestamp (era dropped). */
uint64_t	 ntp_ts_from_timespec(const struct timespec *);
/*
 * A wire timestamp back to a timespec, choosing the era that puts the
 * result within 68 years of pivot (seconds since 1970; pass the current
 * time).  Rounds to the nearest nanosecond.
 */
void		 ntp_ts_to_timespec(uint64_t ts, int64_t pivot,
		    struct timespec *);
/* The era a timespec falls in (0: 1900-2036, 1: 2036-2172, -1: before). */
int64_t		 ntp_era(const struct timespec *);

/* a - b as signed 32.32 fixed point; exact if |a - b| < 68 years. */
int64_t		 ntp_ts_sub(uint64_t a, uint64_t b);
/* a - b in seconds. */
double		 ntp_ts_diff(uint64_t a, uint64_t b);
/* ts + seconds (wrapping, so it crosses eras). */
uint64_t	 ntp_ts_add(uint64_t ts, double seconds);
/* Seconds as signed 32.32 fixed point, and back. */
int64_t		 ntp_fixed_from_double(double);
double		 ntp_fixed_to_double(int64_t);

/* 16.16 "short" format: saturates at 0 and 65535.99998 seconds. */
uint32_t	 ntp_short_from_double(double);
double		 ntp_short_to_double(uint32_t);

/* Log2 seconds (precision, poll) to seconds. */
double		 ntp_log2_to_double(int);

/*
 * A reference id for printing: a kiss code or stratum-1 source as text
 * ("INIT", "GPS") or an IPv4 address in dotted form.
 */
const char	*ntp_refid_str(uint32_t refid, int stratum, char *buf,
		    size_t len);

#endif
