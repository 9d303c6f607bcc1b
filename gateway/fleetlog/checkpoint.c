/*
 * checkpoint: the live connections' end records, kept on disk so that an
 * unclean stop does not lose them (see checkpoint.h).
 *
 * The file is JSON Lines: a header, then one end record per line, each
 * exactly the event relay_report.c would emit for the connection at the
 * moment of the checkpoint, with reason "gateway-restart":
 *
 *	{"checkpoint":1,"pid":812,"saved":"2026-11-25T08:00:30.001Z","from_seq":5120}
 *	{"charger":"ZAP000101","client":"10.42.0.21",...,"reason":"gateway-restart","conn":17}
 *
 * from_seq is the fleet log's committed seq plus one when the file was
 * written: every end record of those connections that reaches the log
 * later -- their own, or one a recovery emitted -- has a seq at least
 * that, so recovery reads the log from there to find the connections
 * that need none.
 */
#include "evgate_config.h"

#include <sys/types.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/events.h"
#include "common/log.h"
#include "common/util.h"
#include "fleetlog/checkpoint.h"
#include "fleetlog/fleetlog.h"
#include "relay/relay.h"
#include "relay/relay_report.h"

#define TMP_SUFFIX	".tmp"
#define BAD_SUFFIX	".bad"

struct checkpoint {
	struct event_base	*base;
	struct fleetlog		*fl;
	struct relay		*relay;
	struct event		*timer;
	char			*dir;		/* in use; NULL: off */
	char			 name[96];	/* this run's file */
	int			 have_file;	/* it exists in dir */
	uint64_t		 interval_ms;
	/* prepared */
	int			 prepared;
	int			 next_off;
	uint64_t		 next_interval_ms;
	/* Recovered files whose records wait to be committed. */
	char			**pending;
	size_t			 npending;
	uint64_t		 pending_seq;
	struct checkpoint_stats	 st;
};

/* One record of a recovered file. */
struct entry {
	int64_t			 conn;
	const char		*start;		/* inside ev */
	uint64_t		 from_seq;	/* its file's */
	int			 closed;	/* the log has an end record */
	struct json_object	*ev;
};

static void
cp_error(struct checkpoint *cp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
cp_error(struct checkpoint *cp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cp->st.last_error, sizeof(cp->st.last_error), fmt, ap);
	va_end(ap);
	cp->st.errors++;
	log_warnx("checkpoint: %s", cp->st.last_error);
}

static int
path_of(char *buf, size_t len, const char *dir, const char *name,
    const char *suffix)
{
	int n = snprintf(buf, len, "%s/%s%s", dir, name, suffix);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Make a rename or unlink in dir survive a power cut. */
static int
sync_dir(const char *dir)
{
	int fd, rv;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rv = fsync(fd);
	close(fd);
	return rv;
}

/* --- writing --------------------------------------------------------- */

struct buf {
	char	*p;
	size_t	 len, cap;
	size_t	 n;		/* records */
	uint64_t now;
};

static void
buf_add(struct buf *b, const char *s, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len++] = '\n';
}

