/*
 * relay: the outbound-only TLS relay, the heart of evgated.
 *
 * A charger connects to the gateway on a route's port.  Each connection is
 * a small state machine (PEEK -> RESOLVE -> CONNECT -> SPLICE -> CLOSE):
 * read the ClientHello (bounded, with a deadline), take its SNI, allow it
 * only if the port's allowlist matches, resolve the name with the site's
 * own resolvers, connect, forward the hello, then move bytes both ways:
 * small ones by read and write, bulk with splice(2) through pipes
 * borrowed from a pool only while data is in flight.  An idle relayed connection holds exactly two descriptors (the
 * charger's socket and the cloud's) and no buffers.  TLS is never
 * terminated here.
 *
 * Refusals never contact an upstream; each is counted by reason.  The
 * relay itself reports nothing: every connection's end goes to the record
 * callbacks (relay_report.c logs it and makes it an event; the site counts
 * it per charger).  One event base, one thread.
 */
#ifndef EVG_RELAY_H
#define EVG_RELAY_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

struct event_base;
struct cfg_relay;
struct resolver_ops;
struct netpolicy;
struct relay;

enum relay_state {
	RELAY_PEEK = 0,		/* waiting for the whole ClientHello */
	RELAY_RESOLVE,		/* asking the resolver for the SNI's address */
	RELAY_CONNECT,		/* TCP connect to upstream (or the proxy) */
	RELAY_PROXY,		/* HTTP CONNECT exchange with the proxy */
	RELAY_SPLICE,		/* forwarding both ways */
	RELAY_CLOSE,		/* being torn down */
	RELAY_NSTATES
};

enum relay_refusal {
	REFUSE_NOT_TLS = 0,	/* first bytes are not a TLS handshake */
	REFUSE_MALFORMED,	/* a broken or SSLv2 ClientHello */
	REFUSE_TOO_BIG,		/* hello larger than we read */
	REFUSE_NO_SNI,		/* hello without server_name */
	REFUSE_BAD_SNI,		/* SNI is an IP literal, several names, ... */
	REFUSE_NOT_ALLOWED,	/* SNI not on any allowlist */
	REFUSE_WRONG_PORT,	/* SNI allowed, but on another port */
	REFUSE_HELLO_TIMEOUT,	/* hello did not arrive in time */
	REFUSE_CLIENT_GONE,	/* client closed before a complete hello */
	REFUSE_LIMIT_CLIENT,	/* per-client connection limit */
	REFUSE_LIMIT_TOTAL,	/* total connection limit */
	REFUSE_RESOLVE,		/* the name did not resolve */
	REFUSE_CONNECT,		/* no upstream address accepted a connection */
	REFUSE_PROXY,		/* the upstream proxy said no */
	REFUSE_ADDRESS,		/* every address forbidden (netpolicy.h) */
	REFUSE_NREASONS
};

/* Why a relayed (spliced) connection ended. */
enum relay_close {
	CLOSE_NONE = 0,
	CLOSE_DONE,		/* both sides closed cleanly */
	CLOSE_CLIENT_RESET,	/* error on the charger's side */
	CLOSE_UPSTREAM_RESET,	/* error on the cloud's side */
	CLOSE_IDLE,		/* no bytes for timeouts.idle */
	CLOSE_RELOAD,		/* a reload no longer allows it */
	CLOSE_SHUTDOWN,		/* the daemon stopped (drain expired) */
	CLOSE_REFUSED,		/* never relayed: see the refusal */
	CLOSE_NREASONS
};

#define RELAY_CHARGER_MAX	64	/* charger id or MAC, with the NUL */
#define RELAY_MAX_RECORD_CBS	4

/* What the relay knows about one connection: live, or at its end. */
struct relay_record {
	uint64_t		 id;
	union sockaddr_any	 client;
	union sockaddr_any	 upstream;	/* family 0 until connected */
	uint16_t		 port;		/* route port */
	const char		*sni;		/* NULL until the hello is read */
	enum relay_state	 state;
	enum relay_close	 close;
	enum relay_refusal	 refusal;	/* valid when close == REFUSED */
	uint64_t		 start_wall_ms;
	uint64_t		 start_mono_ms;
	uint64_t		 end_mono_ms;	/* 0 while live */
	uint64_t		 bytes_up;	/* charger -> cloud */
	uint64_t		 bytes_down;	/* cloud -> charger */
	/* Who the client is, by its DHCP lease: the charger id, else its
	 * MAC; "" when the namer knows nothing (set once, at accept). */
	char			 charger[RELAY_CHARGER_MAX];
};

