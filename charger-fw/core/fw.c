/*
 * fw: see fw.h.  One timer serves the deadline-driven modules (DHCP,
 * SNTP, charger): after every event it is re-armed for the earliest of
 * their deadlines.  The cloud link and DNS keep their own libevent events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "core/charger.h"
#include "core/cloud.h"
#include "core/desired.h"
#include "core/dhcp.h"
#include "core/dns.h"
#include "core/fw.h"
#include "core/fwlog.h"
#include "core/sntp.h"
#include "core/store.h"
#include "core/twin.h"
#include "core/usage.h"

#define NEVER	UINT64_MAX
#define BACKLOG_WINDOW	2	/* stored messages in flight at once */
#define INFLIGHT_MAX	64	/* messages awaiting their PUBACK */
#define STRETCH		4	/* periodic intervals over the budget */
#define KV_DESIRED	"twin.desired"
#define SESSION_QUIET_MS	10000	/* no renewal this soon after */

struct fw {
	struct event_base	*base;
	struct fw_config	 cfg;
	struct hal_cred		 cred;
	uint8_t			 mac[6];
	int			 pkt_fd;
	struct event		*ev_pkt;
	uint8_t			 pktbuf[1500];	/* one frame; off the stack */
	int			 arp_fd;
	struct event		*ev_arp;
	struct dhcp_client	*dhcp;
	struct dns		*dns;
	int			 udp_fd;
	struct event		*ev_udp;
	struct sntp		*sntp;
	struct dns_req		*ntp_req;
	uint32_t		 ntp_static;	/* the static name's address */
	uint32_t		 ntp_dhcp[DHCP_MAX_ADDRS];
	unsigned		 nntp_dhcp;
	struct event		*ev_ntp_retry;
	struct cloud		*cloud;
	struct twin		*twin;
	struct desired_settings	 desired;
	uint64_t		 session_change_ms;
	uint32_t		 lease_addr;	/* of the last lease bound */
	uint32_t		 lease_router;
	int			 lease_lost;
	struct charger		*charger;
	struct store		*store;
	struct {
		int		 mid;		/* libmosquitto's */
		uint32_t	 id;		/* the store's */
		int		 backlog;
	}			 inflight[INFLIGHT_MAX];
	size_t			 ninflight;
	unsigned		 backlog;	/* stored ones in flight */
	unsigned		 drain_rate;	/* backlog a second */
	int64_t			 link_since;	/* wall ms of this link's start */
	uint64_t		 next_drain;	/* mono: the next may go */
	struct usage		 usage;
	unsigned		 usage_ticks;
	struct event		*ev_tick;
	struct event		*ev_usage;
	struct event		*ev_reboot;
	int			 synced;
	int			 net_up;
	struct fw_update_ops	 upd;
	unsigned long		 methods;
};

static void	fw_schedule(struct fw *);
static uint64_t	fw_drain_deadline(struct fw *);
static void	fw_drain(struct fw *);

static void
fw_libevent_log(int severity, const char *msg)
{
	fw_debug("libevent: %s", msg);
}

/* --- time ------------------------------------------------------------ */

static void
fw_ntp_servers(struct fw *f)
{
	uint32_t list[1 + DHCP_MAX_ADDRS];
	size_t n = 0, i;

	/* The vendor's static server first, then what DHCP offered. */
	if (f->ntp_static != 0)
		list[n++] = f->ntp_static;
	for (i = 0; i < f->nntp_dhcp; i++)
		list[n++] = f->ntp_dhcp[i];
	sntp_set_servers(f->sntp, list, n, hal_mono_ms());
	fw_schedule(f);
}

static void
fw_ntp_resolved(int err, uint32_t addr, void *arg)
{
	struct fw *f = arg;
	struct timeval tv = { 60, 0 };

	f->ntp_req = NULL;
	if (err != 0) {
		/* Try the name again later; option-42 servers meanwhile. */
		evtimer_add(f->ev_ntp_retry, &tv);
		return;
	}
	f->ntp_static = addr;
	fw_ntp_servers(f);
}

static void
fw_ntp_resolve(struct fw *f)
{
	if (f->ntp_req != NULL)
		return;
	f->ntp_req = dns_resolve(f->dns, f->cfg.ntp_server, fw_ntp_resolved, f);
}

static void
fw_ntp_retry(evutil_socket_t fd, short what, void *arg)
{
	fw_ntp_resolve(arg);
}

static void
fw_synced(void *arg, int64_t step)
{
	struct fw *f = arg;

	if (!f->synced) {
		f->synced = 1;
		/* Tokens and certificate checks need the time: now the hub. */
		cloud_start(f->cloud);
	}
}

static void
fw_udp_read(evutil_socket_t fd, short what, void *arg)
{
	struct fw *f = arg;
	uint8_t buf[512];
	uint32_t ip;
	uint16_t port;
	int64_t rx;
	ssize_t n;

	while ((n = hal_udp_recv(f->udp_fd, buf, sizeof(buf), &ip, &port,
	    &rx)) >= 0)
		sntp_input(f->sntp, buf, (size_t)n, ip, port, rx,
		    hal_mono_ms());
	fw_schedule(f);
}

/* --- network --------------------------------------------------------- */