/* The end record a live connection would get if evgated died now. */
static void
add_record(const struct relay_record *rec, void *arg)
{
	struct buf *b = arg;
	struct json_object *o;
	const char *text;

	if (rec->state != RELAY_SPLICE)
		return;		/* not relayed: no connection event */
	o = relay_record_event(rec, b->now);
	json_object_object_add(o, "reason",
	    json_object_new_string(CHECKPOINT_REASON));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	buf_add(b, text, strlen(text));
	json_object_put(o);
	b->n++;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Remove this run's file (nothing is open, or a clean stop). */
static void
cp_remove_own(struct checkpoint *cp)
{
	char path[4096];

	if (cp->dir == NULL || !cp->have_file)
		return;
	if (path_of(path, sizeof(path), cp->dir, cp->name, "") == 0 &&
	    unlink(path) == -1 && errno != ENOENT)
		cp_error(cp, "removing %s: %s", path, strerror(errno));
	else
		sync_dir(cp->dir);
	cp->have_file = 0;
}

int
checkpoint_save(struct checkpoint *cp)
{
	struct buf b;
	char path[4096], tmp[4096], head[256], ts[40];
	uint64_t wall = now_wall_ms();
	int fd = -1, hlen;

	if (cp->dir == NULL)
		return 0;
	memset(&b, 0, sizeof(b));
	b.now = now_mono_ms();
	relay_foreach(cp->relay, add_record, &b);
	if (b.n == 0) {
		/* Nothing open: no file is the same as an empty one. */
		free(b.p);
		cp_remove_own(cp);
		cp->st.saved_conns = 0;
		return 0;
	}
	if (path_of(path, sizeof(path), cp->dir, cp->name, "") == -1 ||
	    path_of(tmp, sizeof(tmp), cp->dir, cp->name, TMP_SUFFIX) == -1) {
		free(b.p);
		cp_error(cp, "%s: path too long", cp->dir);
		return -1;
	}
	hlen = snprintf(head, sizeof(head), "{\"checkpoint\":1,\"pid\":%d,"
	    "\"saved\":\"%s\",\"from_seq\":%llu}\n", (int)getpid(),
	    format_utc_ms(wall, ts, sizeof(ts)),
	    (unsigned long long)(fleetlog_committed(cp->fl) + 1));
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0640)) == -1 || write_all(fd, head, (size_t)hlen) == -1 ||
	    write_all(fd, b.p, b.len) == -1 || fdatasync(fd) == -1)
		goto fail;
	close(fd);
	fd = -1;
	if (rename(tmp, path) == -1 || sync_dir(cp->dir) == -1)
		goto fail;
	free(b.p);
	cp->have_file = 1;
	cp->st.saves++;
	cp->st.saved_conns = b.n;
	cp->st.last_save_ms = wall;
	return 0;
fail:
	cp_error(cp, "writing %s: %s", tmp, strerror(errno));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	free(b.p);
	return -1;
}

/* --- recovery -------------------------------------------------------- */

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->conn != y->conn)
		return x->conn < y->conn ? -1 : 1;
	return strcmp(x->start, y->start);
}

/*
 * Read one file's records into *v (n, cap); the header's from_seq into
 * *from.  0, or -1 when the file is not a checkpoint (nothing added).
 */
static int
load_file(const char *path, struct entry **v, size_t *n, size_t *cap,
    uint64_t *from)
{
	struct json_object *o, *h, *x;
	struct entry *e;
	FILE *fp;
	char *line = NULL;
	size_t lcap = 0, first = *n;
	ssize_t len;
	int lineno = 0, rv = 0;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	while ((len = getline(&line, &lcap, fp)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len == 0 || len > FLEETLOG_MAX_LINE ||
		    (o = json_tokener_parse(line)) == NULL ||
		    !json_object_is_type(o, json_type_object)) {
			rv = -1;
			break;
		}
		if (lineno++ == 0) {
			/* the header */
			if (!json_object_object_get_ex(o, "checkpoint", &h) ||
			    !json_object_object_get_ex(o, "from_seq", &x) ||
			    json_object_get_int64(x) < 1) {
				json_object_put(o);
				rv = -1;
				break;
			}
			*from = (uint64_t)json_object_get_int64(x);
			json_object_put(o);
			continue;
		}
		if (!json_object_object_get_ex(o, "conn", &x) ||
		    !json_object_object_get_ex(o, "start", &h) ||
		    !json_object_is_type(h, json_type_string)) {
			json_object_put(o);
			rv = -1;
			break;
		}
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			*v = xreallocarray(*v, *cap, sizeof(**v));
		}
		e = &(*v)[(*n)++];
		e->conn = json_object_get_int64(x);
		e->start = json_object_get_string(h);
		e->from_seq = *from;
		e->closed = 0;
		e->ev = o;
	}
	free(line);
	fclose(fp);
	if (rv == -1 || lineno == 0) {
		while (*n > first)
			json_object_put((*v)[--(*n)].ev);
		return -1;
	}
	return 0;
}

