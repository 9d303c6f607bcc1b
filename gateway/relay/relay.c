/*
 * relay: listeners and the per-connection state machine
 *
 *	PEEK -> RESOLVE -> CONNECT [-> PROXY] -> SPLICE -> CLOSE
 *
 * conn_set_state() is the one place a connection changes state and
 * conn_io() the one driver of socket events.  Small transfers (MQTT, a
 * reply, a keepalive) are read into a buffer on the stack and written on
 * at once; a direction whose read fills that buffer is bulk and moves
 * with splice(2): socket -> pipe -> socket, with a pipe taken from a pool
 * while it has data in flight and given back when it is drained, so an
 * idle connection holds only its two sockets.  Back-pressure is natural:
 * while bytes cannot be written to their destination we stop reading
 * from their source.  Half-close is passed on with shutdown(SHUT_WR).
 *
 * System calls are most of a short connection's cost (doc/performance.md),
 * so each is counted:
 *   - the hello is read right after accept4: a charger sends it with
 *     the handshake's last ACK, so it is nearly always there already and
 *     the connection waits for no event (an EAGAIN costs one read);
 *     TCP_NODELAY and SO_KEEPALIVE are set on the listener and inherited;
 *   - the connections' sockets live in an epoll instance of the relay's
 *     own, registered once each, edge-triggered, for reading and writing:
 *     no re-registration when what a connection waits for changes, and
 *     none to undo at the end (closing a socket takes it out: evgated
 *     never forks -- dnsmasq is started with posix_spawn -- so no copy
 *     of a socket outlives its close and keeps it registered).  That
 *     instance is one descriptor in the daemon's libevent loop.  A side's
 *     readiness is kept in flags that the events set and EAGAIN clears;
 *   - the hello's send tells whether the connect succeeded (its error is
 *     the connect's), so no getsockopt(SO_ERROR);
 *   - when the second direction ends the sockets are closed at once: the
 *     close sends the FIN, no shutdown first;
 *   - a FIN that arrived with the last bytes (EPOLLRDHUP in the same
 *     event) ends the direction at the short read that takes those bytes,
 *     without a read that returns 0, and the bytes go out with MSG_MORE so
 *     that the shutdown or close after them carries the FIN in their
 *     segment (copy_in): a reply-then-close costs the charger one segment
 *     and one wakeup fewer.
 * Timers (the hello, resolve and connect deadlines) are libevent timers
 * that live in the connection's setup state, freed when splicing starts;
 * an idle relayed connection is its struct conn and nothing else.
 */
#include "evgate_config.h"

#include <sys/epoll.h>
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
#include <stddef.h>
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

#define PIPE_CHUNK	(64 * 1024)	/* a pipe's default capacity */
#define PIPE_BIG	(1024 * 1024)	/* a bulk direction's pipe */
#define PIPE_BIG_MAX	32		/* big pipes at most (32 MiB) */
#define COPY_CHUNK	(16 * 1024)	/* the buffer when no pipe can be had */
#define FD_OTHERS	64		/* descriptors the rest of evgated uses */
#define PIPE_RESERVE	256		/* pipe pairs max_conns leaves room for */
#define PUMP_ROUNDS	16		/* chunks per wake-up, for fairness */
#define PUMP_BYTES	(2 * 1024 * 1024) /* bytes per wake-up, likewise */
#define PIPE_POOL_MAX	256		/* idle pipes kept for reuse */
#define ACCEPT_BURST	64
#define EPOLL_BATCH	128		/* events taken per epoll_wait */
#define HELLO_FIRST	2048		/* first hello buffer; grows to max */
#define PROXY_REPLY_MAX	4096
#define RELAY_BAD_SNI_MAX	64	/* bytes of a refused name kept */

/* A side's state: what its events said, and whether it is registered. */
#define SIDE_RD		0x01	/* bytes, EOF or an error may be read */
#define SIDE_WR		0x02	/* bytes may be written */
#define SIDE_REG	0x04	/* in the relay's epoll instance */
#define SIDE_HUP	0x08	/* FIN, reset or error seen: read to the end */
#define SIDE_FIN	0x10	/* FIN seen (EPOLLRDHUP) and no error */

