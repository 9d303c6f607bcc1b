/*
 * Tests for ctl: evgatectl's text tables, number formatters and JSON
 * lookups, and ctl_request against a real control server (control.c on a
 * libevent loop in a thread of its own: the client blocks) on a socket in
 * a temporary directory: replies, the daemon's errors, no daemon, and
 * sockets that are not a daemon's (stand-ins that close, send garbage or
 * speak the wrong socket type).
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
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

#include "common/control.h"
#include "common/ctl.h"
#include "common/log.h"
#include "testutil.h"

/* --- numbers --------------------------------------------------------- */

static void
test_bytes(void **state)
{
	static const struct {
		uint64_t	 n;
		const char	*s;
	} cases[] = {
		{ 0, "0 B" },
		{ 17, "17 B" },
		{ 999, "999 B" },
		{ 1000, "1.0 kB" },
		{ 1260, "1.3 kB" },
		{ 999949, "999.9 kB" },
		/* rounding may not leave the unit at 1000 */
		{ 999950, "1.0 MB" },
		{ 999999, "1.0 MB" },
		{ 1000000, "1.0 MB" },
		{ 1200000, "1.2 MB" },
		{ 999999999, "1.0 GB" },
		{ 3500000000ULL, "3.5 GB" },
		{ 1000000000000ULL, "1.0 TB" },
		/* terabytes are the largest unit */
		{ 2000000000000000ULL, "2000.0 TB" },
		{ UINT64_MAX, "18446744.1 TB" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_ptr_equal(ctl_bytes(cases[i].n, buf, sizeof(buf)), buf);
		if (strcmp(buf, cases[i].s) != 0)
			fail_msg("%llu: \"%s\", not \"%s\"",
			    (unsigned long long)cases[i].n, buf, cases[i].s);
	}
	/* a short buffer is cut and terminated */
	memset(buf, 'x', sizeof(buf));
	ctl_bytes(1200000, buf, 4);
	assert_string_equal(buf, "1.2");
	assert_int_equal(buf[4], 'x');
}

static void
test_duration(void **state)
{
	static const struct {
		double		 s;
		const char	*text;
	} cases[] = {
		{ 0, "0.0s" },
		{ 0.04, "0.0s" },
		{ 12.5, "12.5s" },
		{ 59.9, "59.9s" },
		{ 59.95, "59.9s" },
		{ 59.999, "59.9s" },
		{ 0.1, "0.1s" },
		{ 0.7, "0.7s" },
		{ 60, "00:01:00" },
		{ 61.9, "00:01:01" },
		{ 3661, "01:01:01" },
		{ 86399, "23:59:59" },
		{ 86400, "1d 00:00:00" },
		{ 3 * 86400 + 4 * 3600 + 5 * 60 + 6, "3d 04:05:06" },
		{ 400 * 86400.0, "400d 00:00:00" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_ptr_equal(ctl_duration(cases[i].s, buf, sizeof(buf)),
		    buf);
		if (strcmp(buf, cases[i].text) != 0)
			fail_msg("%f: \"%s\", not \"%s\"", cases[i].s, buf,
			    cases[i].text);
	}
}

static void
test_lookups(void **state)
{
	struct json_object *o = json_tokener_parse("{\"n\":42,\"s\":\"text\","
	    "\"neg\":-7,\"o\":{\"x\":1},\"z\":null}");

	assert_non_null(o);
	assert_int_equal(ctl_int(o, "n"), 42);
	assert_int_equal(ctl_int(o, "neg"), -7);
	assert_int_equal(ctl_int(o, "missing"), 0);
	assert_int_equal(ctl_int(NULL, "n"), 0);
	assert_string_equal(ctl_str(o, "s"), "text");
	assert_null(ctl_str(o, "n"));		/* not a string */
	assert_null(ctl_str(o, "z"));
	assert_null(ctl_str(o, "missing"));
	assert_null(ctl_str(NULL, "s"));
	assert_int_equal(ctl_int(ctl_obj(o, "o"), "x"), 1);
	assert_null(ctl_obj(o, "missing"));
	assert_null(ctl_obj(NULL, "o"));
	assert_null(ctl_obj(o, "z"));		/* present, and null */
	json_object_put(o);
}

/* ctl_print_json drops "ok" and prints indented JSON on stdout. */
static void
test_print_json(void **state)
{
	struct json_object *o = json_tokener_parse("{\"ok\":true,"
	    "\"socket\":\"/run/evgate/evgated.sock\",\"n\":[1]}");
	char out[256];
	FILE *fp;
	int saved;
	long n;

	assert_non_null(o);
	fflush(stdout);
	fp = tmpfile();
	assert_non_null(fp);
	saved = dup(STDOUT_FILENO);
	dup2(fileno(fp), STDOUT_FILENO);
	ctl_print_json(o);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	n = ftell(fp);
	assert_true(n > 0 && n < (long)sizeof(out));
	rewind(fp);
	assert_int_equal(fread(out, 1, (size_t)n, fp), (size_t)n);
	out[n] = '\0';
	fclose(fp);
	assert_string_equal(out, "{\n"
	    "  \"socket\": \"/run/evgate/evgated.sock\",\n"
	    "  \"n\": [\n"
	    "    1\n"
	    "  ]\n"
	    "}\n");
	assert_null(ctl_obj(o, "ok"));
	json_object_put(o);
}

/* --- tables ---------------------------------------------------------- */

static char *
print_table(struct ctl_table *t)
{
	char *s = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&s, &len);

	assert_non_null(fp);
	ctl_table_print(t, fp);
	fclose(fp);
	return s;
}

static void
test_table(void **state)
{
	static const char *const hdr[] = { "ID", "CLIENT", "SNI", "STATE" };
	struct ctl_table *t;
	char *s;

	t = ctl_table_new(4, hdr);
	ctl_table_row(t, "1", "10.42.0.21:40000", "zapcloud.azure-devices.net",
	    "splice");
	ctl_table_row(t, "12", "10.42.0.3:1", NULL, "peek");
	ctl_table_row(t, "", "fd00::21", "x", "");
	s = print_table(t);
	/*
	 * Each column as wide as its widest cell and two spaces; the last
	 * one not padded; a missing cell is "-", an empty one stays empty.
	 */
	assert_string_equal(s,
	    "ID  CLIENT            SNI                         STATE\n"
	    "1   10.42.0.21:40000  zapcloud.azure-devices.net  splice\n"
	    "12  10.42.0.3:1       -                           peek\n"
	    "    fd00::21          x                           \n");
	free(s);
	ctl_table_free(t);
}

static void
test_table_shapes(void **state)
{
	static const char *const one[] = { "NAME" };
	static const char *const two[] = { "A", "LONGER HEADER" };
	struct ctl_table *t;
	char *s;
	int i;

	/* headers only */
	t = ctl_table_new(2, two);
	s = print_table(t);
	assert_string_equal(s, "A  LONGER HEADER\n");
	free(s);
	ctl_table_free(t);

	/* one column: no padding at all */
	t = ctl_table_new(1, one);
	ctl_table_row(t, "a-much-longer-name");
	ctl_table_row(t, "b");
	s = print_table(t);
	assert_string_equal(s, "NAME\na-much-longer-name\nb\n");
	free(s);
	ctl_table_free(t);

	/* many rows (the cells grow) keep their order and widths */
	t = ctl_table_new(2, two);
	for (i = 0; i < 1000; i++) {
		char a[16], b[16];

		snprintf(a, sizeof(a), "%d", i);
		snprintf(b, sizeof(b), "row%d", i);
		ctl_table_row(t, a, b);
	}
	s = print_table(t);
	assert_int_equal(strncmp(s, "A    LONGER HEADER\n0    row0\n", 29), 0);
	assert_non_null(strstr(s, "\n999  row999\n"));
	assert_int_equal(strlen(strstr(s, "\n999  row999\n")), 13);
	free(s);
	ctl_table_free(t);
}

/* --- a real control server ------------------------------------------- */

struct server {
	char			 dir[64];
	char			 path[128];
	struct event_base	*base;
	struct control		*ctl;
	struct event		*stop_ev;
	int			 stop[2];
	pthread_t		 thread;
	/* what the handlers saw (read after the reply arrived) */
	int			 calls;
	struct control_peer	 peer;
};

static struct json_object *
cmd_echo(struct json_object *req, const struct control_peer *peer, void *arg,
    char *err, size_t errlen)
{
	struct server *s = arg;
	struct json_object *r = json_object_new_object(), *v;

	s->calls++;
	s->peer = *peer;
	if (json_object_object_get_ex(req, "arg", &v))
		json_object_object_add(r, "arg", json_object_get(v));
	json_object_object_add(r, "n", json_object_new_int(s->calls));
	return r;
}

static struct json_object *
cmd_fail(struct json_object *req, const struct control_peer *peer, void *arg,
    char *err, size_t errlen)
{
	snprintf(err, errlen, "no charger \"%s\"",
	    json_object_get_string(json_object_object_get(req, "id")));
	return NULL;
}

static struct json_object *
cmd_mute(struct json_object *req, const struct control_peer *peer, void *arg,
    char *err, size_t errlen)
{
	return NULL;		/* fails without saying why */
}

#define BIG	200000		/* past the client's first 64 kB buffer */

static struct json_object *
cmd_big(struct json_object *req, const struct control_peer *peer, void *arg,
    char *err, size_t errlen)
{
	struct json_object *r = json_object_new_object();
	char *blob = malloc(BIG + 1);
	size_t i;

	for (i = 0; i < BIG; i++)
		blob[i] = (char)('a' + i % 26);
	blob[BIG] = '\0';
	json_object_object_add(r, "blob", json_object_new_string(blob));
	free(blob);
	return r;
}

static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void *
server_main(void *arg)
{
	struct server *s = arg;

	event_base_dispatch(s->base);
	return NULL;
}

static int
server_setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));
	struct cfg_control cc;
	char err[256];

	if (s == NULL || test_tmpdir(s->dir, sizeof(s->dir), "ctl") == -1)
		return -1;
	snprintf(s->path, sizeof(s->path), "%s/evgated.sock", s->dir);
	s->base = event_base_new();
	s->ctl = control_new(s->base);
	control_register(s->ctl, "echo", cmd_echo, s);
	control_register(s->ctl, "fail", cmd_fail, s);
	control_register(s->ctl, "mute", cmd_mute, s);
	control_register(s->ctl, "big", cmd_big, s);
	control_cfg_defaults(&cc);
	cc.socket = s->path;
	cc.mode = 0600;
	if (control_listen(s->ctl, &cc, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if (pipe(s->stop) == -1)
		return -1;
	s->stop_ev = event_new(s->base, s->stop[0], EV_READ, stop_cb, s->base);
	event_add(s->stop_ev, NULL);
	if (pthread_create(&s->thread, NULL, server_main, s) != 0)
		return -1;
	*state = s;
	return 0;
}

static int
server_teardown(void **state)
{
	struct server *s = *state;

	if (write(s->stop[1], "x", 1) != 1)
		return -1;
	pthread_join(s->thread, NULL);
	event_free(s->stop_ev);
	control_free(s->ctl);
	event_base_free(s->base);
	close(s->stop[0]);
	close(s->stop[1]);
	test_rmtree(s->dir);
	free(s);
	return 0;
}

/* ctl_request with the request text req. */
static int
request(const char *path, const char *req, struct json_object **reply,
    char *err, size_t errlen)
{
	struct ctl_opts opts = { path, 0, NULL };
	struct json_object *o = json_tokener_parse(req);
	int rv;

	assert_non_null(o);
	strcpy(err, "unset");
	rv = ctl_request(&opts, o, reply, err, errlen);
	json_object_put(o);
	return rv;
}

static void
test_request(void **state)
{
	struct server *s = *state;
	struct json_object *reply;
	char err[512];

	assert_int_equal(request(s->path, "{\"cmd\":\"echo\",\"arg\":"
	    "\"a \\\"quoted\\\" line\\nand more\"}", &reply, err,
	    sizeof(err)), 0);
	assert_string_equal(err, "unset");
	assert_non_null(reply);
	assert_string_equal(ctl_str(reply, "arg"),
	    "a \"quoted\" line\nand more");
	assert_int_equal(ctl_int(reply, "n"), 1);
	assert_true(json_object_get_boolean(ctl_obj(reply, "ok")));
	json_object_put(reply);
	/* the server knew who asked */
	assert_int_equal(s->peer.pid, getpid());
	assert_int_equal(s->peer.uid, getuid());
	assert_int_equal(s->peer.gid, getgid());

	/* one connection per request */
	assert_int_equal(request(s->path, "{\"cmd\":\"echo\"}", &reply, err,
	    sizeof(err)), 0);
	assert_int_equal(ctl_int(reply, "n"), 2);
	assert_null(ctl_obj(reply, "arg"));
	json_object_put(reply);
}

/* A reply larger than the client's first buffer arrives whole. */
static void
test_request_big(void **state)
{
	struct server *s = *state;
	struct json_object *reply;
	const char *blob;
	char err[512];

	assert_int_equal(request(s->path, "{\"cmd\":\"big\"}", &reply, err,
	    sizeof(err)), 0);
	blob = ctl_str(reply, "blob");
	assert_non_null(blob);
	assert_int_equal(strlen(blob), BIG);
	assert_int_equal(blob[0], 'a');
	assert_int_equal(blob[BIG - 1], 'a' + (BIG - 1) % 26);
	json_object_put(reply);
}

/* The daemon's "ok": false comes back as its own words. */
static void
test_request_errors(void **state)
{
	struct server *s = *state;
	struct json_object *reply = (struct json_object *)1;
	char err[512];

	assert_int_equal(request(s->path, "{\"cmd\":\"fail\",\"id\":\"ZAP1\"}",
	    &reply, err, sizeof(err)), -1);
	assert_null(reply);
	assert_string_equal(err, "no charger \"ZAP1\"");
	assert_int_equal(request(s->path, "{\"cmd\":\"mute\"}", &reply, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "command failed");
	assert_int_equal(request(s->path, "{\"cmd\":\"nope\"}", &reply, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "unknown command \"nope\"");
	assert_int_equal(request(s->path, "{\"cmd\":\"NOPE\"}", &reply, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "bad command name");
	assert_null(reply);
	/* a short err buffer is cut */
	assert_int_equal(request(s->path, "{\"cmd\":\"nope\"}", &reply, err,
	    8), -1);
	assert_string_equal(err, "unknown");
}

/* ctl_simple: {"cmd": cmd}, and errors said on stderr. */
static void
test_simple(void **state)
{
	struct server *s = *state;
	struct ctl_opts opts = { s->path, 0, NULL };
	struct json_object *reply;
	char out[256];
	FILE *fp;
	int saved;
	long n;

	assert_int_equal(ctl_simple(&opts, "echo", &reply), 0);
	assert_int_equal(ctl_int(reply, "n"), 1);
	json_object_put(reply);

	fflush(stderr);
	fp = tmpfile();
	assert_non_null(fp);
	saved = dup(STDERR_FILENO);
	dup2(fileno(fp), STDERR_FILENO);
	n = ctl_simple(&opts, "mute", &reply);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_int_equal(n, -1);
	assert_null(reply);
	n = ftell(fp);
	assert_true(n >= 0 && n < (long)sizeof(out));
	rewind(fp);
	assert_int_equal(fread(out, 1, (size_t)n, fp), (size_t)n);
	out[n] = '\0';
	fclose(fp);
	assert_string_equal(out, "evgatectl: command failed\n");
}

/* --- no daemon, and sockets that are not a daemon's ------------------ */

static void
expect_fail(const char *path, const char *want)
{
	struct json_object *reply = (struct json_object *)1;
	char err[512];

	assert_int_equal(request(path, "{\"cmd\":\"status\"}", &reply, err,
	    sizeof(err)), -1);
	assert_null(reply);
	if (strcmp(err, want) != 0)
		fail_msg("want: %s\ngot:  %s", want, err);
}

static int
unix_socket(const char *path, int type)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void
test_no_daemon(void **state)
{
	char dir[64], path[128], want[512], big[200];
	int fd;

	assert_int_equal(test_tmpdir(dir, sizeof(dir), "ctl"), 0);
	/* nothing at the path */
	snprintf(path, sizeof(path), "%s/evgated.sock", dir);
	snprintf(want, sizeof(want), "evgated is not running (no one answers "
	    "on %s)", path);
	expect_fail(path, want);
	/* a socket file left behind by a daemon that is gone */
	fd = unix_socket(path, SOCK_STREAM);
	close(fd);
	expect_fail(path, want);
	unlink(path);
	/* a plain file */
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd != -1);
	close(fd);
	expect_fail(path, want);
	unlink(path);
	/* a datagram socket */
	fd = unix_socket(path, SOCK_DGRAM);
	snprintf(want, sizeof(want), "cannot connect to %s: Protocol wrong "
	    "type for socket", path);
	expect_fail(path, want);
	close(fd);
	/* a path longer than a socket address holds */
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	snprintf(want, sizeof(want), "socket path too long: %s", big);
	expect_fail(big, want);
	test_rmtree(dir);
}

/*
 * A socket the caller may not use.  Root may use any; then the request
 * is made by a child that has left root.
 */
static void
test_not_permitted(void **state)
{
	char dir[64], path[128], want[512], err[512];
	struct json_object *reply;
	pid_t pid;
	int fd, status;

	assert_int_equal(test_tmpdir(dir, sizeof(dir), "ctl"), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/evgated.sock", dir);
	fd = unix_socket(path, SOCK_STREAM);
	assert_int_equal(chmod(path, 0600), 0);
	snprintf(want, sizeof(want), "not permitted to use %s: run as root or "
	    "as a member of the socket's group", path);
	if (geteuid() != 0) {
		assert_int_equal(chmod(path, 0), 0);
		expect_fail(path, want);
	} else {
		fflush(stdout);
		fflush(stderr);
		if ((pid = fork()) == 0) {
			if (setgroups(0, NULL) == -1 ||
			    setresgid(65534, 65534, 65534) == -1 ||
			    setresuid(65534, 65534, 65534) == -1)
				_exit(2);
			if (request(path, "{\"cmd\":\"status\"}", &reply, err,
			    sizeof(err)) != -1 || reply != NULL)
				_exit(3);
			_exit(strcmp(err, want) == 0 ? 0 : 4);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	close(fd);
	test_rmtree(dir);
}

/* A stand-in on the socket: accepts one client, reads its line, acts. */
enum fake_mode {
	FAKE_CLOSE,		/* closes without a word */
	FAKE_SEND,		/* sends what and closes */
};

struct fake {
	int		 fd;
	enum fake_mode	 mode;
	const char	*what;
	char		 got[256];	/* the request line it read */
};

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	size_t off = 0;
	ssize_t n;
	int c;

	if ((c = accept(f->fd, NULL, NULL)) == -1)
		return NULL;
	while (off < sizeof(f->got) - 1 &&
	    (n = read(c, f->got + off, sizeof(f->got) - 1 - off)) > 0) {
		off += (size_t)n;
		if (f->got[off - 1] == '\n')
			break;
	}
	f->got[off] = '\0';
	if (f->mode == FAKE_SEND &&
	    write(c, f->what, strlen(f->what)) != (ssize_t)strlen(f->what))
		f->got[0] = '\0';
	close(c);
	return NULL;
}

/* Run ctl_request against a stand-in; its result, *reply, err. */
static int
against_fake(const char *path, enum fake_mode mode, const char *what,
    struct json_object **reply, char *err, size_t errlen)
{
	struct fake f;
	pthread_t t;
	int rv;

	memset(&f, 0, sizeof(f));
	f.fd = unix_socket(path, SOCK_STREAM);
	f.mode = mode;
	f.what = what;
	assert_int_equal(pthread_create(&t, NULL, fake_main, &f), 0);
	rv = request(path, "{\"cmd\":\"status\"}", reply, err, errlen);
	pthread_join(t, NULL);
	close(f.fd);
	unlink(path);
	/* the request went out as one line of plain JSON */
	assert_string_equal(f.got, "{\"cmd\":\"status\"}\n");
	return rv;
}

static void
test_not_a_daemon(void **state)
{
	static const struct {
		enum fake_mode	 mode;
		const char	*what;
		const char	*err;
	} cases[] = {
		{ FAKE_CLOSE, NULL,
		    "evgated closed the connection without a reply" },
		{ FAKE_SEND, "SSH-2.0-OpenSSH_9.2\r\n",
		    "unreadable reply from evgated" },
		{ FAKE_SEND, "[true]\n", "unreadable reply from evgated" },
		{ FAKE_SEND, "\"ok\"\n", "unreadable reply from evgated" },
		{ FAKE_SEND, "{\"ok\":true\n",
		    "unreadable reply from evgated" },
		{ FAKE_SEND, "{}\n", "evgated reported an error" },
		{ FAKE_SEND, "{\"ok\":false}\n", "evgated reported an error" },
		{ FAKE_SEND, "{\"ok\":false,\"error\":17}\n",
		    "evgated reported an error" },
		{ FAKE_SEND, "{\"ok\":false,\"error\":\"busy\"}\n", "busy" },
	};
	struct json_object *reply;
	char dir[64], path[128], err[512];
	size_t i;

	assert_int_equal(test_tmpdir(dir, sizeof(dir), "ctl"), 0);
	snprintf(path, sizeof(path), "%s/evgated.sock", dir);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reply = (struct json_object *)1;
		assert_int_equal(against_fake(path, cases[i].mode,
		    cases[i].what, &reply, err, sizeof(err)), -1);
		assert_null(reply);
		if (strcmp(err, cases[i].err) != 0)
			fail_msg("reply %s: want \"%s\", got \"%s\"",
			    cases[i].what ? cases[i].what : "(none)",
			    cases[i].err, err);
	}
	/* A reply cut short of its newline but whole is still a reply. */
	assert_int_equal(against_fake(path, FAKE_SEND,
	    "{\"ok\":true,\"v\":7}", &reply, err, sizeof(err)), 0);
	assert_int_equal(ctl_int(reply, "v"), 7);
	json_object_put(reply);
	test_rmtree(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_lookups),
		cmocka_unit_test(test_print_json),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_shapes),
		cmocka_unit_test_setup_teardown(test_request, server_setup,
		    server_teardown),
		cmocka_unit_test_setup_teardown(test_request_big, server_setup,
		    server_teardown),
		cmocka_unit_test_setup_teardown(test_request_errors,
		    server_setup, server_teardown),
		cmocka_unit_test_setup_teardown(test_simple, server_setup,
		    server_teardown),
		cmocka_unit_test(test_no_daemon),
		cmocka_unit_test(test_not_permitted),
		cmocka_unit_test(test_not_a_daemon),
	};

	log_init("ctltest", 1, LOG_LEVEL_ERR);
	return cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
}
