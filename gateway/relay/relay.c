/*
 * relay: listeners and the per-connection state machine
 *
 *	PEEK -> RESOLVE -> CONNECT [-> PROXY] -> SPLICE -> CLOSE
 *
 * conn_set_state() is the one place a connection changes state.  Bytes
 * move with splice(2): socket -> pipe -> socket, with a pipe taken from a
 * pool while a direction has data in flight and given back when it is
 * drained, so an idle connection holds only its two sockets.  Back-pressure
 * is natural: while a pipe cannot be emptied into its destination we stop
 * reading from its source.  Half-close is passed on with shutdown(SHUT_WR).
 */
#include "evgate_config.h"

#include <sys/queue.h>
#include <sys/socket.h>
/* libbsd's tree.h marks generated functions __unused, a BSD-ism. */
#ifndef __unused
#define __unused __attribute__((unused))
#endif
#include <sys/tree.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/netfilter_ipv4.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "common/log.h"
#include "common/netpolicy.h"
#include "common/match.h"
#include "relay/relay.h"
#include "relay/relay_conf.h"
#include "relay/resolver.h"
#include "relay/tls_hello.h"
#include "common/util.h"

#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST	80	/* linux/netfilter_ipv6/ip6_tables.h */
#endif

#define PIPE_CHUNK	(64 * 1024)	/* one pipe's default capacity */
#define COPY_CHUNK	(16 * 1024)	/* the buffer when no pipe can be had */
#define FD_OTHERS	64		/* descriptors the rest of evgated uses */
#define PIPE_RESERVE	256		/* pipe pairs max_conns leaves room for */
#define PUMP_ROUNDS	16		/* chunks per wake-up, for fairness */
#define PIPE_POOL_MAX	256		/* idle pipes kept for reuse */
#define ACCEPT_BURST	64
#define HELLO_FIRST	2048		/* first hello buffer; grows to max */
#define PROXY_REPLY_MAX	4096
#define RELAY_BAD_SNI_MAX	64	/* bytes of a refused name kept */

struct pipebuf {
	SLIST_ENTRY(pipebuf)	 next;
	int			 rfd, wfd;
	size_t			 len;		/* bytes in the pipe */
};

/*
 * One direction of a connection.  Bytes in flight sit in a pipe from the
 * pool, or -- when no pipe can be had (the descriptor budget is spent,
 * or pipe2 fails) -- in a small buffer: a busy connection is slowed down
 * then, never reset.  Neither is held while the direction is idle.
 */
struct half {
	struct pipebuf		*pipe;
	uint8_t			*cbuf;		/* the copy fallback */
	uint32_t		 clen, coff;	/* bytes in cbuf; written */
	uint8_t			 eof;		/* source sent FIN */
	uint8_t			 shut;		/* FIN passed on */
};

struct client {
	RB_ENTRY(client)	 entry;
	union sockaddr_any	 addr;		/* port zeroed */
	unsigned		 count;
};

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	struct relay		*relay;
	int			 fd;
	int			 transparent;
	int			 keep;
	union sockaddr_any	 addr;
	struct event		 ev;
	struct event		 pause;		/* after EMFILE */
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	struct relay		*relay;
	struct relay_record	 rec;
	struct client		*client;
	int			 cfd, ufd;
	short			 cflags, uflags;	/* registered events */
	struct event		 cev, uev;
	struct half		 up, down;	/* up: charger -> cloud */
	uint8_t			*buf;		/* the hello, until sent */
	size_t			 blen, bcap, bsent;
	char			*pbuf;		/* the proxy's reply */
	size_t			 plen;
	struct resolver_wait	*wait;
	struct resolver_answer	*ans;
	size_t			 next_addr;
	size_t			 forbidden;	/* of those, by the policy */
	int			 proxy_literal;	/* ans: the proxy's address */
	uint64_t		 deadline;	/* of PEEK, or of RESOLVE..PROXY */
	uint64_t		 last_active;
};

RB_HEAD(client_tree, client);

struct relay {
	struct event_base	*base;
	const struct resolver_ops *res_ops;
	void			*res_ctx;
	struct netpolicy	*np;		/* NULL: no address policy */
	const struct cfg_relay	*conf;		/* NULL: off */
	int			 configured;	/* a commit happened */
	TAILQ_HEAD(, listener)	 listeners;
	/* prepared by relay_prepare, for the next commit */
	int			 prepared;
	const struct cfg_relay	*next_conf;
	TAILQ_HEAD(, listener)	 fresh;		/* new listeners */
	TAILQ_HEAD(, conn)	 conns;
	struct client_tree	 clients;
	SLIST_HEAD(, pipebuf)	 pool;
	size_t			 npool;
	struct relay_counters	 ctr;
	uint64_t		 next_id;
	struct event		*sweep;
	struct {
		relay_record_cb	 fn;
		void		*arg;
	}			 record_cbs[RELAY_MAX_RECORD_CBS];
	relay_namer_fn		 namer;
	void			*namer_arg;
	int			 listening;
	unsigned		 fd_limit;	/* RLIMIT_NOFILE; 0: unknown */
	unsigned		 max_conns;	/* what the fd limit allows */
	struct log_ratelimit	 rl_warn, rl_accept, rl_pipe;
};

static void	conn_event_cb(evutil_socket_t, short, void *);
static void	conn_close(struct conn *, enum relay_close);
static void	conn_refuse(struct conn *, enum relay_refusal, const char *);
static void	conn_connect_next(struct conn *);
static void	conn_start_splice(struct conn *);
static void	listener_accept_cb(evutil_socket_t, short, void *);

static int
client_cmp(const struct client *a, const struct client *b)
{
	if (a->addr.sa.sa_family != b->addr.sa.sa_family)
		return a->addr.sa.sa_family < b->addr.sa.sa_family ? -1 : 1;
	if (a->addr.sa.sa_family == AF_INET)
		return memcmp(&a->addr.sin.sin_addr, &b->addr.sin.sin_addr, 4);
	return memcmp(&a->addr.sin6.sin6_addr, &b->addr.sin6.sin6_addr, 16);
}