struct pipebuf {
	SLIST_ENTRY(pipebuf)	 next;
	int			 rfd, wfd;
	size_t			 len;		/* bytes in the pipe */
	size_t			 cap;		/* PIPE_CHUNK or PIPE_BIG */
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
	uint8_t			 bulk;		/* filled a pipe: take a big one */
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

/*
 * What a connection needs only until it splices: the hello, the lookup,
 * the addresses to try, the deadline's timer.  Freed when splicing starts.
 * One allocation: the first HELLO_FIRST bytes of the hello go into first
 * (a bigger hello into buf of its own), and the resolver's answer, the
 * largest member, is last and not zeroed (setup_new).
 */
struct conn_setup {
	struct event		 timer;		/* this state's deadline */
	int			 timer_on;
	uint8_t			*buf;		/* the hello: first, or bigger */
	size_t			 blen, bcap, bsent;
	char			*pbuf;		/* the proxy's reply */
	size_t			 plen;
	struct resolver_wait	*wait;
	size_t			 next_addr;
	size_t			 forbidden;	/* of those, by the policy */
	int			 proxy_literal;	/* ans: the proxy's address */
	/* Through a proxy, decided when the lookup starts: a reload that
	 * adds or removes relay.upstream_proxy meanwhile changes nothing
	 * for this connection (its answer is the proxy's, or the cloud's). */
	int			 via_proxy;
	uint16_t		 proxy_port;
	uint64_t		 deadline;	/* of PEEK, or of RESOLVE..PROXY */
	uint8_t			 first[HELLO_FIRST];
	struct resolver_answer	 ans;		/* valid from RESOLVE on */
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;		/* relay->conns, or ->dead */
	TAILQ_ENTRY(conn)	 again_entry;	/* relay->again */
	struct relay		*relay;
	struct relay_record	 rec;
	struct client		*client;
	struct conn_setup	*setup;		/* NULL once splicing */
	int			 cfd, ufd;
	uint8_t			 cside, uside;	/* SIDE_* */
	uint8_t			 again;		/* on relay->again */
	struct half		 up, down;	/* up: charger -> cloud */
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
	/* Closed while a batch of events may still name them: freed at
	 * the end of the batch (relay_leave). */
	TAILQ_HEAD(, conn)	 dead;
	int			 busy;		/* inside relay_enter/leave */
	/* Work left by the fairness bound: run again on the next round. */
	TAILQ_HEAD(, conn)	 again;
	size_t			 nagain;
	struct event		*again_ev;
	int			 epfd;		/* the connections' sockets */
	struct event		*io_ev;
	struct client_tree	 clients;
	SLIST_HEAD(, pipebuf)	 pool;		/* PIPE_CHUNK pipes */
	SLIST_HEAD(, pipebuf)	 bigpool;	/* PIPE_BIG pipes */
	size_t			 npool;		/* in both pools */
	size_t			 nbig;		/* big pipes, used or pooled */
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

static void	conn_close(struct conn *, enum relay_close);
static void	conn_refuse(struct conn *, enum relay_refusal, const char *);
static void	conn_connect_next(struct conn *);
static void	conn_start_splice(struct conn *);
static void	conn_splice(struct conn *);
static void	conn_timer_cb(evutil_socket_t, short, void *);
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
pipe_new(struct relay *relay)
{
	struct pipebuf *p;
	int fds[2];

	/* A new pipe must leave room for every connection's sockets: else
	 * copy through a buffer (pump). */
	if (relay->fd_limit != 0 && fds_held(relay) + 2 > relay->fd_limit)
		return NULL;
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
		log_warnx_rl(&relay->rl_pipe, "relay: pipe2: %s (copying "
		    "through a buffer instead)", strerror(errno));
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->rfd = fds[0];
	p->wfd = fds[1];
	p->cap = PIPE_CHUNK;
	return p;
}

/*
 * A pipe for a direction with bytes to move: from the pool, or new.  A
 * bulk direction (one that filled a pipe) gets a big one while fewer
 * than PIPE_BIG_MAX exist: 16 times fewer splice calls and wake-ups per
 * byte, the largest single gain of the bulk path (doc/performance.md).
 * The cap bounds what big pipes can hold, and keeps an unprivileged
 * evgated within the kernel's pipe-user-pages-soft (16384 pages) with
 * the small pool beside them.  NULL when no pipe can be had.
 */
static struct pipebuf *
pipe_get(struct relay *relay, int bulk)
{
	struct pipebuf *p = NULL;

	if (bulk && (p = SLIST_FIRST(&relay->bigpool)) != NULL) {
		SLIST_REMOVE_HEAD(&relay->bigpool, next);
		relay->npool--;
	} else if ((p = SLIST_FIRST(&relay->pool)) != NULL) {
		SLIST_REMOVE_HEAD(&relay->pool, next);
		relay->npool--;
	} else if ((p = pipe_new(relay)) == NULL)
		return NULL;
	if (bulk && p->cap < PIPE_BIG && relay->nbig < PIPE_BIG_MAX) {
		if (fcntl(p->wfd, F_SETPIPE_SZ, PIPE_BIG) >= PIPE_BIG) {
			p->cap = PIPE_BIG;
			relay->nbig++;
		} else
			log_debug("relay: F_SETPIPE_SZ: %s", strerror(errno));
	}
	relay->ctr.pipes_in_use++;
	return p;
}

static void
pipe_destroy(struct relay *relay, struct pipebuf *p)
{
	if (p->cap == PIPE_BIG)
		relay->nbig--;
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
		pipe_destroy(relay, p);
		return;
	}
	if (p->cap == PIPE_BIG)
		SLIST_INSERT_HEAD(&relay->bigpool, p, next);
	else
		SLIST_INSERT_HEAD(&relay->pool, p, next);
	relay->npool++;
}

/* --- events ---------------------------------------------------------- */

/*
 * Entry points that may close connections (socket events, timers, the
 * accept loop) run between relay_enter and relay_leave: a connection
 * closed in between is freed at relay_leave, so an event later in the
 * same batch never finds freed memory.
 */
static void
relay_enter(struct relay *relay)
{
	relay->busy++;
}

static void
relay_leave(struct relay *relay)
{
	struct conn *c;

	if (--relay->busy > 0)
		return;
	while ((c = TAILQ_FIRST(&relay->dead)) != NULL) {
		TAILQ_REMOVE(&relay->dead, c, entry);
		free(c);
	}
}

/*
 * Put one side's socket into the relay's epoll instance, once for its
 * whole life: edge-triggered, for reading and writing.  The event's data
 * is the connection, its lowest bit the side (structs are aligned).
 */
static int
conn_register(struct conn *c, int upstream)
{
	struct epoll_event ev;
	uint8_t *side = upstream ? &c->uside : &c->cside;

	if (*side & SIDE_REG)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.ptr = (void *)((uintptr_t)c | (upstream ? 1 : 0));
	if (epoll_ctl(c->relay->epfd, EPOLL_CTL_ADD, upstream ? c->ufd :
	    c->cfd, &ev) == -1) {
		log_warnx_rl(&c->relay->rl_warn, "relay: epoll_ctl: %s",
		    strerror(errno));
		return -1;
	}
	*side |= SIDE_REG;
	return 0;
}

/* Arm the setup timer for ms from now (0: stop it). */
static void
conn_timer(struct conn *c, uint64_t ms)
{
	struct conn_setup *s = c->setup;
	struct timeval tv;

	if (s->timer_on) {
		evtimer_del(&s->timer);
		s->timer_on = 0;
	}
	if (ms == 0)
		return;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(&s->timer, &tv);
	s->timer_on = 1;
}

/* The time left to the setup deadline, at least 1 ms. */
static uint64_t
conn_time_left(const struct conn *c)
{
	uint64_t now = now_mono_ms();

	return c->setup->deadline > now ? c->setup->deadline - now : 1;
}

/* Run the connection again on the next loop round (fairness bound). */
static void
conn_again(struct conn *c)
{
	struct relay *relay = c->relay;
	struct timeval tv = { 0, 0 };

	if (c->again)
		return;
	c->again = 1;
	TAILQ_INSERT_TAIL(&relay->again, c, again_entry);
	if (relay->nagain++ == 0)
		evtimer_add(relay->again_ev, &tv);
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

static struct conn_setup *
setup_new(struct relay *relay, struct conn *c)
{
	struct conn_setup *s = xmalloc(sizeof(*s));

	/* Not the answer (2 KiB): the resolver or the literal fills it. */
	memset(s, 0, offsetof(struct conn_setup, ans));
	s->ans.naddrs = 0;
	s->buf = s->first;
	s->bcap = sizeof(s->first);
	evtimer_assign(&s->timer, relay->base, conn_timer_cb, c);
	return s;
}

static void
setup_free(struct relay *relay, struct conn_setup *s)
{
	if (s == NULL)
		return;
	if (s->timer_on)
		evtimer_del(&s->timer);
	if (s->wait != NULL)
		relay->res_ops->cancel(relay->res_ctx, s->wait);
	if (s->buf != s->first)
		free(s->buf);
	free(s->pbuf);
	free(s);
}

static void
conn_free(struct conn *c)
{
	struct relay *relay = c->relay;

	/* Closing a socket takes it out of the epoll instance. */
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
	setup_free(relay, c->setup);
	c->setup = NULL;
	if (c->again) {
		TAILQ_REMOVE(&relay->again, c, again_entry);
		relay->nagain--;
		c->again = 0;
	}
	if (c->client != NULL && --c->client->count == 0) {
		RB_REMOVE(client_tree, &relay->clients, c->client);
		free(c->client);
	}
	relay->ctr.by_state[c->rec.state]--;
	relay->ctr.active--;
	TAILQ_REMOVE(&relay->conns, c, entry);
	free((char *)c->rec.sni);
	c->rec.sni = NULL;
	if (relay->busy)
		TAILQ_INSERT_TAIL(&relay->dead, c, entry);
	else
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
	struct conn_setup *s = c->setup;

	s->wait = NULL;
	if (ans->error != 0 || ans->naddrs == 0) {
		conn_refuse(c, REFUSE_RESOLVE, evdns_err_to_string(ans->error));
		return;
	}
	if (ans != &s->ans)
		s->ans = *ans;
	s->next_addr = s->forbidden = 0;
	conn_connect_next(c);
}

static void
conn_start_resolve(struct conn *c)
{
	const struct cfg_relay *r = c->relay->conf;
	struct conn_setup *s = c->setup;
	const char *name = r->proxy_host ? r->proxy_host : c->rec.sni;
	union sockaddr_any lit;
	int rv, flags;

	conn_set_state(c, RELAY_RESOLVE);
	s->deadline = now_mono_ms() + r->connect_ms;
	s->via_proxy = r->proxy_host != NULL;
	s->proxy_port = r->proxy_port;
	conn_timer(c, 0);

	/* A proxy given as an address needs no lookup. */
	memset(&lit, 0, sizeof(lit));
	if (r->proxy_host != NULL &&
	    (inet_pton(AF_INET, name, &lit.sin.sin_addr) == 1 ||
	    inet_pton(AF_INET6, name, &lit.sin6.sin6_addr) == 1)) {
		memset(&s->ans, 0, sizeof(s->ans));
		s->ans.naddrs = 1;
		s->proxy_literal = 1;
		if (inet_pton(AF_INET, name, &lit.sin.sin_addr) == 1)
			lit.sin.sin_family = AF_INET;
		else
			lit.sin6.sin6_family = AF_INET6;
		memcpy(&s->ans.addrs[0], &lit, sizeof(lit));
		s->next_addr = s->forbidden = 0;
		conn_connect_next(c);
		return;
	}
	/* A name only a wildcard allows goes into the cache's small
	 * budget: it cannot push the exact cloud names out. */
	flags = r->proxy_host == NULL && !route_names_exactly(
	    relay_conf_route(r, c->rec.port), name, strlen(name)) ?
	    RESOLVER_WILDCARD : 0;
	/* A cache hit is answered into s->ans at once. */
	rv = c->relay->res_ops->lookup(c->relay->res_ctx, name, flags,
	    conn_resolve_cb, c, &s->ans, &s->wait);
	if (rv == 1) {
		conn_resolve_cb(&s->ans, c);
		return;
	}
	if (rv == -1) {
		conn_refuse(c, REFUSE_RESOLVE, "no resolver configured");
		return;
	}
	/* Bound the wait. */
	conn_timer(c, r->connect_ms);
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

/*
 * Read what the charger sent until the hello is whole, the socket is
 * drained (edge-triggered: wait for its next event) or the hello is
 * refused.
 */
static void
conn_peek(struct conn *c)
{
	struct conn_setup *s = c->setup;
	struct tls_hello hello;
	enum tls_hello_status st;
	ssize_t n;

	for (;;) {
		if (now_mono_ms() >= s->deadline) {
			conn_refuse(c, REFUSE_HELLO_TIMEOUT, NULL);
			return;
		}
		if (s->blen == s->bcap) {
			size_t ncap = s->bcap * 2;

			if (ncap > TLS_HELLO_MAX_WIRE)
				ncap = TLS_HELLO_MAX_WIRE;
			if (s->buf == s->first) {
				s->buf = xmalloc(ncap);
				memcpy(s->buf, s->first, s->blen);
			} else
				s->buf = xreallocarray(s->buf, ncap, 1);
			s->bcap = ncap;
		}
		n = read(c->cfd, s->buf + s->blen, s->bcap - s->blen);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				c->cside &= ~SIDE_RD;
				goto wait;
			}
			conn_refuse(c, REFUSE_CLIENT_GONE, strerror(errno));
			return;
		}
		if (n == 0) {
			conn_refuse(c, REFUSE_CLIENT_GONE,
			    "EOF before a whole hello");
			return;
		}
		/* A short read drained the socket (see copy_in): no read
		 * to find EAGAIN when splicing starts. */
		if ((size_t)n < s->bcap - s->blen && !(c->cside & SIDE_HUP))
			c->cside &= ~SIDE_RD;
		s->blen += (size_t)n;
		st = tls_hello_parse(s->buf, s->blen, &hello);
		switch (st) {
		case TLS_HELLO_OK:
			conn_decide(c, &hello);
			return;
		case TLS_HELLO_NEED_MORE:
			if (s->blen >= TLS_HELLO_MAX_WIRE) {
				conn_refuse(c, REFUSE_TOO_BIG, NULL);
				return;
			}
			if (!(c->cside & SIDE_RD))
				goto wait;	/* drained */
			continue;
		case TLS_HELLO_BAD_SNI:
			/* What the device asked for, for the operator:
			 * escaped (it may hold any byte) and cut short. */
			if (hello.sni_len > 0) {
				char esc[4 * RELAY_BAD_SNI_MAX + 4];

				c->rec.sni = xstrdup(str_escape(hello.sni,
				    hello.sni_len, RELAY_BAD_SNI_MAX, esc,
				    sizeof(esc)));
			}
			conn_refuse(c, REFUSE_BAD_SNI,
			    tls_hello_status_str(st));
			return;
		default:
			conn_refuse(c, hello_refusal(st),
			    tls_hello_status_str(st));
			return;
		}
	}
wait:
	/* Drained before the hello is whole: wait for more.  The deadline
	 * is for the whole hello, not per segment: a hello dribbled a byte
	 * at a time still times out. */
	if (conn_register(c, 0) == -1) {
		conn_refuse(c, REFUSE_CLIENT_GONE, "cannot wait for the hello");
		return;
	}
	if (!s->timer_on)
		conn_timer(c, conn_time_left(c));
}

/* --- CONNECT and PROXY ----------------------------------------------- */

static void
conn_connect_next(struct conn *c)
{
	struct relay *relay = c->relay;
	const struct cfg_relay *r = relay->conf;
	struct conn_setup *s = c->setup;
	uint64_t now = now_mono_ms(), left, slice;
	union sockaddr_any *sa;
	enum netpolicy_class cls;
	socklen_t salen;
	size_t remaining;
	uint16_t port;
	char a[64];
	int one = 1;

	conn_set_state(c, RELAY_CONNECT);
	if (c->ufd != -1) {
		/* Its registration goes with it. */
		close(c->ufd);
		c->ufd = -1;
		c->uside = 0;
	}
	s->bsent = 0;
	memset(&c->rec.upstream, 0, sizeof(c->rec.upstream));
	for (;;) {
		if (s->next_addr >= s->ans.naddrs || now >= s->deadline) {
			/* Only forbidden addresses: a refusal of its own. */
			if (s->forbidden == s->next_addr && s->next_addr > 0)
				conn_refuse(c, REFUSE_ADDRESS, "every address "
				    "is refused by the upstream address policy");
			else
				conn_refuse(c, s->via_proxy ? REFUSE_PROXY :
				    REFUSE_CONNECT, "no address accepted a "
				    "connection");
			return;
		}
		sa = (union sockaddr_any *)&s->ans.addrs[s->next_addr++];
		port = s->via_proxy ? s->proxy_port :
		    relay_conf_route(r, c->rec.port)->upstream_port;
		if (sa->sa.sa_family == AF_INET)
			sa->sin.sin_port = htons(port);
		else
			sa->sin6.sin6_port = htons(port);
		/* Never where a DNS answer alone would take us (SSRF). */
		if (relay->np != NULL &&
		    (cls = netpolicy_check(relay->np, sa, s->proxy_literal)) !=
		    NETPOLICY_PUBLIC) {
			s->forbidden++;
			log_warnx_rl(&relay->rl_warn, "relay: #%llu %s resolves "
			    "to %s (%s): refused by the upstream address "
			    "policy (wan.allow_prefixes)",
			    (unsigned long long)c->rec.id, s->via_proxy ?
			    "the upstream proxy" : c->rec.sni, format_sockaddr(&sa->sa,
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
		setsockopt(c->ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(c->ufd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		if ((connect(c->ufd, &sa->sa, salen) == 0 ||
		    errno == EINPROGRESS) && conn_register(c, 1) == 0)
			break;
		log_debug("relay: #%llu connect: %s",
		    (unsigned long long)c->rec.id, strerror(errno));
		close(c->ufd);
		c->ufd = -1;
		c->uside = 0;
	}
	memcpy(&c->rec.upstream, sa, salen);
	/* Leave time for the addresses after this one. */
	left = s->deadline - now;
	remaining = s->ans.naddrs - s->next_addr + 1;
	slice = left / remaining;
	if (slice < 1000)
		slice = left < 1000 ? left : 1000;
	conn_timer(c, slice ? slice : 1);
}

/*
 * Write what is left of the setup's buffer upstream; 1 done, 0 later
 * (the socket is full, or still connecting), -1 error (errno).
 */
static int
conn_flush_buf(struct conn *c)
{
	struct conn_setup *s = c->setup;

	while (s->bsent < s->blen) {
		ssize_t n = send(c->ufd, s->buf + s->bsent,
		    s->blen - s->bsent, MSG_NOSIGNAL);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				c->uside &= ~SIDE_WR;
				return 0;
			}
			return -1;
		}
		s->bsent += (size_t)n;
	}
	return 1;
}

/*
 * The upstream socket is writable (or failed): the first send says which.
 * A connect that failed fails the send with its error; one still in
 * progress (a spurious wake-up) gives EAGAIN.
 */
static void
conn_connected(struct conn *c)
{
	const struct cfg_relay *r = c->relay->conf;
	const struct cfg_route *route;
	char req[600], up[64];
	ssize_t sent;
	int n;

	if (!c->setup->via_proxy) {
		conn_start_splice(c);
		return;
	}
	/* RFC 9110 9.3.6: ask the proxy for a tunnel to name:port. */
	route = relay_conf_route(r, c->rec.port);
	n = snprintf(req, sizeof(req), "CONNECT %s:%u HTTP/1.1\r\n"
	    "Host: %s:%u\r\n\r\n", c->rec.sni, route->upstream_port,
	    c->rec.sni, route->upstream_port);
	sent = send(c->ufd, req, (size_t)n, MSG_NOSIGNAL);
	if (sent >= 0 && sent != n) {
		conn_refuse(c, REFUSE_PROXY, "cannot send CONNECT");
		return;
	}
	if (sent == -1) {
		if (errno == EAGAIN) {
			c->uside &= ~SIDE_WR;
			return;
		}
		log_debug("relay: #%llu connect to %s: %s",
		    (unsigned long long)c->rec.id,
		    format_sockaddr(&c->rec.upstream.sa, up, sizeof(up)),
		    strerror(errno));
		conn_connect_next(c);
		return;
	}
	conn_set_state(c, RELAY_PROXY);
	conn_timer(c, conn_time_left(c));
}

/*
 * Read the proxy's reply into a buffer of its own (the hello stays), to
 * the end of its header.  Bounded (PROXY_REPLY_MAX); a NUL is refused
 * (no proxy sends one, and it would hide the header's end from the
 * string checks below).
 */
static void
conn_proxy_reply(struct conn *c)
{
	struct conn_setup *s = c->setup;
	char *end, *eol;
	ssize_t n;

	if (s->pbuf == NULL)
		s->pbuf = xmalloc(PROXY_REPLY_MAX + 1);
	/* Edge-triggered: read on until the header's end or EAGAIN.  A
	 * proxy sends only its header before our hello goes out, so
	 * whatever we read is header. */
	for (;;) {
		n = recv(c->ufd, s->pbuf + s->plen, PROXY_REPLY_MAX - s->plen,
		    0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			c->uside &= ~SIDE_RD;
			return;
		}
		if (n <= 0) {
			conn_refuse(c, REFUSE_PROXY,
			    "proxy closed the connection");
			return;
		}
		if (memchr(s->pbuf + s->plen, '\0', (size_t)n) != NULL) {
			conn_refuse(c, REFUSE_PROXY, "proxy reply holds a NUL");
			return;
		}
		s->plen += (size_t)n;
		s->pbuf[s->plen] = '\0';
		if ((end = memmem(s->pbuf, s->plen, "\r\n\r\n", 4)) != NULL)
			break;
		if (s->plen == PROXY_REPLY_MAX) {
			conn_refuse(c, REFUSE_PROXY, "proxy reply too long");
			return;
		}
	}
	if (end + 4 != s->pbuf + s->plen) {
		conn_refuse(c, REFUSE_PROXY, "proxy sent data before our hello");
		return;
	}
	if (strncmp(s->pbuf, "HTTP/1.", 7) != 0 || s->pbuf[7] == '\0' ||
	    s->pbuf[8] != ' ' || s->pbuf[9] != '2') {
		if ((eol = strchr(s->pbuf, '\r')) != NULL)
			*eol = '\0';
		log_warnx_rl(&c->relay->rl_warn, "relay: proxy refused "
		    "CONNECT %s: %.80s", c->rec.sni, s->pbuf);
		conn_refuse(c, REFUSE_PROXY, NULL);
		return;
	}
	free(s->pbuf);
	s->pbuf = NULL;
	s->plen = 0;
	conn_start_splice(c);
}

/* --- SPLICE ---------------------------------------------------------- */

enum pump_result {
	PUMP_IDLE,		/* source has nothing more for now, or EOF */
	PUMP_BLOCKED,		/* destination is full: wait for its event */
	PUMP_MORE,		/* the fairness bound: more on the next round */
	PUMP_ERR_SRC,
	PUMP_ERR_DST,
};

/*
 * One read of a direction that is not bulk (or has no pipe) through a
 * buffer on the stack, written on at once; what the destination does not
 * take waits in the half's small buffer.  Small transfers -- MQTT, the
 * hello's reply, a keepalive -- cost one read and one write this way,
 * against a splice in, a splice out and a splice to find the socket
 * drained: a short read says the socket is drained, unless a FIN or an
 * error was seen (SIDE_HUP), whose 0 or error is still to be read (the
 * rule nginx follows with EPOLLRDHUP).  A short read after a FIN without
 * an error (SIDE_FIN) has taken everything the FIN closes -- TCP sets
 * RCV_SHUTDOWN only when the FIN is taken in order, behind every byte
 * before it, and a read drains the receive queue up to its length -- so
 * it is the EOF too, without a read that returns 0.  Those last bytes go
 * out with MSG_MORE: the FIN that conn_splice's shutdown (or close) sends
 * right after them rides in their segment, one segment and one wakeup of
 * the peer fewer.  A read that fills the buffer makes the direction bulk:
 * pipes from then on.
 * Returns 1 + the bytes written, 0 when the source has nothing more now
 * (EAGAIN, or EOF: h->eof), or minus the pump_result of an error.
 */
static ssize_t
copy_in(struct conn *c, struct half *h, int from, uint8_t *src, int to,
    uint8_t *dst)
{
	uint8_t tmp[COPY_CHUNK];
	ssize_t n, w = 0;

	n = read(from, tmp, sizeof(tmp));
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR) {
			if (errno == EAGAIN)
				*src &= ~SIDE_RD;
			return errno == EINTR ? 1 : 0;
		}
		return -(ssize_t)PUMP_ERR_SRC;
	}
	if (n == 0) {
		h->eof = 1;
		return 0;
	}
	if ((size_t)n < sizeof(tmp)) {
		if (*src & SIDE_FIN)
			h->eof = 1;		/* drained up to the FIN */
		else if (!(*src & SIDE_HUP))
			*src &= ~SIDE_RD;	/* drained */
	} else if (!h->bulk)
		h->bulk = 1;
	else
		c->relay->ctr.copy_fallbacks++;	/* bulk without a pipe */
	if (*dst & SIDE_WR) {
		w = send(to, tmp, (size_t)n,
		    MSG_NOSIGNAL | (h->eof ? MSG_MORE : 0));
		if (w == -1) {
			if (errno != EAGAIN && errno != EINTR)
				return -(ssize_t)PUMP_ERR_DST;
			if (errno == EAGAIN)
				*dst &= ~SIDE_WR;
			w = 0;
		}
	}
	if (w < n) {
		if (h->cbuf == NULL)
			h->cbuf = xmalloc(COPY_CHUNK);
		memcpy(h->cbuf, tmp + w, (size_t)(n - w));
		h->clen = (uint32_t)(n - w);
		h->coff = 0;
	}
	return 1 + w;
}

/*
 * Move one direction's bytes as far as the sides' readiness allows:
 * write what waits, then read more, until the source is drained (EAGAIN,
 * which clears its SIDE_RD), the destination is full (EAGAIN clears its
 * SIDE_WR) or PUMP_ROUNDS chunks were moved.  Edge-triggered sockets
 * give no second event for bytes that are already there, so a pump that
 * stops early says PUMP_MORE and the connection runs again next round.
 */
static enum pump_result
pump(struct conn *c, struct half *h, int from, uint8_t *src, int to,
    uint8_t *dst, uint64_t *bytes)
{
	struct relay *relay = c->relay;
	enum pump_result res = PUMP_MORE;
	uint64_t moved = 0;
	int rounds;
	ssize_t n;

	for (rounds = 0; rounds < PUMP_ROUNDS && moved < PUMP_BYTES;
	    rounds++) {
		if (h->cbuf != NULL && h->clen > h->coff) {
			if (!(*dst & SIDE_WR)) {
				res = PUMP_BLOCKED;
				break;
			}
			n = write(to, h->cbuf + h->coff, h->clen - h->coff);
			if (n == -1) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN) {
					*dst &= ~SIDE_WR;
					res = PUMP_BLOCKED;
					break;
				}
				return PUMP_ERR_DST;
			}
			h->coff += (uint32_t)n;
			moved += (uint64_t)n;
			continue;
		}
		if (h->pipe != NULL && h->pipe->len > 0) {
			if (!(*dst & SIDE_WR)) {
				res = PUMP_BLOCKED;
				break;
			}
			n = splice(h->pipe->rfd, NULL, to, NULL, h->pipe->len,
			    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n == -1) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN) {
					*dst &= ~SIDE_WR;
					res = PUMP_BLOCKED;
					break;
				}
				return PUMP_ERR_DST;
			}
			h->pipe->len -= (size_t)n;
			moved += (uint64_t)n;
			continue;
		}
		if (h->eof || !(*src & SIDE_RD)) {
			res = PUMP_IDLE;
			break;
		}
		if (h->bulk && h->pipe == NULL)
			h->pipe = pipe_get(relay, 1);
		if (h->pipe == NULL) {
			/* Copy: not bulk (yet), or no pipe to be had. */
			n = copy_in(c, h, from, src, to, dst);
			if (n < 0)
				return (enum pump_result)-n;
			if (n == 0) {
				res = PUMP_IDLE;
				break;
			}
			moved += (uint64_t)(n - 1);
			continue;
		}
		n = splice(from, NULL, h->pipe->wfd, NULL, h->pipe->cap,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				/* The source is drained -- or the pipe is
				 * full, which cannot be: it was empty. */
				*src &= ~SIDE_RD;
				res = PUMP_IDLE;
				break;
			}
			return PUMP_ERR_SRC;
		}
		if (n == 0) {
			h->eof = 1;
			res = PUMP_IDLE;
			break;
		}
		h->pipe->len += (size_t)n;
		if ((size_t)n == h->pipe->cap)
			h->bulk = 1;
	}
	*bytes += moved;
	if (h->pipe != NULL && h->pipe->len == 0) {
		pipe_put(relay, h->pipe);
		h->pipe = NULL;
	}
	if (h->cbuf != NULL && h->clen == h->coff) {
		free(h->cbuf);
		h->cbuf = NULL;
		h->clen = h->coff = 0;
	}
	return res;
}

