/*
 * bench_rate: connection rate through a relay.  C clients at once, each in
 * a loop: connect, send a real ClientHello (one of a few made by OpenSSL,
 * with the cloud name as SNI) and "REPLY <n>", read the n-byte reply to
 * the sink's EOF, close, and start over, for the given duration.  Time to
 * first byte is measured from the start of connect() to the first reply
 * byte: it holds the relay's accept, hello parsing, SNI check, (cached)
 * name lookup and upstream connect.
 *
 *	bench_rate -c addr:port [-C clients] [-d seconds] [-r reply-bytes]
 *	    [-s sni] [-b src[-src]] [-v]
 *
 * Clients bind to the source addresses round-robin (-b 127.0.1.1-127.0.1.16)
 * so that the 4-tuples do not run out at high rates.
 * Prints: conns= errors= seconds= cps= ttfb_p50_us= ttfb_p99_us= verified=
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "bench.h"

#define RATE_HELLOS	16
#define RATE_REPLY_MAX	65536

struct client {
	int		 fd;
	int		 connected;
	struct event	 ev;
	uint64_t	 t_start;
	uint64_t	 got;
};

static struct event_base *base;
static struct bench_hello hellos[RATE_HELLOS];
static struct sockaddr_in dst;
static struct bench_srcs src;
static struct bench_samples ttfb;
static struct timeval conn_tmo = { 10, 0 };
static uint64_t deadline, t_last, reply = 256;
static unsigned long completed, errors, started, badbytes, inflight;
static size_t next_src;
static int verify, stopping;
static uint8_t rbuf[RATE_REPLY_MAX];

static void	client_cb(evutil_socket_t, short, void *);

static void
client_start(struct client *c)
{
	if (bench_now_ns() >= deadline) {
		stopping = 1;
		if (inflight == 0)
			event_base_loopbreak(base);
		return;
	}
	c->t_start = bench_now_ns();
	c->connected = 0;
	c->got = 0;
	c->fd = bench_connect(&dst, src.n ? &src.addr[next_src++ % src.n] :
	    NULL);
	if (c->fd == -1) {
		/* Out of ports or descriptors: count it and try again on
		 * the next round rather than spinning here. */
		errors++;
		c->fd = -1;
		event_assign(&c->ev, base, -1, 0, client_cb, c);
		{
			struct timeval tv = { 0, 10000 };

			event_add(&c->ev, &tv);
		}
		return;
	}
	started++;
	inflight++;
	event_assign(&c->ev, base, c->fd, EV_WRITE, client_cb, c);
	event_add(&c->ev, &conn_tmo);
}

static void
client_done(struct client *c, int ok)
{
	event_del(&c->ev);
	close(c->fd);
	c->fd = -1;
	inflight--;
	if (ok)
		completed++;
	else
		errors++;
	t_last = bench_now_ns();
	client_start(c);
}

static void
client_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	char cmd[64];
	socklen_t len;
	ssize_t n;
	int err = 0;

	if (c->fd == -1) {		/* the retry timer */
		client_start(c);
		return;
	}
	if (what & EV_TIMEOUT) {
		client_done(c, 0);
		return;
	}
	if (!c->connected) {
		const struct bench_hello *h = &hellos[started % RATE_HELLOS];

		len = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		snprintf(cmd, sizeof(cmd), "REPLY %llu\n",
		    (unsigned long long)reply);
		if (err != 0 || bench_send_all(fd, h->buf, h->len) == -1 ||
		    bench_send_all(fd, cmd, strlen(cmd)) == -1) {
			client_done(c, 0);
			return;
		}
		c->connected = 1;
		event_assign(&c->ev, base, fd, EV_READ | EV_PERSIST,
		    client_cb, c);
		event_add(&c->ev, &conn_tmo);
		return;
	}
	for (;;) {
		n = recv(fd, rbuf, sizeof(rbuf), 0);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			client_done(c, 0);
			return;
		}
		if (n == 0) {
			client_done(c, c->got == reply);
			return;
		}
		if (c->got == 0)
			bench_samples_add(&ttfb, bench_now_ns() - c->t_start);
		if (verify && (c->got + (uint64_t)n > reply ||
		    !bench_pattern_check(rbuf, (size_t)n, c->got)))
			badbytes++;
		c->got += (uint64_t)n;
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_rate -c addr:port [-C clients] "
	    "[-d seconds] [-r reply-bytes] [-s sni] [-b src[-src]] [-v]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char *sni = BENCH_SNI_DEFAULT;
	struct client *cs;
	unsigned nclients = 64, i;
	double dur = 5, secs;
	uint64_t t0;
	int ch, have_dst = 0;

	while ((ch = getopt(argc, argv, "b:c:C:d:r:s:v")) != -1) {
		switch (ch) {
		case 'b':
			if (bench_parse_srcs(optarg, &src) == -1)
				usage();
			break;
		case 'c':
			if (bench_parse_addr(optarg, &dst) == -1)
				usage();
			have_dst = 1;
			break;
		case 'C':
			nclients = (unsigned)atoi(optarg);
			break;
		case 'd':
			dur = atof(optarg);
			break;
		case 'r':
			if (bench_parse_size(optarg, &reply) == -1)
				usage();
			break;
		case 's':
			sni = optarg;
			break;
		case 'v':
			verify = 1;
			break;
		default:
			usage();
		}
	}
	if (!have_dst || nclients == 0 || nclients > 10000 || dur <= 0 ||
	    reply == 0 || reply > RATE_REPLY_MAX)
		usage();
	signal(SIGPIPE, SIG_IGN);
	bench_raise_nofile();
	/* A few distinct hellos (fresh random and key share in each), made
	 * before the clock starts. */
	for (i = 0; i < RATE_HELLOS; i++)
		if (bench_make_hello(sni, &hellos[i]) == -1)
			bench_fatal("cannot make a ClientHello");
	bench_pattern();
	if ((base = event_base_new()) == NULL)
		bench_fatal("event_base_new failed");
	cs = bench_xcalloc(nclients, sizeof(*cs));
	t0 = bench_now_ns();
	deadline = t0 + (uint64_t)(dur * 1e9);
	for (i = 0; i < nclients; i++)
		client_start(&cs[i]);
	event_base_dispatch(base);
	secs = (double)((t_last ? t_last : bench_now_ns()) - t0) / 1e9;
	printf("conns=%lu errors=%lu seconds=%.3f cps=%.0f ttfb_p50_us=%.1f "
	    "ttfb_p99_us=%.1f verified=%d\n", completed, errors, secs,
	    secs > 0 ? (double)completed / secs : 0.0,
	    (double)bench_samples_quantile(&ttfb, 0.50) / 1e3,
	    (double)bench_samples_quantile(&ttfb, 0.99) / 1e3,
	    verify && badbytes == 0);
	for (i = 0; i < nclients; i++) {
		if (event_initialized(&cs[i].ev))
			event_del(&cs[i].ev);
		if (cs[i].fd != -1)
			close(cs[i].fd);
	}
	free(cs);
	free(src.addr);
	bench_samples_free(&ttfb);
	event_base_free(base);
	return errors == 0 && badbytes == 0 && completed > 0 ? 0 : 1;
}
