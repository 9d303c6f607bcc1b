/*
 * export: see export.h.  Three parts: the segment reader (constant
 * memory, tolerant of torn and garbage lines), the export writers (CSV,
 * JSON Lines) and the per-charger, per-day report.
 */
#include "evgate_config.h"

/* libbsd's tree.h marks generated functions __unused, a BSD-ism. */
#ifndef __unused
#define __unused __attribute__((unused))
#endif

#include <sys/queue.h>
#include <sys/tree.h>
#include <sys/types.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/ctl.h"
#include "common/events.h"
#include "fleetlog/export.h"
#include "fleetlog/fleetlog.h"
#include "common/util.h"

#define DAY_MS		86400000ULL
/*
 * Events carry the time they were emitted, segments the time of their
 * first write: a segment may hold events a little older than its name.
 * Skipping by name keeps this much margin.
 */
#define SKIP_SLACK_MS	(3600 * 1000ULL)
#define MAX_DAYS	3660		/* a report's window, at most */
#define MAX_DURATION_MS	(400 * DAY_MS)	/* longer: not a real connection */

/* --- the reader ------------------------------------------------------ */

struct export_reader {
	char			*dir;
	struct fleetlog_segment	*segs;
	size_t			 nsegs;
	size_t			 idx;		/* segment open in fd */
	size_t			 opened;	/* segments read */
	int			 fd;
	int			 monotonic;	/* names in time order too */
	int			 follow;
	int			 skipping;	/* inside an overlong line */
	int			 done;
	int			 open_errno;	/* a segment that cannot be read */
	char			 open_path[4096];
	uint64_t		 after_seq, from_ms, to_ms;
	uint8_t			*buf;
	size_t			 start, end;	/* unread bytes */
	size_t			 last_start;	/* for unread */
	const uint8_t		*cur;		/* the last line */
	size_t			 curlen;
	int			 cur_parsed;
	struct json_object	*cur_ev;
};

static void
reader_set_segments(struct export_reader *r, struct fleetlog_segment *segs,
    size_t n)
{
	size_t i;

	free(r->segs);
	r->segs = segs;
	r->nsegs = n;
	r->monotonic = 1;
	for (i = 1; i < n; i++)
		if (segs[i].start_ms < segs[i - 1].start_ms)
			r->monotonic = 0;
}

struct export_reader *
export_reader_open(const char *dir, uint64_t after_seq, uint64_t from_ms,
    uint64_t to_ms, int follow, char *err, size_t errlen)
{
	struct export_reader *r;
	struct fleetlog_segment *segs;
	ssize_t n;

	if ((n = fleetlog_list_segments(dir, &segs)) == -1) {
		snprintf(err, errlen, "cannot read the log directory %s: %s",
		    dir, strerror(errno));
		return NULL;
	}
	r = xcalloc(1, sizeof(*r));
	r->dir = xstrdup(dir);
	r->fd = -1;
	r->follow = follow;
	r->after_seq = after_seq;
	r->from_ms = from_ms;
	r->to_ms = to_ms;
	r->buf = xmalloc(EXPORT_BUF);
	reader_set_segments(r, segs, (size_t)n);
	/* Where to begin: the segment holding after_seq + 1 ... */
	while (after_seq > 0 && r->idx + 1 < r->nsegs &&
	    r->segs[r->idx + 1].first_seq <= after_seq + 1)
		r->idx++;
	/* ... and, when names can be trusted, the window's first. */
	while (r->monotonic && from_ms > 0 && r->idx + 1 < r->nsegs &&
	    r->segs[r->idx + 1].start_ms + SKIP_SLACK_MS <= from_ms)
		r->idx++;
	r->idx--;	/* reader_open_next goes one on */
	return r;
}

/* Open the segment after the current one; 0 when there is none. */
static int
reader_open_next(struct export_reader *r)
{
	for (;;) {
		const struct fleetlog_segment *s;
		char path[4096];

		if (r->idx + 1 >= r->nsegs)
			return 0;
		s = &r->segs[++r->idx];
		if (r->monotonic && r->to_ms != UINT64_MAX &&
		    s->start_ms > r->to_ms + SKIP_SLACK_MS) {
			r->done = 1;
			return 0;
		}
		snprintf(path, sizeof(path), "%s/%s", r->dir, s->name);
		if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
			/* deleted by retention since the listing: go on */
			if (errno == ENOENT)
				continue;
			/* anything else loses events: say so, never skip */
			r->open_errno = errno;
			strlcpy(r->open_path, path, sizeof(r->open_path));
			return 0;
		}
		r->opened++;
		r->start = r->end = 0;
		r->skipping = 0;
		return 1;
	}
}

/* Following: look for segments newer than the current one. */
static int
reader_relist(struct export_reader *r)
{
	struct fleetlog_segment *segs;
	uint64_t cur = r->idx < r->nsegs ? r->segs[r->idx].first_seq : 0;
	ssize_t n, i;

	if ((n = fleetlog_list_segments(r->dir, &segs)) <= 0) {
		free(segs);
		return 0;
	}
	for (i = 0; i < n; i++)
		if (segs[i].first_seq > cur)
			break;
	if (i == n) {
		free(segs);
		return 0;
	}
	/* keep the current one in front, so idx + 1 is the next */
	reader_set_segments(r, segs, (size_t)n);
	r->idx = (size_t)i - 1;
	r->monotonic = 0;	/* the old part of the list is gone */
	return 1;
}

static void
reader_drop_current(struct export_reader *r)
{
	json_object_put(r->cur_ev);
	r->cur_ev = NULL;
	r->cur_parsed = 0;
}

enum export_rc
export_reader_next(struct export_reader *r, struct export_line *line,
    char *err, size_t errlen)
{
	reader_drop_current(r);
	memset(line, 0, sizeof(*line));
	for (;;) {
		uint8_t *nl;
		ssize_t n;

		/* (following a log that had no segment yet: look again) */
		if (r->fd == -1 && (r->done || (!reader_open_next(r) &&
		    !(r->open_errno == 0 && r->follow && reader_relist(r) &&
		    reader_open_next(r))))) {
			if (r->open_errno != 0) {
				snprintf(err, errlen, "%s: %s", r->open_path,
				    strerror(r->open_errno));
				r->open_errno = 0;
				r->idx--;	/* try it again next time */
				return EXPORT_ERROR;
			}
			return EXPORT_END;
		}
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl != NULL) {
			struct fleetlog_line fl;
			const uint8_t *p = r->buf + r->start;
			size_t len = (size_t)(nl - p);

			r->last_start = r->start;
			r->start += len + 1;
			r->cur = line->buf = p;
			r->curlen = line->len = len;
			if (r->skipping) {
				r->skipping = 0;
				return EXPORT_BAD;
			}
			if (fleetlog_peek_line(p, len, &line->seq,
			    &line->ts_ms) == -1) {
				if (fleetlog_parse_line(p, len, 1, &fl) !=
				    FLEETLOG_LINE_OK)
					return EXPORT_BAD;
				line->seq = fl.seq;
				line->ts_ms = fl.ts_ms;
				r->cur_ev = fl.ev;
				r->cur_parsed = 1;
			}
			if (line->seq <= r->after_seq)
				continue;
			return EXPORT_LINE;
		}
		/* no newline in what we have: make room, read more */
		if (r->end - r->start >= FLEETLOG_MAX_LINE + 1) {
			r->skipping = 1;	/* not ours: skip to its end */
			r->start = r->end;
		}
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, r->end - r->start);
			r->end -= r->start;
			r->start = 0;
		}
		n = read(r->fd, r->buf + r->end, EXPORT_BUF - r->end);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s/%s: %s", r->dir,
			    r->segs[r->idx].name, strerror(errno));
			return EXPORT_ERROR;
		}
		if (n > 0) {
			r->end += (size_t)n;
			continue;
		}
		/* end of this segment */
		if (r->idx + 1 >= r->nsegs && r->follow && !reader_relist(r)) {
			r->last_start = r->start;
			return EXPORT_END;	/* more may come */
		}
		if (r->end > r->start || r->skipping) {
			/* a tail without newline: torn */
			r->cur = line->buf = r->buf + r->start;
			r->curlen = line->len = r->end - r->start;
			r->start = r->end;
			r->skipping = 0;
			close(r->fd);
			r->fd = -1;
			return EXPORT_BAD;
		}
		close(r->fd);
		r->fd = -1;
	}
}

