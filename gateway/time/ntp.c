/*
 * ntp: the time service module (see ntp.h): configuration section, time
 * state, offset tracking, step detection, optional clock discipline,
 * status and the "time" control command.
 */
#include "evgate_config.h"

#include <sys/syscall.h>
#include <arpa/inet.h>
#include <sys/timerfd.h>
#include <sys/timex.h>
#include <linux/capability.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/cfg.h"
#include "common/events.h"
#include "common/log.h"
#include "time/ntp.h"
#include "time/ntp_client.h"
#include "time/ntp_select.h"
#include "time/ntp_server.h"
#include "common/util.h"

#define SLEW_RATE	500e-6	/* the kernel's adjtime() slew, s/s */
#define FREQ_MAX_PPM	500.0

const char *
ntp_state_str(enum ntp_state st)
{
	static const char *const names[NTP_STATE_N] = {
		"off", "unsynchronised", "synchronised", "holdover",
		"unsynchronised",
	};

	return (unsigned)st < NTP_STATE_N ? names[st] : "unknown";
}

/* --- configuration --------------------------------------------------- */

/* A DNS host name: dot-separated labels of letters, digits and '-'. */
static int
valid_hostname(const char *s, size_t len)
{
	size_t i, label = 0;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-')
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-';
}

static int
server_item(struct cfg_ctx *ctx, struct cfg_node *node, size_t idx, void *arg)
{
	struct cfg_ntp *n = arg;
	struct cfg_ntp_server *cs = &n->servers[idx];
	const char *colon;
	size_t i, hlen;

	if (cfg_str(ctx, node, &cs->text) == -1)
		return -1;
	if (parse_sockaddr(cs->text, NTP_PORT, &cs->ss, &cs->sslen) == 0) {
		cs->port = cs->ss.ss_family == AF_INET ?
		    ntohs(((struct sockaddr_in *)&cs->ss)->sin_port) :
		    ntohs(((struct sockaddr_in6 *)&cs->ss)->sin6_port);
		if (cs->port == 0)
			return cfg_error(ctx, node, "port 0 in \"%.64s\"",
			    cs->text);
	} else {
		unsigned long port = NTP_PORT;

		colon = strrchr(cs->text, ':');
		hlen = colon ? (size_t)(colon - cs->text) : strlen(cs->text);
		if (colon != NULL) {
			char *end;

			errno = 0;
			port = strtoul(colon + 1, &end, 10);
			if (!isdigit((unsigned char)colon[1]) || *end != '\0' ||
			    errno != 0 || port == 0 || port > 65535)
				return cfg_error(ctx, node, "bad port in "
				    "\"%.64s\"", cs->text);
		}
		if (!valid_hostname(cs->text, hlen))
			return cfg_error(ctx, node, "\"%.64s\" is neither an "
			    "IP address nor a host name (with an optional "
			    ":port)", cs->text);
		cs->name = xstrndup(cs->text, hlen);
		cs->port = (uint16_t)port;
	}
	for (i = 0; i < idx; i++)
		if (strcasecmp(n->servers[i].text, cs->text) == 0)
			return cfg_error(ctx, node, "%s is listed twice",
			    cs->text);
	return 0;
}

static int
ntp_servers(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_ntp *n = arg;
	size_t count;

	if (cfg_is_scalar(node)) {
		n->servers = xcalloc(1, sizeof(*n->servers));
		n->nservers = 1;
		return server_item(ctx, node, 0, n);
	}
	if (!cfg_is_list(node))
		return cfg_error(ctx, node, "expected a list of servers");
	cfg_list_len(ctx, node, "a list of servers", &count);
	if (count == 0 || count > 16)
		return cfg_error(ctx, node, "give 1 to 16 servers");
	n->servers = xcalloc(count, sizeof(*n->servers));
	n->nservers = count;
	return cfg_seq(ctx, node, server_item, n);
}

static int
ntp_serve(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_bool(ctx, node, &((struct cfg_ntp *)arg)->serve);
}

static int
ntp_set_clock(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_bool(ctx, node, &((struct cfg_ntp *)arg)->set_clock);
}

static int
listen_item(struct cfg_ctx *ctx, struct cfg_node *node, size_t idx, void *arg)
{
	struct cfg_ntp *n = arg;
	size_t i;

	if (cfg_addr(ctx, node, 0, &n->listen[idx]) == -1)
		return -1;
	for (i = 0; i < idx; i++)
		if (n->listen[i].len == n->listen[idx].len &&
		    memcmp(&n->listen[i].ss, &n->listen[idx].ss,
		    n->listen[i].len) == 0)
			return cfg_error(ctx, node, "%s is listed twice",
			    n->listen[idx].text);
	return 0;
}

static int
ntp_listen(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_ntp *n = arg;
	size_t count;

	if (cfg_is_scalar(node)) {
		n->listen = xcalloc(1, sizeof(*n->listen));
		n->nlisten = 1;
		return listen_item(ctx, node, 0, n);
	}
	if (!cfg_is_list(node))
		return cfg_error(ctx, node, "expected an address or a list of "
		    "addresses");
	cfg_list_len(ctx, node, "a list of addresses", &count);
	if (count == 0 || count > 16)
		return cfg_error(ctx, node, "give 1 to 16 addresses");
	n->listen = xcalloc(count, sizeof(*n->listen));
	n->nlisten = count;
	return cfg_seq(ctx, node, listen_item, n);
}

