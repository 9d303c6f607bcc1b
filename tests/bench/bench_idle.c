/*
 * bench_idle: hold many idle relayed connections, as a car park of
 * chargers holds its MQTT connections: each sends a ClientHello, "ECHO"
 * and a 2-byte ping (like MQTT's PINGREQ), counts as held once the pong
 * comes back through the relay, and then pings again every keepalive
 * interval (first ping at a random point of the interval, so the pings
 * spread out as a real fleet's do).
 *
 *	bench_idle -c addr:port -n conns [-b src[-src]] [-P pending]
 *	    [-k keepalive-s] [-H hold-s] [-T timeout-s] [-s sni] [-x]
 *
 * Lines on stdout, flushed, so a script can measure between them:
 *	phase=held established= failed= ramp_s=
 *	phase=done established= pings= pongs= dropped=
 * then waits for SIGTERM (or exits at once with -x).  With -b, one source
 * address per connection round-robin: -b 127.1.0.1-127.1.3.232 and -n 1000
 * are 1,000 chargers with an address each.  Connections that fail to be
 * established are not retried: the point is how many the relay holds.
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

static const uint8_t ping[2] = { 0xc0, 0x00 };

enum idle_state {
	IDLE_CONNECTING,
	IDLE_FIRST_PONG,	/* hello and first ping sent */
	IDLE_HELD,
	IDLE_GONE,
};

struct conn {
	int		 fd;
	enum idle_state	 state;
	struct event	 io, ka;
	unsigned	 waiting;	/* pong bytes outstanding */
};

static struct event_base *base;
static struct bench_hello hello;
static struct sockaddr_in dst;
static struct bench_srcs src;
static struct conn *conns;
static unsigned nconns, next, pending, maxpending = 256;
static unsigned long established, failed, pings, pongs, dropped;
static struct timeval conn_tmo = { 10, 0 }, ka_tv = { 20, 0 };
static double hold = 20;
static uint64_t t0;
static int exit_when_done, holding;

static void	conn_io_cb(evutil_socket_t, short, void *);
static void	conn_ka_cb(evutil_socket_t, short, void *);
static void	ramp(void);

static void
conn_gone(struct conn *c)
{
	if (c->state == IDLE_HELD)
		dropped++;
	else {
		failed++;
		pending--;
	}
	c->state = IDLE_GONE;
	event_del(&c->io);
	if (event_initialized(&c->ka))
		event_del(&c->ka);
	close(c->fd);
	c->fd = -1;
	ramp();
}

static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	uint8_t buf[512];
	socklen_t len;
	ssize_t n;
	int err = 0;

	if (what & EV_TIMEOUT) {
		conn_gone(c);
		return;
	}
	if (c->state == IDLE_CONNECTING) {
		len = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0 || bench_send_all(fd, hello.buf, hello.len) ||
		    bench_send_all(fd, "ECHO\n", 5) ||
		    bench_send_all(fd, ping, sizeof(ping))) {
			conn_gone(c);
			return;
		}
		c->state = IDLE_FIRST_PONG;
		c->waiting = sizeof(ping);
		event_del(&c->io);
		event_assign(&c->io, base, fd, EV_READ | EV_PERSIST,
		    conn_io_cb, c);
		event_add(&c->io, &conn_tmo);
		return;
	}
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_gone(c);
			return;
		}
		if (n == 0 || (size_t)n > c->waiting) {
			conn_gone(c);
			return;
		}
		c->waiting -= (unsigned)n;
	}
	if (c->waiting != 0)
		return;
	if (c->state == IDLE_FIRST_PONG) {
		struct timeval first;
		long us = (long)((double)random() / RAND_MAX *
		    ((double)ka_tv.tv_sec * 1e6 + (double)ka_tv.tv_usec));

		c->state = IDLE_HELD;
		established++;
		pending--;
		/* Held: no timeout on reads any more.  Assign anew: a
		 * persistent event keeps its old timeout otherwise, and
		 * libevent re-arms it after every read. */
		event_del(&c->io);
		event_assign(&c->io, base, fd, EV_READ | EV_PERSIST,
		    conn_io_cb, c);
		event_add(&c->io, NULL);
		first.tv_sec = us / 1000000;
		first.tv_usec = us % 1000000;
		evtimer_assign(&c->ka, base, conn_ka_cb, c);
		event_add(&c->ka, &first);
		ramp();
	} else
		pongs++;
}

