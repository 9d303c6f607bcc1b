/*
 * Unit tests for the relay's state machine (relay.c), driven over loopback
 * sockets without root: the test is the charger (a client socket), the
 * cloud (an upstream listener it accepts from itself) and the resolver
 * (resolver_ops of its own, answering at once, later, or never), and runs
 * the relay's event loop in between.
 *
 * Covered: a hello a byte at a time, a hello larger than the first buffer,
 * refusals that never resolve or connect, a cache hit answered
 * synchronously, an answer that comes later (with the charger's bytes
 * after the hello arriving meanwhile: edge-triggered sockets report them
 * once), a refused first address, half-close both ways, back-pressure,
 * bulk through a big pipe past the fairness bound, and a reload during
 * every state -- including the crash of issue 14 (the relay section
 * removed while a hello is half sent) -- and the path through an upstream
 * HTTP proxy (CONNECT, a reply in pieces, refusals of every kind).
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>		/* tcp_info with tcpi_segs_in */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/netpolicy.h"
#include "common/util.h"
#include "daemon/config.h"
#include "relay/relay.h"
#include "relay/relay_conf.h"
#include "relay/resolver.h"
#include "hello.h"

#define ALLOWED		"zapcloud.azure-devices.net"
#define OTHER_PORT	"api.zaptec.com"	/* allowed on the second route */
#define WAIT_MS		5000
/* The cloud's address: not the relay's own (it refuses to loop). */
#define CLOUD_ADDR	0x7f000003	/* 127.0.0.3 */

enum fake_mode {
	FAKE_SYNC,		/* a cache hit: answered inside lookup */
	FAKE_ASYNC,		/* answered when the test says */
	FAKE_NONE,		/* no resolver configured */
};

/* The test's resolver: what the relay is handed in place of evdns. */
struct resolver_wait {
	resolver_cb	 cb;
	void		*arg;
};

struct fx {
	struct event_base	*base;
	struct relay		*relay;
	struct config		*conf;		/* in force */
	struct config		*old;		/* kept until the test ends */
	uint16_t		 port, port2;	/* the relay's routes */
	int			 up;		/* the cloud's listener */
	uint16_t		 up_port;
	enum fake_mode		 mode;
	struct resolver_wait	*pending;
	int			 lookups, cancels;
	int			 last_flags;
	/* what the resolver answers (default: the cloud) */
	struct sockaddr_storage	 answer[4];
	size_t			 nanswer;
	struct netpolicy	*np;
	char			 last_sni[300];	/* of the last record */
	enum relay_refusal	 last_refusal;
};

static void
on_record(const struct relay_record *rec, void *arg)
{
	struct fx *fx = arg;

	strlcpy(fx->last_sni, rec->sni ? rec->sni : "", sizeof(fx->last_sni));
	fx->last_refusal = rec->refusal;
}

/* The resolver's answer: addresses as text ("10.0.0.5", "::ffff:..."). */
static void
answer_with(struct fx *fx, const char *const *addrs, size_t n)
{
	size_t i;

	memset(fx->answer, 0, sizeof(fx->answer));
	for (i = 0; i < n; i++) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&fx->answer[i];
		struct sockaddr_in6 *sin6 =
		    (struct sockaddr_in6 *)&fx->answer[i];

		if (inet_pton(AF_INET, addrs[i], &sin->sin_addr) == 1)
			sin->sin_family = AF_INET;
		else if (inet_pton(AF_INET6, addrs[i], &sin6->sin6_addr) == 1)
			sin6->sin6_family = AF_INET6;
		else
			fail_msg("bad address %s", addrs[i]);
	}
	fx->nanswer = n;
}

static void
fill_answer(struct fx *fx, struct resolver_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	ans->naddrs = fx->nanswer;
	memcpy(ans->addrs, fx->answer, fx->nanswer * sizeof(fx->answer[0]));
}

static int
fake_lookup(void *ctx, const char *name, int flags, resolver_cb cb,
    void *arg, struct resolver_answer *ans, struct resolver_wait **wait)
{
	struct fx *fx = ctx;

	fx->last_flags = flags;
	fx->lookups++;
	*wait = NULL;
	switch (fx->mode) {
	case FAKE_SYNC:
		fill_answer(fx, ans);
		return 1;
	case FAKE_ASYNC:
		assert_null(fx->pending);
		fx->pending = calloc(1, sizeof(*fx->pending));
		fx->pending->cb = cb;
		fx->pending->arg = arg;
		*wait = fx->pending;
		return 0;
	default:
		return -1;
	}
}

static void
fake_cancel(void *ctx, struct resolver_wait *w)
{
	struct fx *fx = ctx;

	assert_ptr_equal(w, fx->pending);
	fx->cancels++;
	free(w);
	fx->pending = NULL;
}

static const struct resolver_ops fake_ops = { fake_lookup, fake_cancel };

/* Answer the pending lookup: the cloud, or the DNS error err. */
static void
fake_answer(struct fx *fx, int err)
{
	struct resolver_wait *w = fx->pending;
	struct resolver_answer ans;

	assert_non_null(w);
	fx->pending = NULL;
	memset(&ans, 0, sizeof(ans));
	if (err == 0)
		fill_answer(fx, &ans);
	ans.error = err;
	w->cb(&ans, w->arg);
	free(w);
}

/* --- sockets --------------------------------------------------------- */

static int
tcp_listen_at(uint32_t addr, uint16_t *port, int backlog)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

	assert_true(fd != -1);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
tcp_listen(uint16_t *port, int backlog)
{
	return tcp_listen_at(INADDR_LOOPBACK, port, backlog);
}

/* A port nobody listens on now (for the relay to bind). */
static uint16_t
free_port(void)
{
	uint16_t port;

	close(tcp_listen(&port, 1));
	return port;
}

