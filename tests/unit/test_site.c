/*
 * Tests for site.c, the site services as a module of evgated: status and
 * the chargers command without a lan section; prepare's refusals, each
 * naming its key, leaving nothing changed after abort (from a site that is
 * off and from one that runs); prepare, abort and commit of a lan
 * section; and the relay's view through the lease table (the namer, the
 * per-charger accounting) with leases reported over the lease socket by a
 * real client in another process, as dnsmasq's hook does.
 *
 * No root needed, nothing real started: dnsmasq.binary is a shell script
 * in the test's directory that only waits (and ends by itself when the
 * test process is gone), and the hook is never run.  The site stops it,
 * and every test's teardown frees the site, also after a failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/ctl.h"
#include "common/util.h"
#include "daemon/config.h"
#include "relay/relay.h"
#include "site/lan.h"
#include "site/site.h"
#include "testutil.h"

#define WAIT_MS		10000	/* deadline of every wait */
#define MAX_CONFS	8

/*
 * A stand-in for dnsmasq: says what dnsmasq says when something failed (on
 * stderr), then when it ignores a MAC (on stdout: both reach evgated
 * through one pipe, in this order), then waits while the process that
 * started it lives.
 */
static const char fake_dnsmasq[] =
    "#!/bin/sh\n"
    "echo \"dnsmasq: failed to do what a stand-in cannot\" >&2\n"
    "echo \"dnsmasq-dhcp[$$]: DHCPDISCOVER(plc0) 02:42:00:00:00:77 "
    "ignored\"\n"
    "while kill -0 $PPID 2>/dev/null; do\n"
    "\tsleep 0.1\n"
    "done\n";

struct fx {
	char			 dir[64];
	struct event_base	*base;
	struct site		*site;
	struct config		*conf[MAX_CONFS]; /* freed after the site */
	size_t			 nconf;
	pid_t			 pid;		/* dnsmasq's, to look at */
};

static void
write_text(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char path[128];

	if (fx == NULL || test_tmpdir(fx->dir, sizeof(fx->dir), "evg-site") ==
	    -1)
		return -1;
	*state = fx;
	snprintf(path, sizeof(path), "%s/bin", fx->dir);
	if (mkdir(path, 0755) == -1)
		return -1;
	snprintf(path, sizeof(path), "%s/bin/dnsmasq", fx->dir);
	write_text(path, fake_dnsmasq, 0755);
	snprintf(path, sizeof(path), "%s/bin/hook", fx->dir);
	write_text(path, "#!/bin/sh\nexit 0\n", 0755);
	snprintf(path, sizeof(path), "%s/bin/not-executable", fx->dir);
	write_text(path, fake_dnsmasq, 0644);
	snprintf(path, sizeof(path), "%s/a-file", fx->dir);
	write_text(path, "not a directory\n", 0644);
	fx->base = event_base_new();
	fx->site = site_new(fx->base, NULL);
	return fx->base != NULL && fx->site != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	size_t i;

	/* Stops the stand-in dnsmasq (SIGTERM, then waits for it). */
	site_free(fx->site);
	for (i = 0; i < fx->nconf; i++)
		config_free(fx->conf[i]);
	if (fx->base != NULL)
		event_base_free(fx->base);
	test_rmtree(fx->dir);
	free(fx);
	return 0;
}

/* --- configurations ---------------------------------------------------- */

static struct config *
load(struct fx *fx, const char *text)
{
	struct config *c;
	char err[512];

	c = config_load_buffer("t.yaml", (const uint8_t *)text, strlen(text),
	    err, sizeof(err));
	if (c == NULL)
		fail_msg("%s", err);
	assert_true(fx->nconf < MAX_CONFS);
	fx->conf[fx->nconf++] = c;
	return c;
}

/*
 * A lan, dhcp and dnsmasq configuration; each dnsmasq key NULL takes its
 * usable value under the test's directory ("@" stands for it).
 */
