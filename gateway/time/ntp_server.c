/*
 * ntp_server: answer the chargers' NTP requests (see ntp_server.h).
 *
 * Data path: recvmmsg() takes up to 32 datagrams at a time with their
 * kernel receive timestamps; each is checked (pure), rate limited, and
 * answered with one sendmsg() right after reading the clock for the
 * transmit timestamp.  The state and the offset come from the module once
 * per batch, so a request costs two clock reads and no allocation.
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/cfg.h"
#include "common/log.h"
#include "time/ntp_select.h"
#include "time/ntp_server.h"
#include "common/util.h"

#define RX_BATCH	32
#define RX_ROUNDS	8	/* batches per wake-up before yielding */
#define CTL_LEN		(CMSG_SPACE(sizeof(struct timespec)) + \
			 CMSG_SPACE(sizeof(struct in6_pktinfo)) + 64)
#define RL_WAYS		8

const char *
ntp_drop_str(enum ntp_drop d)
{
	static const char *const names[NTP_DROP_NREASONS] = {
		"short", "bad_length", "bad_version", "bad_mode", "auth",
		"rate_limited", "send_error",
	};

	return (unsigned)d < NTP_DROP_NREASONS ? names[d] : "unknown";
}

/* --- pure: checking and answering ------------------------------------ */

enum ntp_drop
ntp_server_check(const uint8_t *buf, size_t len, uint16_t src_port,
    struct ntp_packet *req)
{
	switch (ntp_parse(buf, len, req)) {
	case NTP_PARSE_OK:
		break;
	case NTP_PARSE_SHORT:
		return NTP_DROP_SHORT;
	case NTP_PARSE_VERSION:
		return NTP_DROP_VERSION;
	default:
		return NTP_DROP_LENGTH;
	}
	/*
	 * NTPv1 had no mode field: a client is told apart by its source
	 * port (RFC 1059; chrony does the same).  Version 1 from port 123
	 * is a peer, which we are not.
	 */
	if (req->mode != NTP_MODE_CLIENT &&
	    !(req->mode == NTP_MODE_RESERVED && req->version == 1 &&
	    src_port != NTP_PORT))
		return NTP_DROP_MODE;
	/*
	 * We hold no symmetric keys: an authenticating client would reject
	 * an unauthenticated answer anyway.
	 */
	if (req->mac_len > 0)
		return NTP_DROP_AUTH;
	return NTP_DROP_NREASONS;
}

/* The poll interval we suggest: the client's, but never below 16 s. */
static int8_t
reply_poll(int8_t p)
{
	if (p < 4)
		return 4;
	if (p > 17)
		return 17;
	return p;
}

void
ntp_server_reply(const struct ntp_packet *req, const struct ntp_sysinfo *sys,
    uint64_t rx, struct ntp_packet *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->version = req->version;
	rep->mode = NTP_MODE_SERVER;
	rep->poll = reply_poll(req->poll);
	rep->precision = sys->precision;
	rep->org = req->xmt;
	rep->rec = rx;
	if (sys->synced) {
		double age = ntp_ts_diff(rx, sys->ref);

		rep->leap = sys->leap;
		rep->stratum = sys->stratum;
		rep->refid = sys->refid;
		rep->ref = sys->ref;
		rep->root_delay = ntp_short_from_double(sys->root_delay);
		rep->root_disp = ntp_short_from_double(sys->root_disp +
		    NTP_PHI * (age > 0 ? age : 0));
	} else {
		/*
		 * As chrony does: many embedded clients look only at the
		 * stratum.  Reference time 0 and a huge dispersion make the
		 * careful ones reject it too.
		 */
		rep->leap = NTP_LEAP_ALARM;
		rep->stratum = 0;
		rep->refid = NTP_KISS_INIT;
		rep->ref = 0;
		rep->root_delay = 0;
		rep->root_disp = ntp_short_from_double(NTP_MAXDISP);
	}
}

