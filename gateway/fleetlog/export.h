/*
 * export: reading a fleet log directory back, for evgatectl export and
 * report and for the shipper.
 *
 * The reader walks the segments in seq order and hands out one line at a
 * time from a fixed buffer: memory stays constant whatever the size of
 * the log.  Lines are checked with fleetlog's parser; a torn or garbage
 * line is reported as bad and skipped, never fatal.  Filters select by
 * time window, charger and type.  Writers: CSV (RFC 4180, fixed header),
 * JSON Lines (the stored lines, byte for byte).
 *
 * The report aggregates per charger per UTC day: time online (the union
 * of the charger's connection intervals on the online port, 8883 = MQTT,
 * clipped to each day), connections, bytes each way, refusals and lease
 * events; as text, CSV, JSON or one self-contained HTML page.
 */
#ifndef EVG_EXPORT_H
#define EVG_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json_object;
struct export_reader;

/* --- reading --------------------------------------------------------- */

enum export_rc {
	EXPORT_LINE = 0,	/* a good line */
	EXPORT_BAD,		/* a torn or garbage line (skip and count) */
	EXPORT_END,		/* nothing more (for now) */
	EXPORT_ERROR,		/* I/O error: err says what */
};

struct export_line {
	const uint8_t	*buf;		/* valid until the next call */
	size_t		 len;		/* without the newline */
	uint64_t	 seq;
	uint64_t	 ts_ms;
};

/* Give up on a segment's line that has no end after this many bytes. */
#define EXPORT_BUF	(256 * 1024)

/*
 * Open dir for reading lines with seq > after_seq.  from_ms/to_ms (0 and
 * UINT64_MAX for all) only let whole segments be skipped that cannot
 * hold events of that window; lines are not filtered by time here.  With
 * follow, reaching the end of the newest segment is not final: a later
 * call sees what was appended since (an incomplete last line is left for
 * then, not reported as bad).  NULL and err on failure.
 */
struct export_reader *export_reader_open(const char *dir, uint64_t after_seq,
		    uint64_t from_ms, uint64_t to_ms, int follow, char *err,
		    size_t errlen);
/*
 * The next line, with its seq and ts read from fleetlog's own prefix (or,
 * when that has another shape, from a full parse).  Lines that are not
 * events give EXPORT_BAD with line->buf/len set to the raw bytes.
 */
enum export_rc	 export_reader_next(struct export_reader *,
		    struct export_line *, char *err, size_t errlen);
/*
 * The last line as a parsed and fully checked event (owned by the
 * reader, valid until the next call), or NULL when it is not one (count
 * it as bad).
 */
struct json_object *export_reader_event(struct export_reader *);
/* Give the last line back: the next call returns it again. */
void		 export_reader_unread(struct export_reader *);
size_t		 export_reader_segments(const struct export_reader *);
void		 export_reader_free(struct export_reader *);

/* --- filters and writers --------------------------------------------- */

enum export_format {
	EXPORT_CSV = 0,
	EXPORT_JSONL,
};

struct export_filter {
	uint64_t	 from_ms;	/* inclusive */
	uint64_t	 to_ms;		/* exclusive; UINT64_MAX: no end */
	const char	**chargers;	/* any of; none: all */
	size_t		 ncharger;
	const char	**types;
	size_t		 ntypes;
};

struct export_stats {
	uint64_t	 lines;		/* read */
	uint64_t	 events;	/* written */
	uint64_t	 bad;		/* torn or garbage, skipped */
	uint64_t	 segments;
	/* several directories (export_run_dirs) */
	uint64_t	 duplicates;	/* the same box's event again, skipped */
	uint64_t	 gaps;		/* events missing inside the window */
	uint64_t	 boxes;		/* whose events were read */
};

/* Does the event (with its ts) pass the filter? */
int	export_match(const struct export_filter *, struct json_object *ev,
	    uint64_t ts_ms);
