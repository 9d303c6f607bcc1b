/*
 * bench_ping: round-trip latency of small messages through a relay (or
 * straight to the sink, for the baseline the relays are compared with).
 * One connection: ClientHello, "ECHO", then ping-pong of m-byte messages,
 * one at a time, with blocking sockets (an event loop would only add its
 * own latency).  Every echo is compared with what was sent.
 *
 *	bench_ping -c addr:port [-n pings] [-w warmup] [-m bytes] [-s sni]
 *
 * Prints: pings= errors= p50_us= p99_us= mean_us= min_us=
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define PING_MAX	4096

static void
usage(void)
{
	fprintf(stderr, "usage: bench_ping -c addr:port [-n pings] "
	    "[-w warmup] [-m bytes] [-s sni]\n");
	exit(2);
}

/* Receive exactly len bytes; 0 or -1. */
static int
recv_all(int fd, uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = recv(fd, buf, len, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in dst;
	struct bench_hello hello;
	struct bench_samples rtt = { NULL, 0, 0 };
	const char *sni = BENCH_SNI_DEFAULT;
	uint8_t msg[PING_MAX], back[PING_MAX];
	unsigned long n = 20000, warm = 1000, i, errors = 0;
	size_t m = 64, k;
	uint64_t t, sum = 0;
	int ch, fd, one = 1, have_dst = 0;

	while ((ch = getopt(argc, argv, "c:m:n:s:w:")) != -1) {
		switch (ch) {
		case 'c':
			if (bench_parse_addr(optarg, &dst) == -1)
				usage();
			have_dst = 1;
			break;
		case 'm':
			m = (size_t)atoi(optarg);
			break;
		case 'n':
			n = strtoul(optarg, NULL, 10);
			break;
		case 's':
			sni = optarg;
			break;
		case 'w':
			warm = strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (!have_dst || m == 0 || m > PING_MAX || n == 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (bench_make_hello(sni, &hello) == -1)
		bench_fatal("cannot make a ClientHello");
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == -1)
		bench_fatal("connect: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bench_send_all(fd, hello.buf, hello.len) == -1 ||
	    bench_send_all(fd, "ECHO\n", 5) == -1)
		bench_fatal("send: %s", strerror(errno));
	for (i = 0; i < warm + n; i++) {
		/* Different bytes every time: a stale echo cannot pass. */
		for (k = 0; k < m; k++)
			msg[k] = (uint8_t)(i * 31 + k);
		t = bench_now_ns();
		if (bench_send_all(fd, msg, m) == -1 ||
		    recv_all(fd, back, m) == -1) {
			fprintf(stderr, "bench_ping: connection lost after "
			    "%lu pings\n", i);
			errors++;
			break;
		}
		t = bench_now_ns() - t;
		if (memcmp(msg, back, m) != 0)
			errors++;
		if (i >= warm) {
			bench_samples_add(&rtt, t);
			sum += t;
		}
	}
	close(fd);
	printf("pings=%zu errors=%lu p50_us=%.2f p99_us=%.2f mean_us=%.2f "
	    "min_us=%.2f\n", rtt.n, errors,
	    (double)bench_samples_quantile(&rtt, 0.50) / 1e3,
	    (double)bench_samples_quantile(&rtt, 0.99) / 1e3,
	    rtt.n ? (double)sum / (double)rtt.n / 1e3 : 0.0,
	    (double)bench_samples_quantile(&rtt, 0.0) / 1e3);
	i = rtt.n;
	bench_samples_free(&rtt);
	return errors == 0 && i == n ? 0 : 1;
}
