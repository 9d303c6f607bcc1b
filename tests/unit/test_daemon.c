/*
 * Unit tests for the daemon as a whole (daemon.c, module.c): a complete
 * evgated in-process, without root, on loopback and a temporary
 * directory.  The point is the reload: a configuration that any one
 * module refuses leaves the old one running whole -- every module's
 * sockets, directories and settings as they were -- and a later good
 * reload still works.  Each module is made to refuse for real (a port
 * taken, a path that cannot be made, a file that is not a cursor, a
 * dnsmasq that is not there) and, to reach every abort path, by a
 * failure injected right after each module's own prepare succeeded.
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/config.h"
#include "daemon/evgated.h"
#include "testutil.h"

/* One configuration's worth of places, so that two can be told apart. */
struct site {
	char		 sock[160];	/* control socket */
	char		 log[160];	/* fleet log directory */
	uint16_t	 relay;		/* relay route port */
	uint16_t	 ntp;		/* NTP server port (UDP) */
	uint16_t	 metrics;
	uint16_t	 dns;		/* the resolver (nobody answers) */
	const char	*lan;		/* a lan section, or "" */
};

struct fx {
	char		 dir[64];
	struct event_base *base;
	struct evgated	*d;
	struct site	 a, b;		/* in force; offered */
};

static uint16_t
free_port(int type)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, type, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* Hold a port as someone else would; the descriptor. */
static int
hold_port(int type, uint16_t port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, type, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 1), 0);
	return fd;
}

static void
site_init(struct fx *fx, struct site *s, const char *tag)
{
	snprintf(s->sock, sizeof(s->sock), "%s/%s/ctl.sock", fx->dir, tag);
	snprintf(s->log, sizeof(s->log), "%s/%s/log", fx->dir, tag);
	s->relay = free_port(SOCK_STREAM);
	s->ntp = free_port(SOCK_DGRAM);
	s->metrics = free_port(SOCK_STREAM);
	s->dns = free_port(SOCK_DGRAM);
	s->lan = "";
}

static struct config *
make_conf(struct fx *fx, const struct site *s)
{
	char text[4096], err[512];
	struct config *c;

	snprintf(text, sizeof(text),
	    "site: {name: unit}\n"
	    "wan: {resolvers: [\"127.0.0.1:%u\"]}\n"
	    "control: {socket: %s}\n"
	    "log: {dir: %s}\n"
	    "relay:\n"
	    "  listen: [127.0.0.1]\n"
	    "  routes: [{port: %u, allow: [zapcloud.azure-devices.net]}]\n"
	    "ntp:\n"
	    "  servers: [\"127.0.0.1:%u\"]\n"
	    "  listen: [\"127.0.0.1:%u\"]\n"
	    "metrics: {listen: \"127.0.0.1:%u\"}\n"
	    "ship: {url: \"https://127.0.0.1:%u/\", interval: 1h}\n"
	    "%s",
	    s->dns, s->sock, s->log, s->relay, s->dns, s->ntp, s->metrics,
	    s->metrics, s->lan);
	if ((c = config_load_buffer("unit.yaml", (const uint8_t *)text,
	    strlen(text), err, sizeof(err))) == NULL)
		fail_msg("config: %s", err);
	return c;
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[1024];

	if (test_tmpdir(fx->dir, sizeof(fx->dir), "evgate-daemon") == -1)
		return -1;
	site_init(fx, &fx->a, "a");
	site_init(fx, &fx->b, "b");
	fx->base = event_base_new();
	fx->d = evgated_new(fx->base, "unit.yaml", make_conf(fx, &fx->a), 1000,
	    err, sizeof(err));
	if (fx->d == NULL)
		fail_msg("evgated_new: %s", err);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	evgated_free(fx->d);
	event_base_free(fx->base);
	test_rmtree(fx->dir);
	free(fx);
	return 0;
}

/* --- what is in force ------------------------------------------------ */

static int
tcp_open(uint16_t port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), rv;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rv = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return rv == 0;
}

static int
udp_bound(uint16_t port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rv;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rv = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return rv == -1 && errno == EADDRINUSE;
}

/*
 * Whether this process (evgated runs in it) holds a socket of type on
 * 127.0.0.1:port, listening when a stream.  Asking our own descriptors,
 * not the port: a port picked by bind(0) and closed may be anyone's
 * next (another test of a parallel make check listened on one and a
 * connect to it succeeded).
 */
static int
ours(int type, uint16_t port)
{
	struct sockaddr_in sin;
	socklen_t len;
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int fd, t, acc, found = 0;

	assert_non_null(d);
	while (!found && (de = readdir(d)) != NULL) {
		if ((fd = atoi(de->d_name)) <= 2 || fd == dirfd(d))
			continue;
		len = sizeof(sin);
		if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1 ||
		    sin.sin_family != AF_INET || ntohs(sin.sin_port) != port)
			continue;
		len = sizeof(t);
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &len) == -1 ||
		    t != type)
			continue;
		len = sizeof(acc);
		if (type == SOCK_STREAM &&
		    (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) ==
		    -1 || !acc))
			continue;
		found = 1;
	}
	closedir(d);
	return found;
}

static int
unix_open(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), rv;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	rv = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rv == 0;
}

static const char *
status_str(struct json_object *st, const char *sect, const char *key)
{
	struct json_object *s, *v;

	if (!json_object_object_get_ex(st, sect, &s) ||
	    !json_object_object_get_ex(s, key, &v))
		return "";
	return json_object_get_string(v);
}

