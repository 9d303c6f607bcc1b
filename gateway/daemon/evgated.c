/*
 * evgated: the site gateway daemon.  Loads evgated.yaml, starts the relay,
 * resolver and control socket on one libevent loop, reports readiness to
 * systemd, reloads on SIGHUP (a bad file keeps the old configuration), and
 * on SIGTERM stops accepting and lets relayed connections drain.
 */
#include "evgate_config.h"

#include <sys/resource.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "daemon/config.h"
#include "daemon/control.h"
#include "daemon/events.h"
#include "daemon/evgated.h"
#include "fleetlog/fleetlog.h"
#include "common/log.h"
#include "time/ntp.h"
#include "fleetlog/metrics.h"
#include "relay/relay.h"
#include "relay/resolver.h"
#include "daemon/privdrop.h"
#include "daemon/sdnotify.h"
#include "site/site.h"
#include "fleetlog/ship.h"
#include "common/util.h"

#define DRAIN_POLL_MS	200

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: evgated [-n] [-c file] [-l level] [-s] [-u user]\n"
	    "\n"
	    "  -c, --config FILE    configuration (default %s)\n"
	    "  -n, --check-config   validate the configuration and exit 0/1\n"
	    "  -l, --log-level LVL  error, warn, info (default) or debug\n"
	    "  -s, --syslog         log to syslog instead of stderr\n"
	    "  -u, --user USER      when started as root, run as USER after\n"
	    "                       start-up (overrides daemon.user)\n"
	    "  -V, --version        print the version and exit\n"
	    "  -h, --help           this text\n"
	    "\n"
	    "Runs in the foreground.  SIGHUP reloads the configuration;\n"
	    "SIGTERM stops accepting and drains relayed connections.\n"
	    "See evgated(8), evgated.yaml(5), evgatectl(8).\n",
	    CONFIG_DEFAULT_PATH);
}

/* --- file descriptors ------------------------------------------------ */

/*
 * Each relayed connection holds two descriptors, plus pipes while data is
 * in flight.  Raise the soft limit to the hard one and say what fits.
 */
static unsigned
fd_budget(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 512;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 4000000)
		return 2000000;
	/* 64 for ourselves; pipes: a pool of up to 256 pairs, worst case. */
	return rl.rlim_cur > 64 + 512 + 2 ?
	    (unsigned)((rl.rlim_cur - 64 - 512) / 2) : 1;
}

static void
check_limits(struct evgated *d, const struct config *conf)
{
	if (conf->relay != NULL && conf->relay->total > d->max_conns)
		log_warnx("relay.limits.total is %u but the open-file limit "
		    "allows about %u relayed connections; raise LimitNOFILE",
		    conf->relay->total, d->max_conns);
}

/* --- configuration --------------------------------------------------- */

static int
apply_config(struct evgated *d, struct config *conf, char *err, size_t len)
{
	if (site_prepare(d->site, conf, err, len) == -1)
		return -1;
	if (ntp_prepare(d->ntp, conf, err, len) == -1)
		return -1;
	if (relay_configure(d->relay, conf, err, len) == -1) {
		ntp_abort(d->ntp);
		return -1;
	}
	site_configure(d->site, conf);
	resolver_configure(d->resolver, conf);
	ntp_commit(d->ntp, conf);
	if (control_listen(d->control, &conf->control, err, len) == -1)
		log_warnx("%s (keeping the previous control socket)", err);
	if (fleetlog_configure(d->fleetlog, conf, err, len) == -1)
		log_warnx("%s (keeping the previous log directory)", err);
	if (metrics_configure(d->metrics, conf, err, len) == -1)
		log_warnx("%s (keeping the previous metrics address)", err);
	if (ship_configure(d->ship, conf, err, len) == -1)
		log_warnx("%s (shipping goes on as before)", err);
	check_limits(d, conf);
	return 0;
}

static void
daemon_event(const char *state)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "state", json_object_new_string(state));
	json_object_object_add(ev, "version", json_object_new_string(VERSION));
	json_object_object_add(ev, "pid", json_object_new_int(getpid()));
	events_emit(EVENT_DAEMON, ev);
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

int
evgated_reload(struct evgated *d)
{
	struct config *conf;
	char err[1024];

	d->last_reload_wall_ms = now_wall_ms();
	sdnotify("RELOADING=1");
	if ((conf = config_load(d->conf_path, err, sizeof(err))) == NULL ||
	    apply_config(d, conf, err, sizeof(err)) == -1) {
		config_free(conf);
		d->reload_failures++;
		strlcpy(d->last_error, err, sizeof(d->last_error));
		log_warnx("reload failed, keeping the running configuration: "
		    "%s", err);
		reload_event(d, 0, err);
		sdnotify("READY=1\nSTATUS=reload failed; old configuration "
		    "in force");
		return -1;
	}
	config_free(d->conf);
	d->conf = conf;
	d->loaded_wall_ms = now_wall_ms();
	d->reloads++;
	d->last_error[0] = '\0';
	log_info("configuration reloaded from %s", d->conf_path);
	reload_event(d, 1, NULL);
	sdnotify("READY=1\nSTATUS=running");
	return 0;
}

