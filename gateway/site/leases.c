/*
 * leases: the lease database (see leases.h).  Two red-black trees over the
 * same entries: by MAC (every entry) and by address (entries holding a
 * lease), the second for the relay, which names each accepted connection
 * by its client address.
 */
#include "evgate_config.h"

#include <sys/stat.h>
/* libbsd's tree.h marks generated functions __unused, a BSD-ism. */
#ifndef __unused
#define __unused __attribute__((unused))
#endif
#include <sys/tree.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/control.h"
#include "site/lan.h"
#include "site/leases.h"
#include "common/log.h"
#include "common/util.h"

#define LEASE_TIME_DIGITS	12	/* epoch seconds up to year 33658 */
#define LEASE_FILE_HEADER	"# evgate lease database v1: expires mac " \
	"address hostname client-id charger first-seen last-seen\n"

struct lease {
	RB_ENTRY(lease)		 by_mac;
	RB_ENTRY(lease)		 by_addr;
	int			 in_addr_tree;
	struct lease_info	 i;
};

RB_HEAD(lease_mac_tree, lease);
RB_HEAD(lease_addr_tree, lease);

struct leases {
	struct lease_mac_tree	 macs;
	struct lease_addr_tree	 addrs;
	size_t			 n;
	const struct cfg_lan	*lan;
	const struct cfg_dhcp	*dhcp;
	size_t			 pool;
	int			 pool_high;	/* warned; not again until low */
};

static int
mac_cmp(const struct lease *a, const struct lease *b)
{
	return memcmp(a->i.mac, b->i.mac, 6);
}

static int
addr_cmp(const struct lease *a, const struct lease *b)
{
	uint32_t x = ntohl(a->i.addr.s_addr), y = ntohl(b->i.addr.s_addr);

	return x < y ? -1 : x > y;
}

RB_GENERATE_STATIC(lease_mac_tree, lease, by_mac, mac_cmp)
RB_GENERATE_STATIC(lease_addr_tree, lease, by_addr, addr_cmp)

static const char *const status_names[LEASE_NSTATUS] = {
	[LEASE_OK] = "ok",
	[LEASE_SKIP] = "blank or comment",
	[LEASE_E_SYNTAX] = "malformed or torn",
	[LEASE_E_TOO_LONG] = "too long",
	[LEASE_E_ACTION] = "bad action",
	[LEASE_E_MAC] = "bad MAC address",
	[LEASE_E_ADDR] = "bad IPv4 address",
	[LEASE_E_EXPIRES] = "bad expiry time",
	[LEASE_E_HOSTNAME] = "bad hostname",
	[LEASE_E_CLIENT_ID] = "bad client id",
	[LEASE_E_CHARGER] = "bad charger id",
	[LEASE_E_TIME] = "bad time",
};

const char *
lease_status_str(enum lease_status s)
{
	return (unsigned)s < LEASE_NSTATUS ? status_names[s] : "?";
}

const char *
lease_action_str(enum lease_action a)
{
	switch (a) {
	case LEASE_ADD:
		return "add";
	case LEASE_OLD:
		return "old";
	case LEASE_DEL:
		return "del";
	}
	return "?";
}

/* --- pure field checks ------------------------------------------------ */

int
lease_hostname_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > LEASE_HOSTNAME_MAX ||
	    !isalnum((unsigned char)s[0]))
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return 0;
	return 1;
}

int
lease_client_id_ok(const char *s, size_t len)
{
	size_t i;

	if (len < 2 || len > LEASE_CLIENT_ID_TEXT - 1 || (len + 1) % 3 != 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (i % 3 == 2) {
			if (s[i] != ':')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

static int
interface_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 15)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("-_.@", s[i]) == NULL)
			return 0;
	return 1;
}

/* Decimal seconds, at most LEASE_TIME_DIGITS digits. */
static int
parse_time(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	if (len == 0 || len > LEASE_TIME_DIGITS)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int
parse_addr(const char *s, size_t len, struct in_addr *a)
{
	char buf[INET_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, a) != 1 || a->s_addr == 0)
		return -1;
	return 0;
}

/* --- lease events ------------------------------------------------------ */

