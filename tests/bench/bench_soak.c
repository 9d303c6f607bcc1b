/*
 * bench_soak: a car park of chargers that come and go for a long time,
 * for the soak benchmark (scripts/bench.d/soak.sh) and its CI version
 * (tests/integration/soak.sh).
 *
 * Each charger has an address of its own (-b) and one of three habits:
 *   - holder (most): connect to the MQTT port (-c) with a ClientHello
 *     for -s, "ECHO", then a 2-byte ping every keepalive (-k) until its
 *     hold time is over (exponential, mean -m seconds); close; pause a
 *     random 0..-p seconds; again;
 *   - burster (-f, a fraction): the same, and every few seconds while
 *     held a burst of 1 to 64 KiB that must come back whole;
 *     (hold times are uniform in 0..2m, so the mean is m);
 *   - downloader (-h, a fraction): connect to the HTTPS port (-C) with a
 *     hello for -S, "BULK n" (n from 16 KiB to 2 MiB), read all n bytes
 *     to EOF; pause; again.
 * Every byte that comes back is checked against the pattern (bench.h):
 * the echo stream of a charger's connection is the pattern from offset 0,
 * so is a download.
 *
 *	bench_soak -c addr:port -C addr:port -n chargers -d seconds
 *	    [-b src[-src]] [-s sni] [-S sni] [-k keepalive-s] [-m hold-s]
 *	    [-p pause-s] [-f fraction] [-h fraction] [-i report-s]
 *	    [-T timeout-s]
 *
 * A line of key=value pairs every report interval (-i), flushed:
 *	t= connects= relayed= ended= failed= errors= held= down= up_bytes= down_bytes=
 * and "final ..." when the time is over and every connection is closed.
 * failed: a connection that did not get through or ended before the
 * charger closed it (its first reply missing after the timeout, an EOF or
 * reset, a pong missing at the next keepalive); errors: bytes that came
 * back wrong.  Exit 0 when both are 0.
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

enum habit { HOLDER, BURSTER, DOWNLOADER };

enum cstate {
	C_PAUSE,		/* not connected; the timer reconnects */
	C_CONNECTING,
	C_FIRST,		/* request sent, first reply awaited */
	C_HELD,			/* echo: holding; download: reading */
	C_DONE,			/* the time is over */
};

struct charger {
	unsigned	 idx;
	enum habit	 habit;
	enum cstate	 state;
	int		 fd;
	struct event	 io, tm;
	int		 io_on;
	uint64_t	 hold_end_ns;	/* holders: when to close */
	uint64_t	 next_ka_ns, next_burst_ns;
	/* the pattern stream: what is to be sent, and what came back */
	uint64_t	 sent, queued;	/* bytes sent, bytes wanted sent */
	uint64_t	 recvd;		/* checked bytes back */
	uint64_t	 want;		/* downloads: bytes expected */
	uint64_t	 ping_due;	/* echo bytes outstanding at last ka */
	char		 req[32];	/* the command after the hello */
	size_t		 reqlen, reqsent;
};

static struct event_base *base;
static struct bench_hello hello_mqtt, hello_https;
static struct sockaddr_in dst_mqtt, dst_https;
static struct bench_srcs src;
static struct charger *ch;
static unsigned nch;
static double keepalive = 30, mean_hold = 120, max_pause = 10;
static double burst_frac = 0.1, down_frac = 0.05, report_s = 10;
static struct timeval tmo = { 30, 0 };
static uint64_t t0, end_ns;
static int over;
static struct {
	unsigned long	 connects, relayed, ended, failed, errors, downloads;
	uint64_t	 up_bytes, down_bytes;
} st;

static void	charger_io_cb(evutil_socket_t, short, void *);
static void	charger_tm_cb(evutil_socket_t, short, void *);

static double
rnd(void)
{
	return (double)random() / ((double)RAND_MAX + 1);
}

static void
tm_after(struct charger *c, double s)
{
	struct timeval tv;

	if (s < 0.001)
		s = 0.001;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	evtimer_add(&c->tm, &tv);
}

