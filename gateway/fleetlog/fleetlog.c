/*
 * fleetlog: see fleetlog.h.  The write path in one picture:
 *
 *   events_emit -> fleetlog_append: serialise, give seq, queue (bounded)
 *   timer (fsync_interval) -> flush: per segment, writev the lines, then
 *       fdatasync; only then are those events committed and dequeued.
 *       A failed write is cut back with ftruncate, the events stay queued,
 *       and the next try is FLEETLOG_RETRY_MS later.
 *   rotation: before an event that would cross segment_bytes or UTC
 *       midnight; the new file's directory entry is synced before use.
 *   retention: a prefix of the seq-ordered segments is deleted (never
 *       the one being written), by mtime age and by total size.
 *
 * The writer is the only one that assigns seq; it continues after the
 * last good line on disk, or after the newest segment's name when that
 * segment holds no good line.
 */
#include "evgate_config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/queue.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "common/cfg.h"
#include "common/events.h"
#include "fleetlog/fleetlog.h"
#include "common/log.h"
#include "common/util.h"

#define DAY_MS			86400000ULL
#define EARLY_FLUSH_EVENTS	4096
#define EARLY_FLUSH_BYTES	(1024 * 1024)
#define RETENTION_EVERY_MS	(3600 * 1000)
#define SCAN_BUF		(FLEETLOG_MAX_LINE + 1)

struct entry {
	TAILQ_ENTRY(entry)	 link;
	uint64_t		 seq;
	uint64_t		 wall_ms;	/* fleetlog's clock at append */
	size_t			 len;		/* with the newline */
	char			 line[];
};

/*
 * A log directory opened and scanned, ready to be taken over: what
 * prepare makes beside the running directory.
 */
struct fl_dir {
	int			 dirfd;		/* -1: none */
	int			 fd;		/* last segment, or -1 */
	struct fleetlog_segment	*segs;
	size_t			 nsegs;
	uint64_t		 next_seq;
	uint64_t		 recovered;	/* torn tail cut, bytes */
};

struct fleetlog {
	struct event_base	*base;
	int			 enabled;
	struct cfg_log		 conf;		/* own copy; conf.dir owned */
	int			 dirfd;
	int			 fd;		/* segment being written, or -1 */
	int			 seg_dirty;	/* a cut-back failed: rotate */
	uint64_t		 seg_size;
	uint64_t		 seg_day;
	struct fleetlog_segment	*segs;		/* seq order; last = fd's */
	size_t			 nsegs;
	TAILQ_HEAD(, entry)	 queue;
	uint64_t		 queue_max;
	uint64_t		 next_retry_mono;
	uint64_t		 last_retention_mono;
	uint64_t		 drops_unreported;
	struct fleetlog_stats	 st;
	struct event		*timer;
	struct event		*kick;
	fleetlog_clock_fn	 clock;
	void			*clock_arg;
	void			(*commit_cb)(uint64_t, void *);
	void			*commit_arg;
	/* prepared by fleetlog_prepare, for the next commit */
	int			 prepared;
	int			 next_off;
	struct cfg_log		 next_conf;	/* dir owned */
	struct fl_dir		 next_dir;	/* dirfd -1: same directory */
};

static int	fl_flush(struct fleetlog *, int force);

/* --- configuration --------------------------------------------------- */

static int
log_dir(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_log *l = arg;

	if (cfg_str(ctx, node, &l->dir) == -1)
		return -1;
	if (l->dir[0] != '/')
		return cfg_error(ctx, node, "the log directory must be an "
		    "absolute path");
	if (strlen(l->dir) > PATH_MAX - FLEETLOG_SEG_NAMELEN - 2)
		return cfg_error(ctx, node, "the log directory path is too "
		    "long");
	return 0;
}

static int
log_retention(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_log *l = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 0, 36500, &v) == -1)
		return -1;
	l->retention_days = (unsigned)v;
	return 0;
}

static int
log_max_mb(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_log *l = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 1, 1024 * 1024, &v) == -1)
		return -1;
	l->max_bytes = (uint64_t)v * 1024 * 1024;
	return 0;
}

static int
log_segment_mb(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_log *l = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 1, 1024, &v) == -1)
		return -1;
	l->segment_bytes = (uint64_t)v * 1024 * 1024;
	return 0;
}

static int
log_queue(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_log *l = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 10, 10000000, &v) == -1)
		return -1;
	l->queue_max = (unsigned)v;
	return 0;
}

static int
log_fsync(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_log *l = arg;

	return cfg_duration(ctx, node, 10, 60000, &l->fsync_ms);
}

static int
log_checkpoint(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_log *l = arg;

	return cfg_duration(ctx, node, 1000, 3600000, &l->checkpoint_ms);
}