struct relay_counters {
	unsigned long	 accepted;
	unsigned long	 relayed;	/* reached SPLICE */
	unsigned long	 closed;
	unsigned long	 refused[REFUSE_NREASONS];
	unsigned long	 closes[CLOSE_NREASONS];
	unsigned long	 accept_errors;
	uint64_t	 bytes_up;	/* closed and live connections */
	uint64_t	 bytes_down;
	size_t		 active;
	size_t		 by_state[RELAY_NSTATES];
	size_t		 pipes_in_use;
	size_t		 pipes_pooled;
	size_t		 pipes_big;	/* of those, 1 MiB bulk pipes */
	unsigned long	 copy_fallbacks;	/* a buffer instead of a pipe */
	size_t		 listeners;
};

/* Called for every connection at its end (relayed or refused). */
typedef void (*relay_record_cb)(const struct relay_record *, void *arg);

/*
 * A relay that resolves names through ops (resolver.h's resolver_ops with
 * the resolver, or a test's own) with res_ctx, and connects only where
 * the upstream address policy np allows (NULL: anywhere; tests).  It
 * listens nowhere until the first commit.
 */
struct relay	*relay_new(struct event_base *, const struct resolver_ops *,
		    void *res_ctx, struct netpolicy *np);
/*
 * The module lifecycle (daemon/module.h).  prepare opens the listeners r
 * needs that are not open yet (r NULL: the relay is to stop) and fails
 * (-1, err) when one cannot be opened, with nothing changed.  commit
 * closes the listeners r no longer has, starts accepting on the new ones
 * and applies r to what is in flight:
 *   - PEEK (no hello yet): decided by r when the hello arrives; refused
 *     ("not-allowed") now when r is NULL;
 *   - RESOLVE, CONNECT, PROXY: go on if r still allows the name on the
 *     port, else refused "not-allowed";
 *   - SPLICE: go on if r still allows the name on the port, else closed
 *     with CLOSE_RELOAD.
 * abort closes what prepare opened.  r must stay valid until the next
 * commit: the relay keeps the pointer.
 */
int		 relay_prepare(struct relay *, const struct cfg_relay *,
		    char *err, size_t errlen);
void		 relay_commit(struct relay *);
void		 relay_abort(struct relay *);
/* prepare and commit in one (tests). */
int		 relay_configure(struct relay *, const struct cfg_relay *,
		    char *err, size_t errlen);
/*
 * The process's descriptor limit (RLIMIT_NOFILE).  The relay counts what
 * it holds -- two sockets per connection, two per pipe in use or pooled --
 * and takes a new pipe only while every connection's sockets still fit;
 * a busy direction without a pipe copies through a 16 KiB buffer, which
 * costs CPU, not the connection.  relay_max_conns: the connections that
 * fit with a reserve of 256 pipes (status, and a warning at reload).
 */
void		 relay_set_fd_limit(struct relay *, unsigned nofile);
unsigned	 relay_max_conns(const struct relay *);
/* The configuration in force, or NULL when off. */
const struct cfg_relay *relay_conf(const struct relay *);
/*
 * Record callbacks: every one added is called, in order, for every
 * connection's end.  relay_set_record_cb sets the first slot (replacing
 * what it held); relay_add_record_cb appends to the other
 * RELAY_MAX_RECORD_CBS - 1 slots, so several consumers coexist whatever
 * the order they register in.
 */
void		 relay_set_record_cb(struct relay *, relay_record_cb, void *);
void		 relay_add_record_cb(struct relay *, relay_record_cb, void *);
/*
 * The namer gives a client address a name (charger id or MAC) at accept
 * time; the relay copies at most RELAY_CHARGER_MAX - 1 bytes of it into
 * the record.  It may return NULL.  NULL fn: no naming.
 */
typedef const char *(*relay_namer_fn)(const union sockaddr_any *, void *);
void		 relay_set_namer(struct relay *, relay_namer_fn, void *);
/* Stop accepting (graceful stop).  Existing connections carry on. */
void		 relay_stop_listening(struct relay *);
/* Close every connection now (CLOSE_SHUTDOWN). */
void		 relay_close_all(struct relay *);
void		 relay_free(struct relay *);

void		 relay_counters(const struct relay *, struct relay_counters *);
/* Call fn for every live connection, in arrival order. */
void		 relay_foreach(const struct relay *,
		    void (*)(const struct relay_record *, void *), void *);

const char	*relay_state_str(enum relay_state);
const char	*relay_refusal_str(enum relay_refusal);
const char	*relay_close_str(enum relay_close);

#endif
