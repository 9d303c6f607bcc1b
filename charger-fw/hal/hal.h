/*
 * hal: everything the portable firmware core needs from a board.
 *
 * The core (charger-fw/core/) calls only these functions and the libraries
 * (libevent, libmosquitto, OpenSSL, json-c); it never calls the OS.  A board
 * port implements this header; charger-fw/hal/linux/ makes the firmware a
 * Linux process (evcharger), charger-fw/hal/fake/ drives the unit tests.
 * doc/hal.md is the porting guide: it says, per function, what a board must
 * guarantee.
 *
 * Conventions: IPv4 addresses are uint32_t in HOST byte order (10.42.0.1 is
 * 0x0a2a0001); times are milliseconds; functions return 0 on success and -1
 * on failure unless said otherwise.  Every function is called from the one
 * firmware thread (the libevent loop); none may block for long.
 */
#ifndef EVFW_HAL_H
#define EVFW_HAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------------------ */
/* Logging: one line per call, no trailing newline.                   */

enum hal_log_level {
	HAL_LOG_ERR = 0,
	HAL_LOG_WARN,
	HAL_LOG_INFO,
	HAL_LOG_DEBUG,
};
void	 hal_log(enum hal_log_level, const char *msg);

/* ------------------------------------------------------------------ */
/* Clocks.                                                            */

/* Monotonic milliseconds since an arbitrary origin; never jumps. */
uint64_t hal_mono_ms(void);
/*
 * The wall clock (the board's RTC), milliseconds since 1970-01-01 UTC.  It
 * may be arbitrarily wrong until the core sets it from SNTP; the core never
 * trusts it before that.
 */
int64_t	 hal_wall_ms(void);
/* Set the wall clock; it keeps counting from there and survives reboot. */
int	 hal_wall_set_ms(int64_t);

/* Cryptographically strong random bytes (DHCP xid, NTP cookie, jitter). */
void	 hal_random(void *, size_t);

/* ------------------------------------------------------------------ */
/* Link-layer packet socket for the DHCP client (RFC 2131 section 4.1: */
/* a client without an address must send and receive at the link      */
/* layer).  The HAL builds and strips the Ethernet, IPv4 and UDP      */
/* headers; the core sees only BOOTP payloads.                        */

#define HAL_IP_BROADCAST	0xffffffffU

/*
 * Open the DHCP endpoint on an interface: returns a file descriptor the
 * core polls for reading (EV_READ), or -1.  mac receives the interface's
 * hardware address.
 */
int	 hal_pkt_open(const char *ifname, uint8_t mac[6]);
/*
 * Send one BOOTP payload from src_ip:68 to dst_ip:67.  dst_ip ==
 * HAL_IP_BROADCAST sends a link-layer broadcast (src_ip is then 0);
 * otherwise it is a unicast to a server on the link (RENEWING: the lease
 * is configured, so the board's IP stack may be used).
 */
int	 hal_pkt_send(int fd, uint32_t src_ip, uint32_t dst_ip,
	    const uint8_t *payload, size_t len);
/*
 * Receive one UDP payload addressed to port 68 (from port 67).  Returns
 * its length, 0 when what arrived was not for us (dropped), -1 on error
 * (EAGAIN included).  *src_ip is the IPv4 source.
 */
ssize_t	 hal_pkt_recv(int fd, uint8_t *buf, size_t cap, uint32_t *src_ip);
void	 hal_pkt_close(int fd);

/*
 * Configure the leased address on the interface: address, netmask and
 * default router (0 = none).  addr == 0 removes what was configured.
 * Called again with the same lease on renew (must be idempotent).
 */
int	 hal_net_configure(const char *ifname, uint32_t addr, uint32_t mask,
	    uint32_t router);
/*
 * ARP on the interface, for IPv4 address conflict detection (RFC 5227):
 * before the DHCP client takes an address it probes for it and declines
 * it if another host answers.  The HAL adds and strips the Ethernet
 * header; the core builds and parses the 28-byte ARP payloads.
 *   hal_arp_open: a descriptor the core polls for reading, or -1 (the
 *     core then takes addresses without the check, and says so);
 *   hal_arp_send: one ARP payload as a link-layer broadcast;
 *   hal_arp_recv: one ARP payload: its length, 0 for one that is not of
 *     interest (our own frames looped back), -1 (EAGAIN included).
 */
int	 hal_arp_open(const char *ifname);
int	 hal_arp_send(int fd, const uint8_t *payload, size_t len);
ssize_t	 hal_arp_recv(int fd, uint8_t *buf, size_t cap);
void	 hal_arp_close(int fd);

/* Bytes received and sent on the interface since boot (data usage). */
int	 hal_net_counters(const char *ifname, uint64_t *rx, uint64_t *tx);

/* ------------------------------------------------------------------ */
/* UDP (SNTP).  TCP is used by libmosquitto and libcurl through the     */
/* board's BSD socket layer; DNS by libevent's evdns the same way.     */

/* An unbound UDP socket with a random ephemeral port: fd or -1. */
int	 hal_udp_open(void);
int	 hal_udp_send(int fd, uint32_t ip, uint16_t port, const void *,
	    size_t);
/*
 * One datagram: length, or -1 (EAGAIN included).  *rx_wall_ms is the wall
 * clock at reception, taken as early as the board can (the kernel's
 * timestamp on Linux).
 */
ssize_t	 hal_udp_recv(int fd, void *, size_t, uint32_t *ip, uint16_t *port,
	    int64_t *rx_wall_ms);
void	 hal_udp_close(int fd);