void
ntp_server_kod(const struct ntp_packet *req, uint32_t code,
    struct ntp_packet *rep)
{
	/*
	 * All timestamps are the request's own transmit time (as ntpd
	 * does): the origin check passes, but nothing in it is time.
	 */
	memset(rep, 0, sizeof(*rep));
	rep->leap = NTP_LEAP_ALARM;
	rep->version = req->version;
	rep->mode = NTP_MODE_SERVER;
	rep->stratum = 0;
	rep->poll = reply_poll(req->poll);
	rep->refid = code;
	rep->ref = rep->org = rep->rec = rep->xmt = req->xmt;
}

/* --- pure: rate limiting --------------------------------------------- */

struct rl_entry {
	uint8_t		 key[16];
	uint8_t		 family;	/* 0: free */
	uint64_t	 tat;		/* GCRA theoretical arrival, ms */
	uint64_t	 kod_ms;	/* last KoD sent, 0: never */
};

struct ntp_ratelimit {
	struct rl_entry	*e;
	size_t		 nsets;		/* power of two */
	uint64_t	 interval;
	uint64_t	 limit;		/* (burst - 1) * interval */
	uint64_t	 kod_every;	/* burst * interval */
	uint64_t	 seed;
	size_t		 used;
	unsigned long	 evictions;
};

struct ntp_ratelimit *
ntp_ratelimit_new(size_t clients, unsigned burst, uint64_t interval_ms,
    uint64_t seed)
{
	struct ntp_ratelimit *rl = xcalloc(1, sizeof(*rl));
	size_t sets = 1;

	while (sets * RL_WAYS < clients && sets < ((size_t)1 << 24))
		sets <<= 1;
	rl->nsets = sets;
	rl->e = xcalloc(sets * RL_WAYS, sizeof(*rl->e));
	if (burst == 0)
		burst = 1;
	if (interval_ms == 0)
		interval_ms = 1;
	rl->interval = interval_ms;
	rl->limit = (uint64_t)(burst - 1) * interval_ms;
	rl->kod_every = (uint64_t)burst * interval_ms;
	rl->seed = seed;
	return rl;
}

void
ntp_ratelimit_free(struct ntp_ratelimit *rl)
{
	if (rl == NULL)
		return;
	free(rl->e);
	free(rl);
}

/* The address as a key; IPv4-mapped IPv6 counts as the IPv4 address. */
static int
rl_key(const struct sockaddr *sa, uint8_t key[16], uint8_t *family)
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		*family = AF_INET;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(key, &a->s6_addr[12], 4);
			*family = AF_INET;
		} else {
			memcpy(key, a, 16);
			*family = AF_INET6;
		}
		return 0;
	}
	return -1;
}

