/*
 * daemon: evgated's modules wired together on one loop (see evgated.h).
 * Each module gets the sections of struct config it reads; the adapters
 * below are the only place that knows which.
 */
#include "evgate_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/log.h"
#include "common/netpolicy.h"
#include "common/util.h"
#include "daemon/config.h"
#include "common/control.h"
#include "common/events.h"
#include "daemon/evgated.h"
#include "daemon/module.h"
#include "daemon/role.h"
#include "daemon/sdnotify.h"
#include "fleetlog/checkpoint.h"
#include "fleetlog/fleetlog.h"
#include "fleetlog/metrics.h"
#include "fleetlog/ship.h"
#include "relay/relay.h"
#include "relay/relay_conf.h"
#include "relay/relay_report.h"
#include "relay/resolver.h"
#include "site/lan.h"
#include "site/pair.h"
#include "site/site.h"
#include "time/ntp.h"

/* --- the modules' adapters ------------------------------------------- */

/* Add addr (from the file) with port to v. */
static void
add_listener(struct sockaddr_storage **v, size_t *n,
    const struct cfg_sockaddr *a, uint16_t port)
{
	struct sockaddr_storage ss = a->ss;

	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = ss;
}

/*
 * The upstream address policy: wan.allow_prefixes, and every TCP socket
 * of ours that a connection must never loop back into.
 */
static int
netpolicy_prepare_(void *self, const struct config *c, char *err, size_t len)
{
	const struct cfg_relay *r = c->relay;
	struct sockaddr_storage *v = NULL;
	size_t n = 0, i, j;
	uint16_t port;

	for (i = 0; r != NULL && i < r->nlisten; i++) {
		for (j = 0; j < r->nroutes; j++)
			add_listener(&v, &n, &r->listen[i], r->routes[j].port);
		if (r->transparent_port != 0)
			add_listener(&v, &n, &r->listen[i],
			    r->transparent_port);
	}
	if (c->metrics != NULL) {
		port = ntohs(c->metrics->listen.ss.ss_family == AF_INET ?
		    ((const struct sockaddr_in *)&c->metrics->listen.ss)->
		    sin_port : ((const struct sockaddr_in6 *)
		    &c->metrics->listen.ss)->sin6_port);
		add_listener(&v, &n, &c->metrics->listen, port);
	}
	netpolicy_prepare(self, c->wan.allow_prefixes, c->wan.nallow_prefixes,
	    v, n);
	free(v);
	return 0;
}

/* commit, abort and free of a module whose functions take its own type. */
#define ADAPT(m, type)							\
static void m##_commit_(void *self) { m##_commit((type *)self); }	\
static void m##_abort_(void *self) { m##_abort((type *)self); }	\
static void m##_free_(void *self) { m##_free((type *)self); }
ADAPT(netpolicy, struct netpolicy)
ADAPT(control, struct control)
ADAPT(fleetlog, struct fleetlog)
ADAPT(checkpoint, struct checkpoint)
ADAPT(resolver, struct resolver)
ADAPT(relay, struct relay)
ADAPT(ntp, struct ntp)
ADAPT(site, struct site)
ADAPT(metrics, struct metrics)
ADAPT(ship, struct ship)
#undef ADAPT

static int
control_prepare_(void *self, const struct config *c, char *err, size_t len)
{
	return control_prepare(self, &c->control, err, len);
}

static int
fleetlog_prepare_(void *self, const struct config *c, char *err, size_t len)
{
	return fleetlog_prepare(self, c->log, err, len);
}

static int
checkpoint_prepare_(void *self, const struct config *c, char *err,
    size_t len)
{
	return checkpoint_prepare(self, c->log, err, len);
}

static int
resolver_prepare_(void *self, const struct config *c, char *err, size_t len)
{
	return resolver_prepare(self, &c->wan, err, len);
}

static int
relay_prepare_(void *self, const struct config *c, char *err, size_t len)
{
	return relay_prepare(self, c->relay, err, len);
}