/* Bytes of this direction wait to be written (pipe or buffer)? */
static int
half_pending(const struct half *h)
{
	return (h->pipe != NULL && h->pipe->len > 0) ||
	    (h->cbuf != NULL && h->clen > h->coff);
}

/* The source sent FIN and everything before it was passed on. */
static int
half_done(const struct half *h)
{
	return h->eof && !half_pending(h);
}

/* Run both directions as the sides' readiness allows. */
static void
conn_splice(struct conn *c)
{
	struct relay *relay = c->relay;
	enum pump_result ru, rd;
	uint64_t bu = 0, bd = 0;

	ru = pump(c, &c->up, c->cfd, &c->cside, c->ufd, &c->uside, &bu);
	rd = pump(c, &c->down, c->ufd, &c->uside, c->cfd, &c->cside, &bd);
	if (bu != 0 || bd != 0) {
		c->rec.bytes_up += bu;
		c->rec.bytes_down += bd;
		relay->ctr.bytes_up += bu;
		relay->ctr.bytes_down += bd;
		c->last_active = now_mono_ms();
	}
	if (ru == PUMP_ERR_SRC || rd == PUMP_ERR_DST) {
		conn_close(c, CLOSE_CLIENT_RESET);
		return;
	}
	if (ru == PUMP_ERR_DST || rd == PUMP_ERR_SRC) {
		conn_close(c, CLOSE_UPSTREAM_RESET);
		return;
	}
	/* Both ended: close, which sends the last FIN itself. */
	if (half_done(&c->up) && half_done(&c->down)) {
		conn_close(c, CLOSE_DONE);
		return;
	}
	/* One ended: pass its FIN on (half-close). */
	if (half_done(&c->up) && !c->up.shut) {
		shutdown(c->ufd, SHUT_WR);
		c->up.shut = 1;
	}
	if (half_done(&c->down) && !c->down.shut) {
		shutdown(c->cfd, SHUT_WR);
		c->down.shut = 1;
	}
	if (ru == PUMP_MORE || rd == PUMP_MORE)
		conn_again(c);
}

