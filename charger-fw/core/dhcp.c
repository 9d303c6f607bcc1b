/*
 * dhcp: RFC 2131 client.  The parser at the top is pure and bounded; the
 * state machine below it has one driver per input (a message, a timer)
 * and changes state only through dhcp_set_state(), which logs.
 *
 * Decisions (doc/hal.md, doc/evcharger.8):
 * - The first DISCOVER waits a random 0-1 s, not the 1-10 s of RFC 2131
 *   4.4.1: a site's chargers already boot at different moments and a
 *   charger should be online quickly after a power cut.
 * - Retransmissions: 4, 8, 16, 32, 64 s (then 64 s forever) +-1 s jitter
 *   (RFC 2131 4.1).  SELECTING never gives up; REQUESTING gives up after
 *   four retransmissions and starts over in INIT.
 * - The first acceptable OFFER is taken (RFC allows it).
 * - RENEWING/REBINDING retransmit after half the remaining time to T2 /
 *   expiry, at least 60 s (RFC 2131 4.4.5).
 * - A NAK in any state removes the address and starts over.
 * - Leases shorter than DHCP_MIN_LEASE_S are taken as that long, and T1 is
 *   at least half of it (dhcpcd's rule).
 * - The lease is kept in the kv store; after a restart it is asked for
 *   again (INIT-REBOOT) with up to REBOOT_TRIES REQUESTs before INIT.  A
 *   server that does not answer is not taken as a yes (RFC 2131 4.4.2
 *   allows it): the RTC cannot say whether the lease still runs.
 * - A new address is checked with RFC 5227's ARP probes before it is
 *   configured; one in use is DECLINEd and INIT waits 10 s (RFC 2131
 *   3.1.5).  Two announcements follow the binding.  Defending a bound
 *   address (RFC 5227 2.4) is not done: a conflict is logged and counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arp.h"
#include "core/bytes.h"
#include "core/dhcp.h"
#include "core/fwlog.h"
#include "hal/hal.h"

#define BOOTP_FIXED	236	/* op .. file */
#define DHCP_COOKIE	0x63825363U
#define OPT_PAD		0
#define OPT_MASK	1
#define OPT_ROUTER	3
#define OPT_DNS		6
#define OPT_HOSTNAME	12
#define OPT_NTP		42
#define OPT_REQ_ADDR	50
#define OPT_LEASE	51
#define OPT_OVERLOAD	52
#define OPT_TYPE	53
#define OPT_SERVER_ID	54
#define OPT_PARAMS	55
#define OPT_MAX_SIZE	57
#define OPT_T1		58
#define OPT_T2		59
#define OPT_CLIENT_ID	61
#define OPT_END		255

/* Keep up to DHCP_MAX_ADDRS addresses of a list option (length 4n). */
static enum dhcp_parse_status
opt_addrs(const uint8_t *v, size_t l, uint32_t *out, unsigned *n)
{
	size_t i;

	if (l == 0 || l % 4 != 0)
		return DHCP_PARSE_BAD_LENGTH;
	for (i = 0; i < l / 4 && *n < DHCP_MAX_ADDRS; i++)
		out[(*n)++] = get32(v + 4 * i);
	return DHCP_PARSE_OK;
}

static enum dhcp_parse_status
opt_u32(const uint8_t *v, size_t l, uint32_t *out, int *has)
{
	if (l != 4)
		return DHCP_PARSE_BAD_LENGTH;
	*out = get32(v);
	*has = 1;
	return DHCP_PARSE_OK;
}

/*
 * Walk one option area.  The first instance of a single-valued option
 * wins (RFC 3396 concatenation is not needed for what we read).
 */