RB_GENERATE_STATIC(client_tree, client, entry, client_cmp)

static const char *const state_names[RELAY_NSTATES] = {
	"peek", "resolve", "connect", "proxy", "splice", "close",
};

static const char *const refusal_names[REFUSE_NREASONS] = {
	"not-tls", "malformed", "too-big", "no-sni", "bad-sni", "not-allowed",
	"wrong-port", "hello-timeout", "client-gone", "limit-client",
	"limit-total", "resolve-failed", "connect-failed", "proxy-refused",
	"forbidden-address",
};

static const char *const close_names[CLOSE_NREASONS] = {
	"none", "done", "client-reset", "upstream-reset", "idle", "reload",
	"shutdown", "refused",
};

const char *
relay_state_str(enum relay_state s)
{
	return (unsigned)s < RELAY_NSTATES ? state_names[s] : "?";
}

const char *
relay_refusal_str(enum relay_refusal r)
{
	return (unsigned)r < REFUSE_NREASONS ? refusal_names[r] : "?";
}

const char *
relay_close_str(enum relay_close c)
{
	return (unsigned)c < CLOSE_NREASONS ? close_names[c] : "?";
}

/* --- pipes ----------------------------------------------------------- */

/*
 * Descriptors held now: two sockets per connection (at most), two per
 * pipe in use or pooled, and the daemon's others.
 */
static unsigned
fds_held(const struct relay *relay)
{
	return FD_OTHERS + 2 * (unsigned)relay->ctr.active +
	    2 * (unsigned)(relay->ctr.pipes_in_use + relay->npool);
}

static struct pipebuf *
pipe_get(struct relay *relay)
{
	struct pipebuf *p;
	int fds[2];

	if ((p = SLIST_FIRST(&relay->pool)) != NULL) {
		SLIST_REMOVE_HEAD(&relay->pool, next);
		relay->npool--;
	} else {
		/* A new pipe must leave room for every connection's
		 * sockets: else copy through a buffer (pump). */
		if (relay->fd_limit != 0 &&
		    fds_held(relay) + 2 > relay->fd_limit)
			return NULL;
		if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
			log_warnx_rl(&relay->rl_pipe, "relay: pipe2: %s "
			    "(copying through a buffer instead)",
			    strerror(errno));
			return NULL;
		}
		p = xcalloc(1, sizeof(*p));
		p->rfd = fds[0];
		p->wfd = fds[1];
	}
	relay->ctr.pipes_in_use++;
	return p;
}

static void
pipe_destroy(struct pipebuf *p)
{
	close(p->rfd);
	close(p->wfd);
	free(p);
}

static void
pipe_put(struct relay *relay, struct pipebuf *p)
{
	relay->ctr.pipes_in_use--;
	/* A pipe that still holds bytes cannot be reused. */
	if (p->len != 0 || relay->npool >= PIPE_POOL_MAX) {
		pipe_destroy(p);
		return;
	}
	SLIST_INSERT_HEAD(&relay->pool, p, next);
	relay->npool++;
}

/* --- events ---------------------------------------------------------- */

/*
 * Register interest on one side; timeout_ms 0 means none.  Re-registering
 * costs an epoll_ctl, so an unchanged wish without a timer is a no-op.
 */
static void
conn_want(struct conn *c, int upstream, short flags, uint64_t timeout_ms)
{
	struct event *ev = upstream ? &c->uev : &c->cev;
	short *cur = upstream ? &c->uflags : &c->cflags;
	int fd = upstream ? c->ufd : c->cfd;
	struct timeval tv;

	if (*cur == flags && timeout_ms == 0 && !(*cur & EV_TIMEOUT))
		return;
	if (event_initialized(ev))
		event_del(ev);
	*cur = flags | (timeout_ms ? EV_TIMEOUT : 0);
	if (flags == 0 && timeout_ms == 0)
		return;
	event_assign(ev, c->relay->base, flags ? fd : -1, flags | EV_PERSIST,
	    conn_event_cb, c);
	if (timeout_ms) {
		tv.tv_sec = (time_t)(timeout_ms / 1000);
		tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
		event_add(ev, &tv);
	} else
		event_add(ev, NULL);
}

static void
conn_set_state(struct conn *c, enum relay_state st)
{
	struct relay *relay = c->relay;

	relay->ctr.by_state[c->rec.state]--;
	relay->ctr.by_state[st]++;
	log_debug("relay: #%llu %s -> %s", (unsigned long long)c->rec.id,
	    state_names[c->rec.state], state_names[st]);
	c->rec.state = st;
}

/* --- connection life ------------------------------------------------- */

static void
conn_free(struct conn *c)
{
	struct relay *relay = c->relay;

	if (event_initialized(&c->cev))
		event_del(&c->cev);
	if (event_initialized(&c->uev))
		event_del(&c->uev);
	if (c->cfd != -1)
		close(c->cfd);
	if (c->ufd != -1)
		close(c->ufd);
	if (c->up.pipe)
		pipe_put(relay, c->up.pipe);
	if (c->down.pipe)
		pipe_put(relay, c->down.pipe);
	free(c->up.cbuf);
	free(c->down.cbuf);
	if (c->wait != NULL)
		relay->res_ops->cancel(relay->res_ctx, c->wait);
	free(c->ans);
	free(c->buf);
	free(c->pbuf);
	if (c->client != NULL && --c->client->count == 0) {
		RB_REMOVE(client_tree, &relay->clients, c->client);
		free(c->client);
	}
	relay->ctr.by_state[c->rec.state]--;
	relay->ctr.active--;
	TAILQ_REMOVE(&relay->conns, c, entry);
	free((char *)c->rec.sni);
	free(c);
}

