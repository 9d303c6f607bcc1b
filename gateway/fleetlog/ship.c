/*
 * ship: see ship.h.  One state machine:
 *
 *   IDLE --(tick: committed > acked)--> SENDING (batch built, POST)
 *   SENDING --2xx--> cursor saved, acked = batch.last --> IDLE (and at
 *       once again when more is waiting: a backlog drains quickly)
 *   SENDING --error/other status--> RETRYING (same batch, back-off)
 *   RETRYING --(timer)--> SENDING
 *
 * A 413 (batch too large for the collector) halves the batch size and
 * rebuilds.  The reader follows the log directory from the cursor on and
 * never reads past the committed seq.
 */
#include "evgate_config.h"

#include <sys/stat.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <json-c/json.h>
#include <zlib.h>

#include "common/cfg.h"
#include "common/events.h"
#include "fleetlog/export.h"
#include "fleetlog/fleetlog.h"
#include "common/log.h"
#include "common/netpolicy.h"
#include "fleetlog/ship.h"
#include "common/util.h"

#define TOKEN_MAX	4096

/* --- configuration --------------------------------------------------- */

static int
ship_url(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_ship *s = arg;
	size_t i;

	if (cfg_str(ctx, node, &s->url) == -1)
		return -1;
	if (strncasecmp(s->url, "https://", 8) != 0 || s->url[8] == '\0' ||
	    s->url[8] == '/')
		return cfg_error(ctx, node, "the collector URL must be "
		    "https://host[:port]/path (events are not sent in clear)");
	for (i = 0; s->url[i] != '\0'; i++)
		if ((unsigned char)s->url[i] <= ' ' || s->url[i] == 0x7f)
			return cfg_error(ctx, node, "spaces or control "
			    "characters in the URL");
	return 0;
}

static int
readable_file(struct cfg_ctx *ctx, struct cfg_node *node, char **out)
{
	if (cfg_str(ctx, node, out) == -1)
		return -1;
	if (access(*out, R_OK) == -1)
		return cfg_error(ctx, node, "cannot read %s: %s", *out,
		    strerror(errno));
	return 0;
}

static int
ship_ca(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return readable_file(ctx, node, &((struct cfg_ship *)arg)->ca_file);
}

static int
ship_cert(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return readable_file(ctx, node, &((struct cfg_ship *)arg)->cert_file);
}

static int
ship_key(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return readable_file(ctx, node, &((struct cfg_ship *)arg)->key_file);
}

static int
ship_token_file(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_ship *s = arg;
	char buf[TOKEN_MAX + 2];
	size_t n, i;
	FILE *fp;

	if (readable_file(ctx, node, &s->bearer_token_file) == -1)
		return -1;
	if ((fp = fopen(s->bearer_token_file, "r")) == NULL)
		return cfg_error(ctx, node, "cannot read %s: %s",
		    s->bearer_token_file, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
	    buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	for (i = 0; i < n && (buf[i] == ' ' || buf[i] == '\t'); i++)
		;
	memmove(buf, buf + i, n - i + 1);
	n -= i;
	if (n == 0 || n > TOKEN_MAX)
		return cfg_error(ctx, node, "%s: the token must be one line "
		    "of 1 to %d characters", s->bearer_token_file, TOKEN_MAX);
	for (i = 0; i < n; i++)
		if ((unsigned char)buf[i] <= ' ' || (unsigned char)buf[i] >=
		    0x7f)
			return cfg_error(ctx, node, "%s: the token must be "
			    "printable ASCII without spaces",
			    s->bearer_token_file);
	free(s->bearer_token);
	s->bearer_token = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

static int
ship_batch_key(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_ship *s = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 1, 10000, &v) == -1)
		return -1;
	s->batch = (unsigned)v;
	return 0;
}

static int
ship_interval(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_duration(ctx, node, 100, 3600000,
	    &((struct cfg_ship *)arg)->interval_ms);
}

static int
ship_timeout(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_duration(ctx, node, 1000, 600000,
	    &((struct cfg_ship *)arg)->timeout_ms);
}