static int
connect_at(uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	assert_true(fd != -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		assert_int_equal(errno, EINPROGRESS);
	return fd;
}

static int
connect_to(uint16_t port)
{
	return connect_at(INADDR_LOOPBACK, port);
}

/* --- the loop -------------------------------------------------------- */

/* Run the relay's loop for about ms (at least one round). */
static void
pump(struct fx *fx, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(fx->base, &tv);
	event_base_dispatch(fx->base);
}

/* Pump until fn(fx, arg) is true; fails the test after WAIT_MS. */
static void
until(struct fx *fx, int (*fn)(struct fx *, void *), void *arg,
    const char *what)
{
	uint64_t end = now_mono_ms() + WAIT_MS;

	while (!fn(fx, arg)) {
		if (now_mono_ms() >= end)
			fail_msg("timed out waiting for %s", what);
		pump(fx, 2);
	}
}

static int
accepted(struct fx *fx, void *arg)
{
	int *fd = arg;

	*fd = accept4(fx->up, NULL, NULL, SOCK_NONBLOCK);
	return *fd != -1;
}

/* The cloud takes the relay's connection. */
static int
cloud_accept(struct fx *fx)
{
	int fd = -1;

	until(fx, accepted, &fd, "the relay's upstream connection");
	return fd;
}

/* Nothing reaches the cloud within ms of loop time. */
static void
cloud_idle(struct fx *fx, int ms)
{
	int fd;

	pump(fx, ms);
	fd = accept4(fx->up, NULL, NULL, SOCK_NONBLOCK);
	if (fd != -1)
		fail_msg("a connection reached the cloud");
}

struct xfer {
	int		 fd;
	uint8_t		*buf;
	size_t		 want, got;
	int		 eof;
};

static int
xfer_read(struct fx *fx, void *arg)
{
	struct xfer *x = arg;
	ssize_t n;

	while (x->got < x->want) {
		n = read(x->fd, x->buf + x->got, x->want - x->got);
		if (n > 0) {
			x->got += (size_t)n;
			continue;
		}
		if (n == 0) {
			x->eof = 1;
			return 1;
		}
		return 0;
	}
	return 1;
}

/* Read exactly n bytes from fd while the loop runs. */
static void
read_n(struct fx *fx, int fd, void *buf, size_t n)
{
	struct xfer x = { fd, buf, n, 0, 0 };

	until(fx, xfer_read, &x, "bytes");
	if (x.got != n)
		fail_msg("EOF after %zu of %zu bytes", x.got, n);
}

static int
eof_seen(struct fx *fx, void *arg)
{
	int fd = *(int *)arg;
	char c;
	ssize_t n = read(fd, &c, 1);

	if (n == 1)
		fail_msg("a byte where EOF was expected");
	return n == 0 || (n == -1 && errno == ECONNRESET);
}

/* fd sees its peer close (FIN or reset). */
static void
read_eof(struct fx *fx, int fd)
{
	until(fx, eof_seen, &fd, "EOF");
}

static void
write_all(int fd, const void *buf, size_t n)
{
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
}

/* --- configuration --------------------------------------------------- */

/* The relay's configuration, the first route allowing allow. */
static struct config *
conf_text(struct fx *fx, const char *allow)
{
	char text[1024], err[512];
	struct config *c;

	snprintf(text, sizeof(text),
	    "wan: {resolvers: [127.0.0.1]}\n"
	    "relay:\n"
	    "  listen: [127.0.0.1]\n"
	    "  routes:\n"
	    "    - {port: %u, upstream_port: %u, allow: [\"%s\"]}\n"
	    "    - {port: %u, upstream_port: %u, allow: [\"" OTHER_PORT "\"]}\n",
	    fx->port, fx->up_port, allow, fx->port2, fx->up_port);
	if ((c = config_load_buffer("t.yaml", (const uint8_t *)text,
	    strlen(text), err, sizeof(err))) == NULL)
		fail_msg("config: %s", err);
	return c;
}

/* evgated's own listeners, for the loop rule: the relay's two ports. */
static void
own_listeners(struct fx *fx)
{
	struct sockaddr_storage ss[2];
	struct sockaddr_in *sin;
	uint16_t ports[2] = { fx->port, fx->port2 };
	int i;

	memset(ss, 0, sizeof(ss));
	for (i = 0; i < 2; i++) {
		sin = (struct sockaddr_in *)&ss[i];
		sin->sin_family = AF_INET;
		sin->sin_port = htons(ports[i]);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	netpolicy_set_listeners(fx->np, ss, 2);
}

/* Make c the relay's configuration (the old one is kept alive). */
static void
apply(struct fx *fx, struct config *c)
{
	char err[512];

	if (relay_configure(fx->relay, c != NULL ? c->relay : NULL, err,
	    sizeof(err)) == -1)
		fail_msg("relay_configure: %s", err);
	config_free(fx->old);
	fx->old = fx->conf;
	fx->conf = c;
}

static void
allow_prefix(struct fx *fx, const char *text)
{
	struct netpolicy_prefix p;
	const char *why;

	if (text == NULL) {
		netpolicy_set_allowed(fx->np, NULL, 0);
		return;
	}
	if (netpolicy_parse_prefix(text, &p, &why) == -1)
		fail_msg("%s: %s", text, why);
	netpolicy_set_allowed(fx->np, &p, 1);
}

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	fx->base = event_base_new();
	fx->up = tcp_listen_at(CLOUD_ADDR, &fx->up_port, 16);
	fx->port = free_port();
	fx->port2 = free_port();
	/* The cloud runs on loopback here: a test rig's allowed prefix. */
	fx->np = netpolicy_new(fx->base);
	allow_prefix(fx, "127.0.0.0/8");
	own_listeners(fx);
	fx->relay = relay_new(fx->base, &fake_ops, fx, fx->np);
	relay_add_record_cb(fx->relay, on_record, fx);
	fx->mode = FAKE_SYNC;
	answer_with(fx, (const char *const []){ "127.0.0.3" }, 1);
	apply(fx, conf_text(fx, ALLOWED));
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	relay_free(fx->relay);
	netpolicy_free(fx->np);
	assert_null(fx->pending);	/* every wait answered or cancelled */
	config_free(fx->conf);
	config_free(fx->old);
	close(fx->up);
	event_base_free(fx->base);
	free(fx);
	return 0;
}

static struct relay_counters
counters(struct fx *fx)
{
	struct relay_counters ctr;

	relay_counters(fx->relay, &ctr);
	return ctr;
}

struct state_arg {
	enum relay_state st;
};

static int
in_state(struct fx *fx, void *arg)
{
	return counters(fx).by_state[((struct state_arg *)arg)->st] == 1;
}

static void
until_state(struct fx *fx, enum relay_state st)
{
	struct state_arg a = { st };

	until(fx, in_state, &a, relay_state_str(st));
}

static int
no_connections(struct fx *fx, void *arg)
{
	return counters(fx).active == 0;
}

/*
 * A charger's connection through to the cloud: client and cloud sockets,
 * the hello already checked to arrive whole at the cloud.
 */
static void
relayed_pair(struct fx *fx, const char *name, int *client, int *cloud)
{
	uint8_t hello[1024], got[1024];
	size_t n = hello_for(hello, sizeof(hello), name);

	*client = connect_to(fx->port);
	pump(fx, 5);
	write_all(*client, hello, n);
	*cloud = cloud_accept(fx);
	read_n(fx, *cloud, got, n);
	assert_memory_equal(got, hello, n);
	until_state(fx, RELAY_SPLICE);
}

/* --- tests ----------------------------------------------------------- */

static void
test_byte_at_a_time(void **state)
{
	struct fx *fx = *state;
	uint8_t hello[1024], got[1024];
	size_t n = hello_for(hello, sizeof(hello), ALLOWED), i;
	int client = connect_to(fx->port), cloud;

	for (i = 0; i < n; i++) {
		write_all(client, hello + i, 1);
		pump(fx, 1);
		if (i + 1 < n)
			assert_int_equal(counters(fx).by_state[RELAY_PEEK], 1);
	}
	cloud = cloud_accept(fx);
	read_n(fx, cloud, got, n);
	assert_memory_equal(got, hello, n);
	assert_int_equal(fx->lookups, 1);
	/* and the bytes after it, both ways */
	write_all(cloud, "pong", 4);
	read_n(fx, client, got, 4);
	assert_memory_equal(got, "pong", 4);
	write_all(client, "ping!", 5);
	read_n(fx, cloud, got, 5);
	assert_memory_equal(got, "ping!", 5);
	assert_int_equal(counters(fx).relayed, 1);
	assert_int_equal(counters(fx).bytes_up, n + 5);
	assert_int_equal(counters(fx).bytes_down, 4);
	close(client);
	close(cloud);
	until(fx, no_connections, NULL, "the end of the connection");
}

/* A hello bigger than the first buffer (2 KiB) is read whole, sent whole. */
static void
test_big_hello(void **state)
{
	struct fx *fx = *state;
	static uint8_t hello[20000], got[20000];
	uint8_t ext[8000];
	const char *name = ALLOWED;
	size_t e = hello_sni_ext(ext, &name, 1), n;
	int client, cloud;

	/* padding (RFC 7685) to about 7 KiB, in two records */
	e += hello_put16(ext + e, 21);
	e += hello_put16(ext + e, 7000);
	memset(ext + e, 0, 7000);
	e += 7000;
	n = hello_build(hello, sizeof(hello), ext, e, 4000);
	assert_true(n > 7000);
	client = connect_to(fx->port);
	write_all(client, hello, n);
	cloud = cloud_accept(fx);
	read_n(fx, cloud, got, n);
	assert_memory_equal(got, hello, n);
	until_state(fx, RELAY_SPLICE);
	close(client);
	close(cloud);
	until(fx, no_connections, NULL, "the end");
}

/* Refused before any lookup or connection; the charger sees EOF. */
static void
refused(struct fx *fx, const char *name, enum relay_refusal why)
{
	uint8_t hello[1024];
	size_t n = hello_for(hello, sizeof(hello), name);
	int client = connect_to(fx->port);

	pump(fx, 5);
	write_all(client, hello, n);
	read_eof(fx, client);
	close(client);
	assert_int_equal(counters(fx).refused[why], 1);
	assert_int_equal(fx->lookups, 0);
	cloud_idle(fx, 20);
}

static void
test_not_allowed(void **state)
{
	refused(*state, "evil.example.com", REFUSE_NOT_ALLOWED);
}

static void
test_wrong_port(void **state)
{
	refused(*state, OTHER_PORT, REFUSE_WRONG_PORT);
}

/* A refused name is kept for the operator: escaped, cut short. */
static void
test_bad_sni_recorded(void **state)
{
	struct fx *fx = *state;
	uint8_t hello[1024];
	size_t n = hello_for(hello, sizeof(hello), "a..b\x01\\.example");
	int client = connect_to(fx->port);
	char long_name[200];

	pump(fx, 5);
	write_all(client, hello, n);
	read_eof(fx, client);
	close(client);
	assert_int_equal(counters(fx).refused[REFUSE_BAD_SNI], 1);
	assert_int_equal(fx->last_refusal, REFUSE_BAD_SNI);
	assert_string_equal(fx->last_sni, "a..b\\x01\\x5c.example");
	assert_int_equal(fx->lookups, 0);

	/* a long one: 64 bytes, then "..." */
	memset(long_name, 'x', 150);
	memcpy(long_name + 100, "..", 2);
	long_name[150] = '\0';
	n = hello_for(hello, sizeof(hello), long_name);
	client = connect_to(fx->port);
	pump(fx, 5);
	write_all(client, hello, n);
	read_eof(fx, client);
	close(client);
	assert_int_equal(strlen(fx->last_sni), 64 + 3);
	assert_string_equal(fx->last_sni + 64, "...");
}

static void
test_not_tls(void **state)
{
	struct fx *fx = *state;
	int client = connect_to(fx->port);

	pump(fx, 5);
	write_all(client, "GET / HTTP/1.1\r\n\r\n", 18);
	read_eof(fx, client);
	close(client);
	assert_int_equal(counters(fx).refused[REFUSE_NOT_TLS], 1);
	assert_int_equal(fx->lookups, 0);
}

static void
test_client_gone(void **state)
{
	struct fx *fx = *state;
	uint8_t hello[1024];
	size_t n = hello_for(hello, sizeof(hello), ALLOWED);
	int client = connect_to(fx->port);

	pump(fx, 5);
	write_all(client, hello, n / 2);
	pump(fx, 5);
	close(client);
	until(fx, no_connections, NULL, "the refusal");
	assert_int_equal(counters(fx).refused[REFUSE_CLIENT_GONE], 1);
	assert_int_equal(fx->lookups, 0);
}

/* The answer comes later: RESOLVE holds the connection until it does. */
static void
test_async_answer(void **state)
{
	struct fx *fx = *state;
	uint8_t hello[1024], got[1024];
	size_t n = hello_for(hello, sizeof(hello), ALLOWED);
	int client = connect_to(fx->port), cloud;

	fx->mode = FAKE_ASYNC;
	pump(fx, 5);
	write_all(client, hello, n);
	until_state(fx, RELAY_RESOLVE);
	cloud_idle(fx, 20);
	fake_answer(fx, 0);
	cloud = cloud_accept(fx);
	read_n(fx, cloud, got, n);
	assert_memory_equal(got, hello, n);
	close(client);
	close(cloud);
	until(fx, no_connections, NULL, "the end");
}

/*
 * The charger sends more after its hello while the name is being
 * resolved: those bytes are reported once (edge-triggered) and must reach
 * the cloud when splicing starts, in order.
 */
static void
test_bytes_during_resolve(void **state)
{
	struct fx *fx = *state;
	uint8_t hello[1024], got[1024];
	size_t n = hello_for(hello, sizeof(hello), ALLOWED);
	int client = connect_to(fx->port), cloud;

	fx->mode = FAKE_ASYNC;
	pump(fx, 5);
	write_all(client, hello, n);
	until_state(fx, RELAY_RESOLVE);
	write_all(client, "early", 5);
	pump(fx, 20);
	write_all(client, "-later", 6);
	pump(fx, 20);
	fake_answer(fx, 0);
	cloud = cloud_accept(fx);
	read_n(fx, cloud, got, n + 11);
	assert_memory_equal(got, hello, n);
	assert_memory_equal(got + n, "early-later", 11);
	/* and the connection goes on both ways */
	write_all(cloud, "ok", 2);
	read_n(fx, client, got, 2);
	assert_memory_equal(got, "ok", 2);
	close(client);
	close(cloud);
	until(fx, no_connections, NULL, "the end");
}

/* The first address refuses the connection: the next one is tried. */
static void
test_connect_refused_next(void **state)
{
	struct fx *fx = *state;
	uint8_t hello[1024], got[1024];
	size_t n = hello_for(hello, sizeof(hello), ALLOWED);
	int client, cloud;

	/* nobody listens on 127.0.0.4 at the cloud's port */
	answer_with(fx, (const char *const []){ "127.0.0.4", "127.0.0.3" }, 2);
	client = connect_to(fx->port);
	pump(fx, 5);
	write_all(client, hello, n);
	cloud = cloud_accept(fx);
	read_n(fx, cloud, got, n);
	assert_memory_equal(got, hello, n);
	until_state(fx, RELAY_SPLICE);
	assert_int_equal(counters(fx).refused[REFUSE_CONNECT], 0);
	close(client);
	close(cloud);
	until(fx, no_connections, NULL, "the end");

	/* and when no address takes it: refused as connect-failed */
	answer_with(fx, (const char *const []){ "127.0.0.4" }, 1);
	client = connect_to(fx->port);
	pump(fx, 5);
	write_all(client, hello, n);
	read_eof(fx, client);
	close(client);
	assert_int_equal(counters(fx).refused[REFUSE_CONNECT], 1);
}

struct bulk {
	int		 from, to;
	size_t		 total, sent, got;
	uint8_t		*buf;
	int		 bad;
};

static int
bulk_step(struct fx *fx, void *arg)
{
	static uint8_t in[65536];
	struct bulk *b = arg;
	ssize_t n;
	size_t i, want;

	while (b->sent < b->total) {
		want = b->total - b->sent < 65536 ? b->total - b->sent : 65536;
		n = write(b->from, b->buf + b->sent, want);
		if (n <= 0)
			break;
		b->sent += (size_t)n;
	}
	while ((n = read(b->to, in, sizeof(in))) > 0) {
		for (i = 0; i < (size_t)n; i++)
			if (in[i] != b->buf[b->got + i])
				b->bad++;
		b->got += (size_t)n;
	}
	return b->got == b->total;
}

/*
 * A bulk download: the direction fills a pipe, so it gets a big one, and
 * moves more than the fairness bound allows in one wake-up (2 MiB).
 * Every byte checked.  (That a pump stopped by the bound runs again
 * without a new event is what test_no_pipe_copies needs: 16 KiB chunks
 * of a flood that blocks nothing.)
 */
static void
test_bulk_big_pipe(void **state)
{
	struct fx *fx = *state;
	struct bulk b;
	int client, cloud;
	size_t i;

	relayed_pair(fx, ALLOWED, &client, &cloud);
	memset(&b, 0, sizeof(b));
	b.from = cloud;
	b.to = client;
	b.total = 12 * 1024 * 1024;
	b.buf = malloc(b.total);
	for (i = 0; i < b.total; i++)
		b.buf[i] = (uint8_t)(i * 7 + i / 65536);
	until(fx, bulk_step, &b, "12 MiB through the relay");
	assert_int_equal(b.bad, 0);
	assert_true(counters(fx).pipes_big >= 1);
	assert_int_equal(counters(fx).bytes_down, b.total);
	free(b.buf);
	close(client);
	close(cloud);
	until(fx, no_connections, NULL, "the end");
	/* the big pipe went back to the pool, not away */
	assert_int_equal(counters(fx).pipes_in_use, 0);
	assert_true(counters(fx).pipes_big >= 1);
}

static void
test_resolve_fails(void **state)
{
	struct fx *fx = *state;
	uint8_t hello[1024];
	size_t n = hello_for(hello, sizeof(hello), ALLOWED);
	int client = connect_to(fx->port);

	fx->mode = FAKE_ASYNC;
	pump(fx, 5);
	write_all(client, hello, n);
	until_state(fx, RELAY_RESOLVE);
	fake_answer(fx, DNS_ERR_NOTEXIST);
	read_eof(fx, client);
	close(client);
	assert_int_equal(counters(fx).refused[REFUSE_RESOLVE], 1);
	cloud_idle(fx, 20);

	/* and with no resolver at all */
	fx->mode = FAKE_NONE;
	client = connect_to(fx->port);
	pump(fx, 5);
	write_all(client, hello, n);
	read_eof(fx, client);
	close(client);
	assert_int_equal(counters(fx).refused[REFUSE_RESOLVE], 2);
}

/* Each side's FIN passes to the other; the connection ends when both have. */
static void
test_half_close(void **state)
{
	struct fx *fx = *state;
	uint8_t got[16];
	int client, cloud;

	relayed_pair(fx, ALLOWED, &client, &cloud);
	/* the charger is done sending: the cloud sees EOF, can still talk */
	assert_int_equal(shutdown(client, SHUT_WR), 0);
	read_eof(fx, cloud);
	write_all(cloud, "late", 4);
	read_n(fx, client, got, 4);
	assert_memory_equal(got, "late", 4);
	assert_int_equal(counters(fx).active, 1);
	/* then the cloud closes too */
	assert_int_equal(shutdown(cloud, SHUT_WR), 0);
	read_eof(fx, client);
	until(fx, no_connections, NULL, "the end");
	assert_int_equal(counters(fx).closes[CLOSE_DONE], 1);
	close(client);
	close(cloud);

	/* the other way round */
	relayed_pair(fx, ALLOWED, &client, &cloud);
	assert_int_equal(shutdown(cloud, SHUT_WR), 0);
	read_eof(fx, client);
	write_all(client, "more", 4);
	read_n(fx, cloud, got, 4);
	assert_memory_equal(got, "more", 4);
	assert_int_equal(shutdown(client, SHUT_WR), 0);
	read_eof(fx, cloud);
	until(fx, no_connections, NULL, "the end");
	assert_int_equal(counters(fx).closes[CLOSE_DONE], 2);
	close(client);
	close(cloud);
}

/* Segments a socket has received (TCP_INFO's tcpi_segs_in). */
static unsigned
segs_in(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	return ti.tcpi_segs_in;
}

/*
 * Bytes and the FIN in one go (a reply, then close): the short read of
 * the bytes must not be taken for "drained" -- the FIN is still to be
 * read, and no new event will say so.  Both ways; small messages take no
 * pipe.  Bytes that arrived with their FIN leave with it: the charger
 * gets the reply and the FIN in one segment (on loopback, where nothing
 * splits or merges segments, the count is exact).
 */
static void
test_data_then_fin(void **state)
{
	struct fx *fx = *state;
	uint8_t got[16];
	unsigned segs;
	int client, cloud;

	relayed_pair(fx, ALLOWED, &client, &cloud);
	segs = segs_in(client);
	write_all(cloud, "bye", 3);
	assert_int_equal(shutdown(cloud, SHUT_WR), 0);
	read_n(fx, client, got, 3);
	assert_memory_equal(got, "bye", 3);
	read_eof(fx, client);
	assert_int_equal(segs_in(client) - segs, 1);
	segs = segs_in(cloud);
	write_all(client, "later", 5);
	assert_int_equal(shutdown(client, SHUT_WR), 0);
	read_n(fx, cloud, got, 5);
	assert_memory_equal(got, "later", 5);
	read_eof(fx, cloud);
	assert_int_equal(segs_in(cloud) - segs, 1);
	until(fx, no_connections, NULL, "the end");
	assert_int_equal(counters(fx).closes[CLOSE_DONE], 1);
	assert_int_equal(counters(fx).pipes_in_use, 0);
	assert_int_equal(counters(fx).pipes_pooled, 0);
	close(client);
	close(cloud);
}

struct flood {
	int		 fd;
	size_t		 sent;
	int		 blocked;
};

static int
send_until_blocked(struct fx *fx, void *arg)
{
	static uint8_t chunk[65536];
	struct flood *f = arg;
	ssize_t n;

	while ((n = write(f->fd, chunk, sizeof(chunk))) > 0)
		f->sent += (size_t)n;
	if (n == -1 && errno == EAGAIN)
		f->blocked++;
	/* blocked several rounds in a row: every buffer on the way full */
	return f->blocked > 20;
}

/*
 * A cloud that does not read: the relay stops reading the charger once its
 * pipe is full, the charger's socket fills, and nothing is lost when the
 * cloud reads again.
 */
/* Read want bytes from fd while the relay runs (a flooded direction). */
static void
drain(struct fx *fx, int fd, size_t want)
{
	uint8_t *buf = malloc(want);
	size_t got = 0;
	ssize_t n;
	uint64_t end = now_mono_ms() + WAIT_MS;

	assert_non_null(buf);
	while (got < want && now_mono_ms() < end) {
		n = read(fd, buf, want - got);
		if (n > 0)
			got += (size_t)n;
		pump(fx, 1);
	}
	free(buf);
	assert_int_equal(got, want);
}

static void
test_back_pressure(void **state)
{
	struct fx *fx = *state;
	struct flood f;
	int client, cloud, small = 65536;

	relayed_pair(fx, ALLOWED, &client, &cloud);
	setsockopt(cloud, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(client, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	memset(&f, 0, sizeof(f));
	f.fd = client;
	until(fx, send_until_blocked, &f, "the charger to be blocked");
	assert_true(f.sent > 0);
	/* at most one pipe for the blocked direction, none for the other */
	assert_true(counters(fx).pipes_in_use <= 1);
	drain(fx, cloud, f.sent);
	close(client);
	close(cloud);
	until(fx, no_connections, NULL, "the end");
	assert_int_equal(counters(fx).pipes_in_use, 0);
}

/*
 * No descriptor left for a pipe: the relay copies through a buffer, both
 * ways, with back-pressure, and nothing is lost or reset.
 */
static void
test_no_pipe_copies(void **state)
{
	struct fx *fx = *state;
	struct flood f;
	int client, cloud, small = 65536;

	/* room for the daemon's own and this connection's two sockets */
	relay_set_fd_limit(fx->relay, 64 + 2);
	relayed_pair(fx, ALLOWED, &client, &cloud);
	assert_int_equal(counters(fx).pipes_in_use, 0);
	write_all(cloud, "down", 4);
	{
		uint8_t got4[4];

		read_n(fx, client, got4, 4);
		assert_memory_equal(got4, "down", 4);
	}
	setsockopt(cloud, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	memset(&f, 0, sizeof(f));
	f.fd = client;
	until(fx, send_until_blocked, &f, "the charger to be blocked");
	assert_int_equal(counters(fx).pipes_in_use, 0);
	assert_int_equal(counters(fx).pipes_pooled, 0);
	assert_true(counters(fx).copy_fallbacks >= 2);
	drain(fx, cloud, f.sent);
	assert_int_equal(counters(fx).active, 1);	/* never reset */
	close(client);
	close(cloud);
	until(fx, no_connections, NULL, "the end");
}

/* --- reloads in every state ------------------------------------------ */

/*
 * The crash of issue 14: the relay section removed while a hello is half
 * sent.  The connection is refused at the reload; nothing is left to
 * decide with a NULL configuration when the rest of the hello comes.
 */
static void
test_reload_off_during_peek(void **state)
{
	struct fx *fx = *state;
	uint8_t hello[1024];
	size_t n = hello_for(hello, sizeof(hello), ALLOWED);
	int client = connect_to(fx->port);

	pump(fx, 5);
	write_all(client, hello, n / 2);
	until_state(fx, RELAY_PEEK);
	apply(fx, NULL);
	assert_int_equal(counters(fx).active, 0);
	assert_int_equal(counters(fx).listeners, 0);
	assert_int_equal(counters(fx).refused[REFUSE_NOT_ALLOWED], 1);
	/* the rest of the hello arrives: nobody is there to decide it */
	(void)write(client, hello + n / 2, n - n / 2);
	read_eof(fx, client);
	close(client);
	assert_int_equal(fx->lookups, 0);
	cloud_idle(fx, 20);
}

/* A reload that keeps the relay: a half-sent hello is decided by the new
 * rules when it completes. */
static void
test_reload_during_peek(void **state)
{
	struct fx *fx = *state;
	uint8_t hello[1024];
	size_t n = hello_for(hello, sizeof(hello), ALLOWED);
	int client = connect_to(fx->port);

	pump(fx, 5);
	write_all(client, hello, n / 2);
	until_state(fx, RELAY_PEEK);
	/* the new rules no longer allow the name on this port */
	apply(fx, conf_text(fx, "other.example.com"));
	assert_int_equal(counters(fx).active, 1);
	write_all(client, hello + n / 2, n - n / 2);
	read_eof(fx, client);
	close(client);
	assert_int_equal(counters(fx).refused[REFUSE_NOT_ALLOWED], 1);
	assert_int_equal(fx->lookups, 0);
}

static void
test_reload_during_resolve(void **state)
{
	struct fx *fx = *state;
	uint8_t hello[1024], got[1024];
	size_t n = hello_for(hello, sizeof(hello), ALLOWED);
	int client = connect_to(fx->port), cloud;

	fx->mode = FAKE_ASYNC;
	pump(fx, 5);
	write_all(client, hello, n);
	until_state(fx, RELAY_RESOLVE);
	/* a reload that still allows it: the lookup goes on */
	apply(fx, conf_text(fx, ALLOWED));
	assert_int_equal(fx->cancels, 0);
	fake_answer(fx, 0);
	cloud = cloud_accept(fx);
	read_n(fx, cloud, got, n);
	close(client);
	close(cloud);
	until(fx, no_connections, NULL, "the end");

	/* one that does not: refused, its lookup cancelled */
	client = connect_to(fx->port);
	pump(fx, 5);
	write_all(client, hello, n);
	until_state(fx, RELAY_RESOLVE);
	apply(fx, NULL);
	assert_int_equal(fx->cancels, 1);
	assert_null(fx->pending);
	read_eof(fx, client);
	close(client);
	assert_int_equal(counters(fx).refused[REFUSE_NOT_ALLOWED], 1);
}

/*
 * CONNECT: the cloud's listener has a full backlog, so the relay's SYN
 * goes unanswered (loopback only) and the connection stays connecting.
 */
static void
test_reload_during_connect(void **state)
{
	struct fx *fx = *state;
	uint8_t hello[1024];
	size_t n = hello_for(hello, sizeof(hello), ALLOWED);
	uint16_t port;
	int full = tcp_listen_at(CLOUD_ADDR, &port, 0), filler[4], client, i;

	for (i = 0; i < 4; i++)
		filler[i] = connect_at(CLOUD_ADDR, port);
	fx->up_port = port;
	apply(fx, conf_text(fx, ALLOWED));
	client = connect_to(fx->port);
	pump(fx, 5);
	write_all(client, hello, n);
	until_state(fx, RELAY_CONNECT);
	pump(fx, 50);
	assert_int_equal(counters(fx).by_state[RELAY_CONNECT], 1);
	/* the relay switched off: refused */
	apply(fx, NULL);
	assert_int_equal(counters(fx).active, 0);
	assert_int_equal(counters(fx).refused[REFUSE_NOT_ALLOWED], 1);
	read_eof(fx, client);
	close(client);
	for (i = 0; i < 4; i++)
		close(filler[i]);
	close(full);
}

static void
test_reload_during_splice(void **state)
{
	struct fx *fx = *state;
	uint8_t got[16];
	int client, cloud;

	relayed_pair(fx, ALLOWED, &client, &cloud);
	/* a reload that keeps the name: the connection carries on */
	apply(fx, conf_text(fx, ALLOWED));
	write_all(client, "still", 5);
	read_n(fx, cloud, got, 5);
	assert_memory_equal(got, "still", 5);
	assert_int_equal(counters(fx).closes[CLOSE_RELOAD], 0);
	/* one that does not: closed with reason "reload" */
	apply(fx, conf_text(fx, "other.example.com"));
	assert_int_equal(counters(fx).closes[CLOSE_RELOAD], 1);
	read_eof(fx, client);
	read_eof(fx, cloud);
	close(client);
	close(cloud);
}

/* A reload whose listener cannot be opened changes nothing. */
static void
test_reload_refused(void **state)
{
	struct fx *fx = *state;
	struct config *c;
	char err[512];
	uint16_t busy_port;
	int busy = tcp_listen(&busy_port, 1), client, cloud;
	uint8_t got[8];

	relayed_pair(fx, ALLOWED, &client, &cloud);
	fx->port2 = busy_port;
	c = conf_text(fx, ALLOWED);
	assert_int_equal(relay_prepare(fx->relay, c->relay, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "cannot listen on"));
	relay_abort(fx->relay);
	config_free(c);
	/* the old listeners and the live connection are untouched */
	assert_int_equal(counters(fx).listeners, 2);
	write_all(client, "alive", 5);
	read_n(fx, cloud, got, 5);
	close(client);
	close(cloud);
	close(busy);
	until(fx, no_connections, NULL, "the end");
}

/* --- the upstream address policy ------------------------------------ */

/* Refused for the address the answer holds; nothing reaches the cloud. */
static void
forbidden(struct fx *fx, const char *const *addrs, size_t n)
{
	uint8_t hello[1024];
	size_t len = hello_for(hello, sizeof(hello), ALLOWED);
	int client = connect_to(fx->port);

	answer_with(fx, addrs, n);
	pump(fx, 5);
	write_all(client, hello, len);
	read_eof(fx, client);
	close(client);
	assert_int_equal(counters(fx).refused[REFUSE_ADDRESS], 1);
	assert_int_equal(counters(fx).refused[REFUSE_CONNECT], 0);
	cloud_idle(fx, 20);
}

static void
test_policy_private(void **state)
{
	struct fx *fx = *state;
	struct netpolicy_stats st;

	forbidden(fx, (const char *const []){ "10.0.0.5", "192.168.1.1",
	    "172.16.9.9", "100.64.0.1" }, 4);
	netpolicy_stats(fx->np, &st);
	assert_int_equal(st.refused[NETPOLICY_PRIVATE], 3);
	assert_int_equal(st.refused[NETPOLICY_SHARED], 1);
}

static void
test_policy_never(void **state)
{
	forbidden(*state, (const char *const []){ "0.0.0.0", "224.0.0.1",
	    "255.255.255.255", "::" }, 4);
}

static void
test_policy_loopback_not_allowed(void **state)
{
	struct fx *fx = *state;

	allow_prefix(fx, NULL);
	forbidden(fx, (const char *const []){ "127.0.0.3", "::1",
	    "::ffff:127.0.0.3", "169.254.169.254" }, 4);
}

/*
 * The loop: an answer pointing at the relay's own listener (an allowed
 * prefix does not help), also written as a v4-mapped IPv6 address.
 */
static void
test_policy_loop(void **state)
{
	struct fx *fx = *state;

	fx->up_port = fx->port;		/* the route's upstream: ourselves */
	apply(fx, conf_text(fx, ALLOWED));
	forbidden(fx, (const char *const []){ "127.0.0.1",
	    "::ffff:127.0.0.1" }, 2);
	assert_int_equal(counters(fx).accepted, 1);	/* no second one */
}

/* A forbidden address is skipped; the next one is used. */
static void
test_policy_skips(void **state)
{
	struct fx *fx = *state;
	uint8_t hello[1024], got[1024];
	size_t n = hello_for(hello, sizeof(hello), ALLOWED);
	int client = connect_to(fx->port), cloud;

	answer_with(fx, (const char *const []){ "10.1.2.3",
	    "::ffff:127.0.0.3" }, 2);
	pump(fx, 5);
	write_all(client, hello, n);
	cloud = cloud_accept(fx);
	read_n(fx, cloud, got, n);
	assert_memory_equal(got, hello, n);
	assert_int_equal(counters(fx).refused[REFUSE_ADDRESS], 0);
	close(client);
	close(cloud);
	until(fx, no_connections, NULL, "the end");
}

/* --- through an upstream proxy (relay.upstream_proxy) ------------------ */

/* The configuration with the cloud's listener as the HTTP proxy. */
static void
use_proxy(struct fx *fx)
{
	char text[1024], err[512];
	struct config *c;

	snprintf(text, sizeof(text),
	    "wan: {resolvers: [127.0.0.1]}\n"
	    "relay:\n"
	    "  listen: [127.0.0.1]\n"
	    "  upstream_proxy: \"http://127.0.0.3:%u\"\n"
	    "  routes:\n"
	    "    - {port: %u, upstream_port: 8883, allow: [\"" ALLOWED "\"]}\n",
	    fx->up_port, fx->port);
	if ((c = config_load_buffer("t.yaml", (const uint8_t *)text,
	    strlen(text), err, sizeof(err))) == NULL)
		fail_msg("config: %s", err);
	apply(fx, c);
}

/*
 * The charger's hello up to the proxy's CONNECT: the proxy (the cloud's
 * listener) has read the request, which is checked.
 */
static void
proxy_connect(struct fx *fx, int *client, int *proxy, uint8_t *hello,
    size_t *n)
{
	char req[600];
	size_t got = 0;
	ssize_t r;
	uint64_t end = now_mono_ms() + WAIT_MS;

	use_proxy(fx);
	*n = hello_for(hello, 1024, ALLOWED);
	*client = connect_to(fx->port);
	pump(fx, 5);
	write_all(*client, hello, *n);
	*proxy = cloud_accept(fx);
	while (memmem(req, got, "\r\n\r\n", 4) == NULL) {
		if (now_mono_ms() >= end)
			fail_msg("no CONNECT request");
		pump(fx, 2);
		r = read(*proxy, req + got, sizeof(req) - 1 - got);
		if (r > 0)
			got += (size_t)r;
	}
	req[got] = '\0';
	assert_int_equal(fx->lookups, 0);	/* an address: no lookup */
	assert_string_equal(req, "CONNECT " ALLOWED ":8883 HTTP/1.1\r\n"
	    "Host: " ALLOWED ":8883\r\n\r\n");
	until_state(fx, RELAY_PROXY);
}

static void
test_proxy_tunnel(void **state)
{
	struct fx *fx = *state;
	uint8_t hello[1024], got[1024];
	size_t n;
	int client, proxy;
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n"
	    "Proxy-Agent: test\r\n\r\n";

	proxy_connect(fx, &client, &proxy, hello, &n);
	/* The reply in two pieces: the relay reads on to the header's end. */
	write_all(proxy, ok, 20);
	pump(fx, 5);
	assert_int_equal(counters(fx).by_state[RELAY_PROXY], 1);
	write_all(proxy, ok + 20, strlen(ok) - 20);
	read_n(fx, proxy, got, n);
	assert_memory_equal(got, hello, n);
	until_state(fx, RELAY_SPLICE);
	write_all(proxy, "down", 4);
	read_n(fx, client, got, 4);
	assert_memory_equal(got, "down", 4);
	close(client);
	close(proxy);
	until(fx, no_connections, NULL, "the end");
}

/* The proxy's answer refuses the tunnel, is too long, or holds a NUL:
 * a refusal, and the relay goes on. */
static void
proxy_refused(struct fx *fx, const char *reply, size_t len)
{
	uint8_t hello[1024];
	size_t n;
	int client, proxy;

	proxy_connect(fx, &client, &proxy, hello, &n);
	write_all(proxy, reply, len);
	read_eof(fx, client);
	until(fx, no_connections, NULL, "the refusal");
	assert_int_equal(counters(fx).refused[REFUSE_PROXY], 1);
	assert_int_equal(fx->last_refusal, REFUSE_PROXY);
	close(client);
	close(proxy);
}

static void
test_proxy_refuses(void **state)
{
	static const char r[] = "HTTP/1.1 407 Proxy Authentication Required"
	    "\r\n\r\n";

	proxy_refused(*state, r, strlen(r));
}

/* A header that fills the reply's buffer without ending (the refusal
 * used to be followed by a read through the freed setup: SIGSEGV). */
static void
test_proxy_reply_too_long(void **state)
{
	char big[5000];

	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	memset(big + 20, 'a', sizeof(big) - 20);
	proxy_refused(*state, big, sizeof(big));
}

/* A NUL would end the string checks early: refused, not searched past. */
static void
test_proxy_reply_nul(void **state)
{
	static const char r[] = "HTTP/1.1 200 OK\0\r\n\r\n";

	proxy_refused(*state, r, sizeof(r) - 1);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_byte_at_a_time),
		T(test_big_hello),
		T(test_not_allowed),
		T(test_wrong_port),
		T(test_bad_sni_recorded),
		T(test_not_tls),
		T(test_client_gone),
		T(test_async_answer),
		T(test_bytes_during_resolve),
		T(test_connect_refused_next),
		T(test_resolve_fails),
		T(test_half_close),
		T(test_data_then_fin),
		T(test_back_pressure),
		T(test_no_pipe_copies),
		T(test_bulk_big_pipe),
		T(test_reload_off_during_peek),
		T(test_reload_during_peek),
		T(test_reload_during_resolve),
		T(test_reload_during_connect),
		T(test_reload_during_splice),
		T(test_reload_refused),
		T(test_policy_private),
		T(test_policy_never),
		T(test_policy_loopback_not_allowed),
		T(test_policy_loop),
		T(test_policy_skips),
		T(test_proxy_tunnel),
		T(test_proxy_refuses),
		T(test_proxy_reply_too_long),
		T(test_proxy_reply_nul),
	};
#undef T

	signal(SIGPIPE, SIG_IGN);
	log_init("test", 1, LOG_LEVEL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