struct json_object *
export_reader_event(struct export_reader *r)
{
	struct fleetlog_line fl;

	if (!r->cur_parsed) {
		r->cur_parsed = 1;
		if (r->cur != NULL && fleetlog_parse_line(r->cur, r->curlen, 1,
		    &fl) == FLEETLOG_LINE_OK)
			r->cur_ev = fl.ev;
	}
	return r->cur_ev;
}

void
export_reader_unread(struct export_reader *r)
{
	reader_drop_current(r);
	r->start = r->last_start;
}

size_t
export_reader_segments(const struct export_reader *r)
{
	return r->opened;
}

void
export_reader_free(struct export_reader *r)
{
	if (r == NULL)
		return;
	reader_drop_current(r);
	if (r->fd != -1)
		close(r->fd);
	free(r->segs);
	free(r->buf);
	free(r->dir);
	free(r);
}

/* --- times on the command line --------------------------------------- */

int
export_parse_time(const char *s, uint64_t now_ms, int end, uint64_t *out)
{
	size_t len = strlen(s);
	char buf[48];
	uint64_t v;

	if (strcmp(s, "now") == 0) {
		*out = now_ms;
		return 0;
	}
	if (s[0] == '-') {
		if (parse_duration_ms(s + 1, &v) == -1 || v > now_ms)
			return -1;
		*out = now_ms - v;
		return 0;
	}
	if (len == 10) {
		snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
		if (fleetlog_parse_ts(buf, strlen(buf), &v) == -1)
			return -1;
		*out = end ? v + DAY_MS : v;
		return 0;
	}
	if (len == 19 || (len > 20 && len < 30 && s[19] == '.' &&
	    isdigit((unsigned char)s[len - 1]))) {
		/* no zone given: UTC, like everything in the log */
		snprintf(buf, sizeof(buf), "%sZ", s);
		return fleetlog_parse_ts(buf, strlen(buf), out);
	}
	return fleetlog_parse_ts(s, len, out);
}

/* --- filters and CSV ------------------------------------------------- */