static int
ship_gzip_key(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	return cfg_bool(ctx, node, &((struct cfg_ship *)arg)->gzip);
}

int
ship_cfg_section(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "url", ship_url, 1 },
		{ "ca_file", ship_ca, 0 },
		{ "cert_file", ship_cert, 0 },
		{ "key_file", ship_key, 0 },
		{ "bearer_token_file", ship_token_file, 0 },
		{ "batch", ship_batch_key, 0 },
		{ "interval", ship_interval, 0 },
		{ "timeout", ship_timeout, 0 },
		{ "gzip", ship_gzip_key, 0 },
		{ NULL, NULL, 0 },
	};
	struct cfg_ship **out = arg, *s;

	s = *out = xcalloc(1, sizeof(*s));
	s->batch = 500;
	s->interval_ms = 10000;
	s->timeout_ms = 30000;
	s->gzip = 1;
	if (cfg_map(ctx, node, keys, s) == -1)
		return -1;
	if (s->key_file != NULL && s->cert_file == NULL)
		return cfg_error(ctx, node, "key_file needs cert_file");
	return 0;
}

void
ship_cfg_free(struct cfg_ship *s)
{
	if (s == NULL)
		return;
	free(s->url);
	free(s->ca_file);
	free(s->cert_file);
	free(s->key_file);
	free(s->bearer_token_file);
	if (s->bearer_token != NULL) {
		explicit_bzero(s->bearer_token, strlen(s->bearer_token));
		free(s->bearer_token);
	}
	free(s);
}

/* --- pieces ---------------------------------------------------------- */

void
ship_batch_reset(struct ship_batch *b)
{
	free(b->raw);
	memset(b, 0, sizeof(*b));
}

static void
batch_add(struct ship_batch *b, const uint8_t *line, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		while (b->len + len + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 65536;
		b->raw = xreallocarray(b->raw, b->cap, 1);
	}
	memcpy(b->raw + b->len, line, len);
	b->raw[b->len + len] = '\n';
	b->len += len + 1;
	b->lines++;
}

ssize_t
ship_fill_batch(struct export_reader *r, uint64_t after, uint64_t committed,
    size_t max_lines, size_t max_bytes, struct ship_batch *b, char *err,
    size_t errlen)
{
	struct export_line line;
	enum export_rc rc;

	while (b->lines < max_lines && b->len < max_bytes) {
		rc = export_reader_next(r, &line, err, errlen);
		if (rc == EXPORT_END)
			break;
		if (rc == EXPORT_ERROR)
			return -1;
		if (rc == EXPORT_BAD) {
			b->skipped++;
			continue;
		}
		if (line.seq > committed) {
			export_reader_unread(r);	/* not synced yet */
			break;
		}
		if (line.seq <= after || (b->last != 0 && line.seq <= b->last))
			continue;	/* a duplicate seq: sent already */
		if (b->first == 0 && b->last == 0 && line.seq > after + 1)
			b->lost = line.seq - after - 1;
		if (export_reader_event(r) == NULL) {
			/* the prefix was fine, the rest is not: skip it, but
			 * let the cursor pass over it */
			b->skipped++;
			b->last = line.seq;
			continue;
		}
		if (b->lines > 0 && b->len + line.len + 1 > max_bytes) {
			export_reader_unread(r);
			break;
		}
		batch_add(b, line.buf, line.len);
		if (b->first == 0)
			b->first = line.seq;
		b->last = line.seq;
	}
	return (ssize_t)b->lines;
}

