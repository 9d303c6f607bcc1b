/*
 * bench_bulk: bulk download through a relay (the firmware-download
 * direction, cloud -> charger).  Opens n streams at once; each sends a
 * ClientHello and "BULK <total/n>", then reads until the sink's EOF.
 * Reading uses recv(MSG_TRUNC), which lets the kernel drop the bytes
 * without copying them, so the client costs little CPU next to the relay
 * under test; with -v every byte is read and checked against the pattern.
 *
 *	bench_bulk -c addr:port [-n streams] [-t total] [-s sni] [-b src] [-v]
 *
 * Prints: bytes= seconds= gbps= streams= errors= verified=
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

#define BULK_BUF	(256 * 1024)

struct stream {
	int		 fd;
	int		 connected, done;
	struct event	 ev;
	uint64_t	 want, got;
};

static struct event_base *base;
static struct bench_hello hello;
static uint8_t *rbuf;
static int verify;
static unsigned nstreams, ndone, nerrors, badbytes;
static uint64_t t_end;

static void
stream_end(struct stream *s, const char *why)
{
	if (why != NULL) {
		fprintf(stderr, "bench_bulk: stream: %s (got %llu of %llu)\n",
		    why, (unsigned long long)s->got,
		    (unsigned long long)s->want);
		nerrors++;
	}
	event_del(&s->ev);
	close(s->fd);
	s->done = 1;
	if (++ndone == nstreams) {
		t_end = bench_now_ns();
		event_base_loopbreak(base);
	}
}

static void
stream_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;
	char cmd[64];
	socklen_t len;
	ssize_t n;
	int err = 0;

	if (what & EV_TIMEOUT) {
		stream_end(s, "timed out");
		return;
	}
	if (!s->connected) {
		len = sizeof(err);
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			stream_end(s, strerror(err));
			return;
		}
		s->connected = 1;
		snprintf(cmd, sizeof(cmd), "BULK %llu\n",
		    (unsigned long long)s->want);
		if (bench_send_all(fd, hello.buf, hello.len) == -1 ||
		    bench_send_all(fd, cmd, strlen(cmd)) == -1) {
			stream_end(s, strerror(errno));
			return;
		}
		event_del(&s->ev);
		event_assign(&s->ev, base, fd, EV_READ | EV_PERSIST,
		    stream_cb, s);
		event_add(&s->ev, NULL);
		return;
	}
	for (;;) {
		if (verify)
			n = recv(fd, rbuf, BULK_BUF, 0);
		else
			n = recv(fd, NULL, BULK_BUF, MSG_TRUNC);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			stream_end(s, strerror(errno));
			return;
		}
		if (n == 0) {
			stream_end(s, s->got == s->want ? NULL :
			    "EOF before all bytes arrived");
			return;
		}
		if (verify && !bench_pattern_check(rbuf, (size_t)n, s->got))
			badbytes++;
		s->got += (uint64_t)n;
		if (s->got > s->want) {
			stream_end(s, "more bytes than asked for");
			return;
		}
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_bulk -c addr:port [-n streams] "
	    "[-t total] [-s sni] [-b src] [-T timeout-s] [-v]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in dst;
	struct bench_srcs src = { NULL, 0 };
	struct stream *ss;
	const char *sni = BENCH_SNI_DEFAULT;
	uint64_t total = 1ULL << 30, t0, got = 0;
	struct timeval tmo = { 120, 0 };
	double secs;
	unsigned i;
	int ch, have_dst = 0;

	nstreams = 4;
	while ((ch = getopt(argc, argv, "b:c:n:s:t:T:v")) != -1) {
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
		case 'n':
			nstreams = (unsigned)atoi(optarg);
			break;
		case 's':
			sni = optarg;
			break;
		case 't':
			if (bench_parse_size(optarg, &total) == -1)
				usage();
			break;
		case 'T':
			tmo.tv_sec = atoi(optarg);
			break;
		case 'v':
			verify = 1;
			break;
		default:
			usage();
		}
	}
	if (!have_dst || nstreams == 0 || nstreams > 1000 || total < nstreams)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (bench_make_hello(sni, &hello) == -1)
		bench_fatal("cannot make a ClientHello");
	if (verify) {
		rbuf = bench_xcalloc(1, BULK_BUF);
		bench_pattern();
	}
	if ((base = event_base_new()) == NULL)
		bench_fatal("event_base_new failed");
	ss = bench_xcalloc(nstreams, sizeof(*ss));
	t0 = bench_now_ns();
	for (i = 0; i < nstreams; i++) {
		struct stream *s = &ss[i];

		s->want = total / nstreams + (i < total % nstreams ? 1 : 0);
		s->fd = bench_connect(&dst, src.n ? &src.addr[i % src.n] :
		    NULL);
		if (s->fd == -1)
			bench_fatal("connect: %s", strerror(errno));
		event_assign(&s->ev, base, s->fd, EV_WRITE, stream_cb, s);
		event_add(&s->ev, &tmo);
	}
	/* One overall deadline too: a stalled stream must not hang us. */
	event_base_loopexit(base, &tmo);
	event_base_dispatch(base);
	if (ndone < nstreams) {
		nerrors += nstreams - ndone;
		t_end = bench_now_ns();
	}
	for (i = 0; i < nstreams; i++) {
		got += ss[i].got;
		if (!ss[i].done) {
			event_del(&ss[i].ev);
			close(ss[i].fd);
		}
	}
	free(ss);
	free(rbuf);
	free(src.addr);
	event_base_free(base);
	secs = (double)(t_end - t0) / 1e9;
	printf("bytes=%llu seconds=%.4f gbps=%.3f streams=%u errors=%u "
	    "verified=%d\n", (unsigned long long)got, secs,
	    secs > 0 ? (double)got * 8 / secs / 1e9 : 0.0, nstreams,
	    nerrors + badbytes, verify && badbytes == 0);
	return nerrors == 0 && badbytes == 0 && got == total ? 0 : 1;
}