int
fleetlog_cfg_section(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "dir", log_dir, 0 },
		{ "retention_days", log_retention, 0 },
		{ "max_mb", log_max_mb, 0 },
		{ "segment_mb", log_segment_mb, 0 },
		{ "fsync_interval", log_fsync, 0 },
		{ "queue_max", log_queue, 0 },
		{ "checkpoint_interval", log_checkpoint, 0 },
		{ NULL, NULL, 0 },
	};
	struct cfg_log **out = arg, *l;

	l = *out = xcalloc(1, sizeof(*l));
	l->retention_days = 90;
	l->max_bytes = 1024ULL * 1024 * 1024;
	l->segment_bytes = 16ULL * 1024 * 1024;
	l->fsync_ms = 1000;
	l->checkpoint_ms = 30000;
	l->queue_max = FLEETLOG_QUEUE_MAX;
	if (cfg_map(ctx, node, keys, l) == -1)
		return -1;
	if (l->dir == NULL)
		l->dir = xstrdup(LOCALSTATEDIR "/lib/evgate/log");
	if (l->segment_bytes > l->max_bytes)
		return cfg_error(ctx, node, "segment_mb (%llu) is larger than "
		    "max_mb (%llu)",
		    (unsigned long long)(l->segment_bytes >> 20),
		    (unsigned long long)(l->max_bytes >> 20));
	return 0;
}

void
fleetlog_cfg_free(struct cfg_log *l)
{
	if (l == NULL)
		return;
	free(l->dir);
	free(l);
}

/* --- timestamps and lines -------------------------------------------- */

static int
digits(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int
fleetlog_parse_ts(const char *s, size_t len, uint64_t *out)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	unsigned y, mo, d, h, mi, sec, oh = 0, om = 0, frac = 0;
	size_t i = 19, nfrac = 0;
	int64_t days, ms;
	int sign = 0;

	/* YYYY-MM-DDTHH:MM:SS[.fff][Z|+hh:mm|-hh:mm] */
	if (len < 20 || len > 40)
		return -1;
	if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' &&
	    s[10] != ' ') || s[13] != ':' || s[16] != ':')
		return -1;
	if (digits(s, 4, &y) == -1 || digits(s + 5, 2, &mo) == -1 ||
	    digits(s + 8, 2, &d) == -1 || digits(s + 11, 2, &h) == -1 ||
	    digits(s + 14, 2, &mi) == -1 || digits(s + 17, 2, &sec) == -1)
		return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 ||
	    y % 400 == 0))) || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (i < len && s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nfrac++)
			if (nfrac < 3)
				frac = frac * 10 + (unsigned)(s[i] - '0');
		if (nfrac == 0 || nfrac > 9)
			return -1;
		for (; nfrac < 3; nfrac++)
			frac *= 10;
	}
	if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z'))
		;
	else if (i + 6 == len && (s[i] == '+' || s[i] == '-') &&
	    s[i + 3] == ':' && digits(s + i + 1, 2, &oh) == 0 &&
	    digits(s + i + 4, 2, &om) == 0 && oh <= 23 && om <= 59)
		sign = s[i] == '+' ? 1 : -1;
	else
		return -1;
	if (sec == 60)		/* a leap second: hold the clock */
		sec = 59;
	days = days_from_civil(y, mo, d);
	ms = ((days * 24 + h) * 60 + mi) * 60 + sec;
	ms -= sign * (int64_t)(oh * 3600 + om * 60);
	if (ms < 0)
		return -1;
	*out = (uint64_t)ms * 1000 + frac;
	return 0;
}