static void
conn_close(struct conn *c, enum relay_close why)
{
	struct relay *relay = c->relay;
	size_t i;

	conn_set_state(c, RELAY_CLOSE);
	c->rec.close = why;
	c->rec.end_mono_ms = now_mono_ms();
	relay->ctr.closes[why]++;
	if (why != CLOSE_REFUSED)
		relay->ctr.closed++;
	/* Logging and events are the record callbacks' (relay_report.c). */
	for (i = 0; i < RELAY_MAX_RECORD_CBS; i++)
		if (relay->record_cbs[i].fn != NULL)
			relay->record_cbs[i].fn(&c->rec,
			    relay->record_cbs[i].arg);
	conn_free(c);
}

static void
conn_refuse(struct conn *c, enum relay_refusal why, const char *detail)
{
	struct relay *relay = c->relay;

	c->rec.refusal = why;
	relay->ctr.refused[why]++;
	if (detail != NULL)
		log_debug("relay: #%llu: %s", (unsigned long long)c->rec.id,
		    detail);
	conn_close(c, CLOSE_REFUSED);
}

/* --- PEEK ------------------------------------------------------------ */

static enum relay_refusal
hello_refusal(enum tls_hello_status st)
{
	switch (st) {
	case TLS_HELLO_NOT_TLS:
		return REFUSE_NOT_TLS;
	case TLS_HELLO_TOO_BIG:
		return REFUSE_TOO_BIG;
	case TLS_HELLO_BAD_SNI:
		return REFUSE_BAD_SNI;
	default:
		return REFUSE_MALFORMED;
	}
}

static void
conn_resolve_cb(const struct resolver_answer *ans, void *arg)
{
	struct conn *c = arg;

	c->wait = NULL;
	if (ans->error != 0 || ans->naddrs == 0) {
		conn_refuse(c, REFUSE_RESOLVE, evdns_err_to_string(ans->error));
		return;
	}
	c->ans = xmalloc(sizeof(*c->ans));
	*c->ans = *ans;
	c->next_addr = c->forbidden = 0;
	conn_connect_next(c);
}

static void
conn_start_resolve(struct conn *c)
{
	const struct cfg_relay *r = c->relay->conf;
	struct resolver_answer ans;
	const char *name = r->proxy_host ? r->proxy_host : c->rec.sni;
	union sockaddr_any lit;
	int rv, flags;

	conn_set_state(c, RELAY_RESOLVE);
	c->deadline = now_mono_ms() + r->connect_ms;
	conn_want(c, 0, 0, 0);	/* nothing to read from the charger yet */

	/* A proxy given as an address needs no lookup. */
	memset(&lit, 0, sizeof(lit));
	if (r->proxy_host != NULL &&
	    (inet_pton(AF_INET, name, &lit.sin.sin_addr) == 1 ||
	    inet_pton(AF_INET6, name, &lit.sin6.sin6_addr) == 1)) {
		c->ans = xcalloc(1, sizeof(*c->ans));
		c->ans->naddrs = 1;
		c->proxy_literal = 1;
		if (inet_pton(AF_INET, name, &lit.sin.sin_addr) == 1)
			lit.sin.sin_family = AF_INET;
		else
			lit.sin6.sin6_family = AF_INET6;
		memcpy(&c->ans->addrs[0], &lit, sizeof(lit));
		conn_connect_next(c);
		return;
	}
	/* A name only a wildcard allows goes into the cache's small
	 * budget: it cannot push the exact cloud names out. */
	flags = r->proxy_host == NULL && !route_names_exactly(
	    relay_conf_route(r, c->rec.port), name, strlen(name)) ?
	    RESOLVER_WILDCARD : 0;
	rv = c->relay->res_ops->lookup(c->relay->res_ctx, name, flags,
	    conn_resolve_cb, c, &ans, &c->wait);
	if (rv == 1) {
		conn_resolve_cb(&ans, c);
		return;
	}
	if (rv == -1) {
		conn_refuse(c, REFUSE_RESOLVE, "no resolver configured");
		return;
	}
	/* Bound the wait: a timer on the (not yet open) upstream side. */
	conn_want(c, 1, 0, r->connect_ms);
}

static void
conn_decide(struct conn *c, const struct tls_hello *h)
{
	if (!h->has_sni) {
		conn_refuse(c, REFUSE_NO_SNI, NULL);
		return;
	}
	c->rec.sni = xstrndup(h->sni, h->sni_len);
	switch (relay_conf_decide(c->relay->conf, c->rec.port, h->sni,
	    h->sni_len)) {
	case ROUTE_ALLOWED:
		conn_start_resolve(c);
		return;
	case ROUTE_WRONG_PORT:
		conn_refuse(c, REFUSE_WRONG_PORT, NULL);
		return;
	default:
		conn_refuse(c, REFUSE_NOT_ALLOWED, NULL);
		return;
	}
}

static void
conn_peek(struct conn *c)
{
	struct tls_hello hello;
	enum tls_hello_status st;
	ssize_t n;

	if (now_mono_ms() >= c->deadline) {
		conn_refuse(c, REFUSE_HELLO_TIMEOUT, NULL);
		return;
	}
	if (c->blen == c->bcap) {
		size_t ncap = c->bcap ? c->bcap * 2 : HELLO_FIRST;

		if (ncap > TLS_HELLO_MAX_WIRE)
			ncap = TLS_HELLO_MAX_WIRE;
		c->buf = xreallocarray(c->buf, ncap, 1);
		c->bcap = ncap;
	}
	n = read(c->cfd, c->buf + c->blen, c->bcap - c->blen);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		conn_refuse(c, REFUSE_CLIENT_GONE, strerror(errno));
		return;
	}
	if (n == 0) {
		conn_refuse(c, REFUSE_CLIENT_GONE, "EOF before a whole hello");
		return;
	}
	c->blen += (size_t)n;
	st = tls_hello_parse(c->buf, c->blen, &hello);
	switch (st) {
	case TLS_HELLO_OK:
		conn_decide(c, &hello);
		return;
	case TLS_HELLO_NEED_MORE:
		if (c->blen >= TLS_HELLO_MAX_WIRE) {
			conn_refuse(c, REFUSE_TOO_BIG, NULL);
			return;
		}
		/* The deadline is for the whole hello, not per segment:
		 * a hello dribbled a byte at a time still times out. */
		conn_want(c, 0, EV_READ, c->deadline - now_mono_ms() + 1);
		return;
	case TLS_HELLO_BAD_SNI:
		/* What the device asked for, for the operator: escaped (it
		 * may hold any byte) and cut short. */
		if (hello.sni_len > 0) {
			char esc[4 * RELAY_BAD_SNI_MAX + 4];

			c->rec.sni = xstrdup(str_escape(hello.sni,
			    hello.sni_len, RELAY_BAD_SNI_MAX, esc, sizeof(esc)));
		}
		conn_refuse(c, REFUSE_BAD_SNI, tls_hello_status_str(st));
		return;
	default:
		conn_refuse(c, hello_refusal(st), tls_hello_status_str(st));
		return;
	}
}

