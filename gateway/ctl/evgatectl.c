/*
 * evgatectl: the operator's command line for evgated.  Every command is a
 * request on the control socket; --json prints the daemon's reply as is,
 * for scripts, and otherwise the reply is rendered as aligned text.
 */
#include "evgate_config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "common/ctl.h"

static const struct ctl_command {
	const char	*name;
	int		(*fn)(const struct ctl_opts *, int, char **);
	const char	*help;
} commands[] = {
	{ "status", ctl_cmd_status,
	    "uptime, configuration state and last reload error, counters" },
	{ "connections", ctl_cmd_connections, "live relayed connections" },
	{ "chargers", ctl_cmd_chargers,
	    "known chargers: lease, last seen, relayed traffic" },
	{ "charger", ctl_cmd_charger,
	    "one charger: lease, connections, online/offline since, last "
	    "closes" },
	{ "export", ctl_cmd_export,
	    "fleet log events as CSV or JSON Lines (--from, --to, --charger)" },
	{ "report", ctl_cmd_report,
	    "per charger per day: online time, data, refusals (text/csv/html)" },
	{ "time", ctl_cmd_time,
	    "time service: sync state, upstream servers, requests served" },
	{ "reload", ctl_cmd_reload,
	    "re-read the configuration (a bad file keeps the old one)" },
	{ "pair", ctl_cmd_pair,
	    "a redundant pair: peer, lease sync lag, config agreement" },
	{ "role", ctl_cmd_role,
	    "show or take the pair role (keepalived's notify script)" },
	{ "health", ctl_cmd_health,
	    "exit 0 when this box can serve (keepalived's track script)" },
	{ NULL, NULL, NULL },
};

static void
usage(FILE *fp)
{
	const struct ctl_command *c;

	fprintf(fp, "usage: evgatectl [--json] [-s socket | -c config] "
	    "command [args]\n\ncommands:\n");
	for (c = commands; c->name != NULL; c++)
		fprintf(fp, "  %-13s %s\n", c->name, c->help);
	fprintf(fp, "\noptions:\n"
	    "  -j, --json          print the daemon's reply as JSON\n"
	    "  -s, --socket PATH   control socket (default %s)\n"
	    "  -c, --config FILE   take the socket path from this "
	    "configuration\n"
	    "  -V, --version       print the version\n"
	    "  -h, --help          this text\n"
	    "\nSee evgatectl(8).\n", RUNSTATEDIR "/evgate/evgated.sock");
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct ctl_command *c;
	struct ctl_opts opts;
	struct config *conf = NULL;
	const char *confpath = NULL;
	char err[1024];
	int ch, rv;

	memset(&opts, 0, sizeof(opts));
	opts.socket = getenv("EVGATE_SOCKET");
	/* "+": stop at the command, whose own options follow it. */
	while ((ch = getopt_long(argc, argv, "+js:c:Vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			opts.json = 1;
			break;
		case 's':
			opts.socket = optarg;
			break;
		case 'c':
			confpath = optarg;
			opts.config = optarg;
			break;
		case 'V':
			printf("evgatectl %s\n", VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	/* --json is accepted after the command too ("status --json"). */
	{
		int i, j;

		for (i = j = optind + 1; i < argc; i++) {
			if (strcmp(argv[i], "--json") == 0 ||
			    strcmp(argv[i], "-j") == 0)
				opts.json = 1;
			else
				argv[j++] = argv[i];
		}
		argc = j;
	}
	for (c = commands; c->name != NULL; c++)
		if (strcmp(c->name, argv[optind]) == 0)
			break;
	if (c->name == NULL) {
		fprintf(stderr, "evgatectl: unknown command \"%s\"\n",
		    argv[optind]);
		usage(stderr);
		return 2;
	}
	if (confpath != NULL && opts.socket == NULL) {
		if ((conf = config_load(confpath, err, sizeof(err))) == NULL) {
			fprintf(stderr, "evgatectl: %s\n", err);
			return 1;
		}
		opts.socket = conf->control.socket;
	}
	if (opts.socket == NULL)
		opts.socket = RUNSTATEDIR "/evgate/evgated.sock";
	rv = c->fn(&opts, argc - optind, argv + optind);
	config_free(conf);
	return rv;
}
