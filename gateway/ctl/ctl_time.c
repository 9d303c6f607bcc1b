/*
 * ctl_time: evgatectl time, the time service as an operator reads it:
 * whether the chargers get a trusted time, from which upstream server,
 * how far the system clock is off, each upstream server's state, and
 * what the NTP server answered or dropped.  --json prints the reply.
 */
#include "evgate_config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/ctl.h"

static int
has(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && v != NULL;
}

static double
dbl(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return NAN;
	return json_object_get_double(v);
}

/* Seconds the way an operator reads them: "+0.000123 s", "-1.25 ms". */
static const char *
secs(double s, int sign, char *buf, size_t len)
{
	if (isnan(s))
		snprintf(buf, len, "-");
	else if (fabs(s) < 1e-3)
		snprintf(buf, len, sign ? "%+.1f us" : "%.1f us", s * 1e6);
	else if (fabs(s) < 1)
		snprintf(buf, len, sign ? "%+.3f ms" : "%.3f ms", s * 1e3);
	else
		snprintf(buf, len, sign ? "%+.6f s" : "%.6f s", s);
	return buf;
}

static void
print_drops(struct json_object *d)
{
	int first = 1;

	json_object_object_foreach(d, key, val) {
		int64_t n = json_object_get_int64(val);

		if (n == 0)
			continue;
		printf("%s%s %lld", first ? ", dropped: " : ", ", key,
		    (long long)n);
		first = 0;
	}
}

int
ctl_cmd_time(const struct ctl_opts *opts, int argc, char **argv)
{
	static const char *const hdr[] = { "SERVER", "ADDRESS", "STATE",
	    "REACH", "ST", "POLL", "LAST", "OFFSET", "DELAY", "JITTER" };
	struct json_object *o, *srv, *list, *l;
	struct ctl_table *t;
	char b1[32], b2[32], b3[32];
	size_t i, n;

	if (ctl_simple(opts, "time", &o) == -1)
		return 1;
	if (opts->json) {
		ctl_print_json(o);
		json_object_put(o);
		return 0;
	}
	if (!json_object_get_boolean(ctl_obj(o, "enabled"))) {
		printf("time service off (no ntp section)\n");
		json_object_put(o);
		return 0;
	}
	srv = ctl_obj(o, "server");
	if (json_object_get_boolean(ctl_obj(o, "sync")))
		printf("%-13s%s to %s (%s), serving stratum %lld\n", "state",
		    ctl_str(o, "state"), ctl_str(o, "selected_name") ?
		    ctl_str(o, "selected_name") : "-",
		    ctl_str(o, "selected") ? ctl_str(o, "selected") :
		    "no server agrees now", (long long)ctl_int(o, "stratum"));
	else
		printf("%-13s%s: answering LI=3 (alarm), stratum 0\n", "state",
		    ctl_str(o, "state"));
	printf("%-13s%s (since %s)\n", "why", ctl_str(o, "reason"),
	    ctl_str(o, "since") ? ctl_str(o, "since") : "-");
	printf("%-13s%s (true time - system clock), delay %s, jitter %s, "
	    "frequency %+.3f ppm\n", "offset",
	    secs(dbl(o, "offset_s"), 1, b1, sizeof(b1)),
	    secs(dbl(o, "delay_s"), 0, b2, sizeof(b2)),
	    secs(dbl(o, "jitter_s"), 0, b3, sizeof(b3)), dbl(o, "freq_ppm"));
	if (has(o, "last_update_age_s"))
		printf("%-13s%s ago; holdover %s", "last update",
		    ctl_duration(dbl(o, "last_update_age_s"), b1, sizeof(b1)),
		    ctl_duration(dbl(o, "holdover_s"), b2, sizeof(b2)));
	else
		printf("%-13snever; holdover %s", "last update",
		    ctl_duration(dbl(o, "holdover_s"), b2, sizeof(b2)));
	if (has(o, "holdover_left_s"))
		printf(" (unsynchronised in %s without a good sample)",
		    ctl_duration(dbl(o, "holdover_left_s"), b1, sizeof(b1)));
	printf("\n");
	printf("%-13s%s", "system clock",
	    json_object_get_boolean(ctl_obj(o, "set_clock")) ?
	    "set by evgated (set_clock: true)" : "not set (set_clock: false)");
	if (ctl_int(o, "clock_steps") || ctl_int(o, "clock_slews"))
		printf(", %lld steps, %lld slews",
		    (long long)ctl_int(o, "clock_steps"),
		    (long long)ctl_int(o, "clock_slews"));
	if (ctl_int(o, "clock_errors"))
		printf(", %lld ERRORS", (long long)ctl_int(o, "clock_errors"));
	if (ctl_int(o, "steps_seen"))
		printf(", stepped by others %lld times",
		    (long long)ctl_int(o, "steps_seen"));
	printf("\n");

	printf("%-13s", "serving");
	l = ctl_obj(srv, "listen");
	n = l ? json_object_array_length(l) : 0;
	if (n == 0)
		printf("off");
	for (i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "", json_object_get_string(
		    json_object_array_get_idx(l, i)));
	printf("; %lld requests, %lld answered synchronised, %lld "
	    "unsynchronised, %lld RATE KoD", (long long)ctl_int(srv,
	    "requests"), (long long)ctl_int(srv, "replies"),
	    (long long)ctl_int(srv, "unsync_replies"),
	    (long long)ctl_int(srv, "kod_sent"));
	print_drops(ctl_obj(srv, "drops"));
	printf("\n\n");

	list = ctl_obj(o, "servers");
	n = list ? json_object_array_length(list) : 0;
	t = ctl_table_new(10, hdr);
	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(list, i);
		char st[8], poll[16], last[32], off[32], del[32], jit[32];

		snprintf(st, sizeof(st), "%s", has(p, "stratum") ?
		    json_object_get_string(ctl_obj(p, "stratum")) : "-");
		snprintf(poll, sizeof(poll), "%llds",
		    (long long)ctl_int(p, "poll_s"));
		if (has(p, "last_sample_age_s"))
			ctl_duration(dbl(p, "last_sample_age_s"), last,
			    sizeof(last));
		else
			snprintf(last, sizeof(last), "-");
		ctl_table_row(t, ctl_str(p, "name"), ctl_str(p, "address"),
		    ctl_str(p, "state"), ctl_str(p, "reach"), st, poll, last,
		    secs(dbl(p, "offset_s"), 1, off, sizeof(off)),
		    secs(dbl(p, "delay_s"), 0, del, sizeof(del)),
		    secs(dbl(p, "jitter_s"), 0, jit, sizeof(jit)));
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	if (n == 0)
		printf("(no upstream server resolved yet)\n");
	json_object_put(o);
	return 0;
}
