/*
 * ctl_log: evgatectl export and report.  Both read the fleet log's
 * segments directly (no daemon needed, and nothing large goes through
 * the control socket).  The directory is, in this order: --dir, the
 * log.dir of the file given with -c, the running daemon's log.dir (from
 * its status), or the built-in default.  --dir given more than once
 * (the logs of a pair's two boxes) merges the directories in time order,
 * every event once (export_run_dirs).
 */
#include "evgate_config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "daemon/config.h"
#include "common/ctl.h"
#include "fleetlog/export.h"
#include "fleetlog/fleetlog.h"
#include "common/events.h"
#include "common/util.h"
#include "site/lan.h"

#define DEFAULT_LOG_DIR		LOCALSTATEDIR "/lib/evgate/log"
#define MAX_FILTERS		64

struct logopts {
	const char	*dir;
	const char	*dirs[EXPORT_MAX_DIRS];	/* --dir, each */
	size_t		 ndirs;
	char		*dirbuf;
	const char	*site;
	char		*sitebuf;
	const char	*daemon_dir;	/* the running daemon's, if any */
	struct json_object *status;
	struct export_filter f;
	const char	*chargers[MAX_FILTERS];
	const char	*types[MAX_FILTERS];
	const char	*output;
	const char	*format;
	int		 from_given;
};

static void
logopts_free(struct logopts *lo)
{
	free(lo->dirbuf);
	free(lo->sitebuf);
	json_object_put(lo->status);
}

/* "a,b" or repeated options into list; 0 or -1. */
static int
add_list(const char **list, size_t *n, char *arg, const char *what)
{
	char *tok, *save = NULL;

	for (tok = strtok_r(arg, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (*n == MAX_FILTERS) {
			fprintf(stderr, "evgatectl: at most %d %s filters\n",
			    MAX_FILTERS, what);
			return -1;
		}
		list[(*n)++] = tok;
	}
	return 0;
}

/* The event types of the fleet log (common/events.h, and the log's own
 * events of fleetlog.h). */
static const char *const known_types[] = { EVENT_LEASE, EVENT_CONNECTION,
	EVENT_REFUSAL, EVENT_TIME, EVENT_DNSMASQ, EVENT_RELOAD, EVENT_DAEMON,
	FLEETLOG_EVENT_LOG, NULL };

/* Every --type given must be one of them: a typo would export nothing. */
static int
check_types(const char *const *types, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; known_types[j] != NULL; j++)
			if (strcmp(types[i], known_types[j]) == 0)
				break;
		if (known_types[j] == NULL) {
			fprintf(stderr, "evgatectl: unknown --type \"%s\": the "
			    "types are lease, connection, refusal, time, "
			    "dnsmasq, reload, daemon and log\n", types[i]);
			return -1;
		}
	}
	return 0;
}

/*
 * Does the gateway know this charger (an id, MAC or address of a lease or
 * reservation)?  Asks the running daemon, else the file given with -c.
 * 1 yes, 0 no, -1 nobody to ask.
 */
static int
charger_known(const struct ctl_opts *opts, const char *who)
{
	struct json_object *req, *reply = NULL, *list, *c;
	const struct cfg_charger *ch;
	struct config *conf;
	char err[256], mac[18];
	size_t i, n;
	int known = -1;

	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("chargers"));
	if (ctl_request(opts, req, &reply, err, sizeof(err)) == 0) {
		known = 0;
		list = ctl_obj(reply, "chargers");
		n = list != NULL ? json_object_array_length(list) : 0;
		for (i = 0; i < n && !known; i++) {
			c = json_object_array_get_idx(list, i);
			known = (ctl_str(c, "id") != NULL &&
			    strcasecmp(ctl_str(c, "id"), who) == 0) ||
			    (ctl_str(c, "mac") != NULL &&
			    strcasecmp(ctl_str(c, "mac"), who) == 0) ||
			    (ctl_str(c, "address") != NULL &&
			    strcmp(ctl_str(c, "address"), who) == 0);
		}
	}
	json_object_put(req);
	json_object_put(reply);
	if (known != -1 || opts->config == NULL)
		return known;
	if ((conf = config_load(opts->config, err, sizeof(err))) == NULL)
		return -1;
	known = 0;
	for (i = 0; conf->dhcp != NULL && i < conf->dhcp->ncharger; i++) {
		ch = &conf->dhcp->chargers[i];
		if (strcasecmp(ch->id, who) == 0 || strcasecmp(lan_format_mac(
		    ch->mac, mac, sizeof(mac)), who) == 0)
			known = 1;
	}
	config_free(conf);
	return known;
}

