/*
 * bytes: big-endian (network order) 32-bit fields in packets and on
 * flash, for the core's parsers and encoders (DHCP, SNTP, ARP, the
 * ring).  Header only.
 */
#ifndef EVFW_BYTES_H
#define EVFW_BYTES_H

#include <stdint.h>

static inline uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

#endif
