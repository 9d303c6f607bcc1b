/*
 * fleetlog: the site's durable record of what happened (leases, relayed
 * connections, refusals, time state, dnsmasq, reloads), the sink of
 * events_emit().
 *
 * Storage is a directory of append-only JSON Lines segments, each named by
 * the UTC time and the sequence number of its first event:
 *
 *	events-20261125T081500Z-000000000001.jsonl
 *
 * Every line is one event, {"seq":N,"ts":"...","type":"...",...}, where seq
 * is a number that grows by one per stored event and never repeats in one
 * directory: the cursor for export and shipping.  Events queue in memory
 * and are written as one batch per fsync_interval with write(2) and
 * fdatasync(2); an event is committed once its batch was synced, and only
 * committed events are exported or shipped.  Segments rotate by size and at
 * UTC midnight; whole old segments are deleted by age and by total size.
 *
 * On start the newest segment is scanned: a torn last line (a batch cut by
 * a crash or power loss) is truncated away, and seq continues after the
 * last good event.  When the disk is full the relay goes on: events wait
 * in a bounded queue, what does not fit is counted as dropped, the state
 * says "disk-full", and writing is retried every few seconds.  One thread:
 * everything runs on the daemon's loop.
 */
#ifndef EVG_FLEETLOG_H
#define EVG_FLEETLOG_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfg.h"

struct event_base;
struct json_object;
struct fleetlog;

#define FLEETLOG_MAX_LINE	65536	/* a longer event is dropped */
#define FLEETLOG_QUEUE_MAX	100000	/* events waiting for the disk */
#define FLEETLOG_QUEUE_BYTES	(32 * 1024 * 1024)
#define FLEETLOG_RETRY_MS	5000	/* after a failed write */

/* The log's own event: {"type":"log","state":...,"dropped":N}. */
#define FLEETLOG_EVENT_LOG	"log"

/* The log section of evgated.yaml; NULL in struct config: no log. */
struct cfg_log {
	char		*dir;
	unsigned	 retention_days;	/* 0: keep by size only */
	uint64_t	 max_bytes;		/* all segments together */
	uint64_t	 segment_bytes;		/* rotate at this size */
	uint64_t	 fsync_ms;		/* batch interval */
	uint64_t	 checkpoint_ms;		/* open connections (checkpoint.h) */
	unsigned	 queue_max;		/* events waiting for the disk */
};
/* Its parser (arg: a struct cfg_log ** for a new struct), and free. */
int	fleetlog_cfg_section(struct cfg_ctx *, struct cfg_node *, void *);
void	fleetlog_cfg_free(struct cfg_log *);

enum fleetlog_state {
	FLEETLOG_OFF = 0,	/* no log section */
	FLEETLOG_OK,
	FLEETLOG_DISK_FULL,	/* ENOSPC, EDQUOT, EIO: retrying */
	FLEETLOG_ERROR,		/* another write error: retrying */
};

struct fleetlog_stats {
	enum fleetlog_state state;
	uint64_t	 next_seq;	/* given to the next event */
	uint64_t	 committed_seq;	/* last event known on disk */
	uint64_t	 written;	/* events committed since start */
	uint64_t	 batches;	/* fdatasync'ed batches */
	uint64_t	 queued;	/* waiting for the disk */
	uint64_t	 queued_bytes;
	uint64_t	 dropped;	/* lost: queue full or too big */
	uint64_t	 write_errors;
	uint64_t	 segments;
	uint64_t	 bytes;		/* all segments together */
	uint64_t	 deleted;	/* segments removed by retention */
	uint64_t	 recovered_bytes; /* torn tail cut at start */
	uint64_t	 suppressed;	/* refusals left out (events.h policy) */
	char		 last_error[256];
};

/* Wall clock in ms; injectable for tests (rotation at midnight). */
typedef uint64_t (*fleetlog_clock_fn)(void *);

struct fleetlog	*fleetlog_new(struct event_base *);
/*
 * The module lifecycle (daemon/module.h).  prepare opens a new directory
 * (created, scanned, a torn tail cut) beside the running one, or nothing
 * when the directory stays; c NULL prepares to stop.  0, or -1 with err
 * and nothing changed.  commit writes what is queued to the old directory,
 * then switches (events the old one could not take are dropped and
 * counted: they carry its numbering); abort closes what prepare opened.
 * The fleetlog copies what it needs: c may be freed afterwards.
 */
int		 fleetlog_prepare(struct fleetlog *, const struct cfg_log *,
		    char *err, size_t errlen);
void		 fleetlog_commit(struct fleetlog *);
void		 fleetlog_abort(struct fleetlog *);
/* prepare and commit in one (tests, evgatectl). */
int		 fleetlog_configure(struct fleetlog *, const struct cfg_log *,
		    char *err, size_t errlen);