/* A keyed mix of the address (splitmix64 finaliser): not guessable. */
static uint64_t
rl_hash(const struct ntp_ratelimit *rl, const uint8_t key[16])
{
	uint64_t a, b, h;

	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	h = rl->seed ^ a;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= b + 0x9e3779b97f4a7c15ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

enum ntp_rl
ntp_ratelimit_check(struct ntp_ratelimit *rl, const struct sockaddr *sa,
    uint64_t now)
{
	struct rl_entry *set, *e = NULL, *victim = NULL;
	uint8_t key[16], fam;
	uint64_t tat;
	size_t i;

	if (rl_key(sa, key, &fam) == -1)
		return NTP_RL_PASS;
	set = &rl->e[(rl_hash(rl, key) & (rl->nsets - 1)) * RL_WAYS];
	for (i = 0; i < RL_WAYS; i++) {
		if (set[i].family == fam && memcmp(set[i].key, key, 16) == 0) {
			e = &set[i];
			break;
		}
		/*
		 * The victim: a free slot, else the entry with the oldest
		 * arrival time; one whose time is past is no different
		 * from a fresh entry, so forgetting it costs nothing.
		 */
		if (victim == NULL || (victim->family != 0 &&
		    (set[i].family == 0 || set[i].tat < victim->tat)))
			victim = &set[i];
	}
	if (e == NULL) {
		e = victim;
		if (e->family == 0)
			rl->used++;
		else if (e->tat > now)
			rl->evictions++;
		memcpy(e->key, key, 16);
		e->family = fam;
		e->tat = 0;
		e->kod_ms = 0;
	}
	tat = e->tat > now ? e->tat : now;
	if (tat - now > rl->limit) {
		if (e->kod_ms == 0 || now - e->kod_ms >= rl->kod_every) {
			e->kod_ms = now ? now : 1;
			return NTP_RL_KOD;
		}
		return NTP_RL_DROP;
	}
	e->tat = tat + rl->interval;
	return NTP_RL_PASS;
}

size_t
ntp_ratelimit_size(const struct ntp_ratelimit *rl)
{
	return rl ? rl->used : 0;
}

unsigned long
ntp_ratelimit_evictions(const struct ntp_ratelimit *rl)
{
	return rl ? rl->evictions : 0;
}

/* --- the server: sockets --------------------------------------------- */

struct listener {
	struct ntp_server	*srv;
	int			 fd;
	struct event		*ev;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 wildcard;	/* reply with pktinfo */
	char			 text[64];
	int			 keep;		/* in the prepared set */
};

struct rx_slot {
	uint8_t			 buf[NTP_MAX_PACKET + 1];
	struct sockaddr_storage	 from;
	uint8_t			 ctl[CTL_LEN];
	struct iovec		 iov;
};

struct ntp_server {
	struct event_base	*base;
	ntp_server_sys_fn	 sys_fn;
	void			*sys_arg;
	struct listener		**l;
	size_t			 nl;
	struct listener		**pending;
	size_t			 npending;
	int			 prepared;
	struct ntp_ratelimit	*rl;
	struct ntp_server_limits limits;
	struct ntp_ratelimit	*pending_rl;
	struct ntp_server_limits pending_limits;
	struct ntp_server_counters ctr;
	struct rx_slot		*slots;
	struct mmsghdr		*msgs;
	struct log_ratelimit	 log_rl;
};

struct ntp_server *
ntp_server_new(struct event_base *base, ntp_server_sys_fn fn, void *arg)
{
	struct ntp_server *srv = xcalloc(1, sizeof(*srv));
	struct log_ratelimit lrl = LOG_RATELIMIT_INIT(5, 60);

	srv->base = base;
	srv->sys_fn = fn;
	srv->sys_arg = arg;
	srv->slots = xcalloc(RX_BATCH, sizeof(*srv->slots));
	srv->msgs = xcalloc(RX_BATCH, sizeof(*srv->msgs));
	srv->log_rl = lrl;
	return srv;
}

static void
listener_close(struct listener *l)
{
	if (l->ev != NULL)
		event_free(l->ev);
	if (l->fd != -1)
		close(l->fd);
	free(l);
}

static int
is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static struct listener *
listener_open(const struct cfg_sockaddr *a, char *err, size_t errlen)
{
	struct listener *l = xcalloc(1, sizeof(*l));
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&l->ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&l->ss;
	int on = 1, rcvbuf = 1 << 20;

	l->fd = -1;
	memcpy(&l->ss, &a->ss, a->len);
	l->sslen = a->len;
	if (l->ss.ss_family == AF_INET && s4->sin_port == 0)
		s4->sin_port = htons(NTP_PORT);
	else if (l->ss.ss_family == AF_INET6 && s6->sin6_port == 0)
		s6->sin6_port = htons(NTP_PORT);
	format_sockaddr((struct sockaddr *)&l->ss, l->text, sizeof(l->text));
	l->wildcard = is_wildcard(&l->ss);
	l->fd = socket(l->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (l->fd == -1)
		goto fail;
	if (setsockopt(l->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on,
	    sizeof(on)) == -1)
		goto fail;
	/* A bigger queue rides out a burst of a whole car park booting. */
	(void)setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf));
	if (l->ss.ss_family == AF_INET6) {
		if (setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on)) == -1)
			goto fail;
		if (l->wildcard && setsockopt(l->fd, IPPROTO_IPV6,
		    IPV6_RECVPKTINFO, &on, sizeof(on)) == -1)
			goto fail;
	} else if (l->wildcard && setsockopt(l->fd, IPPROTO_IP, IP_PKTINFO,
	    &on, sizeof(on)) == -1)
		goto fail;
	if (bind(l->fd, (struct sockaddr *)&l->ss, l->sslen) == -1)
		goto fail;
	return l;