static int
ntp_prepare_(void *self, const struct config *c, char *err, size_t len)
{
	return ntp_prepare(self, c->ntp, err, len);
}

static int
site_prepare_(void *self, const struct config *c, char *err, size_t len)
{
	struct site_conf sc;

	config_site(c, &sc);
	return site_prepare(self, &sc, err, len);
}

static int
metrics_prepare_(void *self, const struct config *c, char *err, size_t len)
{
	return metrics_prepare(self, c->metrics, err, len);
}

static int
ship_prepare_(void *self, const struct config *c, char *err, size_t len)
{
	return ship_prepare(self, c->ship, c->site_name,
	    c->log != NULL ? c->log->dir : NULL, err, len);
}

/* The pair module's self is the daemon: its status adds the role's. */
static int
pair_prepare_(void *self, const struct config *c, char *err, size_t len)
{
	struct pair_conf pc;

	config_pair(c, &pc);
	return pair_prepare(((struct evgated *)self)->pair, &pc, err, len);
}

static void
pair_commit_(void *self)
{
	pair_commit(((struct evgated *)self)->pair);
}

static void
pair_abort_(void *self)
{
	pair_abort(((struct evgated *)self)->pair);
}

static void
pair_free_(void *self)
{
	pair_free(((struct evgated *)self)->pair);
}

static void
pair_status_(void *self, struct json_object *into)
{
	struct evgated *d = self;
	struct json_object *o = pair_status(d->pair);

	if (d->conf->pair != NULL) {
		json_object_object_add(o, "role_changes",
		    json_object_new_int64((int64_t)d->role_changes));
		json_object_object_add(o, "last_failover_unix",
		    json_object_new_int64((int64_t)(d->failover_ms / 1000)));
		json_object_object_add(o, "warm", warm_status(d->warm));
	}
	json_object_object_add(into, "pair", o);
}

/* Status sections named after their module. */
#define SECTION(m, key)							\
static void								\
m##_status_(void *self, struct json_object *into)			\
{									\
	json_object_object_add(into, (key), m##_status(self));		\
}
SECTION(fleetlog, "log")
SECTION(checkpoint, "checkpoint")
SECTION(resolver, "resolver")
SECTION(relay, "relay")
SECTION(ntp, "ntp")
SECTION(metrics, "metrics")
SECTION(ship, "ship")
#undef SECTION

/* The policy's counters: checks, and refusals by class. */
static void
netpolicy_status_(void *self, struct json_object *into)
{
	struct json_object *o = json_object_new_object(), *r;
	struct netpolicy_stats st;
	int i;

	netpolicy_stats(self, &st);
	json_object_object_add(o, "checks",
	    json_object_new_int64((int64_t)st.checks));
	json_object_object_add(o, "local_addresses",
	    json_object_new_int64((int64_t)st.local_addrs));
	r = json_object_new_object();
	for (i = 1; i < NETPOLICY_NCLASSES; i++)
		json_object_object_add(r, netpolicy_class_str(i),
		    json_object_new_int64((int64_t)st.refused[i]));
	json_object_object_add(o, "refused", r);
	json_object_object_add(into, "upstream_policy", o);
}

static void
site_status_(void *self, struct json_object *into)
{
	site_status(self, into);
}

/* --- control commands ------------------------------------------------ */

static struct json_object *
json_time_ms(uint64_t ms)
{
	char buf[32];

	return json_object_new_string(format_utc_s(ms, buf, sizeof(buf)));
}

struct json_object *
evgated_status(struct evgated *d)
{
	struct json_object *o = json_object_new_object(), *c;

	json_object_object_add(o, "version", json_object_new_string(VERSION));
	json_object_object_add(o, "site", json_object_new_string(
	    d->conf->site_name ? d->conf->site_name : ""));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "started", json_time_ms(d->start_wall_ms));
	json_object_object_add(o, "start_time_s", json_object_new_double(
	    (double)d->start_wall_ms / 1000));
	json_object_object_add(o, "uptime_s", json_object_new_int64(
	    (int64_t)((now_mono_ms() - d->start_mono_ms) / 1000)));
	json_object_object_add(o, "state", json_object_new_string(
	    d->draining ? "draining" : "running"));
	json_object_object_add(o, "role", json_object_new_string(
	    pair_role_str(d->role)));
	json_object_object_add(o, "events", json_object_new_int64(
	    (int64_t)events_count()));

	c = json_object_new_object();
	json_object_object_add(c, "path", json_object_new_string(d->conf_path));
	json_object_object_add(c, "loaded", json_time_ms(d->loaded_wall_ms));
	json_object_object_add(c, "loaded_s", json_object_new_double(
	    (double)d->loaded_wall_ms / 1000));
	json_object_object_add(c, "reloads", json_object_new_int64(
	    (int64_t)d->reloads));
	json_object_object_add(c, "reload_failures", json_object_new_int64(
	    (int64_t)d->reload_failures));
	json_object_object_add(c, "state", json_object_new_string(
	    d->last_error[0] ? "last-reload-failed" : "ok"));
	if (d->last_error[0]) {
		json_object_object_add(c, "last_error",
		    json_object_new_string(d->last_error));
		json_object_object_add(c, "last_reload",
		    json_time_ms(d->last_reload_wall_ms));
	}
	json_object_object_add(o, "config", c);
	modules_status(d->mods, EVGATED_NMODULES, o);
	return o;
}

