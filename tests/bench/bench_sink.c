/*
 * bench_sink: the "cloud" every benchmark talks to, through a relay or
 * directly.  One libevent loop, raw events, little memory per connection
 * (no buffers unless a write was short), so 10,000 idle connections cost
 * the sink little and the load lands on the relay under test.
 *
 * Per connection: skip one TLS record (the ClientHello, if the first byte
 * is a handshake record), read one command line (see bench.h), then
 *	BULK n / REPLY n	send n pattern bytes with sendfile(2) from a
 *				memfd (no copy through user space), then
 *				shutdown(SHUT_WR) and wait for the client's
 *				EOF: the sink closes first, so TIME_WAIT
 *				stays here and not on the client's ports
 *	ECHO			echo everything until EOF
 *
 *	bench_sink -l addr:port [-l ...]
 * Prints a key=value summary line on SIGTERM/SIGINT and exits.
 */
#include "evgate_config.h"

#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "bench.h"

#define SINK_MAX_LISTEN	8
#define SINK_CMD_MAX	64
#define SINK_BUF	(64 * 1024)

enum sink_state {
	SINK_HDR,		/* the first 5 bytes: a TLS record header? */
	SINK_SKIP,		/* skipping the rest of the hello record */
	SINK_CMD,		/* reading the command line */
	SINK_SEND,		/* BULK/REPLY: sending the pattern */
	SINK_DRAIN,		/* all sent, FIN sent: await EOF */
	SINK_ECHO,		/* echoing */
};

struct sink_conn {
	int		 fd;
	enum sink_state	 state;
	short		 flags;
	struct event	 ev;
	uint8_t		 hdr[5];
	size_t		 hlen;
	size_t		 skip;
	char		 cmd[SINK_CMD_MAX];
	size_t		 clen;
	uint64_t	 left;		/* SEND: bytes still to send */
	uint64_t	 sent;
	uint8_t		*pend;		/* ECHO: left by a short write */
	size_t		 plen, poff;
};

static struct event_base *base;
static int memfd = -1;
static uint8_t scratch[SINK_BUF];
static struct {
	unsigned long	 conns, active, bad, probes;
	uint64_t	 bytes_in, bytes_out;
} st;

static void	sink_cb(evutil_socket_t, short, void *);

static void
sink_want(struct sink_conn *c, short flags)
{
	if (c->flags == flags)
		return;
	if (event_initialized(&c->ev))
		event_del(&c->ev);
	c->flags = flags;
	if (flags == 0)
		return;
	event_assign(&c->ev, base, c->fd, flags | EV_PERSIST, sink_cb, c);
	event_add(&c->ev, NULL);
}

static void
sink_close(struct sink_conn *c)
{
	if (event_initialized(&c->ev))
		event_del(&c->ev);
	close(c->fd);
	free(c->pend);
	free(c);
	st.active--;
}

/* Parse the command in c->cmd; 0 or -1. */
static int
sink_command(struct sink_conn *c)
{
	unsigned long long n;
	char *end;

	if (strcmp(c->cmd, "ECHO") == 0) {
		c->state = SINK_ECHO;
		return 0;
	}
	if (strncmp(c->cmd, "BULK ", 5) == 0)
		n = strtoull(c->cmd + 5, &end, 10);
	else if (strncmp(c->cmd, "REPLY ", 6) == 0)
		n = strtoull(c->cmd + 6, &end, 10);
	else
		return -1;
	if (*end != '\0')
		return -1;
	c->state = SINK_SEND;
	c->left = n;
	return 0;
}