static const char *
ev_str(struct json_object *ev, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(ev, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int
export_match(const struct export_filter *f, struct json_object *ev,
    uint64_t ts)
{
	static const char *const idkeys[] = { "charger", "client", "mac",
	    "address", NULL };
	const char *type;
	size_t i, k;

	if (ts < f->from_ms || ts >= f->to_ms)
		return 0;
	if (f->ntypes > 0) {
		type = ev_str(ev, "type");
		for (i = 0; i < f->ntypes; i++)
			if (type != NULL && strcmp(type, f->types[i]) == 0)
				break;
		if (i == f->ntypes)
			return 0;
	}
	if (f->ncharger > 0) {
		for (i = 0; i < f->ncharger; i++)
			for (k = 0; idkeys[k] != NULL; k++) {
				const char *v = ev_str(ev, idkeys[k]);

				if (v != NULL &&
				    strcasecmp(v, f->chargers[i]) == 0)
					return 1;
			}
		return 0;
	}
	return 1;
}

/* "box" last: the box of a pair that logged the event (export_run_dirs). */
static const char *const csv_cols[] = { "ts", "seq", "type", "charger",
	"client", "sni", "port", "upstream", "start", "duration_s", "bytes_up",
	"bytes_down", "reason", "box", NULL };

void
export_csv_field(FILE *fp, const char *s, size_t len)
{
	size_t i;

	if (strcspn(s, ",\"\r\n") >= len) {
		fwrite(s, 1, len, fp);
		return;
	}
	fputc('"', fp);
	for (i = 0; i < len; i++) {
		if (s[i] == '"')
			fputc('"', fp);
		fputc(s[i], fp);
	}
	fputc('"', fp);
}

/*
 * A text cell that a spreadsheet would take for a formula -- one starting
 * with = + - @, a TAB or a CR -- is written with a leading apostrophe and
 * quoted, as OWASP's CSV-injection advice has it: Excel, LibreOffice and
 * Google Sheets show the text and run nothing.  The fleet log's strings
 * come from chargers (SNI, hostnames) and the network: never trust that
 * something upstream checked them.
 */
void
export_csv_text(FILE *fp, const char *s, size_t len)
{
	size_t i;

	if (len == 0 || strchr("=+-@\t\r", s[0]) == NULL) {
		export_csv_field(fp, s, len);
		return;
	}
	fputs("\"'", fp);
	for (i = 0; i < len; i++) {
		if (s[i] == '"')
			fputc('"', fp);
		fputc(s[i], fp);
	}
	fputc('"', fp);
}

void
export_csv_header(FILE *fp)
{
	size_t i;

	for (i = 0; csv_cols[i] != NULL; i++)
		fprintf(fp, "%s,", csv_cols[i]);
	fputs("detail\r\n", fp);
}

static void
csv_value(FILE *fp, struct json_object *v)
{
	const char *s;

	if (v == NULL || json_object_is_type(v, json_type_null))
		return;
	if (json_object_is_type(v, json_type_string)) {
		export_csv_text(fp, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		return;
	}
	s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	export_csv_field(fp, s, strlen(s));
}

void
export_csv_row(FILE *fp, struct json_object *ev)
{
	struct json_object *rest = NULL, *v;
	size_t i;

	for (i = 0; csv_cols[i] != NULL; i++) {
		v = NULL;
		json_object_object_get_ex(ev, csv_cols[i], &v);
		csv_value(fp, v);
		fputc(',', fp);
	}
	/* Whatever has no column of its own goes into detail, as JSON. */
	json_object_object_foreach(ev, key, val) {
		for (i = 0; csv_cols[i] != NULL; i++)
			if (strcmp(key, csv_cols[i]) == 0)
				break;
		if (csv_cols[i] != NULL)
			continue;
		if (rest == NULL)
			rest = json_object_new_object();
		json_object_object_add(rest, key, json_object_get(val));
	}
	if (rest != NULL) {
		csv_value(fp, rest);
		json_object_put(rest);
	}
	fputs("\r\n", fp);
}

int
export_run(const char *dir, const struct export_filter *f,
    enum export_format fmt, FILE *out, struct export_stats *st, char *err,
    size_t errlen)
{
	struct export_reader *r;
	struct export_line line;
	enum export_rc rc;
	int need_ev = fmt == EXPORT_CSV || f->ncharger > 0 || f->ntypes > 0;
	int rv = 0;

	memset(st, 0, sizeof(*st));
	if ((r = export_reader_open(dir, 0, f->from_ms, f->to_ms, 0, err,
	    errlen)) == NULL)
		return -1;
	if (fmt == EXPORT_CSV)
		export_csv_header(out);
	while ((rc = export_reader_next(r, &line, err, errlen)) != EXPORT_END) {
		struct json_object *ev;

		if (rc == EXPORT_ERROR) {
			rv = -1;
			break;
		}
		st->lines++;
		if (rc == EXPORT_BAD) {
			st->bad++;
			continue;
		}
		if (line.ts_ms < f->from_ms || line.ts_ms >= f->to_ms)
			continue;
		/* every line that goes out is a whole, valid event */
		if ((ev = export_reader_event(r)) == NULL) {
			st->bad++;
			continue;
		}
		if (need_ev && !export_match(f, ev, line.ts_ms))
			continue;
		if (fmt == EXPORT_CSV)
			export_csv_row(out, ev);
		else {
			fwrite(line.buf, 1, line.len, out);
			fputc('\n', out);
		}
		st->events++;
		if (ferror(out)) {
			snprintf(err, errlen, "write: %s", strerror(errno));
			rv = -1;
			break;
		}
	}
	st->segments = export_reader_segments(r);
	export_reader_free(r);
	return rv;
}

/* --- the report ------------------------------------------------------ */

struct rep_day {
	int64_t		 day;
	uint64_t	 online_ms, connections, up, down, refusals, leases;
};

struct rep_iv {
	uint64_t	 s, e;
};

struct rep_charger {
	RB_ENTRY(rep_charger)	 entry;
	char			*name;
	uint64_t		 first_ms;	/* first seen in the window */
	struct rep_iv		*iv;
	size_t			 niv, civ;
	struct rep_day		*days;
	size_t			 ndays, cdays;
	struct rep_day		 total;
};

static int
rep_charger_cmp(const struct rep_charger *a, const struct rep_charger *b)
{
	return strcmp(a->name, b->name);
}

RB_HEAD(rep_tree, rep_charger);
RB_GENERATE_STATIC(rep_tree, rep_charger, entry, rep_charger_cmp)

/* Refusals by reason, for the report's breakdown (bounded). */
#define REP_REASONS	32
struct rep_reason {
	char		 name[40];
	uint64_t	 n;
};

struct report {
	struct rep_reason	 reasons[REP_REASONS];
	size_t			 nreasons;
	uint64_t		 other_reasons;	/* beyond REP_REASONS */
	uint64_t		 from, to;	/* asked for */
	uint64_t		 seen_min, seen_max;
	unsigned		 port;
	struct rep_tree		 chargers;
	size_t			 ncharger;
	struct report_row	*rows;
	size_t			 nrows;
	int64_t			 first_day, last_day;
	uint64_t		 eff_from, eff_to;
	int			 finished;
};

struct report *
report_new(uint64_t from_ms, uint64_t to_ms, unsigned online_port)
{
	struct report *rep = xcalloc(1, sizeof(*rep));

	rep->from = from_ms;
	rep->to = to_ms > from_ms ? to_ms : from_ms;
	rep->port = online_port ? online_port : REPORT_ONLINE_PORT;
	rep->seen_min = UINT64_MAX;
	RB_INIT(&rep->chargers);
	return rep;
}

static struct rep_charger *
rep_get(struct report *rep, const char *name)
{
	struct rep_charger key, *c;

	key.name = (char *)name;
	if ((c = RB_FIND(rep_tree, &rep->chargers, &key)) != NULL)
		return c;
	c = xcalloc(1, sizeof(*c));
	c->name = xstrdup(name);
	c->first_ms = UINT64_MAX;
	RB_INSERT(rep_tree, &rep->chargers, c);
	rep->ncharger++;
	return c;
}

static struct rep_day *
rep_day(struct rep_charger *c, int64_t day)
{
	size_t lo = 0, hi = c->ndays;

	/* mostly appends: events come in time order */
	if (c->ndays > 0 && c->days[c->ndays - 1].day == day)
		return &c->days[c->ndays - 1];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (c->days[mid].day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < c->ndays && c->days[lo].day == day)
		return &c->days[lo];
	if (c->ndays == c->cdays) {
		c->cdays = c->cdays ? c->cdays * 2 : 16;
		c->days = xreallocarray(c->days, c->cdays, sizeof(*c->days));
	}
	memmove(&c->days[lo + 1], &c->days[lo],
	    (c->ndays - lo) * sizeof(*c->days));
	memset(&c->days[lo], 0, sizeof(*c->days));
	c->days[lo].day = day;
	c->ndays++;
	return &c->days[lo];
}

/* c was seen at t: the days before its first sighting have no data. */
static void
rep_touch(struct rep_charger *c, uint64_t t)
{
	if (t < c->first_ms)
		c->first_ms = t;
}

static void
rep_reason(struct report *rep, const char *kind, const char *reason)
{
	char name[40];
	size_t i;

	snprintf(name, sizeof(name), "%s%s%s", kind ? kind : "",
	    kind ? ": " : "", reason ? reason : "?");
	for (i = 0; i < rep->nreasons; i++)
		if (strcmp(rep->reasons[i].name, name) == 0) {
			rep->reasons[i].n++;
			return;
		}
	if (rep->nreasons == REP_REASONS) {
		rep->other_reasons++;
		return;
	}
	strlcpy(rep->reasons[rep->nreasons].name, name,
	    sizeof(rep->reasons[0].name));
	rep->reasons[rep->nreasons++].n = 1;
}

static void
rep_seen(struct report *rep, uint64_t a, uint64_t b)
{
	if (a < rep->seen_min)
		rep->seen_min = a;
	if (b > rep->seen_max)
		rep->seen_max = b;
}

static const char *
ev_identity(struct json_object *ev)
{
	static const char *const keys[] = { "charger", "mac", "client",
	    "address", NULL };
	size_t i;

	for (i = 0; keys[i] != NULL; i++) {
		const char *v = ev_str(ev, keys[i]);

		if (v != NULL && v[0] != '\0')
			return v;
	}
	return "unknown";
}

static int
ev_u64(struct json_object *ev, const char *key, uint64_t *out)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(ev, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	n = json_object_get_int64(v);
	*out = n > 0 ? (uint64_t)n : 0;
	return 0;
}

void
report_add_connection(struct report *rep, const char *charger, unsigned port,
    uint64_t s, uint64_t e, uint64_t up, uint64_t down)
{
	struct rep_charger *c;
	uint64_t cs, ce, dur, prev_up, prev_down;

	if (e < s || e - s > MAX_DURATION_MS)
		return;
	cs = s > rep->from ? s : rep->from;
	ce = e < rep->to ? e : rep->to;
	if (s >= rep->to || (e < rep->from) || (e == s && s < rep->from))
		return;
	c = rep_get(rep, charger);
	rep_touch(c, cs);
	rep_seen(rep, cs, ce);
	if (s >= rep->from)
		rep_day(c, (int64_t)(s / DAY_MS))->connections++;
	if (port == rep->port && ce > cs) {
		if (c->niv == c->civ) {
			c->civ = c->civ ? c->civ * 2 : 16;
			c->iv = xreallocarray(c->iv, c->civ, sizeof(*c->iv));
		}
		c->iv[c->niv].s = cs;
		c->iv[c->niv].e = ce;
		c->niv++;
	}
	/*
	 * Bytes: shared out over the days by the time it ran on each, as
	 * differences of a cumulative share so that the parts add up.
	 */
	dur = e - s;
	if (dur == 0) {
		struct rep_day *d = rep_day(c, (int64_t)(s / DAY_MS));

		d->up += up;
		d->down += down;
		return;
	}
	prev_up = (uint64_t)((unsigned __int128)up * (cs - s) / dur);
	prev_down = (uint64_t)((unsigned __int128)down * (cs - s) / dur);
	while (cs < ce) {
		uint64_t dend = (cs / DAY_MS + 1) * DAY_MS, cu, cd;
		struct rep_day *d;

		if (dend > ce)
			dend = ce;
		cu = (uint64_t)((unsigned __int128)up * (dend - s) / dur);
		cd = (uint64_t)((unsigned __int128)down * (dend - s) / dur);
		d = rep_day(c, (int64_t)(cs / DAY_MS));
		d->up += cu - prev_up;
		d->down += cd - prev_down;
		prev_up = cu;
		prev_down = cd;
		cs = dend;
	}
}

void
report_add_event(struct report *rep, struct json_object *ev, uint64_t ts)
{
	const char *type = ev_str(ev, "type"), *start;
	struct json_object *v;
	uint64_t s, dur_ms = 0, port = 0, up = 0, down = 0;

	if (type == NULL)
		return;
	if (strcmp(type, "connection") == 0) {
		if (json_object_object_get_ex(ev, "duration_s", &v) &&
		    (json_object_is_type(v, json_type_double) ||
		    json_object_is_type(v, json_type_int))) {
			double d = json_object_get_double(v);

			if (!(d >= 0 && d < (double)MAX_DURATION_MS / 1000))
				return;
			dur_ms = (uint64_t)(d * 1000 + 0.5);
		}
		start = ev_str(ev, "start");
		if (start == NULL || fleetlog_parse_ts(start, strlen(start),
		    &s) == -1)
			s = ts > dur_ms ? ts - dur_ms : 0;
		ev_u64(ev, "port", &port);
		ev_u64(ev, "bytes_up", &up);
		ev_u64(ev, "bytes_down", &down);
		report_add_connection(rep, ev_identity(ev), (unsigned)port, s,
		    s + dur_ms, up, down);
		return;
	}
	if (ts < rep->from || ts >= rep->to)
		return;
	if (strcmp(type, "refusal") == 0) {
		struct rep_charger *c = rep_get(rep, ev_identity(ev));

		rep_day(c, (int64_t)(ts / DAY_MS))->refusals++;
		rep_touch(c, ts);
		/* the relay's refusals carry no kind; DHCP's say "dhcp" */
		rep_reason(rep, ev_str(ev, "kind") != NULL ? ev_str(ev,
		    "kind") : "relay", ev_str(ev, "reason"));
		rep_seen(rep, ts, ts);
	} else if (strcmp(type, "lease") == 0 && (ev_str(ev, "charger") !=
	    NULL || ev_str(ev, "mac") != NULL)) {
		/* a charger's lease (not the pool's state) */
		struct rep_charger *c = rep_get(rep, ev_identity(ev));

		rep_day(c, (int64_t)(ts / DAY_MS))->leases++;
		rep_touch(c, ts);
		rep_seen(rep, ts, ts);
	}
}

static int
iv_cmp(const void *a, const void *b)
{
	const struct rep_iv *x = a, *y = b;

	if (x->s != y->s)
		return x->s < y->s ? -1 : 1;
	return x->e < y->e ? -1 : x->e > y->e;
}

static uint64_t
overlap(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	uint64_t s = a > c ? a : c, e = b < d ? b : d;

	return e > s ? e - s : 0;
}

static void
add_online(struct rep_charger *c, uint64_t s, uint64_t e)
{
	int64_t day;

	for (day = (int64_t)(s / DAY_MS); (uint64_t)day * DAY_MS < e; day++)
		rep_day(c, day)->online_ms += overlap(s, e,
		    (uint64_t)day * DAY_MS, (uint64_t)(day + 1) * DAY_MS);
}

void
report_finish(struct report *rep)
{
	struct rep_charger *c;
	int64_t day;
	size_t i;

	/* The window the rows cover: as asked, narrowed to what was seen. */
	rep->eff_from = rep->from;
	rep->eff_to = rep->to;
	if (rep->seen_min == UINT64_MAX) {
		rep->first_day = 1;
		rep->last_day = 0;	/* nothing */
	} else {
		if (rep->eff_from == 0)
			rep->eff_from = rep->seen_min / DAY_MS * DAY_MS;
		if (rep->eff_to == UINT64_MAX)
			rep->eff_to = rep->seen_max + 1;
		rep->first_day = (int64_t)(rep->eff_from / DAY_MS);
		rep->last_day = (int64_t)((rep->eff_to - 1) / DAY_MS);
		if (rep->last_day - rep->first_day >= MAX_DAYS)
			rep->first_day = rep->last_day - MAX_DAYS + 1;
	}
	RB_FOREACH(c, rep_tree, &rep->chargers) {
		/* Online: the union of the intervals, cut at midnights. */
		if (c->niv > 0 && !rep->finished) {
			struct rep_iv cur;

			qsort(c->iv, c->niv, sizeof(*c->iv), iv_cmp);
			cur = c->iv[0];
			for (i = 1; i < c->niv; i++) {
				if (c->iv[i].s <= cur.e) {
					if (c->iv[i].e > cur.e)
						cur.e = c->iv[i].e;
					continue;
				}
				add_online(c, cur.s, cur.e);
				cur = c->iv[i];
			}
			add_online(c, cur.s, cur.e);
		}
		/* Every day of the window, for every charger: a day offline
		 * is what an operator looks for. */
		for (day = rep->first_day; day <= rep->last_day; day++)
			rep_day(c, day);
	}
	free(rep->rows);
	rep->rows = NULL;
	rep->nrows = 0;
	RB_FOREACH(c, rep_tree, &rep->chargers) {
		memset(&c->total, 0, sizeof(c->total));
		for (i = 0; i < c->ndays; i++) {
			struct rep_day *d = &c->days[i];
			struct report_row *row;

			if (d->day < rep->first_day || d->day > rep->last_day)
				continue;
			rep->rows = xreallocarray(rep->rows, rep->nrows + 1,
			    sizeof(*rep->rows));
			row = &rep->rows[rep->nrows++];
			row->charger = c->name;
			row->day = d->day;
			row->span_ms = overlap((uint64_t)d->day * DAY_MS,
			    (uint64_t)(d->day + 1) * DAY_MS, rep->eff_from,
			    rep->eff_to);
			row->online_ms = d->online_ms;
			row->connections = d->connections;
			row->bytes_up = d->up;
			row->bytes_down = d->down;
			row->refusals = d->refusals;
			row->leases = d->leases;
			c->total.online_ms += d->online_ms;
			c->total.connections += d->connections;
			c->total.up += d->up;
			c->total.down += d->down;
			c->total.refusals += d->refusals;
			c->total.leases += d->leases;
		}
	}
	rep->finished = 1;
}

size_t
report_rows(const struct report *rep, const struct report_row **rows)
{
	*rows = rep->rows;
	return rep->nrows;
}

void
report_free(struct report *rep)
{
	struct rep_charger *c, *next;

	if (rep == NULL)
		return;
	RB_FOREACH_SAFE(c, rep_tree, &rep->chargers, next) {
		RB_REMOVE(rep_tree, &rep->chargers, c);
		free(c->name);
		free(c->iv);
		free(c->days);
		free(c);
	}
	free(rep->rows);
	free(rep);
}

int
report_read_dir(struct report *rep, const char *dir,
    const struct export_filter *f, struct export_stats *st, char *err,
    size_t errlen)
{
	struct export_reader *r;
	struct export_line line;
	enum export_rc rc;
	int rv = 0;

	memset(st, 0, sizeof(*st));
	/*
	 * A connection's event comes at its end: one that overlaps the
	 * window may be logged after it.  Read on to the end of the log.
	 */
	if ((r = export_reader_open(dir, 0, f->from_ms, UINT64_MAX, 0, err,
	    errlen)) == NULL)
		return -1;
	while ((rc = export_reader_next(r, &line, err, errlen)) != EXPORT_END) {
		struct json_object *ev;

		if (rc == EXPORT_ERROR) {
			rv = -1;
			break;
		}
		st->lines++;
		if (rc == EXPORT_BAD) {
			st->bad++;
			continue;
		}
		if (line.ts_ms < f->from_ms)
			continue;
		if ((ev = export_reader_event(r)) == NULL) {
			st->bad++;
			continue;
		}
		if (f->ncharger > 0 || f->ntypes > 0) {
			struct export_filter any = *f;

			any.from_ms = 0;
			any.to_ms = UINT64_MAX;
			if (!export_match(&any, ev, line.ts_ms))
				continue;
		}
		report_add_event(rep, ev, line.ts_ms);
		st->events++;
	}
	st->segments = export_reader_segments(r);
	export_reader_free(r);
	return rv;
}


/* --- several directories, merged ----------------------------------------- */

struct merge_src {
	struct export_reader	*r;
	struct export_line	 line;
	struct json_object	*ev;		/* the reader's */
	const char		*box;		/* into ev, or dirbox */
	char			 dirbox[24];
	int			 have;
};

struct merge_box {
	char		 name[64];
	uint64_t	 last;		/* seq emitted (or skipped) last */
	uint64_t	 last_in;	/* the same, inside the window */
};

struct merge {
	struct merge_src	*src;
	size_t			 n;
	struct merge_box	*boxes;
	size_t			 nboxes;
	uint64_t		 from_ms, to_ms;
	struct export_stats	*st;
};

/* The next good event of src; 0, 1 at the end, -1 on an I/O error. */
static int
merge_advance(struct merge *m, struct merge_src *src, char *err,
    size_t errlen)
{
	struct json_object *v;
	enum export_rc rc;

	src->have = 0;
	for (;;) {
		rc = export_reader_next(src->r, &src->line, err, errlen);
		if (rc == EXPORT_END)
			return 1;
		if (rc == EXPORT_ERROR)
			return -1;
		m->st->lines++;
		if (rc == EXPORT_BAD || (src->ev = export_reader_event(src->r)) ==
		    NULL) {
			m->st->bad++;
			continue;
		}
		src->box = src->dirbox;
		if (json_object_object_get_ex(src->ev, "box", &v) &&
		    json_object_is_type(v, json_type_string))
			src->box = json_object_get_string(v);
		src->have = 1;
		return 0;
	}
}

static void
merge_free(struct merge *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		export_reader_free(m->src[i].r);
	free(m->src);
	free(m->boxes);
}

static int
merge_open(struct merge *m, const char *const *dirs, size_t n, uint64_t from,
    uint64_t to, struct export_stats *st, char *err, size_t errlen)
{
	size_t i;

	memset(m, 0, sizeof(*m));
	memset(st, 0, sizeof(*st));
	m->st = st;
	m->from_ms = from;
	m->to_ms = to;
	if (n == 0 || n > EXPORT_MAX_DIRS) {
		snprintf(err, errlen, "give 1 to %d directories",
		    EXPORT_MAX_DIRS);
		return -1;
	}
	m->src = xcalloc(n, sizeof(*m->src));
	for (i = 0; i < n; i++) {
		/* segments before the window cannot hold its events; the
		 * report reads on past its end (see report_read_dir) */
		if ((m->src[i].r = export_reader_open(dirs[i], 0, from, to, 0,
		    err, errlen)) == NULL) {
			merge_free(m);
			return -1;
		}
		m->n++;
		snprintf(m->src[i].dirbox, sizeof(m->src[i].dirbox), "dir#%zu",
		    i + 1);
	}
	for (i = 0; i < n; i++)
		if (merge_advance(m, &m->src[i], err, errlen) == -1) {
			merge_free(m);
			return -1;
		}
	return 0;
}

static struct merge_box *
merge_box(struct merge *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nboxes; i++)
		if (strcmp(m->boxes[i].name, name) == 0)
			return &m->boxes[i];
	m->boxes = xreallocarray(m->boxes, m->nboxes + 1, sizeof(*m->boxes));
	memset(&m->boxes[m->nboxes], 0, sizeof(*m->boxes));
	strlcpy(m->boxes[m->nboxes].name, name, sizeof(m->boxes[0].name));
	m->st->boxes++;
	return &m->boxes[m->nboxes++];
}

/*
 * The next event in merged order that is not a repeat; 0 with *out set,
 * 1 at the end, -1 on error.  The event stays valid until the next call.
 */
static int
merge_next(struct merge *m, struct merge_src **out, char *err, size_t errlen)
{
	struct merge_src *best, *s;
	struct merge_box *b;
	size_t i;
	int c;

	for (;;) {
		best = NULL;
		for (i = 0; i < m->n; i++) {
			s = &m->src[i];
			if (!s->have)
				continue;
			if (best == NULL || s->line.ts_ms < best->line.ts_ms) {
				best = s;
				continue;
			}
			if (s->line.ts_ms > best->line.ts_ms)
				continue;
			c = strcmp(s->box, best->box);
			if (c < 0 || (c == 0 && s->line.seq < best->line.seq))
				best = s;
		}
		if (best == NULL)
			return 1;
		b = merge_box(m, best->box);
		if (best->line.seq <= b->last) {
			m->st->duplicates++;
			if (merge_advance(m, best, err, errlen) == -1)
				return -1;
			continue;
		}
		b->last = best->line.seq;
		if (best->line.ts_ms >= m->from_ms &&
		    best->line.ts_ms < m->to_ms) {
			if (b->last_in != 0 && best->line.seq > b->last_in + 1)
				m->st->gaps += best->line.seq - b->last_in - 1;
			b->last_in = best->line.seq;
		}
		*out = best;
		return 0;
	}
}

static uint64_t
merge_segments(const struct merge *m)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < m->n; i++)
		n += export_reader_segments(m->src[i].r);
	return n;
}