static void
fw_net_up(struct fw *f, const uint32_t *dns, size_t ndns)
{
	struct dns_server list[DNS_MAX_SERVERS];
	size_t n;

	n = dns_servers_compose(dns, ndns, f->cfg.dns_fallback,
	    f->cfg.ndns_fallback, list);
	dns_set_servers(f->dns, list, n);
	f->net_up = 1;
	fw_ntp_resolve(f);
	fw_ntp_servers(f);
}

static void
fw_bound(void *arg, const struct dhcp_lease *l)
{
	struct fw *f = arg;
	int changed = f->lease_addr != 0 && (l->addr != f->lease_addr ||
	    l->router != f->lease_router);

	memcpy(f->ntp_dhcp, l->ntp, sizeof(f->ntp_dhcp));
	f->nntp_dhcp = l->nntp;
	fw_net_up(f, l->dns, l->ndns);
	/*
	 * A connection made from the old address is dead (or soon will be,
	 * behind a NAT that forgot it): reconnect now rather than after a
	 * keep-alive timeout.  After a lease was lost, cut a wait short.
	 */
	if (changed)
		cloud_reconnect(f->cloud, "the address changed");
	else if (f->lease_lost && cloud_state(f->cloud) != CLOUD_CONNECTED)
		cloud_reconnect(f->cloud, "a new lease");
	f->lease_addr = l->addr;
	f->lease_router = l->router;
	f->lease_lost = 0;
}

static void
fw_lost(void *arg)
{
	struct fw *f = arg;

	f->net_up = 0;
	f->nntp_dhcp = 0;
	f->lease_lost = 1;
}

static void
fw_pkt_read(evutil_socket_t fd, short what, void *arg)
{
	struct fw *f = arg;
	uint32_t src;
	ssize_t n;

	while ((n = hal_pkt_recv(f->pkt_fd, f->pktbuf, sizeof(f->pktbuf),
	    &src)) >= 0)
		if (n > 0)
			dhcp_client_input(f->dhcp, f->pktbuf, (size_t)n,
			    hal_mono_ms());
	fw_schedule(f);
}

static void
fw_arp_read(evutil_socket_t fd, short what, void *arg)
{
	struct fw *f = arg;
	uint8_t buf[64];
	ssize_t n;

	while ((n = hal_arp_recv(f->arp_fd, buf, sizeof(buf))) >= 0)
		if (n > 0)
			dhcp_client_arp_input(f->dhcp, buf, (size_t)n,
			    hal_mono_ms());
	fw_schedule(f);
}

/* --- the deadline timer ---------------------------------------------- */

static void
fw_tick(evutil_socket_t fd, short what, void *arg)
{
	struct fw *f = arg;
	uint64_t now = hal_mono_ms();

	if (f->dhcp != NULL)
		dhcp_client_tick(f->dhcp, now);
	sntp_tick(f->sntp, now);
	charger_tick(f->charger, now);
	twin_tick(f->twin, now);
	fw_drain(f);
	fw_schedule(f);
}

static void
fw_schedule(struct fw *f)
{
	uint64_t now = hal_mono_ms(), d = NEVER, x;
	struct timeval tv;

	if (f->dhcp != NULL)
		d = dhcp_client_deadline(f->dhcp);
	if ((x = sntp_deadline(f->sntp)) < d)
		d = x;
	if ((x = charger_deadline(f->charger)) < d)
		d = x;
	if ((x = twin_deadline(f->twin)) < d)
		d = x;
	if ((x = fw_drain_deadline(f)) < d)
		d = x;
	if (d == NEVER) {
		evtimer_del(f->ev_tick);
		return;
	}
	d = d > now ? d - now : 0;
	tv.tv_sec = (time_t)(d / 1000);
	tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
	evtimer_add(f->ev_tick, &tv);
}

/* --- telemetry and the cloud ----------------------------------------- */

/*
 * A record if it says something about a session or the state (710, 718,
 * 721, 723): never dropped for room.  Everything else is periodic.
 */
static enum store_class
fw_tel_class(const struct tel_msg *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		switch (m->obs[i].id) {
		case TEL_MODE:
		case TEL_FINAL_STOP:
		case TEL_SESSION_ID:
		case TEL_SESSION_DONE:
			return STORE_RECORD;
		default:
			break;
		}
	return STORE_PERIODIC;
}

/*
 * The key: a record's identity; for periodic telemetry, what a newer
 * message supersedes.  A pulse, a data-usage report, the versions: only
 * the newest matters, the key is the observations' set.  Meter values
 * are a series (a power curve, an energy register read at times): each
 * is kept while there is room, key 0.
 */
static uint32_t
fw_tel_key(const struct tel_msg *m, enum store_class cls)
{
	uint32_t h = 2166136261U;
	size_t i;

	if (m->key != 0 || cls == STORE_RECORD)
		return m->key;
	for (i = 0; i < m->n; i++) {
		if ((m->obs[i].id >= TEL_VOLTAGE1 && m->obs[i].id <= TEL_POWER) ||
		    m->obs[i].id == TEL_SESSION_ENERGY)
			return 0;
		h = (h ^ (uint32_t)m->obs[i].id) * 16777619U;
	}
	return h != 0 ? h : 1;
}