/*
 * Connected: send the hello (and anything after it) first, then splice.
 * A send error before any byte left is the connect's own: try the next
 * address.
 */
static void
conn_start_splice(struct conn *c)
{
	struct relay *relay = c->relay;
	struct conn_setup *s = c->setup;
	char up[64];
	int rv;

	rv = conn_flush_buf(c);
	if (rv == -1) {
		if (s->bsent == 0 && c->rec.state == RELAY_CONNECT) {
			log_debug("relay: #%llu connect to %s: %s",
			    (unsigned long long)c->rec.id,
			    format_sockaddr(&c->rec.upstream.sa, up,
			    sizeof(up)), strerror(errno));
			conn_connect_next(c);
			return;
		}
		conn_refuse(c, REFUSE_CONNECT, "upstream closed before the hello");
		return;
	}
	if (rv == 0 && s->bsent == 0 && c->rec.state == RELAY_CONNECT)
		return;		/* still connecting */
	if (c->rec.state != RELAY_SPLICE) {
		conn_set_state(c, RELAY_SPLICE);
		relay->ctr.relayed++;
		c->last_active = now_mono_ms();
		conn_timer(c, 0);
	}
	if (rv == 0)
		return;		/* the rest of the hello when writable */
	c->rec.bytes_up += s->blen;
	relay->ctr.bytes_up += s->blen;
	setup_free(relay, s);
	c->setup = NULL;
	/* Registering reports what is already there: no read to try. */
	if (conn_register(c, 0) == -1) {
		conn_close(c, CLOSE_CLIENT_RESET);
		return;
	}
	conn_splice(c);
}