static int
ntp_holdover(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_duration(ctx, node, 10000, 7ULL * 86400000,
	    &((struct cfg_ntp *)arg)->holdover_ms);
}

static int
poll_min(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	/* Never faster than 16 s: the pool's rule, and RFC 5905's minimum. */
	return cfg_duration(ctx, node, NTP_MIN_POLL_MS, 131072000,
	    &((struct cfg_ntp *)arg)->poll_min_ms);
}

static int
poll_max(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_duration(ctx, node, NTP_MIN_POLL_MS, 131072000,
	    &((struct cfg_ntp *)arg)->poll_max_ms);
}

static int
ntp_poll(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "min", poll_min, 0 },
		{ "max", poll_max, 0 },
		{ NULL, NULL, 0 },
	};
	struct cfg_ntp *n = arg;

	if (cfg_map(ctx, node, keys, n) == -1)
		return -1;
	if (n->poll_min_ms != 0 && n->poll_min_ms > n->poll_max_ms)
		return cfg_error(ctx, node, "poll.min is larger than poll.max");
	return 0;
}

static int
rl_enabled(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_bool(ctx, node, &((struct cfg_ntp *)arg)->rl_enabled);
}

static int
rl_burst(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	unsigned long v;

	if (cfg_uint(ctx, node, 1, 1000, &v) == -1)
		return -1;
	((struct cfg_ntp *)arg)->rl_burst = (unsigned)v;
	return 0;
}

static int
rl_interval(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_duration(ctx, node, 1, 3600000,
	    &((struct cfg_ntp *)arg)->rl_interval_ms);
}

static int
rl_clients(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	unsigned long v;

	if (cfg_uint(ctx, node, 8, 1048576, &v) == -1)
		return -1;
	((struct cfg_ntp *)arg)->rl_clients = (unsigned)v;
	return 0;
}

static int
ntp_rate_limit(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "enabled", rl_enabled, 0 },
		{ "burst", rl_burst, 0 },
		{ "interval", rl_interval, 0 },
		{ "clients", rl_clients, 0 },
		{ NULL, NULL, 0 },
	};

	return cfg_map(ctx, node, keys, arg);
}

int
ntp_cfg_section(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "servers", ntp_servers, 1 },
		{ "serve", ntp_serve, 0 },
		{ "listen", ntp_listen, 0 },
		{ "set_clock", ntp_set_clock, 0 },
		{ "holdover", ntp_holdover, 0 },
		{ "poll", ntp_poll, 0 },
		{ "rate_limit", ntp_rate_limit, 0 },
		{ NULL, NULL, 0 },
	};
	struct cfg_ntp **out = arg, *n;
	char a[32], b[32];

	n = *out = xcalloc(1, sizeof(*n));
	n->serve = 1;
	n->holdover_ms = NTP_DEFAULT_HOLDOVER_MS;
	n->poll_min_ms = 0;		/* not given */
	n->poll_max_ms = NTP_DEFAULT_POLL_MAX_MS;
	n->rl_enabled = 1;
	n->rl_burst = NTP_DEFAULT_RL_BURST;
	n->rl_interval_ms = NTP_DEFAULT_RL_INTERVAL_MS;
	n->rl_clients = NTP_DEFAULT_RL_CLIENTS;
	if (cfg_map(ctx, node, keys, n) == -1)
		return -1;
	/* The default poll.min, unless poll.max alone is below it. */
	if (n->poll_min_ms == 0)
		n->poll_min_ms = NTP_DEFAULT_POLL_MIN_MS < n->poll_max_ms ?
		    NTP_DEFAULT_POLL_MIN_MS : n->poll_max_ms;
	/*
	 * Between two polls of a quiet, stable upstream the last sample
	 * ages by up to poll.max; a holdover shorter than two of those
	 * would drop the service at every lost packet.
	 */
	if (n->holdover_ms < 2 * n->poll_max_ms) {
		format_duration_ms(n->holdover_ms, a, sizeof(a));
		format_duration_ms(n->poll_max_ms, b, sizeof(b));
		return cfg_error(ctx, node, "holdover (%s) must be at least "
		    "twice poll.max (%s), or the gateway would stop serving "
		    "time between two polls", a, b);
	}
	return 0;
}

int
ntp_cfg_check(struct cfg_ctx *ctx, struct cfg_node *root, struct cfg_ntp *n,
    size_t nresolvers, const struct in_addr *lan_addr)
{
	char path[64];
	size_t i;

	for (i = 0; i < n->nservers; i++)
		if (n->servers[i].name != NULL && nresolvers == 0) {
			snprintf(path, sizeof(path), "ntp.servers[%zu]", i);
			return cfg_error_path(ctx, path, "\"%s\" is a name; "
			    "resolving it needs wan.resolvers",
			    n->servers[i].text);
		}
	/* Serve where the chargers are: lan.address, unless told. */
	if (n->serve && n->nlisten == 0 && lan_addr != NULL) {
		struct sockaddr_in *sin;
		char buf[INET_ADDRSTRLEN];

		n->listen = xcalloc(1, sizeof(*n->listen));
		n->nlisten = 1;
		sin = (struct sockaddr_in *)&n->listen[0].ss;
		sin->sin_family = AF_INET;
		sin->sin_addr = *lan_addr;
		n->listen[0].len = sizeof(*sin);
		n->listen[0].text = xstrdup(inet_ntop(AF_INET,
		    lan_addr, buf, sizeof(buf)));
	}
	if (n->serve && n->nlisten == 0)
		return cfg_error_path(ctx, "ntp", "listen is required when "
		    "ntp.serve is true and there is no lan section (the "
		    "gateway's LAN address, e.g. [10.42.0.1])");
	return 0;
}