int
ship_gzip(const void *in, size_t len, uint8_t **out, size_t *outlen)
{
	z_stream zs;
	uLong bound;
	int rv;

	memset(&zs, 0, sizeof(zs));
	/* 15 + 16: a gzip wrapper, not zlib's (Content-Encoding: gzip) */
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	bound = deflateBound(&zs, (uLong)len) + 32;
	*out = xmalloc(bound);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = *out;
	zs.avail_out = (uInt)bound;
	rv = deflate(&zs, Z_FINISH);
	*outlen = zs.total_out;
	deflateEnd(&zs);
	if (rv != Z_STREAM_END) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

uint64_t
ship_backoff_ms(unsigned failures, uint32_t rnd)
{
	uint64_t d = SHIP_BACKOFF_MIN_MS;
	unsigned i;

	for (i = 1; i < failures && d < SHIP_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > SHIP_BACKOFF_MAX_MS)
		d = SHIP_BACKOFF_MAX_MS;
	/* "equal jitter": half fixed, half random, so that a site's many
	 * gateways do not all come back at the same second */
	return d / 2 + rnd % (d / 2 + 1);
}

int
ship_cursor_load(const char *dir, uint64_t *seq, char *err, size_t errlen)
{
	char path[4096], buf[256];
	struct json_object *o, *v;
	ssize_t n;
	int fd;

	*seq = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, SHIP_CURSOR_FILE);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	if ((o = json_tokener_parse(buf)) == NULL ||
	    !json_object_object_get_ex(o, "acked_seq", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0) {
		json_object_put(o);
		snprintf(err, errlen, "%s: not a cursor file", path);
		return -1;
	}
	*seq = (uint64_t)json_object_get_int64(v);
	json_object_put(o);
	return 0;
}

int
ship_cursor_save(const char *dir, uint64_t seq, char *err, size_t errlen)
{
	char path[4096], tmp[4096], buf[128];
	int fd = -1, dfd = -1, len;

	snprintf(path, sizeof(path), "%s/%s", dir, SHIP_CURSOR_FILE);
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, SHIP_CURSOR_FILE);
	len = snprintf(buf, sizeof(buf), "{\"acked_seq\":%llu}\n",
	    (unsigned long long)seq);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0640)) == -1 || write(fd, buf, (size_t)len) != len ||
	    fdatasync(fd) == -1)
		goto fail;
	close(fd);
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	/* the rename itself must survive a power cut */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1)
		goto fail;
	close(dfd);
	return 0;
fail:
	snprintf(err, errlen, "saving %s: %s", path, strerror(errno));
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	unlink(tmp);
	return -1;
}

/* --- the shipper ----------------------------------------------------- */

enum ship_state {
	SHIP_OFF = 0,
	SHIP_IDLE,		/* nothing to send, or waiting for the tick */
	SHIP_SENDING,
	SHIP_RETRYING,		/* the batch waits for the back-off */
};

struct ship {
	struct event_base	*base;
	struct fleetlog		*fl;
	struct netpolicy	*np;		/* NULL: no address policy */
	int			 url_is_address;
	char			 policy_error[160];
	enum ship_state		 state;
	struct cfg_ship		 conf;		/* own copies */
	char			*site;
	char			*dir;
	CURLM			*multi;
	CURL			*easy;
	struct curl_slist	*headers;
	struct event		*curl_timer;
	struct event		*tick;
	struct export_reader	*reader;
	uint64_t		 acked;
	struct ship_batch	 batch;
	uint8_t			*body;
	size_t			 body_len;
	size_t			 max_lines;	/* conf.batch, halved on 413 */
	unsigned		 failures_in_row;
	uint64_t		 retry_at_mono;
	char			 errbuf[CURL_ERROR_SIZE];
	char			 resp[200];	/* start of the reply body */
	size_t			 resp_len;
	/* counters */
	uint64_t		 sent_events, batches, bytes, failures;
	uint64_t		 skipped, lost;
	long			 last_status;
	uint64_t		 last_ok_wall;
	char			 last_error[256];
	/* prepared by ship_prepare, for the next commit */
	int			 prepared;
	int			 next_off;
	struct cfg_ship		 next;		/* own copies */
	char			*next_site;
	char			*next_dir;
	uint64_t		 next_acked;
};

static void	ship_tick_cb(evutil_socket_t, short, void *);

static void
ship_arm(struct ship *sh, uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(sh->tick, &tv);
}

static void
ship_drop_body(struct ship *sh)
{
	free(sh->body);
	sh->body = NULL;
	sh->body_len = 0;
	ship_batch_reset(&sh->batch);
}