static void
io_want(struct charger *c, short what)
{
	if (c->io_on)
		event_del(&c->io);
	event_assign(&c->io, base, c->fd, what | EV_PERSIST, charger_io_cb, c);
	event_add(&c->io, c->state == C_HELD ? NULL : &tmo);
	c->io_on = 1;
}

static void
charger_close(struct charger *c)
{
	if (c->io_on)
		event_del(&c->io);
	c->io_on = 0;
	evtimer_del(&c->tm);
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	if (over) {
		c->state = C_DONE;
		return;
	}
	c->state = C_PAUSE;
	tm_after(c, rnd() * max_pause);
}

/* The connection ended before the charger closed it. */
static void
charger_failed(struct charger *c)
{
	st.failed++;
	charger_close(c);
}

static void
charger_connect(struct charger *c)
{
	int https = c->habit == DOWNLOADER;

	c->fd = bench_connect(https ? &dst_https : &dst_mqtt,
	    src.n ? &src.addr[c->idx % src.n] : NULL);
	st.connects++;
	if (c->fd == -1) {
		charger_failed(c);
		return;
	}
	c->state = C_CONNECTING;
	c->sent = c->queued = c->recvd = c->ping_due = 0;
	c->reqsent = 0;
	if (https) {
		c->want = 16384 + (uint64_t)(rnd() * (2 * 1024 * 1024 - 16384));
		c->reqlen = (size_t)snprintf(c->req, sizeof(c->req),
		    "BULK %llu\n", (unsigned long long)c->want);
	} else
		c->reqlen = (size_t)snprintf(c->req, sizeof(c->req), "ECHO\n");
	io_want(c, EV_WRITE);
}

/* Send what is queued of the pattern stream; 0, or -1 on error. */
static int
charger_flush(struct charger *c)
{
	const uint8_t *p = bench_pattern();
	size_t at, n;
	ssize_t w;

	while (c->sent < c->queued) {
		at = (size_t)(c->sent % BENCH_BLOCK);
		n = (size_t)(c->queued - c->sent);
		if (n > BENCH_BLOCK - at)
			n = BENCH_BLOCK - at;
		w = send(c->fd, p + at, n, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -1;
		}
		c->sent += (uint64_t)w;
		st.up_bytes += (uint64_t)w;
	}
	io_want(c, c->sent < c->queued ? EV_READ | EV_WRITE : EV_READ);
	return 0;
}

static void
charger_queue(struct charger *c, uint64_t n)
{
	c->queued += n;
	if (charger_flush(c) == -1)
		charger_failed(c);
}

/* Held: what is due now -- close, keepalive, burst -- then the timer. */
static void
charger_tick(struct charger *c)
{
	uint64_t now = bench_now_ns(), next;

	if (c->habit != DOWNLOADER && now >= c->hold_end_ns) {
		st.ended++;
		charger_close(c);
		return;
	}
	if (now >= c->next_ka_ns) {
		if (c->recvd < c->ping_due) {
			/* the last keepalive never came back */
			charger_failed(c);
			return;
		}
		c->ping_due = c->queued + 2;
		c->next_ka_ns = now + (uint64_t)(keepalive * 1e9);
		charger_queue(c, 2);
		if (c->fd == -1)
			return;
	}
	if (c->habit == BURSTER && now >= c->next_burst_ns) {
		c->next_burst_ns = now + (uint64_t)((1 + rnd() * 9) * 1e9);
		charger_queue(c, 1024 + (uint64_t)(rnd() * 63 * 1024));
		if (c->fd == -1)
			return;
	}
	next = c->hold_end_ns;
	if (c->next_ka_ns < next)
		next = c->next_ka_ns;
	if (c->habit == BURSTER && c->next_burst_ns < next)
		next = c->next_burst_ns;
	tm_after(c, (double)(next - now) / 1e9);
}