static void
conn_ka_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	if (c->waiting != 0) {
		/* The last pong never came: the relay lost it. */
		conn_gone(c);
		return;
	}
	if (bench_send_all(c->fd, ping, sizeof(ping)) == -1) {
		conn_gone(c);
		return;
	}
	c->waiting = sizeof(ping);
	pings++;
	event_add(&c->ka, &ka_tv);
}

static void
hold_done_cb(evutil_socket_t fd, short what, void *arg)
{
	printf("phase=done established=%lu pings=%lu pongs=%lu dropped=%lu\n",
	    established - dropped, pings, pongs, dropped);
	fflush(stdout);
	if (exit_when_done)
		event_base_loopbreak(base);
}

/* Keep up to maxpending connections being set up; then hold. */
static struct event *hold_ev;

static void
ramp(void)
{
	struct timeval tv;
	struct conn *c;

	while (next < nconns && pending < maxpending) {
		c = &conns[next];
		c->fd = bench_connect(&dst, src.n ? &src.addr[next % src.n] :
		    NULL);
		next++;
		if (c->fd == -1) {
			c->state = IDLE_GONE;
			failed++;
			continue;
		}
		c->state = IDLE_CONNECTING;
		pending++;
		event_assign(&c->io, base, c->fd, EV_WRITE, conn_io_cb, c);
		event_add(&c->io, &conn_tmo);
	}
	if (next < nconns || pending > 0 || holding)
		return;
	holding = 1;
	printf("phase=held established=%lu failed=%lu ramp_s=%.3f\n",
	    established, failed, (double)(bench_now_ns() - t0) / 1e9);
	fflush(stdout);
	tv.tv_sec = (time_t)hold;
	tv.tv_usec = (suseconds_t)((hold - (double)tv.tv_sec) * 1e6);
	hold_ev = evtimer_new(base, hold_done_cb, NULL);
	event_add(hold_ev, &tv);
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(base);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_idle -c addr:port -n conns "
	    "[-b src[-src]] [-P pending] [-k keepalive-s] [-H hold-s] "
	    "[-T timeout-s] [-s sni] [-x]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char *sni = BENCH_SNI_DEFAULT;
	struct event *sigterm, *sigint;
	unsigned long nofile, outstanding = 0;
	unsigned i;
	double ka = 20;
	int ch, have_dst = 0;

	while ((ch = getopt(argc, argv, "b:c:H:k:n:P:s:T:x")) != -1) {
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
		case 'H':
			hold = atof(optarg);
			break;
		case 'k':
			ka = atof(optarg);
			break;
		case 'n':
			nconns = (unsigned)atoi(optarg);
			break;
		case 'P':
			maxpending = (unsigned)atoi(optarg);
			break;
		case 's':
			sni = optarg;
			break;
		case 'T':
			conn_tmo.tv_sec = atoi(optarg);
			break;
		case 'x':
			exit_when_done = 1;
			break;
		default:
			usage();
		}
	}
	if (!have_dst || nconns == 0 || maxpending == 0 || ka <= 0 ||
	    hold < 0)
		usage();
	ka_tv.tv_sec = (time_t)ka;
	ka_tv.tv_usec = (suseconds_t)((ka - (double)ka_tv.tv_sec) * 1e6);
	signal(SIGPIPE, SIG_IGN);
	nofile = bench_raise_nofile();
	if (nconns + 32 > nofile)
		bench_fatal("%u connections need more than the open-file "
		    "limit of %lu", nconns, nofile);
	if (bench_make_hello(sni, &hello) == -1)
		bench_fatal("cannot make a ClientHello");
	srandom((unsigned)getpid());
	if ((base = event_base_new()) == NULL)
		bench_fatal("event_base_new failed");
	conns = bench_xcalloc(nconns, sizeof(*conns));
	sigterm = evsignal_new(base, SIGTERM, stop_cb, NULL);
	sigint = evsignal_new(base, SIGINT, stop_cb, NULL);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	t0 = bench_now_ns();
	ramp();
	event_base_dispatch(base);
	/* Every ping answered, but those still on their way at the end. */
	for (i = 0; i < nconns; i++)
		if (conns[i].state == IDLE_HELD && conns[i].waiting != 0)
			outstanding++;
	for (i = 0; i < next; i++) {
		if (conns[i].state == IDLE_GONE)
			continue;
		event_del(&conns[i].io);
		if (event_initialized(&conns[i].ka))
			event_del(&conns[i].ka);
		close(conns[i].fd);
	}
	free(conns);
	free(src.addr);
	if (hold_ev != NULL)
		event_free(hold_ev);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	return failed == 0 && dropped == 0 && established > 0 &&
	    pongs + outstanding == pings ? 0 : 1;
}
