/*
 * ctl_chargers: evgatectl chargers -- every charger the gateway knows
 * (reserved in dhcp.chargers, or holding a lease), with its lease, when it
 * was last seen and what the relay carried for it since evgated started.
 */
#include "evgate_config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "common/clock.h"
#include "common/ctl.h"

/* "in 42m", "expired", "-". */
static const char *
lease_cell(struct json_object *c, char *buf, size_t len)
{
	const char *state = ctl_str(c, "lease");
	struct json_object *in = ctl_obj(c, "expires_in_s");
	char d[32];

	if (state == NULL || strcmp(state, "none") == 0)
		return "-";
	if (strcmp(state, "expired") == 0)
		return "expired";
	if (in == NULL)
		return "never";
	snprintf(buf, len, "in %s", ctl_duration((double)
	    json_object_get_int64(in), d, sizeof(d)));
	return buf;
}

/* Unknown MACs that asked for an address: a charger to commission? */
static void
refused_macs(struct json_object *list)
{
	static const char *const hdr[] = { "REFUSED MAC", "FIRST SEEN",
	    "LAST SEEN", "REQUESTS" };
	struct ctl_table *t;
	size_t i, n = list != NULL ? json_object_array_length(list) : 0;
	char count[24];

	if (n == 0)
		return;
	printf("\n");
	t = ctl_table_new(4, hdr);
	for (i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(list, i);

		snprintf(count, sizeof(count), "%lld",
		    (long long)ctl_int(c, "count"));
		ctl_table_row(t, ctl_str(c, "mac"), ctl_str(c, "first_seen"),
		    ctl_str(c, "last_seen"), count);
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	printf("Not in dhcp.chargers: add a reservation with its MAC to let "
	    "it in.\n");
}

int
ctl_cmd_chargers(const struct ctl_opts *opts, int argc, char **argv)
{
	static const char *const hdr[] = { "CHARGER", "MAC", "ADDRESS",
	    "LEASE", "LAST SEEN", "ONLINE SINCE", "OFFLINE SINCE", "CONNS",
	    "UP", "DOWN" };
	struct json_object *o, *list, *pool;
	struct ctl_table *t;
	size_t i, n, active = 0;

	if (ctl_simple(opts, "chargers", &o) == -1)
		return 1;
	if (opts->json) {
		ctl_print_json(o);
		json_object_put(o);
		return 0;
	}
	list = ctl_obj(o, "chargers");
	pool = ctl_obj(o, "pool");
	n = list != NULL ? json_object_array_length(list) : 0;
	t = ctl_table_new(10, hdr);
	for (i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(list, i);
		char lease[48], conns[24], up[32], down[32], id[80], addr[64];
		const char *a = ctl_str(c, "address");

		if (ctl_str(c, "lease") != NULL &&
		    strcmp(ctl_str(c, "lease"), "active") == 0)
			active++;
		/* A name the device gave itself, not a reservation's: mark
		 * it, it proves nothing. */
		snprintf(id, sizeof(id), "%s%s", ctl_str(c, "id") ?
		    ctl_str(c, "id") : "-",
		    json_object_get_boolean(ctl_obj(c, "reserved")) ||
		    ctl_str(c, "id") == NULL ? "" : " (unreserved)");
		if (a == NULL && ctl_str(c, "reserved_address") != NULL)
			snprintf(addr, sizeof(addr), "(%s)",
			    ctl_str(c, "reserved_address"));
		else
			snprintf(addr, sizeof(addr), "%s", a ? a : "-");
		snprintf(conns, sizeof(conns), "%lld",
		    (long long)ctl_int(c, "connections"));
		ctl_table_row(t, id, ctl_str(c, "mac"), addr,
		    lease_cell(c, lease, sizeof(lease)),
		    ctl_str(c, "last_seen"), ctl_str(c, "online_since"),
		    ctl_str(c, "offline_since"), conns,
		    ctl_bytes((uint64_t)ctl_int(c, "bytes_up"), up, sizeof(up)),
		    ctl_bytes((uint64_t)ctl_int(c, "bytes_down"), down,
		    sizeof(down)));
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	if (json_object_get_boolean(ctl_obj(o, "dhcp")))
		printf("%zu charger%s, %zu with a lease; pool %lld of %lld "
		    "addresses in use; %lld DHCP requests refused\n", n,
		    n == 1 ? "" : "s", active,
		    (long long)ctl_int(pool, "in_use"),
		    (long long)ctl_int(pool, "size"),
		    (long long)ctl_int(o, "refusals"));
	else
		printf("%zu charger%s (DHCP is off: no dhcp section)\n", n,
		    n == 1 ? "" : "s");
	refused_macs(ctl_obj(o, "refused_macs"));
	json_object_put(o);
	return 0;
}

void
ctl_site_status(struct json_object *o)
{
	struct json_object *dm = ctl_obj(o, "dnsmasq"), *dh = ctl_obj(o, "dhcp");
	char b[32];

	if (json_object_get_boolean(ctl_obj(dh, "standby"))) {
		printf("%-14soff: this box is the pair's %s (the lease table "
		    "stays, %lld known MACs)\n", "dnsmasq", ctl_str(o, "role") ?
		    ctl_str(o, "role") : "backup", (long long)ctl_int(dh,
		    "known_macs"));
	} else if (dm == NULL || !json_object_get_boolean(ctl_obj(dm,
	    "enabled"))) {
		printf("%-14soff (no lan section)\n", "dnsmasq");
		return;
	} else if (json_object_get_boolean(ctl_obj(dm, "running")))
		printf("%-14srunning, pid %lld, up since %s; %lld restarts, "
		    "%lld reservation reloads\n", "dnsmasq",
		    (long long)ctl_int(dm, "pid"), ctl_str(dm, "up_since"),
		    (long long)ctl_int(dm, "restarts"),
		    (long long)ctl_int(dm, "reservation_reloads"));
	else if (ctl_obj(dm, "next_start_in_s") != NULL)
		printf("%-14sNOT RUNNING, next start in %s\n", "dnsmasq",
		    ctl_duration((double)ctl_int(dm, "next_start_in_s"), b,
		    sizeof(b)));
	else
		printf("%-14s%s\n", "dnsmasq", ctl_str(dm, "state"));
	if (ctl_str(dm, "last_error") != NULL)
		printf("%-14slast error: %s\n", "", ctl_str(dm, "last_error"));
	if (dh != NULL && json_object_get_boolean(ctl_obj(dh, "enabled")))
		printf("%-14s%lld leases, pool %lld (%.0f%% used), %lld "
		    "reservations, %lld requests refused, %lld events "
		    "rejected\n", "dhcp", (long long)ctl_int(dh, "leases"),
		    (long long)ctl_int(dh, "pool_size"),
		    json_object_get_double(ctl_obj(dh, "pool_use_pct")),
		    (long long)ctl_int(dh, "reservations"),
		    (long long)ctl_int(dh, "refusals"),
		    (long long)ctl_int(dh, "lease_events_rejected"));
}

/* Does the chargers reply's entry c stand for who (id, MAC, address)? */
static int
is_who(struct json_object *c, const char *who)
{
	return (ctl_str(c, "id") != NULL && strcasecmp(ctl_str(c, "id"),
	    who) == 0) || (ctl_str(c, "mac") != NULL &&
	    strcasecmp(ctl_str(c, "mac"), who) == 0) ||
	    (ctl_str(c, "address") != NULL && strcmp(ctl_str(c, "address"),
	    who) == 0);
}

/*
 * evgatectl charger ID: why is this charger offline?  Its lease and
 * sightings, its live connections and since when it is online, and from
 * the fleet log its last DHCP event, its last connection closes with
 * their reasons and its refusals.
 */
int
ctl_cmd_charger(const struct ctl_opts *opts, int argc, char **argv)
{
	struct json_object *o, *conns = NULL, *list, *c = NULL, *l;
	const char *who, *name;
	char b1[32], b2[32], since[40];
	double oldest = -1;
	size_t i, n;
	int live = 0, rv;

	if (argc != 2) {
		fprintf(stderr, "usage: evgatectl charger ID|MAC|ADDRESS\n");
		return 2;
	}
	who = argv[1];
	if (ctl_simple(opts, "chargers", &o) == -1)
		return 1;
	list = ctl_obj(o, "chargers");
	n = list != NULL ? json_object_array_length(list) : 0;
	for (i = 0; i < n && c == NULL; i++)
		if (is_who(json_object_array_get_idx(list, i), who))
			c = json_object_array_get_idx(list, i);
	if (c == NULL) {
		fprintf(stderr, "evgatectl: no charger \"%s\": not a "
		    "reservation or lease the gateway knows (evgatectl "
		    "chargers lists them)\n", who);
		json_object_put(o);
		return 1;
	}
	if (opts->json) {
		ctl_print_json(c);
		json_object_put(o);
		return 0;
	}
	name = ctl_str(c, "id") ? ctl_str(c, "id") : ctl_str(c, "mac");
	printf("%-14s%s%s\n", "charger", name,
	    json_object_get_boolean(ctl_obj(c, "reserved")) ? "" :
	    " (unreserved)");
	printf("%-14s%s\n", "mac", ctl_str(c, "mac"));
	printf("%-14s%s %s%s%s\n", "lease", ctl_str(c, "lease"),
	    ctl_str(c, "address") ? ctl_str(c, "address") : "-",
	    ctl_str(c, "expires") ? ", expires " : "",
	    ctl_str(c, "expires") ? ctl_str(c, "expires") : "");
	printf("%-14sfirst %s, last %s\n", "seen",
	    ctl_str(c, "first_seen") ? ctl_str(c, "first_seen") : "never",
	    ctl_str(c, "last_seen") ? ctl_str(c, "last_seen") : "never");
	if (ctl_simple(opts, "connections", &conns) == 0) {
		l = ctl_obj(conns, "connections");
		n = l != NULL ? json_object_array_length(l) : 0;
		for (i = 0; i < n; i++) {
			struct json_object *x = json_object_array_get_idx(l, i);
			double d = json_object_get_double(ctl_obj(x,
			    "duration_s"));

			if (ctl_str(x, "charger") == NULL ||
			    strcasecmp(ctl_str(x, "charger"), name) != 0)
				continue;
			printf("%-14sport %lld %s %s, %s, up %s, down %s\n",
			    live++ ? "" : "connections",
			    (long long)ctl_int(x, "port"),
			    ctl_str(x, "sni") ? ctl_str(x, "sni") : "-",
			    ctl_str(x, "state"), ctl_duration(d, b1,
			    sizeof(b1)), ctl_bytes((uint64_t)ctl_int(x,
			    "bytes_up"), b2, sizeof(b2)),
			    ctl_bytes((uint64_t)ctl_int(x, "bytes_down"), b1,
			    sizeof(b1)));
			if (ctl_int(x, "port") == 8883 && d > oldest)
				oldest = d;
		}
	}
	if (live == 0)
		printf("%-14snone\n", "connections");
	if (oldest >= 0)
		printf("%-14s%s\n", "online since", format_utc_s(now_wall_ms() -
		    (uint64_t)(oldest * 1000), since, sizeof(since)));
	rv = ctl_charger_history(opts, name, oldest >= 0);
	json_object_put(conns);
	json_object_put(o);
	return rv == 0 ? 0 : 1;
}