/* A member that must be a string; NULL (and *bad) if it is another type. */
static const char *
member(struct json_object *o, const char *key, size_t *len, int *bad)
{
	struct json_object *v;

	*bad = 0;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		*bad = 1;
		return NULL;
	}
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

enum lease_status
lease_event_from_json(struct json_object *req, struct lease_event *ev)
{
	const char *s;
	size_t len = 0;
	int bad;

	memset(ev, 0, sizeof(*ev));
	ev->expires = -1;
	ev->remaining = -1;
	if (req == NULL || !json_object_is_type(req, json_type_object))
		return LEASE_E_SYNTAX;

	if ((s = member(req, "action", &len, &bad)) == NULL)
		return LEASE_E_ACTION;
	if (len == 3 && memcmp(s, "add", 3) == 0)
		ev->action = LEASE_ADD;
	else if (len == 3 && memcmp(s, "old", 3) == 0)
		ev->action = LEASE_OLD;
	else if (len == 3 && memcmp(s, "del", 3) == 0)
		ev->action = LEASE_DEL;
	else
		return LEASE_E_ACTION;

	if ((s = member(req, "mac", &len, &bad)) == NULL ||
	    lan_parse_mac(s, len, ev->mac) == -1)
		return LEASE_E_MAC;
	if ((s = member(req, "ip", &len, &bad)) == NULL ||
	    parse_addr(s, len, &ev->addr) == -1)
		return LEASE_E_ADDR;

	/* The rest is optional: a bad value is dropped, the lease kept. */
	s = member(req, "expires", &len, &bad);
	if (bad || (s != NULL && parse_time(s, len, &ev->expires) == -1)) {
		ev->expires = -1;
		ev->rejected |= LEASE_REJ_EXPIRES;
	}
	s = member(req, "remaining", &len, &bad);
	if (bad || (s != NULL && parse_time(s, len, &ev->remaining) == -1)) {
		ev->remaining = -1;
		ev->rejected |= LEASE_REJ_EXPIRES;
	}
	s = member(req, "hostname", &len, &bad);
	if (bad || (s != NULL && len > 0 && !lease_hostname_ok(s, len)))
		ev->rejected |= LEASE_REJ_HOSTNAME;
	else if (s != NULL)
		memcpy(ev->hostname, s, len);	/* len <= 63, zeroed */
	s = member(req, "client_id", &len, &bad);
	if (bad || (s != NULL && len > 0 && !lease_client_id_ok(s, len)))
		ev->rejected |= LEASE_REJ_CLIENT_ID;
	else if (s != NULL)
		memcpy(ev->client_id, s, len);
	s = member(req, "interface", &len, &bad);
	if (bad || (s != NULL && len > 0 && !interface_ok(s, len)))
		ev->rejected |= LEASE_REJ_INTERFACE;
	else if (s != NULL)
		memcpy(ev->interface, s, len);
	return LEASE_OK;
}

enum lease_status
lease_event_parse(const uint8_t *buf, size_t len, struct lease_event *ev)
{
	struct json_object *req;
	enum lease_status st;
	const char *cmd;
	char err[128];

	memset(ev, 0, sizeof(*ev));
	if (len > CONTROL_MAX_REQUEST)
		return LEASE_E_TOO_LONG;
	if ((req = control_parse_request((const char *)buf, len, &cmd, err,
	    sizeof(err))) == NULL)
		return LEASE_E_SYNTAX;
	if (strcmp(cmd, "lease-event") != 0)
		st = LEASE_E_SYNTAX;
	else
		st = lease_event_from_json(req, ev);
	json_object_put(req);
	return st;
}

/* --- lease lines ------------------------------------------------------- */