fail:
	snprintf(err, errlen, "ntp: cannot listen on %s: %s%s", l->text,
	    strerror(errno), errno == EACCES ? " (binding port 123 needs "
	    "root or CAP_NET_BIND_SERVICE)" : "");
	listener_close(l);
	return NULL;
}

static void	 server_read_cb(evutil_socket_t, short, void *);

int
ntp_server_prepare(struct ntp_server *srv, const struct cfg_sockaddr *addrs,
    size_t n, const struct ntp_server_limits *lim, char *err, size_t errlen)
{
	size_t i, j;

	ntp_server_abort(srv);
	srv->pending = xcalloc(n ? n : 1, sizeof(*srv->pending));
	for (i = 0; i < n; i++) {
		struct listener *l = NULL;
		struct sockaddr_storage want;

		memcpy(&want, &addrs[i].ss, addrs[i].len);
		if (want.ss_family == AF_INET &&
		    ((struct sockaddr_in *)&want)->sin_port == 0)
			((struct sockaddr_in *)&want)->sin_port =
			    htons(NTP_PORT);
		else if (want.ss_family == AF_INET6 &&
		    ((struct sockaddr_in6 *)&want)->sin6_port == 0)
			((struct sockaddr_in6 *)&want)->sin6_port =
			    htons(NTP_PORT);
		for (j = 0; j < srv->nl; j++)
			if (!srv->l[j]->keep &&
			    srv->l[j]->sslen == addrs[i].len &&
			    memcmp(&srv->l[j]->ss, &want, addrs[i].len) == 0) {
				l = srv->l[j];
				l->keep = 1;
				break;
			}
		if (l == NULL &&
		    (l = listener_open(&addrs[i], err, errlen)) == NULL) {
			ntp_server_abort(srv);
			return -1;
		}
		srv->pending[srv->npending++] = l;
	}
	srv->pending_limits = *lim;
	if (lim->enabled && (srv->rl == NULL || !srv->limits.enabled ||
	    lim->burst != srv->limits.burst ||
	    lim->interval_ms != srv->limits.interval_ms ||
	    lim->clients != srv->limits.clients)) {
		uint64_t seed;

		arc4random_buf(&seed, sizeof(seed));
		srv->pending_rl = ntp_ratelimit_new(lim->clients, lim->burst,
		    lim->interval_ms, seed);
	}
	srv->prepared = 1;
	return 0;
}

void
ntp_server_abort(struct ntp_server *srv)
{
	size_t i;

	for (i = 0; i < srv->npending; i++) {
		struct listener *l = srv->pending[i];

		if (l->keep)
			l->keep = 0;	/* still ours, in srv->l */
		else
			listener_close(l);
	}
	free(srv->pending);
	srv->pending = NULL;
	srv->npending = 0;
	ntp_ratelimit_free(srv->pending_rl);
	srv->pending_rl = NULL;
	srv->prepared = 0;
}

void
ntp_server_commit(struct ntp_server *srv)
{
	size_t i;

	if (!srv->prepared)
		return;
	for (i = 0; i < srv->nl; i++)
		if (!srv->l[i]->keep) {
			log_info("ntp: no longer serving on %s",
			    srv->l[i]->text);
			listener_close(srv->l[i]);
		}
	free(srv->l);
	srv->l = srv->pending;
	srv->nl = srv->npending;
	srv->pending = NULL;
	srv->npending = 0;
	for (i = 0; i < srv->nl; i++) {
		struct listener *l = srv->l[i];

		if (l->ev == NULL) {
			l->srv = srv;
			l->ev = event_new(srv->base, l->fd,
			    EV_READ | EV_PERSIST, server_read_cb, l);
			event_add(l->ev, NULL);
			log_info("ntp: serving on %s", l->text);
		}
		l->keep = 0;
	}
	if (!srv->pending_limits.enabled) {
		ntp_ratelimit_free(srv->rl);
		srv->rl = NULL;
	} else if (srv->pending_rl != NULL) {
		ntp_ratelimit_free(srv->rl);
		srv->rl = srv->pending_rl;
	}
	srv->pending_rl = NULL;
	srv->limits = srv->pending_limits;
	srv->prepared = 0;
}

