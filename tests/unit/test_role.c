/*
 * Tests for role.c: what each role's view of a configuration gives the
 * modules (a backup's relay without listeners but with its routes, its
 * NTP client without the server, its site standing by), and the health
 * verdict keepalived's track script gets from a daemon's status.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include <json-c/json.h>

#include "daemon/config.h"
#include "daemon/role.h"
#include "relay/relay_conf.h"
#include "site/lan.h"
#include "time/ntp.h"

static const char text[] =
    "wan: {resolvers: [192.0.2.53]}\n"
    "lan: {interface: plc0, address: 10.42.0.1/24}\n"
    "relay:\n"
    "  listen: 10.42.0.1\n"
    "  routes: [{port: 8883, allow: [hub.example]}]\n"
    "  transparent: {port: 8443}\n"
    "ntp: {servers: [pool.example]}\n";

static struct config *
conf(void)
{
	char err[512];
	struct config *c = config_load_buffer("r.yaml", (const uint8_t *)text,
	    sizeof(text) - 1, err, sizeof(err));

	if (c == NULL)
		fail_msg("%s", err);
	return c;
}

static void
test_views(void **state)
{
	struct config *c = conf(), *v;
	struct site_conf sc;

	assert_true(c->relay->nlisten > 0);
	assert_true(c->ntp->serve);
	/* master and single: the configuration as it is */
	v = role_view_new(c, PAIR_ROLE_MASTER);
	assert_ptr_equal(v->relay, c->relay);
	assert_ptr_equal(v->ntp, c->ntp);
	assert_false(v->standby);
	role_view_free(v);
	v = role_view_new(c, PAIR_ROLE_SINGLE);
	assert_ptr_equal(v->relay, c->relay);
	role_view_free(v);
	/* backup and fault: no listeners, no server, the site stands by */
	v = role_view_new(c, PAIR_ROLE_BACKUP);
	assert_ptr_not_equal(v->relay, c->relay);
	assert_int_equal(v->relay->nlisten, 0);
	assert_int_equal(v->relay->transparent_port, 0);
	/* the same routes: live connections stay allowed */
	assert_ptr_equal(v->relay->routes, c->relay->routes);
	assert_int_equal(v->relay->nroutes, c->relay->nroutes);
	assert_false(v->ntp->serve);
	assert_int_equal(v->ntp->nlisten, 0);
	assert_ptr_equal(v->ntp->servers, c->ntp->servers);
	assert_true(v->standby);
	config_site(v, &sc);
	assert_true(sc.standby);
	assert_ptr_equal(sc.lan, c->lan);
	/* the base is untouched */
	assert_true(c->relay->nlisten > 0);
	assert_true(c->ntp->serve);
	role_view_free(v);
	v = role_view_new(c, PAIR_ROLE_FAULT);
	assert_true(v->standby);
	role_view_free(v);
	config_free(c);
	assert_true(role_serves(PAIR_ROLE_MASTER));
	assert_false(role_serves(PAIR_ROLE_FAULT));
}

/* A status as evgated gives it, reduced to what health reads. */
static struct json_object *
status(const char *state, long listeners, const char *dnsmasq,
    const char *error)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "{\"state\":\"%s\",\"relay\":{\"enabled\":"
	    "true,\"listeners\":%ld},\"dnsmasq\":{\"enabled\":true,\"state\":"
	    "\"%s\"%s%s%s}}", state, listeners, dnsmasq, error ?
	    ",\"last_error\":\"" : "", error ? error : "", error ? "\"" : "");
	return json_tokener_parse(buf);
}

static int
healthy(struct json_object *st, enum pair_role r, int vip, uint64_t ms,
    const char *failing)
{
	struct json_object *h = role_health(st, r, vip, ms), *v, *list, *c;
	int ok;
	size_t i;

	json_object_object_get_ex(h, "healthy", &v);
	ok = json_object_get_boolean(v);
	json_object_object_get_ex(h, "checks", &list);
	for (i = 0; failing != NULL && i < json_object_array_length(list);
	    i++) {
		c = json_object_array_get_idx(list, i);
		json_object_object_get_ex(c, "ok", &v);
		if (json_object_get_boolean(v))
			continue;
		json_object_object_get_ex(c, "name", &v);
		assert_string_equal(json_object_get_string(v), failing);
	}
	json_object_put(h);
	json_object_put(st);
	return ok;
}

static void
test_health(void **state)
{
	/* a serving box with everything up */
	assert_true(healthy(status("running", 2, "running", NULL),
	    PAIR_ROLE_MASTER, 1, 0, NULL));
	assert_true(healthy(status("running", 2, "running", NULL),
	    PAIR_ROLE_SINGLE, -1, 0, NULL));
	/* draining: not any more */
	assert_false(healthy(status("draining", 2, "running", NULL),
	    PAIR_ROLE_MASTER, 1, 0, "daemon"));
	/* a master whose relay has no listener, whose dnsmasq crashes */
	assert_false(healthy(status("running", 0, "running", NULL),
	    PAIR_ROLE_MASTER, 1, 0, "relay"));
	assert_false(healthy(status("running", 2, "waiting",
	    "dnsmasq exit 2"), PAIR_ROLE_MASTER, 1, 0, "dnsmasq"));
	/* a backup serves nothing on purpose: healthy */
	assert_true(healthy(status("running", 0, "off", NULL),
	    PAIR_ROLE_BACKUP, 0, 0, NULL));
	/* ... unless it holds the virtual address for longer than a
	 * notify takes: the chargers would reach a box serving nothing */
	assert_true(healthy(status("running", 0, "off", NULL),
	    PAIR_ROLE_BACKUP, 1, 1000, NULL));
	assert_false(healthy(status("running", 0, "off", NULL),
	    PAIR_ROLE_BACKUP, 1, ROLE_MISMATCH_GRACE_MS, "role"));
	assert_false(healthy(status("running", 0, "off", NULL),
	    PAIR_ROLE_FAULT, 1, 60000, "role"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_views),
		cmocka_unit_test(test_health),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