static enum dhcp_parse_status
parse_options(const uint8_t *p, size_t len, struct dhcp_msg *m,
    uint8_t *overload)
{
	enum dhcp_parse_status st = DHCP_PARSE_OK;
	size_t i = 0, l;
	const uint8_t *v;
	uint8_t code;

	while (i < len) {
		code = p[i++];
		if (code == OPT_PAD)
			continue;
		if (code == OPT_END)
			return DHCP_PARSE_OK;
		if (i >= len)
			return DHCP_PARSE_TRUNCATED;
		l = p[i++];
		if (l > len - i)
			return DHCP_PARSE_TRUNCATED;
		v = p + i;
		i += l;
		switch (code) {
		case OPT_TYPE:
			if (l != 1)
				return DHCP_PARSE_BAD_LENGTH;
			if (m->type == 0)
				m->type = v[0];
			break;
		case OPT_SERVER_ID:
			if (l != 4)
				return DHCP_PARSE_BAD_LENGTH;
			if (m->server_id == 0)
				m->server_id = get32(v);
			break;
		case OPT_MASK:
			if (!m->has_mask)
				st = opt_u32(v, l, &m->mask, &m->has_mask);
			break;
		case OPT_ROUTER:
			st = opt_addrs(v, l, m->routers, &m->nrouters);
			break;
		case OPT_DNS:
			st = opt_addrs(v, l, m->dns, &m->ndns);
			break;
		case OPT_NTP:
			st = opt_addrs(v, l, m->ntp, &m->nntp);
			break;
		case OPT_LEASE:
			if (!m->has_lease)
				st = opt_u32(v, l, &m->lease_s, &m->has_lease);
			break;
		case OPT_T1:
			if (!m->has_t1)
				st = opt_u32(v, l, &m->t1_s, &m->has_t1);
			break;
		case OPT_T2:
			if (!m->has_t2)
				st = opt_u32(v, l, &m->t2_s, &m->has_t2);
			break;
		case OPT_OVERLOAD:
			if (l != 1)
				return DHCP_PARSE_BAD_LENGTH;
			if (overload != NULL)
				*overload = v[0];
			break;
		default:
			break;
		}
		if (st != DHCP_PARSE_OK)
			return st;
	}
	/* A missing END is tolerated: many servers pad to the end. */
	return DHCP_PARSE_OK;
}

enum dhcp_parse_status
dhcp_parse(const uint8_t *buf, size_t len, struct dhcp_msg *m)
{
	enum dhcp_parse_status st;
	uint8_t overload = 0;

	memset(m, 0, sizeof(*m));
	if (len < BOOTP_FIXED + 4)
		return len < BOOTP_FIXED ? DHCP_PARSE_SHORT :
		    DHCP_PARSE_NO_COOKIE;
	if (buf[0] != 2)
		return DHCP_PARSE_NOT_REPLY;
	if (buf[1] != 1 || buf[2] != 6)
		return DHCP_PARSE_BAD_HTYPE;
	m->xid = get32(buf + 4);
	m->ciaddr = get32(buf + 12);
	m->yiaddr = get32(buf + 16);
	memcpy(m->chaddr, buf + 28, 6);
	if (get32(buf + BOOTP_FIXED) != DHCP_COOKIE)
		return DHCP_PARSE_NO_COOKIE;
	st = parse_options(buf + BOOTP_FIXED + 4, len - BOOTP_FIXED - 4, m,
	    &overload);
	if (st != DHCP_PARSE_OK)
		return st;
	/* Option overload (RFC 2132 9.3): file (1), sname (2) or both (3). */
	if ((overload & 1) &&
	    (st = parse_options(buf + 108, 128, m, NULL)) != DHCP_PARSE_OK)
		return st;
	if ((overload & 2) &&
	    (st = parse_options(buf + 44, 64, m, NULL)) != DHCP_PARSE_OK)
		return st;
	if (m->type == 0)
		return DHCP_PARSE_NO_TYPE;
	return DHCP_PARSE_OK;
}

const char *
dhcp_parse_strerror(enum dhcp_parse_status st)
{
	switch (st) {
	case DHCP_PARSE_OK:
		return "ok";
	case DHCP_PARSE_SHORT:
		return "shorter than a BOOTP header";
	case DHCP_PARSE_NOT_REPLY:
		return "not a BOOTREPLY";
	case DHCP_PARSE_BAD_HTYPE:
		return "not Ethernet";
	case DHCP_PARSE_NO_COOKIE:
		return "no DHCP magic cookie";
	case DHCP_PARSE_TRUNCATED:
		return "option runs past the end";
	case DHCP_PARSE_BAD_LENGTH:
		return "option has a wrong length";
	case DHCP_PARSE_NO_TYPE:
		return "no message type";
	}
	return "?";
}

/* ------------------------------------------------------------------ */
/* The client.                                                        */

#define SEC	1000ULL
#define NEVER	UINT64_MAX
#define REQUEST_TRIES	5	/* first send + four retransmissions */
#define REBOOT_TRIES	3	/* INIT-REBOOT REQUESTs before INIT */
#define DECLINE_WAIT	(10 * SEC)
#define ANNOUNCE_NUM	2
#define ANNOUNCE_INTERVAL (2 * SEC)
#define KV_LEASE	"dhcp.lease"

