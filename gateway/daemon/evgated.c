/*
 * evgated: the site gateway's process.  Parses options, loads evgated.yaml,
 * leaves root, makes the daemon (daemon.c: every module on one libevent
 * loop), reports readiness to systemd, reloads on SIGHUP (a bad file keeps
 * the old configuration), and on SIGTERM stops accepting and lets relayed
 * connections drain.
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

#include "common/log.h"
#include "common/psl.h"
#include "common/util.h"
#include "daemon/boxcheck.h"
#include "daemon/config.h"
#include "daemon/evgated.h"
#include "daemon/privdrop.h"
#include "daemon/sdnotify.h"
#include "relay/relay.h"
#include "relay/relay_conf.h"
#include "site/lan.h"

#define DRAIN_POLL_MS	200

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: evgated [-nDsVh] [-c file] [-l level] [-u user]\n"
	    "\n"
	    "  -c, --config FILE    configuration (default %s)\n"
	    "  -n, --check-config   check the configuration and this machine\n"
	    "                       against it; print every error and warning;\n"
	    "                       exit 0 (warnings only) or 1\n"
	    "  -D, --dump-config    print the configuration with every default\n"
	    "                       filled in, and exit\n"
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

/* --- checking ------------------------------------------------------- */

static void
print_diags(const struct cfg_diags *d, FILE *fp)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		fprintf(fp, "%s\n", d->v[i].text);
	if (d->nerrors + d->nwarnings > d->n)
		fprintf(fp, "(%zu more not shown)\n",
		    d->nerrors + d->nwarnings - d->n);
}

/*
 * --check-config: the file, then this machine against it.  Every error
 * and warning on stderr, a summary on stdout; 0 when there is no error.
 */
static int
check_config(const char *path, const char *user)
{
	struct cfg_diags d;
	struct config *conf;
	struct box box;
	char err[512], *dmconf = NULL;
	int rv;

	memset(&d, 0, sizeof(d));
	if ((conf = config_load_diags(path, &d)) != NULL) {
		if (user == NULL && conf->daemon != NULL)
			user = conf->daemon->user;
		xasprintf(&dmconf, "%s/dnsmasq.conf", conf->dnsmasq != NULL ?
		    conf->dnsmasq->run_dir : "");
		if (box_read(&box, PSL_DEFAULT_PATH, user, conf->dnsmasq !=
		    NULL ? dmconf : NULL, err, sizeof(err)) == -1)
			cfg_diags_add(&d, 0, "%s: cannot read this machine: %s",
			    path, err);
		else {
			config_check_box(conf, &box, &d);
			box_free(&box);
		}
	}
	print_diags(&d, stderr);
	if (d.nerrors > 0)
		printf("%s: %zu error%s, %zu warning%s\n", path, d.nerrors,
		    d.nerrors == 1 ? "" : "s", d.nwarnings,
		    d.nwarnings == 1 ? "" : "s");
	else if (d.nwarnings > 0)
		printf("%s: configuration OK, %zu warning%s\n", path,
		    d.nwarnings, d.nwarnings == 1 ? "" : "s");
	else
		printf("%s: configuration OK\n", path);
	rv = d.nerrors > 0 ? 1 : 0;
	free(dmconf);
	cfg_diags_free(&d);
	config_free(conf);
	return rv;
}

static int
dump_config(const char *path)
{
	struct cfg_diags d;
	struct config *conf;

	memset(&d, 0, sizeof(d));
	if ((conf = config_load_diags(path, &d)) == NULL) {
		print_diags(&d, stderr);
		cfg_diags_free(&d);
		return 1;
	}
	print_diags(&d, stderr);	/* warnings */
	config_dump(conf, stdout);
	cfg_diags_free(&d);
	config_free(conf);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* --- file descriptors ------------------------------------------------ */

/*
 * Raise the soft descriptor limit to the hard one and say what it is: the
 * relay keeps within it (relay_set_fd_limit).
 */
static unsigned
fd_limit(void)
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
		return 4000000;
	return (unsigned)rl.rlim_cur;
}

/* --- signals and draining -------------------------------------------- */

/* The process around the daemon: its signals and its graceful stop. */
struct sig {
	struct evgated	*d;
	struct event	*term, *intr, *hup;
	struct event	*drain_timer;
	uint64_t	 drain_deadline;
};

static void
drain_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sig *s = arg;
	struct relay_counters ctr;

	relay_counters(s->d->relay, &ctr);
	if (ctr.active == 0) {
		log_info("all connections drained");
		event_base_loopbreak(s->d->base);
		return;
	}
	if (now_mono_ms() >= s->drain_deadline) {
		log_info("drain time over: closing %zu connections", ctr.active);
		relay_close_all(s->d->relay);
		event_base_loopbreak(s->d->base);
	}
}