void
ntp_cfg_free(struct cfg_ntp *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nservers; i++) {
		free(n->servers[i].text);
		free(n->servers[i].name);
	}
	free(n->servers);
	for (i = 0; i < n->nlisten; i++)
		free(n->listen[i].text);
	free(n->listen);
	free(n);
}

/* --- the module ------------------------------------------------------ */

struct ntp {
	struct event_base	*base;
	struct ntp_client	*client;
	struct ntp_server	*server;
	const struct cfg_ntp	*conf;		/* in force; NULL: off */
	const struct cfg_ntp	*pending;
	int			 prepared;
	int8_t			 precision;

	enum ntp_state		 state;
	char			 reason[512];	/* of the last change */
	uint64_t		 since_wall_ms;	/* of the last change */

	/* The last good selection (what we serve from). */
	int			 have_sel;	/* the current one is ok */
	struct ntp_selection	 sel;
	char			 peer_name[256];
	char			 peer_addr[64];
	size_t			 ncandidates, ntruechimers;
	uint64_t		 last_good_ms;	/* monotonic, 0: never */
	uint64_t		 last_good_wall_ms;
	uint64_t		 ref;		/* true time then, wire form */
	unsigned long		 updates;
	struct ntp_track	 track;
	struct event		*holdover_ev;

	/* Steps of the system clock (timerfd TFD_TIMER_CANCEL_ON_SET). */
	int			 tfd;
	struct event		*tfd_ev;
	int64_t			 real_mono_ns;
	unsigned long		 steps_seen;
	double			 last_step;

	/*
	 * C(t) = corr_base + corr_freq * (t - corr_t0) + slewed so far of
	 * slew_amount: how far the system clock moved from the steady one.
	 */
	double			 corr_base;
	uint64_t		 corr_t0;
	double			 corr_freq;	/* s/s, our frequency change */
	double			 slew_amount;
	uint64_t		 slew_start_ms;
	int			 have_freq0;
	long			 kernel_freq0;	/* the kernel's before ours */
	unsigned long		 clock_steps, clock_slews, clock_errors;
	struct log_ratelimit	 clock_rl;
};

static int64_t
real_minus_mono(void)
{
	struct timespec r, m;

	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m);
	return ((int64_t)r.tv_sec - (int64_t)m.tv_sec) * 1000000000LL +
	    (r.tv_nsec - m.tv_nsec);
}