struct dhcp_client {
	char			 ifname[32];
	int			 fd;
	uint8_t			 mac[6];
	char			 id[64];
	struct dhcp_client_cb	 cb;

	enum dhcp_state		 state;
	uint32_t		 xid;
	uint64_t		 xid_start_ms;	/* for the secs field */
	unsigned		 attempt;	/* sends in this state */
	uint64_t		 timer_ms;	/* next send or change */
	uint32_t		 offer_addr;
	uint32_t		 offer_server;
	uint64_t		 request_ms;	/* last REQUEST sent */
	struct dhcp_lease	 lease;
	struct dhcp_lease	 kept;		/* INIT-REBOOT asks for it */
	struct dhcp_lease	 cand;		/* PROBING checks it */
	int			 arp_fd;
	unsigned		 probes;
	unsigned		 announces;	/* left to send */
	uint64_t		 announce_ms;
	char			 saved[DHCP_LEASE_TEXT_MAX];
	struct dhcp_stats	 stats;
};

const char *
dhcp_state_name(enum dhcp_state s)
{
	static const char *const names[] = { "init", "selecting",
		"requesting", "bound", "renewing", "rebinding", "init-reboot",
		"rebooting", "probing" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

uint64_t
dhcp_backoff_ms(unsigned n, int jitter_ms)
{
	uint64_t base = 4 * SEC << (n < 4 ? n : 4);

	if (jitter_ms < -1000)
		jitter_ms = -1000;
	if (jitter_ms > 1000)
		jitter_ms = 1000;
	return (uint64_t)((int64_t)base + jitter_ms);
}

static int
random_jitter(void)
{
	uint16_t r;

	hal_random(&r, sizeof(r));
	return (int)(r % 2001) - 1000;
}

static void
dhcp_set_state(struct dhcp_client *c, enum dhcp_state s)
{
	if (c->state != s)
		fw_debug("dhcp: %s -> %s", dhcp_state_name(c->state),
		    dhcp_state_name(s));
	c->state = s;
	c->attempt = 0;
}

/* Build a DISCOVER or REQUEST; returns its length. */
static size_t
dhcp_build(struct dhcp_client *c, uint8_t type, uint32_t ciaddr,
    uint32_t req_addr, uint32_t server_id, uint64_t now, uint8_t *b)
{
	static const uint8_t params[] = { OPT_MASK, OPT_ROUTER, OPT_DNS,
		OPT_NTP, OPT_LEASE, OPT_T1, OPT_T2 };
	size_t idlen = strlen(c->id), i;
	uint64_t secs = (now - c->xid_start_ms) / SEC;

	memset(b, 0, DHCP_MSG_MAX);
	b[0] = 1;		/* BOOTREQUEST */
	b[1] = 1;		/* Ethernet */
	b[2] = 6;
	put32(b + 4, c->xid);
	b[8] = (secs > 0xffff ? 0xffff : secs) >> 8;
	b[9] = (secs > 0xffff ? 0xffff : secs) & 0xff;
	put32(b + 12, ciaddr);
	memcpy(b + 28, c->mac, 6);
	put32(b + BOOTP_FIXED, DHCP_COOKIE);
	i = BOOTP_FIXED + 4;
	b[i++] = OPT_TYPE;
	b[i++] = 1;
	b[i++] = type;
	b[i++] = OPT_CLIENT_ID;
	b[i++] = (uint8_t)(idlen + 1);
	b[i++] = 0;		/* type 0: not a hardware address */
	memcpy(b + i, c->id, idlen);
	i += idlen;
	if (type != DHCP_DECLINE) {
		b[i++] = OPT_HOSTNAME;
		b[i++] = (uint8_t)idlen;
		memcpy(b + i, c->id, idlen);
		i += idlen;
	}
	if (req_addr != 0) {
		b[i++] = OPT_REQ_ADDR;
		b[i++] = 4;
		put32(b + i, req_addr);
		i += 4;
	}
	if (server_id != 0) {
		b[i++] = OPT_SERVER_ID;
		b[i++] = 4;
		put32(b + i, server_id);
		i += 4;
	}
	/* RFC 2131 table 5: a DECLINE asks for nothing. */
	if (type != DHCP_DECLINE) {
		b[i++] = OPT_MAX_SIZE;
		b[i++] = 2;
		b[i++] = DHCP_MSG_MAX >> 8;
		b[i++] = DHCP_MSG_MAX & 0xff;
		b[i++] = OPT_PARAMS;
		b[i++] = sizeof(params);
		memcpy(b + i, params, sizeof(params));
		i += sizeof(params);
	}
	b[i++] = OPT_END;
	/* Pad to the BOOTP minimum of 300 bytes some relays insist on. */
	return i < 300 ? 300 : i;
}

static void
dhcp_send(struct dhcp_client *c, uint8_t type, uint64_t now)
{
	uint8_t b[DHCP_MSG_MAX];
	uint32_t ciaddr = 0, req = 0, sid = 0, dst = HAL_IP_BROADCAST;
	uint32_t src = 0;
	size_t len;

	switch (c->state) {
	case DHCP_S_REQUESTING:		/* RFC 2131 4.3.2, SELECTING */
		req = c->offer_addr;
		sid = c->offer_server;
		break;
	case DHCP_S_REBOOTING:		/* RFC 2131 4.3.2, INIT-REBOOT */
		req = c->kept.addr;
		break;
	case DHCP_S_PROBING:		/* a DECLINE of the candidate */
		req = c->cand.addr;
		sid = c->cand.server_id;
		break;
	case DHCP_S_RENEWING:		/* unicast to the server */
		ciaddr = src = c->lease.addr;
		dst = c->lease.server_id;
		break;
	case DHCP_S_REBINDING:
		ciaddr = src = c->lease.addr;
		break;
	default:
		break;
	}
	len = dhcp_build(c, type, ciaddr, req, sid, now, b);
	if (hal_pkt_send(c->fd, src, dst, b, len) == -1)
		fw_warn("dhcp: send on %s failed", c->ifname);
	else
		c->stats.tx++;
	if (type == DHCP_REQUEST)
		c->request_ms = now;
}

static void
dhcp_new_xid(struct dhcp_client *c, uint64_t now)
{
	hal_random(&c->xid, sizeof(c->xid));
	c->xid_start_ms = now;
}

static void
dhcp_unconfigure(struct dhcp_client *c)
{
	char a[16];

	fw_info("dhcp: lease %s on %s lost", fw_ipstr(c->lease.addr, a),
	    c->ifname);
	hal_net_configure(c->ifname, 0, 0, 0);
	memset(&c->lease, 0, sizeof(c->lease));
	if (c->cb.lost != NULL)
		c->cb.lost(c->cb.arg);
}

static void
dhcp_restart(struct dhcp_client *c, uint64_t now, uint64_t delay)
{
	dhcp_set_state(c, DHCP_S_INIT);
	c->timer_ms = now + delay;
}

/* Milliseconds from the lease start to a point given in seconds. */
static uint64_t
lease_at(const struct dhcp_lease *l, uint32_t s)
{
	if (l->lease_s == 0xffffffffU)
		return NEVER;
	return l->start_ms + (uint64_t)s * SEC;
}

/* Half the remaining time to `until`, at least 60 s (RFC 2131 4.4.5). */
static uint64_t
half_remaining(uint64_t now, uint64_t until)
{
	uint64_t half = until > now ? (until - now) / 2 : 0;

	if (half < 60 * SEC)
		half = 60 * SEC;
	return now + half;
}

/* The lease in store, when it changed (renewals rewrite nothing). */
static void
dhcp_keep(struct dhcp_client *c)
{
	char text[DHCP_LEASE_TEXT_MAX];

	if (dhcp_lease_encode(&c->lease, text, sizeof(text)) == -1 ||
	    strcmp(text, c->saved) == 0)
		return;
	if (hal_kv_set(KV_LEASE, text, strlen(text)) == -1)
		fw_warn("dhcp: cannot keep the lease");
	else
		snprintf(c->saved, sizeof(c->saved), "%s", text);
}

static void
dhcp_forget(struct dhcp_client *c)
{
	memset(&c->kept, 0, sizeof(c->kept));
	c->saved[0] = '\0';
	hal_kv_del(KV_LEASE);
}

static void
dhcp_announce(struct dhcp_client *c)
{
	uint8_t b[ARP_LEN];

	arp_build(b, c->mac, c->lease.addr, c->lease.addr);
	if (hal_arp_send(c->arp_fd, b, sizeof(b)) == -1)
		fw_warn("dhcp: ARP announcement on %s failed", c->ifname);
}

/* Configure the lease and go BOUND. */
static void
dhcp_bind(struct dhcp_client *c, const struct dhcp_lease *l, uint64_t now)
{
	char a[16], r[16];
	int isnew = c->lease.addr != l->addr;

	if (hal_net_configure(c->ifname, l->addr, l->mask, l->router) == -1)
		fw_warn("dhcp: configuring %s failed", c->ifname);
	if (isnew)
		fw_info("dhcp: bound to %s on %s, router %s, lease %us",
		    fw_ipstr(l->addr, a), c->ifname, fw_ipstr(l->router, r),
		    l->lease_s);
	else
		fw_debug("dhcp: lease renewed for %us", l->lease_s);
	c->lease = *l;
	c->stats.leases++;
	dhcp_set_state(c, DHCP_S_BOUND);
	c->timer_ms = lease_at(&c->lease, c->lease.t1_s);
	dhcp_keep(c);
	/* RFC 5227 2.3: tell the segment the address is ours now. */
	if (isnew && c->arp_fd != -1) {
		dhcp_announce(c);
		c->announces = ANNOUNCE_NUM - 1;
		c->announce_ms = now + ANNOUNCE_INTERVAL;
	}
	if (c->cb.bound != NULL)
		c->cb.bound(c->cb.arg, &c->lease);
}

static void
dhcp_accept_ack(struct dhcp_client *c, const struct dhcp_msg *m,
    uint64_t now)
{
	struct dhcp_lease l;
	uint16_t rnd;

	memset(&l, 0, sizeof(l));
	l.addr = m->yiaddr;
	l.mask = m->has_mask ? m->mask : 0xffffff00U;
	l.router = m->nrouters > 0 ? m->routers[0] : 0;
	l.server_id = m->server_id != 0 ? m->server_id :
	    c->lease.server_id != 0 ? c->lease.server_id : c->offer_server;
	memcpy(l.dns, m->dns, sizeof(l.dns));
	l.ndns = m->ndns;
	memcpy(l.ntp, m->ntp, sizeof(l.ntp));
	l.nntp = m->nntp;
	l.lease_s = m->lease_s;
	if (l.lease_s < DHCP_MIN_LEASE_S) {
		if (c->stats.clamped++ == 0)
			fw_warn("dhcp: a lease of %us is taken as %us",
			    l.lease_s, DHCP_MIN_LEASE_S);
		l.lease_s = DHCP_MIN_LEASE_S;
	}
	/* T1 < T2 < lease, else the RFC defaults 0.5 and 0.875. */
	l.t1_s = m->has_t1 ? m->t1_s : l.lease_s / 2;
	l.t2_s = m->has_t2 ? m->t2_s : (uint32_t)((uint64_t)l.lease_s * 7 / 8);
	if (l.t2_s >= l.lease_s || l.t2_s == 0)
		l.t2_s = (uint32_t)((uint64_t)l.lease_s * 7 / 8);
	if (l.t1_s >= l.t2_s || l.t1_s < DHCP_MIN_LEASE_S / 2)
		l.t1_s = l.lease_s / 2;
	l.start_ms = c->request_ms;

	/* A new address is checked first (RFC 5227); a renewal is not. */
	if (c->arp_fd != -1 && (c->state == DHCP_S_REQUESTING ||
	    c->state == DHCP_S_REBOOTING) && l.addr != c->lease.addr) {
		c->cand = l;
		dhcp_set_state(c, DHCP_S_PROBING);
		c->probes = 0;
		hal_random(&rnd, sizeof(rnd));
		c->timer_ms = now + rnd % ARP_PROBE_WAIT;
		return;
	}
	dhcp_bind(c, &l, now);
}

/* The candidate is in use: DECLINE it, and start over after a while. */
static void
dhcp_decline(struct dhcp_client *c, const struct arp_pkt *p, uint64_t now)
{
	char a[16];

	fw_warn("dhcp: %s is in use by %02x:%02x:%02x:%02x:%02x:%02x: "
	    "declined", fw_ipstr(c->cand.addr, a), p->sha[0], p->sha[1],
	    p->sha[2], p->sha[3], p->sha[4], p->sha[5]);
	c->stats.declines++;
	dhcp_send(c, DHCP_DECLINE, now);
	if (c->kept.addr == c->cand.addr)
		dhcp_forget(c);
	memset(&c->cand, 0, sizeof(c->cand));
	dhcp_restart(c, now, DECLINE_WAIT);
}

struct dhcp_client *
dhcp_client_new(const char *ifname, int fd, const uint8_t mac[6],
    const char *client_id, const struct dhcp_client_cb *cb)
{
	struct dhcp_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	snprintf(c->ifname, sizeof(c->ifname), "%s", ifname);
	c->fd = fd;
	memcpy(c->mac, mac, 6);
	/* Options 12 and 61 carry at most 254 bytes; ids are short. */
	snprintf(c->id, sizeof(c->id), "%s", client_id);
	if (cb != NULL)
		c->cb = *cb;
	c->state = DHCP_S_INIT;
	c->timer_ms = NEVER;
	c->announce_ms = NEVER;
	c->arp_fd = -1;
	return c;
}

void
dhcp_client_arp(struct dhcp_client *c, int fd)
{
	c->arp_fd = fd;
}

void
dhcp_client_free(struct dhcp_client *c)
{
	free(c);
}

void
dhcp_client_start(struct dhcp_client *c, uint64_t now)
{
	char text[DHCP_LEASE_TEXT_MAX];
	uint16_t r;
	size_t len;

	hal_random(&r, sizeof(r));
	dhcp_restart(c, now, r % 1000);
	if (hal_kv_get(KV_LEASE, text, sizeof(text) - 1, &len) == 0 &&
	    len < sizeof(text)) {
		text[len] = '\0';
		if (dhcp_lease_decode(text, len, &c->kept) == 0) {
			dhcp_set_state(c, DHCP_S_INIT_REBOOT);
			snprintf(c->saved, sizeof(c->saved), "%s", text);
		} else
			fw_warn("dhcp: the kept lease is unreadable");
	}
}

enum dhcp_state
dhcp_client_state(const struct dhcp_client *c)
{
	return c->state;
}

const struct dhcp_lease *
dhcp_client_lease(const struct dhcp_client *c)
{
	switch (c->state) {
	case DHCP_S_BOUND:
	case DHCP_S_RENEWING:
	case DHCP_S_REBINDING:
		return &c->lease;
	default:
		return NULL;
	}
}

const struct dhcp_stats *
dhcp_client_stats(const struct dhcp_client *c)
{
	return &c->stats;
}

uint64_t
dhcp_client_deadline(const struct dhcp_client *c)
{
	return c->announces > 0 && c->announce_ms < c->timer_ms ?
	    c->announce_ms : c->timer_ms;
}

void
dhcp_client_input(struct dhcp_client *c, const uint8_t *buf, size_t len,
    uint64_t now)
{
	static struct { uint64_t last; unsigned n; } rl;
	enum dhcp_parse_status st;
	struct dhcp_msg m;

	c->stats.rx++;
	if ((st = dhcp_parse(buf, len, &m)) != DHCP_PARSE_OK) {
		c->stats.rx_malformed++;
		/* Rate-limited: anyone on the segment can send these. */
		if (now - rl.last > 60 * SEC) {
			rl.last = now;
			fw_warn("dhcp: dropped a malformed message (%s); "
			    "%lu so far",
			    dhcp_parse_strerror(st), c->stats.rx_malformed);
		}
		return;
	}
	if (m.xid != c->xid || memcmp(m.chaddr, c->mac, 6) != 0) {
		c->stats.rx_ignored++;
		return;
	}

	switch (c->state) {
	case DHCP_S_SELECTING:
		if (m.type != DHCP_OFFER || m.yiaddr == 0 || m.server_id == 0)
			break;
		c->offer_addr = m.yiaddr;
		c->offer_server = m.server_id;
		dhcp_set_state(c, DHCP_S_REQUESTING);
		dhcp_send(c, DHCP_REQUEST, now);
		c->timer_ms = now + dhcp_backoff_ms(c->attempt++,
		    random_jitter());
		return;
	case DHCP_S_REQUESTING:
	case DHCP_S_REBOOTING:
	case DHCP_S_RENEWING:
	case DHCP_S_REBINDING:
		if (m.type == DHCP_NAK) {
			/* Only from the server we asked, when we know it. */
			if (c->state == DHCP_S_REQUESTING &&
			    m.server_id != 0 && m.server_id != c->offer_server)
				break;
			c->stats.naks++;
			fw_info("dhcp: NAK in %s", dhcp_state_name(c->state));
			if (c->state == DHCP_S_REBOOTING)
				dhcp_forget(c);	/* not this network's */
			else if (c->state != DHCP_S_REQUESTING)
				dhcp_unconfigure(c);
			dhcp_restart(c, now, 0);
			dhcp_client_tick(c, now);
			return;
		}
		if (m.type != DHCP_ACK || m.yiaddr == 0 || !m.has_lease)
			break;
		if (c->state == DHCP_S_REQUESTING &&
		    m.yiaddr != c->offer_addr)
			break;
		if (c->state == DHCP_S_REBOOTING && m.yiaddr != c->kept.addr)
			break;
		if ((c->state == DHCP_S_RENEWING ||
		    c->state == DHCP_S_REBINDING) && m.yiaddr != c->lease.addr)
			break;
		dhcp_accept_ack(c, &m, now);
		return;
	default:
		break;
	}
	c->stats.rx_ignored++;
}

void
dhcp_client_tick(struct dhcp_client *c, uint64_t now)
{
	uint64_t t2, end;
	uint16_t rnd;
	uint8_t b[ARP_LEN];

	if (c->announces > 0 && now >= c->announce_ms) {
		dhcp_announce(c);
		if (--c->announces > 0)
			c->announce_ms = now + ANNOUNCE_INTERVAL;
	}
	if (now < c->timer_ms)
		return;
	switch (c->state) {
	case DHCP_S_INIT_REBOOT:
		dhcp_new_xid(c, now);
		dhcp_set_state(c, DHCP_S_REBOOTING);
		/* FALLTHROUGH */
	case DHCP_S_REBOOTING:
		if (c->attempt >= REBOOT_TRIES) {
			fw_info("dhcp: no answer for %s: asking for a new "
			    "lease", "the kept address");
			dhcp_restart(c, now, 0);
			dhcp_client_tick(c, now);
			break;
		}
		dhcp_send(c, DHCP_REQUEST, now);
		c->timer_ms = now + dhcp_backoff_ms(c->attempt++,
		    random_jitter());
		break;
	case DHCP_S_PROBING:
		if (c->probes < ARP_PROBE_NUM) {
			arp_build(b, c->mac, 0, c->cand.addr);
			if (hal_arp_send(c->arp_fd, b, sizeof(b)) == -1)
				fw_warn("dhcp: ARP probe on %s failed",
				    c->ifname);
			c->probes++;
			hal_random(&rnd, sizeof(rnd));
			c->timer_ms = now + (c->probes < ARP_PROBE_NUM ?
			    ARP_PROBE_MIN + rnd % (ARP_PROBE_MAX -
			    ARP_PROBE_MIN) : ARP_ANNOUNCE_WAIT);
			break;
		}
		/* Nobody answered: the address is ours. */
		dhcp_bind(c, &c->cand, now);
		break;
	case DHCP_S_INIT:
		dhcp_new_xid(c, now);
		dhcp_set_state(c, DHCP_S_SELECTING);
		/* FALLTHROUGH */
	case DHCP_S_SELECTING:
		dhcp_send(c, DHCP_DISCOVER, now);
		c->timer_ms = now + dhcp_backoff_ms(c->attempt++,
		    random_jitter());
		break;
	case DHCP_S_REQUESTING:
		if (c->attempt >= REQUEST_TRIES) {
			fw_info("dhcp: no ACK for our REQUEST; starting over");
			dhcp_restart(c, now, 0);
			dhcp_client_tick(c, now);
			break;
		}
		dhcp_send(c, DHCP_REQUEST, now);
		c->timer_ms = now + dhcp_backoff_ms(c->attempt++,
		    random_jitter());
		break;
	case DHCP_S_BOUND:
		/* T1 reached. */
		dhcp_set_state(c, DHCP_S_RENEWING);
		dhcp_new_xid(c, now);
		/* FALLTHROUGH */
	case DHCP_S_RENEWING:
		t2 = lease_at(&c->lease, c->lease.t2_s);
		if (now >= t2) {
			dhcp_set_state(c, DHCP_S_REBINDING);
			dhcp_new_xid(c, now);
			dhcp_client_tick(c, now);
			break;
		}
		dhcp_send(c, DHCP_REQUEST, now);
		c->timer_ms = half_remaining(now, t2);
		if (c->timer_ms > t2)
			c->timer_ms = t2;
		break;
	case DHCP_S_REBINDING:
		end = lease_at(&c->lease, c->lease.lease_s);
		if (now >= end) {
			dhcp_unconfigure(c);
			dhcp_restart(c, now, 0);
			dhcp_client_tick(c, now);
			break;
		}
		dhcp_send(c, DHCP_REQUEST, now);
		c->timer_ms = half_remaining(now, end);
		if (c->timer_ms > end)
			c->timer_ms = end;
		break;
	}
}

void
dhcp_client_arp_input(struct dhcp_client *c, const uint8_t *buf, size_t len,
    uint64_t now)
{
	struct arp_pkt p;
	char a[16];

	if (arp_parse(buf, len, &p) != ARP_PARSE_OK)
		return;
	if (c->state == DHCP_S_PROBING &&
	    arp_conflict(&p, c->cand.addr, c->mac)) {
		dhcp_decline(c, &p, now);
		return;
	}
	if ((c->state == DHCP_S_BOUND || c->state == DHCP_S_RENEWING ||
	    c->state == DHCP_S_REBINDING) && p.spa == c->lease.addr &&
	    memcmp(p.sha, c->mac, 6) != 0) {
		c->stats.conflicts++;
		fw_warn("dhcp: another host (%02x:%02x:%02x:%02x:%02x:%02x) "
		    "uses our address %s", p.sha[0], p.sha[1], p.sha[2],
		    p.sha[3], p.sha[4], p.sha[5], fw_ipstr(p.spa, a));
	}
}

/* ------------------------------------------------------------------ */
/* The kept lease: "v1 addr mask router server lease ndns dns... nntp   */
/* ntp..." with addresses in hex.                                      */

int
dhcp_lease_encode(const struct dhcp_lease *l, char *buf, size_t cap)
{
	size_t n = 0, i;
	int k;

#define OUT(...) do {							\
	k = snprintf(buf + n, cap - n, __VA_ARGS__);			\
	if (k < 0 || (size_t)k >= cap - n)				\
		return -1;						\
	n += (size_t)k;							\
} while (0)
	if (cap == 0)
		return -1;
	OUT("v1 %08x %08x %08x %08x %u %u", l->addr, l->mask, l->router,
	    l->server_id, l->lease_s, l->ndns);
	for (i = 0; i < l->ndns && i < DHCP_MAX_ADDRS; i++)
		OUT(" %08x", l->dns[i]);
	OUT(" %u", l->nntp);
	for (i = 0; i < l->nntp && i < DHCP_MAX_ADDRS; i++)
		OUT(" %08x", l->ntp[i]);
#undef OUT
	return 0;
}

/* The next space-separated number of base at *p; -1 if none. */
static int
next_num(const char **p, const char *end, int base, uint32_t *out)
{
	char tmp[16];
	size_t n = 0;
	unsigned long v;
	char *e;

	while (*p < end && **p == ' ')
		(*p)++;
	while (*p < end && **p != ' ' && n < sizeof(tmp) - 1)
		tmp[n++] = *(*p)++;
	if (n == 0 || n > 10 || (*p < end && **p != ' '))
		return -1;
	tmp[n] = '\0';
	v = strtoul(tmp, &e, base);
	if (*e != '\0' || v > 0xffffffffUL)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int
dhcp_lease_decode(const char *buf, size_t len, struct dhcp_lease *out)
{
	const char *p = buf, *end = buf + len;
	struct dhcp_lease l;
	uint32_t i;

	memset(&l, 0, sizeof(l));
	if (len < 3 || memcmp(buf, "v1 ", 3) != 0)
		return -1;
	p += 3;
	if (next_num(&p, end, 16, &l.addr) == -1 ||
	    next_num(&p, end, 16, &l.mask) == -1 ||
	    next_num(&p, end, 16, &l.router) == -1 ||
	    next_num(&p, end, 16, &l.server_id) == -1 ||
	    next_num(&p, end, 10, &l.lease_s) == -1 ||
	    next_num(&p, end, 10, &l.ndns) == -1 || l.ndns > DHCP_MAX_ADDRS)
		return -1;
	for (i = 0; i < l.ndns; i++)
		if (next_num(&p, end, 16, &l.dns[i]) == -1)
			return -1;
	if (next_num(&p, end, 10, &l.nntp) == -1 || l.nntp > DHCP_MAX_ADDRS)
		return -1;
	for (i = 0; i < l.nntp; i++)
		if (next_num(&p, end, 16, &l.ntp[i]) == -1)
			return -1;
	if (p != end || l.addr == 0 || l.addr == 0xffffffffU)
		return -1;
	*out = l;
	return 0;
}