/* --- control commands ------------------------------------------------ */

static struct json_object *
json_time_ms(uint64_t ms)
{
	char buf[32];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_object_new_string(buf);
}

static struct json_object *
status_relay(void *arg)
{
	struct evgated *d = arg;
	struct json_object *r = json_object_new_object(), *rf, *st;
	struct relay_counters ctr;
	int i;

	relay_counters(d->relay, &ctr);
	json_object_object_add(r, "enabled",
	    json_object_new_boolean(d->conf->relay != NULL));
	json_object_object_add(r, "listeners",
	    json_object_new_int64((int64_t)ctr.listeners));
	json_object_object_add(r, "active",
	    json_object_new_int64((int64_t)ctr.active));
	st = json_object_new_object();
	for (i = 0; i < RELAY_NSTATES; i++)
		json_object_object_add(st, relay_state_str(i),
		    json_object_new_int64((int64_t)ctr.by_state[i]));
	json_object_object_add(r, "by_state", st);
	json_object_object_add(r, "accepted",
	    json_object_new_int64((int64_t)ctr.accepted));
	json_object_object_add(r, "relayed",
	    json_object_new_int64((int64_t)ctr.relayed));
	json_object_object_add(r, "closed",
	    json_object_new_int64((int64_t)ctr.closed));
	rf = json_object_new_object();
	for (i = 0; i < REFUSE_NREASONS; i++)
		json_object_object_add(rf, relay_refusal_str(i),
		    json_object_new_int64((int64_t)ctr.refused[i]));
	json_object_object_add(r, "refused", rf);
	rf = json_object_new_object();
	for (i = 1; i < CLOSE_NREASONS; i++)
		json_object_object_add(rf, relay_close_str(i),
		    json_object_new_int64((int64_t)ctr.closes[i]));
	json_object_object_add(r, "closes", rf);
	json_object_object_add(r, "bytes_up",
	    json_object_new_int64((int64_t)ctr.bytes_up));
	json_object_object_add(r, "bytes_down",
	    json_object_new_int64((int64_t)ctr.bytes_down));
	json_object_object_add(r, "pipes_in_use",
	    json_object_new_int64((int64_t)ctr.pipes_in_use));
	json_object_object_add(r, "pipes_pooled",
	    json_object_new_int64((int64_t)ctr.pipes_pooled));
	json_object_object_add(r, "accept_errors",
	    json_object_new_int64((int64_t)ctr.accept_errors));
	json_object_object_add(r, "max_connections",
	    json_object_new_int64((int64_t)d->max_conns));
	return r;
}

static struct json_object *
status_resolver(void *arg)
{
	struct evgated *d = arg;
	struct json_object *r = json_object_new_object();
	struct resolver_stats rs;

	resolver_stats(d->resolver, &rs);
	json_object_object_add(r, "queries",
	    json_object_new_int64((int64_t)rs.queries));
	json_object_object_add(r, "cache_hits",
	    json_object_new_int64((int64_t)rs.cache_hits));
	json_object_object_add(r, "joined",
	    json_object_new_int64((int64_t)rs.joined));
	json_object_object_add(r, "failures",
	    json_object_new_int64((int64_t)rs.failures));
	json_object_object_add(r, "cached",
	    json_object_new_int64((int64_t)rs.cached));
	return r;
}

void
evgated_status_add(struct evgated *d, const char *name, evgated_status_fn fn,
    void *arg)
{
	if (d->nstatus == EVGATED_MAX_STATUS)
		fatalx("too many status sections (%s)", name);
	d->status[d->nstatus].name = name;
	d->status[d->nstatus].fn = fn;
	d->status[d->nstatus].arg = arg;
	d->nstatus++;
}

struct json_object *
evgated_status(struct evgated *d)
{
	struct json_object *o = json_object_new_object(), *c;
	size_t i;

	json_object_object_add(o, "version", json_object_new_string(VERSION));
	json_object_object_add(o, "site", json_object_new_string(
	    d->conf->site_name ? d->conf->site_name : ""));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "started", json_time_ms(d->start_wall_ms));
	json_object_object_add(o, "uptime_s", json_object_new_int64(
	    (int64_t)((now_mono_ms() - d->start_mono_ms) / 1000)));
	json_object_object_add(o, "state", json_object_new_string(
	    d->draining ? "draining" : "running"));
	json_object_object_add(o, "events", json_object_new_int64(
	    (int64_t)events_count()));

	c = json_object_new_object();
	json_object_object_add(c, "path", json_object_new_string(d->conf_path));
	json_object_object_add(c, "loaded", json_time_ms(d->loaded_wall_ms));
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
	for (i = 0; i < d->nstatus; i++)
		json_object_object_add(o, d->status[i].name,
		    d->status[i].fn(d->status[i].arg));
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

