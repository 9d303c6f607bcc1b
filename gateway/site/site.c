/*
 * site: DHCP leases and steered DNS for the chargers' LAN, as a module of
 * evgated (see site.h).  The glue between the configuration, the dnsmasq
 * supervisor, the lease table, the control sockets, the relay and the
 * events.
 */
#include "evgate_config.h"

#include <sys/stat.h>
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/control.h"
#include "site/dnsmasq.h"
#include "common/events.h"
#include "site/lan.h"
#include "site/leases.h"
#include "common/log.h"
#include "relay/relay.h"
#include "site/site.h"
#include "common/util.h"

#define REFUSAL_MEMORY	64	/* MACs whose refusal was reported lately */
#define REFUSAL_QUIET_S	60	/* report a MAC again after this */

struct site {
	struct event_base	*base;
	struct relay		*relay;		/* for live connections */
	struct leases		*leases;
	struct dnsmasq		*dm;
	struct control		*leasectl;
	struct site_conf	 conf;		/* lan NULL: off */
	/* prepared by site_prepare, for the next commit */
	int			 prepared;
	struct site_conf	 next;
	struct control		*next_leasectl;	/* a first lease socket */
	uid_t			 next_uid;
	gid_t			 next_gid;
	char			*lease_path;	/* state_dir/leases */
	char			*sock_path;	/* run_dir/lease.sock */
	uid_t			 uid;		/* dnsmasq's user */
	gid_t			 gid;
	int			 loaded;
	unsigned long		 refusals;	/* DHCP requests refused */
	unsigned long		 events;	/* lease events applied */
	unsigned long		 events_bad;	/* rejected outright */
	unsigned long		 fields_dropped;	/* sanitised */
	unsigned long		 events_refused;	/* outside the LAN */
	unsigned long		 save_failures;
	unsigned long		 inits;
	site_lease_fn		 lease_cb;	/* the pair */
	void			*lease_arg;
	unsigned long		 peer_applied;	/* the peer's leases merged */
	unsigned long		 peer_kept;	/* ours was later (or the same) */
	unsigned long		 peer_conflicts;
	unsigned long		 peer_refused;
	int			 peer_dirty;	/* merged, not saved yet */
	/*
	 * The unknown MACs refused lately, the most recent REFUSAL_MEMORY:
	 * what evgatectl chargers lists, so an operator commissioning a
	 * charger finds its MAC without reading the log.
	 */
	struct {
		uint8_t		 mac[6];
		time_t		 when;		/* last reported */
		time_t		 first, last;	/* seen */
		unsigned long	 count;
	}			 recent[REFUSAL_MEMORY];
	size_t			 nrecent;
	struct log_ratelimit	 rl;
};

static int64_t
now_s(void)
{
	return (int64_t)(now_wall_ms() / 1000);
}

static struct json_object *
json_time_s(int64_t t)
{
	char buf[40];

	if (t <= 0)
		return NULL;
	return json_object_new_string(format_utc_ms((uint64_t)t * 1000,
	    buf, sizeof(buf)));
}

static void
save(struct site *s)
{
	char err[512];

	if (s->lease_path == NULL)
		return;
	if (leases_save(s->leases, s->lease_path, err, sizeof(err)) == -1) {
		s->save_failures++;
		log_warnx_rl(&s->rl, "dhcp: cannot write the lease database: "
		    "%s", err);
	}
}

static void
pool_check(struct site *s)
{
	struct json_object *o;
	size_t used, size;
	int crossed = leases_pool_check(s->leases, now_s());

	if (crossed == 0)
		return;
	used = leases_in_use(s->leases, now_s());
	size = leases_pool_size(s->leases);
	if (crossed < 0) {
		log_info("dhcp: address pool use back below %d%% (%zu of %zu)",
		    LEASE_POOL_WARN_PCT, used, size);
		return;
	}
	log_warnx("dhcp: address pool %d%% used (%zu of %zu addresses): "
	    "widen dhcp.range or shorten dhcp.lease_time before it runs out",
	    (int)(used * 100 / (size ? size : 1)), used, size);
	o = json_object_new_object();
	json_object_object_add(o, "action", json_object_new_string(
	    "pool_high"));
	json_object_object_add(o, "in_use", json_object_new_int64(
	    (int64_t)used));
	json_object_object_add(o, "pool", json_object_new_int64((int64_t)size));
	events_emit(EVENT_LEASE, o);
}

/* --- the lease socket: lease-event, lease-init ----------------------- */