static struct config *
lan_conf(struct fx *fx, const char *binary, const char *user,
    const char *state_dir, const char *run_dir, const char *hook)
{
	char text[2048], b[5][160];
	const char *v[5] = { binary, user, state_dir, run_dir, hook };
	const char *def[5] = { "@/bin/dnsmasq", "nobody", "@/state", "@/run",
	    "@/bin/hook" };
	size_t i, o;
	const char *s;

	for (i = 0; i < 5; i++) {
		s = v[i] != NULL ? v[i] : def[i];
		for (o = 0; *s != '\0' && o + 64 < sizeof(b[i]); s++) {
			if (*s == '@')
				o += (size_t)snprintf(b[i] + o,
				    sizeof(b[i]) - o, "%s", fx->dir);
			else
				b[i][o++] = *s;
		}
		b[i][o] = '\0';
	}
	snprintf(text, sizeof(text),
	    "lan: {interface: plc0, address: 10.42.0.1/24}\n"
	    "dhcp:\n"
	    "  range: 10.42.0.10-10.42.0.19\n"
	    "  known_only: false\n"
	    "  chargers:\n"
	    "    - {id: ZAP000101, mac: \"02:42:00:00:00:01\", "
	    "address: 10.42.0.21}\n"
	    "    - {id: ZAP000102, mac: \"02:42:00:00:00:02\"}\n"
	    "dnsmasq:\n"
	    "  binary: %s\n"
	    "  user: %s\n"
	    "  state_dir: %s\n"
	    "  run_dir: %s\n"
	    "  hook: %s\n", b[0], b[1], b[2], b[3], b[4]);
	return load(fx, text);
}

static const struct site_conf *
SC(const struct config *c)
{
	static struct site_conf v[4];
	static unsigned i;
	struct site_conf *sc = &v[i++ % 4];

	config_site(c, sc);
	return sc;
}

static int
prepare(struct fx *fx, const struct config *c, char *err, size_t errlen)
{
	err[0] = '\0';
	return site_prepare(fx->site, SC(c), err, errlen);
}

static void
apply(struct fx *fx, const struct config *c)
{
	char err[512];

	if (prepare(fx, c, err, sizeof(err)) == -1)
		fail_msg("site_prepare: %s", err);
	site_commit(fx->site);
}

/* --- looking at the site ----------------------------------------------- */

static char *
status_text(struct fx *fx)
{
	struct json_object *o = json_object_new_object();
	char *s;

	site_status(fx->site, o);
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	assert_non_null(s);
	return s;
}

/* Member key of status section sect (a new reference, or NULL). */
static struct json_object *
status_get(struct fx *fx, const char *sect, const char *key)
{
	struct json_object *o = json_object_new_object(), *s, *v = NULL;

	site_status(fx->site, o);
	if (json_object_object_get_ex(o, sect, &s) &&
	    json_object_object_get_ex(s, key, &v))
		json_object_get(v);
	json_object_put(o);
	return v;
}

static int64_t
status_int(struct fx *fx, const char *sect, const char *key)
{
	struct json_object *v = status_get(fx, sect, key);
	int64_t n;

	if (v == NULL)
		fail_msg("status: no %s.%s", sect, key);
	n = json_object_get_int64(v);
	json_object_put(v);
	return n;
}

static int
status_is(struct fx *fx, const char *sect, const char *key, const char *want)
{
	struct json_object *v = status_get(fx, sect, key);
	int same = v != NULL && strcmp(json_object_get_string(v), want) == 0;

	json_object_put(v);
	return same;
}

static struct json_object *
chargers(struct fx *fx)
{
	struct json_object *req = json_object_new_object(), *o;
	char err[256];

	json_object_object_add(req, "cmd", json_object_new_string("chargers"));
	err[0] = '\0';
	o = site_cmd_chargers(req, NULL, fx->site, err, sizeof(err));
	json_object_put(req);
	if (o == NULL)
		fail_msg("chargers: %s", err);
	return o;
}

static int
exists(struct fx *fx, const char *rel)
{
	char path[160];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", fx->dir, rel);
	return lstat(path, &sb) == 0;
}

