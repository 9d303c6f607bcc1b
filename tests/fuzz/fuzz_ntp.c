/*
 * libFuzzer target: the NTP packet parser (ntp_proto.c) and what the server
 * and the upstream client decide from a parsed packet.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "ntp_proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

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
	return 0;
}