/*
 * An export that matched nothing for --charger: a charger the gateway
 * knows may simply have had no events then; any other name is an error,
 * not an empty file.  0 or -1.
 */
static int
check_chargers(const struct ctl_opts *opts, const struct logopts *lo)
{
	size_t i;
	int rv = 0, k;

	for (i = 0; i < lo->f.ncharger; i++) {
		if ((k = charger_known(opts, lo->f.chargers[i])) == 1)
			continue;
		fprintf(stderr, "evgatectl: no event of --charger \"%s\" in "
		    "the log in that time%s (\"evgatectl chargers\" lists "
		    "the chargers by id, MAC and address)\n",
		    lo->f.chargers[i], k == 0 ? ", and the gateway knows no "
		    "charger of that id, MAC or address" : "");
		rv = -1;
	}
	return rv;
}

static int
parse_when(const char *arg, const char *opt, int end, uint64_t *out)
{
	if (export_parse_time(arg, now_wall_ms(), end, out) == -1) {
		fprintf(stderr, "evgatectl: %s \"%s\": give a time as "
		    "2026-11-25, 2026-11-25T08:00:00Z, now, or -24h\n", opt,
		    arg);
		return -1;
	}
	return 0;
}

/* Where the log is; see the comment at the top.  0 or -1. */
static int
find_dir(const struct ctl_opts *opts, struct logopts *lo)
{
	struct json_object *req, *log;
	struct config *conf;
	struct stat sb;
	char err[1024];

	/* Ask the daemon in any case: for the site name and live data. */
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("status"));
	if (ctl_request(opts, req, &lo->status, err, sizeof(err)) == 0) {
		log = ctl_obj(lo->status, "log");
		lo->daemon_dir = ctl_str(log, "dir");
		lo->site = ctl_str(lo->status, "site");
	}
	json_object_put(req);
	if (lo->dir != NULL)
		return 0;
	if (opts->config != NULL) {
		if ((conf = config_load(opts->config, err, sizeof(err))) ==
		    NULL) {
			fprintf(stderr, "evgatectl: %s\n", err);
			return -1;
		}
		if (conf->log == NULL) {
			fprintf(stderr, "evgatectl: %s has no log section: "
			    "give --dir\n", opts->config);
			config_free(conf);
			return -1;
		}
		lo->dir = lo->dirbuf = xstrdup(conf->log->dir);
		if (conf->site_name != NULL && lo->site == NULL)
			lo->site = lo->sitebuf = xstrdup(conf->site_name);
		config_free(conf);
		return 0;
	}
	if (lo->daemon_dir != NULL) {
		lo->dir = lo->daemon_dir;
		return 0;
	}
	if (stat(DEFAULT_LOG_DIR, &sb) == 0) {
		lo->dir = DEFAULT_LOG_DIR;
		return 0;
	}
	fprintf(stderr, "evgatectl: cannot find the fleet log: evgated is not "
	    "running (or has no log section) and %s does not exist; give "
	    "--dir or -c\n", DEFAULT_LOG_DIR);
	return -1;
}

