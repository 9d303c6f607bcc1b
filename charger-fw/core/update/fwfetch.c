/*
 * fwfetch: libcurl's multi_socket interface on the firmware's libevent
 * loop (see fwfetch.h).  libcurl tells us which sockets to watch and when
 * its timer fires; we tell it when a socket is ready.  No thread, no
 * blocking call: the DNS lookup goes through the firmware's resolver
 * first, and its answer is pinned with CURLOPT_RESOLVE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "core/dns.h"
#include "core/update/fwfetch.h"
#include "core/fwlog.h"

struct xfer {
	struct fwfetch_curl	*fc;
	struct xfer		*next;
	CURL			*easy;
	struct curl_slist	*resolve;
	struct dns_req		*dns;
	char			 url[1024];
	char			 host[256];
	long			 port;
	uint64_t		 offset;
	uint64_t		 max_size;
	fwfetch_data_cb		 data;
	fwfetch_done_cb		 done;
	void			*arg;
	int			 checked;	/* status checked (1st data) */
	enum fwfetch_result	 why;		/* set when we abort */
	long			 status;
	struct event		*defer;		/* a failure before curl ran */
	enum fwfetch_result	 defer_result;
	char			 errbuf[CURL_ERROR_SIZE];
};

struct fwfetch_curl {
	struct event_base	*base;
	struct dns		*dns;
	char			*cafile;
	char			*user_agent;
	unsigned		 low_speed_bps;
	unsigned		 low_speed_s;
	unsigned		 connect_timeout_s;
	CURLM			*multi;
	struct event		*timer;
	struct xfer		*xfers;
};

static int curl_users;

static void	check_done(struct fwfetch_curl *);

/* ------------------------------------------------------------------ */
/* libcurl <-> libevent.                                              */