/* --- CONNECT and PROXY ----------------------------------------------- */

static void
set_tcp_options(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

static void
conn_connect_next(struct conn *c)
{
	struct relay *relay = c->relay;
	const struct cfg_relay *r = relay->conf;
	uint64_t now = now_mono_ms(), left, slice;
	union sockaddr_any *sa;
	enum netpolicy_class cls;
	socklen_t salen;
	size_t remaining;
	uint16_t port;
	char a[64];

	conn_set_state(c, RELAY_CONNECT);
	if (c->ufd != -1) {
		conn_want(c, 1, 0, 0);
		close(c->ufd);
		c->ufd = -1;
	}
	memset(&c->rec.upstream, 0, sizeof(c->rec.upstream));
	for (;;) {
		if (c->next_addr >= c->ans->naddrs || now >= c->deadline) {
			/* Only forbidden addresses: a refusal of its own. */
			if (c->forbidden == c->next_addr && c->next_addr > 0)
				conn_refuse(c, REFUSE_ADDRESS, "every address "
				    "is refused by the upstream address policy");
			else
				conn_refuse(c, r->proxy_host ? REFUSE_PROXY :
				    REFUSE_CONNECT, "no address accepted a "
				    "connection");
			return;
		}
		sa = (union sockaddr_any *)&c->ans->addrs[c->next_addr++];
		port = r->proxy_host ? r->proxy_port :
		    relay_conf_route(r, c->rec.port)->upstream_port;
		if (sa->sa.sa_family == AF_INET)
			sa->sin.sin_port = htons(port);
		else
			sa->sin6.sin6_port = htons(port);
		/* Never where a DNS answer alone would take us (SSRF). */
		if (relay->np != NULL &&
		    (cls = netpolicy_check(relay->np, sa, c->proxy_literal)) !=
		    NETPOLICY_PUBLIC) {
			c->forbidden++;
			log_warnx_rl(&relay->rl_warn, "relay: #%llu %s resolves "
			    "to %s (%s): refused by the upstream address "
			    "policy (wan.allow_prefixes)",
			    (unsigned long long)c->rec.id, r->proxy_host ?
			    r->proxy_host : c->rec.sni, format_sockaddr(&sa->sa,
			    a, sizeof(a)), netpolicy_class_str(cls));
			continue;
		}
		salen = sa->sa.sa_family == AF_INET ? sizeof(sa->sin) :
		    sizeof(sa->sin6);
		c->ufd = socket(sa->sa.sa_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->ufd == -1) {
			log_warnx_rl(&c->relay->rl_accept, "relay: socket: %s",
			    strerror(errno));
			continue;
		}
		set_tcp_options(c->ufd);
		if (connect(c->ufd, &sa->sa, salen) == 0 ||
		    errno == EINPROGRESS)
			break;
		log_debug("relay: #%llu connect: %s",
		    (unsigned long long)c->rec.id, strerror(errno));
		close(c->ufd);
		c->ufd = -1;
	}
	memcpy(&c->rec.upstream, sa, salen);
	/* Leave time for the addresses after this one. */
	left = c->deadline - now;
	remaining = c->ans->naddrs - c->next_addr + 1;
	slice = left / remaining;
	if (slice < 1000)
		slice = left < 1000 ? left : 1000;
	conn_want(c, 1, EV_WRITE, slice ? slice : 1);
}

/* Write what is left of c->buf to the upstream; 1 done, 0 later, -1 error. */
static int
conn_flush_buf(struct conn *c)
{
	while (c->bsent < c->blen) {
		ssize_t n = send(c->ufd, c->buf + c->bsent, c->blen - c->bsent,
		    MSG_NOSIGNAL);

		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		c->bsent += (size_t)n;
	}
	return 1;
}

static void
conn_connected(struct conn *c)
{
	const struct cfg_relay *r = c->relay->conf;
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		char up[64];

		log_debug("relay: #%llu connect to %s: %s",
		    (unsigned long long)c->rec.id,
		    format_sockaddr(&c->rec.upstream.sa, up, sizeof(up)),
		    strerror(err));
		conn_connect_next(c);
		return;
	}
	free(c->ans);
	c->ans = NULL;
	if (r->proxy_host == NULL) {
		conn_start_splice(c);
		return;
	}
	/* RFC 9110 9.3.6: ask the proxy for a tunnel to name:port. */
	{
		const struct cfg_route *route = relay_conf_route(r, c->rec.port);
		char req[600];
		int n;

		n = snprintf(req, sizeof(req), "CONNECT %s:%u HTTP/1.1\r\n"
		    "Host: %s:%u\r\n\r\n", c->rec.sni, route->upstream_port,
		    c->rec.sni, route->upstream_port);
		if (send(c->ufd, req, (size_t)n, MSG_NOSIGNAL) != n) {
			conn_refuse(c, REFUSE_PROXY, "cannot send CONNECT");
			return;
		}
	}
	conn_set_state(c, RELAY_PROXY);
	conn_want(c, 1, EV_READ, c->deadline > now_mono_ms() ?
	    c->deadline - now_mono_ms() : 1);
}

