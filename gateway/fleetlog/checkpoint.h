/*
 * checkpoint: crash accounting for relayed connections.
 *
 * A connection's "connection" event is written when it ends.  When
 * evgated is killed (-9, a power cut, a crash) the connections open at
 * that moment would never get one: their bytes and duration would be
 * lost to the fleet's accounts.  So every log.checkpoint_interval the
 * live (spliced) connections are written to a small file in the log
 * directory, each as the end record it would get now, with reason
 * "gateway-restart":
 *
 *	checkpoint-<start ms>-<pid>.jsonl	one file per run of evgated
 *
 * written to a temporary file, synced, renamed over the old one, the
 * directory synced.  A clean stop removes the file once the fleet log
 * holds every end record (its last flush succeeded).  A file that is
 * not this run's was left by an unclean stop: when the log directory is
 * taken into use its records are emitted as events -- except those of
 * connections that already have an end record in the log (they closed
 * after the last checkpoint, or a start before this one emitted them and
 * died before removing the file) -- the log is flushed, and the file is
 * removed.  So each connection gets one end record, never two.
 *
 * Bound on the loss: an end record carries the duration and bytes of
 * the last checkpoint, at most one interval old; a connection younger
 * than one interval at the crash may not be in any checkpoint and then
 * gets no end record.  Without a log section nothing is written.  One
 * thread: everything runs on the daemon's loop.
 */
#ifndef EVG_CHECKPOINT_H
#define EVG_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct fleetlog;
struct relay;
struct cfg_log;
struct json_object;
struct checkpoint;

#define CHECKPOINT_PREFIX	"checkpoint-"
#define CHECKPOINT_SUFFIX	".jsonl"
#define CHECKPOINT_REASON	"gateway-restart"

struct checkpoint_stats {
	uint64_t	 saves;		/* files written */
	uint64_t	 saved_conns;	/* connections in the last one */
	uint64_t	 last_save_ms;	/* wall clock; 0: none yet */
	uint64_t	 recovered;	/* end records emitted for a crash */
	uint64_t	 already_closed; /* left out: the log had them */
	uint64_t	 files_recovered; /* left by unclean stops */
	uint64_t	 errors;	/* writes or reads that failed */
	char		 last_error[256];
};

/*
 * A checkpoint of relay's live connections in fl's directory.  It works
 * once committed with a log section.
 */
struct checkpoint *checkpoint_new(struct event_base *, struct fleetlog *fl,
		    struct relay *relay);
/*
 * The module lifecycle (daemon/module.h); prepare cannot fail.  commit
 * runs after the fleet log's: when the log's directory changed (or at
 * the first commit) it removes this run's file from the old directory,
 * recovers the files of unclean stops from the new one (emitting their
 * end records and flushing the log) and starts the timer.  c NULL: off
 * (this run's file removed).
 */
int		 checkpoint_prepare(struct checkpoint *, const struct cfg_log *c,
		    char *err, size_t errlen);
void		 checkpoint_commit(struct checkpoint *);
void		 checkpoint_abort(struct checkpoint *);
/* Write the file now (the timer does it every interval); 0 or -1. */
int		 checkpoint_save(struct checkpoint *);
/*
 * A clean stop: call after the relay has closed its connections.
 * Flushes the fleet log and, if that worked, removes this run's file;
 * then frees.
 */
void		 checkpoint_free(struct checkpoint *);
void		 checkpoint_stats(const struct checkpoint *,
		    struct checkpoint_stats *);
/* The status section "checkpoint" (a new object); arg: the checkpoint. */
struct json_object *checkpoint_status(void *);

#endif