/* The smallest step the clock shows between two reads, as log2 s. */
static int8_t
measure_precision(void)
{
	struct timespec a, b;
	double best = 1, d;
	int i, p;

	for (i = 0; i < 64; i++) {
		clock_gettime(CLOCK_REALTIME, &a);
		do
			clock_gettime(CLOCK_REALTIME, &b);
		while (b.tv_sec == a.tv_sec && b.tv_nsec == a.tv_nsec);
		d = (double)(b.tv_sec - a.tv_sec) +
		    (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		if (d > 0 && d < best)
			best = d;
	}
	p = (int)ceil(log2(best));
	if (p < -30)
		p = -30;
	if (p > -6)
		p = -6;
	return (int8_t)p;
}

/* How much of the current slew the kernel has done by now. */
static double
slew_done(const struct ntp *n, uint64_t now)
{
	double done, amt = n->slew_amount;

	if (amt == 0 || now <= n->slew_start_ms)
		return 0;
	done = SLEW_RATE * (double)(now - n->slew_start_ms) / 1000;
	if (done >= fabs(amt))
		return amt;
	return amt > 0 ? done : -done;
}

/* C(t): the system clock minus the steady clock, seconds. */
static double
corr_at(const struct ntp *n, uint64_t now)
{
	double dt = now > n->corr_t0 ? (double)(now - n->corr_t0) / 1000 : 0;

	return n->corr_base + n->corr_freq * dt + slew_done(n, now);
}

static double
corr_cb(void *arg, uint64_t now)
{
	return corr_at(arg, now);
}

/* Fold the frequency part into the base, so it can change from now. */
static void
corr_fold_freq(struct ntp *n, uint64_t now)
{
	if (now > n->corr_t0)
		n->corr_base += n->corr_freq * (double)(now - n->corr_t0) /
		    1000;
	n->corr_t0 = now;
}

/* Fold the slewed part into the base (a new slew replaces the old). */
static void
corr_fold_slew(struct ntp *n, uint64_t now)
{
	n->corr_base += slew_done(n, now);
	n->slew_amount = 0;
	n->slew_start_ms = now;
}

/* True time minus system clock, now. */
static double
offset_now(const struct ntp *n, uint64_t now)
{
	if (n->track.n == 0)
		return 0;
	return ntp_track_predict(&n->track, (double)now / 1000) -
	    corr_at(n, now);
}

static int
is_synced(const struct ntp *n)
{
	return n->state == NTP_STATE_SYNCED || n->state == NTP_STATE_HOLDOVER;
}

static void
time_event(struct ntp *n, const char *change, enum ntp_state prev,
    struct json_object *extra)
{
	struct json_object *ev = extra ? extra : json_object_new_object();

	json_object_object_add(ev, "change", json_object_new_string(change));
	json_object_object_add(ev, "state",
	    json_object_new_string(ntp_state_str(n->state)));
	json_object_object_add(ev, "sync", json_object_new_boolean(
	    is_synced(n)));
	if (prev != n->state)
		json_object_object_add(ev, "previous",
		    json_object_new_string(ntp_state_str(prev)));
	json_object_object_add(ev, "reason", json_object_new_string(
	    n->reason));
	if (n->peer_addr[0]) {
		json_object_object_add(ev, "server",
		    json_object_new_string(n->peer_name));
		json_object_object_add(ev, "address",
		    json_object_new_string(n->peer_addr));
	}
	json_object_object_add(ev, "offset_s", json_object_new_double(
	    offset_now(n, now_mono_ms())));
	json_object_object_add(ev, "stratum", json_object_new_int(
	    is_synced(n) ? n->sel.stratum + 1 : 0));
	events_emit(EVENT_TIME, ev);
}

static void
set_state(struct ntp *n, enum ntp_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_state(struct ntp *n, enum ntp_state st, const char *fmt, ...)
{
	enum ntp_state prev = n->state;
	va_list ap;

	if (st == prev)
		return;
	va_start(ap, fmt);
	vsnprintf(n->reason, sizeof(n->reason), fmt, ap);
	va_end(ap);
	n->state = st;
	n->since_wall_ms = now_wall_ms();
	if (st == NTP_STATE_SYNCED || st == NTP_STATE_OFF)
		log_info("time: %s: %s", ntp_state_str(st), n->reason);
	else
		log_warnx("time: %s: %s%s", ntp_state_str(st), n->reason,
		    is_synced(n) ? "" : "; answering chargers with LI=3, "
		    "stratum 0");
	if (st != NTP_STATE_OFF)
		time_event(n, "state", prev, NULL);
}

static void
holdover_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ntp *n = arg;
	char d[32];

	if (!is_synced(n) || n->conf == NULL)
		return;
	format_duration_ms(n->conf->holdover_ms, d, sizeof(d));
	set_state(n, NTP_STATE_UNSYNC, "no good upstream sample for %s "
	    "(holdover expired)", d);
}

static void
holdover_arm(struct ntp *n)
{
	uint64_t now = now_mono_ms(), until, left;
	struct timeval tv;

	if (n->conf == NULL || n->last_good_ms == 0)
		return;
	until = n->last_good_ms + n->conf->holdover_ms;
	left = until > now ? until - now : 0;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	evtimer_add(n->holdover_ev, &tv);
}

/* --- set_clock ------------------------------------------------------- */

void
ntp_discipline_plan(double offset, double freq, struct ntp_discipline *d)
{
	memset(d, 0, sizeof(*d));
	d->amount = offset;
	d->step = fabs(offset) > NTP_STEP;
	d->freq_ppm = freq * 1e6;
	if (d->freq_ppm > FREQ_MAX_PPM)
		d->freq_ppm = FREQ_MAX_PPM;
	if (d->freq_ppm < -FREQ_MAX_PPM)
		d->freq_ppm = -FREQ_MAX_PPM;
}

static int
have_cap_sys_time(void)
{
	struct __user_cap_header_struct h;
	struct __user_cap_data_struct d[2];

	memset(&h, 0, sizeof(h));
	memset(d, 0, sizeof(d));
	h.version = _LINUX_CAPABILITY_VERSION_3;
	if (syscall(SYS_capget, &h, d) == -1)
		return 0;
	return (d[CAP_SYS_TIME / 32].effective >> (CAP_SYS_TIME % 32)) & 1;
}

static void
clock_error(struct ntp *n, const char *what)
{
	n->clock_errors++;
	log_warnx_rl(&n->clock_rl, "time: cannot %s the system clock: %s%s",
	    what, strerror(errno), errno == EPERM ?
	    " (ntp.set_clock needs CAP_SYS_TIME)" : "");
}

/*
 * set_clock: bring the system clock to the time we serve.  Everything is
 * recorded in C(t), so what we serve does not jump while the kernel slews.
 */
static void
discipline(struct ntp *n)
{
	uint64_t now = now_mono_ms();
	struct ntp_discipline d;
	struct json_object *ev;
	struct timex tx;

	ntp_discipline_plan(offset_now(n, now), n->track.freq, &d);
	memset(&tx, 0, sizeof(tx));
	if (d.step) {
		double s = floor(d.amount);

		tx.modes = ADJ_SETOFFSET | ADJ_NANO;
		tx.time.tv_sec = (time_t)s;
		tx.time.tv_usec = (suseconds_t)llround((d.amount - s) * 1e9);
		if (tx.time.tv_usec >= 1000000000) {
			tx.time.tv_sec++;
			tx.time.tv_usec -= 1000000000;
		}
		if (adjtimex(&tx) == -1) {
			clock_error(n, "step");
			return;
		}
		/* Ours: the step watcher must not count it again. */
		n->real_mono_ns = real_minus_mono();
		corr_fold_slew(n, now);
		n->corr_base += d.amount;
		n->clock_steps++;
		ntp_client_clock_stepped(n->client);
		log_info("time: stepped the system clock by %+.6f s", d.amount);
		ev = json_object_new_object();
		json_object_object_add(ev, "step_s",
		    json_object_new_double(d.amount));
		time_event(n, "clock_set", n->state, ev);
	} else {
		tx.modes = ADJ_OFFSET_SINGLESHOT;
		tx.offset = (long)llround(d.amount * 1e6);
		if (adjtimex(&tx) == -1) {
			clock_error(n, "slew");
			return;
		}
		corr_fold_slew(n, now);
		n->slew_amount = d.amount;
		n->slew_start_ms = now;
		n->clock_slews++;
		log_debug("time: slewing the system clock by %+.6f s",
		    d.amount);
	}
	if (fabs(d.freq_ppm - n->corr_freq * 1e6) >= 0.01) {
		memset(&tx, 0, sizeof(tx));
		if (!n->have_freq0) {
			if (adjtimex(&tx) == -1) {
				clock_error(n, "read");
				return;
			}
			n->kernel_freq0 = tx.freq;
			n->have_freq0 = 1;
		}
		tx.modes = ADJ_FREQUENCY;
		tx.freq = n->kernel_freq0 + (long)llround(d.freq_ppm * 65536);
		if (tx.freq > 500L * 65536)
			tx.freq = 500L * 65536;
		if (tx.freq < -500L * 65536)
			tx.freq = -500L * 65536;
		if (adjtimex(&tx) == -1) {
			clock_error(n, "tune");
			return;
		}
		corr_fold_freq(n, now);
		n->corr_freq = (double)(tx.freq - n->kernel_freq0) / 65536 /
		    1e6;
	}
}

/* --- step detection -------------------------------------------------- */

static void
tfd_arm(struct ntp *n)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	/* Far in the future: it only ever fires by being cancelled. */
	its.it_value.tv_sec = time(NULL) + 20L * 365 * 86400;
	if (timerfd_settime(n->tfd, TFD_TIMER_ABSTIME |
	    TFD_TIMER_CANCEL_ON_SET, &its, NULL) == -1)
		log_warn("time: timerfd_settime");
}