/* Hand a message to the link; the store learns its PUBACK by the mid. */
static void
fw_send(struct fw *f, uint32_t id, int64_t wall, const char *json,
    int backlog)
{
	char mid[STORE_MID_MAX];
	int m;

	if (id != 0)
		store_mid(id, wall, mid, sizeof(mid));
	if ((m = cloud_telemetry(f->cloud, json, id != 0 ? mid : NULL)) == -1 ||
	    id == 0)
		return;
	store_handed(f->store, id);
	if (f->ninflight == INFLIGHT_MAX)
		return;		/* acked by the next link: the cloud drops
				 * the second copy by its $.mid */
	f->inflight[f->ninflight].mid = m;
	f->inflight[f->ninflight].id = id;
	f->inflight[f->ninflight].backlog = backlog;
	f->ninflight++;
	if (backlog)
		f->backlog++;
}

/*
 * The backlog, oldest first, paced: at most BACKLOG_WINDOW in flight and
 * drain_rate a second, so that live messages and method answers never
 * queue behind it (at most two backlog messages are ahead of them on the
 * link), and a fleet back from an outage does not hit the hub's
 * device-to-cloud throttle all at once.  The deadline timer comes back
 * for the next one (fw_schedule).
 */
static void
fw_drain(struct fw *f)
{
	const struct store_msg *m;
	uint64_t now = hal_mono_ms();

	while (cloud_state(f->cloud) == CLOUD_CONNECTED &&
	    f->backlog < BACKLOG_WINDOW && f->ninflight < INFLIGHT_MAX &&
	    now >= f->next_drain && (m = store_next(f->store)) != NULL) {
		fw_send(f, m->id, m->wall, m->json, 1);
		f->next_drain = now + 1000 / f->drain_rate;
	}
}

/* When the backlog may go on: NEVER when it cannot or need not. */
static uint64_t
fw_drain_deadline(struct fw *f)
{
	if (cloud_state(f->cloud) != CLOUD_CONNECTED ||
	    f->backlog >= BACKLOG_WINDOW || store_unsent(f->store) == 0)
		return NEVER;
	return f->next_drain;
}

/* Stored first, sent at once when the link is up. */
static void
fw_emit(struct fw *f, const struct tel_msg *m, const char *json)
{
	enum store_class cls = fw_tel_class(m);
	int64_t wall = hal_wall_ms();
	uint32_t id;

	id = store_put(f->store, cls, fw_tel_key(m, cls), wall, json);
	if (cloud_state(f->cloud) == CLOUD_CONNECTED)
		fw_send(f, id, wall, json, 0);
}

static void
fw_acked(void *arg, int mid)
{
	struct fw *f = arg;
	size_t i;

	for (i = 0; i < f->ninflight && f->inflight[i].mid != mid; i++)
		;
	if (i == f->ninflight)
		return;
	store_acked(f->store, f->inflight[i].id);
	if (f->inflight[i].backlog)
		f->backlog--;
	f->inflight[i] = f->inflight[--f->ninflight];
	fw_drain(f);
	fw_schedule(f);
}

void
fw_telemetry(struct fw *f, const struct tel_msg *m)
{
	char *json = tel_encode(m, hal_wall_ms());

	if (json != NULL)
		fw_emit(f, m, json);
	free(json);
}

static void
fw_charger_publish(void *arg, const struct tel_msg *m, const char *json)
{
	fw_emit(arg, m, json);
}

static int
fw_charger_recorded(void *arg, uint32_t key)
{
	struct fw *f = arg;

	return store_has_record(f->store, key);
}

/* The counters now: usage's totals follow the interface and the link. */
static void
fw_usage_update(struct fw *f)
{
	const struct cloud_stats *cs = cloud_stats(f->cloud);
	uint64_t rx = 0, tx = 0;
	struct tel_msg m;

	if (hal_net_counters(f->cfg.interface, &rx, &tx) == -1)
		rx = tx = 0;
	if (usage_update(&f->usage, rx + tx, cs->mqtt_rx + cs->mqtt_tx,
	    f->synced ? hal_wall_ms() : -1, hal_mono_ms())) {
		fw_warn("usage: %llu bytes today, over the daily budget of %llu: "
		    "periodic telemetry slows down until the day ends",
		    (unsigned long long)f->usage.day_if,
		    (unsigned long long)f->usage.budget);
		tel_init(&m);
		tel_add(&m, TEL_BUDGET_EXCEEDED, TEL_INT, "1");
		fw_telemetry(f, &m);
	}
	charger_set_stretch(f->charger, f->usage.over ? STRETCH : 1,
	    hal_mono_ms());
}

static void
fw_charger_bytes(void *arg, uint64_t *iface, uint64_t *mqtt)
{
	struct fw *f = arg;

	fw_usage_update(f);
	*iface = f->usage.total_if;
	*mqtt = f->usage.total_mqtt;
}

static void
fw_versions(struct fw *f)
{
	struct hal_boot_state b;
	struct tel_msg m;
	char json[256];
	int run = hal_slot_running();

	if (hal_boot_state_get(&b) == -1)
		return;
	tel_init(&m);
	tel_add(&m, TEL_FW_VERSION, TEL_TEXT, b.version[run]);
	tel_add(&m, TEL_FW_VERSION_OTHER, TEL_TEXT, b.version[!run]);
	fw_telemetry(f, &m);
	snprintf(json, sizeof(json), "{\"firmware\":{\"version\":\"%s\","
	    "\"slot\":\"%c\",\"confirmed\":%s,\"rolledBack\":%s}}",
	    b.version[run], 'A' + run, b.confirmed ? "true" : "false",
	    b.rolled_back ? "true" : "false");
	twin_report(f->twin, json, hal_mono_ms());
}