/* What a metrics scrape reads: the whole status. */
static struct json_object *
metrics_status_cb(void *arg)
{
	return evgated_status(arg);
}

static struct json_object *
cmd_status(struct json_object *req, const struct control_peer *peer,
    void *arg, char *err, size_t errlen)
{
	return evgated_status(arg);
}

static struct json_object *
cmd_reload(struct json_object *req, const struct control_peer *peer,
    void *arg, char *err, size_t errlen)
{
	struct evgated *d = arg;

	if (d->draining) {
		snprintf(err, errlen, "the daemon is stopping");
		return NULL;
	}
	if (evgated_reload(d) == -1) {
		snprintf(err, errlen, "%s", d->last_error);
		return NULL;
	}
	return json_object_new_object();
}

/*
 * {"cmd":"role"}: the role; with "role": master|backup|fault (or stop,
 * keepalived's word when it shuts down: backup) and an optional
 * "reason", take it.
 */
static struct json_object *
cmd_role(struct json_object *req, const struct control_peer *peer,
    void *arg, char *err, size_t errlen)
{
	struct evgated *d = arg;
	struct json_object *v, *o;
	enum pair_role prev = d->role;
	const char *s, *reason = "evgatectl role";
	char why[96];
	int r;

	if (json_object_object_get_ex(req, "role", &v)) {
		if (!json_object_is_type(v, json_type_string)) {
			snprintf(err, errlen, "role: give master, backup or "
			    "fault");
			return NULL;
		}
		s = json_object_get_string(v);
		if (strcmp(s, "stop") == 0)
			r = PAIR_ROLE_BACKUP;
		else if ((r = pair_role_parse(s, strlen(s))) == -1 ||
		    r == PAIR_ROLE_SINGLE) {
			snprintf(err, errlen, "role: \"%.16s\" is not master, "
			    "backup or fault", s);
			return NULL;
		}
		if (json_object_object_get_ex(req, "reason", &v) &&
		    json_object_is_type(v, json_type_string)) {
			str_escape(json_object_get_string(v),
			    (size_t)json_object_get_string_len(v), 64, why,
			    sizeof(why));
			reason = why;
		}
		if (d->draining) {
			snprintf(err, errlen, "the daemon is stopping");
			return NULL;
		}
		if (evgated_set_role(d, (enum pair_role)r, reason, err,
		    errlen) == -1)
			return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "role", json_object_new_string(
	    pair_role_str(d->role)));
	json_object_object_add(o, "previous", json_object_new_string(
	    pair_role_str(prev)));
	json_object_object_add(o, "changed", json_object_new_boolean(
	    prev != d->role));
	json_object_object_add(o, "since", d->role_since_ms ?
	    json_time_ms(d->role_since_ms) : NULL);
	return o;
}