/*
 * Mark the records whose connection already has an end record in the log
 * at or after their file's from_seq (sorted v; from: the smallest).
 */
static void
mark_closed(struct checkpoint *cp, const char *dir, struct entry *v,
    size_t n, uint64_t from)
{
	struct fleetlog_segment *segs = NULL;
	struct fleetlog_line fl;
	struct json_object *x, *s;
	struct entry key, *e;
	ssize_t nsegs, i, first = 0;
	char path[4096], *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	uint64_t seq, ts;
	FILE *fp;

	if ((nsegs = fleetlog_list_segments(dir, &segs)) == -1) {
		cp_error(cp, "%s: %s", dir, strerror(errno));
		return;
	}
	for (i = 0; i < nsegs; i++)
		if (segs[i].first_seq <= from)
			first = i;
	for (i = first; i < nsegs; i++) {
		if (path_of(path, sizeof(path), dir, segs[i].name, "") == -1 ||
		    (fp = fopen(path, "re")) == NULL)
			continue;
		while ((len = getline(&line, &lcap, fp)) > 0) {
			if (line[len - 1] == '\n')
				len--;
			if (fleetlog_peek_line((uint8_t *)line, (size_t)len,
			    &seq, &ts) == 0 && seq < from)
				continue;
			/* Cheap test first: most lines are not ends. */
			if (memmem(line, (size_t)len, "\"type\":\"connection\"",
			    19) == NULL)
				continue;
			if (fleetlog_parse_line((uint8_t *)line, (size_t)len, 1,
			    &fl) != FLEETLOG_LINE_OK)
				continue;
			if (strcmp(fl.type, EVENT_CONNECTION) == 0 &&
			    json_object_object_get_ex(fl.ev, "conn", &x) &&
			    json_object_object_get_ex(fl.ev, "start", &s) &&
			    json_object_is_type(s, json_type_string)) {
				key.conn = json_object_get_int64(x);
				key.start = json_object_get_string(s);
				e = bsearch(&key, v, n, sizeof(*v), entry_cmp);
				if (e != NULL && fl.seq >= e->from_seq)
					e->closed = 1;
			}
			json_object_put(fl.ev);
		}
		fclose(fp);
	}
	free(line);
	free(segs);
}