static int
peer_ok(struct site *s, const struct control_peer *peer, char *err,
    size_t errlen)
{
	if (peer->uid == 0 || peer->uid == s->uid)
		return 1;
	snprintf(err, errlen, "uid %u may not report leases",
	    (unsigned)peer->uid);
	log_warnx_rl(&s->rl, "dhcp: lease socket: %s (pid %d)", err,
	    (int)peer->pid);
	return 0;
}

static void
lease_event_emit(const struct lease_event *ev, const struct lease_info *li)
{
	struct json_object *o = json_object_new_object();
	char mac[18], a[INET_ADDRSTRLEN];

	json_object_object_add(o, "action", json_object_new_string(
	    lease_action_str(ev->action)));
	json_object_object_add(o, "mac", json_object_new_string(
	    lan_format_mac(ev->mac, mac, sizeof(mac))));
	json_object_object_add(o, "address", json_object_new_string(
	    inet_ntop(AF_INET, &ev->addr, a, sizeof(a))));
	if (li != NULL && li->charger[0] != '\0')
		json_object_object_add(o, "charger",
		    json_object_new_string(li->charger));
	if (li != NULL)
		json_object_object_add(o, "reserved",
		    json_object_new_boolean(li->reserved));
	if (ev->hostname[0] != '\0')
		json_object_object_add(o, "hostname",
		    json_object_new_string(ev->hostname));
	if (li != NULL && li->active && li->expires > 0)
		json_object_object_add(o, "expires", json_time_s(li->expires));
	if (ev->interface[0] != '\0')
		json_object_object_add(o, "interface",
		    json_object_new_string(ev->interface));
	events_emit(EVENT_LEASE, o);
}

static void
log_dropped(struct site *s, struct json_object *req,
    const struct lease_event *ev)
{
	static const struct {
		unsigned	 flag;
		const char	*key;
	} f[] = {
		{ LEASE_REJ_HOSTNAME, "hostname" },
		{ LEASE_REJ_CLIENT_ID, "client_id" },
		{ LEASE_REJ_INTERFACE, "interface" },
		{ LEASE_REJ_EXPIRES, "expires" },
	};
	struct json_object *v;
	char mac[18], esc[256];
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!(ev->rejected & f[i].flag))
			continue;
		s->fields_dropped++;
		esc[0] = '\0';
		if (json_object_object_get_ex(req, f[i].key, &v) &&
		    json_object_is_type(v, json_type_string))
			str_escape(json_object_get_string(v),
			    (size_t)json_object_get_string_len(v), 48, esc,
			    sizeof(esc));
		log_warnx_rl(&s->rl, "dhcp: %s from %s is not valid, "
		    "ignored: \"%s\"", f[i].key,
		    lan_format_mac(ev->mac, mac, sizeof(mac)), esc);
	}
}

static struct json_object *
cmd_lease_event(struct json_object *req, const struct control_peer *peer,
    void *arg, char *err, size_t errlen)
{
	struct site *s = arg;
	struct lease_event ev;
	struct lease_change lc;
	enum lease_status st;
	const struct lease_info *li;
	const char *why;
	char mac[18], a[INET_ADDRSTRLEN], id[80];
	int64_t had = -1;
	int rv;

	if (!peer_ok(s, peer, err, errlen))
		return NULL;
	if ((st = lease_event_from_json(req, &ev)) != LEASE_OK) {
		s->events_bad++;
		snprintf(err, errlen, "lease event refused: %s",
		    lease_status_str(st));
		log_warnx_rl(&s->rl, "dhcp: %s", err);
		return NULL;
	}
	if (ev.rejected)
		log_dropped(s, req, &ev);
	lan_format_mac(ev.mac, mac, sizeof(mac));
	inet_ntop(AF_INET, &ev.addr, a, sizeof(a));
	if ((li = leases_by_mac(s->leases, ev.mac)) != NULL && li->active)
		had = li->expires;	/* what a del ends, for the pair */
	if ((rv = leases_apply(s->leases, &ev, now_s(), &why)) == -1) {
		s->events_refused++;
		snprintf(err, errlen, "lease of %s to %s refused: %s", a, mac,
		    why);
		log_warnx_rl(&s->rl, "dhcp: %s", err);
		return NULL;
	}
	s->events++;
	li = leases_by_mac(s->leases, ev.mac);
	if (rv == 0 && ev.action == LEASE_OLD) {
		/* dnsmasq read back a lease we hold: nothing happened */
		log_debug("dhcp: lease of %s to %s read back", a, mac);
		return json_object_new_object();
	}
	id[0] = '\0';
	if (li != NULL && li->charger[0] != '\0')
		snprintf(id, sizeof(id), " (%s)", li->charger);
	if (ev.action == LEASE_OLD)
		log_debug("dhcp: lease of %s to %s%s renewed", a, mac, id);
	else
		log_info("dhcp: %s lease of %s to %s%s",
		    ev.action == LEASE_ADD ? "new" : "ended", a, mac, id);
	lease_event_emit(&ev, li);
	if (rv == 1)
		save(s);
	pool_check(s);
	if (rv == 1 && s->lease_cb != NULL) {
		memset(&lc, 0, sizeof(lc));
		lc.action = ev.action;
		memcpy(lc.mac, ev.mac, 6);
		lc.addr = ev.addr;
		lc.expires = ev.action == LEASE_DEL ? had : li != NULL ?
		    li->expires : -1;
		lc.client_id = li != NULL ? li->client_id : "";
		lc.hostname = li != NULL ? li->hostname : "";
		if (lc.expires != -1)
			s->lease_cb(&lc, s->lease_arg);
	}
	return json_object_new_object();
}

