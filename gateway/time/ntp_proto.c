/*
 * ntp_proto: NTP packet codec and timestamp arithmetic (see ntp_proto.h).
 */
#include "evgate_config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "time/ntp_proto.h"

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/*
 * After the header: RFC 7822.  A MAC is a 32-bit key id followed by a
 * 16-byte (MD5, AES-CMAC) or 20-byte (SHA-1) digest; 4 bytes alone are a
 * crypto-NAK.  Anything else is a chain of extension fields (version 4
 * only), each at least 16 bytes, a multiple of 4 and within the packet.
 * An extension field of exactly 20 or 24 bytes cannot be the last one
 * without a MAC (RFC 7822, section 7.5), which keeps this unambiguous.
 */
static enum ntp_parse_status
parse_trailer(const uint8_t *buf, size_t len, struct ntp_packet *p)
{
	size_t off = NTP_HEADER_LEN;

	while (off < len) {
		size_t rem = len - off, flen;

		if (rem == 4 || rem == 20 || rem == 24) {
			p->mac_len = rem;
			p->keyid = get32(buf + off);
			return NTP_PARSE_OK;
		}
		if (p->version < 4 || rem < 16)
			return NTP_PARSE_LENGTH;
		flen = (size_t)buf[off + 2] << 8 | buf[off + 3];
		if (flen < 16 || flen % 4 != 0 || flen > rem)
			return NTP_PARSE_LENGTH;
		p->ext_len += flen;
		p->next++;
		off += flen;
	}
	return NTP_PARSE_OK;
}

enum ntp_parse_status
ntp_parse(const uint8_t *buf, size_t len, struct ntp_packet *p)
{
	memset(p, 0, sizeof(*p));
	if (len < NTP_HEADER_LEN)
		return NTP_PARSE_SHORT;
	p->leap = buf[0] >> 6;
	p->version = (buf[0] >> 3) & 7;
	p->mode = buf[0] & 7;
	p->stratum = buf[1];
	p->poll = (int8_t)buf[2];
	p->precision = (int8_t)buf[3];
	p->root_delay = get32(buf + 4);
	p->root_disp = get32(buf + 8);
	p->refid = get32(buf + 12);
	p->ref = get64(buf + 16);
	p->org = get64(buf + 24);
	p->rec = get64(buf + 32);
	p->xmt = get64(buf + 40);
	if (p->version == 0 || p->version > NTP_VERSION)
		return NTP_PARSE_VERSION;
	if (len > NTP_MAX_PACKET)
		return NTP_PARSE_LENGTH;
	return parse_trailer(buf, len, p);
}

const char *
ntp_parse_status_str(enum ntp_parse_status st)
{
	switch (st) {
	case NTP_PARSE_OK:
		return "ok";
	case NTP_PARSE_SHORT:
		return "short";
	case NTP_PARSE_VERSION:
		return "bad_version";
	case NTP_PARSE_LENGTH:
		return "bad_length";
	default:
		return "unknown";
	}
}

void
ntp_encode(const struct ntp_packet *p, uint8_t out[NTP_HEADER_LEN])
{
	out[0] = (uint8_t)((p->leap & 3) << 6 | (p->version & 7) << 3 |
	    (p->mode & 7));
	out[1] = p->stratum;
	out[2] = (uint8_t)p->poll;
	out[3] = (uint8_t)p->precision;
	put32(out + 4, p->root_delay);
	put32(out + 8, p->root_disp);
	put32(out + 12, p->refid);
	put64(out + 16, p->ref);
	put64(out + 24, p->org);
	put64(out + 32, p->rec);
	put64(out + 40, p->xmt);
}

/* --- timestamps ------------------------------------------------------ */

/* Floor division that is right for negative numerators too. */
static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