/* {"cmd":"health"}: can this box serve (keepalived's track script)? */
static struct json_object *
cmd_health(struct json_object *req, const struct control_peer *peer,
    void *arg, char *err, size_t errlen)
{
	struct evgated *d = arg;
	struct json_object *st, *o;
	uint64_t now = now_mono_ms(), mismatch = 0;
	int vip = -1;

	if (d->conf->pair != NULL && d->conf->lan != NULL)
		vip = role_vip_held(d->conf->lan->interface,
		    d->conf->lan->addr);
	if (vip == 1 && !role_serves(d->role)) {
		if (d->mismatch_since_ms == 0)
			d->mismatch_since_ms = now;
		mismatch = now - d->mismatch_since_ms;
	} else
		d->mismatch_since_ms = 0;
	st = evgated_status(d);
	o = role_health(st, d->role, vip, mismatch);
	json_object_put(st);
	return o;
}

/*
 * The role follows the virtual address when keepalived's notify did not
 * arrive: keepalived stopped (it removes the address and kills its FIFO
 * script, which may not have read the STOP yet), or a notify script
 * failed.  Checked every ROLE_VIP_CHECK_MS on a pair's box.
 */
static void
vip_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evgated *d = arg;
	struct timeval tv = { ROLE_VIP_CHECK_MS / 1000,
	    (ROLE_VIP_CHECK_MS % 1000) * 1000 };
	const struct cfg_lan *lan = d->conf->lan;
	uint64_t now = now_mono_ms();
	char err[1024];
	int vip, apart;

	evtimer_add(d->vip_timer, &tv);
	if (d->conf->pair == NULL || lan == NULL || d->draining ||
	    (vip = role_vip_held(lan->interface, lan->addr)) == -1) {
		d->vip_disagree_ms = 0;
		return;
	}
	apart = vip ? !role_serves(d->role) : d->role == PAIR_ROLE_MASTER;
	if (!apart) {
		d->vip_disagree_ms = 0;
		return;
	}
	if (d->vip_disagree_ms == 0) {
		d->vip_disagree_ms = now;
		return;
	}
	if (now - d->vip_disagree_ms < ROLE_VIP_FOLLOW_MS)
		return;
	d->vip_disagree_ms = 0;
	log_warnx("role: %s, but the virtual address %s is %s %s: taking "
	    "role %s (a notify from keepalived lost?)", pair_role_str(d->role),
	    lan->text, vip ? "on" : "not on", lan->interface,
	    vip ? "master" : "backup");
	if (evgated_set_role(d, vip ? PAIR_ROLE_MASTER : PAIR_ROLE_BACKUP,
	    vip ? "the virtual address is on this box" : "the virtual "
	    "address left this box", err, sizeof(err)) == -1)
		log_warnx("role: %s", err);
}

/* --- configuration --------------------------------------------------- */

static void
check_limits(struct evgated *d, const struct config *conf)
{
	if (conf->relay != NULL && conf->relay->total > d->max_conns)
		log_warnx("relay.limits.total is %u but the open-file limit "
		    "allows about %u relayed connections; raise LimitNOFILE",
		    conf->relay->total, d->max_conns);
}

static void
reload_event(struct evgated *d, int ok, const char *error)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "ok", json_object_new_boolean(ok));
	json_object_object_add(ev, "path", json_object_new_string(d->conf_path));
	if (error != NULL)
		json_object_object_add(ev, "error",
		    json_object_new_string(error));
	events_emit(EVENT_RELOAD, ev);
}