int
export_run_dirs(const char *const *dirs, size_t ndirs,
    const struct export_filter *f, enum export_format fmt, FILE *out,
    struct export_stats *st, char *err, size_t errlen)
{
	struct merge m;
	struct merge_src *s;
	int rc, rv = 0;

	if (merge_open(&m, dirs, ndirs, f->from_ms, f->to_ms, st, err,
	    errlen) == -1)
		return -1;
	if (fmt == EXPORT_CSV)
		export_csv_header(out);
	while ((rc = merge_next(&m, &s, err, errlen)) == 0) {
		if (export_match(f, s->ev, s->line.ts_ms)) {
			if (fmt == EXPORT_CSV)
				export_csv_row(out, s->ev);
			else {
				fwrite(s->line.buf, 1, s->line.len, out);
				fputc('\n', out);
			}
			st->events++;
			if (ferror(out)) {
				snprintf(err, errlen, "write: %s",
				    strerror(errno));
				rv = -1;
				break;
			}
		}
		if (merge_advance(&m, s, err, errlen) == -1) {
			rv = -1;
			break;
		}
	}
	if (rc == -1)
		rv = -1;
	st->segments = merge_segments(&m);
	merge_free(&m);
	return rv;
}

int
report_read_dirs(struct report *rep, const char *const *dirs, size_t ndirs,
    const struct export_filter *f, struct export_stats *st, char *err,
    size_t errlen)
{
	struct export_filter any = *f;
	struct merge m;
	struct merge_src *s;
	int rc, rv = 0;

	/* As report_read_dir: read on past the window's end. */
	if (merge_open(&m, dirs, ndirs, f->from_ms, UINT64_MAX, st, err,
	    errlen) == -1)
		return -1;
	any.from_ms = 0;
	any.to_ms = UINT64_MAX;
	while ((rc = merge_next(&m, &s, err, errlen)) == 0) {
		if (s->line.ts_ms >= f->from_ms && export_match(&any, s->ev,
		    s->line.ts_ms)) {
			report_add_event(rep, s->ev, s->line.ts_ms);
			st->events++;
		}
		if (merge_advance(&m, s, err, errlen) == -1) {
			rv = -1;
			break;
		}
	}
	if (rc == -1)
		rv = -1;
	st->segments = merge_segments(&m);
	merge_free(&m);
	return rv;
}