static void
add_connection(const struct relay_record *rec, void *arg)
{
	struct json_object *list = arg, *o = json_object_new_object();
	char buf[64];

	json_object_object_add(o, "id", json_object_new_int64((int64_t)rec->id));
	json_object_object_add(o, "client", json_object_new_string(
	    format_sockaddr(&rec->client.sa, buf, sizeof(buf))));
	json_object_object_add(o, "charger", rec->charger[0] ?
	    json_object_new_string(rec->charger) : NULL);
	json_object_object_add(o, "port", json_object_new_int(rec->port));
	json_object_object_add(o, "sni", rec->sni ?
	    json_object_new_string(rec->sni) : NULL);
	json_object_object_add(o, "upstream", rec->upstream.sa.sa_family ?
	    json_object_new_string(format_sockaddr(&rec->upstream.sa, buf,
	    sizeof(buf))) : NULL);
	json_object_object_add(o, "state",
	    json_object_new_string(relay_state_str(rec->state)));
	json_object_object_add(o, "started", json_time_ms(rec->start_wall_ms));
	json_object_object_add(o, "duration_s", json_object_new_double(
	    (double)(now_mono_ms() - rec->start_mono_ms) / 1000));
	json_object_object_add(o, "bytes_up",
	    json_object_new_int64((int64_t)rec->bytes_up));
	json_object_object_add(o, "bytes_down",
	    json_object_new_int64((int64_t)rec->bytes_down));
	json_object_array_add(list, o);
}

static struct json_object *
cmd_connections(struct json_object *req, const struct control_peer *peer,
    void *arg, char *err, size_t errlen)
{
	struct evgated *d = arg;
	struct json_object *o = json_object_new_object();
	struct json_object *list = json_object_new_array();

	relay_foreach(d->relay, add_connection, list);
	json_object_object_add(o, "connections", list);
	return o;
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

/* --- signals and draining -------------------------------------------- */

static void
drain_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evgated *d = arg;
	struct relay_counters ctr;

	relay_counters(d->relay, &ctr);
	if (ctr.active == 0) {
		log_info("all connections drained");
		event_base_loopbreak(d->base);
		return;
	}
	if (now_mono_ms() >= d->drain_deadline) {
		log_info("drain time over: closing %zu connections", ctr.active);
		relay_close_all(d->relay);
		event_base_loopbreak(d->base);
	}
}

static void
sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct evgated *d = arg;
	struct timeval tv = { 0, DRAIN_POLL_MS * 1000 };
	uint64_t drain = d->conf->relay ? d->conf->relay->drain_ms : 0;

	if (d->draining) {
		log_info("second signal: stopping now");
		relay_close_all(d->relay);
		event_base_loopbreak(d->base);
		return;
	}
	d->draining = 1;
	sdnotify("STOPPING=1");
	log_info("signal %d: no new connections; draining for up to %llums",
	    (int)sig, (unsigned long long)drain);
	relay_stop_listening(d->relay);
	d->drain_deadline = now_mono_ms() + drain;
	d->drain_timer = event_new(d->base, -1, EV_PERSIST, drain_check_cb, d);
	event_add(d->drain_timer, &tv);
	drain_check_cb(-1, 0, d);
}

static void
sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct evgated *d = arg;

	if (d->draining) {
		log_info("SIGHUP while stopping: ignored");
		return;
	}
	log_info("SIGHUP: reloading %s", d->conf_path);
	evgated_reload(d);
}