/* Someone stepped the system clock by delta seconds. */
static void
clock_stepped(struct ntp *n, double delta)
{
	struct json_object *ev;

	n->steps_seen++;
	n->last_step = delta;
	n->corr_base += delta;
	ntp_client_clock_stepped(n->client);
	log_warnx("time: the system clock was stepped by %+.6f s; the "
	    "served time is corrected, polling again", delta);
	ev = json_object_new_object();
	json_object_object_add(ev, "step_s", json_object_new_double(delta));
	time_event(n, "clock_step", n->state, ev);
}

static void
tfd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ntp *n = arg;
	uint64_t buf;
	int64_t rm;
	double delta;

	/* ECANCELED is the news; anything else is just drained. */
	(void)read(fd, &buf, sizeof(buf));
	rm = real_minus_mono();
	delta = (double)(rm - n->real_mono_ns) / 1e9;
	n->real_mono_ns = rm;
	tfd_arm(n);
	if (fabs(delta) < 1e-6 || n->conf == NULL)
		return;
	/*
	 * A leap second inserted or deleted by the kernel (armed by whoever
	 * disciplines it) is UTC itself moving: nothing to correct.
	 */
	if (n->sel.leap != NTP_LEAP_NONE && fabs(fabs(delta) - 1) < 0.01) {
		time_t t = time(NULL);

		if (t % 86400 < 10 || t % 86400 > 86390) {
			log_info("time: leap second applied by the kernel");
			return;
		}
	}
	clock_stepped(n, delta);
}

/* --- upstream updates ------------------------------------------------ */

static void
ntp_update(const struct ntp_selection *sel, void *arg)
{
	struct ntp *n = arg;
	uint64_t now = now_mono_ms();
	struct timespec ts;
	int changed;

	if (n->conf == NULL)
		return;
	n->ncandidates = sel->ncandidates;
	n->ntruechimers = sel->ntruechimers;
	if (!sel->ok) {
		n->have_sel = 0;
		if (n->state == NTP_STATE_SYNCED)
			set_state(n, NTP_STATE_HOLDOVER, "%s",
			    sel->ncandidates == 0 ?
			    "no usable upstream server" :
			    "upstream servers disagree (no majority)");
		return;
	}
	n->have_sel = 1;
	if (!sel->fresh)
		return;
	/* A new sample from a server that agrees: the clock is trusted. */
	changed = strcmp(n->peer_addr, sel->peer_addr) != 0;
	n->sel = *sel;
	strlcpy(n->peer_name, sel->peer_name, sizeof(n->peer_name));
	strlcpy(n->peer_addr, sel->peer_addr, sizeof(n->peer_addr));
	n->sel.peer_name = n->peer_name;
	n->sel.peer_addr = n->peer_addr;
	n->last_good_ms = now;
	n->last_good_wall_ms = now_wall_ms();
	n->updates++;
	if (n->track.n == 0 ||
	    (double)sel->sample_mono_ms / 1000 > n->track.last_t) {
		if (ntp_track_add(&n->track, (double)sel->sample_mono_ms / 1000,
		    sel->offset))
			log_info("time: offset moved by more than %.3f s: "
			    "tracking afresh", NTP_STEP);
	}
	if (n->conf->set_clock)
		discipline(n);
	clock_gettime(CLOCK_REALTIME, &ts);
	n->ref = ntp_ts_add(ntp_ts_from_timespec(&ts), offset_now(n, now));
	holdover_arm(n);
	if (n->state != NTP_STATE_SYNCED)
		set_state(n, NTP_STATE_SYNCED, "to %s (%s), stratum %d, "
		    "offset %+.6f s", n->peer_name, n->peer_addr,
		    sel->stratum + 1, offset_now(n, now));
	else if (changed) {
		snprintf(n->reason, sizeof(n->reason), "selected %s (%s)",
		    n->peer_name, n->peer_addr);
		log_info("time: now synchronised to %s (%s)", n->peer_name,
		    n->peer_addr);
		time_event(n, "server", n->state, NULL);
	}
}