/* Send the pattern; 1 done, 0 blocked, -1 error. */
static int
sink_send(struct sink_conn *c)
{
	while (c->left > 0) {
		off_t off = (off_t)(c->sent % BENCH_BLOCK);
		size_t n = BENCH_BLOCK - (size_t)off;
		ssize_t w;

		if (n > c->left)
			n = (size_t)c->left;
		w = sendfile(c->fd, memfd, &off, n);
		if (w == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		c->left -= (uint64_t)w;
		c->sent += (uint64_t)w;
		st.bytes_out += (uint64_t)w;
	}
	return 1;
}

/* Echo buf back; on a short write keep the rest.  0 or -1. */
static int
sink_echo(struct sink_conn *c, const uint8_t *buf, size_t len)
{
	ssize_t w = 0;

	if (len == 0)
		return 0;
	if (c->pend == NULL) {
		w = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno != EAGAIN && errno != EINTR)
				return -1;
			w = 0;
		}
		st.bytes_out += (uint64_t)w;
		if ((size_t)w == len)
			return 0;
	}
	c->pend = realloc(c->pend, c->plen + len - (size_t)w);
	if (c->pend == NULL)
		bench_fatal("out of memory");
	memcpy(c->pend + c->plen, buf + w, len - (size_t)w);
	c->plen += len - (size_t)w;
	return 0;
}

/* Flush what an earlier short write left; 1 done, 0 blocked, -1 error. */
static int
sink_flush(struct sink_conn *c)
{
	ssize_t w;

	while (c->poff < c->plen) {
		w = send(c->fd, c->pend + c->poff, c->plen - c->poff,
		    MSG_NOSIGNAL);
		if (w == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->poff += (size_t)w;
		st.bytes_out += (uint64_t)w;
	}
	free(c->pend);
	c->pend = NULL;
	c->plen = c->poff = 0;
	return 1;
}

/* Consume what was read; leftover bytes after the command are echoed. */
static int
sink_input(struct sink_conn *c, const uint8_t *p, size_t n)
{
	size_t k;

	while (n > 0) {
		switch (c->state) {
		case SINK_HDR:
			k = sizeof(c->hdr) - c->hlen;
			if (k > n)
				k = n;
			memcpy(c->hdr + c->hlen, p, k);
			c->hlen += k;
			p += k;
			n -= k;
			if (c->hlen < sizeof(c->hdr))
				break;
			if (c->hdr[0] == 0x16) {
				c->skip = (size_t)c->hdr[3] << 8 | c->hdr[4];
				c->state = SINK_SKIP;
			} else {
				/* No hello: these bytes start the command. */
				uint8_t h[sizeof(c->hdr)];

				memcpy(h, c->hdr, sizeof(h));
				c->state = SINK_CMD;
				if (sink_input(c, h, sizeof(h)) == -1)
					return -1;
			}
			break;
		case SINK_SKIP:
			k = c->skip < n ? c->skip : n;
			c->skip -= k;
			p += k;
			n -= k;
			if (c->skip == 0)
				c->state = SINK_CMD;
			break;
		case SINK_CMD:
			if (*p == '\n') {
				c->cmd[c->clen] = '\0';
				p++;
				n--;
				if (sink_command(c) == -1)
					return -1;
				break;
			}
			if (c->clen + 1 >= sizeof(c->cmd))
				return -1;
			c->cmd[c->clen++] = (char)*p++;
			n--;
			break;
		case SINK_ECHO:
			if (sink_echo(c, p, n) == -1)
				return -1;
			n = 0;
			break;
		case SINK_SEND:
		case SINK_DRAIN:
			/* Clients send nothing after BULK/REPLY. */
			n = 0;
			break;
		}
	}
	return 0;
}

static void
sink_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sink_conn *c = arg;
	ssize_t n;
	int rv;

	if (what & EV_WRITE) {
		if (c->state == SINK_SEND) {
			if ((rv = sink_send(c)) == -1)
				goto drop;
			if (rv == 1) {
				shutdown(c->fd, SHUT_WR);
				c->state = SINK_DRAIN;
				sink_want(c, EV_READ);
			}
			return;
		}
		if ((rv = sink_flush(c)) == -1)
			goto drop;
		if (rv == 1)
			sink_want(c, EV_READ);
		return;
	}
	/* EV_READ: read what fits; in DRAIN just discard to the EOF. */
	for (;;) {
		n = recv(fd, scratch, sizeof(scratch), 0);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			goto drop;
		}
		if (n == 0) {
			/* A health check connects and closes at once: not
			 * bad.  Going away mid-command is. */
			if (c->state == SINK_HDR && c->hlen == 0)
				st.probes++;
			else if (c->state != SINK_DRAIN &&
			    c->state != SINK_ECHO)
				st.bad++;
			sink_close(c);
			return;
		}
		st.bytes_in += (uint64_t)n;
		if (sink_input(c, scratch, (size_t)n) == -1) {
			st.bad++;
			goto drop;
		}
		if (c->state == SINK_SEND || c->pend != NULL)
			break;
	}
	if (c->state == SINK_SEND) {
		if ((rv = sink_send(c)) == -1)
			goto drop;
		if (rv == 0) {
			sink_want(c, EV_WRITE);
			return;
		}
		shutdown(c->fd, SHUT_WR);
		c->state = SINK_DRAIN;
	}
	if (c->pend != NULL)
		sink_want(c, EV_WRITE);
	return;