enum lease_status
lease_parse_line(const uint8_t *buf, size_t len, struct lease_line *out)
{
	const char *s = (const char *)buf, *f[8];
	size_t flen[8], nf = 0, i, start = 0;

	memset(out, 0, sizeof(*out));
	if (len > LEASE_LINE_MAX)
		return LEASE_E_TOO_LONG;
	if (len == 0 || s[0] == '#')
		return LEASE_SKIP;
	/* Fields are separated by exactly one space; nothing else may be
	 * outside printable ASCII. */
	for (i = 0; i <= len; i++) {
		if (i < len && (buf[i] < 0x20 || buf[i] > 0x7e))
			return LEASE_E_SYNTAX;
		if (i == len || s[i] == ' ') {
			if (i == start || nf == 8)
				return LEASE_E_SYNTAX;
			f[nf] = s + start;
			flen[nf++] = i - start;
			start = i + 1;
		}
	}
	if (nf != 5 && nf != 8)
		return LEASE_E_SYNTAX;
	out->dnsmasq_form = nf == 5;

	if (nf == 8 && flen[0] == 1 && f[0][0] == '-')
		out->expires = -1;
	else if (parse_time(f[0], flen[0], &out->expires) == -1)
		return LEASE_E_EXPIRES;
	if (lan_parse_mac(f[1], flen[1], out->mac) == -1)
		return LEASE_E_MAC;
	if (parse_addr(f[2], flen[2], &out->addr) == -1)
		return LEASE_E_ADDR;
	if (!(flen[3] == 1 && f[3][0] == '*')) {
		if (!lease_hostname_ok(f[3], flen[3]))
			return LEASE_E_HOSTNAME;
		memcpy(out->hostname, f[3], flen[3]);
	}
	if (!(flen[4] == 1 && f[4][0] == '*')) {
		if (!lease_client_id_ok(f[4], flen[4]))
			return LEASE_E_CLIENT_ID;
		memcpy(out->client_id, f[4], flen[4]);
	}
	if (nf == 5)
		return LEASE_OK;
	if (!(flen[5] == 1 && f[5][0] == '*')) {
		if (lan_check_id(f[5], flen[5]) != NULL)
			return LEASE_E_CHARGER;
		memcpy(out->charger, f[5], flen[5]);
	}
	if (parse_time(f[6], flen[6], &out->first_seen) == -1 ||
	    parse_time(f[7], flen[7], &out->last_seen) == -1)
		return LEASE_E_TIME;
	return LEASE_OK;
}

/* --- the table --------------------------------------------------------- */

struct leases *
leases_new(void)
{
	struct leases *l = xcalloc(1, sizeof(*l));

	RB_INIT(&l->macs);
	RB_INIT(&l->addrs);
	return l;
}

void
leases_free(struct leases *l)
{
	struct lease *e, *next;

	if (l == NULL)
		return;
	RB_FOREACH_SAFE(e, lease_mac_tree, &l->macs, next) {
		RB_REMOVE(lease_mac_tree, &l->macs, e);
		free(e);
	}
	free(l);
}

static void
addr_unlink(struct leases *l, struct lease *e)
{
	if (e->in_addr_tree) {
		RB_REMOVE(lease_addr_tree, &l->addrs, e);
		e->in_addr_tree = 0;
	}
}

static void	entry_remove(struct leases *, struct lease *);

/* Index e by its address; whoever else held that address loses it. */
static void
addr_link(struct leases *l, struct lease *e)
{
	struct lease *other;

	addr_unlink(l, e);
	if ((other = RB_FIND(lease_addr_tree, &l->addrs, e)) != NULL) {
		/* dnsmasq gave the address to e: other's lease is over. */
		RB_REMOVE(lease_addr_tree, &l->addrs, other);
		other->in_addr_tree = 0;
		other->i.active = 0;
		other->i.expires = -1;
		if (!other->i.reserved)
			entry_remove(l, other);
	}
	RB_INSERT(lease_addr_tree, &l->addrs, e);
	e->in_addr_tree = 1;
}

static void
entry_remove(struct leases *l, struct lease *e)
{
	addr_unlink(l, e);
	RB_REMOVE(lease_mac_tree, &l->macs, e);
	l->n--;
	free(e);
}

static struct lease *
entry_find(const struct leases *l, const uint8_t mac[6])
{
	struct lease key;

	memcpy(key.i.mac, mac, 6);
	return RB_FIND(lease_mac_tree, (struct lease_mac_tree *)&l->macs,
	    &key);
}