static int
is_checkpoint(const char *name, const char *suffix)
{
	size_t n = strlen(name), p = strlen(CHECKPOINT_PREFIX),
	    s = strlen(suffix);

	return n > p + s && strncmp(name, CHECKPOINT_PREFIX, p) == 0 &&
	    strcmp(name + n - s, suffix) == 0;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Forget the files whose records are in the log now. */
static void
cp_remove_pending(struct checkpoint *cp, const char *dir)
{
	char path[4096];
	size_t i;

	for (i = 0; i < cp->npending; i++) {
		if (path_of(path, sizeof(path), dir, cp->pending[i], "") == 0 &&
		    unlink(path) == -1 && errno != ENOENT)
			cp_error(cp, "removing %s: %s", path, strerror(errno));
		free(cp->pending[i]);
	}
	if (cp->npending > 0)
		sync_dir(dir);
	free(cp->pending);
	cp->pending = NULL;
	cp->npending = 0;
}

/*
 * The files other runs left in dir: emit the end records the log does not
 * have yet, flush the log, remove the files once that worked.
 */
static void
cp_recover(struct checkpoint *cp, const char *dir)
{
	struct entry *v = NULL;
	struct dirent *de;
	struct fleetlog_stats st;
	char **names = NULL, path[4096], bad[4096];
	size_t n = 0, cap = 0, nnames = 0, i, emitted = 0, skipped = 0;
	uint64_t from = 0, min_from = UINT64_MAX;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		cp_error(cp, "%s: %s", dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (is_checkpoint(de->d_name, CHECKPOINT_SUFFIX TMP_SUFFIX)) {
			/* A write cut short: its rename never happened. */
			if (path_of(path, sizeof(path), dir, de->d_name,
			    "") == 0)
				unlink(path);
			continue;
		}
		if (!is_checkpoint(de->d_name, CHECKPOINT_SUFFIX) ||
		    strcmp(de->d_name, cp->name) == 0)
			continue;
		names = xreallocarray(names, nnames + 1, sizeof(*names));
		names[nnames++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (nnames == 0) {
		free(names);
		return;
	}
	qsort(names, nnames, sizeof(*names), str_cmp);
	for (i = 0; i < nnames; i++) {
		if (path_of(path, sizeof(path), dir, names[i], "") == -1)
			continue;
		if (load_file(path, &v, &n, &cap, &from) == -1) {
			/* Kept for a person to look at, never read again. */
			cp_error(cp, "%s is not a checkpoint; renamed to %s%s",
			    path, names[i], BAD_SUFFIX);
			if (path_of(bad, sizeof(bad), dir, names[i],
			    BAD_SUFFIX) == 0)
				rename(path, bad);
			free(names[i]);
			names[i] = NULL;
			continue;
		}
		if (from < min_from)
			min_from = from;
	}
	if (n > 0) {
		qsort(v, n, sizeof(*v), entry_cmp);
		mark_closed(cp, dir, v, n, min_from);
	}
	for (i = 0; i < n; i++) {
		if (v[i].closed) {
			skipped++;
			json_object_put(v[i].ev);
			continue;
		}
		events_emit(EVENT_CONNECTION, v[i].ev);	/* taken over */
		emitted++;
	}
	free(v);
	cp->st.recovered += emitted;
	cp->st.already_closed += skipped;
	/* The files go once the log holds what they said. */
	for (i = 0; i < nnames; i++) {
		if (names[i] == NULL)
			continue;
		cp->st.files_recovered++;
		cp->pending = xreallocarray(cp->pending, cp->npending + 1,
		    sizeof(*cp->pending));
		cp->pending[cp->npending++] = names[i];
	}
	free(names);
	if (emitted + skipped > 0 || cp->npending > 0)
		log_info("checkpoint: after an unclean stop: %zu open "
		    "connection%s closed as %s, %zu already in the log",
		    emitted, emitted == 1 ? "" : "s", CHECKPOINT_REASON,
		    skipped);
	fleetlog_stats(cp->fl, &st);
	cp->pending_seq = st.next_seq - 1;
	if (fleetlog_flush(cp->fl) == 0)
		cp_remove_pending(cp, dir);
	else
		log_warnx("checkpoint: the fleet log cannot write; the "
		    "recovered files stay until it can");
}

/* --- the timer and the lifecycle ------------------------------------- */

static void
cp_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct checkpoint *cp = arg;

	if (cp->dir == NULL)
		return;
	if (cp->npending > 0 && fleetlog_committed(cp->fl) >= cp->pending_seq)
		cp_remove_pending(cp, cp->dir);
	checkpoint_save(cp);
}

struct checkpoint *
checkpoint_new(struct event_base *base, struct fleetlog *fl,
    struct relay *relay)
{
	struct checkpoint *cp = xcalloc(1, sizeof(*cp));

	cp->base = base;
	cp->fl = fl;
	cp->relay = relay;
	cp->timer = event_new(base, -1, EV_PERSIST, cp_timer_cb, cp);
	snprintf(cp->name, sizeof(cp->name), CHECKPOINT_PREFIX "%llu-%d"
	    CHECKPOINT_SUFFIX, (unsigned long long)now_wall_ms(),
	    (int)getpid());
	return cp;
}

int
checkpoint_prepare(struct checkpoint *cp, const struct cfg_log *c,
    char *err, size_t errlen)
{
	cp->next_off = c == NULL;
	cp->next_interval_ms = c != NULL ? c->checkpoint_ms : 0;
	cp->prepared = 1;
	return 0;
}

void
checkpoint_abort(struct checkpoint *cp)
{
	cp->prepared = 0;
}

void
checkpoint_commit(struct checkpoint *cp)
{
	const char *dir;
	struct timeval tv;

	if (!cp->prepared)
		return;
	cp->prepared = 0;
	dir = cp->next_off ? NULL : fleetlog_dir(cp->fl);
	if (cp->dir != NULL && (dir == NULL || strcmp(cp->dir, dir) != 0)) {
		/* The connections' end records go to the new log now. */
		cp_remove_own(cp);
		if (cp->npending > 0)
			log_warnx("checkpoint: %s: %zu recovered files left "
			    "behind", cp->dir, cp->npending);
		while (cp->npending > 0)
			free(cp->pending[--cp->npending]);
		free(cp->pending);
		cp->pending = NULL;
		free(cp->dir);
		cp->dir = NULL;
	}
	cp->interval_ms = cp->next_interval_ms;
	event_del(cp->timer);
	if (dir == NULL)
		return;
	if (cp->dir == NULL) {
		cp->dir = xstrdup(dir);
		cp_recover(cp, cp->dir);
		checkpoint_save(cp);	/* live ones, after a reload */
	}
	tv.tv_sec = (time_t)(cp->interval_ms / 1000);
	tv.tv_usec = (suseconds_t)(cp->interval_ms % 1000) * 1000;
	event_add(cp->timer, &tv);
}

void
checkpoint_free(struct checkpoint *cp)
{
	if (cp == NULL)
		return;
	event_free(cp->timer);
	if (cp->dir != NULL) {
		/* Every end record in the log: nothing to recover. */
		if (fleetlog_flush(cp->fl) == 0) {
			cp_remove_own(cp);
			cp_remove_pending(cp, cp->dir);
		} else if (cp->have_file)
			log_warnx("checkpoint: the fleet log could not write "
			    "its last events; %s/%s stays for the next start",
			    cp->dir, cp->name);
	}
	while (cp->npending > 0)
		free(cp->pending[--cp->npending]);
	free(cp->pending);
	free(cp->dir);
	free(cp);
}

void
checkpoint_stats(const struct checkpoint *cp, struct checkpoint_stats *st)
{
	*st = cp->st;
}

struct json_object *
checkpoint_status(void *arg)
{
	struct checkpoint *cp = arg;
	struct json_object *o = json_object_new_object();
	char buf[40];

#define ADD_INT(k, v) json_object_object_add(o, (k), \
	json_object_new_int64((int64_t)(v)))
	json_object_object_add(o, "enabled",
	    json_object_new_boolean(cp->dir != NULL));
	if (cp->dir != NULL)
		json_object_object_add(o, "file",
		    json_object_new_string(cp->name));
	ADD_INT("interval_ms", cp->interval_ms);
	ADD_INT("saves", cp->st.saves);
	ADD_INT("connections", cp->st.saved_conns);
	if (cp->st.last_save_ms != 0)
		json_object_object_add(o, "last_save", json_object_new_string(
		    format_utc_ms(cp->st.last_save_ms, buf, sizeof(buf))));
	ADD_INT("recovered", cp->st.recovered);
	ADD_INT("already_closed", cp->st.already_closed);
	ADD_INT("files_recovered", cp->st.files_recovered);
	ADD_INT("errors", cp->st.errors);
	if (cp->st.last_error[0] != '\0')
		json_object_object_add(o, "last_error",
		    json_object_new_string(cp->st.last_error));
#undef ADD_INT
	return o;
}