static void
charger_read(struct charger *c)
{
	uint8_t buf[65536];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			charger_failed(c);
			return;
		}
		if (n == 0) {
			if (c->habit == DOWNLOADER && c->recvd == c->want) {
				st.downloads++;
				st.ended++;
				charger_close(c);
			} else
				charger_failed(c);
			return;
		}
		st.down_bytes += (uint64_t)n;
		if ((c->habit != DOWNLOADER && c->recvd + (uint64_t)n >
		    c->sent) || (c->habit == DOWNLOADER && c->recvd +
		    (uint64_t)n > c->want) ||
		    !bench_pattern_check(buf, (size_t)n, c->recvd)) {
			st.errors++;
			charger_failed(c);
			return;
		}
		c->recvd += (uint64_t)n;
		if (c->state == C_FIRST) {
			/* the first bytes back: relayed */
			st.relayed++;
			c->state = C_HELD;
			if (over && c->habit != DOWNLOADER) {
				/* through while the time ran out: done */
				st.ended++;
				charger_close(c);
				return;
			}
			io_want(c, c->sent < c->queued ? EV_READ | EV_WRITE :
			    EV_READ);
			if (c->habit != DOWNLOADER) {
				uint64_t now = bench_now_ns();

				c->hold_end_ns = now + (uint64_t)(rnd() *
				    2 * mean_hold * 1e9);
				c->next_ka_ns = now + (uint64_t)(rnd() *
				    keepalive * 1e9);
				c->next_burst_ns = now + (uint64_t)(rnd() *
				    5e9);
				charger_tick(c);
				if (c->fd == -1)
					return;
			}
		}
	}
}

static void
charger_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct charger *c = arg;
	socklen_t len;
	int err = 0;

	if (what & EV_TIMEOUT) {
		charger_failed(c);	/* no answer in time */
		return;
	}
	if (c->state == C_CONNECTING) {
		const struct bench_hello *h = c->habit == DOWNLOADER ?
		    &hello_https : &hello_mqtt;

		len = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0 || bench_send_all(fd, h->buf, h->len) == -1 ||
		    bench_send_all(fd, c->req, c->reqlen) == -1) {
			charger_failed(c);
			return;
		}
		c->state = C_FIRST;
		if (c->habit != DOWNLOADER) {
			/* the first ping: its pong says relayed */
			c->ping_due = 2;
			charger_queue(c, 2);
		} else
			io_want(c, EV_READ);
		return;
	}
	if ((what & EV_WRITE) && charger_flush(c) == -1) {
		charger_failed(c);
		return;
	}
	if (c->fd != -1 && (what & EV_READ))
		charger_read(c);
}

static void
charger_tm_cb(evutil_socket_t fd, short what, void *arg)
{
	struct charger *c = arg;

	switch (c->state) {
	case C_PAUSE:
		charger_connect(c);
		break;
	case C_HELD:
		charger_tick(c);
		break;
	default:
		break;
	}
}

static void
report(const char *tag)
{
	unsigned i, held = 0, down = 0;

	for (i = 0; i < nch; i++) {
		if (ch[i].state == C_HELD && ch[i].habit != DOWNLOADER)
			held++;
		if (ch[i].state == C_HELD && ch[i].habit == DOWNLOADER)
			down++;
	}
	printf("%st=%.0f connects=%lu relayed=%lu ended=%lu failed=%lu "
	    "errors=%lu held=%u down=%u downloads=%lu up_bytes=%llu "
	    "down_bytes=%llu\n", tag, (double)(bench_now_ns() - t0) / 1e9,
	    st.connects, st.relayed, st.ended, st.failed, st.errors, held,
	    down, st.downloads, (unsigned long long)st.up_bytes,
	    (unsigned long long)st.down_bytes);
	fflush(stdout);
}

