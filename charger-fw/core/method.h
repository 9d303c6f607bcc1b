/*
 * method: direct methods from the hub.  Two pure, bounded parsers: the
 * request topic ($iothub/methods/POST/{name}/?$rid={rid}) and the payload
 * of each numbered method (fuzzed: tests/fuzz/fuzz_method.c).
 *
 * Payloads (JSON): 501 start ["16","3"] or [16,3] (current A 6..32,
 * phases 1 or 3; [] or empty: the configured default current, 3 phases);
 * 504 set session id and 505 set user id: "text" or ["text"] (1..64
 * printable ASCII); every other method ignores its payload but it must
 * still be valid JSON (or empty) and at most METHOD_MAX_PAYLOAD bytes.
 */
#ifndef EVFW_METHOD_H
#define EVFW_METHOD_H

#include <stddef.h>
#include <stdint.h>

#define METHOD_MAX_PAYLOAD	4096
#define METHOD_RID_MAX		64
#define METHOD_NAME_MAX		32
#define METHOD_TEXT_MAX		64

enum method_id {
	METHOD_PING = 1,
	METHOD_RESTART = 102,
	METHOD_UPGRADE = 200,
	METHOD_ROLLBACK = 202,
	METHOD_START = 501,
	METHOD_STOP = 502,
	METHOD_REPORT = 503,
	METHOD_SESSION_ID = 504,
	METHOD_USER_ID = 505,
	METHOD_PAUSE = 506,
	METHOD_RESUME = 507,
};

enum method_status {
	METHOD_OK = 0,
	METHOD_BAD_TOPIC,	/* not a method request topic */
	METHOD_BAD_RID,		/* request id missing, too long, odd chars */
	METHOD_TOO_LARGE,
	METHOD_BAD_JSON,
	METHOD_BAD_SHAPE,	/* valid JSON, wrong shape for the method */
	METHOD_BAD_VALUE,	/* right shape, value out of range */
};

struct method_req {
	char	name[METHOD_NAME_MAX];
	int	id;			/* numeric name, -1 if not a number */
	char	rid[METHOD_RID_MAX];
};

struct method_args {
	unsigned	current_a;	/* 501; 0 = default */
	unsigned	phases;		/* 501 */
	char		text[METHOD_TEXT_MAX + 1];	/* 504, 505 */
};

enum method_status method_parse_topic(const char *topic, size_t len,
	    struct method_req *);
enum method_status method_parse_payload(int id, const uint8_t *, size_t,
	    struct method_args *);
const char *method_strerror(enum method_status);

#endif