/* --- the driver ------------------------------------------------------ */

/* A socket event: what it says goes into the side's flags first. */
static void
conn_io(struct conn *c, int upstream, uint32_t events)
{
	uint8_t *side = upstream ? &c->uside : &c->cside;

	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		*side |= SIDE_RD;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		*side |= SIDE_HUP;
	if ((events & (EPOLLRDHUP | EPOLLERR)) == EPOLLRDHUP)
		*side |= SIDE_FIN;
	else if (events & EPOLLERR)
		*side &= ~SIDE_FIN;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		*side |= SIDE_WR;
	switch (c->rec.state) {
	case RELAY_PEEK:
		if (!upstream && (c->cside & SIDE_RD))
			conn_peek(c);
		break;
	case RELAY_CONNECT:
		if (upstream && (c->uside & SIDE_WR))
			conn_connected(c);
		break;
	case RELAY_PROXY:
		if (upstream && (c->uside & SIDE_RD))
			conn_proxy_reply(c);
		break;
	case RELAY_SPLICE:
		if (c->setup != NULL) {
			/* still sending the hello */
			if (upstream && (c->uside & SIDE_WR))
				conn_start_splice(c);
			break;
		}
		conn_splice(c);
		break;
	default:
		/* RESOLVE: the charger's events wait in the flags. */
		break;
	}
}