/*
 * 822: the day's bytes and the totals, at the interface and MQTT level,
 * the budget and whether it is exceeded; 930: links the hub accepted and
 * then dropped before they were stable.
 */
static void
fw_data_usage(struct fw *f)
{
	struct usage *u = &f->usage;
	struct tel_msg m;

	fw_usage_update(f);
	tel_init(&m);
	tel_addf(&m, TEL_DATA_USAGE, TEL_JSON, "{\"day\":{\"if\":%llu,"
	    "\"mqtt\":%llu},\"total\":{\"if\":%llu,\"mqtt\":%llu},"
	    "\"budget\":%llu,\"over\":%s}", (unsigned long long)u->day_if,
	    (unsigned long long)u->day_mqtt, (unsigned long long)u->total_if,
	    (unsigned long long)u->total_mqtt, (unsigned long long)u->budget,
	    u->over ? "true" : "false");
	tel_addf(&m, TEL_LINK_DROPPED, TEL_INT, "%lu",
	    cloud_stats(f->cloud)->dropped);
	fw_telemetry(f, &m);
}

static void
fw_usage_timer(evutil_socket_t fd, short what, void *arg)
{
	struct fw *f = arg;

	/* Over the budget: one report in STRETCH. */
	if (f->usage.over && ++f->usage_ticks % STRETCH != 0) {
		fw_usage_update(f);
		return;
	}
	fw_data_usage(f);
}

static void
fw_cloud_state(void *arg, int up)
{
	struct fw *f = arg;

	if (up) {
		/* Stored from now on: live, not backlog (status: since_ms). */
		f->link_since = hal_wall_ms();
		charger_report(f->charger, hal_mono_ms());
		fw_data_usage(f);
		/* What was stored meanwhile, oldest first, a few at a time. */
		fw_drain(f);
		fw_schedule(f);
		return;		/* the twin waits for the SUBACKs */
	}
	/* Not acknowledged: they go again on the next link. */
	store_link_down(f->store);
	f->ninflight = 0;
	f->backlog = 0;
	twin_down(f->twin);
	if (f->upd.cloud != NULL)
		f->upd.cloud(f->upd.ctx, 0);
}

/* The hub delivers now: the twin GETs, and what waited is reported. */
static void
fw_cloud_subscribed(void *arg)
{
	struct fw *f = arg;

	twin_up(f->twin, hal_mono_ms());
	/* The update engine, when there is one, owns these reports. */
	if (f->upd.cloud == NULL)
		fw_versions(f);
	else
		f->upd.cloud(f->upd.ctx, 1);
	fw_schedule(f);
}

static int
fw_twin_send(void *arg, const char *topic, const char *payload)
{
	struct fw *f = arg;

	return cloud_publish0(f->cloud, topic, payload);
}

static void
fw_apply_limits(struct fw *f)
{
	struct charger_limits l;

	l.max_current_a = f->desired.max_current_a;
	l.pulse_idle_s = f->desired.pulse_idle_s;
	l.pulse_charging_s = f->desired.pulse_charging_s;
	l.meter_interval_s = f->desired.meter_interval_s;
	charger_set_limits(f->charger, &l, hal_mono_ms());
}

/*
 * Desired properties, version-ordered by the twin: ours (maxCurrent,
 * telemetry) are applied, kept and acknowledged; the update engine gets
 * the document for its "firmware" member.
 */
static void
fw_twin_desired(void *arg, const char *json, size_t len, int64_t version,
    int full)
{
	struct fw *f = arg;
	char ack[DESIRED_ACK_MAX], state[DESIRED_STATE_MAX];
	enum desired_status st;

	if ((st = desired_apply(&f->desired, json, len, full, version, ack,
	    sizeof(ack))) != DESIRED_OK) {
		fw_warn("twin: desired properties ignored: %s",
		    desired_strerror(st));
		return;
	}
	fw_info("twin: desired $version %lld applied (max current %u A)",
	    (long long)version, f->desired.max_current_a);
	fw_apply_limits(f);
	if (desired_encode(&f->desired, twin_version(f->twin), state,
	    sizeof(state)) == 0 &&
	    hal_kv_set(KV_DESIRED, state, strlen(state)) == -1)
		fw_warn("twin: cannot keep the desired settings");
	twin_report(f->twin, ack, hal_mono_ms());
	if (f->upd.desired != NULL)
		f->upd.desired(f->upd.ctx, json, len, full);
	fw_schedule(f);
}

static void
fw_twin_reported(void *arg, uint32_t id, int status)
{
	struct fw *f = arg;

	if (f->upd.reported != NULL)
		f->upd.reported(f->upd.ctx, id, status);
}

/*
 * No token renewal in the middle of starting or stopping a session: its
 * records must reach the hub on the link they were sent on.
 */