/* Does file rel (under the test's directory) hold text? */
static int
file_has(struct fx *fx, const char *rel, const char *text)
{
	char path[160], buf[8192];
	size_t n;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", fx->dir, rel);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

/* --- the loop ---------------------------------------------------------- */

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

/* Run the loop until pred(fx) holds; 0, or -1 at the deadline. */
static int
wait_until(struct fx *fx, int (*pred)(struct fx *))
{
	struct timeval tv = { WAIT_MS / 1000, 0 };
	struct event *ev;
	int expired = 0;

	ev = evtimer_new(fx->base, deadline_cb, &expired);
	evtimer_add(ev, &tv);
	while (!pred(fx) && !expired)
		event_base_loop(fx->base, EVLOOP_ONCE);
	event_free(ev);
	return pred(fx) ? 0 : -1;
}

static int
dnsmasq_off(struct fx *fx)
{
	return status_is(fx, "dnsmasq", "state", "off");
}

/* Does the stand-in run (fx->pid), as our binary with our configuration? */
static int
fake_running(struct fx *fx)
{
	char path[64], cmd[1024], conf[160];
	size_t n, i;
	int found = 0;
	FILE *fp;

	if (fx->pid <= 0 || kill(fx->pid, 0) == -1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)fx->pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	n = fread(cmd, 1, sizeof(cmd) - 1, fp);
	fclose(fp);
	cmd[n] = '\0';
	snprintf(conf, sizeof(conf), "%s/run/dnsmasq.conf", fx->dir);
	for (i = 0; i < n; i += strlen(cmd + i) + 1)
		if (strcmp(cmd + i, conf) == 0)
			found = 1;
	return found;
}

/* The same, waiting for the exec that follows the fork. */
static void
assert_fake_running(struct fx *fx, pid_t pid)
{
	assert_true(pid > 0);
	fx->pid = pid;
	if (wait_until(fx, fake_running) == -1)
		fail_msg("pid %ld is not the stand-in dnsmasq", (long)pid);
}

/* Does the file /proc/PID/environ of fx->pid hold the string want? */
static int
environ_has(struct fx *fx, const char *want)
{
	char path[64], env[65536];
	size_t n, i;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/environ", (long)fx->pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	n = fread(env, 1, sizeof(env) - 1, fp);
	fclose(fp);
	env[n] = '\0';
	for (i = 0; i < n; i += strlen(env + i) + 1)
		if (strcmp(env + i, want) == 0)
			return 1;
	return 0;
}

/* --- the lease socket, from another process ---------------------------- */

struct reply_buf {
	char	 text[65536];
	size_t	 len;
	int	 eof;
};

static void
reply_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reply_buf *rb = arg;
	ssize_t n;

	n = read(fd, rb->text + rb->len, sizeof(rb->text) - 1 - rb->len);
	if (n > 0)
		rb->len += (size_t)n;
	else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		rb->eof = 1;
	if (rb->len == sizeof(rb->text) - 1)
		rb->eof = 1;
}

/*
 * Send the request text to the lease socket with ctl_request from a child
 * process (the socket is served by this process's loop) and return the
 * reply: "{...}" when it was ok, else "error: " and the daemon's text.
 */
static char *
ask(struct fx *fx, const char *text)
{
	static struct reply_buf rb;
	struct timeval tv = { WAIT_MS / 1000, 0 };
	struct event *ev, *deadline;
	char sock[160];
	int pfd[2], expired = 0, status;
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/run/lease.sock", fx->dir);
	assert_int_equal(pipe(pfd), 0);
	if ((pid = fork()) == 0) {
		struct ctl_opts o = { sock, 0, NULL };
		struct json_object *req, *reply;
		char err[512], out[65536];

		close(pfd[0]);
		req = json_tokener_parse(text);
		if (req == NULL)
			snprintf(out, sizeof(out), "error: bad test request");
		else if (ctl_request(&o, req, &reply, err, sizeof(err)) == 0)
			snprintf(out, sizeof(out), "%s",
			    json_object_to_json_string_ext(reply,
			    JSON_C_TO_STRING_PLAIN));
		else
			snprintf(out, sizeof(out), "error: %s", err);
		if (write(pfd[1], out, strlen(out)) == -1)
			_exit(1);
		_exit(0);
	}
	assert_true(pid > 0);
	close(pfd[1]);
	memset(&rb, 0, sizeof(rb));
	set_nonblock_cloexec(pfd[0]);
	ev = event_new(fx->base, pfd[0], EV_READ | EV_PERSIST, reply_read_cb,
	    &rb);
	event_add(ev, NULL);
	deadline = evtimer_new(fx->base, deadline_cb, &expired);
	evtimer_add(deadline, &tv);
	while (!rb.eof && !expired)
		event_base_loop(fx->base, EVLOOP_ONCE);
	event_free(deadline);
	event_free(ev);
	close(pfd[0]);
	if (!rb.eof)
		kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!rb.eof)
		fail_msg("no reply from the lease socket within %d ms",
		    WAIT_MS);
	rb.text[rb.len] = '\0';
	return rb.text;
}

