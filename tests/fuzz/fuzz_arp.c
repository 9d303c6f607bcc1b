/*
 * libFuzzer target: the ARP parser of the DHCP client's address check
 * (RFC 5227), and the conflict rule over what it parsed.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/arp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mac[6] = { 0x02, 0x42, 0, 0, 0, 1 };
	struct arp_pkt p;

	if (arp_parse(data, size, &p) != ARP_PARSE_OK)
		return 0;
	assert(size >= ARP_LEN);
	assert(p.op == ARP_REQUEST || p.op == ARP_REPLY);
	if (arp_conflict(&p, 0x0a2a0015, mac))
		assert(memcmp(p.sha, mac, 6) != 0);
	assert(!arp_conflict(&p, 0, mac));
	return 0;
}
