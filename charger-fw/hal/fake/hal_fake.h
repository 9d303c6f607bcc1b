/*
 * hal_fake: the HAL for unit tests.  Clocks move only when a test says so,
 * everything sent is captured, storage and slots live in memory, and
 * randomness is a seeded, repeatable sequence.
 */
#ifndef EVFW_HAL_FAKE_H
#define EVFW_HAL_FAKE_H

#include <stddef.h>
#include <stdint.h>

#include "hal/hal.h"

#define FAKE_PKT_MAX	64
#define FAKE_BUF	1500

struct fake_pkt {
	uint32_t	src;
	uint32_t	dst;
	uint16_t	port;		/* UDP only */
	size_t		len;
	uint8_t		buf[FAKE_BUF];
};

/* Everything back to its initial state (mono 1000 ms, wall 2026-01-01). */
void	fake_hal_reset(void);

void	fake_set_mono(uint64_t);
void	fake_advance(uint64_t ms);	/* mono and wall move together */
void	fake_set_wall(int64_t);
void	fake_seed(uint32_t);
/* Fix what hal_random returns: every byte = b (-1: back to the PRNG). */
void	fake_random_byte(int b);

/* DHCP packets sent with hal_pkt_send. */
size_t	fake_pkt_count(void);
const struct fake_pkt *fake_pkt(size_t i);
const struct fake_pkt *fake_pkt_last(void);
void	fake_pkt_clear(void);

/* ARP payloads sent with hal_arp_send (hal_arp_open gives fd 102). */
size_t	fake_arp_count(void);
const struct fake_pkt *fake_arp(size_t i);
void	fake_arp_clear(void);

/* hal_net_configure: calls and the last arguments. */
struct fake_net {
	unsigned	calls;
	uint32_t	addr;
	uint32_t	mask;
	uint32_t	router;
};
const struct fake_net *fake_net(void);

/* UDP datagrams sent with hal_udp_send. */
size_t	fake_udp_count(void);
const struct fake_pkt *fake_udp(size_t i);
void	fake_udp_clear(void);

/* Meter, car and contactor. */
void	fake_car_set(enum hal_car);	/* calls the notify callback */
void	fake_meter_set(const struct hal_meter *);
int	fake_contactor(unsigned *current_a, unsigned *phases);
unsigned fake_reboots(void);

/* A store region's bytes (tests corrupt them, or take snapshots). */
uint8_t	*fake_store(int region, size_t *len);
void	 fake_store_fail(int reads, int writes);

/* The last message logged at or above a level (for asserting errors). */
const char *fake_log_last(void);

#endif
