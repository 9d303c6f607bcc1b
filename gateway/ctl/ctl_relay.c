/*
 * ctl_relay: evgatectl status, connections and reload.
 */
#include "evgate_config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "common/clock.h"
#include "common/ctl.h"

static void
print_counts(const char *title, struct json_object *o)
{
	int first = 1;

	if (o == NULL)
		return;
	printf("%-14s", title);
	json_object_object_foreach(o, key, val) {
		int64_t n = json_object_get_int64(val);

		if (n == 0)
			continue;
		printf("%s%s %lld", first ? "" : ", ", key, (long long)n);
		first = 0;
	}
	printf("%s\n", first ? "none" : "");
}

/* Is section o of the status switched on? */
static int
enabled(struct json_object *o)
{
	return o != NULL && json_object_get_boolean(ctl_obj(o, "enabled"));
}

/*
 * One line that says whether anything needs the operator, before the
 * details: what the alerts of doc/operator-guide.md watch.
 */
static void
print_problems(struct json_object *o)
{
	struct json_object *c = ctl_obj(o, "config"), *dm = ctl_obj(o,
	    "dnsmasq"), *dh = ctl_obj(o, "dhcp"), *ntp = ctl_obj(o, "ntp"),
	    *log = ctl_obj(o, "log"), *ship = ctl_obj(o, "ship"),
	    *r = ctl_obj(o, "relay");
	char line[1024] = "";
	int n = 0;

#define PROBLEM(...) do {						\
	char p_[256];							\
									\
	snprintf(p_, sizeof(p_), __VA_ARGS__);				\
	strlcat(line, n++ ? "; " : "", sizeof(line));			\
	strlcat(line, p_, sizeof(line));				\
} while (0)
	if (ctl_str(c, "last_error") != NULL)
		PROBLEM("the last reload failed");
	if (enabled(r) && ctl_int(r, "listeners") == 0)
		PROBLEM("the relay listens nowhere");
	if (enabled(dm) && !json_object_get_boolean(ctl_obj(dm, "running")))
		PROBLEM("dnsmasq is not running");
	if (enabled(dh) && ctl_int(dh, "pool_use_pct") >= 90)
		PROBLEM("DHCP pool %lld%% used",
		    (long long)ctl_int(dh, "pool_use_pct"));
	if (enabled(ntp) && !json_object_get_boolean(ctl_obj(ntp, "sync")))
		PROBLEM("time %s", ctl_str(ntp, "state"));
	if (enabled(log) && ctl_str(log, "state") != NULL &&
	    strcmp(ctl_str(log, "state"), "ok") != 0)
		PROBLEM("fleet log %s", ctl_str(log, "state"));
	if (enabled(log) && ctl_int(log, "dropped") > 0)
		PROBLEM("%lld events dropped", (long long)ctl_int(log,
		    "dropped"));
	if (enabled(ship) && !json_object_get_boolean(ctl_obj(ship,
	    "healthy")))
		PROBLEM("shipping to the collector fails");
#undef PROBLEM
	if (n == 0)
		printf("%-14snone\n", "problems");
	else
		printf("%-14s%d: %s\n", "problems", n, line);
}

/* The time service in one line, and the gateway's own clock. */
static void
print_time(struct json_object *o)
{
	struct json_object *ntp = ctl_obj(o, "ntp");
	char now[40], off[32];
	double s;

	format_utc_s(now_wall_ms(), now, sizeof(now));
	if (!enabled(ntp)) {
		printf("%-14s%s; time service off (no ntp section)\n", "time",
		    now);
		return;
	}
	s = json_object_get_double(ctl_obj(ntp, "offset_s"));
	snprintf(off, sizeof(off), "%+.3f ms", s * 1e3);
	if (json_object_get_boolean(ctl_obj(ntp, "sync")))
		printf("%-14s%s; %s to %s, offset %s, stratum %lld\n", "time",
		    now, ctl_str(ntp, "state"), ctl_str(ntp, "selected") ?
		    ctl_str(ntp, "selected") : "-", off,
		    (long long)ctl_int(ntp, "stratum"));
	else
		printf("%-14s%s; %s since %s: %s (chargers are told LI=3, "
		    "stratum 0)\n", "time", now,
		    ctl_str(ntp, "state") ? ctl_str(ntp, "state") : "-",
		    ctl_str(ntp, "since") ? ctl_str(ntp, "since") : "-",
		    ctl_str(ntp, "reason") ? ctl_str(ntp, "reason") : "-");
}