/* --- report output --------------------------------------------------- */

static const char *
day_str(int64_t day, char *buf, size_t len)
{
	return format_utc((uint64_t)day * 86400000, "%Y-%m-%d", buf, len);
}

static const char *
time_str(uint64_t ms, char *buf, size_t len)
{
	return format_utc(ms, "%Y-%m-%d %H:%M UTC", buf, len);
}

static double
pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

/* "23:59:59" for a day's worth, "3d 04:05:06" beyond. */
static const char *
hms(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;

	if (s >= 86400)
		snprintf(buf, len, "%llud %02u:%02u:%02u",
		    (unsigned long long)(s / 86400), (unsigned)(s % 86400 / 3600),
		    (unsigned)(s % 3600 / 60), (unsigned)(s % 60));
	else
		snprintf(buf, len, "%02u:%02u:%02u", (unsigned)(s / 3600),
		    (unsigned)(s % 3600 / 60), (unsigned)(s % 60));
	return buf;
}

static uint64_t
window_ms(const struct report *rep)
{
	return rep->eff_to > rep->eff_from ? rep->eff_to - rep->eff_from : 0;
}

static void
report_text(const struct report *rep, const char *title, FILE *fp)
{
	static const char *const h1[] = { "CHARGER", "ONLINE", "ONLINE%",
	    "CONNS", "UP", "DOWN", "REFUSED", "LEASES" };
	static const char *const h2[] = { "DAY", "CHARGER", "ONLINE",
	    "ONLINE%", "CONNS", "UP", "DOWN", "REFUSED", "LEASES" };
	struct ctl_table *t;
	struct rep_charger *c;
	char a[32], b[32], p[16], n1[24], n2[24], n3[24], up[32], dn[32], d[16];
	size_t i;

	fprintf(fp, "Fleet report%s%s: %s to %s (online = connected on port "
	    "%u)\n\n", title ? " for " : "", title ? title : "",
	    time_str(rep->eff_from, a, sizeof(a)),
	    time_str(rep->eff_to, b, sizeof(b)), rep->port);
	if (rep->nrows == 0) {
		fprintf(fp, "No events in this window.\n");
		return;
	}
	t = ctl_table_new(8, h1);
	RB_FOREACH(c, rep_tree, &((struct report *)rep)->chargers) {
		snprintf(p, sizeof(p), "%.1f%%", pct(c->total.online_ms,
		    window_ms(rep)));
		snprintf(n1, sizeof(n1), "%llu",
		    (unsigned long long)c->total.connections);
		snprintf(n2, sizeof(n2), "%llu",
		    (unsigned long long)c->total.refusals);
		snprintf(n3, sizeof(n3), "%llu",
		    (unsigned long long)c->total.leases);
		ctl_table_row(t, c->name, hms(c->total.online_ms, a, sizeof(a)),
		    p, n1, ctl_bytes(c->total.up, up, sizeof(up)),
		    ctl_bytes(c->total.down, dn, sizeof(dn)), n2, n3);
	}
	ctl_table_print(t, fp);
	ctl_table_free(t);
	fputc('\n', fp);
	t = ctl_table_new(9, h2);
	for (i = 0; i < rep->nrows; i++) {
		const struct report_row *r = &rep->rows[i];

		snprintf(p, sizeof(p), "%.1f%%", pct(r->online_ms, r->span_ms));
		snprintf(n1, sizeof(n1), "%llu",
		    (unsigned long long)r->connections);
		snprintf(n2, sizeof(n2), "%llu",
		    (unsigned long long)r->refusals);
		snprintf(n3, sizeof(n3), "%llu", (unsigned long long)r->leases);
		ctl_table_row(t, day_str(r->day, d, sizeof(d)), r->charger,
		    hms(r->online_ms, a, sizeof(a)), p, n1,
		    ctl_bytes(r->bytes_up, up, sizeof(up)),
		    ctl_bytes(r->bytes_down, dn, sizeof(dn)), n2, n3);
	}
	ctl_table_print(t, fp);
	ctl_table_free(t);
}