static void
sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sig *s = arg;
	struct evgated *d = s->d;
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
	s->drain_deadline = now_mono_ms() + drain;
	s->drain_timer = event_new(d->base, -1, EV_PERSIST, drain_check_cb, s);
	event_add(s->drain_timer, &tv);
	drain_check_cb(-1, 0, s);
}

static void
sighup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sig *s = arg;

	if (s->d->draining) {
		log_info("SIGHUP while stopping: ignored");
		return;
	}
	log_info("SIGHUP: reloading %s", s->d->conf_path);
	evgated_reload(s->d);
}

/* --- main ------------------------------------------------------------ */

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "dump-config", no_argument, NULL, 'D' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "syslog", no_argument, NULL, 's' },
		{ "user", required_argument, NULL, 'u' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sig s;
	struct config *conf;
	struct cfg_diags diags;
	struct box box;
	char *dmconf = NULL;
	size_t i;
	struct event_base *base;
	struct event_config *evcfg;
	const char *conf_path = CONFIG_DEFAULT_PATH, *user = NULL;
	char err[1024];
	int ch, check = 0, dump = 0, use_syslog = 0, level = LOG_LEVEL_INFO;
	unsigned nofile;

	while ((ch = getopt_long(argc, argv, "c:nDl:su:Vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'D':
			dump = 1;
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

	if (check)
		return check_config(conf_path, user);
	if (dump)
		return dump_config(conf_path);
	log_init("evgated", !use_syslog, (enum log_level)level);
	memset(&diags, 0, sizeof(diags));
	if ((conf = config_load_diags(conf_path, &diags)) == NULL) {
		for (i = 0; i < diags.n; i++)
			log_warnx("%s", diags.v[i].text);
		fatalx("%s: %zu error%s in the configuration", conf_path,
		    diags.nerrors, diags.nerrors == 1 ? "" : "s");
	}
	/* Warnings, and what this machine lacks: the modules will fail on
	 * the latter with their own errors; this says which key to fix. */
	if (user == NULL && conf->daemon != NULL)
		user = conf->daemon->user;
	xasprintf(&dmconf, "%s/dnsmasq.conf", conf->dnsmasq != NULL ?
	    conf->dnsmasq->run_dir : "");
	if (box_read(&box, PSL_DEFAULT_PATH, user, conf->dnsmasq != NULL ?
	    dmconf : NULL, err, sizeof(err)) == 0) {
		config_check_box(conf, &box, &diags);
		box_free(&box);
	}
	free(dmconf);
	for (i = 0; i < diags.n; i++)
		log_warnx("%s", diags.v[i].text);
	cfg_diags_free(&diags);

	signal(SIGPIPE, SIG_IGN);
	nofile = fd_limit();
	/*
	 * Leave root before anything listens or starts: with the kept
	 * capabilities the daemon binds its ports, starts dnsmasq and
	 * reloads exactly as it does under systemd's User=evgate.
	 */
	if (user == NULL && conf->daemon != NULL)
		user = conf->daemon->user;
	if (privdrop(conf, user, err, sizeof(err)) == -1)
		fatalx("%s", err);
	/*
	 * The changelist folds a connection's successive interest changes
	 * into one epoll_ctl per loop round: about 10 % fewer system calls
	 * per short relayed connection (doc/performance.md).  Its caveat,
	 * descriptors cloned with dup(), does not apply: we never dup.
	 */
	if ((evcfg = event_config_new()) == NULL ||
	    event_config_set_flag(evcfg,
	    EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == -1 ||
	    (base = event_base_new_with_config(evcfg)) == NULL)
		fatalx("event_base_new failed");
	event_config_free(evcfg);

	memset(&s, 0, sizeof(s));
	if ((s.d = evgated_new(base, conf_path, conf, nofile, err,
	    sizeof(err))) == NULL)
		fatalx("%s", err);
	s.term = evsignal_new(base, SIGTERM, sigterm_cb, &s);
	s.intr = evsignal_new(base, SIGINT, sigterm_cb, &s);
	s.hup = evsignal_new(base, SIGHUP, sighup_cb, &s);
	event_add(s.term, NULL);
	event_add(s.intr, NULL);
	event_add(s.hup, NULL);

	log_info("evgated %s started (site \"%s\", config %s)", VERSION,
	    s.d->conf->site_name ? s.d->conf->site_name : "", conf_path);
	sdnotify("READY=1\nSTATUS=running");
	event_base_dispatch(base);

	log_info("evgated stopped");
	evgated_free(s.d);
	if (s.drain_timer)
		event_free(s.drain_timer);
	event_free(s.term);
	event_free(s.intr);
	event_free(s.hup);
	event_base_free(base);
	return 0;
}