static struct lease *
entry_get(struct leases *l, const uint8_t mac[6])
{
	struct lease *e;

	if ((e = entry_find(l, mac)) != NULL)
		return e;
	e = xcalloc(1, sizeof(*e));
	memcpy(e->i.mac, mac, 6);
	lan_format_mac(mac, e->i.mac_text, sizeof(e->i.mac_text));
	e->i.expires = -1;
	RB_INSERT(lease_mac_tree, &l->macs, e);
	l->n++;
	return e;
}

/*
 * The charger id: its reservation's, else the hostname it gave, unless
 * that is a reserved charger's id (a device must not pass for another).
 */
static void
entry_name(const struct leases *l, struct lease *e)
{
	const struct cfg_charger *c = lan_charger_by_mac(l->dhcp, e->i.mac);
	size_t i;

	e->i.reserved = c != NULL;
	e->i.charger[0] = '\0';
	if (c != NULL) {
		strlcpy(e->i.charger, c->id, sizeof(e->i.charger));
		return;
	}
	if (e->i.hostname[0] == '\0')
		return;
	for (i = 0; l->dhcp != NULL && i < l->dhcp->ncharger; i++)
		if (strcasecmp(l->dhcp->chargers[i].id, e->i.hostname) == 0)
			return;
	strlcpy(e->i.charger, e->i.hostname, sizeof(e->i.charger));
}

void
leases_configure(struct leases *l, const struct site_conf *conf)
{
	struct lease *e, *next;

	l->lan = conf->lan;
	l->dhcp = conf->lan != NULL ? conf->dhcp : NULL;
	l->pool = lan_pool_size(l->dhcp);
	RB_FOREACH_SAFE(e, lease_mac_tree, &l->macs, next) {
		entry_name(l, e);
		if (!e->i.active && !e->i.reserved)
			entry_remove(l, e);
	}
}

int
leases_apply(struct leases *l, const struct lease_event *ev, int64_t now,
    const char **why)
{
	struct lease *e;
	int64_t expires;

	*why = NULL;
	if (l->lan != NULL && !lan_contains(l->lan, ev->addr)) {
		*why = "address outside the LAN";
		return -1;
	}
	if (l->lan != NULL && ev->addr.s_addr == l->lan->addr.s_addr) {
		*why = "the gateway's own address";
		return -1;
	}
	if (ev->action == LEASE_DEL) {
		if ((e = entry_find(l, ev->mac)) == NULL || !e->i.active ||
		    e->i.addr.s_addr != ev->addr.s_addr)
			return 0;
		e->i.active = 0;
		e->i.expires = -1;
		e->i.last_seen = now;
		addr_unlink(l, e);
		if (!e->i.reserved)
			entry_remove(l, e);
		return 1;
	}
	if (ev->expires >= 0)
		expires = ev->expires;
	else if (ev->remaining >= 0)
		expires = now + ev->remaining;
	else if (l->dhcp != NULL)
		expires = now + (int64_t)(l->dhcp->lease_ms / 1000);
	else
		expires = now + 3600;
	/*
	 * dnsmasq says "old" for every lease it reads back when it starts
	 * (a reload that changes reservations, a restart after a crash) as
	 * well as for a renewal.  A lease we hold already, at the same
	 * address and with the same end, is a read-back: the charger did
	 * nothing, so nothing changes (not its last seen, not the log).
	 * A renewal moves the end by about T1; 2 s allow for an end
	 * computed from the time left.
	 */
	e = entry_find(l, ev->mac);
	if (ev->action == LEASE_OLD && e != NULL && e->i.active &&
	    e->i.addr.s_addr == ev->addr.s_addr &&
	    expires >= e->i.expires - 2 && expires <= e->i.expires + 2)
		return 0;
	e = entry_get(l, ev->mac);
	if (e->i.first_seen == 0)
		e->i.first_seen = now;
	e->i.last_seen = now;
	e->i.addr = ev->addr;
	e->i.active = 1;
	addr_link(l, e);
	e->i.expires = expires;
	/* dnsmasq repeats these only when it has them (not for a lease it
	 * read back at start): keep what we knew. */
	if (ev->hostname[0] != '\0')
		strlcpy(e->i.hostname, ev->hostname, sizeof(e->i.hostname));
	if (ev->client_id[0] != '\0')
		strlcpy(e->i.client_id, ev->client_id,
		    sizeof(e->i.client_id));
	entry_name(l, e);
	return 1;
}