static void
ntp_notice(const char *name, const char *addr, const char *what, void *arg)
{
	struct ntp *n = arg;
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "upstream", json_object_new_string(name));
	json_object_object_add(ev, "upstream_address",
	    json_object_new_string(addr));
	json_object_object_add(ev, "kiss", json_object_new_string(what));
	time_event(n, "kod", n->state, ev);
}

/* What the server states, once per batch of requests. */
static void
ntp_sys(void *arg, struct ntp_sysinfo *sys, double *offset)
{
	struct ntp *n = arg;

	*offset = offset_now(n, now_mono_ms());
	sys->precision = n->precision;
	sys->synced = is_synced(n);
	if (!sys->synced)
		return;
	sys->leap = n->sel.leap;
	sys->stratum = (uint8_t)(n->sel.stratum + 1);
	sys->refid = n->sel.refid;
	sys->ref = n->ref;
	sys->root_delay = n->sel.root_delay;
	sys->root_disp = n->sel.root_disp;
}

struct ntp *
ntp_new(struct event_base *base, struct resolver *res)
{
	struct ntp *n = xcalloc(1, sizeof(*n));
	struct log_ratelimit lrl = LOG_RATELIMIT_INIT(3, 600);

	n->base = base;
	n->precision = measure_precision();
	n->client = ntp_client_new(base, res, ntp_update, ntp_notice, corr_cb,
	    n);
	n->clock_rl = lrl;
	n->corr_t0 = now_mono_ms();
	ntp_client_set_precision(n->client, n->precision);
	n->server = ntp_server_new(base, ntp_sys, n);
	n->holdover_ev = evtimer_new(base, holdover_cb, n);
	n->real_mono_ns = real_minus_mono();
	n->tfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (n->tfd == -1) {
		log_warn("time: timerfd_create: steps of the system clock "
		    "will only be noticed at the next poll");
	} else {
		tfd_arm(n);
		n->tfd_ev = event_new(base, n->tfd, EV_READ | EV_PERSIST,
		    tfd_cb, n);
		event_add(n->tfd_ev, NULL);
	}
	ntp_track_reset(&n->track);
	return n;
}

int
ntp_prepare(struct ntp *n, const struct cfg_ntp *c, char *err,
    size_t errlen)
{
	struct ntp_server_limits lim;

	ntp_abort(n);
	memset(&lim, 0, sizeof(lim));
	if (c != NULL && c->set_clock && !have_cap_sys_time()) {
		snprintf(err, errlen, "ntp.set_clock is true but evgated "
		    "lacks CAP_SYS_TIME: run it as root or grant the "
		    "capability (AmbientCapabilities=CAP_SYS_TIME), or set "
		    "ntp.set_clock: false");
		return -1;
	}
	if (c != NULL) {
		lim.enabled = c->rl_enabled;
		lim.burst = c->rl_burst;
		lim.interval_ms = c->rl_interval_ms;
		lim.clients = c->rl_clients;
	}
	if (ntp_server_prepare(n->server, c && c->serve ? c->listen : NULL,
	    c && c->serve ? c->nlisten : 0, &lim, err, errlen) == -1)
		return -1;
	n->pending = c;
	n->prepared = 1;
	return 0;
}

void
ntp_abort(struct ntp *n)
{
	if (!n->prepared)
		return;
	ntp_server_abort(n->server);
	n->pending = NULL;
	n->prepared = 0;
}

void
ntp_commit(struct ntp *n)
{
	const struct cfg_ntp *c = n->pending, *old = n->conf;

	if (!n->prepared)
		return;
	n->prepared = 0;
	n->pending = NULL;
	ntp_server_commit(n->server);
	if (c == NULL) {
		n->conf = NULL;
		ntp_client_configure(n->client, NULL);
		evtimer_del(n->holdover_ev);
		n->have_sel = 0;
		n->last_good_ms = 0;
		n->peer_addr[0] = n->peer_name[0] = '\0';
		ntp_track_reset(&n->track);
		set_state(n, NTP_STATE_OFF, "no ntp section");
		return;
	}
	n->conf = c;
	if (old == NULL)
		set_state(n, NTP_STATE_INIT, "starting: not synchronised "
		    "to upstream yet");
	ntp_client_configure(n->client, c);
	if (is_synced(n))
		holdover_arm(n);
}

void
ntp_free(struct ntp *n)
{
	if (n == NULL)
		return;
	ntp_abort(n);
	n->conf = NULL;
	ntp_client_free(n->client);
	ntp_server_free(n->server);
	event_free(n->holdover_ev);
	if (n->tfd_ev != NULL)
		event_free(n->tfd_ev);
	if (n->tfd != -1)
		close(n->tfd);
	free(n);
}