/* Write everything queued now and fdatasync; 0, or -1 (still queued). */
int		 fleetlog_flush(struct fleetlog *);
/* Flush and free. */
void		 fleetlog_free(struct fleetlog *);

/*
 * Store one event (borrowed): it gets the next seq and is queued.  Does
 * nothing when the log is off.  Usable as an events_sink_fn.
 */
void		 fleetlog_append(struct json_object *ev, void *fleetlog);
void		 fleetlog_stats(const struct fleetlog *,
		    struct fleetlog_stats *);
/* The status section "log" (a new object); an evgated_status_fn. */
struct json_object *fleetlog_status(void *fleetlog);
/* The directory in use, or NULL when off. */
const char	*fleetlog_dir(const struct fleetlog *);
uint64_t	 fleetlog_committed(const struct fleetlog *);
/* Called after every committed batch (one listener: the shipper). */
void		 fleetlog_set_commit_cb(struct fleetlog *,
		    void (*)(uint64_t committed_seq, void *), void *);
void		 fleetlog_set_clock(struct fleetlog *, fleetlog_clock_fn,
		    void *);
/* Bound the queue lower than FLEETLOG_QUEUE_MAX (tests). */
void		 fleetlog_set_queue_max(struct fleetlog *, uint64_t);
const char	*fleetlog_state_str(enum fleetlog_state);

/* --- the segment format, shared with export and shipping ------------- */

#define FLEETLOG_SEG_PREFIX	"events-"
#define FLEETLOG_SEG_SUFFIX	".jsonl"
#define FLEETLOG_SEG_NAMELEN	64	/* 50 at most: 20 digits of seq */

/* "events-20261125T081500Z-000000000001.jsonl" into buf. */
void	fleetlog_segment_name(uint64_t start_ms, uint64_t first_seq,
	    char *buf, size_t len);
/* The reverse: 0, or -1 when name is not a segment's. */
int	fleetlog_segment_parse_name(const char *name, uint64_t *start_ms,
	    uint64_t *first_seq);

/* One segment of a directory, as listed. */
struct fleetlog_segment {
	char		 name[FLEETLOG_SEG_NAMELEN];
	uint64_t	 start_ms;
	uint64_t	 first_seq;
	uint64_t	 size;
	int64_t		 mtime;		/* seconds */
};

/*
 * List dir's segments, sorted by first seq (not by name: a clock that
 * stepped back must not reorder the log).  Returns the count and a new
 * array in *out (free it), or -1 with errno set.
 */
ssize_t	fleetlog_list_segments(const char *dir,
	    struct fleetlog_segment **out);

/*
 * One stored line.  fleetlog_parse_line is the pure, bounded reader of a
 * line from disk (without its newline): it never trusts the bytes.
 */
enum fleetlog_line_status {
	FLEETLOG_LINE_OK = 0,
	FLEETLOG_LINE_EMPTY,		/* zero length or only blanks */
	FLEETLOG_LINE_TOO_LONG,		/* over FLEETLOG_MAX_LINE */
	FLEETLOG_LINE_NOT_JSON,		/* torn, binary, NUL bytes, ... */
	FLEETLOG_LINE_NOT_OBJECT,
	FLEETLOG_LINE_BAD_SEQ,		/* no positive integer "seq" */
	FLEETLOG_LINE_BAD_TS,		/* no RFC 3339 UTC "ts" */
	FLEETLOG_LINE_BAD_TYPE,		/* no string "type" */
};

struct fleetlog_line {
	uint64_t		 seq;
	uint64_t		 ts_ms;
	char			 type[32];	/* truncated if longer */
	struct json_object	*ev;		/* owned by the caller, or NULL */
};

/*
 * Parse and check one line.  With want_ev the parsed object is returned
 * in out->ev (the caller puts it); otherwise it is released.
 */
enum fleetlog_line_status fleetlog_parse_line(const uint8_t *buf, size_t len,
	    int want_ev, struct fleetlog_line *out);
/*
 * The fast path: read seq and ts from the prefix {"seq":N,"ts":"..."
 * that fleetlog itself writes, without a JSON parse.  0 when the prefix
 * has that exact shape, -1 otherwise (then use fleetlog_parse_line).
 */
int	fleetlog_peek_line(const uint8_t *buf, size_t len, uint64_t *seq,
	    uint64_t *ts_ms);
const char *fleetlog_line_status_str(enum fleetlog_line_status);

/*
 * RFC 3339 UTC timestamp as events carry them ("2026-11-25T08:09:10Z",
 * optional fraction, "Z" or a +hh:mm offset) into ms since the epoch.
 * Pure and bounded; 0 or -1.
 */
int	fleetlog_parse_ts(const char *s, size_t len, uint64_t *ms);

#endif