int
leases_apply_line(struct leases *l, const struct lease_line *ln)
{
	struct lease *e;

	if ((e = entry_find(l, ln->mac)) != NULL)
		return 0;	/* the first line for a MAC wins */
	e = entry_get(l, ln->mac);
	e->i.addr = ln->addr;
	e->i.expires = ln->expires;
	e->i.active = ln->expires != -1;
	strlcpy(e->i.hostname, ln->hostname, sizeof(e->i.hostname));
	strlcpy(e->i.client_id, ln->client_id, sizeof(e->i.client_id));
	strlcpy(e->i.charger, ln->charger, sizeof(e->i.charger));
	e->i.first_seen = ln->first_seen;
	e->i.last_seen = ln->last_seen;
	if (e->i.active) {
		if (RB_FIND(lease_addr_tree, &l->addrs, e) != NULL) {
			/* Two leases on one address: keep the first. */
			e->i.active = 0;
			e->i.expires = -1;
		} else
			addr_link(l, e);
	}
	if (l->dhcp != NULL || l->lan != NULL)
		entry_name(l, e);
	return 1;
}

const struct lease_info *
leases_by_addr(const struct leases *l, struct in_addr a)
{
	struct lease key, *e;

	key.i.addr = a;
	e = RB_FIND(lease_addr_tree, (struct lease_addr_tree *)&l->addrs,
	    &key);
	return e != NULL ? &e->i : NULL;
}

const struct lease_info *
leases_by_mac(const struct leases *l, const uint8_t mac[6])
{
	struct lease *e = entry_find(l, mac);

	return e != NULL ? &e->i : NULL;
}

const char *
leases_name(const struct leases *l, struct in_addr a)
{
	const struct lease_info *i = leases_by_addr(l, a);

	if (i == NULL)
		return NULL;
	return i->charger[0] != '\0' ? i->charger : i->mac_text;
}

void
leases_foreach(const struct leases *l,
    void (*fn)(const struct lease_info *, void *), void *arg)
{
	struct lease *e;

	RB_FOREACH(e, lease_mac_tree, (struct lease_mac_tree *)&l->macs)
		fn(&e->i, arg);
}

size_t
leases_count(const struct leases *l)
{
	return l->n;
}

static int
live(const struct lease_info *i, int64_t now)
{
	return i->active && (i->expires == 0 || i->expires > now);
}

size_t
leases_in_use(const struct leases *l, int64_t now)
{
	struct lease *e;
	size_t n = 0;

	RB_FOREACH(e, lease_addr_tree, (struct lease_addr_tree *)&l->addrs)
		if (live(&e->i, now))
			n++;
	return n;
}

size_t
leases_pool_size(const struct leases *l)
{
	return l->pool;
}

int
leases_pool_check(struct leases *l, int64_t now)
{
	size_t used = leases_in_use(l, now);
	int high = l->pool > 0 && used * 100 >= l->pool * LEASE_POOL_WARN_PCT;

	if (high == l->pool_high)
		return 0;
	l->pool_high = high;
	return high ? 1 : -1;
}

size_t
leases_init_lines(const struct leases *l, int64_t now,
    void (*fn)(const char *, void *), void *arg)
{
	const struct cfg_charger *c;
	struct lease *e;
	char line[LEASE_LINE_MAX], a[INET_ADDRSTRLEN];
	size_t n = 0;

	RB_FOREACH(e, lease_addr_tree, (struct lease_addr_tree *)&l->addrs) {
		if (!live(&e->i, now))
			continue;
		if (l->lan != NULL && (!lan_contains(l->lan, e->i.addr) ||
		    e->i.addr.s_addr == l->lan->addr.s_addr))
			continue;
		c = lan_charger_by_mac(l->dhcp, e->i.mac);
		if (c != NULL && c->addr.s_addr != 0 &&
		    c->addr.s_addr != e->i.addr.s_addr)
			continue;	/* its reservation moved */
		if (c == NULL && l->dhcp != NULL && l->dhcp->known_only)
			continue;	/* no longer known */
		inet_ntop(AF_INET, &e->i.addr, a, sizeof(a));
		snprintf(line, sizeof(line), "%lld %s %s * %s",
		    (long long)e->i.expires, e->i.mac_text, a,
		    e->i.client_id[0] ? e->i.client_id : "*");
		fn(line, arg);
		n++;
	}
	return n;
}