static const char *
lease_event(struct fx *fx, const char *action, const char *mac,
    const char *ip, const char *hostname)
{
	char req[512];

	snprintf(req, sizeof(req), "{\"cmd\":\"lease-event\",\"action\":"
	    "\"%s\",\"mac\":\"%s\",\"ip\":\"%s\",\"expires\":\"%lld\","
	    "\"hostname\":\"%s\",\"interface\":\"plc0\"}", action, mac, ip,
	    (long long)time(NULL) + 3600, hostname);
	return ask(fx, req);
}

/* --- no lan section ---------------------------------------------------- */

static void
test_no_lan(void **state)
{
	struct fx *fx = *state;
	struct json_object *o, *v;
	char *before, *after;

	before = status_text(fx);
	apply(fx, load(fx, "site: {name: test}\n"));
	after = status_text(fx);
	assert_string_equal(before, after);
	free(before);
	free(after);

	assert_true(status_is(fx, "dnsmasq", "state", "off"));
	assert_true(status_is(fx, "dnsmasq", "enabled", "false"));
	assert_true(status_is(fx, "dnsmasq", "running", "false"));
	assert_true(status_is(fx, "dhcp", "enabled", "false"));
	assert_int_equal(status_int(fx, "dhcp", "leases"), 0);
	assert_int_equal(status_int(fx, "dnsmasq", "starts"), 0);

	o = chargers(fx);
	assert_true(json_object_object_get_ex(o, "chargers", &v));
	assert_true(json_object_is_type(v, json_type_array));
	assert_int_equal(json_object_array_length(v), 0);
	assert_true(json_object_object_get_ex(o, "dhcp", &v));
	assert_false(json_object_get_boolean(v));
	json_object_put(o);

	/* Nobody to name, nothing to count. */
	{
		union sockaddr_any sa;
		struct relay_record rec;

		memset(&sa, 0, sizeof(sa));
		sa.sin.sin_family = AF_INET;
		inet_pton(AF_INET, "10.42.0.21", &sa.sin.sin_addr);
		assert_null(site_relay_namer(&sa, fx->site));
		memset(&rec, 0, sizeof(rec));
		rec.client = sa;
		rec.close = CLOSE_DONE;
		site_relay_record(&rec, fx->site);
	}
	assert_false(exists(fx, "run"));
	assert_false(exists(fx, "state"));
}

/* --- refusals ---------------------------------------------------------- */

/* prepare refuses c with a message naming key; abort leaves all as it was. */
static void
refused(struct fx *fx, const struct config *c, const char *key)
{
	char err[512], *before, *after;
	int rv;

	before = status_text(fx);
	rv = prepare(fx, c, err, sizeof(err));
	site_abort(fx->site);
	if (rv != -1 || strstr(err, key) == NULL) {
		free(before);
		fail_msg("prepare: %d, \"%s\": not a refusal naming %s", rv,
		    err, key);
	}
	/* A commit after the abort has nothing to apply. */
	site_commit(fx->site);
	after = status_text(fx);
	assert_string_equal(before, after);
	free(before);
	free(after);
}

static void
refusals(struct fx *fx)
{
	refused(fx, lan_conf(fx, NULL, "no-such-user-evg", NULL, NULL, NULL),
	    "dnsmasq.user");
	refused(fx, lan_conf(fx, "@/bin/not-executable", NULL, NULL, NULL,
	    NULL), "dnsmasq.binary");
	refused(fx, lan_conf(fx, "@/bin/no-such-file", NULL, NULL, NULL,
	    NULL), "dnsmasq.binary");
	refused(fx, lan_conf(fx, NULL, NULL, NULL, NULL, "@/bin/no-hook"),
	    "dnsmasq.hook");
	refused(fx, lan_conf(fx, NULL, NULL, "@/a-file/state", "@/run2", NULL),
	    "dnsmasq.state_dir");
	refused(fx, lan_conf(fx, NULL, NULL, "@/state2", "@/a-file/run", NULL),
	    "dnsmasq.run_dir");
}