/* The setup deadline of the state the connection is in. */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct relay *relay = c->relay;

	c->setup->timer_on = 0;
	relay_enter(relay);
	switch (c->rec.state) {
	case RELAY_PEEK:
		conn_refuse(c, REFUSE_HELLO_TIMEOUT, NULL);
		break;
	case RELAY_RESOLVE:
		conn_refuse(c, REFUSE_RESOLVE, "timed out");
		break;
	case RELAY_CONNECT:
		conn_connect_next(c);
		break;
	case RELAY_PROXY:
		conn_refuse(c, REFUSE_PROXY, "timed out");
		break;
	default:
		break;
	}
	relay_leave(relay);
}

/* The relay's epoll instance is readable: take a batch of events. */
static void
relay_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay *relay = arg;
	struct epoll_event evs[EPOLL_BATCH];
	struct conn *c;
	uintptr_t p;
	int i, n;

	n = epoll_wait(relay->epfd, evs, EPOLL_BATCH, 0);
	relay_enter(relay);
	for (i = 0; i < n; i++) {
		p = (uintptr_t)evs[i].data.ptr;
		c = (struct conn *)(p & ~(uintptr_t)1);
		/* Closed by an earlier event of this batch. */
		if (c->rec.state == RELAY_CLOSE)
			continue;
		conn_io(c, (int)(p & 1), evs[i].events);
	}
	relay_leave(relay);
}