/* The CSV header row and one event as a row (CRLF line ends). */
void	export_csv_header(FILE *);
void	export_csv_row(FILE *, struct json_object *ev);
/* RFC 4180 field: quoted when it holds , " CR or LF. */
void	export_csv_field(FILE *, const char *s, size_t len);
/* The same for text that must not run as a spreadsheet formula: a cell
 * starting with = + - @ TAB or CR gets a leading ' and quotes. */
void	export_csv_text(FILE *, const char *s, size_t len);

/* The whole export.  0, or -1 with err set. */
int	export_run(const char *dir, const struct export_filter *,
	    enum export_format, FILE *out, struct export_stats *,
	    char *err, size_t errlen);

/*
 * The same over several directories, e.g. the fleet logs of a pair's two
 * boxes: the events are merged in time order (ts, then box name, then
 * seq), every event once -- an event is its box's ("box" member; a log
 * without box names counts as one box per directory) and seq, so the same
 * event read twice (from a copy of a log given too) goes out once
 * (stats->duplicates).  Within the window, seqs of a box that are
 * missing between two of its events are counted in stats->gaps: events
 * that none of the directories has (retention, a directory left out).
 */
#define EXPORT_MAX_DIRS	16
int	export_run_dirs(const char *const *dirs, size_t ndirs,
	    const struct export_filter *, enum export_format, FILE *out,
	    struct export_stats *, char *err, size_t errlen);

/*
 * A time on the command line into ms since the epoch: RFC 3339 (no zone
 * means UTC), YYYY-MM-DD (midnight UTC; with end set the following
 * midnight, so "--to 2026-11-30" includes that day), "now", or relative
 * to now: -24h, -7d, -90m.  0 or -1.
 */
int	export_parse_time(const char *s, uint64_t now_ms, int end,
	    uint64_t *out);

/* --- report ---------------------------------------------------------- */

#define REPORT_ONLINE_PORT	8883

enum report_format {
	REPORT_TEXT = 0,
	REPORT_CSV,
	REPORT_JSON,
	REPORT_HTML,
};

struct report_row {
	const char	*charger;
	int64_t		 day;		/* days since 1970-01-01 (UTC) */
	uint64_t	 span_ms;	/* of the day inside the window */
	uint64_t	 online_ms;
	uint64_t	 connections;	/* that started that day */
	uint64_t	 bytes_up;	/* shared out over the days it ran */
	uint64_t	 bytes_down;
	uint64_t	 refusals;
	uint64_t	 leases;	/* lease events */
};

struct report;

/* A report over [from_ms, to_ms); online_port 0: REPORT_ONLINE_PORT. */
struct report	*report_new(uint64_t from_ms, uint64_t to_ms,
		    unsigned online_port);
/* Feed one event (borrowed); events outside the window are harmless. */
void		 report_add_event(struct report *, struct json_object *ev,
		    uint64_t ts_ms);
/* A connection without an end event yet (live, from the daemon). */
void		 report_add_connection(struct report *, const char *charger,
		    unsigned port, uint64_t start_ms, uint64_t end_ms,
		    uint64_t bytes_up, uint64_t bytes_down);
/* Compute the rows: per charger (sorted), per day (ascending). */
void		 report_finish(struct report *);
size_t		 report_rows(const struct report *,
		    const struct report_row **);
/* Render; title (the site name) may be NULL. */
void		 report_write(const struct report *, enum report_format,
		    const char *title, FILE *);
void		 report_free(struct report *);

/* Read dir's events into a report (constant memory per event). */
int		 report_read_dir(struct report *, const char *dir,
		    const struct export_filter *, struct export_stats *,
		    char *err, size_t errlen);
/* The same over several directories, merged as export_run_dirs does. */
int		 report_read_dirs(struct report *, const char *const *dirs,
		    size_t ndirs, const struct export_filter *,
		    struct export_stats *, char *err, size_t errlen);

#endif