static void
test_refusals_when_off(void **state)
{
	struct fx *fx = *state;

	refusals(fx);
	assert_true(dnsmasq_off(fx));
	assert_int_equal(status_int(fx, "dnsmasq", "starts"), 0);
	assert_false(exists(fx, "run/lease.sock"));
	assert_false(exists(fx, "run2/lease.sock"));
	assert_false(exists(fx, "state/leases"));
}

static void
test_refusals_when_running(void **state)
{
	struct fx *fx = *state;
	pid_t pid;

	apply(fx, lan_conf(fx, NULL, NULL, NULL, NULL, NULL));
	pid = (pid_t)status_int(fx, "dnsmasq", "pid");
	assert_fake_running(fx, pid);
	refusals(fx);
	/* The same dnsmasq runs, and the lease socket still answers. */
	assert_true(status_is(fx, "dnsmasq", "state", "running"));
	assert_int_equal(status_int(fx, "dnsmasq", "pid"), pid);
	assert_int_equal(status_int(fx, "dnsmasq", "starts"), 1);
	assert_fake_running(fx, pid);
	assert_false(exists(fx, "run2/lease.sock"));
	assert_string_equal(lease_event(fx, "add", "02:42:00:00:00:01",
	    "10.42.0.21", "ZAP000101"), "{\"ok\":true}");
}

/* --- prepare, abort, commit -------------------------------------------- */

static void
test_lifecycle(void **state)
{
	struct fx *fx = *state;
	const struct config *lan = lan_conf(fx, NULL, NULL, NULL, NULL, NULL);
	char err[512], *before, *after;
	pid_t pid;

	/* A prepare that succeeds binds the lease socket beside, no more. */
	before = status_text(fx);
	assert_int_equal(prepare(fx, lan, err, sizeof(err)), 0);
	assert_true(exists(fx, "run/lease.sock"));
	assert_false(exists(fx, "run/dnsmasq.conf"));
	after = status_text(fx);
	assert_string_equal(before, after);
	free(after);
	/* Abort takes it back. */
	site_abort(fx->site);
	assert_false(exists(fx, "run/lease.sock"));
	site_commit(fx->site);
	after = status_text(fx);
	assert_string_equal(before, after);
	free(before);
	free(after);
	assert_true(dnsmasq_off(fx));

	/* Commit starts dnsmasq with the generated files and the leases. */
	apply(fx, lan);
	assert_true(status_is(fx, "dnsmasq", "state", "running"));
	assert_true(status_is(fx, "dnsmasq", "enabled", "true"));
	assert_true(status_is(fx, "dhcp", "enabled", "true"));
	assert_int_equal(status_int(fx, "dhcp", "reservations"), 2);
	/* The range and the reservation outside it. */
	assert_int_equal(status_int(fx, "dhcp", "pool_size"), 11);
	pid = (pid_t)status_int(fx, "dnsmasq", "pid");
	assert_fake_running(fx, pid);
	assert_true(exists(fx, "run/lease.sock"));
	assert_true(file_has(fx, "run/dnsmasq.conf",
	    "dhcp-range=10.42.0.10,10.42.0.19"));
	assert_true(file_has(fx, "run/dnsmasq.conf", "/bin/hook"));
	assert_true(file_has(fx, "run/dhcp-hosts",
	    "02:42:00:00:00:01,10.42.0.21"));
	assert_true(exists(fx, "state/leases"));
	{
		char want[160];

		snprintf(want, sizeof(want), "%s/state/leases", fx->dir);
		assert_true(status_is(fx, "dhcp", "lease_file", want));
	}

	/* The same configuration again: nothing restarts. */
	apply(fx, lan);
	assert_int_equal(status_int(fx, "dnsmasq", "pid"), pid);
	assert_int_equal(status_int(fx, "dnsmasq", "starts"), 1);

	/* No lan section any more: dnsmasq stopped, the socket gone. */
	apply(fx, load(fx, "site: {name: test}\n"));
	assert_false(exists(fx, "run/lease.sock"));
	if (wait_until(fx, dnsmasq_off) == -1)
		fail_msg("dnsmasq still %s", status_text(fx));
	assert_int_equal(kill(pid, 0), -1);	/* reaped, gone */
	assert_true(status_is(fx, "dhcp", "enabled", "false"));
}

/* --- dnsmasq supervised ------------------------------------------------- */

static int
refusal_seen(struct fx *fx)
{
	return status_int(fx, "dhcp", "refusals") >= 1;
}

