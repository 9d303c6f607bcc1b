/*
 * dhcp: the DHCP client (RFC 2131) on the HAL's packet socket.
 *
 * Two halves: a pure, bounded parser of BOOTP/DHCP messages (fuzzed:
 * tests/fuzz/fuzz_dhcp.c) and the client state machine INIT -> SELECTING ->
 * REQUESTING -> [PROBING] -> BOUND -> RENEWING (unicast at T1) ->
 * REBINDING (broadcast at T2) -> INIT at expiry or NAK.  After a restart
 * with a lease kept from before: INIT-REBOOT -> REBOOTING (REQUEST for
 * that address, RFC 2131 4.3.2) -> [PROBING] -> BOUND, or INIT on a NAK or
 * silence.  PROBING is RFC 5227's conflict check of a new address (ARP
 * probes); an address in use is DECLINEd.  The client is driven by time
 * passed in by the caller (dhcp_client_tick / dhcp_client_deadline) so
 * the unit tests run it on a fake clock; it sends through hal_pkt_send()
 * and hal_arp_send(), configures the interface through
 * hal_net_configure(), and keeps its lease in the kv store ("dhcp.lease").
 */
#ifndef EVFW_DHCP_H
#define EVFW_DHCP_H

#include <stddef.h>
#include <stdint.h>

#define DHCP_MAX_ADDRS		4	/* routers, DNS or NTP servers kept */
#define DHCP_MSG_MAX		576	/* what we send; RFC 2131 minimum MTU */
/*
 * The shortest lease taken (dhcpcd's): a server that gives 1 s would get a
 * REQUEST every half second, one that gives 0 a bind/unbind loop.
 */
#define DHCP_MIN_LEASE_S	20
#define DHCP_LEASE_TEXT_MAX	160	/* dhcp_lease_encode's text */

enum dhcp_type {
	DHCP_DISCOVER = 1,
	DHCP_OFFER,
	DHCP_REQUEST,
	DHCP_DECLINE,
	DHCP_ACK,
	DHCP_NAK,
	DHCP_RELEASE,
	DHCP_INFORM,
};

enum dhcp_parse_status {
	DHCP_PARSE_OK = 0,
	DHCP_PARSE_SHORT,	/* shorter than the fixed BOOTP header */
	DHCP_PARSE_NOT_REPLY,	/* op is not BOOTREPLY */
	DHCP_PARSE_BAD_HTYPE,	/* not Ethernet / hlen 6 */
	DHCP_PARSE_NO_COOKIE,	/* magic cookie missing: plain BOOTP */
	DHCP_PARSE_TRUNCATED,	/* an option runs past the end */
	DHCP_PARSE_BAD_LENGTH,	/* an option's length is wrong for it */
	DHCP_PARSE_NO_TYPE,	/* no option 53 */
};

/* One parsed message: what the client uses, host byte order. */
struct dhcp_msg {
	uint32_t	xid;
	uint32_t	ciaddr;
	uint32_t	yiaddr;
	uint8_t		chaddr[6];
	uint8_t		type;		/* enum dhcp_type */
	uint32_t	server_id;	/* option 54, 0 if absent */
	uint32_t	mask;		/* option 1 */
	int		has_mask;
	uint32_t	routers[DHCP_MAX_ADDRS];	/* option 3 */
	unsigned	nrouters;
	uint32_t	dns[DHCP_MAX_ADDRS];		/* option 6 */
	unsigned	ndns;
	uint32_t	ntp[DHCP_MAX_ADDRS];		/* option 42 */
	unsigned	nntp;
	uint32_t	lease_s;	/* option 51 */
	int		has_lease;
	uint32_t	t1_s;		/* option 58 */
	int		has_t1;
	uint32_t	t2_s;		/* option 59 */
	int		has_t2;
};

/* Parse a BOOTP payload.  Pure; reads at most len bytes. */
enum dhcp_parse_status dhcp_parse(const uint8_t *, size_t, struct dhcp_msg *);
const char *dhcp_parse_strerror(enum dhcp_parse_status);

