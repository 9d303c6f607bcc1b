/*
 * bench.c: helpers shared by the load generators and the sink.
 */
#include "evgate_config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24	/* linux/in.h, Linux 4.2 */
#endif

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void
bench_fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program_invocation_short_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

void *
bench_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		bench_fatal("out of memory");
	return p;
}

int
bench_parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64], *colon, *end;
	unsigned long port;

	if (strlen(s) >= sizeof(host))
		return -1;
	strcpy(host, s);
	if ((colon = strrchr(host, ':')) == NULL)
		return -1;
	*colon = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port == 0 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

int
bench_parse_srcs(const char *s, struct bench_srcs *out)
{
	char a[64], *dash;
	struct in_addr lo, hi;
	uint32_t i, first, last;

	if (strlen(s) >= sizeof(a))
		return -1;
	strcpy(a, s);
	if ((dash = strchr(a, '-')) != NULL)
		*dash++ = '\0';
	if (inet_pton(AF_INET, a, &lo) != 1)
		return -1;
	hi = lo;
	if (dash != NULL && inet_pton(AF_INET, dash, &hi) != 1)
		return -1;
	first = ntohl(lo.s_addr);
	last = ntohl(hi.s_addr);
	if (last < first || last - first >= BENCH_MAX_SRC)
		return -1;
	out->n = last - first + 1;
	out->addr = bench_xcalloc(out->n, sizeof(*out->addr));
	for (i = 0; i < out->n; i++)
		out->addr[i].s_addr = htonl(first + i);
	return 0;
}

int
bench_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		v <<= 10;
		end++;
		break;
	case 'm': case 'M':
		v <<= 20;
		end++;
		break;
	case 'g': case 'G':
		v <<= 30;
		end++;
		break;
	default:
		return -1;
	}
	if (*end != '\0')
		return -1;
	*out = v;
	return 0;
}

int
bench_make_hello(const char *sni, struct bench_hello *h)
{
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	BIO *rb, *wb;
	int n, rv = -1;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    (ssl = SSL_new(ctx)) == NULL)
		goto out;
	rb = BIO_new(BIO_s_mem());
	wb = BIO_new(BIO_s_mem());
	if (rb == NULL || wb == NULL) {
		BIO_free(rb);
		BIO_free(wb);
		goto out;
	}
	SSL_set_bio(ssl, rb, wb);
	if (SSL_set_tlsext_host_name(ssl, sni) != 1)
		goto out;
	SSL_set_connect_state(ssl);
	/* No server: the handshake stops after writing the hello. */
	if (SSL_do_handshake(ssl) == 1)
		goto out;
	n = BIO_read(wb, h->buf, sizeof(h->buf));
	if (n <= 5 || h->buf[0] != 0x16)
		goto out;
	h->len = (size_t)n;
	rv = 0;
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return rv;
}

int
bench_connect(const struct sockaddr_in *dst, const struct in_addr *src)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src != NULL) {
		/* Pick the port at connect(), per destination: many more
		 * connections fit per source address. */
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr = *src;
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
			goto fail;
	}
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) == -1 &&
	    errno != EINPROGRESS)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

int
bench_send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

const uint8_t *
bench_pattern(void)
{
	static uint8_t *block;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t i;

	if (block != NULL)
		return block;
	block = bench_xcalloc(1, BENCH_BLOCK);
	for (i = 0; i < BENCH_BLOCK; i += 8) {
		/* xorshift64: cheap, and no two nearby blocks look alike. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(block + i, &x, 8);
	}
	return block;
}

int
bench_pattern_check(const uint8_t *buf, size_t len, uint64_t off)
{
	const uint8_t *p = bench_pattern();
	size_t at = (size_t)(off % BENCH_BLOCK), n;

	while (len > 0) {
		n = BENCH_BLOCK - at;
		if (n > len)
			n = len;
		if (memcmp(buf, p + at, n) != 0)
			return 0;
		buf += n;
		len -= n;
		at = 0;
	}
	return 1;
}

void
bench_samples_add(struct bench_samples *s, uint64_t v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		uint64_t *nv = realloc(s->v, cap * sizeof(*nv));

		if (nv == NULL)
			bench_fatal("out of memory");
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t
bench_samples_quantile(struct bench_samples *s, double q)
{
	size_t i;

	if (s->n == 0)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), u64_cmp);
	/* Nearest rank. */
	i = (size_t)(q * (double)s->n);
	if (i >= s->n)
		i = s->n - 1;
	return s->v[i];
}

void
bench_samples_free(struct bench_samples *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

unsigned long
bench_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 1024;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return (unsigned long)rl.rlim_cur;
}