static int
fw_busy(void *arg)
{
	struct fw *f = arg;

	return f->session_change_ms != 0 &&
	    hal_mono_ms() - f->session_change_ms < SESSION_QUIET_MS;
}

static void
fw_method(void *arg, const struct method_req *req, const uint8_t *payload,
    size_t len)
{
	struct fw *f = arg;
	char reply[512];
	int status;

	f->methods++;
	fw_info("method %s (rid %s)", req->name, req->rid);
	if (req->id == METHOD_UPGRADE || req->id == METHOD_ROLLBACK) {
		if (f->upd.method != NULL)
			status = f->upd.method(f->upd.ctx, req->id, payload,
			    len, reply, sizeof(reply));
		else {
			status = 400;
			snprintf(reply, sizeof(reply),
			    "{\"error\":\"no update engine\"}");
		}
	} else
		status = charger_method(f->charger, req->id, payload, len,
		    hal_mono_ms(), reply, sizeof(reply));
	if (status != 200)
		fw_info("method %s refused: %s", req->name, reply);
	cloud_method_reply(f->cloud, req->rid, status, reply);
	fw_schedule(f);
}

static void
fw_message(void *arg, const char *topic, const uint8_t *payload, size_t len)
{
	struct fw *f = arg;
	int st;

	if ((st = twin_input(f->twin, topic, payload, len,
	    hal_mono_ms())) >= 0) {
		if (st == 200)
			cloud_proven(f->cloud);	/* the hub answered */
		fw_schedule(f);
		return;
	}
	fw_debug("cloud-to-device message on %s (%zu bytes)", topic, len);
}

static int
fw_car_connected(void *arg)
{
	return hal_car_state() != HAL_CAR_ABSENT;
}

static void
fw_session(void *arg, int active)
{
	struct fw *f = arg;

	f->session_change_ms = hal_mono_ms();
	if (f->upd.session != NULL)
		f->upd.session(f->upd.ctx, active);
}

/* --- reboot ---------------------------------------------------------- */

static void
fw_reboot_now(evutil_socket_t fd, short what, void *arg)
{
	struct fw *f = arg;

	hal_contactor_set(0, 0, 0);
	cloud_free(f->cloud);	/* DISCONNECT, so the hub does not wait */
	f->cloud = NULL;
	hal_reboot();
	fw_err("reboot failed");
	exit(1);
}

void
fw_reboot(struct fw *f)
{
	struct timeval tv = { 1, 0 };

	fw_info("rebooting in a second");
	evtimer_add(f->ev_reboot, &tv);
}

static void
fw_charger_reboot(void *arg)
{
	fw_reboot(arg);
}

/* --- life cycle ------------------------------------------------------ */

struct fw *
fw_new(struct event_base *base, const struct fw_config *cfg,
    const struct hal_cred *cred)
{
	struct charger_cb ccb;
	struct cloud_cb kcb;
	struct cloud_cfg kc;
	struct sntp_cb scb;
	struct twin_cb tcb;
	char state[DESIRED_STATE_MAX];
	int64_t version = 0;
	size_t len;
	struct fw *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->base = base;
	f->cfg = *cfg;
	f->cred = *cred;
	f->pkt_fd = f->udp_fd = f->arp_fd = -1;
	event_set_log_callback(fw_libevent_log);

	if ((f->dns = dns_new(base, cfg->dns_timeout_ms, 2)) == NULL)
		goto fail;
	if ((f->udp_fd = hal_udp_open()) == -1) {
		fw_err("cannot open the SNTP socket");
		goto fail;
	}
	scb.synced = fw_synced;
	scb.arg = f;
	if ((f->sntp = sntp_new(f->udp_fd, cfg->ntp_port, &scb)) == NULL)
		goto fail;

	kc = cfg->cloud;
	snprintf(kc.id, sizeof(kc.id), "%s", cred->device_id);
	snprintf(kc.secret, sizeof(kc.secret), "%s", cred->secret);
	if (kc.auth == CLOUD_AUTH_PASSWORD)
		fw_warn("cloud.auth: password sends the device secret itself; "
		    "a real hub takes SAS tokens: for test worlds only");
	memset(&kcb, 0, sizeof(kcb));
	kcb.state = fw_cloud_state;
	kcb.subscribed = fw_cloud_subscribed;
	kcb.method = fw_method;
	kcb.message = fw_message;
	kcb.car_connected = fw_car_connected;
	kcb.acked = fw_acked;
	kcb.busy = fw_busy;
	kcb.arg = f;
	if ((f->cloud = cloud_new(base, f->dns, &kc, &kcb)) == NULL)
		goto fail;

	/* The cloud's settings as last applied, until the twin says more. */
	if (hal_kv_get(KV_DESIRED, state, sizeof(state), &len) == 0 &&
	    desired_decode(state, len, &f->desired, &version) == -1) {
		fw_warn("twin: the kept desired settings are unreadable");
		memset(&f->desired, 0, sizeof(f->desired));
		version = 0;
	}
	memset(&tcb, 0, sizeof(tcb));
	tcb.send = fw_twin_send;
	tcb.desired = fw_twin_desired;
	tcb.reported = fw_twin_reported;
	tcb.arg = f;
	if ((f->twin = twin_new(&tcb, version)) == NULL)
		goto fail;

	memset(&ccb, 0, sizeof(ccb));
	ccb.publish = fw_charger_publish;
	ccb.recorded = fw_charger_recorded;
	ccb.bytes = fw_charger_bytes;
	ccb.reboot = fw_charger_reboot;
	ccb.session = fw_session;
	ccb.arg = f;
	if ((f->charger = charger_new(&cfg->charger, &ccb)) == NULL)
		goto fail;
	/* What was stored and not acknowledged before the restart. */
	f->drain_rate = cfg->store.drain_rate != 0 ? cfg->store.drain_rate :
	    STORE_DEFAULT_RATE;
	if ((f->store = store_open(&cfg->store)) == NULL) {
		fw_err("cannot open the message store in the HAL");
		goto fail;
	}
	usage_init(&f->usage, cfg->budget_daily);
	fw_apply_limits(f);

	f->ev_tick = evtimer_new(base, fw_tick, f);
	f->ev_usage = event_new(base, -1, EV_PERSIST, fw_usage_timer, f);
	f->ev_reboot = evtimer_new(base, fw_reboot_now, f);
	f->ev_ntp_retry = evtimer_new(base, fw_ntp_retry, f);
	f->ev_udp = event_new(base, f->udp_fd, EV_READ | EV_PERSIST,
	    fw_udp_read, f);
	if (f->ev_tick == NULL || f->ev_usage == NULL || f->ev_reboot == NULL ||
	    f->ev_ntp_retry == NULL || f->ev_udp == NULL)
		goto fail;
	return f;
fail:
	fw_free(f);
	return NULL;
}

