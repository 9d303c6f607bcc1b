/*
 * ctl_pair: evgatectl's commands for a box of a redundant pair.
 *
 *   role [master|backup|fault|stop] [--reason TEXT]
 *	show or take the role: keepalived's notify script calls it
 *	(conf/evgate-keepalived-notify); exit 1 when the daemon refuses
 *   health [-q]
 *	can this box serve?  Exit 0 yes, 1 no (or no answer within 3 s):
 *	keepalived's track script (conf/keepalived.conf.example)
 *   pair
 *	the link to the peer: connected, lease sync lag, configuration
 *	agreement, roles, the last failover
 */
#include "evgate_config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "common/ctl.h"
#include "common/util.h"

#define HEALTH_TIMEOUT_MS	3000

int
ctl_cmd_role(const struct ctl_opts *opts, int argc, char **argv)
{
	static const char usage[] =
	    "usage: evgatectl role [master|backup|fault|stop] "
	    "[--reason TEXT]\n"
	    "Without a role: show it.  keepalived's notify script gives "
	    "the\nstate it entered (stop: keepalived is shutting down, taken "
	    "as backup).\n";
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct json_object *req, *o;
	const char *reason = NULL;
	char err[1024], role[16];
	size_t i;
	int ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "r:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			reason = optarg;
			break;
		case 'h':
			printf("%s", usage);
			return 0;
		default:
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (argc - optind > 1) {
		fprintf(stderr, "%s", usage);
		return 2;
	}
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("role"));
	if (optind < argc) {
		/* keepalived says MASTER, BACKUP, FAULT, STOP */
		snprintf(role, sizeof(role), "%s", argv[optind]);
		for (i = 0; role[i] != '\0'; i++)
			if (role[i] >= 'A' && role[i] <= 'Z')
				role[i] = (char)(role[i] - 'A' + 'a');
		if (strcmp(role, "master") != 0 && strcmp(role, "backup") !=
		    0 && strcmp(role, "fault") != 0 && strcmp(role, "stop") !=
		    0) {
			fprintf(stderr, "evgatectl: role: \"%s\" is not master, "
			    "backup, fault or stop\n", argv[optind]);
			json_object_put(req);
			return 2;
		}
		json_object_object_add(req, "role", json_object_new_string(
		    role));
		if (reason != NULL)
			json_object_object_add(req, "reason",
			    json_object_new_string(reason));
	}
	if (ctl_request(opts, req, &o, err, sizeof(err)) == -1) {
		fprintf(stderr, "evgatectl: %s\n", err);
		json_object_put(req);
		return 1;
	}
	json_object_put(req);
	if (opts->json)
		ctl_print_json(o);
	else if (json_object_get_boolean(ctl_obj(o, "changed")))
		printf("%s (was %s)\n", ctl_str(o, "role"), ctl_str(o,
		    "previous"));
	else
		printf("%s%s%s\n", ctl_str(o, "role"), ctl_str(o, "since") ?
		    " since " : "", ctl_str(o, "since") ? ctl_str(o, "since") :
		    "");
	json_object_put(o);
	return 0;
}

int
ctl_cmd_health(const struct ctl_opts *opts, int argc, char **argv)
{
	static const char usage[] =
	    "usage: evgatectl health [-q]\n"
	    "Exit 0 when this box can serve the chargers, 1 when not (or "
	    "when\nevgated does not answer within 3 s).  -q: print only "
	    "what fails.\n";
	struct json_object *req, *o, *list, *c;
	char err[1024];
	size_t i, n;
	int quiet = 0, healthy, ok;

	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") ==
		    0)
			quiet = 1;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i],
		    "--help") == 0) {
			printf("%s", usage);
			return 0;
		} else {
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("health"));
	if (ctl_request_timeout(opts, req, HEALTH_TIMEOUT_MS, &o, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "evgatectl: health: %s\n", err);
		json_object_put(req);
		return 1;
	}
	json_object_put(req);
	healthy = json_object_get_boolean(ctl_obj(o, "healthy"));
	if (opts->json)
		ctl_print_json(o);
	else {
		list = ctl_obj(o, "checks");
		n = list != NULL ? json_object_array_length(list) : 0;
		for (i = 0; i < n; i++) {
			c = json_object_array_get_idx(list, i);
			ok = json_object_get_boolean(ctl_obj(c, "ok"));
			if (quiet && ok)
				continue;
			printf("%-4s %-9s %s\n", ok ? "ok" : "FAIL",
			    ctl_str(c, "name"), ctl_str(c, "detail"));
		}
		if (!quiet)
			printf("%s\n", healthy ? "healthy" : "NOT HEALTHY");
	}
	json_object_put(o);
	return healthy ? 0 : 1;
}