/* Connections the fairness bound stopped: on with them. */
static void
relay_again_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay *relay = arg;
	struct conn *c;
	size_t n = relay->nagain;

	relay_enter(relay);
	/* Only those queued before this round: a connection queued again
	 * waits for the next. */
	while (n-- > 0 && (c = TAILQ_FIRST(&relay->again)) != NULL) {
		TAILQ_REMOVE(&relay->again, c, again_entry);
		relay->nagain--;
		c->again = 0;
		if (c->rec.state == RELAY_SPLICE && c->setup == NULL)
			conn_splice(c);
	}
	relay_leave(relay);
	if (relay->nagain > 0) {
		struct timeval tv = { 0, 0 };

		evtimer_add(relay->again_ev, &tv);
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
	union sockaddr_any orig;
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
		len = sizeof(orig);
		if (getsockopt(fd, sa->sa.sa_family == AF_INET ? SOL_IP :
		    SOL_IPV6, sa->sa.sa_family == AF_INET ? SO_ORIGINAL_DST :
		    IP6T_SO_ORIGINAL_DST, &orig, &len) == 0)
			c->rec.port = ntohs(orig.sa.sa_family == AF_INET ?
			    orig.sin.sin_port : orig.sin6.sin6_port);
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
	/* TCP_NODELAY and SO_KEEPALIVE came with the listener's. */
	c->setup = setup_new(relay, c);
	c->setup->deadline = c->rec.start_mono_ms + r->hello_ms;
	/* The hello came with the handshake's last ACK, most likely. */
	c->cside = SIDE_RD | SIDE_WR;
	conn_peek(c);
}