static FILE *
open_output(const char *path)
{
	FILE *fp;

	if (path == NULL || strcmp(path, "-") == 0)
		return stdout;
	if ((fp = fopen(path, "w")) == NULL)
		fprintf(stderr, "evgatectl: %s: %s\n", path, strerror(errno));
	return fp;
}

static int
close_output(FILE *fp, const char *path)
{
	int bad = ferror(fp) || fflush(fp) != 0;

	if (fp != stdout && fclose(fp) != 0)
		bad = 1;
	if (bad)
		fprintf(stderr, "evgatectl: writing %s: %s\n",
		    path ? path : "the output", strerror(errno));
	return bad ? -1 : 0;
}

static void
report_skipped(const struct export_stats *st)
{
	if (st->bad > 0)
		fprintf(stderr, "evgatectl: skipped %llu torn or malformed "
		    "line%s in the log (%llu lines read)\n",
		    (unsigned long long)st->bad, st->bad == 1 ? "" : "s",
		    (unsigned long long)st->lines);
	if (st->duplicates > 0)
		fprintf(stderr, "evgatectl: %llu event%s read twice (the same "
		    "box and seq), written once\n",
		    (unsigned long long)st->duplicates, st->duplicates == 1 ?
		    "" : "s");
	if (st->gaps > 0)
		fprintf(stderr, "evgatectl: %llu event%s of the window missing "
		    "from every directory given (retention? a box's log left "
		    "out?)\n", (unsigned long long)st->gaps, st->gaps == 1 ?
		    " is" : "s are");
}

/*
 * Shared options.  Returns 0, -1 for a usage error (exit 2), or 1 when
 * help was printed.
 */