static void
ship_abort_transfer(struct ship *sh)
{
	if (sh->easy != NULL) {
		curl_multi_remove_handle(sh->multi, sh->easy);
		curl_easy_cleanup(sh->easy);
		sh->easy = NULL;
	}
	curl_slist_free_all(sh->headers);
	sh->headers = NULL;
}

static void
ship_fail(struct ship *sh, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ship_fail(struct ship *sh, const char *fmt, ...)
{
	va_list ap;
	uint64_t wait;

	va_start(ap, fmt);
	vsnprintf(sh->last_error, sizeof(sh->last_error), fmt, ap);
	va_end(ap);
	sh->failures++;
	sh->failures_in_row++;
	wait = ship_backoff_ms(sh->failures_in_row, arc4random());
	if (sh->failures_in_row == 1 || sh->failures_in_row % 10 == 0)
		log_warnx("ship: %s: %s; %u failures in a row, retrying in "
		    "%.1fs", sh->conf.url, sh->last_error, sh->failures_in_row,
		    (double)wait / 1000);
	sh->state = SHIP_RETRYING;
	sh->retry_at_mono = now_mono_ms() + wait;
	ship_arm(sh, wait);
}

static void
ship_done(struct ship *sh, CURLcode res)
{
	long code = 0;
	char err[256];

	curl_easy_getinfo(sh->easy, CURLINFO_RESPONSE_CODE, &code);
	sh->last_status = code;
	ship_abort_transfer(sh);
	if (res != CURLE_OK) {
		ship_fail(sh, "%s", sh->policy_error[0] ? sh->policy_error :
		    sh->errbuf[0] ? sh->errbuf : curl_easy_strerror(res));
		return;
	}
	if (code == 413 && sh->max_lines > 1) {
		sh->max_lines /= 2;
		log_warnx("ship: the collector says 413 (too large): batches "
		    "of %zu events from now on", sh->max_lines);
		/* build it again, smaller, from the cursor */
		ship_drop_body(sh);
		export_reader_free(sh->reader);
		sh->reader = NULL;
		ship_fail(sh, "HTTP 413");
		return;
	}
	if (code < 200 || code > 299) {
		ship_fail(sh, "HTTP %ld%s%s", code, sh->resp_len ? ": " : "",
		    sh->resp);
		return;
	}
	/* Acknowledged: move the cursor, durably, then go on. */
	if (ship_cursor_save(sh->dir, sh->batch.last, err, sizeof(err)) == -1)
		log_warnx("ship: %s (a restart may send this batch again)",
		    err);
	if (sh->failures_in_row > 0)
		log_info("ship: %s: delivering again after %u failures",
		    sh->conf.url, sh->failures_in_row);
	sh->acked = sh->batch.last;
	sh->sent_events += sh->batch.lines;
	sh->batches++;
	sh->bytes += sh->body_len;
	sh->failures_in_row = 0;
	sh->last_ok_wall = now_wall_ms();
	sh->last_error[0] = '\0';
	ship_drop_body(sh);
	sh->state = SHIP_IDLE;
	/* A backlog (after an outage) goes out batch after batch. */
	if (fleetlog_committed(sh->fl) > sh->acked)
		ship_arm(sh, 0);
	else
		ship_arm(sh, sh->conf.interval_ms);
}

static void
ship_check_multi(struct ship *sh)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(sh->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == sh->easy)
			ship_done(sh, msg->data.result);
}

static void
ship_sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ship *sh = arg;
	int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
	    ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0), running;

	curl_multi_socket_action(sh->multi, fd, action, &running);
	ship_check_multi(sh);
}

static void
ship_curl_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ship *sh = arg;
	int running;

	curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	ship_check_multi(sh);
}