/* --- the pair's peer ------------------------------------------------- */

const char *
lease_merge_str(enum lease_merge m)
{
	switch (m) {
	case LEASE_MERGE_SAME:
		return "same";
	case LEASE_MERGE_APPLIED:
		return "applied";
	case LEASE_MERGE_OLDER:
		return "older";
	case LEASE_MERGE_CONFLICT:
		return "conflict";
	case LEASE_MERGE_REFUSED:
		return "refused";
	}
	return "?";
}

/*
 * Expiries the two boxes see of one lease differ by their clocks and the
 * rounding of "seconds left" on the way: within this, they are the same.
 */
#define MERGE_SLACK_S	2

/* Does expiry a end later than b (0: never ends)? */
static int
later(int64_t a, int64_t b)
{
	if (b == 0)
		return 0;
	return a == 0 || a > b;
}

enum lease_merge
leases_merge(struct leases *l, const struct lease_peer *p, int64_t now,
    const char **why)
{
	struct lease *e, *other, key;

	*why = NULL;
	if (l->lan != NULL && (!lan_contains(l->lan, p->addr) ||
	    p->addr.s_addr == l->lan->addr.s_addr)) {
		*why = p->addr.s_addr == l->lan->addr.s_addr ?
		    "the gateway's own address" : "address outside the LAN";
		return LEASE_MERGE_REFUSED;
	}
	e = entry_find(l, p->mac);
	if (p->del) {
		if (e == NULL || !e->i.active ||
		    e->i.addr.s_addr != p->addr.s_addr)
			return LEASE_MERGE_SAME;
		/* Renewed here after the peer ended it: ours stands. */
		if (p->expires != 0 && (e->i.expires == 0 ||
		    e->i.expires > p->expires + MERGE_SLACK_S))
			return LEASE_MERGE_OLDER;
		e->i.active = 0;
		e->i.expires = -1;
		addr_unlink(l, e);
		if (!e->i.reserved)
			entry_remove(l, e);
		return LEASE_MERGE_APPLIED;
	}
	if (p->expires != 0 && p->expires <= now)
		return LEASE_MERGE_OLDER;		/* over already */
	if (e != NULL && e->i.active && live(&e->i, now)) {
		if (!later(p->expires, e->i.expires))
			return e->i.addr.s_addr == p->addr.s_addr ?
			    LEASE_MERGE_SAME : LEASE_MERGE_OLDER;
		/* The same lease, as the peer sees it: nothing new. */
		if (e->i.addr.s_addr == p->addr.s_addr && e->i.expires != 0 &&
		    p->expires != 0 && p->expires - e->i.expires <=
		    MERGE_SLACK_S)
			return LEASE_MERGE_SAME;
	}
	key.i.addr = p->addr;
	other = RB_FIND(lease_addr_tree, &l->addrs, &key);
	if (other != NULL && other != e && live(&other->i, now) &&
	    !later(p->expires, other->i.expires)) {
		*why = "the address is another MAC's here, with a later expiry";
		return LEASE_MERGE_CONFLICT;
	}
	e = entry_get(l, p->mac);
	if (e->i.first_seen == 0)
		e->i.first_seen = now;
	e->i.last_seen = now;
	e->i.addr = p->addr;
	e->i.active = 1;
	e->i.expires = p->expires;
	addr_link(l, e);
	if (p->hostname[0] != '\0')
		strlcpy(e->i.hostname, p->hostname, sizeof(e->i.hostname));
	if (p->client_id[0] != '\0')
		strlcpy(e->i.client_id, p->client_id,
		    sizeof(e->i.client_id));
	entry_name(l, e);
	return LEASE_MERGE_APPLIED;
}

