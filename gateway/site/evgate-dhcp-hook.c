/*
 * evgate-dhcp-hook: dnsmasq's dhcp-script, the way lease changes reach
 * evgated.
 *
 * dnsmasq (run by evgated with leasefile-ro) calls it
 *	evgate-dhcp-hook init			(at start, as root)
 *	evgate-dhcp-hook add|old|del MAC IP [HOSTNAME]
 *						(as dhcp-scriptuser)
 * with details in DNSMASQ_* environment variables.  It hands each event
 * to evgated over the lease socket (EVGATE_LEASE_SOCKET, set by evgated
 * in dnsmasq's environment) as one JSON request, and for "init" prints
 * the lease table evgated returns, in dnsmasq's lease-file format, on
 * stdout.  It passes the values on as dnsmasq gave them: the charger
 * chose some of them (hostname, client id), so evgated validates every
 * field itself, and this program checks the lines it prints for init.
 *
 * Exit 0 on success.  On failure it says why on stderr (dnsmasq logs
 * it, and evgated logs dnsmasq's output) and exits 1; for "init" that
 * makes dnsmasq exit, and evgated starts it again after a back-off.
 */
#include "evgate_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/ctl.h"
#include "site/leases.h"

#define DEFAULT_SOCKET	RUNSTATEDIR "/evgate/dnsmasq/lease.sock"
#define TRIES		5	/* evgated may be between two lives */
#define FIELD_MAX	1024	/* longer values are cut (evgated refuses) */

static void
add(struct json_object *o, const char *key, const char *val)
{
	if (val != NULL)
		json_object_object_add(o, key, json_object_new_string_len(val,
		    (int)strnlen(val, FIELD_MAX)));
}

static int
request(const char *sock, struct json_object *req, struct json_object **reply)
{
	struct ctl_opts opts;
	char err[512];
	int i;

	memset(&opts, 0, sizeof(opts));
	opts.socket = sock;
	for (i = 0; i < TRIES; i++) {
		if (ctl_request(&opts, req, reply, err, sizeof(err)) == 0)
			return 0;
		/* Retry only while no one answers: a refusal is final. */
		if (strstr(err, "not running") == NULL)
			break;
		sleep(1);
	}
	fprintf(stderr, "evgate-dhcp-hook: %s\n", err);
	return -1;
}

static int
do_init(const char *sock)
{
	struct json_object *req = json_object_new_object(), *reply, *list;
	struct lease_line ln;
	size_t i, n, bad = 0;

	add(req, "cmd", "lease-init");
	if (request(sock, req, &reply) == -1) {
		json_object_put(req);
		return 1;
	}
	json_object_put(req);
	if (!json_object_object_get_ex(reply, "leases", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		fprintf(stderr, "evgate-dhcp-hook: no lease list in evgated's "
		    "reply\n");
		json_object_put(reply);
		return 1;
	}
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(list, i);
		const char *s = json_object_get_string(v);
		size_t len = (size_t)json_object_get_string_len(v);

		/* dnsmasq reads these with fscanf: only clean lines. */
		if (!json_object_is_type(v, json_type_string) ||
		    lease_parse_line((const uint8_t *)s, len, &ln) != LEASE_OK ||
		    !ln.dnsmasq_form) {
			bad++;
			continue;
		}
		printf("%s\n", s);
	}
	json_object_put(reply);
	if (bad > 0)
		fprintf(stderr, "evgate-dhcp-hook: %zu malformed lease "
		    "line%s from evgated skipped\n", bad, bad == 1 ? "" : "s");
	return fflush(stdout) == 0 ? 0 : 1;
}

int
main(int argc, char *argv[])
{
	struct json_object *req, *reply;
	const char *sock = getenv("EVGATE_LEASE_SOCKET"), *action;
	int rv;

	if (sock == NULL || sock[0] != '/')
		sock = DEFAULT_SOCKET;
	if (argc < 2) {
		fprintf(stderr, "usage: evgate-dhcp-hook init | add|old|del "
		    "MAC IP [HOSTNAME]\n(run by dnsmasq as its dhcp-script; "
		    "see evgated(8))\n");
		return 2;
	}
	action = argv[1];
	if (strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0) {
		printf("usage: evgate-dhcp-hook init | add|old|del MAC IP "
		    "[HOSTNAME]\n\nRun by dnsmasq as its dhcp-script: hands "
		    "each lease event to evgated\nover its lease socket ("
		    "EVGATE_LEASE_SOCKET, default %s).\nSee evgated(8).\n",
		    DEFAULT_SOCKET);
		return 0;
	}
	if (strcmp(action, "--version") == 0 || strcmp(action, "-V") == 0) {
		printf("evgate-dhcp-hook %s\n", VERSION);
		return 0;
	}
	if (strcmp(action, "init") == 0)
		return do_init(sock);
	/* tftp, arp, relay-snoop, ...: not ours. */
	if (strcmp(action, "add") != 0 && strcmp(action, "old") != 0 &&
	    strcmp(action, "del") != 0)
		return 0;
	if (argc < 4) {
		fprintf(stderr, "evgate-dhcp-hook: %s without MAC and IP\n",
		    action);
		return 1;
	}
	req = json_object_new_object();
	add(req, "cmd", "lease-event");
	add(req, "action", action);
	add(req, "mac", argv[2]);
	add(req, "ip", argv[3]);
	/* With dhcp-ignore-names the lease has no name; the one the
	 * charger offered is in DNSMASQ_SUPPLIED_HOSTNAME. */
	add(req, "hostname", getenv("DNSMASQ_SUPPLIED_HOSTNAME") != NULL ?
	    getenv("DNSMASQ_SUPPLIED_HOSTNAME") : argc > 4 ? argv[4] : NULL);
	add(req, "expires", getenv("DNSMASQ_LEASE_EXPIRES"));
	add(req, "remaining", getenv("DNSMASQ_TIME_REMAINING"));
	add(req, "client_id", getenv("DNSMASQ_CLIENT_ID"));
	add(req, "interface", getenv("DNSMASQ_INTERFACE"));
	rv = request(sock, req, &reply) == 0 ? 0 : 1;
	if (rv == 0)
		json_object_put(reply);
	json_object_put(req);
	return rv;
}