uint64_t
ntp_ts_from_timespec(const struct timespec *ts)
{
	/*
	 * Seconds since 1900 in any era; the unsigned cast keeps the low 32
	 * bits of the two's complement value, which is the seconds field of
	 * the era the time falls in (also for times before 1900).
	 */
	uint64_t sec = (uint64_t)((int64_t)ts->tv_sec + NTP_UNIX_EPOCH);
	uint64_t frac = (((uint64_t)ts->tv_nsec << 32) + 500000000) /
	    1000000000;

	if (frac > 0xffffffffULL)
		frac = 0xffffffffULL;
	return (sec & 0xffffffffULL) << 32 | frac;
}

int64_t
ntp_era(const struct timespec *ts)
{
	return floor_div((int64_t)ts->tv_sec + NTP_UNIX_EPOCH,
	    NTP_ERA_SECONDS);
}

void
ntp_ts_to_timespec(uint64_t ts, int64_t pivot, struct timespec *out)
{
	uint32_t sec = (uint32_t)(ts >> 32), psec;
	uint64_t nsec = ((ts & 0xffffffffULL) * 1000000000 + 0x80000000ULL)
	    >> 32;
	int64_t d;

	/* The signed 32-bit distance from the pivot picks the era. */
	psec = (uint32_t)(uint64_t)(pivot + NTP_UNIX_EPOCH);
	d = (int64_t)(uint32_t)(sec - psec);
	if (d >= 0x80000000LL)
		d -= NTP_ERA_SECONDS;
	out->tv_sec = (time_t)(pivot + d);
	if (nsec >= 1000000000) {
		out->tv_sec++;
		nsec -= 1000000000;
	}
	out->tv_nsec = (long)nsec;
}

int64_t
ntp_ts_sub(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b);
}

double
ntp_ts_diff(uint64_t a, uint64_t b)
{
	return ntp_fixed_to_double(ntp_ts_sub(a, b));
}

int64_t
ntp_fixed_from_double(double s)
{
	double v = s * 4294967296.0;

	if (v != v)		/* NaN */
		return 0;
	if (v >= 9.2e18)
		return INT64_MAX;
	if (v <= -9.2e18)
		return INT64_MIN;
	/*
	 * Round half away from zero as llround() does, without a call into
	 * libm: this runs twice per reply the server sends, and the call was
	 * the largest single cost of a reply (callgrind, doc/performance.md).
	 */
	return v >= 0 ? (int64_t)(v + 0.5) : -(int64_t)(0.5 - v);
}

double
ntp_fixed_to_double(int64_t v)
{
	return (double)v / 4294967296.0;
}

uint64_t
ntp_ts_add(uint64_t ts, double seconds)
{
	return ts + (uint64_t)ntp_fixed_from_double(seconds);
}

uint32_t
ntp_short_from_double(double s)
{
	double v = s * 65536.0;

	if (!(v > 0))		/* also NaN */
		return 0;
	if (v >= 4294967295.0)
		return 0xffffffffU;
	return (uint32_t)(v + 0.5);	/* v > 0: lround() without libm */
}

double
ntp_short_to_double(uint32_t v)
{
	return (double)v / 65536.0;
}

double
ntp_log2_to_double(int e)
{
	return ldexp(1.0, e);
}

const char *
ntp_refid_str(uint32_t refid, int stratum, char *buf, size_t len)
{
	uint8_t b[4];
	size_t i, n = 0;
	int text = 1;

	put32(b, refid);
	if (refid == 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	/*
	 * Stratum 0 (kiss codes) and 1 (reference clocks): up to four
	 * printable ASCII characters, padded with NUL bytes.
	 */
	for (i = 0; i < 4; i++) {
		if (b[i] == 0)
			break;
		if (b[i] < 0x20 || b[i] > 0x7e)
			text = 0;
		n++;
	}
	for (; i < 4; i++)
		if (b[i] != 0)
			text = 0;
	if (stratum <= 1 && text && n > 0) {
		snprintf(buf, len, "%.*s", (int)n, (const char *)b);
		return buf;
	}
	snprintf(buf, len, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	return buf;
}