static void
listener_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct relay *relay = l->relay;
	union sockaddr_any sa;
	socklen_t len;
	int i, cfd;

	relay_enter(relay);
	for (i = 0; i < ACCEPT_BURST && relay->listening; i++) {
		len = sizeof(sa);
		cfd = accept4(fd, &sa.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			int err = errno;	/* logging may change errno */

			if (err == EAGAIN || err == EINTR ||
			    err == ECONNABORTED)
				break;
			relay->ctr.accept_errors++;
			log_warnx_rl(&relay->rl_accept, "relay: accept: %s",
			    strerror(err));
			if (err == EMFILE || err == ENFILE ||
			    err == ENOBUFS || err == ENOMEM) {
				/* Out of descriptors: back off for a second
				 * instead of spinning on a ready listener. */
				struct timeval tv = { 1, 0 };

				event_del(&l->ev);
				evtimer_add(&l->pause, &tv);
			}
			break;
		}
		relay_accept(l, cfd, &sa);
	}
	relay_leave(relay);
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
	/* Accepted sockets inherit these: no setsockopt per connection. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
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
	relay_enter(relay);
	for (c = TAILQ_FIRST(&relay->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		/* With or without its hello sent whole (setup). */
		if (c->rec.state == RELAY_SPLICE &&
		    now - c->last_active >= idle)
			conn_close(c, CLOSE_IDLE);
	}
	relay_leave(relay);
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
	TAILQ_INIT(&relay->dead);
	TAILQ_INIT(&relay->again);
	RB_INIT(&relay->clients);
	SLIST_INIT(&relay->pool);
	SLIST_INIT(&relay->bigpool);
	relay->rl_warn = rl;
	relay->rl_accept = rl;
	relay->rl_pipe = rl;
	relay->sweep = event_new(base, -1, EV_PERSIST, relay_sweep_cb, relay);
	relay->again_ev = evtimer_new(base, relay_again_cb, relay);
	if ((relay->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("relay: epoll_create1");
	relay->io_ev = event_new(base, relay->epfd, EV_READ | EV_PERSIST,
	    relay_io_cb, relay);
	event_add(relay->io_ev, NULL);
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
	relay_enter(relay);
	relay_sweep_rules(relay);
	relay_leave(relay);
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

	relay_enter(relay);
	while ((c = TAILQ_FIRST(&relay->conns)) != NULL) {
		if (c->rec.state == RELAY_SPLICE)
			conn_close(c, CLOSE_SHUTDOWN);
		else
			conn_refuse(c, REFUSE_CLIENT_GONE, NULL);
	}
	relay_leave(relay);
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
		pipe_destroy(relay, p);
	}
	while ((p = SLIST_FIRST(&relay->bigpool)) != NULL) {
		SLIST_REMOVE_HEAD(&relay->bigpool, next);
		pipe_destroy(relay, p);
	}
	event_free(relay->sweep);
	event_free(relay->again_ev);
	event_free(relay->io_ev);
	close(relay->epfd);
	free(relay);
}

void
relay_counters(const struct relay *relay, struct relay_counters *ctr)
{
	*ctr = relay->ctr;
	ctr->pipes_pooled = relay->npool;
	ctr->pipes_big = relay->nbig;
}

void
relay_foreach(const struct relay *relay,
    void (*fn)(const struct relay_record *, void *), void *arg)
{
	struct conn *c;

	TAILQ_FOREACH(c, &relay->conns, entry)
		fn(&c->rec, arg);
}