/* ------------------------------------------------------------------ */
/* Persistent key-value store (settings, counters).  Keys are short    */
/* [a-z0-9_.-] names; a set is atomic: after a power cut a key has    */
/* either its old or its new value.                                   */

#define HAL_KV_MAX	4096
/* Copy up to cap bytes; *len gets the stored length.  -1: absent/error. */
int	 hal_kv_get(const char *key, void *buf, size_t cap, size_t *len);
int	 hal_kv_set(const char *key, const void *, size_t);
int	 hal_kv_del(const char *key);

/* ------------------------------------------------------------------ */
/* Store-and-forward: byte regions the core keeps its durable message  */
/* rings in (core/ring.c; HAL_STORE_RECORDS: session and billing       */
/* records, HAL_STORE_TELEMETRY: periodic telemetry).  Flash-like: a   */
/* write a power cut interrupts may leave its bytes old, new or mixed; */
/* what was written before hal_store_sync returned is durable.  Bytes  */
/* never written since the region was formatted read 0xff.            */

#define HAL_STORE_RECORDS	0
#define HAL_STORE_TELEMETRY	1
#define HAL_STORE_REGIONS	2
/* The region's size in bytes; 0 when it does not exist yet. */
size_t	 hal_store_size(int region);
/* Make the region size bytes of 0xff; what it held is gone. */
int	 hal_store_format(int region, size_t size);
int	 hal_store_read(int region, size_t off, void *, size_t);
int	 hal_store_write(int region, size_t off, const void *, size_t);
int	 hal_store_sync(int region);

/* ------------------------------------------------------------------ */
/* Secure credential store: written once in production by the          */
/* provisioning tool (evprovision), read at boot.                     */

struct hal_cred {
	char	device_id[64];	/* the charger's serial, e.g. ZAP000101 */
	char	secret[256];	/* password, or base64 device key (SAS) */
};
int	 hal_cred_load(struct hal_cred *);
int	 hal_cred_store(const struct hal_cred *);

/* ------------------------------------------------------------------ */
/* Meter, car and contactor.                                          */

enum hal_car {
	HAL_CAR_ABSENT = 0,	/* no car plugged in (IEC 61851 state A) */
	HAL_CAR_PLUGGED,	/* plugged in and wants energy (B/C) */
	HAL_CAR_FULL,		/* plugged in, no longer draws (B after C) */
};

struct hal_meter {
	double	voltage[3];	/* V per phase */
	double	current[3];	/* A per phase */
	double	power;		/* W total */
	double	energy;		/* Wh, meter register (monotonic) */
};

enum hal_car hal_car_state(void);
int	 hal_meter_read(struct hal_meter *);
/*
 * Close (on != 0) or open the contactor, offering current_a amperes on
 * phases (1 or 3).  Opening is always allowed.
 */
int	 hal_contactor_set(int on, unsigned current_a, unsigned phases);
/*
 * The HAL calls fn(arg) on the firmware thread when the car state
 * changes (plug, unplug, car full), so the core reacts at once.
 */
void	 hal_car_notify(void (*fn)(void *), void *arg);

/* ------------------------------------------------------------------ */
/* Reboot.  Returns only on failure.                                  */

int	 hal_reboot(void);

/* ------------------------------------------------------------------ */
/* Firmware slots (A/B) and the boot-state record.                    */
/*                                                                    */
/* Two image slots of hal_slot_size() bytes.  The slot that runs is    */
/* never written.  The boot-state record says which slot the boot     */
/* loader starts; it is written atomically (old or new after a power  */
/* cut).  The boot loader's rule (the Linux HAL emulates it at start): */
/*   - try_once set: boot slot `active` once; clear try_once and set  */
/*     `trying` in the record before starting it;                     */
/*   - `trying` set and not `confirmed` at the next boot: the try     */
/*     failed: active = previous, trying = 0, confirmed = 1,           */
/*     rolled_back = 1;                                               */
/*   - otherwise boot `active`.                                       */
/* The update engine (issue 7) writes the inactive slot, then sets     */
/* {previous = active, active = new, try_once = 1, confirmed = 0} and */
/* reboots; after its self-test it sets confirmed = 1, trying = 0 and */
/* only then raises security_floor.                                   */

#define HAL_SLOT_A	0
#define HAL_SLOT_B	1
#define HAL_SLOT_VERSION_MAX	32

struct hal_boot_state {
	uint8_t		active;		/* slot the boot loader starts */
	uint8_t		previous;	/* slot to fall back to */
	uint8_t		try_once;	/* boot `active` once, unconfirmed */
	uint8_t		trying;		/* the one try is running */
	uint8_t		confirmed;	/* `active` passed its self-test */
	uint8_t		rolled_back;	/* the last try failed; reported */
	uint32_t	security_floor;	/* anti-rollback: lowest allowed */
	/* Version string of the image in each slot ("" if none). */
	char		version[2][HAL_SLOT_VERSION_MAX];
};

/* Size of one slot in bytes. */
uint64_t hal_slot_size(void);
/* The slot the running image was started from. */
int	 hal_slot_running(void);
/* Read from either slot. */
int	 hal_slot_read(int slot, uint64_t off, void *, size_t);
/* Write to the inactive slot only (-1 for the running one). */
int	 hal_slot_write(int slot, uint64_t off, const void *, size_t);
/* Erase the inactive slot (contents undefined, length 0). */
int	 hal_slot_erase(int slot);
/* Make what was written durable (fsync / flash write-back). */
int	 hal_slot_sync(int slot);
int	 hal_boot_state_get(struct hal_boot_state *);
/* Atomic replace of the record. */
int	 hal_boot_state_set(const struct hal_boot_state *);

#endif