/* conf in force, in its view for the role, after every module took it. */
static void
evgated_take(struct evgated *d, struct config *conf, struct config *view)
{
	role_view_free(d->view);
	config_free(d->conf);
	d->conf = conf;
	d->view = view;
	d->loaded_wall_ms = now_wall_ms();
	events_set_box(conf->pair != NULL ? conf->pair->name : NULL);
	events_set_recording(conf->log != NULL);
	check_limits(d, conf);
}

/*
 * The role a configuration starts in: single without a pair; with one,
 * the role in force, or -- at start, or when a reload adds the pair
 * section -- master if keepalived already holds the virtual address on
 * this box, else backup.
 */
static enum pair_role
initial_role(const struct evgated *d, const struct config *conf)
{
	if (conf->pair == NULL || conf->lan == NULL)
		return PAIR_ROLE_SINGLE;
	if (d->role != PAIR_ROLE_SINGLE)
		return d->role;
	return role_vip_held(conf->lan->interface, conf->lan->addr) == 1 ?
	    PAIR_ROLE_MASTER : PAIR_ROLE_BACKUP;
}

static void
role_event(enum pair_role role, enum pair_role prev, int first,
    const char *reason)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "role", json_object_new_string(
	    pair_role_str(role)));
	json_object_object_add(ev, "previous", first ? NULL :
	    json_object_new_string(pair_role_str(prev)));
	json_object_object_add(ev, "reason", json_object_new_string(reason));
	events_emit(EVENT_ROLE, ev);
}

/* The role is now role (the modules have its view). */
static void
role_taken(struct evgated *d, enum pair_role role, int first,
    const char *reason)
{
	enum pair_role prev = d->role;
	struct pair_peer_info pi;
	uint64_t now = now_wall_ms();

	d->role = role;
	if (!first && prev == role)
		return;
	d->role_since_ms = now;
	if (!first) {
		d->role_changes++;
		/*
		 * A failover: this box takes over from a peer it last knew
		 * as master.  Not the first election after both started
		 * (the peer was backup too), nor a takeover from a peer it
		 * never heard of.
		 */
		pair_peer_info(d->pair, &pi);
		if (role == PAIR_ROLE_MASTER && (prev == PAIR_ROLE_BACKUP ||
		    prev == PAIR_ROLE_FAULT) && pi.role == PAIR_ROLE_MASTER)
			d->failover_ms = now;
	}
	d->mismatch_since_ms = 0;
	d->vip_disagree_ms = 0;
	pair_set_role(d->pair, role, d->role_since_ms, d->failover_ms);
	warm_set(d->warm, d->conf, !role_serves(role));
	if (!first && role_serves(prev) && !role_serves(role)) {
		/* The virtual address went to the other box: what we
		 * relayed through it is cut; say so now, not at idle. */
		relay_close_all(d->relay);
	}
	if (role != PAIR_ROLE_SINGLE || !first) {
		log_info("role: %s%s%s (%s)", pair_role_str(role), first ? "" :
		    ", was ", first ? "" : pair_role_str(prev), reason);
		role_event(role, prev, first, reason);
	}
	if (role != PAIR_ROLE_SINGLE)
		sdnotify(role == PAIR_ROLE_MASTER ? "STATUS=running, master" :
		    role == PAIR_ROLE_BACKUP ? "STATUS=running, backup" :
		    "STATUS=running, fault");
}

int
evgated_set_role(struct evgated *d, enum pair_role role, const char *reason,
    char *err, size_t errlen)
{
	struct config *view;
	char msg[1024];

	if (d->conf->pair == NULL) {
		snprintf(err, errlen, "this box has no pair section: it serves "
		    "alone (role single)");
		return -1;
	}
	if (role == d->role || role == PAIR_ROLE_SINGLE)
		return 0;
	view = role_view_new(d->conf, role);
	if (modules_apply(d->mods, EVGATED_NMODULES, view, msg,
	    sizeof(msg)) == -1) {
		role_view_free(view);
		snprintf(err, errlen, "cannot become %s: %s",
		    pair_role_str(role), msg);
		log_warnx("role: %s; staying %s", err, pair_role_str(d->role));
		return -1;
	}
	role_view_free(d->view);
	d->view = view;
	role_taken(d, role, 0, reason);
	return 0;
}