enum dhcp_state {
	DHCP_S_INIT = 0,
	DHCP_S_SELECTING,
	DHCP_S_REQUESTING,
	DHCP_S_BOUND,
	DHCP_S_RENEWING,
	DHCP_S_REBINDING,
	DHCP_S_INIT_REBOOT,	/* a kept lease: REQUEST it again */
	DHCP_S_REBOOTING,
	DHCP_S_PROBING,		/* ACKed: is the address free (ARP)? */
};
const char *dhcp_state_name(enum dhcp_state);

struct dhcp_lease {
	uint32_t	addr;
	uint32_t	mask;
	uint32_t	router;		/* 0: none */
	uint32_t	server_id;
	uint32_t	dns[DHCP_MAX_ADDRS];
	unsigned	ndns;
	uint32_t	ntp[DHCP_MAX_ADDRS];
	unsigned	nntp;
	uint32_t	lease_s;	/* 0xffffffff: infinite */
	uint32_t	t1_s;
	uint32_t	t2_s;
	uint64_t	start_ms;	/* mono time the REQUEST was sent */
};

struct dhcp_stats {
	unsigned long	rx;		/* payloads handed in */
	unsigned long	rx_malformed;	/* dropped by the parser */
	unsigned long	rx_ignored;	/* valid, not for us or not now */
	unsigned long	tx;
	unsigned long	naks;
	unsigned long	leases;		/* ACKs accepted */
	unsigned long	declines;	/* addresses found in use (RFC 5227) */
	unsigned long	conflicts;	/* our bound address seen in use */
	unsigned long	clamped;	/* leases shorter than the minimum */
};

struct dhcp_client_cb {
	/* A lease was acquired or renewed (address configured already). */
	void	(*bound)(void *arg, const struct dhcp_lease *);
	/* The lease was lost (NAK or expiry; address removed). */
	void	(*lost)(void *arg);
	void	*arg;
};

struct dhcp_client;

/*
 * A client on interface ifname using packet socket fd (from
 * hal_pkt_open) with hardware address mac; client_id is both option 61
 * and the hostname (option 12).  Copies what it keeps.
 */
struct dhcp_client *dhcp_client_new(const char *ifname, int fd,
	    const uint8_t mac[6], const char *client_id,
	    const struct dhcp_client_cb *);
void	 dhcp_client_free(struct dhcp_client *);
/*
 * Check new addresses with ARP on descriptor fd (hal_arp_open) before
 * taking them; -1 (the default) takes them unchecked.
 */
void	 dhcp_client_arp(struct dhcp_client *, int fd);
/*
 * Start: INIT-REBOOT with the lease kept from before, if any, else INIT;
 * the first message goes out after a short random delay.
 */
void	 dhcp_client_start(struct dhcp_client *, uint64_t now_ms);
/* An ARP payload from hal_arp_recv. */
void	 dhcp_client_arp_input(struct dhcp_client *, const uint8_t *, size_t,
	    uint64_t now_ms);
/* A payload from hal_pkt_recv. */
void	 dhcp_client_input(struct dhcp_client *, const uint8_t *, size_t,
	    uint64_t now_ms);
/* Run timers due at now_ms. */
void	 dhcp_client_tick(struct dhcp_client *, uint64_t now_ms);
/* Mono time of the next timer (UINT64_MAX: none). */
uint64_t dhcp_client_deadline(const struct dhcp_client *);
enum dhcp_state dhcp_client_state(const struct dhcp_client *);
/* The current lease (NULL unless BOUND/RENEWING/REBINDING). */
const struct dhcp_lease *dhcp_client_lease(const struct dhcp_client *);
const struct dhcp_stats *dhcp_client_stats(const struct dhcp_client *);

/*
 * A lease as one line of text (what the client keeps), and back; the
 * decoder is bounded and checks what it reads.  start_ms is not kept.
 */
int	 dhcp_lease_encode(const struct dhcp_lease *, char *, size_t);
int	 dhcp_lease_decode(const char *, size_t, struct dhcp_lease *);

/*
 * Retransmission delay for attempt n (0-based): 4, 8, 16, 32, 64, 64...
 * seconds plus jitter_ms (expected in [-1000, 1000]).  Exposed for tests.
 */
uint64_t dhcp_backoff_ms(unsigned n, int jitter_ms);

#endif