int
fw_start(struct fw *f)
{
	struct dhcp_client_cb dcb = { fw_bound, fw_lost, f };
	struct timeval usage = { (time_t)f->cfg.data_usage_s, 0 };

	event_add(f->ev_udp, NULL);
	event_add(f->ev_usage, &usage);
	hal_car_notify(fw_car_changed, f);
	charger_start(f->charger, hal_mono_ms());
	if (f->cfg.netmode == FW_NET_DHCP) {
		if ((f->pkt_fd = hal_pkt_open(f->cfg.interface, f->mac)) == -1)
			return -1;
		f->dhcp = dhcp_client_new(f->cfg.interface, f->pkt_fd, f->mac,
		    f->cred.device_id, &dcb);
		f->ev_pkt = event_new(f->base, f->pkt_fd, EV_READ | EV_PERSIST,
		    fw_pkt_read, f);
		if (f->dhcp == NULL || f->ev_pkt == NULL)
			return -1;
		event_add(f->ev_pkt, NULL);
		/* RFC 5227: a new address is checked before it is taken. */
		if ((f->arp_fd = hal_arp_open(f->cfg.interface)) == -1)
			fw_warn("dhcp: no ARP on %s: addresses are taken "
			    "without a conflict check", f->cfg.interface);
		else {
			f->ev_arp = event_new(f->base, f->arp_fd,
			    EV_READ | EV_PERSIST, fw_arp_read, f);
			if (f->ev_arp == NULL)
				return -1;
			event_add(f->ev_arp, NULL);
			dhcp_client_arp(f->dhcp, f->arp_fd);
		}
		dhcp_client_start(f->dhcp, hal_mono_ms());
	} else
		fw_net_up(f, NULL, 0);	/* the link is configured already */
	if (f->upd.boot != NULL)
		f->upd.boot(f->upd.ctx, f);
	fw_info("%s started (%s)", f->cred.device_id,
	    f->cfg.netmode == FW_NET_DHCP ? "dhcp" : "static network");
	fw_schedule(f);
	return 0;
}

void
fw_free(struct fw *f)
{
	if (f == NULL)
		return;
	if (f->ntp_req != NULL)
		dns_cancel(f->ntp_req);
	cloud_free(f->cloud);
	twin_free(f->twin);
	charger_free(f->charger);
	store_free(f->store);
	sntp_free(f->sntp);
	dhcp_client_free(f->dhcp);
	if (f->ev_pkt != NULL)
		event_free(f->ev_pkt);
	if (f->ev_arp != NULL)
		event_free(f->ev_arp);
	if (f->arp_fd != -1)
		hal_arp_close(f->arp_fd);
	if (f->pkt_fd != -1)
		hal_pkt_close(f->pkt_fd);
	if (f->ev_udp != NULL)
		event_free(f->ev_udp);
	if (f->udp_fd != -1)
		hal_udp_close(f->udp_fd);
	if (f->ev_tick != NULL)
		event_free(f->ev_tick);
	if (f->ev_usage != NULL)
		event_free(f->ev_usage);
	if (f->ev_reboot != NULL)
		event_free(f->ev_reboot);
	if (f->ev_ntp_retry != NULL)
		event_free(f->ev_ntp_retry);
	dns_free(f->dns);
	free(f);
}

void
fw_update_register(struct fw *f, const struct fw_update_ops *ops)
{
	f->upd = *ops;
}

struct event_base *
fw_base(struct fw *f)
{
	return f->base;
}

struct dns *
fw_dns(struct fw *f)
{
	return f->dns;
}

const struct fw_config *
fw_config(struct fw *f)
{
	return &f->cfg;
}

int
fw_time_synced(struct fw *f)
{
	return f->synced;
}