/* Read the proxy's reply into a buffer of its own (the hello stays). */
static void
conn_proxy_reply(struct conn *c)
{
	char *end, *eol;
	ssize_t n;

	if (c->pbuf == NULL)
		c->pbuf = xmalloc(PROXY_REPLY_MAX + 1);
	/* Byte by byte would be slow; but a proxy sends only its header
	 * before our hello goes out, so whatever we read is header. */
	n = recv(c->ufd, c->pbuf + c->plen, PROXY_REPLY_MAX - c->plen, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_refuse(c, REFUSE_PROXY, "proxy closed the connection");
		return;
	}
	c->plen += (size_t)n;
	c->pbuf[c->plen] = '\0';
	if ((end = strstr(c->pbuf, "\r\n\r\n")) == NULL) {
		if (c->plen == PROXY_REPLY_MAX)
			conn_refuse(c, REFUSE_PROXY, "proxy reply too long");
		return;
	}
	if (end + 4 != c->pbuf + c->plen) {
		conn_refuse(c, REFUSE_PROXY, "proxy sent data before our hello");
		return;
	}
	if (strncmp(c->pbuf, "HTTP/1.", 7) != 0 || c->pbuf[7] == '\0' ||
	    c->pbuf[8] != ' ' || c->pbuf[9] != '2') {
		if ((eol = strchr(c->pbuf, '\r')) != NULL)
			*eol = '\0';
		log_warnx_rl(&c->relay->rl_warn, "relay: proxy refused "
		    "CONNECT %s: %.80s", c->rec.sni, c->pbuf);
		conn_refuse(c, REFUSE_PROXY, NULL);
		return;
	}
	free(c->pbuf);
	c->pbuf = NULL;
	c->plen = 0;
	conn_start_splice(c);
}

/* --- SPLICE ---------------------------------------------------------- */

enum pump_result {
	PUMP_IDLE,		/* source has nothing more for now */
	PUMP_BLOCKED,		/* destination is full: wait for EV_WRITE */
	PUMP_ERR_SRC,
	PUMP_ERR_DST,
};

static enum pump_result
pump(struct conn *c, struct half *h, int from, int to, uint64_t *bytes)
{
	struct relay *relay = c->relay;
	int rounds;
	ssize_t n;

	for (rounds = 0; rounds < PUMP_ROUNDS; rounds++) {
		if (h->cbuf != NULL && h->clen > h->coff) {
			n = write(to, h->cbuf + h->coff, h->clen - h->coff);
			if (n == -1) {
				if (errno == EAGAIN || errno == EINTR)
					return PUMP_BLOCKED;
				return PUMP_ERR_DST;
			}
			h->coff += (uint32_t)n;
			*bytes += (uint64_t)n;
			c->last_active = now_mono_ms();
			continue;
		}
		if (h->pipe != NULL && h->pipe->len > 0) {
			n = splice(h->pipe->rfd, NULL, to, NULL, h->pipe->len,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n == -1) {
				if (errno == EAGAIN || errno == EINTR)
					return PUMP_BLOCKED;
				return PUMP_ERR_DST;
			}
			h->pipe->len -= (size_t)n;
			*bytes += (uint64_t)n;
			c->last_active = now_mono_ms();
			continue;
		}
		if (h->eof)
			break;
		if (h->pipe == NULL && (h->pipe = pipe_get(relay)) == NULL) {
			/* No pipe to be had: a small buffer, not a reset. */
			if (h->cbuf == NULL) {
				h->cbuf = xmalloc(COPY_CHUNK);
				relay->ctr.copy_fallbacks++;
			}
			n = read(from, h->cbuf, COPY_CHUNK);
			if (n == -1) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				return PUMP_ERR_SRC;
			}
			if (n == 0) {
				h->eof = 1;
				break;
			}
			h->clen = (uint32_t)n;
			h->coff = 0;
			continue;
		}
		n = splice(from, NULL, h->pipe->wfd, NULL, PIPE_CHUNK,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return PUMP_ERR_SRC;
		}
		if (n == 0) {
			h->eof = 1;
			break;
		}
		h->pipe->len += (size_t)n;
	}
	if (h->pipe != NULL && h->pipe->len == 0) {
		pipe_put(relay, h->pipe);
		h->pipe = NULL;
	}
	if (h->cbuf != NULL && h->clen == h->coff) {
		free(h->cbuf);
		h->cbuf = NULL;
		h->clen = h->coff = 0;
	}
	if (h->eof && h->pipe == NULL && h->cbuf == NULL && !h->shut) {
		shutdown(to, SHUT_WR);
		h->shut = 1;
	}
	return PUMP_IDLE;
}

/* Bytes of this direction wait to be written (pipe or buffer)? */
static int
half_pending(const struct half *h)
{
	return (h->pipe != NULL && h->pipe->len > 0) ||
	    (h->cbuf != NULL && h->clen > h->coff);
}

/* Run both directions as the events allow, then re-arm the events. */
static void
conn_splice(struct conn *c, int up, int down)
{
	struct relay *relay = c->relay;
	enum pump_result ru = PUMP_IDLE, rd = PUMP_IDLE;
	uint64_t bu = 0, bd = 0;
	short cf, uf;

	if (up)
		ru = pump(c, &c->up, c->cfd, c->ufd, &bu);
	if (down)
		rd = pump(c, &c->down, c->ufd, c->cfd, &bd);
	c->rec.bytes_up += bu;
	c->rec.bytes_down += bd;
	relay->ctr.bytes_up += bu;
	relay->ctr.bytes_down += bd;
	if (ru == PUMP_ERR_SRC || rd == PUMP_ERR_DST) {
		conn_close(c, CLOSE_CLIENT_RESET);
		return;
	}
	if (ru == PUMP_ERR_DST || rd == PUMP_ERR_SRC) {
		conn_close(c, CLOSE_UPSTREAM_RESET);
		return;
	}
	if (c->up.shut && c->down.shut) {
		conn_close(c, CLOSE_DONE);
		return;
	}
	/* Read a source only while nothing of it waits; write while so. */
	cf = uf = 0;
	if (half_pending(&c->up))
		uf |= EV_WRITE;
	else if (!c->up.eof)
		cf |= EV_READ;
	if (half_pending(&c->down))
		cf |= EV_WRITE;
	else if (!c->down.eof)
		uf |= EV_READ;
	conn_want(c, 0, cf, 0);
	conn_want(c, 1, uf, 0);
}

