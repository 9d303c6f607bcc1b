/*
 * twin: the device twin over the hub link (PROTOCOLS.md): the GET after
 * every (re)connect, reported-property PATCHes, and desired-property
 * changes, in the order the hub versioned them.  Pure of I/O: it sends
 * through cb.send, is told about the link (twin_up/twin_down) and what
 * arrives (twin_input), and runs on the time passed in, so the unit tests
 * drive it on a fake clock.
 *
 * Requests carry a request id ($rid) and their responses are matched by
 * it; an answer to anything else (a request of an earlier connection, a
 * forgery) is dropped.  A 429 (throttled) or 5xx answer, or none within
 * TWIN_TIMEOUT_MS, is retried after a random wait in [1 s, window],
 * window = min(60 s, 2 s x 2^attempt); another 4xx ends the request.  One
 * request is in flight at a time, the GET first: reports keep their order.
 * Reports made while one is in flight are merged into the next (reported
 * properties are a JSON merge patch; the later value of a key wins).
 *
 * Desired changes arrive as a PATCH ($iothub/twin/PATCH/properties/desired/
 * ?$version=v) only while connected, hence the GET after every SUBACK.  A
 * change is acted on only if its version is newer than the last one
 * applied; a stale one is ignored.  A gap (a PATCH missed while the link
 * was down, or none applied yet) is acted on too, but makes the twin GET
 * the whole document again, whose version then counts.
 *
 * The topic parser is pure and bounded (fuzzed: tests/fuzz/fuzz_twin.c).
 */
#ifndef EVFW_TWIN_H
#define EVFW_TWIN_H

#include <stddef.h>
#include <stdint.h>

#define TWIN_DOC_MAX		(64 * 1024)	/* a document we accept */
#define TWIN_RID_MAX		32
#define TWIN_TIMEOUT_MS		30000
#define TWIN_RETRY_BASE_MS	2000
#define TWIN_RETRY_CAP_MS	60000

enum twin_topic_kind {
	TWIN_TOPIC_OTHER = 0,	/* not twin traffic */
	TWIN_TOPIC_RES,		/* $iothub/twin/res/{status}/?$rid=... */
	TWIN_TOPIC_DESIRED,	/* .../PATCH/properties/desired/?$version=v */
	TWIN_TOPIC_BAD,		/* under $iothub/twin/ but malformed */
};

struct twin_topic {
	enum twin_topic_kind kind;
	int		status;			/* RES: 100..599 */
	char		rid[TWIN_RID_MAX];	/* RES */
	int64_t		version;		/* -1 if absent */
};

/* Parse a topic of len bytes (no NUL needed).  Pure. */
enum twin_topic_kind twin_parse_topic(const char *, size_t,
	    struct twin_topic *);

struct twin_cb {
	/* Publish (QoS 0); 0 when handed to the link, -1 when not. */
	int	(*send)(void *arg, const char *topic, const char *payload);
	/*
	 * Desired properties to act on, version-ordered: the "desired"
	 * object of a GET (full = 1: absent keys are not desired any more)
	 * or a PATCH (full = 0: only what changed; null deletes).
	 */
	void	(*desired)(void *arg, const char *json, size_t len,
		    int64_t version, int full);
	/* The hub answered report id: 204 written, else the error status. */
	void	(*reported)(void *arg, uint32_t id, int status);
	void	*arg;
};

struct twin_stats {
	unsigned long	gets;		/* GETs sent (retries included) */
	unsigned long	patches;	/* reported PATCHes sent */
	unsigned long	retries;	/* after 429/5xx or no answer */
	unsigned long	throttled;	/* 429 answers */
	unsigned long	unmatched;	/* answers with an unknown $rid */
	unsigned long	stale;		/* desired changes ignored as stale */
	unsigned long	desired;	/* desired changes acted on */
	int		last_status;
};

struct twin;

/* version: the desired $version already applied (kept across reboots). */
struct twin *twin_new(const struct twin_cb *, int64_t version);
void	 twin_free(struct twin *);
/* The link is up and subscribed: GET, then the reports waiting. */
void	 twin_up(struct twin *, uint64_t now_ms);
/* The link is down: what was in flight is sent again after twin_up. */
void	 twin_down(struct twin *);
/*
 * Report properties (a JSON object).  Returns the report's id (> 0),
 * shared by reports merged into one PATCH, or 0 on a bad document.
 */
uint32_t twin_report(struct twin *, const char *json, uint64_t now_ms);
/*
 * A message from the hub.  Returns the status of the response it
 * answered (200, 204, 429 ...), 0 for other twin traffic, -1 when the
 * topic is not the twin's.
 */
int	 twin_input(struct twin *, const char *topic, const uint8_t *, size_t,
	    uint64_t now_ms);
void	 twin_tick(struct twin *, uint64_t now_ms);
uint64_t twin_deadline(const struct twin *);
int64_t	 twin_version(const struct twin *);
/* Requests not answered yet (in flight or waiting to be retried). */
size_t	 twin_pending(const struct twin *);
const struct twin_stats *twin_stats(const struct twin *);

#endif