const char *
fleetlog_line_status_str(enum fleetlog_line_status s)
{
	static const char *const names[] = { "ok", "empty", "too long",
	    "not JSON", "not an object", "no seq", "no ts", "no type" };

	return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

enum fleetlog_line_status
fleetlog_parse_line(const uint8_t *buf, size_t len, int want_ev,
    struct fleetlog_line *out)
{
	struct json_tokener *tok;
	struct json_object *o = NULL, *v;
	enum fleetlog_line_status rv = FLEETLOG_LINE_OK;
	const char *s;
	size_t i;
	int64_t seq;

	memset(out, 0, sizeof(*out));
	if (len > FLEETLOG_MAX_LINE)
		return FLEETLOG_LINE_TOO_LONG;
	for (i = 0; i < len; i++)
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r')
			break;
	if (i == len)
		return FLEETLOG_LINE_EMPTY;
	if (memchr(buf, '\0', len) != NULL)
		return FLEETLOG_LINE_NOT_JSON;
	/* An event is flat or nearly so: depth 16 bounds the recursion. */
	if ((tok = json_tokener_new_ex(16)) == NULL)
		return FLEETLOG_LINE_NOT_JSON;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		/* trailing blanks (a CR from an editor) are tolerated */
		size_t end = json_tokener_get_parse_end(tok);

		if (o == NULL || json_tokener_get_error(tok) !=
		    json_tokener_success) {
			rv = FLEETLOG_LINE_NOT_JSON;
			goto out;
		}
		for (i = end; i < len; i++)
			if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r')
				break;
		if (i != len) {
			rv = FLEETLOG_LINE_NOT_JSON;
			goto out;
		}
	}
	if (!json_object_is_type(o, json_type_object)) {
		rv = FLEETLOG_LINE_NOT_OBJECT;
		goto out;
	}
	if (!json_object_object_get_ex(o, "seq", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    (seq = json_object_get_int64(v)) <= 0) {
		rv = FLEETLOG_LINE_BAD_SEQ;
		goto out;
	}
	out->seq = (uint64_t)seq;
	if (!json_object_object_get_ex(o, "ts", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    fleetlog_parse_ts(json_object_get_string(v),
	    (size_t)json_object_get_string_len(v), &out->ts_ms) == -1) {
		rv = FLEETLOG_LINE_BAD_TS;
		goto out;
	}
	if (!json_object_object_get_ex(o, "type", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		rv = FLEETLOG_LINE_BAD_TYPE;
		goto out;
	}
	s = json_object_get_string(v);
	strlcpy(out->type, s, sizeof(out->type));
out:
	json_tokener_free(tok);
	if (rv == FLEETLOG_LINE_OK && want_ev)
		out->ev = o;
	else
		json_object_put(o);
	if (rv != FLEETLOG_LINE_OK) {
		out->seq = 0;
		out->ts_ms = 0;
		out->type[0] = '\0';
	}
	return rv;
}

int
fleetlog_peek_line(const uint8_t *buf, size_t len, uint64_t *seq,
    uint64_t *ts_ms)
{
	static const char p1[] = "{\"seq\":", p2[] = ",\"ts\":\"";
	const char *s = (const char *)buf;
	size_t i = sizeof(p1) - 1, start, n = 0;
	uint64_t v = 0;

	if (len < sizeof(p1) - 1 || memcmp(s, p1, sizeof(p1) - 1) != 0)
		return -1;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, n++) {
		if (n == 0 && s[i] == '0')
			return -1;
		if (n >= 18)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (n == 0 || len - i < sizeof(p2) - 1 ||
	    memcmp(s + i, p2, sizeof(p2) - 1) != 0)
		return -1;
	start = i += sizeof(p2) - 1;
	for (; i < len && i - start <= 40 && s[i] != '"'; i++)
		;
	if (i >= len || s[i] != '"' ||
	    fleetlog_parse_ts(s + start, i - start, ts_ms) == -1)
		return -1;
	*seq = v;
	return 0;
}

/* --- segment names and listing --------------------------------------- */

void
fleetlog_segment_name(uint64_t start_ms, uint64_t first_seq, char *buf,
    size_t len)
{
	char when[32];

	format_utc(start_ms, "%Y%m%dT%H%M%SZ", when, sizeof(when));
	snprintf(buf, len, FLEETLOG_SEG_PREFIX "%.16s-%012llu"
	    FLEETLOG_SEG_SUFFIX, when, (unsigned long long)first_seq);
}

int
fleetlog_segment_parse_name(const char *name, uint64_t *start_ms,
    uint64_t *first_seq)
{
	/* events-YYYYMMDDTHHMMSSZ-NNNNNNNNNNNN.jsonl */
	const size_t plen = sizeof(FLEETLOG_SEG_PREFIX) - 1;
	const size_t slen = sizeof(FLEETLOG_SEG_SUFFIX) - 1;
	size_t len = strlen(name), i;
	char ts[24];
	uint64_t seq = 0;

	if (len != plen + 16 + 1 + 12 + slen ||
	    strncmp(name, FLEETLOG_SEG_PREFIX, plen) != 0 ||
	    strcmp(name + len - slen, FLEETLOG_SEG_SUFFIX) != 0 ||
	    name[plen + 8] != 'T' || name[plen + 15] != 'Z' ||
	    name[plen + 16] != '-')
		return -1;
	/* Rebuild it as RFC 3339 and let the one parser check it. */
	snprintf(ts, sizeof(ts), "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", name + plen,
	    name + plen + 4, name + plen + 6, name + plen + 9,
	    name + plen + 11, name + plen + 13);
	if (fleetlog_parse_ts(ts, strlen(ts), start_ms) == -1)
		return -1;
	for (i = plen + 17; i < plen + 29; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		seq = seq * 10 + (uint64_t)(name[i] - '0');
	}
	*first_seq = seq;
	return 0;
}

static int
seg_cmp(const void *a, const void *b)
{
	const struct fleetlog_segment *x = a, *y = b;

	if (x->first_seq != y->first_seq)
		return x->first_seq < y->first_seq ? -1 : 1;
	return strcmp(x->name, y->name);
}

static ssize_t
list_segments_fd(int dirfd, struct fleetlog_segment **out)
{
	struct fleetlog_segment *segs = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir;
	int fd;

	*out = NULL;
	if ((fd = dup(dirfd)) == -1)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL) {
		struct fleetlog_segment s;
		struct stat sb;

		memset(&s, 0, sizeof(s));
		if (fleetlog_segment_parse_name(de->d_name, &s.start_ms,
		    &s.first_seq) == -1)
			continue;
		if (fstatat(dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(sb.st_mode))
			continue;
		strlcpy(s.name, de->d_name, sizeof(s.name));
		s.size = (uint64_t)sb.st_size;
		s.mtime = (int64_t)sb.st_mtime;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			segs = xreallocarray(segs, cap, sizeof(*segs));
		}
		segs[n++] = s;
	}
	closedir(dir);
	if (n > 1)
		qsort(segs, n, sizeof(*segs), seg_cmp);
	*out = segs;
	return (ssize_t)n;
}

ssize_t
fleetlog_list_segments(const char *path, struct fleetlog_segment **out)
{
	ssize_t n;
	int dirfd, e;

	*out = NULL;
	if ((dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	n = list_segments_fd(dirfd, out);
	e = errno;
	close(dirfd);
	errno = e;
	return n;
}

/* --- the directory: open, recover ------------------------------------ */

struct scan {
	uint64_t	 good_end;	/* offset after the last good line */
	uint64_t	 last_seq;	/* of the last good line */
	uint64_t	 size;
};

/*
 * Find the last complete, valid line of a segment.  Everything after it
 * is a torn tail: bytes without a newline, or lines that do not parse.
 */
static int
scan_segment(int fd, struct scan *sc)
{
	uint8_t *buf = xmalloc(SCAN_BUF);
	size_t have = 0;
	uint64_t off = 0;	/* file offset of buf[0] */
	int skipping = 0, rv = -1;

	memset(sc, 0, sizeof(sc[0]));
	for (;;) {
		ssize_t n = pread(fd, buf + have, SCAN_BUF - have,
		    (off_t)(off + have));
		size_t start = 0;
		uint8_t *nl;

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto out;
		if (n == 0)
			break;
		have += (size_t)n;
		while ((nl = memchr(buf + start, '\n', have - start)) != NULL) {
			size_t len = (size_t)(nl - (buf + start));
			struct fleetlog_line line;

			if (!skipping && fleetlog_parse_line(buf + start, len,
			    0, &line) == FLEETLOG_LINE_OK) {
				sc->good_end = off + start + len + 1;
				sc->last_seq = line.seq;
			}
			skipping = 0;
			start += len + 1;
		}
		if (start == 0 && have == SCAN_BUF) {
			/* a line too long to be ours: skip to its end */
			skipping = 1;
			start = have;
		}
		memmove(buf, buf + start, have - start);
		off += start;
		have -= start;
	}
	sc->size = off + have;
	rv = 0;
out:
	free(buf);
	return rv;
}

static void
fl_set_error(struct fleetlog *fl, int e, const char *what)
{
	enum fleetlog_state was = fl->st.state;

	fl->st.write_errors++;
	fl->st.state = (e == ENOSPC || e == EDQUOT || e == EIO) ?
	    FLEETLOG_DISK_FULL : FLEETLOG_ERROR;
	snprintf(fl->st.last_error, sizeof(fl->st.last_error), "%s: %s",
	    what, strerror(e));
	fl->next_retry_mono = now_mono_ms() + FLEETLOG_RETRY_MS;
	if (was == FLEETLOG_OK)
		log_warnx("fleet log %s: %s; %llu events wait in memory, "
		    "retrying every %ds", fl->conf.dir, fl->st.last_error,
		    (unsigned long long)fl->st.queued, FLEETLOG_RETRY_MS / 1000);
}

static void
fl_close_segment(struct fleetlog *fl)
{
	if (fl->fd != -1)
		close(fl->fd);
	fl->fd = -1;
	fl->seg_size = 0;
	fl->seg_dirty = 0;
}

/* Close the segment; an empty one is removed (its name is reused). */
static void
fl_end_segment(struct fleetlog *fl)
{
	if (fl->fd != -1 && fl->seg_size == 0 && !fl->seg_dirty &&
	    fl->nsegs > 0) {
		unlinkat(fl->dirfd, fl->segs[fl->nsegs - 1].name, 0);
		fl->nsegs--;
	}
	fl_close_segment(fl);
}

static void
fl_recount(struct fleetlog *fl)
{
	size_t i;

	fl->st.segments = fl->nsegs;
	fl->st.bytes = 0;
	for (i = 0; i < fl->nsegs; i++)
		fl->st.bytes += fl->segs[i].size;
}

static void
fl_dir_close(struct fl_dir *d)
{
	if (d->fd != -1)
		close(d->fd);
	if (d->dirfd != -1)
		close(d->dirfd);
	free(d->segs);
	memset(d, 0, sizeof(*d));
	d->dirfd = d->fd = -1;
}

/*
 * Open (create) dir, cut a torn tail, find where seq goes on.  The cut is
 * the one change made to the directory: the bytes are garbage whoever
 * opens it next.
 */
static int
fl_dir_open(const char *dir, struct fl_dir *d, char *err, size_t errlen)
{
	struct scan sc;
	ssize_t n;

	memset(d, 0, sizeof(*d));
	d->dirfd = d->fd = -1;
	d->next_seq = 1;
	if (mkdir_p(dir, 0750, (uid_t)-1, 0, err, errlen) == -1)
		return -1;
	if ((d->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot open %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if ((n = list_segments_fd(d->dirfd, &d->segs)) == -1) {
		snprintf(err, errlen, "cannot list %s: %s", dir,
		    strerror(errno));
		goto fail;
	}
	d->nsegs = (size_t)n;
	if (n > 0) {
		struct fleetlog_segment *last = &d->segs[n - 1];

		d->fd = openat(d->dirfd, last->name, O_RDWR | O_APPEND |
		    O_CLOEXEC);
		if (d->fd == -1 || scan_segment(d->fd, &sc) == -1) {
			snprintf(err, errlen, "cannot read %s/%s: %s", dir,
			    last->name, strerror(errno));
			goto fail;
		}
		if (sc.good_end < sc.size) {
			log_warnx("fleet log: %s/%s: cutting a torn tail of "
			    "%llu bytes (a write that a crash interrupted)",
			    dir, last->name,
			    (unsigned long long)(sc.size - sc.good_end));
			if (ftruncate(d->fd, (off_t)sc.good_end) == -1 ||
			    fdatasync(d->fd) == -1) {
				snprintf(err, errlen, "cannot truncate %s/%s: "
				    "%s", dir, last->name, strerror(errno));
				goto fail;
			}
			d->recovered = sc.size - sc.good_end;
		}
		last->size = sc.good_end;
		d->next_seq = sc.last_seq + 1;
		if (last->first_seq > d->next_seq)
			d->next_seq = last->first_seq;
	}
	return 0;
fail:
	fl_dir_close(d);
	return -1;
}

/* Make d the directory in use (d is emptied). */
static void
fl_dir_take(struct fleetlog *fl, struct fl_dir *d)
{
	fl_close_segment(fl);
	if (fl->dirfd != -1)
		close(fl->dirfd);
	free(fl->segs);
	fl->dirfd = d->dirfd;
	fl->segs = d->segs;
	fl->nsegs = d->nsegs;
	fl->fd = d->fd;
	if (fl->fd != -1) {
		fl->seg_size = fl->segs[fl->nsegs - 1].size;
		fl->seg_day = fl->segs[fl->nsegs - 1].start_ms / DAY_MS;
	}
	fl->st.recovered_bytes += d->recovered;
	fl->st.next_seq = d->next_seq;
	fl->st.committed_seq = d->next_seq - 1;
	fl_recount(fl);
	memset(d, 0, sizeof(*d));
	d->dirfd = d->fd = -1;
}

/* --- retention ------------------------------------------------------- */

static void
fl_retention(struct fleetlog *fl)
{
	uint64_t now = fl->clock(fl->clock_arg);
	uint64_t max_age = (uint64_t)fl->conf.retention_days * DAY_MS;
	size_t del = 0;

	fl->last_retention_mono = now_mono_ms();
	fl_recount(fl);
	/* Only a prefix, and never the segment being written (the last). */
	while (del + 1 < fl->nsegs) {
		struct fleetlog_segment *s = &fl->segs[del];
		int too_big = fl->st.bytes > fl->conf.max_bytes;
		int too_old = max_age != 0 &&
		    (uint64_t)s->mtime * 1000 + max_age < now;

		if (!too_big && !too_old)
			break;
		if (unlinkat(fl->dirfd, s->name, 0) == -1 && errno != ENOENT) {
			log_warn("fleet log: cannot delete %s/%s", fl->conf.dir,
			    s->name);
			break;
		}
		log_info("fleet log: deleted %s (%s)", s->name, too_big ?
		    "over max_mb" : "older than retention_days");
		fl->st.bytes -= s->size;
		fl->st.deleted++;
		del++;
	}
	if (del > 0) {
		memmove(fl->segs, fl->segs + del,
		    (fl->nsegs - del) * sizeof(*fl->segs));
		fl->nsegs -= del;
		fsync(fl->dirfd);
		fl_recount(fl);
	}
}

/* --- writing --------------------------------------------------------- */

/* Start a new segment for e; 0 or -1 (errno set). */
static int
fl_rotate(struct fleetlog *fl, const struct entry *e)
{
	struct fleetlog_segment s;
	int fd;

	fl_end_segment(fl);
	memset(&s, 0, sizeof(s));
	s.start_ms = e->wall_ms;
	s.first_seq = e->seq;
	s.mtime = (int64_t)(e->wall_ms / 1000);
	fleetlog_segment_name(s.start_ms, s.first_seq, s.name, sizeof(s.name));
	fd = openat(fl->dirfd, s.name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND |
	    O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	/* The new name must survive a power cut before data goes in. */
	if (fsync(fl->dirfd) == -1) {
		int e2 = errno;

		close(fd);
		unlinkat(fl->dirfd, s.name, 0);
		errno = e2;
		return -1;
	}
	fl->fd = fd;
	fl->seg_size = 0;
	fl->seg_day = e->wall_ms / DAY_MS;
	fl->segs = xreallocarray(fl->segs, fl->nsegs + 1, sizeof(*fl->segs));
	fl->segs[fl->nsegs++] = s;
	fl_retention(fl);
	return 0;
}

static int
fl_needs_rotation(const struct fleetlog *fl, const struct entry *e)
{
	if (fl->fd == -1 || fl->seg_dirty)
		return 1;
	if (e->wall_ms / DAY_MS != fl->seg_day)
		return 1;
	return fl->seg_size > 0 &&
	    fl->seg_size + e->len > fl->conf.segment_bytes;
}

/* writev(2) all of iov, across short writes; 0 or -1 with errno. */
static int
writev_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		/* advance past what was taken */
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/*
 * Write the queued lines that belong in the current segment (up to the
 * size limit or midnight) and sync them with one fdatasync.
 */
static int
fl_write_some(struct fleetlog *fl, const char **what)
{
	struct iovec iov[IOV_MAX];
	struct entry *e = TAILQ_FIRST(&fl->queue), *last = NULL;
	uint64_t size = fl->seg_size;
	int n;

	while (e != NULL) {
		for (n = 0; e != NULL && n < IOV_MAX; e = TAILQ_NEXT(e, link)) {
			if (last != NULL && (e->wall_ms / DAY_MS !=
			    fl->seg_day || size + e->len >
			    fl->conf.segment_bytes))
				break;
			iov[n].iov_base = e->line;
			iov[n].iov_len = e->len;
			size += e->len;
			last = e;
			n++;
		}
		if (writev_all(fl->fd, iov, n) == -1) {
			*what = "write";
			goto undo;
		}
		if (n < IOV_MAX)
			break;	/* the segment is full, or the queue empty */
	}
	if (fdatasync(fl->fd) == -1) {
		*what = "fdatasync";
		goto undo;
	}
	/* Committed: these events are on disk. */
	fl->st.bytes += size - fl->seg_size;
	fl->seg_size = size;
	fl->segs[fl->nsegs - 1].size = size;
	fl->segs[fl->nsegs - 1].mtime = (int64_t)(fl->clock(fl->clock_arg) /
	    1000);
	fl->st.committed_seq = last->seq;
	while ((e = TAILQ_FIRST(&fl->queue)) != NULL) {
		TAILQ_REMOVE(&fl->queue, e, link);
		fl->st.queued--;
		fl->st.queued_bytes -= e->len;
		fl->st.written++;
		if (e == last) {
			free(e);
			break;
		}
		free(e);
	}
	fl->st.batches++;
	return 0;
undo:
	{
		int e2 = errno;

		/* Cut back to the last committed byte; the events stay. */
		if (ftruncate(fl->fd, (off_t)fl->seg_size) == -1)
			fl->seg_dirty = 1;
		errno = e2;
	}
	return -1;
}

static void
fl_report_drops(struct fleetlog *fl, const char *reason)
{
	struct json_object *ev;
	char ts[40];

	if (fl->drops_unreported == 0)
		return;
	ev = json_object_new_object();
	json_object_object_add(ev, "ts", json_object_new_string(
	    format_utc_ms(fl->clock(fl->clock_arg), ts, sizeof(ts))));
	json_object_object_add(ev, "type",
	    json_object_new_string(FLEETLOG_EVENT_LOG));
	json_object_object_add(ev, "state", json_object_new_string("resumed"));
	json_object_object_add(ev, "dropped",
	    json_object_new_int64((int64_t)fl->drops_unreported));
	json_object_object_add(ev, "reason", json_object_new_string(reason));
	fl->drops_unreported = 0;
	fleetlog_append(ev, fl);
	json_object_put(ev);
}

static int
fl_flush(struct fleetlog *fl, int force)
{
	const char *what = "write";
	enum fleetlog_state was = fl->st.state;
	uint64_t before = fl->st.committed_seq;

	if (!fl->enabled)
		return 0;
	if (fl->st.state != FLEETLOG_OK && !force &&
	    now_mono_ms() < fl->next_retry_mono)
		return -1;
	if (fl->seg_dirty && fl->fd != -1 &&
	    ftruncate(fl->fd, (off_t)fl->seg_size) == 0)
		fl->seg_dirty = 0;
	while (!TAILQ_EMPTY(&fl->queue)) {
		struct entry *e = TAILQ_FIRST(&fl->queue);

		if (fl_needs_rotation(fl, e) && fl_rotate(fl, e) == -1) {
			what = "create segment";
			goto fail;
		}
		if (fl_write_some(fl, &what) == -1)
			goto fail;
	}
	if (was != FLEETLOG_OK) {
		log_info("fleet log %s: writing again (%llu events were "
		    "dropped meanwhile)", fl->conf.dir,
		    (unsigned long long)fl->drops_unreported);
		fl->st.state = FLEETLOG_OK;
		fl->st.last_error[0] = '\0';
	}
	fl_report_drops(fl, was == FLEETLOG_DISK_FULL ? "disk-full" :
	    was == FLEETLOG_ERROR ? "write-error" : "queue-full");
	if (now_mono_ms() - fl->last_retention_mono >= RETENTION_EVERY_MS)
		fl_retention(fl);
	if (fl->commit_cb != NULL && fl->st.committed_seq != before)
		fl->commit_cb(fl->st.committed_seq, fl->commit_arg);
	return 0;
fail:
	fl_set_error(fl, errno, what);
	if (fl->commit_cb != NULL && fl->st.committed_seq != before)
		fl->commit_cb(fl->st.committed_seq, fl->commit_arg);
	return -1;
}

int
fleetlog_flush(struct fleetlog *fl)
{
	return fl_flush(fl, 1);
}

static void
fl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	fl_flush(arg, 0);
}

void
fleetlog_append(struct json_object *ev, void *arg)
{
	struct fleetlog *fl = arg;
	const char *text;
	size_t tlen, len;
	struct entry *e;
	char head[32];
	int hlen;

	if (fl == NULL || !fl->enabled)
		return;
	text = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	tlen = strlen(text);
	/* {"seq":N, + the event without its "{" + newline */
	hlen = snprintf(head, sizeof(head), "{\"seq\":%llu%s",
	    (unsigned long long)fl->st.next_seq, tlen > 2 ? "," : "");
	len = (size_t)hlen + tlen;
	if (tlen < 2 || text[0] != '{' || len > FLEETLOG_MAX_LINE ||
	    fl->st.queued >= fl->queue_max ||
	    fl->st.queued_bytes + len > FLEETLOG_QUEUE_BYTES) {
		fl->st.dropped++;
		fl->drops_unreported++;
		return;
	}
	e = xmalloc(sizeof(*e) + len);
	memcpy(e->line, head, (size_t)hlen);
	memcpy(e->line + hlen, text + 1, tlen - 1);
	e->line[len - 1] = '\n';
	e->len = len;
	e->seq = fl->st.next_seq++;
	e->wall_ms = fl->clock(fl->clock_arg);
	TAILQ_INSERT_TAIL(&fl->queue, e, link);
	fl->st.queued++;
	fl->st.queued_bytes += len;
	if (fl->kick != NULL && (fl->st.queued >= EARLY_FLUSH_EVENTS ||
	    fl->st.queued_bytes >= EARLY_FLUSH_BYTES) &&
	    fl->st.state == FLEETLOG_OK)
		event_active(fl->kick, EV_TIMEOUT, 0);
}

/* --- life cycle ------------------------------------------------------ */

static uint64_t
default_clock(void *arg)
{
	return now_wall_ms();
}

struct fleetlog *
fleetlog_new(struct event_base *base)
{
	struct fleetlog *fl = xcalloc(1, sizeof(*fl));

	fl->base = base;
	fl->dirfd = fl->fd = -1;
	fl->next_dir.dirfd = fl->next_dir.fd = -1;
	fl->queue_max = FLEETLOG_QUEUE_MAX;
	fl->clock = default_clock;
	fl->st.next_seq = 1;
	TAILQ_INIT(&fl->queue);
	if (base != NULL) {
		fl->timer = event_new(base, -1, EV_PERSIST, fl_timer_cb, fl);
		fl->kick = event_new(base, -1, 0, fl_timer_cb, fl);
	}
	return fl;
}

void
fleetlog_set_clock(struct fleetlog *fl, fleetlog_clock_fn fn, void *arg)
{
	fl->clock = fn != NULL ? fn : default_clock;
	fl->clock_arg = arg;
}

void
fleetlog_set_queue_max(struct fleetlog *fl, uint64_t max)
{
	fl->queue_max = max;
}

void
fleetlog_set_commit_cb(struct fleetlog *fl, void (*fn)(uint64_t, void *),
    void *arg)
{
	fl->commit_cb = fn;
	fl->commit_arg = arg;
}

static void
fl_drop_queue(struct fleetlog *fl)
{
	struct entry *e;

	while ((e = TAILQ_FIRST(&fl->queue)) != NULL) {
		TAILQ_REMOVE(&fl->queue, e, link);
		free(e);
		fl->st.dropped++;
	}
	fl->st.queued = fl->st.queued_bytes = 0;
}

int
fleetlog_prepare(struct fleetlog *fl, const struct cfg_log *c, char *err,
    size_t errlen)
{
	fleetlog_abort(fl);
	if (c == NULL) {
		fl->next_off = 1;
		fl->prepared = 1;
		return 0;
	}
	if ((!fl->enabled || strcmp(fl->conf.dir, c->dir) != 0) &&
	    fl_dir_open(c->dir, &fl->next_dir, err, errlen) == -1)
		return -1;
	fl->next_conf = *c;
	fl->next_conf.dir = xstrdup(c->dir);
	fl->prepared = 1;
	return 0;
}

void
fleetlog_abort(struct fleetlog *fl)
{
	fl_dir_close(&fl->next_dir);
	free(fl->next_conf.dir);
	memset(&fl->next_conf, 0, sizeof(fl->next_conf));
	fl->next_off = 0;
	fl->prepared = 0;
}

static void
fl_off(struct fleetlog *fl)
{
	if (fl->enabled) {
		if (fl_flush(fl, 1) == -1)
			log_warnx("fleet log %s: stopping with %llu events "
			    "not written", fl->conf.dir,
			    (unsigned long long)fl->st.queued);
		fl_drop_queue(fl);
		fl_close_segment(fl);
		if (fl->dirfd != -1)
			close(fl->dirfd);
		fl->dirfd = -1;
		log_info("fleet log %s: off", fl->conf.dir);
	}
	if (fl->timer != NULL)
		event_del(fl->timer);
	free(fl->conf.dir);
	memset(&fl->conf, 0, sizeof(fl->conf));
	fl->enabled = 0;
	fl->st.state = FLEETLOG_OFF;
}

void
fleetlog_commit(struct fleetlog *fl)
{
	struct timeval tv;
	const struct cfg_log *c = &fl->next_conf;

	if (!fl->prepared)
		return;
	if (fl->next_off) {
		fl_off(fl);
		fleetlog_abort(fl);
		return;
	}
	if (fl->next_dir.dirfd != -1) {
		if (fl->enabled)
			fl_flush(fl, 1);
		fl_dir_take(fl, &fl->next_dir);
		/*
		 * What the old directory could not take carries the old
		 * numbering: it cannot go into the new one.
		 */
		if (!TAILQ_EMPTY(&fl->queue)) {
			log_warnx("fleet log: dropping %llu events that %s "
			    "did not take", (unsigned long long)fl->st.queued,
			    fl->conf.dir);
			fl_drop_queue(fl);
		}
		log_info("fleet log: %s, next seq %llu, %llu segments, %llu "
		    "bytes", c->dir, (unsigned long long)fl->st.next_seq,
		    (unsigned long long)fl->st.segments,
		    (unsigned long long)fl->st.bytes);
	}
	free(fl->conf.dir);
	fl->conf = *c;		/* takes next_conf.dir over */
	memset(&fl->next_conf, 0, sizeof(fl->next_conf));
	fl->prepared = 0;
	fl->queue_max = fl->conf.queue_max ? fl->conf.queue_max :
	    FLEETLOG_QUEUE_MAX;
	fl->enabled = 1;
	if (fl->st.state == FLEETLOG_OFF)
		fl->st.state = FLEETLOG_OK;
	/* The day of the open segment follows the clock, not the name. */
	if (fl->fd != -1 && fl->clock(fl->clock_arg) / DAY_MS != fl->seg_day)
		fl_end_segment(fl);
	fl_retention(fl);
	if (fl->timer != NULL) {
		tv.tv_sec = (time_t)(fl->conf.fsync_ms / 1000);
		tv.tv_usec = (suseconds_t)(fl->conf.fsync_ms % 1000) * 1000;
		event_add(fl->timer, &tv);
	}
}

int
fleetlog_configure(struct fleetlog *fl, const struct cfg_log *c, char *err,
    size_t errlen)
{
	if (fleetlog_prepare(fl, c, err, errlen) == -1)
		return -1;
	fleetlog_commit(fl);
	return 0;
}

void
fleetlog_free(struct fleetlog *fl)
{
	if (fl == NULL)
		return;
	fleetlog_abort(fl);
	fl_off(fl);
	if (fl->timer != NULL)
		event_free(fl->timer);
	if (fl->kick != NULL)
		event_free(fl->kick);
	free(fl->segs);
	free(fl);
}

/* --- status ---------------------------------------------------------- */

const char *
fleetlog_state_str(enum fleetlog_state s)
{
	switch (s) {
	case FLEETLOG_OFF:
		return "off";
	case FLEETLOG_OK:
		return "ok";
	case FLEETLOG_DISK_FULL:
		return "disk-full";
	case FLEETLOG_ERROR:
		return "error";
	}
	return "?";
}

void
fleetlog_stats(const struct fleetlog *fl, struct fleetlog_stats *st)
{
	*st = fl->st;
	st->suppressed = events_refusals_suppressed();
}

const char *
fleetlog_dir(const struct fleetlog *fl)
{
	return fl->enabled ? fl->conf.dir : NULL;
}

uint64_t
fleetlog_committed(const struct fleetlog *fl)
{
	return fl->st.committed_seq;
}

struct json_object *
fleetlog_status(void *arg)
{
	struct fleetlog *fl = arg;
	struct json_object *o = json_object_new_object();
	const struct fleetlog_stats *st = &fl->st;

#define ADD_INT(k, v) json_object_object_add(o, (k), \
	json_object_new_int64((int64_t)(v)))
	json_object_object_add(o, "enabled",
	    json_object_new_boolean(fl->enabled));
	json_object_object_add(o, "state",
	    json_object_new_string(fleetlog_state_str(st->state)));
	if (fl->enabled)
		json_object_object_add(o, "dir",
		    json_object_new_string(fl->conf.dir));
	ADD_INT("committed_seq", st->committed_seq);
	ADD_INT("next_seq", st->next_seq);
	ADD_INT("queued", st->queued);
	ADD_INT("queued_bytes", st->queued_bytes);
	ADD_INT("dropped", st->dropped);
	ADD_INT("written", st->written);
	ADD_INT("batches", st->batches);
	ADD_INT("write_errors", st->write_errors);
	ADD_INT("segments", st->segments);
	ADD_INT("bytes", st->bytes);
	ADD_INT("deleted", st->deleted);
	ADD_INT("recovered_bytes", st->recovered_bytes);
	ADD_INT("refusals_suppressed", st->suppressed);
	if (st->last_error[0] != '\0')
		json_object_object_add(o, "last_error",
		    json_object_new_string(st->last_error));
#undef ADD_INT
	return o;
}
