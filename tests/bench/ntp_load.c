/*
 * ntp_load: load generator for NTP servers (evgated against chronyd in
 * scripts/bench.d/ntp.sh).  Two phases against one server:
 *
 *  1. idle: q single requests, one at a time, 5 ms apart: the offset and
 *     round trip a client sees from a quiet server;
 *  2. load: for t seconds, every source socket keeps w requests in flight
 *     (closed loop): replies per second, losses, round trips, and the
 *     offset clients see under load.
 *
 * Every reply is checked: mode 4, origin = the cookie we sent, LI != 3,
 * stratum 1..15; anything else counts as bad.  The receive time is the
 * kernel's (SO_TIMESTAMPNS), the send time read just before send().
 *
 *	ntp_load -c addr:port [-b src[-src]] [-t seconds] [-w window]
 *	    [-q idle_queries]
 *
 * Prints one line: idle_offset_p50_us= idle_offset_p99abs_us=
 * idle_rtt_p50_us= idle_bad= rate= replies= lost= bad= rtt_p50_us=
 * rtt_p99_us= load_offset_p50_us= load_offset_p99abs_us=
 */
#include "evgate_config.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "time/ntp_proto.h"

#define MAX_WINDOW	1024
#define RX_BATCH	64
#define LOST_NS		500000000ULL	/* a reply later than this is lost */
#define OFF_BIAS_NS	1000000000000ULL	/* offsets kept unsigned */

struct slot {
	uint32_t	 seq;		/* gen * window + index */
	uint32_t	 gen;
	int		 busy;
	uint64_t	 sent_ns;	/* monotonic */
	uint64_t	 t1;		/* wire form, realtime */
};

struct src {
	int		 fd;
	struct slot	*slots;
};

static uint32_t	 run_tag;
static int	 window = 32;
static unsigned long n_replies, n_lost, n_bad;
static struct bench_samples rtt, off, offabs;

static void
usage(void)
{
	fprintf(stderr, "usage: ntp_load -c addr:port [-b src[-src]] "
	    "[-t seconds] [-w window] [-q idle_queries]\n");
	exit(2);
}

static int
src_open(const struct sockaddr_in *dst, const struct in_addr *addr)
{
	struct sockaddr_in sa;
	int fd, on = 1, buf = 4 << 20;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		bench_fatal("socket: %s", strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) == -1)
		bench_fatal("SO_TIMESTAMPNS: %s", strerror(errno));
	if (addr != NULL) {
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr = *addr;
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
			bench_fatal("bind: %s", strerror(errno));
	}
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) == -1)
		bench_fatal("connect: %s", strerror(errno));
	return fd;
}

static int
src_send(struct src *s, size_t i)
{
	struct ntp_packet q;
	uint8_t out[NTP_HEADER_LEN];
	struct slot *sl = &s->slots[i];
	struct timespec now;

	/* seq % window is the slot, so a reply finds its slot at once. */
	sl->seq = sl->gen++ * (uint32_t)window + (uint32_t)i;
	memset(&q, 0, sizeof(q));
	q.version = 4;
	q.mode = NTP_MODE_CLIENT;
	q.xmt = (uint64_t)run_tag << 32 | sl->seq;
	ntp_encode(&q, out);
	clock_gettime(CLOCK_REALTIME, &now);
	sl->t1 = ntp_ts_from_timespec(&now);
	sl->sent_ns = bench_now_ns();
	if (send(s->fd, out, sizeof(out), 0) != (ssize_t)sizeof(out)) {
		sl->busy = 0;
		return -1;
	}
	sl->busy = 1;
	return 0;
}

/*
 * Judge one reply; returns the slot it answered (and fills offset and
 * round trip, *bad set if the server did not give a synchronised time),
 * or -1 if it answers nothing of ours.
 */