static void
sock_event(evutil_socket_t fd, short kind, void *arg)
{
	struct fwfetch_curl *fc = arg;
	int action = 0, running;

	if (kind & EV_READ)
		action |= CURL_CSELECT_IN;
	if (kind & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(fc->multi, fd, action, &running);
	check_done(fc);
}

static int
sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct fwfetch_curl *fc = userp;
	struct event *ev = socketp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL) {
			event_free(ev);
			curl_multi_assign(fc->multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST;
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (ev != NULL) {
		event_del(ev);
		event_assign(ev, fc->base, s, kind, sock_event, fc);
	} else {
		if ((ev = event_new(fc->base, s, kind, sock_event, fc)) ==
		    NULL)
			return -1;
		curl_multi_assign(fc->multi, s, ev);
	}
	event_add(ev, NULL);
	return 0;
}

static void
timer_event(evutil_socket_t fd, short kind, void *arg)
{
	struct fwfetch_curl *fc = arg;
	int running;

	curl_multi_socket_action(fc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(fc);
}

static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct fwfetch_curl *fc = userp;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(fc->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(fc->timer, &tv);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Transfers.                                                         */

static void
xfer_unlink(struct xfer *x)
{
	struct xfer **pp;

	for (pp = &x->fc->xfers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
}

static void
xfer_free(struct xfer *x)
{
	if (x->dns != NULL)
		dns_cancel(x->dns);
	if (x->easy != NULL) {
		curl_multi_remove_handle(x->fc->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->resolve);
	if (x->defer != NULL)
		event_free(x->defer);
	free(x);
}

/* Unlink, free, then tell the engine (it may start the next one). */
static void
xfer_finish(struct xfer *x, enum fwfetch_result r, long status,
    const char *detail)
{
	fwfetch_done_cb done = x->done;
	void *arg = x->arg;
	char buf[CURL_ERROR_SIZE];

	snprintf(buf, sizeof(buf), "%s", detail);
	xfer_unlink(x);
	xfer_free(x);
	done(arg, r, status, buf);
}

static enum fwfetch_result
map_curl(CURLcode rc, long status)
{
	switch (rc) {
	case CURLE_OK:
		return FWFETCH_OK;
	case CURLE_RANGE_ERROR:
		return FWFETCH_RANGE_IGNORED;
	case CURLE_HTTP_RETURNED_ERROR:
		/* 416: the range is past the end: start again from 0. */
		return status == 416 ? FWFETCH_RANGE_IGNORED : FWFETCH_HTTP;
	case CURLE_FILESIZE_EXCEEDED:
		return FWFETCH_TOO_BIG;
	case CURLE_OPERATION_TIMEDOUT:
		return FWFETCH_STALLED;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return FWFETCH_BAD_URL;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
		return FWFETCH_TLS;
	default:
		return FWFETCH_NET;
	}
}

static void
check_done(struct fwfetch_curl *fc)
{
	struct xfer *x;
	CURLMsg *msg;
	CURLcode rc;
	long status = 0;
	int left;
	enum fwfetch_result r;

	while ((msg = curl_multi_info_read(fc->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		rc = msg->data.result;
		x = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &x);
		if (x == NULL)
			continue;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		if (rc == CURLE_WRITE_ERROR && x->why != FWFETCH_OK)
			r = x->why;	/* we stopped it, and know why */
		else
			r = map_curl(rc, status);
		/* A body with an unexpected status that we did not refuse
		 * (an empty redirect): not what was asked for. */
		if (r == FWFETCH_OK && status != (x->offset > 0 ? 206 : 200))
			r = x->offset > 0 && status == 200 ?
			    FWFETCH_RANGE_IGNORED : FWFETCH_HTTP;
		fw_debug("fwfetch: %s: %s (curl %d, HTTP %ld)", x->url,
		    fwfetch_result_str(r), (int)rc, status);
		xfer_finish(x, r, status, r == FWFETCH_OK ? "" :
		    x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc));
	}
}

static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (!x->checked) {
		/* Before any byte reaches the slot: is this what we asked? */
		x->checked = 1;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
		if (x->offset > 0 && x->status == 200) {
			x->why = FWFETCH_RANGE_IGNORED;
			return 0;
		}
		if (x->status != (x->offset > 0 ? 206 : 200)) {
			x->why = FWFETCH_HTTP;
			return 0;
		}
	}
	if (len > 0 && x->data(x->arg, (const uint8_t *)p, len) == -1) {
		x->why = FWFETCH_ABORTED;
		return 0;
	}
	return len;
}

static void
defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xfer *x = arg;

	xfer_finish(x, x->defer_result, 0, x->errbuf);
}

/* Report a failure from the loop, never from inside start. */
static void
fail_later(struct xfer *x, enum fwfetch_result r, const char *why)
{
	snprintf(x->errbuf, sizeof(x->errbuf), "%s", why);
	x->defer_result = r;
	if (x->defer == NULL)
		x->defer = evtimer_new(x->fc->base, defer_cb, x);
	if (x->defer != NULL)
		event_active(x->defer, EV_TIMEOUT, 0);
}

static void
xfer_go(struct xfer *x)
{
	struct fwfetch_curl *fc = x->fc;
	CURL *e = x->easy;
	curl_off_t cap;

	curl_easy_setopt(e, CURLOPT_URL, x->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* HTTPS only, no redirects (the pinned address covers one host). */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(e, CURLOPT_CAINFO, fc->cafile);
	/* The bundle is the only trust: no system CA directory. */
	curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, fc->user_agent);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT,
	    (long)fc->connect_timeout_s);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)fc->low_speed_bps);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)fc->low_speed_s);
	curl_easy_setopt(e, CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V4);
	/* The cap is on what is still to come. */
	cap = (curl_off_t)(x->max_size - x->offset);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, cap);
	if (x->offset > 0)
		curl_easy_setopt(e, CURLOPT_RESUME_FROM_LARGE,
		    (curl_off_t)x->offset);
	if (x->resolve != NULL)
		curl_easy_setopt(e, CURLOPT_RESOLVE, x->resolve);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	if (curl_multi_add_handle(fc->multi, e) != CURLM_OK)
		fail_later(x, FWFETCH_NET, "curl_multi_add_handle failed");
}

static void
dns_done(int err, uint32_t addr, void *arg)
{
	struct xfer *x = arg;
	char ip[16], entry[300];

	x->dns = NULL;
	if (err != 0) {
		xfer_finish(x, FWFETCH_NET, 0, "cannot resolve the host name");
		return;
	}
	/* libcurl connects there, and still checks the certificate for
	 * the name in the URL. */
	snprintf(entry, sizeof(entry), "%s:%ld:%s", x->host, x->port,
	    fw_ipstr(addr, ip));
	if ((x->resolve = curl_slist_append(NULL, entry)) == NULL) {
		xfer_finish(x, FWFETCH_NET, 0, "out of memory");
		return;
	}
	fw_debug("fwfetch: %s resolved to %s", x->host, ip);
	xfer_go(x);
}