void
ntp_server_free(struct ntp_server *srv)
{
	size_t i;

	if (srv == NULL)
		return;
	ntp_server_abort(srv);
	for (i = 0; i < srv->nl; i++)
		listener_close(srv->l[i]);
	free(srv->l);
	ntp_ratelimit_free(srv->rl);
	free(srv->slots);
	free(srv->msgs);
	free(srv);
}

void
ntp_server_counters(const struct ntp_server *srv,
    struct ntp_server_counters *c)
{
	*c = srv->ctr;
	c->listeners = srv->nl;
	c->clients = ntp_ratelimit_size(srv->rl);
	c->evictions = ntp_ratelimit_evictions(srv->rl);
}

const char *
ntp_server_listener(const struct ntp_server *srv, size_t i)
{
	return i < srv->nl ? srv->l[i]->text : NULL;
}

/* --- the server: answering ------------------------------------------- */

static uint16_t
sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

/*
 * Send one reply.  The transmit timestamp is read here, as late as we
 * can, and corrected by the tracked offset like the receive time.
 */
static int
server_send(struct listener *l, struct ntp_packet *rep, int set_xmt,
    double offset, struct sockaddr_storage *to, socklen_t tolen,
    const struct msghdr *rxmsg)
{
	uint8_t out[NTP_HEADER_LEN];
	uint8_t ctl[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct iovec iov = { out, sizeof(out) };
	struct msghdr mh;
	struct cmsghdr *c;
	struct timespec now;

	memset(&mh, 0, sizeof(mh));
	mh.msg_name = to;
	mh.msg_namelen = tolen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (l->wildcard) {
		/* Answer from the address the request was sent to. */
		memset(ctl, 0, sizeof(ctl));
		for (c = CMSG_FIRSTHDR(rxmsg); c != NULL;
		    c = CMSG_NXTHDR((struct msghdr *)rxmsg, c)) {
			if (c->cmsg_level == IPPROTO_IP &&
			    c->cmsg_type == IP_PKTINFO) {
				struct in_pktinfo pi;
				struct cmsghdr *o;

				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				pi.ipi_spec_dst = pi.ipi_addr;
				pi.ipi_ifindex = 0;
				mh.msg_control = ctl;
				mh.msg_controllen = CMSG_SPACE(sizeof(pi));
				o = CMSG_FIRSTHDR(&mh);
				o->cmsg_level = IPPROTO_IP;
				o->cmsg_type = IP_PKTINFO;
				o->cmsg_len = CMSG_LEN(sizeof(pi));
				memcpy(CMSG_DATA(o), &pi, sizeof(pi));
			} else if (c->cmsg_level == IPPROTO_IPV6 &&
			    c->cmsg_type == IPV6_PKTINFO) {
				struct in6_pktinfo pi;
				struct cmsghdr *o;

				memcpy(&pi, CMSG_DATA(c), sizeof(pi));
				mh.msg_control = ctl;
				mh.msg_controllen = CMSG_SPACE(sizeof(pi));
				o = CMSG_FIRSTHDR(&mh);
				o->cmsg_level = IPPROTO_IPV6;
				o->cmsg_type = IPV6_PKTINFO;
				o->cmsg_len = CMSG_LEN(sizeof(pi));
				memcpy(CMSG_DATA(o), &pi, sizeof(pi));
			}
		}
	}
	if (set_xmt) {
		clock_gettime(CLOCK_REALTIME, &now);
		rep->xmt = ntp_ts_add(ntp_ts_from_timespec(&now), offset);
	}
	ntp_encode(rep, out);
	return sendmsg(l->fd, &mh, 0) == (ssize_t)sizeof(out) ? 0 : -1;
}

static void
server_handle(struct listener *l, struct rx_slot *s, struct mmsghdr *m,
    const struct ntp_sysinfo *sys, double offset, uint64_t now_ms)
{
	struct ntp_server *srv = l->srv;
	struct ntp_packet req, rep;
	struct timespec rx;
	struct cmsghdr *c;
	enum ntp_drop why;
	char addr[64];
	int have_ts = 0;

	srv->ctr.requests++;
	if (m->msg_hdr.msg_flags & MSG_TRUNC)
		why = NTP_DROP_LENGTH;
	else
		why = ntp_server_check(s->buf, m->msg_len, sa_port(&s->from),
		    &req);
	if (why != NTP_DROP_NREASONS) {
		srv->ctr.drops[why]++;
		log_warnx_rl(&srv->log_rl, "ntp: dropped a request from %s "
		    "on %s: %s", format_sockaddr((struct sockaddr *)&s->from,
		    addr, sizeof(addr)), l->text, ntp_drop_str(why));
		return;
	}
	if (srv->rl != NULL) {
		switch (ntp_ratelimit_check(srv->rl,
		    (struct sockaddr *)&s->from, now_ms)) {
		case NTP_RL_PASS:
			break;
		case NTP_RL_KOD:
			srv->ctr.drops[NTP_DROP_RATE]++;
			ntp_server_kod(&req, NTP_KISS_RATE, &rep);
			if (server_send(l, &rep, 0, 0, &s->from,
			    m->msg_hdr.msg_namelen, &m->msg_hdr) == 0)
				srv->ctr.kod_sent++;
			log_warnx_rl(&srv->log_rl, "ntp: %s is over its rate "
			    "limit: dropping, told it to slow down (RATE)",
			    format_sockaddr((struct sockaddr *)&s->from, addr,
			    sizeof(addr)));
			return;
		default:
			srv->ctr.drops[NTP_DROP_RATE]++;
			return;
		}
	}
	for (c = CMSG_FIRSTHDR(&m->msg_hdr); c != NULL;
	    c = CMSG_NXTHDR(&m->msg_hdr, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(rx))) {
			memcpy(&rx, CMSG_DATA(c), sizeof(rx));
			have_ts = 1;
		}
	if (!have_ts) {
		clock_gettime(CLOCK_REALTIME, &rx);
		srv->ctr.no_kernel_ts++;
	}
	ntp_server_reply(&req, sys, ntp_ts_add(ntp_ts_from_timespec(&rx),
	    offset), &rep);
	if (server_send(l, &rep, 1, offset, &s->from, m->msg_hdr.msg_namelen,
	    &m->msg_hdr) == -1) {
		srv->ctr.drops[NTP_DROP_SEND]++;
		log_warnx_rl(&srv->log_rl, "ntp: reply to %s: %s",
		    format_sockaddr((struct sockaddr *)&s->from, addr,
		    sizeof(addr)), strerror(errno));
		return;
	}
	if (sys->synced)
		srv->ctr.replies++;
	else
		srv->ctr.unsync_replies++;
}

static void
server_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct ntp_server *srv = l->srv;
	struct ntp_sysinfo sys;
	double offset = 0;
	uint64_t now_ms;
	int round, i, n;

	memset(&sys, 0, sizeof(sys));
	srv->sys_fn(srv->sys_arg, &sys, &offset);
	now_ms = now_mono_ms();
	for (round = 0; round < RX_ROUNDS; round++) {
		for (i = 0; i < RX_BATCH; i++) {
			struct rx_slot *s = &srv->slots[i];
			struct msghdr *h = &srv->msgs[i].msg_hdr;

			s->iov.iov_base = s->buf;
			s->iov.iov_len = sizeof(s->buf);
			memset(h, 0, sizeof(*h));
			h->msg_name = &s->from;
			h->msg_namelen = sizeof(s->from);
			h->msg_iov = &s->iov;
			h->msg_iovlen = 1;
			h->msg_control = s->ctl;
			h->msg_controllen = sizeof(s->ctl);
		}
		n = recvmmsg(fd, srv->msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				log_warnx_rl(&srv->log_rl, "ntp: recvmmsg on "
				    "%s: %s", l->text, strerror(errno));
			return;
		}
		for (i = 0; i < n; i++)
			server_handle(l, &srv->slots[i], &srv->msgs[i], &sys,
			    offset, now_ms);
		if (n < RX_BATCH)
			return;
	}
}