static void
add_line(const char *line, void *arg)
{
	json_object_array_add(arg, json_object_new_string(line));
}

static struct json_object *
cmd_lease_init(struct json_object *req, const struct control_peer *peer,
    void *arg, char *err, size_t errlen)
{
	struct site *s = arg;
	struct json_object *o, *list;
	size_t n;

	if (!peer_ok(s, peer, err, errlen))
		return NULL;
	o = json_object_new_object();
	list = json_object_new_array();
	n = leases_init_lines(s->leases, now_s(), add_line, list);
	json_object_object_add(o, "leases", list);
	s->inits++;
	log_info("dhcp: gave dnsmasq %zu lease%s at its start", n,
	    n == 1 ? "" : "s");
	return o;
}

/* --- the pair's peer ---------------------------------------------------- */

void
site_set_lease_cb(struct site *s, site_lease_fn fn, void *arg)
{
	s->lease_cb = fn;
	s->lease_arg = arg;
}

int
site_lease_merge(struct site *s, const struct lease_peer *p, const char **why)
{
	enum lease_merge m = leases_merge(s->leases, p, now_s(), why);

	switch (m) {
	case LEASE_MERGE_APPLIED:
		s->peer_applied++;
		s->peer_dirty = 1;
		break;
	case LEASE_MERGE_SAME:
	case LEASE_MERGE_OLDER:
		s->peer_kept++;
		break;
	case LEASE_MERGE_CONFLICT:
		s->peer_conflicts++;
		break;
	case LEASE_MERGE_REFUSED:
		s->peer_refused++;
		break;
	}
	return (int)m;
}

void
site_leases_save(struct site *s)
{
	if (!s->peer_dirty)
		return;
	s->peer_dirty = 0;
	save(s);
	pool_check(s);
}

const struct leases *
site_leases(const struct site *s)
{
	return s->leases;
}

/* --- refusals from dnsmasq's log ------------------------------------- */

/* Has this MAC been reported within REFUSAL_QUIET_S?  Remember it. */
static int
recently_refused(struct site *s, const uint8_t mac[6])
{
	time_t now = time(NULL);
	size_t i, oldest = 0;

	for (i = 0; i < s->nrecent; i++) {
		if (memcmp(s->recent[i].mac, mac, 6) == 0) {
			s->recent[i].last = now;
			s->recent[i].count++;
			if (now - s->recent[i].when < REFUSAL_QUIET_S)
				return 1;
			s->recent[i].when = now;
			return 0;
		}
		if (s->recent[i].last < s->recent[oldest].last)
			oldest = i;
	}
	i = s->nrecent < REFUSAL_MEMORY ? s->nrecent++ : oldest;
	memcpy(s->recent[i].mac, mac, 6);
	s->recent[i].when = s->recent[i].first = s->recent[i].last = now;
	s->recent[i].count = 1;
	return 0;
}

/*
 * Online, as the report counts it: a relayed connection on the MQTT port,
 * the charger's link to its cloud (evgatectl report --online-port).
 */
#define ONLINE_PORT	8883

static void
on_refusal(const uint8_t mac[6], const char *ifname, void *arg)
{
	struct site *s = arg;
	struct json_object *o;
	char m[18];

	s->refusals++;
	/* Each MAC once a minute, then the refusal policy of all refusals. */
	if (recently_refused(s, mac) || !events_refusal_take())
		return;
	lan_format_mac(mac, m, sizeof(m));
	o = json_object_new_object();
	json_object_object_add(o, "kind", json_object_new_string("dhcp"));
	json_object_object_add(o, "mac", json_object_new_string(m));
	if (ifname[0] != '\0')
		json_object_object_add(o, "interface",
		    json_object_new_string(ifname));
	json_object_object_add(o, "reason", json_object_new_string(
	    "unknown MAC"));
	events_refusal(o, "dhcp: refused %s on %s: not listed in "
	    "dhcp.chargers (dhcp.known_only)", m, ifname[0] ? ifname : "?");
}