static int
parse_opts(int argc, char **argv, struct logopts *lo, int report,
    const char *usage, unsigned *port, int *no_live)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "charger", required_argument, NULL, 'C' },
		{ "type", required_argument, NULL, 'T' },
		{ "format", required_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ "online-port", required_argument, NULL, 'P' },
		{ "no-live", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	char *end;
	int ch;

	optind = 0;	/* GNU getopt: start over on this argv */
	while ((ch = getopt_long(argc, argv, "d:f:t:C:T:F:o:h", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'd':
			if (lo->ndirs == EXPORT_MAX_DIRS) {
				fprintf(stderr, "evgatectl: at most %d --dir\n",
				    EXPORT_MAX_DIRS);
				return -1;
			}
			lo->dirs[lo->ndirs++] = optarg;
			lo->dir = lo->dirs[0];
			break;
		case 'f':
			if (parse_when(optarg, "--from", 0, &lo->f.from_ms))
				return -1;
			lo->from_given = 1;
			break;
		case 't':
			if (parse_when(optarg, "--to", 1, &lo->f.to_ms))
				return -1;
			break;
		case 'C':
			if (add_list(lo->chargers, &lo->f.ncharger, optarg,
			    "--charger") == -1)
				return -1;
			break;
		case 'T':
			if (report || add_list(lo->types, &lo->f.ntypes,
			    optarg, "--type") == -1)
				goto bad;
			if (check_types(lo->types, lo->f.ntypes) == -1)
				return -1;
			break;
		case 'F':
			lo->format = optarg;
			break;
		case 'o':
			lo->output = optarg;
			break;
		case 'P':
			v = strtoul(optarg, &end, 10);
			if (!report || *end != '\0' || v == 0 || v > 65535)
				goto bad;
			*port = (unsigned)v;
			break;
		case 'L':
			if (!report)
				goto bad;
			*no_live = 1;
			break;
		case 'h':
			printf("%s", usage);
			return 1;
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	lo->f.chargers = lo->chargers;
	lo->f.types = lo->types;
	if (lo->f.to_ms <= lo->f.from_ms) {
		fprintf(stderr, "evgatectl: --to must be later than --from\n");
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "%s", usage);
	return -1;
}

int
ctl_cmd_export(const struct ctl_opts *opts, int argc, char **argv)
{
	static const char usage[] =
	    "usage: evgatectl export [--from TIME] [--to TIME] [--charger ID]"
	    "\n         [--type TYPE] [--format csv|jsonl] [--output FILE] "
	    "[--dir DIR]...\n"
	    "TIME: 2026-11-25, 2026-11-25T08:00:00Z, now, -24h, -7d.\n"
	    "Events in time order; CSV (RFC 4180) has a header row.  "
	    "Several --dir\n(a pair's two boxes): merged, every event "
	    "once.\n";
	struct logopts lo;
	struct export_stats st;
	enum export_format fmt = opts->json ? EXPORT_JSONL : EXPORT_CSV;
	char err[1024];
	unsigned port = 0;
	int no_live = 0, rv;
	FILE *out;

	memset(&lo, 0, sizeof(lo));
	lo.f.to_ms = UINT64_MAX;
	if ((rv = parse_opts(argc, argv, &lo, 0, usage, &port, &no_live)) != 0)
		return rv == 1 ? 0 : 2;
	if (lo.format != NULL) {
		if (strcmp(lo.format, "csv") == 0)
			fmt = EXPORT_CSV;
		else if (strcmp(lo.format, "jsonl") == 0 ||
		    strcmp(lo.format, "json") == 0)
			fmt = EXPORT_JSONL;
		else {
			fprintf(stderr, "evgatectl: --format is csv or jsonl"
			    "\n");
			return 2;
		}
	}
	if (find_dir(opts, &lo) == -1 || (out = open_output(lo.output)) ==
	    NULL) {
		logopts_free(&lo);
		return 1;
	}
	if (lo.ndirs > 1)
		rv = export_run_dirs(lo.dirs, lo.ndirs, &lo.f, fmt, out, &st,
		    err, sizeof(err));
	else
		rv = export_run(lo.dir, &lo.f, fmt, out, &st, err,
		    sizeof(err));
	if (close_output(out, lo.output) == -1)
		rv = -1;
	else if (rv == -1)
		fprintf(stderr, "evgatectl: export: %s (the export is "
		    "incomplete)\n", err);
	report_skipped(&st);
	if (rv == 0 && st.events == 0 && lo.f.ncharger > 0 &&
	    check_chargers(opts, &lo) == -1)
		rv = -1;
	logopts_free(&lo);
	return rv == -1 ? 1 : 0;
}

/*
 * evgatectl charger ID, its history part: the last 7 days of the fleet
 * log for one charger (matched as export --charger does).
 */
#define HISTORY_DAYS	7
#define HISTORY_CLOSES	5

int
ctl_charger_history(const struct ctl_opts *opts, const char *who,
    int online_now)
{
	struct logopts lo;
	struct export_reader *r;
	struct export_line line;
	enum export_rc rc;
	struct json_object *ev, *closes[HISTORY_CLOSES] = { NULL },
	    *reasons = json_object_new_object(), *lease = NULL;
	const char *who1[1] = { who };
	char err[1024], when[40];
	uint64_t last_online_end = 0, refusals = 0;
	size_t nclose = 0, i;
	int rv = 0;

	memset(&lo, 0, sizeof(lo));
	lo.f.from_ms = now_wall_ms() - HISTORY_DAYS * 86400000ULL;
	lo.f.to_ms = UINT64_MAX;
	lo.f.chargers = who1;
	lo.f.ncharger = 1;
	if (find_dir(opts, &lo) == -1) {
		json_object_put(reasons);
		logopts_free(&lo);
		return -1;
	}
	if ((r = export_reader_open(lo.dir, 0, lo.f.from_ms, UINT64_MAX, 0,
	    err, sizeof(err))) == NULL) {
		fprintf(stderr, "evgatectl: %s\n", err);
		json_object_put(reasons);
		logopts_free(&lo);
		return -1;
	}
	while ((rc = export_reader_next(r, &line, err, sizeof(err))) !=
	    EXPORT_END) {
		const char *type;

		if (rc == EXPORT_ERROR) {
			fprintf(stderr, "evgatectl: %s\n", err);
			rv = -1;
			break;
		}
		if (rc == EXPORT_BAD || line.ts_ms < lo.f.from_ms ||
		    (ev = export_reader_event(r)) == NULL ||
		    !export_match(&lo.f, ev, line.ts_ms) ||
		    (type = ctl_str(ev, "type")) == NULL)
			continue;
		if (strcmp(type, EVENT_LEASE) == 0) {
			json_object_put(lease);
			lease = json_object_get(ev);
		} else if (strcmp(type, EVENT_CONNECTION) == 0) {
			if (ctl_int(ev, "port") == REPORT_ONLINE_PORT)
				last_online_end = line.ts_ms;
			json_object_put(closes[nclose % HISTORY_CLOSES]);
			closes[nclose++ % HISTORY_CLOSES] = json_object_get(ev);
		} else if (strcmp(type, EVENT_REFUSAL) == 0) {
			const char *why = ctl_str(ev, "reason");

			refusals++;
			json_object_object_add(reasons, why ? why : "?",
			    json_object_new_int64(ctl_int(reasons,
			    why ? why : "?") + 1));
		}
	}
	export_reader_free(r);
	if (lease == NULL)
		printf("%-14snone in the last 7 days\n", "last DHCP");
	else
		printf("%-14s%s %s %s\n", "last DHCP", ctl_str(lease, "ts"),
		    ctl_str(lease, "action") ? ctl_str(lease, "action") : "",
		    ctl_str(lease, "address") ? ctl_str(lease, "address") : "");
	printf("%-14snot recorded per charger (dnsmasq and the NTP server "
	    "keep no such record)\n", "DNS, NTP");
	if (!online_now)
		printf("%-14s%s\n", "offline since", last_online_end ?
		    format_utc_s(last_online_end, when, sizeof(when)) :
		    "before the last 7 days (no connection on 8883 since)");
	printf("%-14s%s\n", "last closes", nclose == 0 ? "none in the last 7 "
	    "days" : "");
	for (i = nclose > HISTORY_CLOSES ? nclose - HISTORY_CLOSES : 0;
	    i < nclose; i++) {
		struct json_object *c = closes[i % HISTORY_CLOSES];

		printf("%-14s%s port %lld %s: %s after %.0f s\n", "",
		    ctl_str(c, "ts"), (long long)ctl_int(c, "port"),
		    ctl_str(c, "sni") ? ctl_str(c, "sni") : "-",
		    ctl_str(c, "reason") ? ctl_str(c, "reason") : "?",
		    json_object_get_double(ctl_obj(c, "duration_s")));
	}
	printf("%-14s%llu in the last 7 days", "refusals",
	    (unsigned long long)refusals);
	{
		int first = 1;

		json_object_object_foreach(reasons, k, v) {
			printf("%s%s %lld", first ? ": " : ", ", k,
			    (long long)json_object_get_int64(v));
			first = 0;
		}
	}
	printf("\n");
	for (i = 0; i < HISTORY_CLOSES; i++)
		json_object_put(closes[i]);
	json_object_put(reasons);
	json_object_put(lease);
	logopts_free(&lo);
	return rv;
}

/* "10.42.0.21:40000" or "[fd00::21]:40000" -> the address alone. */
static void
strip_port(const char *s, char *buf, size_t len)
{
	const char *c;

	if (s[0] == '[' && (c = strchr(s, ']')) != NULL) {
		snprintf(buf, len, "%.*s", (int)(c - s - 1), s + 1);
		return;
	}
	c = strrchr(s, ':');
	snprintf(buf, len, "%.*s", c ? (int)(c - s) : (int)strlen(s), s);
}

/* Connections still open have no event yet: take them from the daemon. */
static void
add_live(const struct ctl_opts *opts, struct report *rep)
{
	struct json_object *list, *o = NULL, *req;
	uint64_t now = now_wall_ms();
	char err[256], addr[64];
	size_t i, n;

	req = json_object_new_object();
	json_object_object_add(req, "cmd",
	    json_object_new_string("connections"));
	if (ctl_request(opts, req, &o, err, sizeof(err)) == -1) {
		json_object_put(req);
		return;
	}
	json_object_put(req);
	list = ctl_obj(o, "connections");
	n = list != NULL ? json_object_array_length(list) : 0;
	for (i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(list, i);
		const char *who = ctl_str(c, "charger");
		double dur = json_object_get_double(ctl_obj(c, "duration_s"));
		const char *state = ctl_str(c, "state");
		uint64_t d = dur > 0 ? (uint64_t)(dur * 1000) : 0;

		if (state == NULL || strcmp(state, "splice") != 0)
			continue;
		if (who == NULL || who[0] == '\0') {
			strip_port(ctl_str(c, "client") ? ctl_str(c, "client") :
			    "unknown", addr, sizeof(addr));
			who = addr;
		}
		report_add_connection(rep, who, (unsigned)ctl_int(c, "port"),
		    now > d ? now - d : 0, now, (uint64_t)ctl_int(c,
		    "bytes_up"), (uint64_t)ctl_int(c, "bytes_down"));
	}
	json_object_put(o);
}

/* Is d one of the directories read? */
static int
has_dir(const struct logopts *lo, const char *d)
{
	size_t i;

	if (lo->ndirs == 0)
		return strcmp(lo->dir, d) == 0;
	for (i = 0; i < lo->ndirs; i++)
		if (strcmp(lo->dirs[i], d) == 0)
			return 1;
	return 0;
}

int
ctl_cmd_report(const struct ctl_opts *opts, int argc, char **argv)
{
	static const char usage[] =
	    "usage: evgatectl report [--from TIME] [--to TIME] [--charger ID]"
	    "\n         [--format text|csv|json|html] [--output FILE] "
	    "[--dir DIR]...\n         [--online-port PORT] [--no-live]\n"
	    "Per charger per UTC day: time online, connections, bytes up and"
	    "\ndown, refusals, lease events.  Default window: the last 7 "
	    "days.\n";
	struct logopts lo;
	struct export_stats st;
	struct report *rep;
	enum report_format fmt = opts->json ? REPORT_JSON : REPORT_TEXT;
	uint64_t now = now_wall_ms();
	char err[1024];
	unsigned port = REPORT_ONLINE_PORT;
	int no_live = 0, rv;
	FILE *out;

	memset(&lo, 0, sizeof(lo));
	lo.f.to_ms = UINT64_MAX;
	if ((rv = parse_opts(argc, argv, &lo, 1, usage, &port, &no_live)) != 0)
		return rv == 1 ? 0 : 2;
	if (lo.f.to_ms == UINT64_MAX)
		lo.f.to_ms = now;
	if (!lo.from_given)
		lo.f.from_ms = lo.f.to_ms > 7 * 86400000ULL ?
		    lo.f.to_ms - 7 * 86400000ULL : 0;
	if (lo.f.to_ms <= lo.f.from_ms) {
		fprintf(stderr, "evgatectl: --to must be later than --from\n");
		return 2;
	}
	if (lo.format != NULL) {
		if (strcmp(lo.format, "text") == 0)
			fmt = REPORT_TEXT;
		else if (strcmp(lo.format, "csv") == 0)
			fmt = REPORT_CSV;
		else if (strcmp(lo.format, "json") == 0)
			fmt = REPORT_JSON;
		else if (strcmp(lo.format, "html") == 0)
			fmt = REPORT_HTML;
		else {
			fprintf(stderr, "evgatectl: --format is text, csv, "
			    "json or html\n");
			return 2;
		}
	}
	if (find_dir(opts, &lo) == -1) {
		logopts_free(&lo);
		return 1;
	}
	rep = report_new(lo.f.from_ms, lo.f.to_ms, port);
	if ((lo.ndirs > 1 ? report_read_dirs(rep, lo.dirs, lo.ndirs, &lo.f,
	    &st, err, sizeof(err)) : report_read_dir(rep, lo.dir, &lo.f, &st,
	    err, sizeof(err))) == -1) {
		fprintf(stderr, "evgatectl: report: %s\n", err);
		report_free(rep);
		logopts_free(&lo);
		return 1;
	}
	/* Live connections count only for the log the daemon writes. */
	if (!no_live && lo.daemon_dir != NULL && has_dir(&lo, lo.daemon_dir) &&
	    lo.f.ncharger == 0 && lo.f.to_ms >= now - 60000)
		add_live(opts, rep);
	report_finish(rep);
	report_skipped(&st);
	if ((out = open_output(lo.output)) == NULL) {
		report_free(rep);
		logopts_free(&lo);
		return 1;
	}
	report_write(rep, fmt, lo.site != NULL && lo.site[0] != '\0' ?
	    lo.site : NULL, out);
	rv = close_output(out, lo.output);
	report_free(rep);
	logopts_free(&lo);
	return rv == -1 ? 1 : 0;
}

/*
 * The log, metrics and ship sections of "evgatectl status", for people:
 * called by ctl_cmd_status with the daemon's status.
 */
void
ctl_log_status(struct json_object *o)
{
	struct json_object *l = ctl_obj(o, "log"), *m = ctl_obj(o, "metrics");
	struct json_object *s = ctl_obj(o, "ship");
	const char *state;
	char b1[32];

	if (l != NULL) {
		state = ctl_str(l, "state");
		if (state == NULL || strcmp(state, "off") == 0)
			printf("%-14soff (no log section)\n", "log");
		else {
			printf("%-14s%s%s%s%s, %s: committed seq %lld, %lld "
			    "segments, %s\n", "log",
			    strcmp(state, "ok") == 0 ? "ok" : strcmp(state,
			    "disk-full") == 0 ? "DISK FULL" : "WRITE ERROR",
			    ctl_str(l, "last_error") ? " (" : "",
			    ctl_str(l, "last_error") ? ctl_str(l, "last_error") :
			    "", ctl_str(l, "last_error") ? ")" : "",
			    ctl_str(l, "dir"), (long long)ctl_int(l,
			    "committed_seq"), (long long)ctl_int(l, "segments"),
			    ctl_bytes((uint64_t)ctl_int(l, "bytes"), b1,
			    sizeof(b1)));
			printf("%-14s%lld events queued, %lld dropped\n", "",
			    (long long)ctl_int(l, "queued"),
			    (long long)ctl_int(l, "dropped"));
		}
	}
	if (m != NULL && json_object_get_boolean(ctl_obj(m, "enabled")))
		printf("%-14shttp://%s/metrics, %lld scrapes\n", "metrics",
		    ctl_str(m, "listen"), (long long)ctl_int(m, "scrapes"));
	if (s != NULL && json_object_get_boolean(ctl_obj(s, "enabled"))) {
		printf("%-14s%s: %s, acked seq %lld (lag %lld), %lld events "
		    "in %lld batches, %lld failures\n", "ship",
		    ctl_str(s, "url"), ctl_str(s, "state"),
		    (long long)ctl_int(s, "acked_seq"),
		    (long long)ctl_int(s, "lag"),
		    (long long)ctl_int(s, "sent_events"),
		    (long long)ctl_int(s, "batches"),
		    (long long)ctl_int(s, "failures"));
		if (ctl_str(s, "last_error") != NULL)
			printf("%-14slast error: %s\n", "",
			    ctl_str(s, "last_error"));
	}
}