/* CURLMOPT_SOCKETFUNCTION: watch what curl wants watched. */
static int
ship_socket_fn(CURL *e, curl_socket_t s, int what, void *userp,
    void *socketp)
{
	struct ship *sh = userp;
	struct event *ev = socketp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (ev != NULL) {
			event_free(ev);
			curl_multi_assign(sh->multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (ev != NULL) {
		event_del(ev);
		event_assign(ev, sh->base, s, kind, ship_sock_event_cb, sh);
	} else {
		ev = event_new(sh->base, s, kind, ship_sock_event_cb, sh);
		curl_multi_assign(sh->multi, s, ev);
	}
	event_add(ev, NULL);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION */
static int
ship_timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
	struct ship *sh = userp;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(sh->curl_timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(sh->curl_timer, &tv);
	return 0;
}

/* Keep the start of the collector's answer, for the error message. */
static size_t
ship_write_fn(char *data, size_t size, size_t n, void *arg)
{
	struct ship *sh = arg;
	size_t len = size * n, room = sizeof(sh->resp) - 1 - sh->resp_len;
	size_t i;

	if (len < room)
		room = len;
	for (i = 0; i < room; i++) {
		char c = data[i];

		sh->resp[sh->resp_len++] = (c >= ' ' && c < 0x7f) ? c : ' ';
	}
	sh->resp[sh->resp_len] = '\0';
	return len;
}

/*
 * libcurl is about to connect: the collector's address passes the
 * upstream address policy first, like every address the gateway
 * connects to.  A collector written as an IP address in ship.url is the
 * operator's choice (only the "never" rules); a name's answer is not.
 */
static int
ship_prereq_fn(void *arg, char *ip, char *local_ip, int port, int local_port)
{
	struct ship *sh = arg;
	union sockaddr_any sa;
	enum netpolicy_class cls;

	if (sh->np == NULL)
		return CURL_PREREQFUNC_OK;
	memset(&sa, 0, sizeof(sa));
	if (inet_pton(AF_INET, ip, &sa.sin.sin_addr) == 1) {
		sa.sin.sin_family = AF_INET;
		sa.sin.sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, ip, &sa.sin6.sin6_addr) == 1) {
		sa.sin6.sin6_family = AF_INET6;
		sa.sin6.sin6_port = htons((uint16_t)port);
	} else
		return CURL_PREREQFUNC_ABORT;
	cls = netpolicy_check(sh->np, &sa, sh->url_is_address);
	if (cls == NETPOLICY_PUBLIC)
		return CURL_PREREQFUNC_OK;
	snprintf(sh->policy_error, sizeof(sh->policy_error), "the collector's "
	    "address %s (%s) is refused by the upstream address policy "
	    "(wan.allow_prefixes)", ip, netpolicy_class_str(cls));
	return CURL_PREREQFUNC_ABORT;
}

/* Is the host of url an IP address (not a name)? */
static int
url_host_is_address(const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL;
	struct in6_addr a;
	int rv = 0;
	size_t len;

	if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		len = strlen(host);
		if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
			host[len - 1] = '\0';
			rv = inet_pton(AF_INET6, host + 1, &a) == 1;
		} else
			rv = inet_pton(AF_INET, host, &a) == 1;
	}
	curl_free(host);
	curl_url_cleanup(u);
	return rv;
}

static int
ship_start_transfer(struct ship *sh)
{
	char hdr[TOKEN_MAX + 64];
	CURL *e;

	if ((e = curl_easy_init()) == NULL) {
		ship_fail(sh, "curl_easy_init failed");
		return -1;
	}
	sh->errbuf[0] = '\0';
	sh->resp[0] = '\0';
	sh->resp_len = 0;
	curl_easy_setopt(e, CURLOPT_URL, sh->conf.url);
	sh->policy_error[0] = '\0';
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, ship_prereq_fn);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, sh);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ship_write_fn);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, sh);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, sh->errbuf);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, sh->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)sh->body_len);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)sh->conf.timeout_ms);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "evgated/" VERSION);
	if (sh->conf.ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, sh->conf.ca_file);
	if (sh->conf.cert_file != NULL)
		curl_easy_setopt(e, CURLOPT_SSLCERT, sh->conf.cert_file);
	if (sh->conf.key_file != NULL)
		curl_easy_setopt(e, CURLOPT_SSLKEY, sh->conf.key_file);
	sh->headers = curl_slist_append(NULL,
	    "Content-Type: application/x-ndjson");
	if (sh->conf.gzip)
		sh->headers = curl_slist_append(sh->headers,
		    "Content-Encoding: gzip");
	sh->headers = curl_slist_append(sh->headers, "Expect:");
	if (sh->conf.bearer_token != NULL) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s",
		    sh->conf.bearer_token);
		sh->headers = curl_slist_append(sh->headers, hdr);
		explicit_bzero(hdr, sizeof(hdr));
	}
	if (sh->site != NULL) {
		snprintf(hdr, sizeof(hdr), "X-Evgate-Site: %s", sh->site);
		sh->headers = curl_slist_append(sh->headers, hdr);
	}
	/* One box of a pair: both ship; each event carries "box" too. */
	if (events_box() != NULL) {
		snprintf(hdr, sizeof(hdr), "X-Evgate-Box: %s", events_box());
		sh->headers = curl_slist_append(sh->headers, hdr);
	}
	snprintf(hdr, sizeof(hdr), "X-Evgate-Seq: %llu-%llu",
	    (unsigned long long)sh->batch.first,
	    (unsigned long long)sh->batch.last);
	sh->headers = curl_slist_append(sh->headers, hdr);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, sh->headers);
	sh->easy = e;
	sh->state = SHIP_SENDING;
	if (curl_multi_add_handle(sh->multi, e) != CURLM_OK) {
		ship_abort_transfer(sh);
		ship_fail(sh, "curl_multi_add_handle failed");
		return -1;
	}
	return 0;
}