/* Host and port of an https URL; *literal set for IP addresses. */
static int
url_host(struct xfer *x, int *literal)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rv = -1, a, b, c, d;
	char tail;

	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, x->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    strcmp(scheme, "https") != 0 ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK || strlen(host) >= sizeof(x->host))
		goto out;
	snprintf(x->host, sizeof(x->host), "%s", host);
	x->port = strtol(port, NULL, 10);
	*literal = host[0] == '[' ||
	    sscanf(host, "%d.%d.%d.%d%c", &a, &b, &c, &d, &tail) == 4;
	rv = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rv;
}

static void *
fc_start(void *ctx, const struct fwfetch_req *req, fwfetch_data_cb data,
    fwfetch_done_cb done, void *arg)
{
	struct fwfetch_curl *fc = ctx;
	struct xfer *x;
	int literal = 0;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->fc = fc;
	x->data = data;
	x->done = done;
	x->arg = arg;
	x->offset = req->offset;
	x->max_size = req->max_size;
	if (strlen(req->url) >= sizeof(x->url) ||
	    (x->easy = curl_easy_init()) == NULL) {
		free(x);
		return NULL;
	}
	snprintf(x->url, sizeof(x->url), "%s", req->url);
	x->next = fc->xfers;
	fc->xfers = x;
	if (req->offset >= req->max_size && req->max_size > 0) {
		fail_later(x, FWFETCH_TOO_BIG, "offset past the size cap");
		return x;
	}
	if (url_host(x, &literal) == -1) {
		fail_later(x, FWFETCH_BAD_URL, "not an https URL");
		return x;
	}
	if (fc->dns == NULL || literal) {
		xfer_go(x);
		return x;
	}
	/* The firmware's resolver, in its server order. */
	if ((x->dns = dns_resolve(fc->dns, x->host, dns_done, x)) == NULL)
		fail_later(x, FWFETCH_NET, "cannot start the DNS lookup");
	return x;
}

static void
fc_cancel(void *ctx, void *handle)
{
	struct xfer *x = handle;

	xfer_unlink(x);
	xfer_free(x);
}

void
fwfetch_curl_ops(struct fwfetch_curl *fc, struct fwfetch_ops *ops)
{
	ops->start = fc_start;
	ops->cancel = fc_cancel;
	ops->ctx = fc;
}

struct fwfetch_curl *
fwfetch_curl_new(const struct fwfetch_curl_cfg *cfg)
{
	struct fwfetch_curl *fc;

	if (cfg->cafile == NULL || cfg->base == NULL) {
		fw_err("fwfetch: a CA bundle and an event base are needed");
		return NULL;
	}
	if (curl_users++ == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		curl_users--;
		fw_err("fwfetch: curl_global_init failed");
		return NULL;
	}
	if ((fc = calloc(1, sizeof(*fc))) == NULL)
		goto fail;
	fc->base = cfg->base;
	fc->dns = cfg->dns;
	fc->low_speed_bps = cfg->low_speed_bps ? cfg->low_speed_bps : 64;
	fc->low_speed_s = cfg->low_speed_s ? cfg->low_speed_s : 60;
	fc->connect_timeout_s = cfg->connect_timeout_s ?
	    cfg->connect_timeout_s : 30;
	if ((fc->cafile = strdup(cfg->cafile)) == NULL ||
	    (fc->user_agent = strdup(cfg->user_agent != NULL ?
	    cfg->user_agent : "evcharger")) == NULL ||
	    (fc->multi = curl_multi_init()) == NULL ||
	    (fc->timer = evtimer_new(fc->base, timer_event, fc)) == NULL)
		goto fail;
	curl_multi_setopt(fc->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(fc->multi, CURLMOPT_SOCKETDATA, fc);
	curl_multi_setopt(fc->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(fc->multi, CURLMOPT_TIMERDATA, fc);
	return fc;
fail:
	fw_err("fwfetch: out of memory");
	fwfetch_curl_free(fc);
	if (fc == NULL && --curl_users == 0)
		curl_global_cleanup();
	return NULL;
}

void
fwfetch_curl_free(struct fwfetch_curl *fc)
{
	struct xfer *x;

	if (fc == NULL)
		return;
	while ((x = fc->xfers) != NULL) {
		fc->xfers = x->next;
		xfer_free(x);
	}
	if (fc->multi != NULL)
		curl_multi_cleanup(fc->multi);
	if (fc->timer != NULL)
		event_free(fc->timer);
	free(fc->cafile);
	free(fc->user_agent);
	free(fc);
	if (--curl_users == 0)
		curl_global_cleanup();
}