static int
second_start(struct fx *fx)
{
	return status_int(fx, "dnsmasq", "starts") >= 2 &&
	    status_int(fx, "dhcp", "refusals") >= 2;
}

static void
test_dnsmasq_supervised(void **state)
{
	struct fx *fx = *state;
	char want[200], pidtext[32];
	struct json_object *v;
	pid_t pid;

	apply(fx, lan_conf(fx, NULL, NULL, NULL, NULL, NULL));
	pid = (pid_t)status_int(fx, "dnsmasq", "pid");
	assert_fake_running(fx, pid);
	/* The hook finds the lease socket in its environment. */
	snprintf(want, sizeof(want), "EVGATE_LEASE_SOCKET=%s/run/lease.sock",
	    fx->dir);
	assert_true(environ_has(fx, want));
	/* A pid file, for the next evgated to find an orphan. */
	snprintf(pidtext, sizeof(pidtext), "%ld\n", (long)pid);
	assert_true(file_has(fx, "run/dnsmasq.pid", pidtext));
	/* Its output is read: the ignored MAC counts as a refusal (and the
	 * error line before it was read too). */
	if (wait_until(fx, refusal_seen) == -1)
		fail_msg("dnsmasq's output was not read");

	/* It dies: started again after the back-off, its last words kept. */
	assert_int_equal(kill(pid, SIGKILL), 0);
	if (wait_until(fx, second_start) == -1)
		fail_msg("not restarted");
	assert_int_equal(status_int(fx, "dnsmasq", "restarts"), 1);
	assert_true(status_is(fx, "dnsmasq", "last_exit", "signal 9"));
	v = status_get(fx, "dnsmasq", "last_error");
	assert_non_null(v);
	assert_non_null(strstr(json_object_get_string(v),
	    "failed to do what a stand-in cannot"));
	json_object_put(v);
	assert_int_not_equal(status_int(fx, "dnsmasq", "pid"), pid);
	assert_fake_running(fx, (pid_t)status_int(fx, "dnsmasq", "pid"));
}

/* --- the relay's view through the lease table --------------------------- */

static union sockaddr_any
client(const char *ip)
{
	union sockaddr_any sa;

	memset(&sa, 0, sizeof(sa));
	sa.sin.sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, ip, &sa.sin.sin_addr), 1);
	return sa;
}

static void
record(struct fx *fx, const char *ip, enum relay_close close, uint64_t up,
    uint64_t down)
{
	struct relay_record rec;

	memset(&rec, 0, sizeof(rec));
	rec.client = client(ip);
	rec.close = close;
	rec.bytes_up = up;
	rec.bytes_down = down;
	site_relay_record(&rec, fx->site);
}

/* The entry of the chargers reply with mac (a borrowed reference). */
static struct json_object *
charger_by_mac(struct json_object *reply, const char *mac)
{
	struct json_object *list, *c, *v;
	size_t i;

	assert_true(json_object_object_get_ex(reply, "chargers", &list));
	for (i = 0; i < json_object_array_length(list); i++) {
		c = json_object_array_get_idx(list, i);
		if (json_object_object_get_ex(c, "mac", &v) &&
		    strcmp(json_object_get_string(v), mac) == 0)
			return c;
	}
	fail_msg("no charger %s", mac);
	return NULL;
}

static int64_t
member_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		fail_msg("no member %s", key);
	return json_object_get_int64(v);
}

static const char *
member_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return "(null)";
	return json_object_get_string(v);
}