/* Build the next batch (unless one waits to be retried) and send it. */
static void
ship_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ship *sh = arg;
	uint64_t committed = fleetlog_committed(sh->fl);
	char err[512];

	if (sh->state == SHIP_OFF || sh->state == SHIP_SENDING)
		return;
	if (sh->body == NULL) {
		if (sh->acked >= committed) {
			sh->state = SHIP_IDLE;
			ship_arm(sh, sh->conf.interval_ms);
			return;
		}
		if (sh->reader == NULL && (sh->reader = export_reader_open(
		    sh->dir, sh->acked, 0, UINT64_MAX, 1, err,
		    sizeof(err))) == NULL) {
			ship_fail(sh, "%s", err);
			return;
		}
		if (ship_fill_batch(sh->reader, sh->acked, committed,
		    sh->max_lines, SHIP_MAX_BATCH_BYTES, &sh->batch, err,
		    sizeof(err)) == -1) {
			ship_batch_reset(&sh->batch);
			export_reader_free(sh->reader);
			sh->reader = NULL;
			ship_fail(sh, "%s", err);
			return;
		}
		sh->skipped += sh->batch.skipped;
		if (sh->batch.lost > 0) {
			sh->lost += sh->batch.lost;
			log_warnx("ship: %llu events expired from the log "
			    "before they could be shipped (seq %llu-%llu)",
			    (unsigned long long)sh->batch.lost,
			    (unsigned long long)(sh->acked + 1),
			    (unsigned long long)(sh->acked + sh->batch.lost));
		}
		if (sh->batch.lines == 0) {
			/* only skipped lines: pass over them */
			if (sh->batch.last > sh->acked &&
			    ship_cursor_save(sh->dir, sh->batch.last, err,
			    sizeof(err)) == 0)
				sh->acked = sh->batch.last;
			ship_batch_reset(&sh->batch);
			sh->state = SHIP_IDLE;
			ship_arm(sh, sh->conf.interval_ms);
			return;
		}
		if (sh->conf.gzip) {
			if (ship_gzip(sh->batch.raw, sh->batch.len, &sh->body,
			    &sh->body_len) == -1) {
				ship_batch_reset(&sh->batch);
				ship_fail(sh, "gzip failed");
				return;
			}
		} else {
			sh->body = xmalloc(sh->batch.len);
			memcpy(sh->body, sh->batch.raw, sh->batch.len);
			sh->body_len = sh->batch.len;
		}
	}
	ship_start_transfer(sh);
}

void
ship_committed(uint64_t committed, void *arg)
{
	struct ship *sh = arg;

	/* A full batch is waiting: no need to wait for the interval. */
	if (sh != NULL && sh->state == SHIP_IDLE &&
	    committed >= sh->acked + sh->max_lines)
		ship_arm(sh, 0);
}