static void
conn_start_splice(struct conn *c)
{
	struct relay *relay = c->relay;
	int rv;

	/* The hello (and anything after it) goes first. */
	rv = conn_flush_buf(c);
	if (rv == -1) {
		conn_refuse(c, REFUSE_CONNECT, "upstream closed before the hello");
		return;
	}
	if (c->rec.state != RELAY_SPLICE) {
		conn_set_state(c, RELAY_SPLICE);
		relay->ctr.relayed++;
		c->last_active = now_mono_ms();
	}
	if (rv == 0) {
		conn_want(c, 0, 0, 0);
		conn_want(c, 1, EV_WRITE, 0);
		return;
	}
	c->rec.bytes_up += c->blen;
	relay->ctr.bytes_up += c->blen;
	free(c->buf);
	c->buf = NULL;
	c->blen = c->bcap = c->bsent = 0;
	conn_splice(c, 1, 1);
}

/* --- the driver ------------------------------------------------------ */

static void
conn_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int upstream = fd == c->ufd && fd != -1;

	switch (c->rec.state) {
	case RELAY_PEEK:
		if (what & EV_TIMEOUT)
			conn_refuse(c, REFUSE_HELLO_TIMEOUT, NULL);
		else
			conn_peek(c);
		break;
	case RELAY_RESOLVE:
		if (what & EV_TIMEOUT)
			conn_refuse(c, REFUSE_RESOLVE, "timed out");
		break;
	case RELAY_CONNECT:
		if (what & EV_TIMEOUT)
			conn_connect_next(c);
		else
			conn_connected(c);
		break;
	case RELAY_PROXY:
		if (what & EV_TIMEOUT)
			conn_refuse(c, REFUSE_PROXY, "timed out");
		else
			conn_proxy_reply(c);
		break;
	case RELAY_SPLICE:
		if (c->buf != NULL) {
			conn_start_splice(c);	/* still sending the hello */
			break;
		}
		if (upstream)
			conn_splice(c, (what & EV_WRITE) != 0,
			    (what & EV_READ) != 0);
		else
			conn_splice(c, (what & EV_READ) != 0,
			    (what & EV_WRITE) != 0);
		break;
	default:
		break;
	}
}

/* --- listeners ------------------------------------------------------- */

static int
count_client(struct relay *relay, struct conn *c)
{
	const struct cfg_relay *r = relay->conf;
	struct client key, *cl;

	memset(&key, 0, sizeof(key));
	key.addr = c->rec.client;
	if (key.addr.sa.sa_family == AF_INET)
		key.addr.sin.sin_port = 0;
	else
		key.addr.sin6.sin6_port = 0;
	if ((cl = RB_FIND(client_tree, &relay->clients, &key)) == NULL) {
		cl = xcalloc(1, sizeof(*cl));
		cl->addr = key.addr;
		RB_INSERT(client_tree, &relay->clients, cl);
	}
	cl->count++;
	c->client = cl;
	return cl->count > r->per_client ? -1 : 0;
}

static void
listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	event_add(&l->ev, NULL);
}

static void
relay_accept(struct listener *l, int fd, union sockaddr_any *sa)
{
	struct relay *relay = l->relay;
	const struct cfg_relay *r = relay->conf;
	struct conn *c;
	const char *name;
	socklen_t len;

	c = xcalloc(1, sizeof(*c));
	c->relay = relay;
	c->cfd = fd;
	c->ufd = -1;
	c->rec.id = ++relay->next_id;
	c->rec.client = *sa;
	c->rec.start_wall_ms = now_wall_ms();
	c->rec.start_mono_ms = now_mono_ms();
	c->rec.state = RELAY_PEEK;
	len = sizeof(c->rec.local);
	getsockname(fd, &c->rec.local.sa, &len);
	c->rec.port = ntohs(l->addr.sa.sa_family == AF_INET ?
	    l->addr.sin.sin_port : l->addr.sin6.sin6_port);
	if (relay->namer != NULL &&
	    (name = relay->namer(sa, relay->namer_arg)) != NULL)
		strlcpy(c->rec.charger, name, sizeof(c->rec.charger));
	TAILQ_INSERT_TAIL(&relay->conns, c, entry);
	relay->ctr.accepted++;
	relay->ctr.active++;
	relay->ctr.by_state[RELAY_PEEK]++;

	if (l->transparent) {
		/* The charger dialled a fixed address; netfilter sent it to
		 * us.  The port it dialled chooses the route. */
		len = sizeof(c->rec.orig_dst);
		if (getsockopt(fd, sa->sa.sa_family == AF_INET ? SOL_IP :
		    SOL_IPV6, sa->sa.sa_family == AF_INET ? SO_ORIGINAL_DST :
		    IP6T_SO_ORIGINAL_DST, &c->rec.orig_dst, &len) == 0)
			c->rec.port = ntohs(c->rec.orig_dst.sa.sa_family ==
			    AF_INET ? c->rec.orig_dst.sin.sin_port :
			    c->rec.orig_dst.sin6.sin6_port);
		else
			c->rec.port = 0;	/* no route: refused at decide */
	}
	if (relay->ctr.active > r->total) {
		conn_refuse(c, REFUSE_LIMIT_TOTAL, NULL);
		return;
	}
	if (count_client(relay, c) == -1) {
		conn_refuse(c, REFUSE_LIMIT_CLIENT, NULL);
		return;
	}
	set_tcp_options(fd);
	c->deadline = c->rec.start_mono_ms + r->hello_ms;
	conn_want(c, 0, EV_READ, r->hello_ms);
}

