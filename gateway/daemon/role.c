/*
 * role: the role views, the warm cache and the health verdict of a
 * pair's box (see role.h).
 */
#include "evgate_config.h"

#include <sys/types.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/config.h"
#include "daemon/role.h"
#include "relay/relay_conf.h"
#include "relay/resolver.h"
#include "time/ntp.h"

/* --- views ----------------------------------------------------------- */

struct role_view {
	struct config	 conf;		/* first: what the modules get */
	struct cfg_relay *relay;	/* copies of base's, or NULL */
	struct cfg_ntp	*ntp;
};

int
role_serves(enum pair_role r)
{
	return r == PAIR_ROLE_SINGLE || r == PAIR_ROLE_MASTER;
}

struct config *
role_view_new(const struct config *base, enum pair_role r)
{
	struct role_view *v = xcalloc(1, sizeof(*v));

	v->conf = *base;
	if (role_serves(r))
		return &v->conf;
	v->conf.standby = 1;
	if (base->relay != NULL) {
		/* The same routes (live connections stay allowed), no
		 * listeners. */
		v->relay = xmalloc(sizeof(*v->relay));
		*v->relay = *base->relay;
		v->relay->nlisten = 0;
		v->relay->transparent_port = 0;
		v->conf.relay = v->relay;
	}
	if (base->ntp != NULL) {
		/* The upstream client goes on; the server is off. */
		v->ntp = xmalloc(sizeof(*v->ntp));
		*v->ntp = *base->ntp;
		v->ntp->serve = 0;
		v->ntp->nlisten = 0;
		v->conf.ntp = v->ntp;
	}
	return &v->conf;
}

void
role_view_free(struct config *conf)
{
	struct role_view *v = (struct role_view *)conf;

	if (v == NULL)
		return;
	free(v->relay);
	free(v->ntp);
	free(v);
}

int
role_vip_held(const char *ifname, struct in_addr addr)
{
	struct ifaddrs *ifa, *i;
	int held = 0;

	if (getifaddrs(&ifa) == -1)
		return -1;
	for (i = ifa; i != NULL; i = i->ifa_next)
		if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET &&
		    strcmp(i->ifa_name, ifname) == 0 &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
		    addr.s_addr)
			held = 1;
	freeifaddrs(ifa);
	return held;
}

/* --- the warm cache ---------------------------------------------------- */

struct warm {
	struct event_base	*base;
	struct resolver		*res;
	struct event		*timer;
	char			**names;
	size_t			 nnames;
	int			 on;
	unsigned long		 rounds;
	unsigned long		 queries;
	uint64_t		 last_wall_ms;
};

static void
warm_cb(evutil_socket_t fd, short what, void *arg)
{
	struct warm *w = arg;
	struct timeval tv = { WARM_INTERVAL_MS / 1000,
	    (WARM_INTERVAL_MS % 1000) * 1000 };
	size_t i;

	if (!w->on)
		return;
	for (i = 0; i < w->nnames; i++)
		w->queries += (unsigned long)resolver_prefetch(w->res,
		    w->names[i], WARM_MARGIN_MS);
	w->rounds++;
	w->last_wall_ms = now_wall_ms();
	evtimer_add(w->timer, &tv);
}

struct warm *
warm_new(struct event_base *base, struct resolver *res)
{
	struct warm *w = xcalloc(1, sizeof(*w));

	w->base = base;
	w->res = res;
	w->timer = evtimer_new(base, warm_cb, w);
	return w;
}

static void
warm_clear(struct warm *w)
{
	cfg_strlist_free(w->names, w->nnames);
	w->names = NULL;
	w->nnames = 0;
}

static void
warm_add(struct warm *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->nnames; i++)
		if (strcasecmp(w->names[i], name) == 0)
			return;
	w->names = xreallocarray(w->names, w->nnames + 1, sizeof(*w->names));
	w->names[w->nnames++] = xstrdup(name);
}

void
warm_set(struct warm *w, const struct config *base, int on)
{
	struct timeval now = { 0, 0 };
	size_t i, j;

	warm_clear(w);
	evtimer_del(w->timer);
	w->on = on;
	if (!on)
		return;
	for (i = 0; base->relay != NULL && i < base->relay->nroutes; i++)
		for (j = 0; j < base->relay->routes[i].nallow; j++)
			if (strncmp(base->relay->routes[i].allow[j], "*.", 2) !=
			    0)
				warm_add(w, base->relay->routes[i].allow[j]);
	for (i = 0; base->ntp != NULL && i < base->ntp->nservers; i++)
		if (base->ntp->servers[i].name != NULL)
			warm_add(w, base->ntp->servers[i].name);
	evtimer_add(w->timer, &now);
}

