/*
 * arp: see arp.h.
 */
#include <string.h>

#include "core/bytes.h"
#include "core/arp.h"

enum arp_parse_status
arp_parse(const uint8_t *b, size_t len, struct arp_pkt *p)
{
	memset(p, 0, sizeof(*p));
	if (len < ARP_LEN)
		return ARP_PARSE_SHORT;
	/* htype Ethernet, ptype IPv4, hlen 6, plen 4 */
	if (b[0] != 0 || b[1] != 1 || b[2] != 0x08 || b[3] != 0x00 ||
	    b[4] != 6 || b[5] != 4)
		return ARP_PARSE_NOT_ETHER_IPV4;
	p->op = (uint16_t)(b[6] << 8 | b[7]);
	if (p->op != ARP_REQUEST && p->op != ARP_REPLY)
		return ARP_PARSE_BAD_OP;
	memcpy(p->sha, b + 8, 6);
	p->spa = get32(b + 14);
	memcpy(p->tha, b + 18, 6);
	p->tpa = get32(b + 24);
	return ARP_PARSE_OK;
}

size_t
arp_build(uint8_t b[ARP_LEN], const uint8_t mac[6], uint32_t spa,
    uint32_t tpa)
{
	memset(b, 0, ARP_LEN);
	b[1] = 1;
	b[2] = 0x08;
	b[4] = 6;
	b[5] = 4;
	b[7] = ARP_REQUEST;
	memcpy(b + 8, mac, 6);
	put32(b + 14, spa);
	put32(b + 24, tpa);
	return ARP_LEN;
}

int
arp_conflict(const struct arp_pkt *p, uint32_t addr, const uint8_t mac[6])
{
	if (addr == 0 || memcmp(p->sha, mac, 6) == 0)
		return 0;	/* our own, looped back */
	if (p->spa == addr)
		return 1;	/* someone uses it */
	/* Someone else probes for it at the same time (RFC 5227 2.1.1). */
	return p->op == ARP_REQUEST && p->spa == 0 && p->tpa == addr;
}