static void
listener_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct relay *relay = l->relay;
	union sockaddr_any sa;
	socklen_t len;
	int i, cfd;

	for (i = 0; i < ACCEPT_BURST && relay->listening; i++) {
		len = sizeof(sa);
		cfd = accept4(fd, &sa.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			relay->ctr.accept_errors++;
			log_warnx_rl(&relay->rl_accept, "relay: accept: %s",
			    strerror(errno));
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* Out of descriptors: back off for a second
				 * instead of spinning on a ready listener. */
				struct timeval tv = { 1, 0 };

				event_del(&l->ev);
				evtimer_add(&l->pause, &tv);
			}
			return;
		}
		relay_accept(l, cfd, &sa);
	}
}

static void
listener_free(struct listener *l)
{
	event_del(&l->ev);
	event_del(&l->pause);
	close(l->fd);
	free(l);
}

static struct listener *
listener_find(struct relay *relay, const union sockaddr_any *sa, int transp)
{
	struct listener *l;
	socklen_t len = sa->sa.sa_family == AF_INET ? sizeof(sa->sin) :
	    sizeof(sa->sin6);

	TAILQ_FOREACH(l, &relay->listeners, entry)
		if (l->transparent == transp &&
		    l->addr.sa.sa_family == sa->sa.sa_family &&
		    memcmp(&l->addr, sa, len) == 0)
			return l;
	return NULL;
}

static struct listener *
listener_open(struct relay *relay, const union sockaddr_any *sa, int transp,
    char *err, size_t errlen)
{
	struct listener *l;
	socklen_t len = sa->sa.sa_family == AF_INET ? sizeof(sa->sin) :
	    sizeof(sa->sin6);
	char where[64];
	int fd, one = 1;

	format_sockaddr(&sa->sa, where, sizeof(where));
	fd = socket(sa->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s", where,
		    strerror(errno));
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Start even if the LAN interface is not up yet (boot order). */
	setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
	if (sa->sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &sa->sa, len) == -1 || listen(fd, 1024) == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s", where,
		    strerror(errno));
		close(fd);
		return NULL;
	}
	l = xcalloc(1, sizeof(*l));
	l->relay = relay;
	l->fd = fd;
	l->addr = *sa;
	l->transparent = transp;
	event_assign(&l->ev, relay->base, fd, EV_READ | EV_PERSIST,
	    listener_accept_cb, l);
	evtimer_assign(&l->pause, relay->base, listener_resume_cb, l);
	log_info("relay: listening on %s%s", where,
	    transp ? " (transparent)" : "");
	return l;
}

/* The set of (address, port) the configuration wants. */
static int
wanted_listeners(const struct cfg_relay *r, union sockaddr_any **out,
    int **transp)
{
	size_t i, j, n = 0, per = r->nroutes + (r->transparent_port ? 1 : 0);
	union sockaddr_any *v = xcalloc(r->nlisten * per, sizeof(*v));
	int *t = xcalloc(r->nlisten * per, sizeof(*t));

	for (i = 0; i < r->nlisten; i++) {
		for (j = 0; j < per; j++) {
			uint16_t port = j < r->nroutes ? r->routes[j].port :
			    r->transparent_port;

			memcpy(&v[n], &r->listen[i].ss, r->listen[i].len);
			if (v[n].sa.sa_family == AF_INET)
				v[n].sin.sin_port = htons(port);
			else
				v[n].sin6.sin6_port = htons(port);
			t[n] = j >= r->nroutes;
			n++;
		}
	}
	*out = v;
	*transp = t;
	return (int)n;
}

/* --- public ---------------------------------------------------------- */

static void
relay_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay *relay = arg;
	struct conn *c, *next;
	uint64_t now = now_mono_ms(), idle;

	if (relay->conf == NULL)
		return;
	idle = relay->conf->idle_ms;
	for (c = TAILQ_FIRST(&relay->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->rec.state == RELAY_SPLICE && now - c->last_active >= idle)
			conn_close(c, CLOSE_IDLE);
	}
}

struct relay *
relay_new(struct event_base *base, const struct resolver_ops *ops,
    void *res_ctx, struct netpolicy *np)
{
	struct relay *relay = xcalloc(1, sizeof(*relay));
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(20, 3);

	relay->base = base;
	relay->res_ops = ops;
	relay->res_ctx = res_ctx;
	relay->np = np;
	relay->max_conns = (unsigned)-1;
	TAILQ_INIT(&relay->listeners);
	TAILQ_INIT(&relay->fresh);
	TAILQ_INIT(&relay->conns);
	RB_INIT(&relay->clients);
	SLIST_INIT(&relay->pool);
	relay->rl_warn = rl;
	relay->rl_accept = rl;
	relay->rl_pipe = rl;
	relay->sweep = event_new(base, -1, EV_PERSIST, relay_sweep_cb, relay);
	return relay;
}

void
relay_set_record_cb(struct relay *relay, relay_record_cb cb, void *arg)
{
	relay->record_cbs[0].fn = cb;
	relay->record_cbs[0].arg = arg;
}

void
relay_add_record_cb(struct relay *relay, relay_record_cb cb, void *arg)
{
	size_t i;

	/* Slot 0 belongs to relay_set_record_cb. */
	for (i = 1; i < RELAY_MAX_RECORD_CBS; i++)
		if (relay->record_cbs[i].fn == NULL) {
			relay->record_cbs[i].fn = cb;
			relay->record_cbs[i].arg = arg;
			return;
		}
	fatalx("relay: more than %d record callbacks", RELAY_MAX_RECORD_CBS);
}

void
relay_set_namer(struct relay *relay, relay_namer_fn fn, void *arg)
{
	relay->namer = fn;
	relay->namer_arg = arg;
}

static void
listeners_free(struct relay *relay, int fresh_only)
{
	struct listener *l;

	while ((l = TAILQ_FIRST(&relay->fresh)) != NULL) {
		TAILQ_REMOVE(&relay->fresh, l, entry);
		listener_free(l);
	}
	while (!fresh_only && (l = TAILQ_FIRST(&relay->listeners)) != NULL) {
		TAILQ_REMOVE(&relay->listeners, l, entry);
		listener_free(l);
	}
}