void
warm_free(struct warm *w)
{
	if (w == NULL)
		return;
	warm_clear(w);
	event_free(w->timer);
	free(w);
}

struct json_object *
warm_status(const struct warm *w)
{
	struct json_object *o = json_object_new_object();
	char buf[40];

	json_object_object_add(o, "on", json_object_new_boolean(w->on));
	json_object_object_add(o, "names", json_object_new_int64(
	    (int64_t)w->nnames));
	json_object_object_add(o, "rounds", json_object_new_int64(
	    (int64_t)w->rounds));
	json_object_object_add(o, "queries", json_object_new_int64(
	    (int64_t)w->queries));
	json_object_object_add(o, "last", w->last_wall_ms ?
	    json_object_new_string(format_utc_s(w->last_wall_ms, buf,
	    sizeof(buf))) : NULL);
	return o;
}

/* --- health -------------------------------------------------------------- */

static struct json_object *
member(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (o != NULL)
		json_object_object_get_ex(o, key, &v);
	return v;
}

static const char *
member_str(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);

	return v != NULL && json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

static void
check(struct json_object *list, int *healthy, const char *name, int ok,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
check(struct json_object *list, int *healthy, const char *name, int ok,
    const char *fmt, ...)
{
	struct json_object *c = json_object_new_object();
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	json_object_object_add(c, "name", json_object_new_string(name));
	json_object_object_add(c, "ok", json_object_new_boolean(ok));
	json_object_object_add(c, "detail", json_object_new_string(detail));
	json_object_array_add(list, c);
	if (!ok)
		*healthy = 0;
}

struct json_object *
role_health(struct json_object *st, enum pair_role role, int vip,
    uint64_t mismatch_ms)
{
	struct json_object *o = json_object_new_object(), *list, *r, *dm;
	const char *s;
	int healthy = 1, serves = role_serves(role);

	list = json_object_new_array();
	s = member_str(st, "state");
	check(list, &healthy, "daemon", s != NULL && strcmp(s, "running") == 0,
	    "evgated %s", s != NULL ? s : "in an unknown state");
	if (role != PAIR_ROLE_SINGLE) {
		if (serves)
			check(list, &healthy, "role", 1, "master%s", vip == 1 ?
			    ", holding the virtual address" : vip == 0 ?
			    " (the virtual address is not on the LAN "
			    "interface yet)" : "");
		else
			check(list, &healthy, "role", vip != 1 ||
			    mismatch_ms < ROLE_MISMATCH_GRACE_MS, "%s%s",
			    pair_role_str(role), vip == 1 ? mismatch_ms <
			    ROLE_MISMATCH_GRACE_MS ? ", the virtual address "
			    "arrived (a notify is on its way?)" : ", but the "
			    "virtual address is on this box: the chargers "
			    "reach a box that serves nothing (keepalived's "
			    "notify did not reach evgated?)" :
			    ", serving nothing");
	}
	r = member(st, "relay");
	if (serves && json_object_get_boolean(member(r, "enabled")))
		check(list, &healthy, "relay", json_object_get_int64(
		    member(r, "listeners")) > 0, "%lld listeners",
		    (long long)json_object_get_int64(member(r, "listeners")));
	dm = member(st, "dnsmasq");
	if (serves && json_object_get_boolean(member(dm, "enabled"))) {
		s = member_str(dm, "state");
		check(list, &healthy, "dnsmasq", s != NULL &&
		    (strcmp(s, "running") == 0 || strcmp(s, "stopping") == 0),
		    "%s%s%s", s != NULL ? s : "?", member_str(dm,
		    "last_error") != NULL ? ": " : "", member_str(dm,
		    "last_error") != NULL ? member_str(dm, "last_error") : "");
	}
	json_object_object_add(o, "healthy", json_object_new_boolean(healthy));
	json_object_object_add(o, "role", json_object_new_string(
	    pair_role_str(role)));
	json_object_object_add(o, "checks", list);
	return o;
}