void
leases_account(struct leases *l, struct in_addr a, int relayed, int link,
    uint64_t up, uint64_t down, int64_t now)
{
	struct lease key, *e;

	key.i.addr = a;
	if ((e = RB_FIND(lease_addr_tree, &l->addrs, &key)) == NULL)
		return;
	if (relayed)
		e->i.conns++;
	else
		e->i.refused++;
	e->i.bytes_up += up;
	e->i.bytes_down += down;
	e->i.last_seen = now;
	if (relayed && link)
		e->i.link_closed = now;
}

/* --- persistence ------------------------------------------------------- */

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
leases_save(const struct leases *l, const char *path, char *err,
    size_t errlen)
{
	struct lease *e;
	char *tmp = NULL, *dir, *slash, line[LEASE_LINE_MAX],
	    a[INET_ADDRSTRLEN], exp[24];
	size_t cap = 4096, len = 0;
	char *buf = xmalloc(cap);
	int fd = -1, dfd, rv = -1;

	memcpy(buf, LEASE_FILE_HEADER, sizeof(LEASE_FILE_HEADER) - 1);
	len = sizeof(LEASE_FILE_HEADER) - 1;
	RB_FOREACH(e, lease_mac_tree, (struct lease_mac_tree *)&l->macs) {
		int n;

		inet_ntop(AF_INET, &e->i.addr, a, sizeof(a));
		if (e->i.active)
			snprintf(exp, sizeof(exp), "%lld",
			    (long long)e->i.expires);
		else
			strlcpy(exp, "-", sizeof(exp));
		n = snprintf(line, sizeof(line), "%s %s %s %s %s %s %lld %lld\n",
		    exp, e->i.mac_text, a,
		    e->i.hostname[0] ? e->i.hostname : "*",
		    e->i.client_id[0] ? e->i.client_id : "*",
		    e->i.charger[0] ? e->i.charger : "*",
		    (long long)e->i.first_seen, (long long)e->i.last_seen);
		if (n < 0 || (size_t)n >= sizeof(line))
			continue;	/* cannot happen: fields are bounded */
		if (len + (size_t)n > cap)
			buf = xreallocarray(buf, cap = (cap + (size_t)n) * 2, 1);
		memcpy(buf + len, line, (size_t)n);
		len += (size_t)n;
	}
	xasprintf(&tmp, "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write_all(fd, buf, len) == -1 || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
		goto out;
	}
	/* The rename itself must reach the disk too. */
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		strlcpy(dir, ".", strlen(dir) + 1);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	free(dir);
	rv = 0;
out:
	if (fd != -1) {
		close(fd);
		unlink(tmp);
	} else if (rv == -1 && tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(buf);
	return rv;
}

int
leases_load(struct leases *l, const char *path, size_t *loaded,
    size_t *skipped, char *err, size_t errlen)
{
	struct lease_line ln;
	enum lease_status st;
	struct stat sb;
	uint8_t *buf;
	size_t off, lineno = 0;
	ssize_t n;
	int fd;

	*loaded = *skipped = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > LEASE_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most %d "
		    "bytes", path, LEASE_FILE_MAX);
		close(fd);
		return -1;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	for (off = 0; off < (size_t)sb.st_size; off += (size_t)n) {
		n = read(fd, buf + off, (size_t)sb.st_size - off);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			break;
	}
	close(fd);
	for (size_t start = 0; start < off; lineno++) {
		uint8_t *nl = memchr(buf + start, '\n', off - start);
		size_t len;

		if (nl == NULL) {
			/* No newline at the end: a torn write. */
			log_warnx("%s:%zu: torn last line, skipped", path,
			    lineno + 1);
			(*skipped)++;
			break;
		}
		len = (size_t)(nl - (buf + start));
		st = lease_parse_line(buf + start, len, &ln);
		if (st == LEASE_OK) {
			if (leases_apply_line(l, &ln) == 1)
				(*loaded)++;
			else {
				log_warnx("%s:%zu: a second line for the same "
				    "MAC, skipped", path, lineno + 1);
				(*skipped)++;
			}
		} else if (st != LEASE_SKIP) {
			log_warnx("%s:%zu: %s, skipped", path, lineno + 1,
			    lease_status_str(st));
			(*skipped)++;
		}
		start += len + 1;
	}
	free(buf);
	return 0;
}