int
ctl_cmd_status(const struct ctl_opts *opts, int argc, char **argv)
{
	struct json_object *o, *c, *r, *res;
	char b1[32], b2[32];

	if (ctl_simple(opts, "status", &o) == -1)
		return 1;
	if (opts->json) {
		ctl_print_json(o);
		json_object_put(o);
		return 0;
	}
	c = ctl_obj(o, "config");
	r = ctl_obj(o, "relay");
	res = ctl_obj(o, "resolver");
	printf("%-14s%s\n", "site", ctl_str(o, "site") ? ctl_str(o, "site") :
	    "-");
	print_problems(o);
	print_time(o);
	printf("%-14sevgated %s, pid %lld, %s, up %s\n", "daemon",
	    ctl_str(o, "version"), (long long)ctl_int(o, "pid"),
	    ctl_str(o, "state"),
	    ctl_duration((double)ctl_int(o, "uptime_s"), b1, sizeof(b1)));
	printf("%-14s%s (loaded %s, %lld reloads, %lld failed)\n", "config",
	    ctl_str(c, "path"), ctl_str(c, "loaded"),
	    (long long)ctl_int(c, "reloads"),
	    (long long)ctl_int(c, "reload_failures"));
	if (ctl_str(c, "last_error") != NULL)
		printf("%-14sLAST RELOAD FAILED at %s, old configuration in "
		    "force:\n%-14s%s\n", "", ctl_str(c, "last_reload"), "",
		    ctl_str(c, "last_error"));
	if (!json_object_get_boolean(ctl_obj(r, "enabled"))) {
		printf("%-14soff (no relay section)\n", "relay");
	} else {
		printf("%-14s%lld listeners, %lld active of at most %lld; "
		    "%lld accepted, %lld relayed, %lld closed\n", "relay",
		    (long long)ctl_int(r, "listeners"),
		    (long long)ctl_int(r, "active"),
		    (long long)ctl_int(r, "max_connections"),
		    (long long)ctl_int(r, "accepted"),
		    (long long)ctl_int(r, "relayed"),
		    (long long)ctl_int(r, "closed"));
		printf("%-14sup %s, down %s\n", "bytes",
		    ctl_bytes((uint64_t)ctl_int(r, "bytes_up"), b1, sizeof(b1)),
		    ctl_bytes((uint64_t)ctl_int(r, "bytes_down"), b2,
		    sizeof(b2)));
		print_counts("states", ctl_obj(r, "by_state"));
		print_counts("refused", ctl_obj(r, "refused"));
		print_counts("closes", ctl_obj(r, "closes"));
		printf("%-14s%lld queries, %lld cache hits, %lld joined, "
		    "%lld failures, %lld names cached\n", "resolver",
		    (long long)ctl_int(res, "queries"),
		    (long long)ctl_int(res, "cache_hits"),
		    (long long)ctl_int(res, "joined"),
		    (long long)ctl_int(res, "failures"),
		    (long long)ctl_int(res, "cached"));
	}
	ctl_site_status(o);
	ctl_pair_status(o);
	ctl_log_status(o);
	json_object_put(o);
	return 0;
}

int
ctl_cmd_connections(const struct ctl_opts *opts, int argc, char **argv)
{
	static const char *const hdr[] = { "ID", "CLIENT", "CHARGER", "PORT",
	    "SNI", "UPSTREAM", "STATE", "AGE", "UP", "DOWN" };
	struct json_object *o, *list;
	struct ctl_table *t;
	size_t i, n;

	if (ctl_simple(opts, "connections", &o) == -1)
		return 1;
	if (opts->json) {
		ctl_print_json(o);
		json_object_put(o);
		return 0;
	}
	list = ctl_obj(o, "connections");
	n = list ? json_object_array_length(list) : 0;
	t = ctl_table_new(10, hdr);
	for (i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(list, i);
		char id[24], port[8], age[32], up[32], down[32];
		struct json_object *d = ctl_obj(c, "duration_s");

		snprintf(id, sizeof(id), "%lld", (long long)ctl_int(c, "id"));
		snprintf(port, sizeof(port), "%lld",
		    (long long)ctl_int(c, "port"));
		ctl_table_row(t, id, ctl_str(c, "client"),
		    ctl_str(c, "charger"), port,
		    ctl_str(c, "sni"), ctl_str(c, "upstream"),
		    ctl_str(c, "state"),
		    ctl_duration(d ? json_object_get_double(d) : 0, age,
		    sizeof(age)),
		    ctl_bytes((uint64_t)ctl_int(c, "bytes_up"), up, sizeof(up)),
		    ctl_bytes((uint64_t)ctl_int(c, "bytes_down"), down,
		    sizeof(down)));
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	printf("%zu connection%s\n", n, n == 1 ? "" : "s");
	json_object_put(o);
	return 0;
}

int
ctl_cmd_reload(const struct ctl_opts *opts, int argc, char **argv)
{
	struct json_object *o;

	if (ctl_simple(opts, "reload", &o) == -1)
		return 1;
	if (opts->json)
		ctl_print_json(o);
	else
		printf("configuration reloaded\n");
	json_object_put(o);
	return 0;
}