struct ship *
ship_new(struct event_base *base, struct fleetlog *fl, struct netpolicy *np)
{
	struct ship *sh = xcalloc(1, sizeof(*sh));
	static int curl_ready;

	if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) == 0)
		curl_ready = 1;
	sh->base = base;
	sh->fl = fl;
	sh->np = np;
	sh->tick = evtimer_new(base, ship_tick_cb, sh);
	sh->curl_timer = evtimer_new(base, ship_curl_timer_cb, sh);
	return sh;
}

static void
cfg_ship_clear(struct cfg_ship *s)
{
	free(s->url);
	free(s->ca_file);
	free(s->cert_file);
	free(s->key_file);
	free(s->bearer_token_file);
	if (s->bearer_token != NULL) {
		explicit_bzero(s->bearer_token, strlen(s->bearer_token));
		free(s->bearer_token);
	}
	memset(s, 0, sizeof(*s));
}

static void
ship_clear_conf(struct ship *sh)
{
	cfg_ship_clear(&sh->conf);
	free(sh->site);
	sh->site = NULL;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static int
same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Nothing that matters changed: keep going (no batch sent twice). */
static int
ship_unchanged(const struct ship *sh, const struct cfg_ship *c,
    const char *site, const char *dir)
{
	return sh->state != SHIP_OFF && same_str(sh->conf.url, c->url) &&
	    same_str(sh->conf.ca_file, c->ca_file) &&
	    same_str(sh->conf.cert_file, c->cert_file) &&
	    same_str(sh->conf.key_file, c->key_file) &&
	    same_str(sh->conf.bearer_token, c->bearer_token) &&
	    same_str(sh->site, site) && same_str(sh->dir, dir) &&
	    sh->conf.batch == c->batch &&
	    sh->conf.interval_ms == c->interval_ms &&
	    sh->conf.timeout_ms == c->timeout_ms && sh->conf.gzip == c->gzip;
}

static void
ship_stop(struct ship *sh)
{
	ship_abort_transfer(sh);
	ship_drop_body(sh);
	export_reader_free(sh->reader);
	sh->reader = NULL;
	if (sh->multi != NULL)
		curl_multi_cleanup(sh->multi);
	sh->multi = NULL;
	evtimer_del(sh->tick);
	evtimer_del(sh->curl_timer);
	sh->state = SHIP_OFF;
}

int
ship_prepare(struct ship *sh, const struct cfg_ship *c, const char *site,
    const char *log_dir, char *err, size_t errlen)
{
	ship_abort(sh);
	if (c == NULL || log_dir == NULL) {
		sh->next_off = 1;
		sh->prepared = 1;
		return 0;
	}
	if (ship_unchanged(sh, c, site, log_dir))
		return 0;
	if (ship_cursor_load(log_dir, &sh->next_acked, err, errlen) == -1)
		return -1;
	sh->next = *c;
	sh->next.url = xstrdup(c->url);
	sh->next.ca_file = dup_or_null(c->ca_file);
	sh->next.cert_file = dup_or_null(c->cert_file);
	sh->next.key_file = dup_or_null(c->key_file);
	sh->next.bearer_token_file = dup_or_null(c->bearer_token_file);
	sh->next.bearer_token = dup_or_null(c->bearer_token);
	sh->next_site = dup_or_null(site);
	sh->next_dir = xstrdup(log_dir);
	sh->prepared = 1;
	return 0;
}

void
ship_abort(struct ship *sh)
{
	cfg_ship_clear(&sh->next);
	free(sh->next_site);
	free(sh->next_dir);
	sh->next_site = sh->next_dir = NULL;
	sh->next_off = 0;
	sh->prepared = 0;
}

void
ship_commit(struct ship *sh)
{
	if (!sh->prepared)
		return;
	if (sh->next_off) {
		if (sh->state != SHIP_OFF)
			log_info("ship: off");
		ship_stop(sh);
		ship_clear_conf(sh);
		free(sh->dir);
		sh->dir = NULL;
		ship_abort(sh);
		return;
	}
	/* Start over with the new settings; a batch in flight is sent
	 * again (at least once). */
	ship_stop(sh);
	ship_clear_conf(sh);
	sh->conf = sh->next;
	sh->site = sh->next_site;
	free(sh->dir);
	sh->dir = sh->next_dir;
	sh->acked = sh->next_acked;
	memset(&sh->next, 0, sizeof(sh->next));
	sh->next_site = sh->next_dir = NULL;
	sh->prepared = 0;
	sh->max_lines = sh->conf.batch;
	sh->failures_in_row = 0;
	sh->url_is_address = url_host_is_address(sh->conf.url);
	if (sh->acked > fleetlog_committed(sh->fl)) {
		log_warnx("ship: the cursor (%llu) is past the log's last "
		    "event (%llu): the log was replaced; shipping it from the "
		    "start", (unsigned long long)sh->acked,
		    (unsigned long long)fleetlog_committed(sh->fl));
		sh->acked = 0;
	}
	sh->multi = curl_multi_init();
	curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, ship_socket_fn);
	curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh);
	curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, ship_timer_fn);
	curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh);
	sh->state = SHIP_IDLE;
	log_info("ship: to %s, from seq %llu, batches of %u, every %llums%s",
	    sh->conf.url, (unsigned long long)sh->acked, sh->conf.batch,
	    (unsigned long long)sh->conf.interval_ms,
	    sh->conf.gzip ? ", gzip" : "");
	ship_arm(sh, 0);
}