/* --- the relay's view ---------------------------------------------------- */

const char *
site_relay_namer(const union sockaddr_any *sa, void *arg)
{
	struct site *s = arg;

	if (sa->sa.sa_family != AF_INET)
		return NULL;
	return leases_name(s->leases, sa->sin.sin_addr);
}

void
site_relay_record(const struct relay_record *rec, void *arg)
{
	struct site *s = arg;

	if (rec->client.sa.sa_family != AF_INET)
		return;
	leases_account(s->leases, rec->client.sin.sin_addr,
	    rec->close != CLOSE_REFUSED, rec->port == ONLINE_PORT,
	    rec->bytes_up, rec->bytes_down, now_s());
}

/* --- evgatectl chargers ---------------------------------------------- */

struct live {
	struct in_addr	 addr;
	uint64_t	 n, up, down;
	uint64_t	 link_since_ms;	/* oldest live cloud link (wall);
					   0: none */
};

struct live_set {
	struct live	*v;
	size_t		 n, cap;
};

static void
add_live(const struct relay_record *rec, void *arg)
{
	struct live_set *ls = arg;
	size_t i;

	if (rec->client.sa.sa_family != AF_INET)
		return;
	for (i = 0; i < ls->n; i++)
		if (ls->v[i].addr.s_addr == rec->client.sin.sin_addr.s_addr)
			break;
	if (i == ls->n) {
		if (ls->n == ls->cap)
			ls->v = xreallocarray(ls->v, ls->cap = ls->cap * 2 + 8,
			    sizeof(*ls->v));
		memset(&ls->v[i], 0, sizeof(ls->v[i]));
		ls->v[i].addr = rec->client.sin.sin_addr;
		ls->n++;
	}
	ls->v[i].n++;
	ls->v[i].up += rec->bytes_up;
	ls->v[i].down += rec->bytes_down;
	if (rec->port == ONLINE_PORT && (ls->v[i].link_since_ms == 0 ||
	    rec->start_wall_ms < ls->v[i].link_since_ms))
		ls->v[i].link_since_ms = rec->start_wall_ms;
}

static void
add_online(const struct relay_record *rec, void *arg)
{
	if (rec->port == ONLINE_PORT)
		add_live(rec, arg);
}

/* Each reservation's id: 1 while it is online, else 0 (a metric). */
static struct json_object *
online_json(struct site *s, const struct cfg_dhcp *dhcp)
{
	struct json_object *o = json_object_new_object();
	struct live_set ls = { NULL, 0, 0 };
	const struct lease_info *li;
	size_t i, j;
	int on;

	if (s->relay != NULL)
		relay_foreach(s->relay, add_online, &ls);
	for (i = 0; i < dhcp->ncharger; i++) {
		li = leases_by_mac(s->leases, dhcp->chargers[i].mac);
		on = 0;
		for (j = 0; li != NULL && li->active && j < ls.n; j++)
			if (ls.v[j].addr.s_addr == li->addr.s_addr)
				on = 1;
		json_object_object_add(o, dhcp->chargers[i].id,
		    json_object_new_int(on));
	}
	free(ls.v);
	return o;
}