/* Every module runs as site s says, and as site t does not. */
static void
check_in_force(struct fx *fx, const struct site *s, const struct site *t)
{
	struct json_object *st = evgated_status(fx->d);
	char url[64];

	assert_true(unix_open(s->sock));
	assert_false(unix_open(t->sock));
	assert_true(tcp_open(s->relay));
	assert_true(ours(SOCK_STREAM, s->relay));
	assert_false(ours(SOCK_STREAM, t->relay));
	assert_true(tcp_open(s->metrics));
	assert_true(ours(SOCK_STREAM, s->metrics));
	assert_false(ours(SOCK_STREAM, t->metrics));
	assert_true(udp_bound(s->ntp));
	assert_true(ours(SOCK_DGRAM, s->ntp));
	assert_false(ours(SOCK_DGRAM, t->ntp));
	assert_string_equal(status_str(st, "log", "dir"), s->log);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/", s->metrics);
	assert_string_equal(status_str(st, "ship", "url"), url);
	assert_string_equal(status_str(st, "dnsmasq", "enabled"),
	    s->lan[0] ? "true" : "false");
	json_object_put(st);
}

/*
 * Offer site b with the failure the test arranged; it must be refused,
 * with want in the message.  held: a port the test held to make it fail,
 * let go before looking (or -1).
 */
static void
refused_held(struct fx *fx, const char *want, int held)
{
	char err[1024];
	unsigned long failures = fx->d->reload_failures;

	assert_int_equal(evgated_apply(fx->d, make_conf(fx, &fx->b), err,
	    sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" does not say \"%s\"", err, want);
	assert_int_equal(fx->d->reload_failures, failures + 1);
	if (held != -1)
		close(held);
	check_in_force(fx, &fx->a, &fx->b);
}

static void
refused(struct fx *fx, const char *want)
{
	refused_held(fx, want, -1);
}

/* And then b, the failure gone, is taken whole. */
static void
accepted(struct fx *fx)
{
	char err[1024];

	if (evgated_apply(fx->d, make_conf(fx, &fx->b), err, sizeof(err)) ==
	    -1)
		fail_msg("apply: %s", err);
	check_in_force(fx, &fx->b, &fx->a);
}

/* --- tests ----------------------------------------------------------- */

static void
test_reload_whole(void **state)
{
	struct fx *fx = *state;

	check_in_force(fx, &fx->a, &fx->b);
	accepted(fx);
}

static void
test_control_refuses(void **state)
{
	struct fx *fx = *state;
	char path[160];
	int fd;

	/* the socket's directory cannot be made: a file is in the way */
	snprintf(path, sizeof(path), "%s/b", fx->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	refused(fx, "control:");
	unlink(path);
	accepted(fx);
}

static void
test_fleetlog_refuses(void **state)
{
	struct fx *fx = *state;

	snprintf(fx->b.log, sizeof(fx->b.log), "%s/a/ctl.sock/log", fx->dir);
	refused(fx, "a/ctl.sock");
	snprintf(fx->b.log, sizeof(fx->b.log), "%s/b/log", fx->dir);
	accepted(fx);
}

static void
test_ship_refuses(void **state)
{
	struct fx *fx = *state;
	char path[200], err[256];
	FILE *fp;


	if (mkdir_p(fx->b.log, 0750, (uid_t)-1, 0, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	snprintf(path, sizeof(path), "%s/ship.cursor", fx->b.log);
	fp = fopen(path, "w");
	fputs("garbage\n", fp);
	fclose(fp);
	refused(fx, "not a cursor file");
	unlink(path);
	accepted(fx);
}

static void
test_metrics_refuses(void **state)
{
	struct fx *fx = *state;
	refused_held(fx, "metrics: cannot listen",
	    hold_port(SOCK_STREAM, fx->b.metrics));
	accepted(fx);
}

static void
test_site_refuses(void **state)
{
	struct fx *fx = *state;

	fx->b.lan =
	    "lan: {interface: evgt0, address: 10.42.0.1/24}\n"
	    "dnsmasq: {binary: /nonexistent/dnsmasq, user: nobody}\n";
	refused(fx, "dnsmasq.binary");
}

static void
test_ntp_refuses(void **state)
{
	struct fx *fx = *state;
	refused_held(fx, "127.0.0.1", hold_port(SOCK_DGRAM, fx->b.ntp));
	accepted(fx);
}

static void
test_relay_refuses(void **state)
{
	struct fx *fx = *state;
	refused_held(fx, "cannot listen on 127.0.0.1",
	    hold_port(SOCK_STREAM, fx->b.relay));
	accepted(fx);
}

/*
 * A failure right after one module's prepare succeeded: that module and
 * every one before it must abort cleanly.  Run for each position.
 */
static int (*real_prepare)(void *, const struct config *, char *, size_t);

static int
prepare_then_fail(void *self, const struct config *c, char *err, size_t len)
{
	if (real_prepare(self, c, err, len) == -1)
		return -1;
	snprintf(err, len, "injected failure");
	return -1;
}

static void
test_each_module_aborts(void **state)
{
	struct fx *fx = *state;
	struct module *m;
	size_t i;

	for (i = 0; i < EVGATED_NMODULES; i++) {
		m = &fx->d->mods[i];
		real_prepare = m->prepare;
		m->prepare = prepare_then_fail;
		refused(fx, "injected failure");
		m->prepare = real_prepare;
	}
	accepted(fx);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_reload_whole),
		T(test_control_refuses),
		T(test_fleetlog_refuses),
		T(test_ship_refuses),
		T(test_metrics_refuses),
		T(test_site_refuses),
		T(test_ntp_refuses),
		T(test_relay_refuses),
		T(test_each_module_aborts),
	};
#undef T

	signal(SIGPIPE, SIG_IGN);
	log_init("test", 1, LOG_LEVEL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
