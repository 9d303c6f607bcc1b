/*
 * ship: push the fleet log to a collector over HTTPS, for fleets whose
 * events are gathered centrally (Vector's http_server, Fluent Bit's http
 * input, Logstash's http input, or anything that takes NDJSON POSTs).
 *
 * Committed events are read back from the log directory (the same reader
 * as export) and POSTed in batches: one event per line, as stored,
 * Content-Type application/x-ndjson, gzip-compressed when ship.gzip is on
 * (Content-Encoding: gzip).  The last seq the collector acknowledged with
 * a 2xx is the cursor, kept in log.dir/ship.cursor (written to a temporary
 * file, synced, renamed, directory synced) after every success: an outage
 * loses nothing (the log keeps the events and the same batch is retried
 * with exponential back-off and jitter), and a restart sends nothing
 * twice.  Delivery is at least once: a crash between the collector's 2xx
 * and the cursor write, or a reply lost on the way back, sends that batch
 * again; the seq in every event is the idempotency key (with the site
 * name in the X-Evgate-Site header and, for a pair's box, its name in
 * X-Evgate-Box and in every event's "box").
 *
 * libcurl's multi interface runs on the daemon's libevent loop
 * (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION); one request at a time.
 */
#ifndef EVG_SHIP_H
#define EVG_SHIP_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cfg.h"

struct event_base;
struct json_object;
struct fleetlog;
struct export_reader;
struct ship;

#define SHIP_CURSOR_FILE	"ship.cursor"
#define SHIP_MAX_BATCH_BYTES	(4 * 1024 * 1024)	/* before gzip */
#define SHIP_BACKOFF_MIN_MS	1000
#define SHIP_BACKOFF_MAX_MS	300000

/* The ship section of evgated.yaml; NULL in struct config: off. */
struct cfg_ship {
	char		*url;			/* https:// only */
	char		*ca_file;		/* else the system's CAs */
	char		*cert_file;		/* client certificate (PEM) */
	char		*key_file;		/* its key, if not in cert_file */
	char		*bearer_token_file;
	char		*bearer_token;		/* read from the file */
	unsigned	 batch;			/* events per request */
	uint64_t	 interval_ms;		/* look for new events */
	uint64_t	 timeout_ms;		/* one request, all in */
	int		 gzip;
};
/* Its parser (arg: a struct cfg_ship ** for a new struct), and free. */
int	ship_cfg_section(struct cfg_ctx *, struct cfg_node *, void *);
void	ship_cfg_free(struct cfg_ship *);

struct netpolicy;
/* A shipper reading fl, connecting only where np allows (NULL: anywhere). */
struct ship	*ship_new(struct event_base *, struct fleetlog *,
		    struct netpolicy *np);
/*
 * The module lifecycle (daemon/module.h).  prepare takes c (NULL or
 * log_dir NULL: prepare to stop), the site name for the X-Evgate-Site
 * header and the log directory the fleet log will use after the commit,
 * and reads the cursor there; 0, or -1 with err and nothing changed.
 * Unchanged settings make prepare and commit no-ops: a batch in flight
 * goes on.  Otherwise commit starts over with the new settings (a
 * request in flight is abandoned and sent again: at least once); abort
 * drops what prepare copied.  Prepare the fleet log first.
 */
int		 ship_prepare(struct ship *, const struct cfg_ship *,
		    const char *site, const char *log_dir, char *err,
		    size_t errlen);
void		 ship_commit(struct ship *);
void		 ship_abort(struct ship *);
/* prepare and commit in one (tests). */
int		 ship_configure(struct ship *, const struct cfg_ship *,
		    const char *site, const char *log_dir, char *err,
		    size_t errlen);
/* New events were committed (a fleetlog commit callback). */
void		 ship_committed(uint64_t committed_seq, void *ship);
void		 ship_free(struct ship *);
/* The status section "ship" (a new object). */
struct json_object *ship_status(void *ship);

/* --- the pieces, for tests ------------------------------------------ */

struct ship_batch {
	char		*raw;		/* NDJSON, each line with its \n */
	size_t		 len, cap;
	size_t		 lines;
	uint64_t	 first, last;	/* seqs; last may be a skipped line */
	uint64_t	 skipped;	/* torn or malformed, not sent */
	uint64_t	 lost;		/* seqs missing before first (expired) */
};

/*
 * Fill b from the reader: lines with after < seq <= committed, at most
 * max_lines and about max_bytes.  Lines that are not valid events are
 * skipped (counted), so one bad line can never block shipping.  Returns
 * the number of lines in b, or -1 with err (I/O error).
 */
ssize_t	ship_fill_batch(struct export_reader *, uint64_t after,
	    uint64_t committed, size_t max_lines, size_t max_bytes,
	    struct ship_batch *b, char *err, size_t errlen);
void	ship_batch_reset(struct ship_batch *);
/* gzip (RFC 1952) of in into a new buffer; 0 or -1. */
int	ship_gzip(const void *in, size_t len, uint8_t **out, size_t *outlen);
/* Back-off after n failures in a row: doubling from 1 s to 5 min, with
 * jitter (a value in [d/2, d]) from rnd. */
uint64_t ship_backoff_ms(unsigned failures, uint32_t rnd);
/* The cursor file in dir: 0 (seq 0 when there is none) or -1 + err. */
int	ship_cursor_load(const char *dir, uint64_t *seq, char *err,
	    size_t errlen);
int	ship_cursor_save(const char *dir, uint64_t seq, char *err,
	    size_t errlen);

#endif