static const char *
s_or(struct json_object *o, const char *key, const char *dflt)
{
	const char *s = ctl_str(o, key);

	return s != NULL ? s : dflt;
}

/* The pair's lines of "status", and "pair" itself. */
static void
print_pair(struct json_object *p, int full)
{
	struct json_object *peer = ctl_obj(p, "peer"), *sync = ctl_obj(p,
	    "sync"), *cfg = ctl_obj(p, "config"), *diff, *agree;
	char b1[32];
	size_t i, n;

	printf("%-14s%s, %s since %s; last failover %s\n", "pair",
	    s_or(p, "box", "?"), s_or(p, "role", "?"),
	    s_or(p, "role_since", "?"), s_or(p, "last_failover", "never"));
	printf("%-14s%s %s (%s), %s; out %s, in %s\n", "peer",
	    s_or(peer, "box", "?"), s_or(peer, "address", "?"),
	    s_or(peer, "role", "role unknown"),
	    json_object_get_boolean(ctl_obj(peer, "connected")) ?
	    "connected" : "NOT CONNECTED", s_or(peer, "out", "?"),
	    s_or(peer, "in", "?"));
	if (ctl_str(peer, "last_error") != NULL &&
	    !json_object_get_boolean(ctl_obj(peer, "connected")))
		printf("%-14slast error: %s\n", "", ctl_str(peer, "last_error"));
	printf("%-14slag %lld change%s, oldest %s; %lld sent, %lld "
	    "received, %lld merged, %lld conflicts\n", "lease sync",
	    (long long)ctl_int(sync, "lag_changes"),
	    ctl_int(sync, "lag_changes") == 1 ? "" : "s",
	    ctl_duration(json_object_get_double(ctl_obj(sync,
	    "lag_oldest_s")), b1, sizeof(b1)),
	    (long long)ctl_int(sync, "sent"),
	    (long long)ctl_int(sync, "received"),
	    (long long)ctl_int(sync, "applied"),
	    (long long)ctl_int(sync, "conflicts"));
	if (ctl_int(sync, "handshakes_refused") > 0 ||
	    ctl_int(sync, "handshakes_dropped") > 0)
		printf("%-14s%lld connection%s refused and %lld dropped while "
		    "four were in their handshake (someone else at the pair "
		    "port?)\n", "pair port",
		    (long long)ctl_int(sync, "handshakes_refused"),
		    ctl_int(sync, "handshakes_refused") == 1 ? "" : "s",
		    (long long)ctl_int(sync, "handshakes_dropped"));
	agree = ctl_obj(cfg, "agree");
	diff = ctl_obj(cfg, "differs");
	n = diff != NULL ? json_object_array_length(diff) : 0;
	printf("%-14s%s", "config", agree == NULL ? "agreement not known "
	    "yet (no hello from the peer)" : json_object_get_boolean(agree) ?
	    "the same as the peer's" : "DIFFERS from the peer's in:");
	for (i = 0; i < n; i++)
		printf(" %s", json_object_get_string(
		    json_object_array_get_idx(diff, i)));
	printf("\n");
	if (full) {
		printf("%-14s%s, virtual %s, pair link %s\n", "addresses",
		    s_or(p, "address", "?"), s_or(p, "virtual_address", "?"),
		    s_or(p, "listen", "?"));
		printf("%-14s%s\n%-14s%s\n", "certificate",
		    s_or(p, "certificate", "?"), "peer's",
		    s_or(p, "peer_certificate", "?"));
		printf("%-14s%lld role changes, %lld connects, %lld "
		    "snapshots sent, %lld received\n", "counters",
		    (long long)ctl_int(p, "role_changes"),
		    (long long)ctl_int(sync, "connects"),
		    (long long)ctl_int(sync, "snapshots_sent"),
		    (long long)ctl_int(sync, "snapshots_received"));
	}
}

void
ctl_pair_status(struct json_object *o)
{
	struct json_object *p = ctl_obj(o, "pair");

	if (p != NULL && json_object_get_boolean(ctl_obj(p, "enabled")))
		print_pair(p, 0);
}

int
ctl_cmd_pair(const struct ctl_opts *opts, int argc, char **argv)
{
	struct json_object *o, *p;

	if (argc > 1) {
		fprintf(stderr, "usage: evgatectl pair\n");
		return 2;
	}
	if (ctl_simple(opts, "status", &o) == -1)
		return 1;
	p = ctl_obj(o, "pair");
	if (opts->json)
		ctl_print_json(p);
	else if (p == NULL || !json_object_get_boolean(ctl_obj(p, "enabled")))
		printf("no pair: this box serves alone (no pair section)\n");
	else
		print_pair(p, 1);
	json_object_put(o);
	return 0;
}