static void
report_csv(const struct report *rep, FILE *fp)
{
	char d[16];
	size_t i;

	fputs("day,charger,online_s,online_pct,connections,bytes_up,"
	    "bytes_down,refusals,leases\r\n", fp);
	for (i = 0; i < rep->nrows; i++) {
		const struct report_row *r = &rep->rows[i];

		fprintf(fp, "%s,", day_str(r->day, d, sizeof(d)));
		export_csv_text(fp, r->charger, strlen(r->charger));
		fprintf(fp, ",%llu.%03u,%.2f,%llu,%llu,%llu,%llu,%llu\r\n",
		    (unsigned long long)(r->online_ms / 1000),
		    (unsigned)(r->online_ms % 1000),
		    pct(r->online_ms, r->span_ms),
		    (unsigned long long)r->connections,
		    (unsigned long long)r->bytes_up,
		    (unsigned long long)r->bytes_down,
		    (unsigned long long)r->refusals,
		    (unsigned long long)r->leases);
	}
}

static void
json_add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)v));
}

static void
json_add_stats(struct json_object *o, uint64_t online, uint64_t span,
    const struct rep_day *d)
{
	char num[32];

	snprintf(num, sizeof(num), "%llu.%03u",
	    (unsigned long long)(online / 1000), (unsigned)(online % 1000));
	json_object_object_add(o, "online_s",
	    json_object_new_double_s((double)online / 1000, num));
	snprintf(num, sizeof(num), "%.2f", pct(online, span));
	json_object_object_add(o, "online_pct",
	    json_object_new_double_s(pct(online, span), num));
	json_add_u64(o, "connections", d->connections);
	json_add_u64(o, "bytes_up", d->up);
	json_add_u64(o, "bytes_down", d->down);
	json_add_u64(o, "refusals", d->refusals);
	json_add_u64(o, "leases", d->leases);
}

static void
report_json(const struct report *rep, const char *title, FILE *fp)
{
	struct json_object *o = json_object_new_object(), *list, *days = NULL;
	struct rep_charger *c;
	const char *prev = NULL;
	char buf[40];
	size_t i;

	if (title != NULL)
		json_object_object_add(o, "site", json_object_new_string(title));
	json_object_object_add(o, "from", json_object_new_string(
	    format_utc_ms(rep->eff_from, buf, sizeof(buf))));
	json_object_object_add(o, "to", json_object_new_string(
	    format_utc_ms(rep->eff_to, buf, sizeof(buf))));
	json_object_object_add(o, "online_port",
	    json_object_new_int((int)rep->port));
	list = json_object_new_array();
	RB_FOREACH(c, rep_tree, &((struct report *)rep)->chargers) {
		struct json_object *co = json_object_new_object();

		json_object_object_add(co, "charger",
		    json_object_new_string(c->name));
		json_add_stats(co, c->total.online_ms, window_ms(rep),
		    &c->total);
		json_object_object_add(co, "days", json_object_new_array());
		json_object_array_add(list, co);
	}
	for (i = 0; i < rep->nrows; i++) {
		const struct report_row *r = &rep->rows[i];
		struct json_object *d = json_object_new_object();
		struct rep_day rd;

		if (prev == NULL || strcmp(prev, r->charger) != 0) {
			size_t k;

			for (k = 0; k < json_object_array_length(list); k++) {
				struct json_object *co =
				    json_object_array_get_idx(list, k);

				if (strcmp(json_object_get_string(
				    json_object_object_get(co, "charger")),
				    r->charger) == 0)
					days = json_object_object_get(co,
					    "days");
			}
			prev = r->charger;
		}
		memset(&rd, 0, sizeof(rd));
		rd.connections = r->connections;
		rd.up = r->bytes_up;
		rd.down = r->bytes_down;
		rd.refusals = r->refusals;
		rd.leases = r->leases;
		json_object_object_add(d, "day", json_object_new_string(
		    day_str(r->day, buf, sizeof(buf))));
		json_add_stats(d, r->online_ms, r->span_ms, &rd);
		json_object_array_add(days, d);
	}
	json_object_object_add(o, "chargers", list);
	fprintf(fp, "%s\n", json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void
html_text(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", fp);
			break;
		case '>':
			fputs("&gt;", fp);
			break;
		case '&':
			fputs("&amp;", fp);
			break;
		case '"':
			fputs("&quot;", fp);
			break;
		case '\'':
			fputs("&#39;", fp);
			break;
		default:
			fputc(*s, fp);
		}
	}
}

#define SVG_LABEL	170	/* width of the name column */
#define SVG_BAR		520	/* width of a full bar */
#define SVG_ROW		24