static void
test_leases_name_and_count(void **state)
{
	struct fx *fx = *state;
	union sockaddr_any sa;
	struct json_object *o, *c, *v;
	const char *r;

	apply(fx, lan_conf(fx, NULL, NULL, NULL, NULL, NULL));

	/* Three leases, as dnsmasq's hook reports them. */
	assert_string_equal(lease_event(fx, "add", "02:42:00:00:00:01",
	    "10.42.0.21", "ZAP000101"), "{\"ok\":true}");
	assert_string_equal(lease_event(fx, "add", "02:42:00:00:00:09",
	    "10.42.0.12", "CHG9"), "{\"ok\":true}");
	assert_string_equal(lease_event(fx, "add", "02:42:00:00:00:0a",
	    "10.42.0.13", ""), "{\"ok\":true}");
	/* One the table refuses: not on the LAN. */
	r = lease_event(fx, "add", "02:42:00:00:00:0b", "192.0.2.1", "X");
	if (strncmp(r, "error: ", 7) != 0 || strstr(r, "refused") == NULL)
		fail_msg("lease outside the LAN: %s", r);
	assert_int_equal(status_int(fx, "dhcp", "lease_events"), 3);
	assert_int_equal(status_int(fx, "dhcp", "lease_events_rejected"), 1);
	assert_int_equal(status_int(fx, "dhcp", "leases"), 3);
	assert_int_equal(status_int(fx, "dhcp", "known_macs"), 3);
	/* Written at once. */
	assert_true(file_has(fx, "state/leases", "02:42:00:00:00:09"));

	/* The namer: reservation id, else the hostname given, else MAC. */
	sa = client("10.42.0.21");
	assert_string_equal(site_relay_namer(&sa, fx->site), "ZAP000101");
	sa = client("10.42.0.12");
	assert_string_equal(site_relay_namer(&sa, fx->site), "CHG9");
	sa = client("10.42.0.13");
	assert_string_equal(site_relay_namer(&sa, fx->site),
	    "02:42:00:00:00:0a");
	sa = client("10.42.0.14");
	assert_null(site_relay_namer(&sa, fx->site));
	memset(&sa, 0, sizeof(sa));
	sa.sin6.sin6_family = AF_INET6;
	assert_null(site_relay_namer(&sa, fx->site));

	/* What the relay carried, per charger. */
	record(fx, "10.42.0.21", CLOSE_DONE, 1000, 5000);
	record(fx, "10.42.0.21", CLOSE_IDLE, 10, 20);
	record(fx, "10.42.0.21", CLOSE_REFUSED, 300, 0);
	record(fx, "10.42.0.12", CLOSE_DONE, 7, 8);
	record(fx, "10.42.0.14", CLOSE_DONE, 99, 99);	/* no lease */
	o = chargers(fx);
	assert_true(json_object_object_get_ex(o, "dhcp", &v));
	assert_true(json_object_get_boolean(v));
	c = charger_by_mac(o, "02:42:00:00:00:01");
	assert_string_equal(member_str(c, "id"), "ZAP000101");
	assert_string_equal(member_str(c, "lease"), "active");
	assert_string_equal(member_str(c, "address"), "10.42.0.21");
	assert_int_equal(member_int(c, "connections"), 2);
	assert_int_equal(member_int(c, "refused"), 1);
	assert_int_equal(member_int(c, "bytes_up"), 1310);
	assert_int_equal(member_int(c, "bytes_down"), 5020);
	c = charger_by_mac(o, "02:42:00:00:00:09");
	assert_string_equal(member_str(c, "id"), "CHG9");
	assert_false(json_object_get_boolean(json_object_object_get(c,
	    "reserved")));
	assert_int_equal(member_int(c, "connections"), 1);
	assert_int_equal(member_int(c, "bytes_up"), 7);
	/* A reserved charger without a lease is listed too. */
	c = charger_by_mac(o, "02:42:00:00:00:02");
	assert_string_equal(member_str(c, "lease"), "none");
	assert_int_equal(member_int(c, "connections"), 0);
	assert_int_equal(json_object_array_length(json_object_object_get(o,
	    "chargers")), 4);
	assert_int_equal(member_int(json_object_object_get(o, "pool"),
	    "in_use"), 3);
	json_object_put(o);

	/* dnsmasq's start gets the leases back (lease-init). */
	r = ask(fx, "{\"cmd\":\"lease-init\"}");
	assert_non_null(strstr(r, "02:42:00:00:00:01 10.42.0.21"));
	assert_non_null(strstr(r, "02:42:00:00:00:09 10.42.0.12"));
	assert_int_equal(status_int(fx, "dhcp", "inits"), 1);

	/* A lease that ends: the name goes with it. */
	assert_string_equal(lease_event(fx, "del", "02:42:00:00:00:09",
	    "10.42.0.12", ""), "{\"ok\":true}");
	sa = client("10.42.0.12");
	assert_null(site_relay_namer(&sa, fx->site));
	assert_int_equal(status_int(fx, "dhcp", "leases"), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_lan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals_when_off, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refusals_when_running,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dnsmasq_supervised,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_leases_name_and_count,
		    setup, teardown),
	};

	return cmocka_run_group_tests_name("site", tests, NULL, NULL);
}