/* --- status and the time command ------------------------------------- */

static struct json_object *
json_wall(uint64_t ms)
{
	char buf[40];

	if (ms == 0)
		return NULL;
	return json_object_new_string(format_utc_ms(ms, buf, sizeof(buf)));
}

static unsigned long
drops_total(const struct ntp_server_counters *c)
{
	unsigned long t = 0;
	int i;

	for (i = 0; i < NTP_DROP_NREASONS; i++)
		t += c->drops[i];
	return t;
}

static struct json_object *
drops_json(const struct ntp_server_counters *c)
{
	struct json_object *o = json_object_new_object();
	int i;

	for (i = 0; i < NTP_DROP_NREASONS; i++)
		json_object_object_add(o, ntp_drop_str(i),
		    json_object_new_int64((int64_t)c->drops[i]));
	return o;
}

struct json_object *
ntp_status(void *arg)
{
	struct ntp *n = arg;
	struct json_object *o = json_object_new_object();
	struct ntp_server_counters c;

	ntp_server_counters(n->server, &c);
	json_object_object_add(o, "enabled",
	    json_object_new_boolean(n->conf != NULL));
	json_object_object_add(o, "sync", json_object_new_boolean(
	    is_synced(n)));
	json_object_object_add(o, "state",
	    json_object_new_string(ntp_state_str(n->state)));
	/* why and since when: what `evgatectl status` shows as text */
	json_object_object_add(o, "reason", json_object_new_string(n->reason));
	json_object_object_add(o, "since", json_wall(n->since_wall_ms));
	json_object_object_add(o, "offset_s", json_object_new_double(
	    offset_now(n, now_mono_ms())));
	json_object_object_add(o, "stratum", json_object_new_int(
	    is_synced(n) ? n->sel.stratum + 1 : 0));
	json_object_object_add(o, "selected", n->peer_addr[0] &&
	    n->have_sel ? json_object_new_string(n->peer_addr) : NULL);
	json_object_object_add(o, "requests",
	    json_object_new_int64((int64_t)c.requests));
	json_object_object_add(o, "replies",
	    json_object_new_int64((int64_t)c.replies));
	json_object_object_add(o, "unsync_replies",
	    json_object_new_int64((int64_t)c.unsync_replies));
	json_object_object_add(o, "kod_sent",
	    json_object_new_int64((int64_t)c.kod_sent));
	json_object_object_add(o, "dropped",
	    json_object_new_int64((int64_t)drops_total(&c)));
	json_object_object_add(o, "drops", drops_json(&c));
	return o;
}