drop:
	sink_close(c);
}

static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct sink_conn *c;
	int fd, i, one = 1;

	for (i = 0; i < 256; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				fprintf(stderr, "bench_sink: accept: %s\n",
				    strerror(errno));
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = bench_xcalloc(1, sizeof(*c));
		c->fd = fd;
		c->state = SINK_HDR;
		st.conns++;
		st.active++;
		sink_want(c, EV_READ);
	}
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(base);
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_sink -l addr:port [-l addr:port ...]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in sa[SINK_MAX_LISTEN];
	struct event *lev[SINK_MAX_LISTEN], *sigterm, *sigint;
	int nl = 0, ch, i, fd, one = 1;

	while ((ch = getopt(argc, argv, "l:")) != -1) {
		switch (ch) {
		case 'l':
			if (nl == SINK_MAX_LISTEN ||
			    bench_parse_addr(optarg, &sa[nl]) == -1)
				usage();
			nl++;
			break;
		default:
			usage();
		}
	}
	if (nl == 0 || optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	bench_raise_nofile();

	/* The pattern lives in a memfd so sendfile(2) can send it. */
	if ((memfd = memfd_create("bench-pattern", MFD_CLOEXEC)) == -1 ||
	    write(memfd, bench_pattern(), BENCH_BLOCK) != BENCH_BLOCK)
		bench_fatal("memfd: %s", strerror(errno));

	if ((base = event_base_new()) == NULL)
		bench_fatal("event_base_new failed");
	for (i = 0; i < nl; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
		if (fd == -1)
			bench_fatal("socket: %s", strerror(errno));
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&sa[i], sizeof(sa[i])) == -1 ||
		    listen(fd, 4096) == -1)
			bench_fatal("listen on port %u: %s",
			    ntohs(sa[i].sin_port), strerror(errno));
		lev[i] = event_new(base, fd, EV_READ | EV_PERSIST, accept_cb,
		    NULL);
		event_add(lev[i], NULL);
	}
	sigterm = evsignal_new(base, SIGTERM, stop_cb, NULL);
	sigint = evsignal_new(base, SIGINT, stop_cb, NULL);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	event_base_dispatch(base);
	for (i = 0; i < nl; i++) {
		close(event_get_fd(lev[i]));
		event_free(lev[i]);
	}
	event_free(sigterm);
	event_free(sigint);
	printf("conns=%lu active=%lu bad=%lu probes=%lu bytes_in=%llu "
	    "bytes_out=%llu\n", st.conns, st.active, st.bad, st.probes,
	    (unsigned long long)st.bytes_in,
	    (unsigned long long)st.bytes_out);
	return 0;
}