/* --- main ------------------------------------------------------------ */

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "syslog", no_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct evgated d;
	char err[1024];
	int ch, check = 0, use_syslog = 0, level = LOG_LEVEL_INFO;
	const char *user = NULL;
	struct event_config *evcfg;

	memset(&d, 0, sizeof(d));
	d.conf_path = CONFIG_DEFAULT_PATH;
	while ((ch = getopt_long(argc, argv, "c:nl:su:Vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			d.conf_path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'l':
			if ((level = log_level_parse(optarg)) == -1) {
				fprintf(stderr, "evgated: unknown log level "
				    "\"%s\"\n", optarg);
				return 2;
			}
			break;
		case 'u':
			user = optarg;
			break;
		case 's':
			use_syslog = 1;
			break;
		case 'V':
			printf("evgated %s\n", VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	d.conf = config_load(d.conf_path, err, sizeof(err));
	if (check) {
		if (d.conf == NULL) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		printf("%s: configuration OK\n", d.conf_path);
		config_free(d.conf);
		return 0;
	}
	log_init("evgated", !use_syslog, (enum log_level)level);
	if (d.conf == NULL)
		fatalx("%s", err);

	signal(SIGPIPE, SIG_IGN);
	d.max_conns = fd_budget();
	/*
	 * Leave root before anything listens or starts: with the kept
	 * capabilities the daemon binds its ports, starts dnsmasq and
	 * reloads exactly as it does under systemd's User=evgate.
	 */
	if (user == NULL && d.conf->daemon != NULL)
		user = d.conf->daemon->user;
	if (privdrop(d.conf, user, err, sizeof(err)) == -1)
		fatalx("%s", err);
	d.start_wall_ms = d.loaded_wall_ms = now_wall_ms();
	d.start_mono_ms = now_mono_ms();
	/*
	 * The changelist folds a connection's successive interest changes
	 * into one epoll_ctl per loop round: about 10 % fewer system calls
	 * per short relayed connection (doc/performance.md).  Its caveat,
	 * descriptors cloned with dup(), does not apply: we never dup.
	 */
	if ((evcfg = event_config_new()) == NULL ||
	    event_config_set_flag(evcfg,
	    EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == -1 ||
	    (d.base = event_base_new_with_config(evcfg)) == NULL)
		fatalx("event_base_new failed");
	event_config_free(evcfg);
	d.resolver = resolver_new(d.base);
	d.relay = relay_new(d.base, d.resolver);
	d.control = control_new(d.base);
	control_register(d.control, "status", cmd_status, &d);
	control_register(d.control, "connections", cmd_connections, &d);
	control_register(d.control, "reload", cmd_reload, &d);
	evgated_status_add(&d, "relay", status_relay, &d);
	evgated_status_add(&d, "resolver", status_resolver, &d);
	d.ntp = ntp_new(d.base, d.resolver);
	control_register(d.control, "time", ntp_cmd_time, d.ntp);
	evgated_status_add(&d, "ntp", ntp_status, d.ntp);
	/* The fleet log first: it records everything from here on. */
	d.fleetlog = fleetlog_new(d.base);
	if (fleetlog_configure(d.fleetlog, d.conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	events_set_sink(fleetlog_append, d.fleetlog);
	relay_add_record_cb(d.relay, fleetlog_relay_record, d.fleetlog);
	evgated_status_add(&d, "log", fleetlog_status, d.fleetlog);
	daemon_event("started");
	d.metrics = metrics_new(d.base, metrics_status_cb, &d);
	evgated_status_add(&d, "metrics", metrics_status, d.metrics);
	if (metrics_configure(d.metrics, d.conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	d.ship = ship_new(d.base, d.fleetlog);
	fleetlog_set_commit_cb(d.fleetlog, ship_committed, d.ship);
	evgated_status_add(&d, "ship", ship_status, d.ship);
	if (ship_configure(d.ship, d.conf, err, sizeof(err)) == -1)
		fatalx("%s", err);

	if (ntp_prepare(d.ntp, d.conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (relay_configure(d.relay, d.conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	resolver_configure(d.resolver, d.conf);
	ntp_commit(d.ntp, d.conf);
	if (control_listen(d.control, &d.conf->control, err, sizeof(err)) == -1)
		fatalx("%s", err);
	d.site = site_new(&d);
	if (site_prepare(d.site, d.conf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	site_configure(d.site, d.conf);
	check_limits(&d, d.conf);

	d.sig_term = evsignal_new(d.base, SIGTERM, sigterm_cb, &d);
	d.sig_int = evsignal_new(d.base, SIGINT, sigterm_cb, &d);
	d.sig_hup = evsignal_new(d.base, SIGHUP, sighup_cb, &d);
	event_add(d.sig_term, NULL);
	event_add(d.sig_int, NULL);
	event_add(d.sig_hup, NULL);

	log_info("evgated %s started (site \"%s\", config %s)", VERSION,
	    d.conf->site_name ? d.conf->site_name : "", d.conf_path);
	sdnotify("READY=1\nSTATUS=running");
	event_base_dispatch(d.base);

	log_info("evgated stopped");
	relay_free(d.relay);
	ntp_free(d.ntp);
	site_free(d.site);
	daemon_event("stopped");
	metrics_free(d.metrics);
	ship_free(d.ship);
	fleetlog_set_commit_cb(d.fleetlog, NULL, NULL);
	events_set_sink(NULL, NULL);
	fleetlog_free(d.fleetlog);
	resolver_free(d.resolver);
	control_free(d.control);
	if (d.drain_timer)
		event_free(d.drain_timer);
	event_free(d.sig_term);
	event_free(d.sig_int);
	event_free(d.sig_hup);
	config_free(d.conf);
	event_base_free(d.base);
	return 0;
}