static int
judge(struct src *s, const uint8_t *buf, size_t len, const struct timespec *rx,
    double *offset, uint64_t *rtt_ns, int *bad)
{
	struct ntp_packet p;
	struct slot *sl;
	uint64_t t4;
	uint32_t seq;

	if (ntp_parse(buf, len, &p) != NTP_PARSE_OK ||
	    p.mode != NTP_MODE_SERVER || (p.org >> 32) != run_tag)
		return -1;
	seq = (uint32_t)p.org;
	sl = &s->slots[seq % (uint32_t)window];
	if (!sl->busy || sl->seq != seq)
		return -1;		/* late: already counted lost */
	sl->busy = 0;
	*rtt_ns = bench_now_ns() - sl->sent_ns;
	*bad = p.leap == NTP_LEAP_ALARM || p.stratum == 0 || p.stratum > 15;
	t4 = ntp_ts_from_timespec(rx);
	*offset = (ntp_ts_diff(p.rec, sl->t1) + ntp_ts_diff(p.xmt, t4)) / 2;
	return (int)(seq % (uint32_t)window);
}

static void
sample(double offset, uint64_t rtt_ns, struct bench_samples *o,
    struct bench_samples *oa, struct bench_samples *r)
{
	int64_t ns = (int64_t)llround(offset * 1e9);

	bench_samples_add(o, (uint64_t)((int64_t)OFF_BIAS_NS + ns));
	bench_samples_add(oa, (uint64_t)(ns < 0 ? -ns : ns));
	bench_samples_add(r, rtt_ns);
}

/* Receive what is there on s; resend each answered slot if refill. */
static void
src_drain(struct src *s, int refill, int keep_every)
{
	uint8_t bufs[RX_BATCH][NTP_MAX_PACKET];
	uint8_t ctls[RX_BATCH][CMSG_SPACE(sizeof(struct timespec)) + 32];
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	int i, n;

	for (;;) {
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < RX_BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_control = ctls[i];
			msgs[i].msg_hdr.msg_controllen = sizeof(ctls[i]);
		}
		n = recvmmsg(s->fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			struct timespec rx;
			struct cmsghdr *c;
			double offset;
			uint64_t r;
			int slot, bad = 0;

			clock_gettime(CLOCK_REALTIME, &rx);
			for (c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c != NULL;
			    c = CMSG_NXTHDR(&msgs[i].msg_hdr, c))
				if (c->cmsg_level == SOL_SOCKET &&
				    c->cmsg_type == SCM_TIMESTAMPNS)
					memcpy(&rx, CMSG_DATA(c), sizeof(rx));
			slot = judge(s, bufs[i], msgs[i].msg_len, &rx, &offset,
			    &r, &bad);
			if (slot == -1)
				continue;
			if (bad)
				n_bad++;
			else {
				n_replies++;
				if (keep_every > 0 &&
				    n_replies % (unsigned long)keep_every == 0)
					sample(offset, r, &off, &offabs, &rtt);
			}
			if (refill)
				(void)src_send(s, (size_t)slot);
			else
				s->slots[slot].busy = 0;
		}
		if (n < RX_BATCH)
			return;
	}
}