static void
report_cb(evutil_socket_t fd, short what, void *arg)
{
	unsigned i;

	if (over)
		return;
	if (bench_now_ns() < end_ns) {
		report("");
		return;
	}
	/*
	 * The time is over: every charger closes.  One that is still being
	 * set up or downloading finishes first (closing it half way would
	 * make the relay refuse it as client-gone): a download at its EOF,
	 * a connection at its first reply.
	 */
	over = 1;
	for (i = 0; i < nch; i++) {
		switch (ch[i].state) {
		case C_PAUSE:
			charger_close(&ch[i]);
			break;
		case C_HELD:
			if (ch[i].habit == DOWNLOADER)
				break;
			st.ended++;
			charger_close(&ch[i]);
			break;
		default:
			break;
		}
	}
	event_base_loopexit(base, &(struct timeval){ 5, 0 });
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	end_ns = 0;
	report_cb(-1, 0, NULL);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_soak -c addr:port -C addr:port -n "
	    "chargers -d seconds [-b src[-src]] [-s sni] [-S sni] [-k s] "
	    "[-m s] [-p s] [-f fraction] [-h fraction] [-i s] [-T s]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const char *sni = BENCH_SNI_DEFAULT, *sni2 = "api.zaptec.com";
	struct event *rep, *sigterm, *sigint;
	struct timeval rtv;
	unsigned long nofile;
	double dur = 0;
	unsigned i, left;
	int c_, have = 0;

	while ((c_ = getopt(argc, argv, "b:c:C:d:f:h:i:k:m:n:p:s:S:T:")) !=
	    -1) {
		switch (c_) {
		case 'b':
			if (bench_parse_srcs(optarg, &src) == -1)
				usage();
			break;
		case 'c':
			if (bench_parse_addr(optarg, &dst_mqtt) == -1)
				usage();
			have |= 1;
			break;
		case 'C':
			if (bench_parse_addr(optarg, &dst_https) == -1)
				usage();
			have |= 2;
			break;
		case 'd':
			dur = atof(optarg);
			break;
		case 'f':
			burst_frac = atof(optarg);
			break;
		case 'h':
			down_frac = atof(optarg);
			break;
		case 'i':
			report_s = atof(optarg);
			break;
		case 'k':
			keepalive = atof(optarg);
			break;
		case 'm':
			mean_hold = atof(optarg);
			break;
		case 'n':
			nch = (unsigned)atoi(optarg);
			break;
		case 'p':
			max_pause = atof(optarg);
			break;
		case 's':
			sni = optarg;
			break;
		case 'S':
			sni2 = optarg;
			break;
		case 'T':
			tmo.tv_sec = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (have != 3 || nch == 0 || dur <= 0 || keepalive <= 0 ||
	    mean_hold <= 0 || max_pause < 0 || report_s <= 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
	nofile = bench_raise_nofile();
	if (nch + 32 > nofile)
		bench_fatal("%u chargers need more than the open-file limit "
		    "of %lu", nch, nofile);
	if (bench_make_hello(sni, &hello_mqtt) == -1 ||
	    bench_make_hello(sni2, &hello_https) == -1)
		bench_fatal("cannot make a ClientHello");
	srandom((unsigned)getpid());
	if ((base = event_base_new()) == NULL)
		bench_fatal("event_base_new failed");
	ch = bench_xcalloc(nch, sizeof(*ch));
	for (i = 0; i < nch; i++) {
		double r = rnd();

		ch[i].idx = i;
		ch[i].fd = -1;
		ch[i].habit = r < down_frac ? DOWNLOADER :
		    r < down_frac + burst_frac ? BURSTER : HOLDER;
		ch[i].state = C_PAUSE;
		evtimer_assign(&ch[i].tm, base, charger_tm_cb, &ch[i]);
		/* Spread the first connects over the first pause. */
		tm_after(&ch[i], rnd() * (max_pause > 1 ? max_pause : 1));
	}
	t0 = bench_now_ns();
	end_ns = t0 + (uint64_t)(dur * 1e9);
	rtv.tv_sec = (time_t)report_s;
	rtv.tv_usec = (suseconds_t)((report_s - (double)rtv.tv_sec) * 1e6);
	rep = event_new(base, -1, EV_PERSIST, report_cb, NULL);
	event_add(rep, &rtv);
	sigterm = evsignal_new(base, SIGTERM, stop_cb, NULL);
	sigint = evsignal_new(base, SIGINT, stop_cb, NULL);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	event_base_dispatch(base);
	/* Downloads still running after the grace time fail. */
	for (i = 0, left = 0; i < nch; i++)
		if (ch[i].fd != -1) {
			left++;
			charger_failed(&ch[i]);
		}
	report("final ");
	if (left > 0)
		fprintf(stderr, "bench_soak: %u connections still open at "
		    "the end\n", left);
	for (i = 0; i < nch; i++)
		evtimer_del(&ch[i].tm);
	free(ch);
	free(src.addr);
	event_free(rep);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	return st.failed == 0 && st.errors == 0 ? 0 : 1;
}
