/*
 * fwfetch: how the firmware update engine gets bytes over HTTPS.
 *
 * The engine (fwupdate.c) sees only struct fwfetch_ops: start a transfer
 * of one URL from an offset with a size cap, receive the body in pieces,
 * then exactly one "done" with a result.  The firmware's implementation
 * (fwfetch_curl_*) is libcurl's multi_socket interface on the firmware's
 * libevent loop; the unit tests put in-memory responses behind the same
 * ops, so the engine is tested without a network.
 *
 * The libcurl transfer is locked down as the vendor requires: HTTPS only
 * (CURLOPT_PROTOCOLS_STR, no redirects), peer and host verification on
 * against the firmware's CA bundle only (no system CA path), TLS >= 1.2,
 * CURLOPT_MAXFILESIZE_LARGE at the cap, stalls aborted with
 * CURLOPT_LOW_SPEED_LIMIT/TIME, and the host name resolved by the
 * firmware's own DNS (its server order) and handed to libcurl with
 * CURLOPT_RESOLVE, so certificate name checks still see the real name.
 */
#ifndef EVFW_FWFETCH_H
#define EVFW_FWFETCH_H

#include <stddef.h>
#include <stdint.h>

enum fwfetch_result {
	FWFETCH_OK = 0,
	/* Asked for a range; the server sent the whole resource (HTTP 200
	 * instead of 206, libcurl error 33) or refused it (416). */
	FWFETCH_RANGE_IGNORED,
	FWFETCH_TOO_BIG,	/* longer than the cap */
	FWFETCH_STALLED,	/* slower than the low-speed limit too long */
	FWFETCH_HTTP,		/* an HTTP error status (see http_status) */
	FWFETCH_TLS,		/* handshake or certificate verification */
	FWFETCH_NET,		/* DNS, connect, reset, cut short */
	FWFETCH_BAD_URL,	/* not an https:// URL libcurl accepts */
	FWFETCH_ABORTED,	/* the data callback asked to stop */
};

struct fwfetch_req {
	const char	*url;		/* https://... (copied by start) */
	uint64_t	 offset;	/* resume here (Range); 0: whole body */
	uint64_t	 max_size;	/* cap on the whole resource, bytes */
};

/* Body bytes, in order, starting at req.offset.  0: go on; -1: abort. */
typedef int	(*fwfetch_data_cb)(void *arg, const uint8_t *, size_t);
/* The end of a transfer; detail is a short reason ("" when none). */
typedef void	(*fwfetch_done_cb)(void *arg, enum fwfetch_result,
		    long http_status, const char *detail);

struct fwfetch_ops {
	/*
	 * Start a transfer.  Returns a handle, or NULL (then done is never
	 * called).  done is called exactly once, later, from the loop; never
	 * from inside start.
	 */
	void	*(*start)(void *ctx, const struct fwfetch_req *,
		    fwfetch_data_cb, fwfetch_done_cb, void *arg);
	/* Stop a transfer under way; its done is not called. */
	void	 (*cancel)(void *ctx, void *handle);
	void	*ctx;
};

const char *fwfetch_result_str(enum fwfetch_result);

/* ------------------------------------------------------------------ */
/* The libcurl implementation.                                        */

struct event_base;
struct dns;

struct fwfetch_curl_cfg {
	struct event_base *base;
	/* The firmware's resolver; NULL lets libcurl resolve (tools only). */
	struct dns	*dns;
	const char	*cafile;	/* the CA bundle: the only trust */
	unsigned	 low_speed_bps;	/* default 64 bytes/s ... */
	unsigned	 low_speed_s;	/* ... for 60 s: a stall */
	unsigned	 connect_timeout_s;	/* default 30 */
	const char	*user_agent;	/* default "evcharger" */
};

struct fwfetch_curl;

/* NULL on failure (logged).  Copies the configuration's strings. */
struct fwfetch_curl *fwfetch_curl_new(const struct fwfetch_curl_cfg *);
/* Cancels transfers under way (their done is not called). */
void	 fwfetch_curl_free(struct fwfetch_curl *);
/* Fill ops with this fetcher (ops->ctx = the fetcher). */
void	 fwfetch_curl_ops(struct fwfetch_curl *, struct fwfetch_ops *);

#endif
