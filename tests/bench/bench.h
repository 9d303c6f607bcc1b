/*
 * bench: shared parts of the benchmark load generators (tests/bench).
 *
 * Every client opens a TCP connection to a relay (or straight to the sink),
 * sends a real TLS ClientHello made by OpenSSL with the cloud name as SNI,
 * then one command line the sink understands (see bench_sink.c):
 *
 *	BULK <n>\n	the sink sends n bytes of the pattern, then FIN
 *	REPLY <n>\n	the same, for small replies (connection-rate test)
 *	ECHO\n		the sink echoes everything until EOF
 *
 * The relays never look past the hello, so the sink needs no TLS: what is
 * measured is the relay, not a TLS library.  The pattern is a fixed
 * pseudo-random block of BENCH_BLOCK bytes repeated, so a client can check
 * every byte it received at any offset.
 *
 * Each program prints one line of key=value pairs (its result) on stdout
 * and exits 0 only if every connection did what it should.
 */
#ifndef EVG_BENCH_H
#define EVG_BENCH_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_BLOCK		(1024 * 1024)	/* pattern period */
#define BENCH_HELLO_MAX		2048
#define BENCH_SNI_DEFAULT	"zapcloud.azure-devices.net"
#define BENCH_MAX_SRC		65536

/* A ClientHello made by OpenSSL, as bytes ready to send. */
struct bench_hello {
	uint8_t		 buf[BENCH_HELLO_MAX];
	size_t		 len;
};

/* A list of IPv4 source addresses clients bind to, used round-robin. */
struct bench_srcs {
	struct in_addr	*addr;
	size_t		 n;
};

/* Growable array of samples (nanoseconds). */
struct bench_samples {
	uint64_t	*v;
	size_t		 n, cap;
};

/* Monotonic clock in nanoseconds. */
uint64_t	 bench_now_ns(void);
/* Print "prog: message" to stderr and exit 2 (start-up errors only). */
void		 bench_fatal(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
void		*bench_xcalloc(size_t, size_t);

/* Parse "a.b.c.d:port" into sa; 0 or -1. */
int		 bench_parse_addr(const char *, struct sockaddr_in *);
/* Parse "A" or "A-B" (inclusive range of IPv4 addresses); 0 or -1. */
int		 bench_parse_srcs(const char *, struct bench_srcs *);
/* Parse a size with an optional k/M/G suffix (powers of 1024). */
int		 bench_parse_size(const char *, uint64_t *);

/*
 * A fresh ClientHello for sni from OpenSSL's default client settings
 * (TLS 1.3 and 1.2, the usual extensions and key share).  0 or -1.
 */
int		 bench_make_hello(const char *sni, struct bench_hello *);

/*
 * A non-blocking TCP socket, connect started towards dst, bound to src
 * when src is not NULL (the port is picked at connect time, so source
 * ports are shared by destination).  TCP_NODELAY set.  fd or -1.
 */
int		 bench_connect(const struct sockaddr_in *dst,
		    const struct in_addr *src);
/* Send all of buf on a blocking or non-blocking socket; 0 or -1. */
int		 bench_send_all(int fd, const void *, size_t);

/* The pattern block (BENCH_BLOCK bytes, made once). */
const uint8_t	*bench_pattern(void);
/* Does buf equal the pattern stream at offset off?  1 or 0. */
int		 bench_pattern_check(const uint8_t *, size_t, uint64_t off);

void		 bench_samples_add(struct bench_samples *, uint64_t);
/* Sorts the samples; q in [0, 1]; 0 if there are none. */
uint64_t	 bench_samples_quantile(struct bench_samples *, double q);
void		 bench_samples_free(struct bench_samples *);

/* Raise the open-file soft limit to the hard one; returns the limit. */
unsigned long	 bench_raise_nofile(void);

#endif
