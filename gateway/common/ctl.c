/*
 * ctl: control-socket client and output helpers for evgatectl.
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/ctl.h"
#include "common/util.h"

#define CTL_REPLY_MAX	(64 * 1024 * 1024)
#define CTL_TIMEOUT_MS	30000

static int
ctl_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int e = errno;

		close(fd);
		if (e == ENOENT || e == ECONNREFUSED)
			snprintf(err, errlen, "evgated is not running (no one "
			    "answers on %s)", path);
		else if (e == EACCES || e == EPERM)
			snprintf(err, errlen, "not permitted to use %s: run as "
			    "root or as a member of the socket's group", path);
		else
			snprintf(err, errlen, "cannot connect to %s: %s", path,
			    strerror(e));
		return -1;
	}
	return fd;
}

int
ctl_request(const struct ctl_opts *opts, struct json_object *req,
    struct json_object **reply, char *err, size_t errlen)
{
	return ctl_request_timeout(opts, req, CTL_TIMEOUT_MS, reply, err,
	    errlen);
}

int
ctl_request_timeout(const struct ctl_opts *opts, struct json_object *req,
    int wait, struct json_object **reply, char *err, size_t errlen)
{
	const char *text = json_object_to_json_string_ext(req,
	    JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text), off = 0, cap = 65536;
	struct json_object *o, *ok;
	char *buf;
	int fd;

	*reply = NULL;
	if ((fd = ctl_connect(opts->socket, err, errlen)) == -1)
		return -1;
	while (off < len + 1) {
		ssize_t n = off < len ? send(fd, text + off, len - off,
		    MSG_NOSIGNAL) : send(fd, "\n", 1, MSG_NOSIGNAL);

		if (n == -1) {
			snprintf(err, errlen, "write to %s: %s", opts->socket,
			    strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	buf = xmalloc(cap);
	off = 0;
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;

		if (poll(&pfd, 1, wait) == 0) {
			snprintf(err, errlen, "no reply from evgated within "
			    "%.1f s", wait / 1000.0);
			goto fail;
		}
		if (off + 1 >= cap) {
			if (cap >= CTL_REPLY_MAX) {
				snprintf(err, errlen, "reply too large");
				goto fail;
			}
			buf = xreallocarray(buf, cap *= 2, 1);
		}
		n = read(fd, buf + off, cap - off - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
		if (buf[off - 1] == '\n')
			break;
	}
	close(fd);
	fd = -1;
	buf[off] = '\0';
	if (off == 0) {
		snprintf(err, errlen, "evgated closed the connection without "
		    "a reply");
		goto fail;
	}
	if ((o = json_tokener_parse(buf)) == NULL ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		snprintf(err, errlen, "unreadable reply from evgated");
		goto fail;
	}
	if (!json_object_object_get_ex(o, "ok", &ok) ||
	    !json_object_get_boolean(ok)) {
		snprintf(err, errlen, "%s", ctl_str(o, "error") ?
		    ctl_str(o, "error") : "evgated reported an error");
		json_object_put(o);
		goto fail;
	}
	free(buf);
	*reply = o;
	return 0;
fail:
	if (fd != -1)
		close(fd);
	free(buf);
	return -1;
}

int
ctl_simple(const struct ctl_opts *opts, const char *cmd,
    struct json_object **reply)
{
	struct json_object *req = json_object_new_object();
	char err[1024];
	int rv;

	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	rv = ctl_request(opts, req, reply, err, sizeof(err));
	json_object_put(req);
	if (rv == -1)
		fprintf(stderr, "evgatectl: %s\n", err);
	return rv;
}

void
ctl_print_json(struct json_object *o)
{
	json_object_object_del(o, "ok");
	printf("%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
}

struct json_object *
ctl_obj(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

int64_t
ctl_int(struct json_object *o, const char *key)
{
	struct json_object *v = ctl_obj(o, key);

	return v ? json_object_get_int64(v) : 0;
}

const char *
ctl_str(struct json_object *o, const char *key)
{
	struct json_object *v = ctl_obj(o, key);

	return v && json_object_is_type(v, json_type_string) ?
	    json_object_get_string(v) : NULL;
}

const char *
ctl_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)n;
	int i = 0;

	/* 999.95 would print as "1000.0": that is the next unit's 1.0 */
	while (v >= 999.95 && i < 4) {
		v /= 1000;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, unit[i]);
	return buf;
}

const char *
ctl_duration(double s, char *buf, size_t len)
{
	unsigned long t = (unsigned long)s;

	/*
	 * Tenths of a second, cut as the longer forms cut their seconds
	 * (59.97 is "59.9s", never "60.0s" beside 60's "00:01:00"); the
	 * 1e-9 keeps a decimal like 59.9 from falling a tenth short.
	 */
	if (s < 60)
		snprintf(buf, len, "%.1fs", floor(s * 10 + 1e-9) / 10);
	else if (t < 86400)
		snprintf(buf, len, "%02lu:%02lu:%02lu", t / 3600, t / 60 % 60,
		    t % 60);
	else
		snprintf(buf, len, "%lud %02lu:%02lu:%02lu", t / 86400,
		    t / 3600 % 24, t / 60 % 60, t % 60);
	return buf;
}

struct ctl_table {
	size_t	  ncols;
	size_t	  nrows;
	char	**cells;	/* nrows x ncols, row 0 the header */
};

struct ctl_table *
ctl_table_new(size_t ncols, const char *const *headers)
{
	struct ctl_table *t = xcalloc(1, sizeof(*t));
	size_t i;

	t->ncols = ncols;
	t->cells = xcalloc(ncols, sizeof(char *));
	for (i = 0; i < ncols; i++)
		t->cells[i] = xstrdup(headers[i]);
	t->nrows = 1;
	return t;
}

void
ctl_table_row(struct ctl_table *t, ...)
{
	va_list ap;
	size_t i;

	t->cells = xreallocarray(t->cells, (t->nrows + 1) * t->ncols,
	    sizeof(char *));
	va_start(ap, t);
	for (i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);

		t->cells[t->nrows * t->ncols + i] = xstrdup(s ? s : "-");
	}
	va_end(ap);
	t->nrows++;
}

void
ctl_table_print(struct ctl_table *t, FILE *fp)
{
	size_t *w = xcalloc(t->ncols, sizeof(*w)), r, c;

	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);

			if (l > w[c])
				w[c] = l;
		}
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			if (c + 1 == t->ncols)
				fprintf(fp, "%s", s);
			else
				fprintf(fp, "%-*s  ", (int)w[c], s);
		}
		fputc('\n', fp);
	}
	free(w);
}

void
ctl_table_free(struct ctl_table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