static double
us_signed(uint64_t v)
{
	return ((double)v - (double)OFF_BIAS_NS) / 1000;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in dst;
	struct bench_srcs srcs = { NULL, 0 };
	struct bench_samples ioff = { NULL, 0, 0 }, ioffa = { NULL, 0, 0 },
	    irtt = { NULL, 0, 0 };
	struct epoll_event ev, evs[64];
	struct src *s;
	const char *target = NULL, *src_spec = NULL;
	unsigned long idle_bad;
	uint64_t t0, end, last_scan;
	int seconds = 5, queries = 200, ch, ep, i, j, n;
	size_t k, nsrc;

	while ((ch = getopt(argc, argv, "c:b:t:w:q:")) != -1) {
		switch (ch) {
		case 'c':
			target = optarg;
			break;
		case 'b':
			src_spec = optarg;
			break;
		case 't':
			seconds = atoi(optarg);
			break;
		case 'w':
			window = atoi(optarg);
			break;
		case 'q':
			queries = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (target == NULL || bench_parse_addr(target, &dst) == -1 ||
	    seconds < 1 || window < 1 || window > MAX_WINDOW || queries < 1)
		usage();
	if (src_spec != NULL && bench_parse_srcs(src_spec, &srcs) == -1)
		usage();
	arc4random_buf(&run_tag, sizeof(run_tag));
	nsrc = srcs.n ? srcs.n : 1;
	s = bench_xcalloc(nsrc, sizeof(*s));
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		bench_fatal("epoll_create1: %s", strerror(errno));
	for (k = 0; k < nsrc; k++) {
		s[k].fd = src_open(&dst, srcs.n ? &srcs.addr[k] : NULL);
		s[k].slots = bench_xcalloc((size_t)window, sizeof(*s[k].slots));
		ev.events = EPOLLIN;
		ev.data.u64 = k;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, s[k].fd, &ev) == -1)
			bench_fatal("epoll_ctl: %s", strerror(errno));
	}

	/* 1. idle: one request at a time. */
	for (i = 0; i < queries; i++) {
		struct timespec pause = { 0, 5000000 };

		(void)src_send(&s[0], 0);
		if (epoll_wait(ep, evs, 64, 1000) > 0)
			src_drain(&s[0], 0, 1);
		s[0].slots[0].busy = 0;
		(void)nanosleep(&pause, NULL);
	}
	ioff = off;
	ioffa = offabs;
	irtt = rtt;
	memset(&off, 0, sizeof(off));
	memset(&offabs, 0, sizeof(offabs));
	memset(&rtt, 0, sizeof(rtt));
	idle_bad = n_bad;
	n_replies = n_lost = n_bad = 0;

	/* 2. load: keep the window full on every socket. */
	for (k = 0; k < nsrc; k++) {
		for (j = 0; j < window; j++) {
			s[k].slots[j].busy = 0;
			(void)src_send(&s[k], (size_t)j);
		}
	}
	t0 = last_scan = bench_now_ns();
	end = t0 + (uint64_t)seconds * 1000000000ULL;
	while (bench_now_ns() < end) {
		uint64_t now;

		n = epoll_wait(ep, evs, 64, 10);
		for (i = 0; i < n; i++)
			src_drain(&s[evs[i].data.u64], 1, 16);
		now = bench_now_ns();
		if (now - last_scan < 50000000ULL)
			continue;
		last_scan = now;
		for (k = 0; k < nsrc; k++)
			for (j = 0; j < window; j++) {
				struct slot *sl = &s[k].slots[j];

				if ((sl->busy && now - sl->sent_ns > LOST_NS) ||
				    !sl->busy) {
					if (sl->busy)
						n_lost++;
					(void)src_send(&s[k], (size_t)j);
				}
			}
	}
	printf("idle_offset_p50_us=%.1f idle_offset_p99abs_us=%.1f "
	    "idle_rtt_p50_us=%.1f idle_bad=%lu rate=%.0f replies=%lu lost=%lu "
	    "bad=%lu rtt_p50_us=%.1f rtt_p99_us=%.1f load_offset_p50_us=%.1f "
	    "load_offset_p99abs_us=%.1f\n",
	    ioff.n ? us_signed(bench_samples_quantile(&ioff, 0.5)) : NAN,
	    (double)bench_samples_quantile(&ioffa, 0.99) / 1000,
	    (double)bench_samples_quantile(&irtt, 0.5) / 1000, idle_bad,
	    (double)n_replies / (double)seconds, n_replies, n_lost, n_bad,
	    (double)bench_samples_quantile(&rtt, 0.5) / 1000,
	    (double)bench_samples_quantile(&rtt, 0.99) / 1000,
	    off.n ? us_signed(bench_samples_quantile(&off, 0.5)) : NAN,
	    (double)bench_samples_quantile(&offabs, 0.99) / 1000);
	fflush(stdout);
	for (k = 0; k < nsrc; k++) {
		close(s[k].fd);
		free(s[k].slots);
	}
	free(s);
	free(srcs.addr);
	close(ep);
	bench_samples_free(&ioff);
	bench_samples_free(&ioffa);
	bench_samples_free(&irtt);
	bench_samples_free(&off);
	bench_samples_free(&offabs);
	bench_samples_free(&rtt);
	return n_replies > 0 && n_bad == 0 && idle_bad == 0 ? 0 : 1;
}