struct json_object *
ntp_cmd_time(struct json_object *req, const struct control_peer *peer,
    void *arg, char *err, size_t errlen)
{
	struct ntp *n = arg;
	struct json_object *o = json_object_new_object(), *srv, *list;
	struct ntp_peer_info pi[NTP_MAX_PEERS];
	struct ntp_server_counters c;
	uint64_t now = now_mono_ms();
	char buf[64];
	size_t i, np;

	ntp_server_counters(n->server, &c);
	json_object_object_add(o, "enabled",
	    json_object_new_boolean(n->conf != NULL));
	json_object_object_add(o, "state",
	    json_object_new_string(ntp_state_str(n->state)));
	json_object_object_add(o, "sync", json_object_new_boolean(
	    is_synced(n)));
	json_object_object_add(o, "reason", json_object_new_string(n->reason));
	json_object_object_add(o, "since", json_wall(n->since_wall_ms));
	json_object_object_add(o, "selected", n->peer_addr[0] &&
	    n->have_sel ? json_object_new_string(n->peer_addr) : NULL);
	json_object_object_add(o, "selected_name", n->peer_addr[0] &&
	    n->have_sel ? json_object_new_string(n->peer_name) : NULL);
	json_object_object_add(o, "offset_s", json_object_new_double(
	    offset_now(n, now)));
	json_object_object_add(o, "clock_correction_s",
	    json_object_new_double(corr_at(n, now)));
	json_object_object_add(o, "delay_s", n->last_good_ms ?
	    json_object_new_double(n->sel.delay) : NULL);
	json_object_object_add(o, "jitter_s", n->last_good_ms ?
	    json_object_new_double(n->sel.jitter) : NULL);
	json_object_object_add(o, "freq_ppm", json_object_new_double(
	    n->track.freq * 1e6));
	json_object_object_add(o, "stratum", json_object_new_int(
	    is_synced(n) ? n->sel.stratum + 1 : 0));
	json_object_object_add(o, "upstream_stratum", n->last_good_ms ?
	    json_object_new_int(n->sel.stratum) : NULL);
	json_object_object_add(o, "refid", is_synced(n) ?
	    json_object_new_string(ntp_refid_str(n->sel.refid, 2, buf,
	    sizeof(buf))) : json_object_new_string("INIT"));
	json_object_object_add(o, "leap", json_object_new_int(
	    is_synced(n) ? n->sel.leap : NTP_LEAP_ALARM));
	json_object_object_add(o, "root_delay_s", n->last_good_ms ?
	    json_object_new_double(n->sel.root_delay) : NULL);
	json_object_object_add(o, "root_dispersion_s", n->last_good_ms ?
	    json_object_new_double(n->sel.root_disp + NTP_PHI *
	    (double)(now - n->last_good_ms) / 1000) : NULL);
	json_object_object_add(o, "precision", json_object_new_int(
	    n->precision));
	json_object_object_add(o, "last_update", json_wall(
	    n->last_good_wall_ms));
	json_object_object_add(o, "last_update_age_s", n->last_good_ms ?
	    json_object_new_double((double)(now - n->last_good_ms) / 1000) :
	    NULL);
	json_object_object_add(o, "holdover_s", json_object_new_double(
	    n->conf ? (double)n->conf->holdover_ms / 1000 : 0));
	json_object_object_add(o, "holdover_left_s", is_synced(n) ?
	    json_object_new_double(n->last_good_ms + n->conf->holdover_ms >
	    now ? (double)(n->last_good_ms + n->conf->holdover_ms - now) /
	    1000 : 0) : NULL);
	json_object_object_add(o, "candidates", json_object_new_int64(
	    (int64_t)n->ncandidates));
	json_object_object_add(o, "truechimers", json_object_new_int64(
	    (int64_t)n->ntruechimers));
	json_object_object_add(o, "updates", json_object_new_int64(
	    (int64_t)n->updates));
	json_object_object_add(o, "set_clock", json_object_new_boolean(
	    n->conf && n->conf->set_clock));
	json_object_object_add(o, "clock_steps", json_object_new_int64(
	    (int64_t)n->clock_steps));
	json_object_object_add(o, "clock_slews", json_object_new_int64(
	    (int64_t)n->clock_slews));
	json_object_object_add(o, "clock_errors", json_object_new_int64(
	    (int64_t)n->clock_errors));
	json_object_object_add(o, "steps_seen", json_object_new_int64(
	    (int64_t)n->steps_seen));

	list = json_object_new_array();
	np = ntp_client_peers(n->client, pi, NTP_MAX_PEERS);
	for (i = 0; i < np; i++) {
		struct json_object *p = json_object_new_object();

		json_object_object_add(p, "name",
		    json_object_new_string(pi[i].name));
		json_object_object_add(p, "address",
		    json_object_new_string(pi[i].addr));
		json_object_object_add(p, "state", json_object_new_string(
		    ntp_peer_state_str(pi[i].state)));
		snprintf(buf, sizeof(buf), "%o", pi[i].reach);
		json_object_object_add(p, "reach", json_object_new_string(buf));
		json_object_object_add(p, "stratum", pi[i].have_sample ?
		    json_object_new_int(pi[i].stratum) : NULL);
		json_object_object_add(p, "poll_s", json_object_new_int64(
		    (int64_t)(pi[i].poll_ms / 1000)));
		json_object_object_add(p, "last_sample_age_s",
		    pi[i].have_sample ? json_object_new_double(
		    pi[i].last_sample_age_s) : NULL);
		/* Against the system clock as it is now. */
		json_object_object_add(p, "offset_s", pi[i].have_sample ?
		    json_object_new_double(pi[i].offset - corr_at(n, now)) :
		    NULL);
		json_object_object_add(p, "delay_s", pi[i].have_sample ?
		    json_object_new_double(pi[i].delay) : NULL);
		json_object_object_add(p, "jitter_s", pi[i].have_sample ?
		    json_object_new_double(pi[i].jitter) : NULL);
		json_object_object_add(p, "root_distance_s", pi[i].have_sample ?
		    json_object_new_double(pi[i].rootdist) : NULL);
		json_object_object_add(p, "last_reply", pi[i].replies ?
		    json_object_new_string(ntp_reply_str(pi[i].last_reply)) :
		    NULL);
		json_object_object_add(p, "polls",
		    json_object_new_int64((int64_t)pi[i].polls));
		json_object_object_add(p, "replies",
		    json_object_new_int64((int64_t)pi[i].replies));
		json_object_object_add(p, "kods",
		    json_object_new_int64((int64_t)pi[i].kods));
		json_object_array_add(list, p);
	}
	json_object_object_add(o, "servers", list);

	srv = json_object_new_object();
	list = json_object_new_array();
	for (i = 0; i < c.listeners; i++)
		json_object_array_add(list, json_object_new_string(
		    ntp_server_listener(n->server, i)));
	json_object_object_add(srv, "listen", list);
	json_object_object_add(srv, "requests",
	    json_object_new_int64((int64_t)c.requests));
	json_object_object_add(srv, "replies",
	    json_object_new_int64((int64_t)c.replies));
	json_object_object_add(srv, "unsync_replies",
	    json_object_new_int64((int64_t)c.unsync_replies));
	json_object_object_add(srv, "kod_sent",
	    json_object_new_int64((int64_t)c.kod_sent));
	json_object_object_add(srv, "dropped",
	    json_object_new_int64((int64_t)drops_total(&c)));
	json_object_object_add(srv, "drops", drops_json(&c));
	json_object_object_add(srv, "rate_limit", json_object_new_boolean(
	    n->conf && n->conf->rl_enabled));
	json_object_object_add(srv, "clients_tracked",
	    json_object_new_int64((int64_t)c.clients));
	json_object_object_add(srv, "no_kernel_timestamp",
	    json_object_new_int64((int64_t)c.no_kernel_ts));
	json_object_object_add(o, "server", srv);
	return o;
}