static void
html_chart_bytes(const struct report *rep, FILE *fp)
{
	struct rep_charger *c;
	uint64_t max = 1;
	unsigned y = 0;
	char a[32], b[32];

	RB_FOREACH(c, rep_tree, &((struct report *)rep)->chargers)
		if (c->total.up + c->total.down > max)
			max = c->total.up + c->total.down;
	fprintf(fp, "<svg class=\"chart\" role=\"img\" width=\"%u\" "
	    "height=\"%zu\" viewBox=\"0 0 %u %zu\">\n<title>Data use per "
	    "charger</title>\n", SVG_LABEL + SVG_BAR + 240,
	    rep->ncharger * SVG_ROW + 30, SVG_LABEL + SVG_BAR + 240,
	    rep->ncharger * SVG_ROW + 30);
	RB_FOREACH(c, rep_tree, &((struct report *)rep)->chargers) {
		unsigned wu = (unsigned)((double)SVG_BAR *
		    (double)c->total.up / (double)max);
		unsigned wd = (unsigned)((double)SVG_BAR *
		    (double)c->total.down / (double)max);

		fprintf(fp, "<text x=\"%u\" y=\"%u\" class=\"name\">",
		    SVG_LABEL - 8, y + 16);
		html_text(fp, c->name);
		fprintf(fp, "</text>\n<rect x=\"%u\" y=\"%u\" width=\"%u\" "
		    "height=\"16\" class=\"up\"><title>up %s</title></rect>\n",
		    SVG_LABEL, y + 4, wu, ctl_bytes(c->total.up, a, sizeof(a)));
		fprintf(fp, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"16\" "
		    "class=\"down\"><title>down %s</title></rect>\n",
		    SVG_LABEL + wu, y + 4, wd,
		    ctl_bytes(c->total.down, b, sizeof(b)));
		fprintf(fp, "<text x=\"%u\" y=\"%u\">%s up, %s down</text>\n",
		    SVG_LABEL + wu + wd + 6, y + 16, a, b);
		y += SVG_ROW;
	}
	fprintf(fp, "<rect x=\"%u\" y=\"%u\" width=\"12\" height=\"12\" "
	    "class=\"up\"/><text x=\"%u\" y=\"%u\">up (charger to cloud)"
	    "</text>\n<rect x=\"%u\" y=\"%u\" width=\"12\" height=\"12\" "
	    "class=\"down\"/><text x=\"%u\" y=\"%u\">down (cloud to charger)"
	    "</text>\n</svg>\n", SVG_LABEL, y + 8, SVG_LABEL + 18, y + 19,
	    SVG_LABEL + 220, y + 8, SVG_LABEL + 238, y + 19);
}

static void
html_chart_online(const struct report *rep, FILE *fp)
{
	struct rep_charger *c;
	unsigned y = 0;
	uint64_t win = window_ms(rep);

	fprintf(fp, "<svg class=\"chart\" role=\"img\" width=\"%u\" "
	    "height=\"%zu\" viewBox=\"0 0 %u %zu\">\n<title>Time online per "
	    "charger</title>\n", SVG_LABEL + SVG_BAR + 150,
	    rep->ncharger * SVG_ROW + 10, SVG_LABEL + SVG_BAR + 150,
	    rep->ncharger * SVG_ROW + 10);
	RB_FOREACH(c, rep_tree, &((struct report *)rep)->chargers) {
		double p = pct(c->total.online_ms, win);
		unsigned w = (unsigned)(SVG_BAR * p / 100);
		char a[32];

		fprintf(fp, "<text x=\"%u\" y=\"%u\" class=\"name\">",
		    SVG_LABEL - 8, y + 16);
		html_text(fp, c->name);
		fprintf(fp, "</text>\n<rect x=\"%u\" y=\"%u\" width=\"%u\" "
		    "height=\"16\" class=\"track\"/>\n<rect x=\"%u\" y=\"%u\" "
		    "width=\"%u\" height=\"16\" class=\"%s\"><title>%s online"
		    "</title></rect>\n<text x=\"%u\" y=\"%u\">%.1f%%</text>\n",
		    SVG_LABEL, y + 4, SVG_BAR, SVG_LABEL, y + 4, w,
		    p >= 99 ? "online" : p >= 90 ? "warn" : "bad",
		    hms(c->total.online_ms, a, sizeof(a)),
		    SVG_LABEL + SVG_BAR + 6, y + 16, p);
		y += SVG_ROW;
	}
	fputs("</svg>\n", fp);
}

/*
 * A charger id never holds ':' (lan_check_id); a name that does is a MAC
 * or a client address: a device without a reservation.
 */
static int
is_charger(const char *name)
{
	return strchr(name, ':') == NULL && strcmp(name, "unknown") != 0;
}

/* The heatmap's class for a day: no data, or how much of it online. */
static const char *
heat_class(const struct rep_charger *c, const struct report_row *r,
    int charger, double *p)
{
	uint64_t day_end = (uint64_t)(r->day + 1) * DAY_MS;

	*p = pct(r->online_ms, r->span_ms);
	/* before the log or the charger was first seen: nothing known */
	if (r->span_ms == 0 || c->first_ms == UINT64_MAX ||
	    day_end <= c->first_ms)
		return "nodata";
	/* a device without a reservation is not expected online */
	if (r->online_ms == 0)
		return charger ? "h0" : "idle";
	return *p < 50 ? "h1" : *p < 90 ? "h2" : *p < 99 ? "h3" : "h4";
}

static const struct {
	const char	*cls, *what;
} heat_legend[] = {
	{ "h4", "online 99 % or more" },
	{ "h3", "90 to 99 %" },
	{ "h2", "50 to 90 %" },
	{ "h1", "under 50 %" },
	{ "h0", "offline all day" },
	{ "nodata", "no data (before the log or the charger began)" },
	{ "idle", "a device without a reservation: no relayed connection" },
};

/*
 * Charger x day: online time per day, so an outage of days shows as a
 * run of red cells.  One row per charger of the section (chargers, or
 * devices without a reservation).
 */
static void
html_heatmap(const struct report *rep, FILE *fp, int chargers)
{
	struct rep_charger *c;
	const struct report_row *r;
	char d[16], a[32];
	int64_t day;
	size_t i, j;
	double p;

	fputs("<table class=\"heatmap\">\n<tr><th>", fp);
	fputs(chargers ? "Charger" : "Device", fp);
	fputs("</th>", fp);
	for (day = rep->first_day; day <= rep->last_day; day++)
		fprintf(fp, "<th class=\"day\" title=\"%s\">%s</th>",
		    day_str(day, d, sizeof(d)), day_str(day, d, sizeof(d)) + 5);
	fputs("</tr>\n", fp);
	RB_FOREACH(c, rep_tree, &((struct report *)rep)->chargers) {
		if (is_charger(c->name) != chargers)
			continue;
		fputs("<tr class=\"charger\"><th class=\"name\">", fp);
		html_text(fp, c->name);
		if (chargers && c->total.online_ms == 0)
			fputs(" <span class=\"never\">never online</span>", fp);
		fputs("</th>", fp);
		/* rows are per charger in day order: find this one's */
		for (i = 0; i < rep->nrows && rep->rows[i].charger != c->name;
		    i++)
			;
		for (j = i; j < rep->nrows && rep->rows[j].charger == c->name;
		    j++) {
			const char *cls;

			r = &rep->rows[j];
			cls = heat_class(c, r, chargers, &p);
			fprintf(fp, "<td class=\"%s\" data-day=\"%s\" "
			    "title=\"%s: ", cls, day_str(r->day, d, sizeof(d)),
			    d);
			if (strcmp(cls, "nodata") == 0)
				fputs("no data", fp);
			else
				fprintf(fp, "%s online (%.1f%%)", hms(
				    r->online_ms, a, sizeof(a)), p);
			fputs("\"></td>", fp);
		}
		fputs("</tr>\n", fp);
	}
	fputs("</table>\n", fp);
}

static void
html_legend(FILE *fp)
{
	size_t i;

	fputs("<ul class=\"legend\">\n", fp);
	for (i = 0; i < sizeof(heat_legend) / sizeof(heat_legend[0]); i++)
		fprintf(fp, "<li><span class=\"swatch %s\"></span>%s</li>\n",
		    heat_legend[i].cls, heat_legend[i].what);
	fputs("</ul>\n", fp);
}