int
ship_configure(struct ship *sh, const struct cfg_ship *c, const char *site,
    const char *log_dir, char *err, size_t errlen)
{
	if (ship_prepare(sh, c, site, log_dir, err, errlen) == -1)
		return -1;
	ship_commit(sh);
	return 0;
}

void
ship_free(struct ship *sh)
{
	if (sh == NULL)
		return;
	ship_abort(sh);
	ship_stop(sh);
	ship_clear_conf(sh);
	free(sh->dir);
	event_free(sh->tick);
	event_free(sh->curl_timer);
	free(sh);
}

struct json_object *
ship_status(void *arg)
{
	static const char *const names[] = { "off", "idle", "sending",
	    "retrying" };
	struct ship *sh = arg;
	struct json_object *o = json_object_new_object();
	uint64_t committed = fleetlog_committed(sh->fl);
	char buf[40];

#define ADD_INT(k, v) json_object_object_add(o, (k), \
	json_object_new_int64((int64_t)(v)))
	json_object_object_add(o, "enabled",
	    json_object_new_boolean(sh->state != SHIP_OFF));
	json_object_object_add(o, "state",
	    json_object_new_string(names[sh->state]));
	if (sh->state == SHIP_OFF)
		return o;
	json_object_object_add(o, "url", json_object_new_string(sh->conf.url));
	json_object_object_add(o, "healthy",
	    json_object_new_boolean(sh->failures_in_row == 0));
	ADD_INT("acked_seq", sh->acked);
	ADD_INT("lag", committed > sh->acked ? committed - sh->acked : 0);
	ADD_INT("sent_events", sh->sent_events);
	ADD_INT("batches", sh->batches);
	ADD_INT("bytes", sh->bytes);
	ADD_INT("failures", sh->failures);
	ADD_INT("failures_in_row", sh->failures_in_row);
	ADD_INT("skipped", sh->skipped);
	ADD_INT("lost", sh->lost);
	ADD_INT("batch_size", sh->max_lines);
	if (sh->last_status != 0)
		ADD_INT("last_http_status", sh->last_status);
	if (sh->last_ok_wall != 0)
		json_object_object_add(o, "last_success",
		    json_object_new_string(format_utc_ms(sh->last_ok_wall,
		    buf, sizeof(buf))));
	if (sh->last_error[0] != '\0')
		json_object_object_add(o, "last_error",
		    json_object_new_string(sh->last_error));
	if (sh->state == SHIP_RETRYING) {
		uint64_t now = now_mono_ms();

		ADD_INT("retry_in_ms", sh->retry_at_mono > now ?
		    sh->retry_at_mono - now : 0);
	}
#undef ADD_INT
	return o;
}