static struct json_object *
charger_json(const struct cfg_charger *c, const struct lease_info *li,
    const struct live_set *ls, int64_t now)
{
	struct json_object *o = json_object_new_object();
	char a[INET_ADDRSTRLEN], mac[18];
	const char *state = "none";
	uint64_t n = 0, up = 0, down = 0, liven = 0, since_ms = 0;
	size_t i;

	json_object_object_add(o, "id", c != NULL ?
	    json_object_new_string(c->id) : li->charger[0] ?
	    json_object_new_string(li->charger) : NULL);
	json_object_object_add(o, "mac", json_object_new_string(c != NULL ?
	    lan_format_mac(c->mac, mac, sizeof(mac)) : li->mac_text));
	json_object_object_add(o, "reserved", json_object_new_boolean(
	    c != NULL));
	json_object_object_add(o, "reserved_address",
	    c != NULL && c->addr.s_addr != 0 ? json_object_new_string(
	    inet_ntop(AF_INET, &c->addr, a, sizeof(a))) : NULL);
	if (li != NULL && li->active)
		state = li->expires == 0 || li->expires > now ? "active" :
		    "expired";
	json_object_object_add(o, "lease", json_object_new_string(state));
	json_object_object_add(o, "address", li != NULL && li->active ?
	    json_object_new_string(inet_ntop(AF_INET, &li->addr, a,
	    sizeof(a))) : NULL);
	json_object_object_add(o, "expires", li != NULL && li->active &&
	    li->expires > 0 ? json_time_s(li->expires) : NULL);
	json_object_object_add(o, "expires_in_s", li != NULL && li->active &&
	    li->expires > 0 ? json_object_new_int64(li->expires - now) : NULL);
	json_object_object_add(o, "hostname", li != NULL && li->hostname[0] ?
	    json_object_new_string(li->hostname) : NULL);
	json_object_object_add(o, "first_seen", li != NULL ?
	    json_time_s(li->first_seen) : NULL);
	json_object_object_add(o, "last_seen", li != NULL ?
	    json_time_s(li->last_seen) : NULL);
	if (li != NULL) {
		n = li->conns;
		up = li->bytes_up;
		down = li->bytes_down;
		for (i = 0; li->active && i < ls->n; i++)
			if (ls->v[i].addr.s_addr == li->addr.s_addr) {
				liven = ls->v[i].n;
				up += ls->v[i].up;
				down += ls->v[i].down;
				since_ms = ls->v[i].link_since_ms;
			}
	}
	/*
	 * Online as the report counts it: a relayed link on the MQTT port.
	 * Online since its oldest live link began; offline since the last
	 * one ended (known only since evgated started: null before).
	 */
	json_object_object_add(o, "online", json_object_new_boolean(
	    since_ms != 0));
	json_object_object_add(o, "online_since", since_ms != 0 ?
	    json_time_s((int64_t)(since_ms / 1000)) : NULL);
	json_object_object_add(o, "offline_since", since_ms == 0 &&
	    li != NULL && li->link_closed != 0 ?
	    json_time_s(li->link_closed) : NULL);
	json_object_object_add(o, "connections", json_object_new_int64(
	    (int64_t)(n + liven)));
	json_object_object_add(o, "live_connections", json_object_new_int64(
	    (int64_t)liven));
	json_object_object_add(o, "refused", json_object_new_int64(
	    li != NULL ? (int64_t)li->refused : 0));
	json_object_object_add(o, "bytes_up", json_object_new_int64(
	    (int64_t)up));
	json_object_object_add(o, "bytes_down", json_object_new_int64(
	    (int64_t)down));
	return o;
}

struct unreserved {
	struct json_object	*list;
	const struct live_set	*ls;
	int64_t			 now;
};

static void
add_unreserved(const struct lease_info *li, void *arg)
{
	struct unreserved *u = arg;

	if (!li->reserved)
		json_object_array_add(u->list, charger_json(NULL, li, u->ls,
		    u->now));
}