int
evgated_apply(struct evgated *d, struct config *conf, char *err,
    size_t errlen)
{
	enum pair_role role = initial_role(d, conf), prev = d->role;
	struct config *view = role_view_new(conf, role);

	d->last_reload_wall_ms = now_wall_ms();
	if (modules_apply(d->mods, EVGATED_NMODULES, view, err, errlen) ==
	    -1) {
		role_view_free(view);
		config_free(conf);
		d->reload_failures++;
		strlcpy(d->last_error, err, sizeof(d->last_error));
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", err);
		reload_event(d, 0, err);
		return -1;
	}
	evgated_take(d, conf, view);
	d->reloads++;
	d->last_error[0] = '\0';
	log_info("configuration reloaded from %s", d->conf_path);
	reload_event(d, 1, NULL);
	if (role != prev)
		role_taken(d, role, prev == PAIR_ROLE_SINGLE, "reload");
	else
		warm_set(d->warm, d->conf, !role_serves(role));
	return 0;
}

int
evgated_reload(struct evgated *d)
{
	struct config *conf;
	char err[1024];
	int rv;

	sdnotify("RELOADING=1");
	if ((conf = config_load(d->conf_path, err, sizeof(err))) == NULL) {
		d->last_reload_wall_ms = now_wall_ms();
		d->reload_failures++;
		strlcpy(d->last_error, err, sizeof(d->last_error));
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", err);
		reload_event(d, 0, err);
		rv = -1;
	} else
		rv = evgated_apply(d, conf, err, sizeof(err));
	sdnotify(rv == 0 ? "READY=1\nSTATUS=running" : "READY=1\nSTATUS="
	    "reload failed; old configuration in force");
	return rv;
}

/* --- life cycle ------------------------------------------------------ */

static void
daemon_event(const char *state)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "state", json_object_new_string(state));
	json_object_object_add(ev, "version", json_object_new_string(VERSION));
	json_object_object_add(ev, "pid", json_object_new_int(getpid()));
	events_emit(EVENT_DAEMON, ev);
}

#define MOD(slot, m, obj, st)						\
	do {								\
		d->mods[slot].name = #m;				\
		d->mods[slot].self = (obj);				\
		d->mods[slot].prepare = m##_prepare_;			\
		d->mods[slot].commit = m##_commit_;			\
		d->mods[slot].abort = m##_abort_;			\
		d->mods[slot].status = (st);				\
		d->mods[slot].free = m##_free_;				\
	} while (0)

struct evgated *
evgated_new(struct event_base *base, const char *conf_path,
    struct config *conf, unsigned nofile, char *err, size_t errlen)
{
	struct evgated *d = xcalloc(1, sizeof(*d));
	struct config *view;
	enum pair_role role;

	d->base = base;
	d->conf_path = conf_path;
	d->start_wall_ms = d->loaded_wall_ms = now_wall_ms();
	d->start_mono_ms = now_mono_ms();

