/*
 * libFuzzer target: the NTP packet parser (ntp_proto.c) and the pure
 * decisions built on it: what the server answers or drops
 * (ntp_server_check, ntp_server_reply) and how the upstream client judges
 * a reply (ntp_client_judge).  The same bytes are tried as a request and
 * as a reply to a query whose cookie is the input's own origin field, so
 * the fuzzer can reach every verdict.
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "time/ntp_client.h"
#include "time/ntp_proto.h"
#include "time/ntp_server.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
as_request(const uint8_t *data, size_t size, struct ntp_packet *p)
{
	struct ntp_packet req, rep, back;
	struct ntp_sysinfo sys;
	uint8_t out[NTP_HEADER_LEN];
	enum ntp_drop d;

	d = ntp_server_check(data, size, (uint16_t)(size * 7919), &req);
	assert((unsigned)d <= NTP_DROP_NREASONS);
	if (d != NTP_DROP_NREASONS)
		return;
	/* Answered: a request is mode 3 (or v1 mode 0), without a MAC. */
	assert(req.mode == NTP_MODE_CLIENT ||
	    (req.mode == 0 && req.version == 1));
	assert(req.mac_len == 0);
	memset(&sys, 0, sizeof(sys));
	sys.synced = size & 1;
	sys.stratum = 2;
	sys.precision = -20;
	sys.ref = p->ref;
	sys.root_delay = 0.01;
	sys.root_disp = 0.001;
	ntp_server_reply(&req, &sys, p->rec, &rep);
	ntp_encode(&rep, out);
	assert(ntp_parse(out, sizeof(out), &back) == NTP_PARSE_OK);
	assert(back.mode == NTP_MODE_SERVER && back.version == req.version);
	assert(back.org == req.xmt);
	/* Never LI=3 with a real stratum, never a stratum with LI=3. */
	assert((back.leap == NTP_LEAP_ALARM) == (back.stratum == 0));
	ntp_server_kod(&req, NTP_KISS_RATE, &rep);
	assert(rep.stratum == 0 && rep.org == req.xmt);
}

static void
as_reply(const uint8_t *data, size_t size, const struct ntp_packet *p)
{
	struct ntp_packet pkt;
	struct ntp_sample s;
	enum ntp_reply v;
	uint64_t t1 = p->rec - ((uint64_t)1 << 22), t4 = p->xmt + 4096;

	v = ntp_client_judge(data, size, p->org, t1, t4, -20, &pkt, &s);
	assert((unsigned)v < NTP_REPLY_NSTATUS);
	if (v == NTP_REPLY_OK) {
		/* Only a synchronised server's answer to our cookie. */
		assert(pkt.org == p->org && pkt.mode == NTP_MODE_SERVER);
		assert(pkt.leap != NTP_LEAP_ALARM);
		assert(pkt.stratum >= 1 && pkt.stratum <= 14);
		assert(s.delay > 0 && isfinite(s.offset));
		assert(s.disp >= 0);
	}
	/* Any other cookie makes it bogus, whatever else it says. */
	if (v != NTP_REPLY_MALFORMED && v != NTP_REPLY_MODE)
		assert(ntp_client_judge(data, size, ~p->org, t1, t4, -20, &pkt,
		    &s) == NTP_REPLY_BOGUS);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ntp_packet p, q;
	enum ntp_parse_status st = ntp_parse(data, size, &p);
	uint8_t out[NTP_HEADER_LEN];

	if (st == NTP_PARSE_OK) {
		assert(size >= NTP_HEADER_LEN && size <= NTP_MAX_PACKET);
		assert(NTP_HEADER_LEN + p.ext_len + p.mac_len == size);
		assert(p.version >= 1 && p.version <= NTP_VERSION);
		assert(p.next == 0 || p.version == 4);
		/* The header survives encode + parse unchanged. */
		ntp_encode(&p, out);
		assert(memcmp(out, data, NTP_HEADER_LEN) == 0);
		assert(ntp_parse(out, sizeof(out), &q) == NTP_PARSE_OK);
		assert(q.xmt == p.xmt && q.org == p.org);
	} else {
		assert(st == NTP_PARSE_SHORT || st == NTP_PARSE_VERSION ||
		    st == NTP_PARSE_LENGTH);
		assert(st != NTP_PARSE_SHORT || size < NTP_HEADER_LEN);
	}
	if (size >= NTP_HEADER_LEN) {
		as_request(data, size, &p);
		as_reply(data, size, &p);
	}
	return 0;
}