/* The refused MACs, most recently seen first. */
static struct json_object *
refused_json(struct site *s)
{
	struct json_object *list = json_object_new_array(), *o;
	size_t order[REFUSAL_MEMORY], i, j, k;
	char m[18];

	for (i = 0; i < s->nrecent; i++) {
		for (j = i; j > 0 && s->recent[order[j - 1]].last <
		    s->recent[i].last; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	for (k = 0; k < s->nrecent; k++) {
		i = order[k];
		o = json_object_new_object();
		json_object_object_add(o, "mac", json_object_new_string(
		    lan_format_mac(s->recent[i].mac, m, sizeof(m))));
		json_object_object_add(o, "first_seen",
		    json_time_s(s->recent[i].first));
		json_object_object_add(o, "last_seen",
		    json_time_s(s->recent[i].last));
		json_object_object_add(o, "count", json_object_new_int64(
		    (int64_t)s->recent[i].count));
		json_object_array_add(list, o);
	}
	return list;
}

struct json_object *
site_cmd_chargers(struct json_object *req, const struct control_peer *peer,
    void *arg, char *err, size_t errlen)
{
	struct site *s = arg;
	const struct cfg_dhcp *dhcp = s->conf.lan != NULL ? s->conf.dhcp :
	    NULL;
	struct json_object *o = json_object_new_object(), *list, *pool;
	struct live_set ls = { NULL, 0, 0 };
	struct unreserved u;
	int64_t now = now_s();
	size_t i;

	if (s->relay != NULL)
		relay_foreach(s->relay, add_live, &ls);
	list = json_object_new_array();
	/* Reserved chargers first, in the order of the configuration. */
	for (i = 0; dhcp != NULL && i < dhcp->ncharger; i++)
		json_object_array_add(list, charger_json(&dhcp->chargers[i],
		    leases_by_mac(s->leases, dhcp->chargers[i].mac), &ls,
		    now));
	u.list = list;
	u.ls = &ls;
	u.now = now;
	leases_foreach(s->leases, add_unreserved, &u);
	free(ls.v);
	json_object_object_add(o, "chargers", list);
	pool = json_object_new_object();
	json_object_object_add(pool, "size", json_object_new_int64(
	    (int64_t)leases_pool_size(s->leases)));
	json_object_object_add(pool, "in_use", json_object_new_int64(
	    (int64_t)leases_in_use(s->leases, now)));
	json_object_object_add(o, "pool", pool);
	json_object_object_add(o, "refusals", json_object_new_int64(
	    (int64_t)s->refusals));
	json_object_object_add(o, "refused_macs", refused_json(s));
	json_object_object_add(o, "dhcp", json_object_new_boolean(
	    dhcp != NULL));
	return o;
}

/* --- status ------------------------------------------------------------- */

static struct json_object *
status_dnsmasq(void *arg)
{
	struct site *s = arg;
	struct json_object *o = json_object_new_object();
	struct dnsmasq_status st;

	dnsmasq_status(s->dm, &st);
	json_object_object_add(o, "state", json_object_new_string(st.state));
	json_object_object_add(o, "enabled", json_object_new_boolean(
	    st.enabled));
	json_object_object_add(o, "running", json_object_new_boolean(
	    st.running));
	json_object_object_add(o, "pid", st.pid ? json_object_new_int(st.pid) :
	    NULL);
	json_object_object_add(o, "up_since", st.up_since_wall_ms ?
	    json_time_s((int64_t)(st.up_since_wall_ms / 1000)) : NULL);
	json_object_object_add(o, "starts", json_object_new_int64(
	    (int64_t)st.starts));
	json_object_object_add(o, "restarts", json_object_new_int64(
	    (int64_t)st.restarts));
	json_object_object_add(o, "reservation_reloads",
	    json_object_new_int64((int64_t)st.hups));
	json_object_object_add(o, "next_start_in_s", st.backoff_s ?
	    json_object_new_int((int)st.backoff_s) : NULL);
	json_object_object_add(o, "last_exit", st.last_exit[0] ?
	    json_object_new_string(st.last_exit) : NULL);
	json_object_object_add(o, "last_error", st.last_error[0] ?
	    json_object_new_string(st.last_error) : NULL);
	return o;
}

static struct json_object *
status_dhcp(void *arg)
{
	struct site *s = arg;
	struct json_object *o = json_object_new_object();
	int64_t now = now_s();
	size_t used = leases_in_use(s->leases, now);
	size_t size = leases_pool_size(s->leases);
	const struct cfg_dhcp *dhcp = s->conf.lan != NULL ? s->conf.dhcp :
	    NULL;

	json_object_object_add(o, "enabled", json_object_new_boolean(
	    dhcp != NULL));
	json_object_object_add(o, "leases", json_object_new_int64(
	    (int64_t)used));
	json_object_object_add(o, "pool_size", json_object_new_int64(
	    (int64_t)size));
	json_object_object_add(o, "pool_use_pct", json_object_new_double(
	    size ? (double)used * 100 / (double)size : 0));
	json_object_object_add(o, "reservations", json_object_new_int64(
	    dhcp != NULL ? (int64_t)dhcp->ncharger : 0));
	json_object_object_add(o, "known_macs", json_object_new_int64(
	    (int64_t)leases_count(s->leases)));
	json_object_object_add(o, "refusals", json_object_new_int64(
	    (int64_t)s->refusals));
	json_object_object_add(o, "lease_events", json_object_new_int64(
	    (int64_t)s->events));
	json_object_object_add(o, "lease_events_rejected",
	    json_object_new_int64((int64_t)(s->events_bad +
	    s->events_refused)));
	json_object_object_add(o, "fields_dropped", json_object_new_int64(
	    (int64_t)s->fields_dropped));
	json_object_object_add(o, "inits", json_object_new_int64(
	    (int64_t)s->inits));
	json_object_object_add(o, "save_failures", json_object_new_int64(
	    (int64_t)s->save_failures));
	if (s->conf.pair != NULL) {
		struct json_object *p = json_object_new_object();

		json_object_object_add(p, "applied", json_object_new_int64(
		    (int64_t)s->peer_applied));
		json_object_object_add(p, "kept", json_object_new_int64(
		    (int64_t)s->peer_kept));
		json_object_object_add(p, "conflicts", json_object_new_int64(
		    (int64_t)s->peer_conflicts));
		json_object_object_add(p, "refused", json_object_new_int64(
		    (int64_t)s->peer_refused));
		json_object_object_add(o, "from_peer", p);
	}
	json_object_object_add(o, "standby", json_object_new_boolean(
	    s->conf.standby));
	json_object_object_add(o, "lease_file", s->lease_path ?
	    json_object_new_string(s->lease_path) : NULL);
	if (dhcp != NULL)
		json_object_object_add(o, "online", online_json(s, dhcp));
	return o;
}

/* --- life cycle ------------------------------------------------------- */

struct site *
site_new(struct event_base *base, struct relay *relay)
{
	struct site *s = xcalloc(1, sizeof(*s));
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(20, 3);

	s->base = base;
	s->relay = relay;
	s->rl = rl;
	s->leases = leases_new();
	s->dm = dnsmasq_new(base);
	dnsmasq_set_refusal_cb(s->dm, on_refusal, s);
	return s;
}

void
site_status(void *arg, struct json_object *into)
{
	json_object_object_add(into, "dnsmasq", status_dnsmasq(arg));
	json_object_object_add(into, "dhcp", status_dhcp(arg));
}

/*
 * Who runs dnsmasq: an unprivileged evgated (systemd's User=, or after
 * privdrop) runs it as itself, with the capabilities it passes on;
 * dnsmasq.user applies only when evgated is root.
 */
static struct passwd *
dnsmasq_user(const struct cfg_dnsmasq *dm)
{
	return geteuid() == 0 ? getpwnam(dm->user) : getpwuid(geteuid());
}

/* mkdir -p for a directory the configuration names; the error names key. */
static int
config_dir(const char *key, const char *path, mode_t mode, char *err,
    size_t errlen)
{
	char msg[512];

	if (mkdir_p(path, mode, (uid_t)-1, 0, msg, sizeof(msg)) == 0)
		return 0;
	snprintf(err, errlen, "%s: %s", key, msg);
	return -1;
}

/*
 * The lease socket, in dnsmasq's run directory: the same object across
 * reloads (a new path is bound beside the old one), made at the first
 * prepare that needs it.
 */
static int
lease_socket_prepare(struct site *s, const struct site_conf *conf, char *err,
    size_t errlen)
{
	struct cfg_control cc;
	struct control *ctl;
	char *path;
	int rv;

	if ((ctl = s->leasectl) == NULL) {
		ctl = s->next_leasectl = control_new(s->base);
		control_register(ctl, "lease-event", cmd_lease_event, s);
		control_register(ctl, "lease-init", cmd_lease_init, s);
	}
	xasprintf(&path, "%s/lease.sock", conf->dnsmasq->run_dir);
	memset(&cc, 0, sizeof(cc));
	cc.socket = path;
	cc.mode = 0600;		/* only dnsmasq's user (and root) */
	rv = control_prepare(ctl, &cc, err, errlen);
	free(path);
	if (rv == -1) {
		char msg[512];

		snprintf(msg, sizeof(msg), "dhcp: lease socket: %s", err);
		strlcpy(err, msg, errlen);
	}
	return rv;
}

int
site_prepare(struct site *s, const struct site_conf *conf, char *err,
    size_t errlen)
{
	const struct cfg_dnsmasq *dm = conf->dnsmasq;
	struct passwd *pw;

	site_abort(s);
	if (conf->lan == NULL)
		goto done;
	if (getpwnam(dm->user) == NULL) {
		snprintf(err, errlen, "dnsmasq.user: no user \"%s\" on this "
		    "system (Debian's dnsmasq-base creates \"dnsmasq\")",
		    dm->user);
		return -1;
	}
	if (access(dm->binary, X_OK) == -1) {
		snprintf(err, errlen, "dnsmasq.binary: %s: %s (install "
		    "dnsmasq-base)", dm->binary, strerror(errno));
		return -1;
	}
	if (conf->dhcp != NULL && access(dm->hook, X_OK) == -1) {
		snprintf(err, errlen, "dnsmasq.hook: %s: %s (\"make install\" "
		    "puts evgate-dhcp-hook there; set dnsmasq.hook to where it "
		    "is, e.g. the build tree's gateway/evgate-dhcp-hook)",
		    dm->hook, strerror(errno));
		return -1;
	}
	if (config_dir("dnsmasq.state_dir", dm->state_dir, 0700, err,
	    errlen) == -1 ||
	    config_dir("dnsmasq.run_dir", dm->run_dir, 0755, err, errlen) == -1)
		return -1;
	if (access(dm->state_dir, W_OK) == -1) {
		snprintf(err, errlen, "dnsmasq.state_dir: %s: %s",
		    dm->state_dir, strerror(errno));
		return -1;
	}
	if ((pw = dnsmasq_user(dm)) == NULL) {
		snprintf(err, errlen, "dnsmasq.user: no user for uid %u",
		    (unsigned)geteuid());
		return -1;
	}
	s->next_uid = pw->pw_uid;
	s->next_gid = pw->pw_gid;
	if (lease_socket_prepare(s, conf, err, errlen) == -1) {
		site_abort(s);
		return -1;
	}
done:
	s->next = *conf;
	s->prepared = 1;
	return 0;
}

void
site_abort(struct site *s)
{
	if (s->leasectl != NULL)
		control_abort(s->leasectl);
	if (s->next_leasectl != NULL) {
		control_free(s->next_leasectl);
		s->next_leasectl = NULL;
	}
	memset(&s->next, 0, sizeof(s->next));
	s->prepared = 0;
}

static void
lease_socket_commit(struct site *s)
{
	const char *path;

	if (s->next_leasectl != NULL) {
		s->leasectl = s->next_leasectl;
		s->next_leasectl = NULL;
	}
	control_commit(s->leasectl);
	path = control_path(s->leasectl);
	free(s->sock_path);
	s->sock_path = xstrdup(path);
	if (chown_changed(path, -1, s->uid, s->gid) == -1)
		log_warn("dhcp: chown %s", path);
}

void
site_commit(struct site *s)
{
	const struct site_conf *conf = &s->conf;
	const struct cfg_dnsmasq *dmc;
	struct dnsmasq_run run;
	struct group *gr;
	struct passwd *pw;
	char *lease_path = NULL, *conf_path, *hosts_path, *pid_path, err[512],
	    group[64], user[64];
	size_t loaded, skipped;

	if (!s->prepared)
		return;
	s->prepared = 0;
	s->conf = s->next;
	memset(&s->next, 0, sizeof(s->next));
	leases_configure(s->leases, conf);
	if (conf->lan == NULL) {
		memset(&run, 0, sizeof(run));
		dnsmasq_configure(s->dm, conf, &run);
		if (s->leasectl != NULL) {
			control_free(s->leasectl);
			s->leasectl = NULL;
		}
		save(s);
		return;
	}
	dmc = conf->dnsmasq;
	s->uid = s->next_uid;
	s->gid = s->next_gid;
	if ((pw = getpwuid(s->uid)) != NULL)
		strlcpy(user, pw->pw_name, sizeof(user));
	else
		snprintf(user, sizeof(user), "%u", (unsigned)s->uid);
	if ((gr = getgrgid(s->gid)) != NULL)
		strlcpy(group, gr->gr_name, sizeof(group));
	else
		snprintf(group, sizeof(group), "%u", (unsigned)s->gid);

	xasprintf(&lease_path, "%s/leases", dmc->state_dir);
	if (!s->loaded) {
		if (leases_load(s->leases, lease_path, &loaded, &skipped, err,
		    sizeof(err)) == -1)
			log_warnx("dhcp: %s (starting with no leases)", err);
		else
			log_info("dhcp: %zu lease%s from %s%s", loaded,
			    loaded == 1 ? "" : "s", lease_path, skipped ?
			    " (some lines skipped, see above)" : "");
		s->loaded = 1;
		leases_configure(s->leases, conf);
	} else if (s->lease_path != NULL && strcmp(s->lease_path,
	    lease_path) != 0)
		log_info("dhcp: the lease database moves to %s", lease_path);
	free(s->lease_path);
	s->lease_path = lease_path;
	save(s);
	if (conf->dhcp != NULL && conf->dhcp->known_only &&
	    conf->dhcp->ncharger == 0)
		log_warnx("dhcp: known_only is on and dhcp.chargers is empty: "
		    "no device will get an address");

	lease_socket_commit(s);
	xasprintf(&conf_path, "%s/dnsmasq.conf", dmc->run_dir);
	xasprintf(&hosts_path, "%s/dhcp-hosts", dmc->run_dir);
	xasprintf(&pid_path, "%s/dnsmasq.pid", dmc->run_dir);
	memset(&run, 0, sizeof(run));
	run.binary = dmc->binary;
	run.conf_path = conf_path;
	run.hosts_path = hosts_path;
	run.pid_path = pid_path;
	run.hook = dmc->hook;
	run.lease_socket = s->sock_path;
	run.user = user;
	run.group = group;
	run.uid = s->uid;
	run.gid = s->gid;
	run.as_self = geteuid() != 0;
	if (conf->standby)
		dnsmasq_standby(s->dm);
	else
		dnsmasq_configure(s->dm, conf, &run);
	free(conf_path);
	free(hosts_path);
	free(pid_path);
	pool_check(s);
}

void
site_free(struct site *s)
{
	if (s == NULL)
		return;
	site_abort(s);
	/* dnsmasq first: no lease event may come after the last save. */
	dnsmasq_free(s->dm);
	if (s->leasectl != NULL)
		control_free(s->leasectl);
	if (s->loaded)
		save(s);
	leases_free(s->leases);
	free(s->lease_path);
	free(s->sock_path);
	free(s);
}