static void
html_reasons(const struct report *rep, FILE *fp)
{
	size_t i;

	if (rep->nreasons == 0) {
		fputs("<p>No refusals in this window.</p>\n", fp);
		return;
	}
	fputs("<table class=\"reasons\">\n<tr><th>Reason</th><th>Refusals"
	    "</th></tr>\n", fp);
	for (i = 0; i < rep->nreasons; i++) {
		fputs("<tr><td>", fp);
		html_text(fp, rep->reasons[i].name);
		fprintf(fp, "</td><td>%llu</td></tr>\n",
		    (unsigned long long)rep->reasons[i].n);
	}
	if (rep->other_reasons > 0)
		fprintf(fp, "<tr><td>other</td><td>%llu</td></tr>\n",
		    (unsigned long long)rep->other_reasons);
	fputs("</table>\n", fp);
}

static void
report_html(const struct report *rep, const char *title, FILE *fp)
{
	struct rep_charger *c;
	char a[40], b[40], up[32], dn[32], d[16];
	size_t i;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset="
	    "\"utf-8\">\n<title>Fleet report", fp);
	if (title != NULL) {
		fputs(": ", fp);
		html_text(fp, title);
	}
	fputs("</title>\n<style>\n"
	    "body{font-family:system-ui,-apple-system,\"Segoe UI\",sans-serif;"
	    "margin:2em auto;max-width:980px;color:#1d2733;padding:0 1em}\n"
	    "h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;"
	    "margin-top:2em;border-bottom:1px solid #d5dbe1;padding-bottom:"
	    ".2em}\n.sub{color:#5b6b7b;margin-top:0}\n"
	    "table{border-collapse:collapse;width:100%;font-size:.92em}\n"
	    "th,td{padding:.3em .6em;border-bottom:1px solid #e6eaee;"
	    "text-align:right}th{background:#f3f5f7}\n"
	    "td:first-child,th:first-child,td.l{text-align:left}\n"
	    "tr.low td{background:#fff4f0}\n"
	    "svg.chart{font-size:12px;max-width:100%;height:auto}\n"
	    "svg text{fill:#1d2733}svg text.name{text-anchor:end}\n"
	    "rect.up{fill:#2f7ed8}rect.down{fill:#8bbc21}"
	    "rect.track{fill:#eef1f4}\nrect.online{fill:#2e9d5b}"
	    "rect.warn{fill:#e0a526}rect.bad{fill:#d9534f}\n"
	    ".note{color:#5b6b7b;font-size:.85em}\n"
	    "table.heatmap{width:auto;border-collapse:separate;"
	    "border-spacing:2px}\ntable.heatmap td{width:14px;height:14px;"
	    "padding:0;border:0}\ntable.heatmap th.day{font-weight:normal;"
	    "font-size:.7em;writing-mode:vertical-rl;padding:.2em 0}\n"
	    "table.heatmap th.name{text-align:left;white-space:nowrap}\n"
	    ".h4{background:#2e9d5b}.h3{background:#9fd39b}"
	    ".h2{background:#e0a526}.h1{background:#ef8a62}"
	    ".h0{background:#d9534f}.idle{background:#c9d1d9}\n.nodata{background:repeating-linear-"
	    "gradient(45deg,#eef1f4 0 3px,#d5dbe1 3px 6px)}\n"
	    "span.never{color:#d9534f;font-size:.8em;font-weight:normal}\n"
	    "ul.legend{list-style:none;padding:0;font-size:.85em}"
	    "ul.legend li{display:inline-block;margin-right:1.2em}\n"
	    "span.swatch{display:inline-block;width:12px;height:12px;"
	    "margin-right:.4em;vertical-align:middle}\n"
	    "</style>\n</head>\n<body>\n<h1>Fleet report", fp);
	if (title != NULL) {
		fputs(": ", fp);
		html_text(fp, title);
	}
	fprintf(fp, "</h1>\n<p class=\"sub\">%s to %s &middot; %zu chargers"
	    "</p>\n", time_str(rep->eff_from, a, sizeof(a)),
	    time_str(rep->eff_to, b, sizeof(b)), rep->ncharger);
	if (rep->nrows == 0) {
		fputs("<p>No events in this window.</p>\n</body>\n</html>\n",
		    fp);
		return;
	}
	fputs("<h2>Online by day</h2>\n", fp);
	html_heatmap(rep, fp, 1);
	html_legend(fp);
	fputs("<h2>Devices without a reservation</h2>\n<p class=\"note\">"
	    "By MAC or address: not in dhcp.chargers.</p>\n", fp);
	html_heatmap(rep, fp, 0);
	fputs("<h2>Refusals by reason</h2>\n", fp);
	html_reasons(rep, fp);
	fputs("<h2>Time online</h2>\n", fp);
	html_chart_online(rep, fp);
	fputs("<h2>Data use</h2>\n", fp);
	html_chart_bytes(rep, fp);
	fputs("<h2>Per charger</h2>\n<table>\n<tr><th>Charger</th><th>Online"
	    "</th><th>Online %</th><th>Connections</th><th>Up</th><th>Down"
	    "</th><th>Refused</th><th>Lease events</th></tr>\n", fp);
	RB_FOREACH(c, rep_tree, &((struct report *)rep)->chargers) {
		double p = pct(c->total.online_ms, window_ms(rep));

		fprintf(fp, "<tr%s><td>", p < 90 ? " class=\"low\"" : "");
		html_text(fp, c->name);
		fprintf(fp, "</td><td>%s</td><td>%.1f%%</td><td>%llu</td>"
		    "<td>%s</td><td>%s</td><td>%llu</td><td>%llu</td></tr>\n",
		    hms(c->total.online_ms, a, sizeof(a)), p,
		    (unsigned long long)c->total.connections,
		    ctl_bytes(c->total.up, up, sizeof(up)),
		    ctl_bytes(c->total.down, dn, sizeof(dn)),
		    (unsigned long long)c->total.refusals,
		    (unsigned long long)c->total.leases);
	}
	fputs("</table>\n<h2>Per charger per day</h2>\n<table>\n<tr><th>Day"
	    "</th><th>Charger</th><th>Online</th><th>Online %</th><th>"
	    "Connections</th><th>Up</th><th>Down</th><th>Refused</th><th>"
	    "Lease events</th></tr>\n", fp);
	for (i = 0; i < rep->nrows; i++) {
		const struct report_row *r = &rep->rows[i];
		double p = pct(r->online_ms, r->span_ms);

		fprintf(fp, "<tr%s><td>%s</td><td class=\"l\">", p < 90 ?
		    " class=\"low\"" : "", day_str(r->day, d, sizeof(d)));
		html_text(fp, r->charger);
		fprintf(fp, "</td><td>%s</td><td>%.1f%%</td><td>%llu</td>"
		    "<td>%s</td><td>%s</td><td>%llu</td><td>%llu</td></tr>\n",
		    hms(r->online_ms, a, sizeof(a)), p,
		    (unsigned long long)r->connections,
		    ctl_bytes(r->bytes_up, up, sizeof(up)),
		    ctl_bytes(r->bytes_down, dn, sizeof(dn)),
		    (unsigned long long)r->refusals,
		    (unsigned long long)r->leases);
	}
	fprintf(fp, "</table>\n<p class=\"note\">Online: the time a charger "
	    "held a connection to the cloud on port %u (the union of its "
	    "connections, cut at UTC midnight). Bytes of a connection that "
	    "ran over several days are shared out by the time it ran on "
	    "each. Times are UTC. Made by evgatectl report from the "
	    "site's fleet log.</p>\n</body>\n</html>\n", rep->port);
}

void
report_write(const struct report *rep, enum report_format fmt,
    const char *title, FILE *fp)
{
	switch (fmt) {
	case REPORT_TEXT:
		report_text(rep, title, fp);
		break;
	case REPORT_CSV:
		report_csv(rep, fp);
		break;
	case REPORT_JSON:
		report_json(rep, title, fp);
		break;
	case REPORT_HTML:
		report_html(rep, title, fp);
		break;
	}
}
