/*
 * arp: the ARP packets of IPv4 address conflict detection (RFC 5227),
 * which the DHCP client uses before it takes an address: a pure, bounded
 * parser (fuzzed: tests/fuzz/fuzz_arp.c), the builder of probes and
 * announcements, and the conflict rule.  The HAL sends and receives the
 * 28-byte ARP payloads on the link (hal_arp_*), Ethernet header added and
 * stripped there.
 */
#ifndef EVFW_ARP_H
#define EVFW_ARP_H

#include <stddef.h>
#include <stdint.h>

#define ARP_LEN		28	/* Ethernet/IPv4 ARP, RFC 826 */
#define ARP_REQUEST	1
#define ARP_REPLY	2

/* RFC 5227 section 1.1 (ms). */
#define ARP_PROBE_WAIT		1000	/* random 0..this before the first */
#define ARP_PROBE_NUM		3
#define ARP_PROBE_MIN		1000	/* between probes: MIN..MAX */
#define ARP_PROBE_MAX		2000
#define ARP_ANNOUNCE_WAIT	2000	/* after the last probe */

struct arp_pkt {
	uint16_t	op;
	uint8_t		sha[6];
	uint32_t	spa;		/* host byte order */
	uint8_t		tha[6];
	uint32_t	tpa;
};

enum arp_parse_status {
	ARP_PARSE_OK = 0,
	ARP_PARSE_SHORT,
	ARP_PARSE_NOT_ETHER_IPV4,	/* htype 1, ptype 0x0800, 6/4 */
	ARP_PARSE_BAD_OP,
};

enum arp_parse_status arp_parse(const uint8_t *, size_t, struct arp_pkt *);
/*
 * A request from mac: a probe (spa 0, tpa = the address) or an
 * announcement (spa = tpa = the address).  Returns ARP_LEN.
 */
size_t	 arp_build(uint8_t out[ARP_LEN], const uint8_t mac[6], uint32_t spa,
	    uint32_t tpa);
/*
 * RFC 5227 2.1.1: while probing addr, does this packet (from someone
 * other than mac) show the address is in use -- any ARP whose sender is
 * addr, or another host's probe for addr?
 */
int	 arp_conflict(const struct arp_pkt *, uint32_t addr,
	    const uint8_t mac[6]);

#endif