int
relay_prepare(struct relay *relay, const struct cfg_relay *r, char *err,
    size_t errlen)
{
	struct listener *l;
	union sockaddr_any *want = NULL;
	int *transp = NULL, i, n = 0;

	relay_abort(relay);
	TAILQ_FOREACH(l, &relay->listeners, entry)
		l->keep = 0;
	if (r != NULL)
		n = wanted_listeners(r, &want, &transp);
	for (i = 0; i < n; i++) {
		if ((l = listener_find(relay, &want[i], transp[i])) != NULL) {
			l->keep = 1;
			continue;
		}
		if ((l = listener_open(relay, &want[i], transp[i], err,
		    errlen)) == NULL) {
			listeners_free(relay, 1);
			free(want);
			free(transp);
			return -1;
		}
		l->keep = 1;
		TAILQ_INSERT_TAIL(&relay->fresh, l, entry);
	}
	free(want);
	free(transp);
	relay->next_conf = r;
	relay->prepared = 1;
	return 0;
}

void
relay_abort(struct relay *relay)
{
	listeners_free(relay, 1);
	relay->next_conf = NULL;
	relay->prepared = 0;
}

/*
 * After a commit, what is in flight meets the new rules: a connection
 * whose name the new routes no longer allow on its port ends (a relayed
 * one with CLOSE_RELOAD, one still resolving or connecting refused
 * "not-allowed"); one whose hello has not arrived yet is decided by the
 * new rules when it does -- unless the relay is switched off, which ends
 * it now.
 */
static void
relay_sweep_rules(struct relay *relay)
{
	const struct cfg_relay *r = relay->conf;
	struct conn *c, *next;

	for (c = TAILQ_FIRST(&relay->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->rec.state == RELAY_CLOSE)
			continue;
		if (c->rec.sni == NULL) {
			if (r == NULL)
				conn_refuse(c, REFUSE_NOT_ALLOWED,
				    "relay switched off by a reload");
			continue;
		}
		if (route_allows(relay_conf_route(r, c->rec.port), c->rec.sni,
		    strlen(c->rec.sni)))
			continue;
		if (c->rec.state == RELAY_SPLICE)
			conn_close(c, CLOSE_RELOAD);
		else
			conn_refuse(c, REFUSE_NOT_ALLOWED, "disallowed by reload");
	}
}

void
relay_commit(struct relay *relay)
{
	const struct cfg_relay *r;
	struct listener *l, *lnext;
	struct timeval tv;

	if (!relay->prepared)
		return;
	r = relay->next_conf;
	for (l = TAILQ_FIRST(&relay->listeners); l != NULL; l = lnext) {
		lnext = TAILQ_NEXT(l, entry);
		if (!l->keep) {
			char where[64];

			log_info("relay: no longer listening on %s",
			    format_sockaddr(&l->addr.sa, where, sizeof(where)));
			TAILQ_REMOVE(&relay->listeners, l, entry);
			listener_free(l);
		}
	}
	if (!relay->configured)
		relay->listening = 1;
	while ((l = TAILQ_FIRST(&relay->fresh)) != NULL) {
		TAILQ_REMOVE(&relay->fresh, l, entry);
		TAILQ_INSERT_TAIL(&relay->listeners, l, entry);
		if (relay->listening)
			event_add(&l->ev, NULL);
	}
	relay->configured = 1;
	relay->conf = r;
	relay->next_conf = NULL;
	relay->prepared = 0;
	relay->ctr.listeners = 0;
	TAILQ_FOREACH(l, &relay->listeners, entry)
		relay->ctr.listeners++;
	relay_sweep_rules(relay);
	event_del(relay->sweep);
	if (r != NULL) {
		uint64_t every = r->idle_ms / 10;

		if (every < 1000)
			every = 1000;
		if (every > 30000)
			every = 30000;
		tv.tv_sec = (time_t)(every / 1000);
		tv.tv_usec = (suseconds_t)(every % 1000) * 1000;
		event_add(relay->sweep, &tv);
	}
}

int
relay_configure(struct relay *relay, const struct cfg_relay *r, char *err,
    size_t errlen)
{
	if (relay_prepare(relay, r, err, errlen) == -1)
		return -1;
	relay_commit(relay);
	return 0;
}

void
relay_set_fd_limit(struct relay *relay, unsigned nofile)
{
	relay->fd_limit = nofile;
	/* Every connection's two sockets, with room left for the pool. */
	relay->max_conns = nofile > FD_OTHERS + 2 * PIPE_RESERVE + 2 ?
	    (nofile - FD_OTHERS - 2 * PIPE_RESERVE) / 2 : 1;
}

unsigned
relay_max_conns(const struct relay *relay)
{
	return relay->max_conns;
}

const struct cfg_relay *
relay_conf(const struct relay *relay)
{
	return relay->conf;
}

void
relay_stop_listening(struct relay *relay)
{
	relay->listening = 0;
	listeners_free(relay, 0);
	relay->ctr.listeners = 0;
}

void
relay_close_all(struct relay *relay)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&relay->conns)) != NULL) {
		if (c->rec.state == RELAY_SPLICE)
			conn_close(c, CLOSE_SHUTDOWN);
		else {
			c->rec.refusal = REFUSE_CLIENT_GONE;
			conn_close(c, CLOSE_REFUSED);
		}
	}
}

void
relay_free(struct relay *relay)
{
	struct pipebuf *p;

	if (relay == NULL)
		return;
	relay_stop_listening(relay);
	relay_close_all(relay);
	while ((p = SLIST_FIRST(&relay->pool)) != NULL) {
		SLIST_REMOVE_HEAD(&relay->pool, next);
		pipe_destroy(p);
	}
	event_free(relay->sweep);
	free(relay);
}

void
relay_counters(const struct relay *relay, struct relay_counters *ctr)
{
	*ctr = relay->ctr;
	ctr->pipes_pooled = relay->npool;
}

void
relay_foreach(const struct relay *relay,
    void (*fn)(const struct relay_record *, void *), void *arg)
{
	struct conn *c;

	TAILQ_FOREACH(c, &relay->conns, entry)
		fn(&c->rec, arg);
}