int
fw_cloud_connected(struct fw *f)
{
	return f->cloud != NULL && cloud_state(f->cloud) == CLOUD_CONNECTED;
}

int
fw_in_session(struct fw *f)
{
	struct charger_status s;

	charger_status(f->charger, &s);
	return s.in_session;
}

uint32_t
fw_twin_report(struct fw *f, const char *json)
{
	uint32_t id = twin_report(f->twin, json, hal_mono_ms());

	fw_schedule(f);
	return id;
}

void
fw_car_changed(void *arg)
{
	struct fw *f = arg;

	charger_car_event(f->charger, hal_mono_ms());
	fw_schedule(f);
}

char *
fw_status_json(struct fw *f)
{
	struct json_object *o, *d, *k, *t, *c, *v, *w, *st_o, *u_o;
	const struct twin_stats *ts = twin_stats(f->twin);
	const struct store_stats *ss2 = store_stats(f->store);
	int i;
	const struct dhcp_lease *l = f->dhcp != NULL ?
	    dhcp_client_lease(f->dhcp) : NULL;
	const struct cloud_stats *cs = cloud_stats(f->cloud);
	const struct sntp_stats *ss = sntp_stats(f->sntp);
	struct charger_status st;
	struct hal_boot_state b;
	char ip[16], when[32], *out;

	charger_status(f->charger, &st);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(
	    f->cred.device_id));

	d = json_object_new_object();
	json_object_object_add(d, "state", json_object_new_string(
	    f->dhcp != NULL ? dhcp_state_name(dhcp_client_state(f->dhcp)) :
	    "static"));
	if (l != NULL) {
		json_object_object_add(d, "address", json_object_new_string(
		    fw_ipstr(l->addr, ip)));
		json_object_object_add(d, "router", json_object_new_string(
		    fw_ipstr(l->router, ip)));
		json_object_object_add(d, "lease", json_object_new_int64(
		    l->lease_s));
	}
	if (f->dhcp != NULL) {
		const struct dhcp_stats *ds = dhcp_client_stats(f->dhcp);

		json_object_object_add(d, "malformed", json_object_new_int64(
		    (int64_t)ds->rx_malformed));
		json_object_object_add(d, "declines", json_object_new_int64(
		    (int64_t)ds->declines));
		json_object_object_add(d, "conflicts", json_object_new_int64(
		    (int64_t)ds->conflicts));
		json_object_object_add(d, "clamped", json_object_new_int64(
		    (int64_t)ds->clamped));
		json_object_object_add(d, "naks", json_object_new_int64(
		    (int64_t)ds->naks));
	}
	json_object_object_add(o, "dhcp", d);

	t = json_object_new_object();
	json_object_object_add(t, "synced", json_object_new_boolean(f->synced));
	tel_time(hal_wall_ms(), when, sizeof(when));
	json_object_object_add(t, "wall", json_object_new_string(when));
	json_object_object_add(t, "server", json_object_new_string(
	    fw_ipstr(ss->last_server, ip)));
	json_object_object_add(t, "offset_ms", json_object_new_int64(
	    ss->last_offset));
	json_object_object_add(t, "rejected", json_object_new_int64(
	    (int64_t)ss->rejected));
	json_object_object_add(o, "time", t);

	c = json_object_new_object();
	json_object_object_add(c, "state", json_object_new_string(
	    cloud_state_name(cloud_state(f->cloud))));
	json_object_object_add(c, "connected", json_object_new_boolean(
	    cloud_state(f->cloud) == CLOUD_CONNECTED));
	json_object_object_add(c, "since_ms", json_object_new_int64(
	    cloud_state(f->cloud) == CLOUD_CONNECTED ? f->link_since : 0));
	json_object_object_add(c, "address", json_object_new_string(
	    cs->address));
	json_object_object_add(c, "connects", json_object_new_int64(
	    (int64_t)cs->connects));
	json_object_object_add(c, "attempts", json_object_new_int64(
	    (int64_t)cs->attempts));
	json_object_object_add(c, "failures", json_object_new_int64(
	    cs->failures));
	json_object_object_add(c, "dropped", json_object_new_int64(
	    (int64_t)cs->dropped));
	json_object_object_add(c, "renewals", json_object_new_int64(
	    (int64_t)cs->renewals));
	json_object_object_add(c, "reconnects", json_object_new_int64(
	    (int64_t)cs->reconnects));
	json_object_object_add(c, "link", json_object_new_string(cs->phase));
	json_object_object_add(c, "window_ms", json_object_new_int64(
	    (int64_t)cs->window_ms));
	json_object_object_add(c, "token_expiry", json_object_new_int64(
	    cs->token_expiry_s));
	json_object_object_add(c, "last_error", json_object_new_string(
	    cs->last_error));
	json_object_object_add(c, "published", json_object_new_int64(
	    (int64_t)cs->published));
	json_object_object_add(c, "tls_resumed", json_object_new_int64(
	    (int64_t)cs->tls_resumed));
	json_object_object_add(c, "queued", json_object_new_int64(
	    (int64_t)store_unsent(f->store)));
	json_object_object_add(c, "unacked", json_object_new_int64(
	    (int64_t)store_pending(f->store, -1)));
	json_object_object_add(c, "methods", json_object_new_int64(
	    (int64_t)f->methods));
	json_object_object_add(o, "cloud", c);

	st_o = json_object_new_object();
	for (i = 0; i < 2; i++) {
		struct json_object *x = json_object_new_object();

		json_object_object_add(x, "pending", json_object_new_int64(
		    (int64_t)store_pending(f->store, i)));
		json_object_object_add(x, "stored", json_object_new_int64(
		    (int64_t)ss2->stored[i]));
		json_object_object_add(x, "sent", json_object_new_int64(
		    (int64_t)ss2->sent[i]));
		json_object_object_add(x, "acked", json_object_new_int64(
		    (int64_t)ss2->acked[i]));
		json_object_object_add(x, "dropped", json_object_new_int64(
		    (int64_t)ss2->dropped[i]));
		json_object_object_add(x, "used", json_object_new_int64(
		    (int64_t)store_used(f->store, i)));
		json_object_object_add(x, "size", json_object_new_int64(
		    (int64_t)store_size(f->store, i)));
		json_object_object_add(st_o, i == 0 ? "records" : "periodic", x);
	}
	json_object_object_add(st_o, "collapsed", json_object_new_int64(
	    (int64_t)ss2->collapsed));
	json_object_object_add(st_o, "unstored", json_object_new_int64(
	    (int64_t)ss2->unstored));
	json_object_object_add(o, "store", st_o);

	fw_usage_update(f);
	u_o = json_object_new_object();
	json_object_object_add(u_o, "day_if", json_object_new_int64(
	    (int64_t)f->usage.day_if));
	json_object_object_add(u_o, "day_mqtt", json_object_new_int64(
	    (int64_t)f->usage.day_mqtt));
	json_object_object_add(u_o, "total_if", json_object_new_int64(
	    (int64_t)f->usage.total_if));
	json_object_object_add(u_o, "total_mqtt", json_object_new_int64(
	    (int64_t)f->usage.total_mqtt));
	json_object_object_add(u_o, "budget", json_object_new_int64(
	    (int64_t)f->usage.budget));
	json_object_object_add(u_o, "over", json_object_new_boolean(
	    f->usage.over));
	json_object_object_add(o, "usage", u_o);

	w = json_object_new_object();
	json_object_object_add(w, "desired_version", json_object_new_int64(
	    twin_version(f->twin)));
	json_object_object_add(w, "pending", json_object_new_int64(
	    (int64_t)twin_pending(f->twin)));
	json_object_object_add(w, "gets", json_object_new_int64(
	    (int64_t)ts->gets));
	json_object_object_add(w, "patches", json_object_new_int64(
	    (int64_t)ts->patches));
	json_object_object_add(w, "retries", json_object_new_int64(
	    (int64_t)ts->retries));
	json_object_object_add(w, "throttled", json_object_new_int64(
	    (int64_t)ts->throttled));
	json_object_object_add(w, "unmatched", json_object_new_int64(
	    (int64_t)ts->unmatched));
	json_object_object_add(w, "stale", json_object_new_int64(
	    (int64_t)ts->stale));
	json_object_object_add(o, "twin", w);

	k = json_object_new_object();
	json_object_object_add(k, "mode", json_object_new_int(st.mode));
	json_object_object_add(k, "mode_name", json_object_new_string(
	    charger_mode_name(st.mode)));
	json_object_object_add(k, "paused", json_object_new_boolean(st.paused));
	json_object_object_add(k, "car", json_object_new_int(st.car));
	json_object_object_add(k, "current", json_object_new_int(
	    (int)st.current_a));
	json_object_object_add(k, "max_current", json_object_new_int(
	    (int)st.max_current_a));
	json_object_object_add(k, "phases", json_object_new_int(
	    (int)st.phases));
	json_object_object_add(k, "power", json_object_new_double(st.power_w));
	json_object_object_add(k, "energy_wh", json_object_new_double(
	    st.meter_wh));
	json_object_object_add(k, "session_wh", json_object_new_double(
	    st.session_wh));
	json_object_object_add(k, "session_id", json_object_new_string(
	    st.session_id));
	json_object_object_add(k, "sessions", json_object_new_int64(
	    (int64_t)st.sessions));
	json_object_object_add(k, "resumed", json_object_new_int64(
	    (int64_t)st.resumed));
	json_object_object_add(k, "closed_after_restart", json_object_new_int64(
	    (int64_t)st.closed));
	json_object_object_add(k, "stretch", json_object_new_int(
	    (int)st.stretch));
	json_object_object_add(o, "charger", k);

	if (hal_boot_state_get(&b) == 0) {
		int run = hal_slot_running();

		v = json_object_new_object();
		json_object_object_add(v, "running", json_object_new_string(
		    b.version[run]));
		json_object_object_add(v, "slot", json_object_new_string(
		    run == HAL_SLOT_A ? "A" : "B"));
		json_object_object_add(v, "other", json_object_new_string(
		    b.version[!run]));
		json_object_object_add(v, "confirmed", json_object_new_boolean(
		    b.confirmed));
		json_object_object_add(v, "rolled_back",
		    json_object_new_boolean(b.rolled_back));
		json_object_object_add(v, "security_floor",
		    json_object_new_int64(b.security_floor));
		json_object_object_add(o, "firmware", v);
	}
	out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return out;
}