	d->netpolicy = netpolicy_new(base);
	d->control = control_new(base);
	d->fleetlog = fleetlog_new(base);
	d->resolver = resolver_new(base);
	d->relay = relay_new(base, &resolver_ops, d->resolver, d->netpolicy);
	d->ntp = ntp_new(base, d->resolver);
	d->site = site_new(base, d->relay);
	d->metrics = metrics_new(base, metrics_status_cb, d);
	d->ship = ship_new(base, d->fleetlog, d->netpolicy);
	d->pair = pair_new(base, d->site);
	d->warm = warm_new(base, d->resolver);
	d->vip_timer = evtimer_new(base, vip_timer_cb, d);
	d->checkpoint = checkpoint_new(base, d->fleetlog, d->relay);
	MOD(EVGATED_NETPOLICY, netpolicy, d->netpolicy, netpolicy_status_);
	MOD(EVGATED_CONTROL, control, d->control, NULL);
	MOD(EVGATED_RESOLVER, resolver, d->resolver, resolver_status_);
	MOD(EVGATED_FLEETLOG, fleetlog, d->fleetlog, fleetlog_status_);
	MOD(EVGATED_CHECKPOINT, checkpoint, d->checkpoint,
	    checkpoint_status_);
	MOD(EVGATED_SHIP, ship, d->ship, ship_status_);
	MOD(EVGATED_METRICS, metrics, d->metrics, metrics_status_);
	MOD(EVGATED_SITE, site, d->site, site_status_);
	MOD(EVGATED_NTP, ntp, d->ntp, ntp_status_);
	MOD(EVGATED_RELAY, relay, d->relay, relay_status_);
	MOD(EVGATED_PAIR, pair, d, pair_status_);

	/* The wiring between modules. */
	control_register(d->control, "status", cmd_status, d);
	control_register(d->control, "reload", cmd_reload, d);
	control_register(d->control, "connections", relay_cmd_connections,
	    d->relay);
	control_register(d->control, "time", ntp_cmd_time, d->ntp);
	control_register(d->control, "chargers", site_cmd_chargers, d->site);
	control_register(d->control, "role", cmd_role, d);
	control_register(d->control, "health", cmd_health, d);
	site_set_lease_cb(d->site, pair_lease_changed, d->pair);
	relay_set_fd_limit(d->relay, nofile);
	d->max_conns = relay_max_conns(d->relay);
	relay_add_record_cb(d->relay, relay_report_record, NULL);
	relay_add_record_cb(d->relay, site_relay_record, d->site);
	relay_set_namer(d->relay, site_relay_namer, d->site);
	fleetlog_set_commit_cb(d->fleetlog, ship_committed, d->ship);
	/* The fleet log records everything from here on. */
	events_set_sink(fleetlog_append, d->fleetlog);

	/* The modules' first events carry the box's name already. */
	events_set_box(conf->pair != NULL ? conf->pair->name : NULL);
	role = initial_role(d, conf);
	view = role_view_new(conf, role);
	if (modules_apply(d->mods, EVGATED_NMODULES, view, err, errlen) ==
	    -1) {
		role_view_free(view);
		config_free(conf);
		evgated_free(d);
		return NULL;
	}
	evgated_take(d, conf, view);
	daemon_event("started");
	{
		struct timeval tv = { ROLE_VIP_CHECK_MS / 1000,
		    (ROLE_VIP_CHECK_MS % 1000) * 1000 };

		evtimer_add(d->vip_timer, &tv);
	}
	role_taken(d, role, 1, role == PAIR_ROLE_MASTER ? "start: the "
	    "virtual address is on this box" : "start");
	return d;
}

void
evgated_free(struct evgated *d)
{
	size_t i;

	if (d == NULL)
		return;
	/* Newest first: the relay's last records still become events. */
	for (i = EVGATED_NMODULES; i-- > 0; ) {
		if (i == EVGATED_METRICS)
			daemon_event("stopped");
		if (i == EVGATED_FLEETLOG) {
			/* Its last flush: nobody ships any more, and
			 * nothing is recorded after it. */
			fleetlog_set_commit_cb(d->fleetlog, NULL, NULL);
			events_set_sink(NULL, NULL);
			events_set_recording(0);
		}
		d->mods[i].free(d->mods[i].self);
	}
	warm_free(d->warm);
	if (d->vip_timer != NULL)
		event_free(d->vip_timer);
	role_view_free(d->view);
	config_free(d->conf);
	free(d);
}
