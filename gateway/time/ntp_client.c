/*
 * ntp_client: poll upstream NTP servers, filter, select (see ntp_client.h).
 *
 * Sources are the configured entries (a name or an address); peers are
 * the servers they stand for.  Each peer has a poll timer; a poll opens a
 * connected UDP socket, sends one client packet with a random cookie and
 * waits for one answer (NTP_QUERY_TIMEOUT_MS).  Everything runs on the
 * daemon's loop; nothing blocks.
 */
#include "evgate_config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "time/ntp.h"
#include "time/ntp_client.h"
#include "relay/resolver.h"
#include "common/util.h"

#define RERESOLVE_MS		3600000	/* names are looked up again hourly */
#define RERESOLVE_FAIL_MS	300000	/* or after 5 min if all failed */
#define RESOLVE_RETRY_MS	30000	/* first retry after a failed lookup */
#define RESOLVE_RETRY_MAX_MS	900000
#define UNREACHABLE_MISSES	3
#define STEP_REPOLL_MS		2000

struct source;

struct peer {
	TAILQ_ENTRY(peer)	 entry;
	struct ntp_client	*cl;
	struct source		*src;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 addr[64];
	/* the query in flight */
	int			 fd;
	struct event		*rx_ev;
	uint64_t		 cookie;
	uint64_t		 t1;		/* our send time, wire form */
	/* polling */
	struct event		*poll_ev;
	unsigned		 burst_left;
	uint64_t		 poll_ms;
	int			 score;
	uint8_t			 reach;
	unsigned		 misses;	/* polls in a row unanswered */
	int			 denied;	/* KoD DENY/RSTR */
	/* from the last good reply */
	uint8_t			 leap;
	uint8_t			 stratum;
	uint32_t		 refid;
	double			 root_delay, root_disp;
	struct ntp_filter	 filter;
	double			 last_offset;	/* newest good sample */
	uint64_t		 last_good_ms;	/* 0: none yet */
	enum ntp_reply		 last_reply;
	int			 replied;	/* judged at least one reply */
	/* what the last selection said */
	enum ntp_peer_state	 state;
	unsigned long		 polls, replies, kods, bogus;
	int			 mark;
};

struct source {
	TAILQ_ENTRY(source)	 entry;
	struct ntp_client	*cl;
	char			*text;		/* as configured */
	char			*name;		/* NULL: an address */
	uint16_t		 port;
	struct sockaddr_storage	 ss;		/* for an address */
	socklen_t		 sslen;
	struct resolver_wait	*wait;
	struct event		*resolve_ev;
	uint64_t		 retry_ms;
	uint64_t		 resolved_ms;	/* monotonic, 0: never */
	int			 mark;
};

TAILQ_HEAD(peer_list, peer);
TAILQ_HEAD(source_list, source);

struct ntp_client {
	struct event_base	*base;
	struct resolver		*res;
	ntp_client_update_fn	 update;
	ntp_client_notice_fn	 notice;
	ntp_client_corr_fn	 corr;
	void			*arg;
	struct source_list	 sources;
	struct peer_list	 peers;
	size_t			 npeers;
	struct peer		*sys_peer;
	uint64_t		 poll_min_ms, poll_max_ms;
	int			 precision;
	struct log_ratelimit	 log_rl;
};

static void	 peer_poll_cb(evutil_socket_t, short, void *);
static void	 source_resolve(struct source *);
static void	 client_select(struct ntp_client *, struct peer *fresh);

/* --- pure: judging a reply ------------------------------------------- */

const char *
ntp_reply_str(enum ntp_reply r)
{
	static const char *const names[NTP_REPLY_NSTATUS] = {
		"ok", "malformed", "not a server reply", "bogus origin",
		"kiss-o'-death RATE", "kiss-o'-death DENY/RSTR",
		"server not synchronised", "stratum too high",
		"root distance too large", "inconsistent timestamps",
	};

	return (unsigned)r < NTP_REPLY_NSTATUS ? names[r] : "unknown";
}

enum ntp_reply
ntp_client_judge(const uint8_t *buf, size_t len, uint64_t cookie,
    uint64_t t1, uint64_t t4, int precision, struct ntp_packet *pkt,
    struct ntp_sample *s)
{
	double rtt, held, delay, disp;

	if (ntp_parse(buf, len, pkt) != NTP_PARSE_OK)
		return NTP_REPLY_MALFORMED;
	if (pkt->mode != NTP_MODE_SERVER)
		return NTP_REPLY_MODE;
	/* Only an answer to the query we sent, never a replay or a guess. */
	if (pkt->org != cookie)
		return NTP_REPLY_BOGUS;
	if (pkt->stratum == 0) {
		if (pkt->refid == NTP_KISS_RATE)
			return NTP_REPLY_KOD_RATE;
		if (pkt->refid == NTP_KISS_DENY || pkt->refid == NTP_KISS_RSTR)
			return NTP_REPLY_KOD_DENY;
		return NTP_REPLY_UNSYNC;
	}
	if (pkt->leap == NTP_LEAP_ALARM || pkt->stratum >= NTP_MAX_STRATUM ||
	    pkt->ref == 0)
		return NTP_REPLY_UNSYNC;
	/* We serve upstream + 1, and 16 means "not synchronised". */
	if (pkt->stratum >= NTP_MAX_STRATUM - 1)
		return NTP_REPLY_STRATUM;
	if (pkt->rec == 0 || pkt->xmt == 0)
		return NTP_REPLY_TIMES;
	rtt = ntp_ts_diff(t4, t1);
	held = ntp_ts_diff(pkt->xmt, pkt->rec);
	if (rtt < 0 || held < 0 || held > rtt ||
	    ntp_ts_diff(pkt->xmt, pkt->ref) < 0)
		return NTP_REPLY_TIMES;
	delay = rtt - held;
	if (delay < ntp_log2_to_double(precision))
		delay = ntp_log2_to_double(precision);
	disp = ntp_log2_to_double(precision) +
	    ntp_log2_to_double(pkt->precision) + NTP_PHI * rtt;
	if ((ntp_short_to_double(pkt->root_delay) + delay) / 2 +
	    ntp_short_to_double(pkt->root_disp) + disp >= NTP_MAXDIST)
		return NTP_REPLY_DISTANCE;
	memset(s, 0, sizeof(*s));
	s->offset = (ntp_ts_diff(pkt->rec, t1) + ntp_ts_diff(pkt->xmt, t4)) / 2;
	s->delay = delay;
	s->disp = disp;
	return NTP_REPLY_OK;
}

uint32_t
ntp_refid_for(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
		    (const struct sockaddr_in6 *)sa;
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;

		if (EVP_Digest(&s6->sin6_addr, sizeof(s6->sin6_addr), md,
		    &mdlen, EVP_md5(), NULL) == 1 && mdlen >= 4)
			return (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 |
			    (uint32_t)md[2] << 8 | md[3];
		/* No MD5 (FIPS): the address's last four bytes. */
		return (uint32_t)s6->sin6_addr.s6_addr[12] << 24 |
		    (uint32_t)s6->sin6_addr.s6_addr[13] << 16 |
		    (uint32_t)s6->sin6_addr.s6_addr[14] << 8 |
		    s6->sin6_addr.s6_addr[15];
	}
	return 0;
}

const char *
ntp_peer_state_str(enum ntp_peer_state st)
{
	static const char *const names[NTP_PEER_NSTATES] = {
		"new", "selected", "candidate", "falseticker",
		"unsynchronised", "rejected", "kod", "unreachable",
	};

	return (unsigned)st < NTP_PEER_NSTATES ? names[st] : "unknown";
}

/* --- peers ----------------------------------------------------------- */

static uint64_t
random64(void)
{
	uint64_t v;

	do
		arc4random_buf(&v, sizeof(v));
	while (v == 0);
	return v;
}

static void
peer_query_close(struct peer *p)
{
	if (p->rx_ev != NULL) {
		event_free(p->rx_ev);
		p->rx_ev = NULL;
	}
	if (p->fd != -1) {
		close(p->fd);
		p->fd = -1;
	}
}

static void
peer_schedule(struct peer *p, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(p->poll_ev, &tv);
}

static struct peer *
peer_new(struct source *src, const struct sockaddr_storage *ss,
    socklen_t len)
{
	struct ntp_client *cl = src->cl;
	struct peer *p = xcalloc(1, sizeof(*p));

	p->cl = cl;
	p->src = src;
	memcpy(&p->ss, ss, len);
	p->sslen = len;
	format_sockaddr((struct sockaddr *)&p->ss, p->addr, sizeof(p->addr));
	p->fd = -1;
	p->poll_ev = evtimer_new(cl->base, peer_poll_cb, p);
	p->burst_left = NTP_BURST;
	p->poll_ms = cl->poll_min_ms;
	p->state = NTP_PEER_NEW;
	ntp_filter_clear(&p->filter);
	cl->npeers++;
	/* Start within half a second, spread so peers do not march. */
	peer_schedule(p, arc4random_uniform(500));
	log_info("ntp: polling %s (%s)", p->addr, src->text);
	return p;
}

static void
peer_free(struct peer *p)
{
	struct ntp_client *cl = p->cl;

	if (cl->sys_peer == p)
		cl->sys_peer = NULL;
	peer_query_close(p);
	event_free(p->poll_ev);
	TAILQ_REMOVE(&cl->peers, p, entry);
	cl->npeers--;
	free(p);
}

static int
log2_ms(uint64_t ms)
{
	int e = 0;

	while (e < 17 && ((uint64_t)1000 << (e + 1)) <= ms)
		e++;
	return e;
}

/* A poll without an answer (timed out, or we could not even send). */
static void
peer_missed(struct peer *p)
{
	p->misses++;
	p->score = 0;
	client_select(p->cl, NULL);
}

/* The kernel's receive time of the datagram in mh (SO_TIMESTAMPNS). */
static void
rx_time(struct msghdr *mh, struct timespec *rx)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(*rx))) {
			memcpy(rx, CMSG_DATA(c), sizeof(*rx));
			return;
		}
	/* None given: now is the best we have. */
	clock_gettime(CLOCK_REALTIME, rx);
}

/*
 * Read the answer to p's query from fd and judge it.  Up to 4 datagrams
 * per call: one that does not answer our query (a late duplicate, or
 * someone guessing) is counted and skipped, and we keep waiting.  1 with
 * the verdict, the packet and the sample; 0 to keep waiting; -1 when the
 * socket failed (logged).
 */
static int
peer_read_reply(struct peer *p, evutil_socket_t fd, enum ntp_reply *v,
    struct ntp_packet *pkt, struct ntp_sample *s)
{
	struct ntp_client *cl = p->cl;
	uint8_t buf[NTP_MAX_PACKET + 1];
	uint8_t ctl[CMSG_SPACE(sizeof(struct timespec)) + 64];
	struct timespec rx;
	struct msghdr mh;
	struct iovec iov;
	ssize_t n;
	int i;

	for (i = 0; i < 4; i++) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = buf;
		iov.iov_len = sizeof(buf);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl;
		mh.msg_controllen = sizeof(ctl);
		if ((n = recvmsg(fd, &mh, MSG_DONTWAIT)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			/* ICMP unreachable on a connected socket. */
			log_debug("ntp: %s: %s", p->addr, strerror(errno));
			return -1;
		}
		rx_time(&mh, &rx);
		*v = ntp_client_judge(buf, (mh.msg_flags & MSG_TRUNC) ?
		    sizeof(buf) : (size_t)n, p->cookie, p->t1,
		    ntp_ts_from_timespec(&rx), cl->precision, pkt, s);
		if (*v != NTP_REPLY_BOGUS)
			return 1;
		p->bogus++;
		log_warnx_rl(&cl->log_rl, "ntp: %s: a reply that does not "
		    "answer our query (origin mismatch)", p->addr);
	}
	return 0;
}

/* Poll p half as often, up to the configured maximum. */
static void
peer_poll_slower(struct peer *p)
{
	struct ntp_client *cl = p->cl;

	p->poll_ms = p->poll_ms * 2 > cl->poll_max_ms ? cl->poll_max_ms :
	    p->poll_ms * 2;
}

/*
 * Adapt p's poll interval to sample s: a server whose samples agree is
 * polled less often once its initial burst is over (up to poll_max), one
 * that jumps about more often (down to poll_min).  The first sample has
 * nothing to agree with.
 */
static void
peer_adapt_poll(struct peer *p, const struct ntp_sample *s)
{
	struct ntp_client *cl = p->cl;
	struct ntp_sample best;
	double jitter = 0, gate;

	if (p->last_good_ms == 0)
		return;
	(void)ntp_filter_best(&p->filter, &best, &jitter);
	gate = 4 * (jitter > 1e-3 ? jitter : 1e-3);
	p->score += fabs(s->offset - p->last_offset) > gate ? -2 : 1;
	if (p->burst_left == 0 && p->score >= 4) {
		peer_poll_slower(p);
		p->score = 0;
	} else if (p->score <= -4) {
		p->poll_ms = p->poll_ms / 2 < cl->poll_min_ms ?
		    cl->poll_min_ms : p->poll_ms / 2;
		p->score = 0;
	}
}

/* A usable sample: into p's filter, and select again. */
static void
peer_take_sample(struct peer *p, const struct ntp_packet *pkt,
    struct ntp_sample *s)
{
	struct ntp_client *cl = p->cl;

	s->mono_ms = now_mono_ms();
	/* Against the steady clock: known clock movements removed. */
	if (cl->corr != NULL)
		s->offset += cl->corr(cl->arg, s->mono_ms);
	p->leap = pkt->leap;
	p->stratum = pkt->stratum;
	p->refid = pkt->refid;
	p->root_delay = ntp_short_to_double(pkt->root_delay);
	p->root_disp = ntp_short_to_double(pkt->root_disp);
	peer_adapt_poll(p, s);
	ntp_filter_add(&p->filter, s);
	p->last_offset = s->offset;
	p->last_good_ms = s->mono_ms;
	log_debug("ntp: %s: offset %+.6f delay %.6f stratum %d", p->addr,
	    s->offset, s->delay, pkt->stratum);
	client_select(cl, p);
}

/* Kiss-o'-death RATE: the server asks us to poll less often. */
static void
peer_kod_rate(struct peer *p)
{
	struct ntp_client *cl = p->cl;

	p->kods++;
	p->burst_left = 0;
	peer_poll_slower(p);
	log_warnx("ntp: %s (%s) asks us to poll less often (RATE); "
	    "polling every %llus", p->addr, p->src->text,
	    (unsigned long long)(p->poll_ms / 1000));
	if (cl->notice != NULL)
		cl->notice(p->src->text, p->addr, "rate", cl->arg);
}

/* Kiss-o'-death DENY or RSTR: the server refuses us; stop polling it. */
static void
peer_kod_deny(struct peer *p, const struct ntp_packet *pkt)
{
	struct ntp_client *cl = p->cl;

	p->kods++;
	p->denied = 1;
	evtimer_del(p->poll_ev);
	log_warnx("ntp: %s (%s) denies us service (%s): no longer "
	    "using it", p->addr, p->src->text,
	    pkt->refid == NTP_KISS_RSTR ? "RSTR" : "DENY");
	if (cl->notice != NULL)
		cl->notice(p->src->text, p->addr, "denied", cl->arg);
}

/* The answer to p's query, or its timeout. */
static void
peer_rx_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	struct ntp_packet pkt;
	struct ntp_sample s;
	enum ntp_reply v;
	int rv;

	if (what & EV_TIMEOUT) {
		peer_query_close(p);
		log_debug("ntp: no reply from %s", p->addr);
		peer_missed(p);
		return;
	}
	if ((rv = peer_read_reply(p, fd, &v, &pkt, &s)) == 0)
		return;
	peer_query_close(p);
	if (rv == -1) {
		peer_missed(p);
		return;
	}
	p->last_reply = v;
	p->replied = 1;
	p->replies++;
	p->reach |= 1;
	p->misses = 0;
	switch (v) {
	case NTP_REPLY_OK:
		peer_take_sample(p, &pkt, &s);	/* selects */
		return;
	case NTP_REPLY_KOD_RATE:
		peer_kod_rate(p);
		break;
	case NTP_REPLY_KOD_DENY:
		peer_kod_deny(p, &pkt);
		break;
	default:
		log_debug("ntp: %s: reply not usable: %s", p->addr,
		    ntp_reply_str(v));
		break;
	}
	client_select(p->cl, NULL);
}

static void
peer_send(struct peer *p)
{
	struct ntp_client *cl = p->cl;
	struct ntp_packet q;
	uint8_t out[NTP_HEADER_LEN];
	struct timespec now;
	struct timeval tv = { NTP_QUERY_TIMEOUT_MS / 1000,
	    (NTP_QUERY_TIMEOUT_MS % 1000) * 1000 };
	int on = 1;

	p->reach <<= 1;
	p->polls++;
	/*
	 * A new socket per query: the kernel picks a fresh random source
	 * port, and a connected socket takes answers from the server's
	 * address only.
	 */
	p->fd = socket(p->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (p->fd == -1 || setsockopt(p->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on,
	    sizeof(on)) == -1 ||
	    connect(p->fd, (struct sockaddr *)&p->ss, p->sslen) == -1)
		goto fail;
	memset(&q, 0, sizeof(q));
	q.version = NTP_VERSION;
	q.mode = NTP_MODE_CLIENT;
	q.poll = (int8_t)log2_ms(p->poll_ms);
	q.precision = (int8_t)cl->precision;
	/* Not our time: a cookie only the server's answer can echo. */
	p->cookie = q.xmt = random64();
	ntp_encode(&q, out);
	clock_gettime(CLOCK_REALTIME, &now);
	p->t1 = ntp_ts_from_timespec(&now);
	if (send(p->fd, out, sizeof(out), 0) != (ssize_t)sizeof(out))
		goto fail;
	p->rx_ev = event_new(cl->base, p->fd, EV_READ | EV_PERSIST,
	    peer_rx_cb, p);
	event_add(p->rx_ev, &tv);
	return;
fail:
	log_warnx_rl(&cl->log_rl, "ntp: cannot query %s: %s", p->addr,
	    strerror(errno));
	peer_query_close(p);
	peer_missed(p);
}

static void
peer_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	uint64_t next;

	if (p->fd != -1) {
		/* The previous query is still open: it is lost. */
		peer_query_close(p);
		peer_missed(p);
	}
	if (p->denied)
		return;
	if (p->burst_left > 0)
		p->burst_left--;
	next = p->burst_left > 0 ? NTP_BURST_MS :
	    p->poll_ms + arc4random_uniform((uint32_t)(p->poll_ms / 32 + 1));
	peer_schedule(p, next);
	peer_send(p);
}

/* --- state and selection --------------------------------------------- */

static double
peer_rootdist(const struct peer *p, const struct ntp_sample *best,
    double jitter, uint64_t now)
{
	double age = now > best->mono_ms ?
	    (double)(now - best->mono_ms) / 1000 : 0;

	return (p->root_delay + best->delay) / 2 + p->root_disp +
	    best->disp + NTP_PHI * age + jitter;
}

/* Can p take part in selection?  Sets its state when it cannot. */
static int
peer_usable(struct peer *p)
{
	if (p->denied)
		p->state = NTP_PEER_KOD;
	else if (p->misses >= UNREACHABLE_MISSES)
		p->state = NTP_PEER_UNREACHABLE;
	else if (p->replied && p->last_reply == NTP_REPLY_UNSYNC)
		p->state = NTP_PEER_UNSYNC;
	else if (p->replied && p->last_reply != NTP_REPLY_OK &&
	    p->last_reply != NTP_REPLY_KOD_RATE)
		p->state = NTP_PEER_REJECTED;
	else if (p->filter.n == 0)
		p->state = NTP_PEER_NEW;
	else if (p->reach == 0)
		p->state = NTP_PEER_UNREACHABLE;
	else
		return 1;
	return 0;
}

static void
source_check_failed(struct source *src)
{
	struct ntp_client *cl = src->cl;
	struct peer *p;
	int any = 0, bad = 0;
	uint64_t now = now_mono_ms();

	if (src->name == NULL || src->wait != NULL)
		return;
	TAILQ_FOREACH(p, &cl->peers, entry) {
		if (p->src != src)
			continue;
		any++;
		if (p->state == NTP_PEER_KOD ||
		    p->state == NTP_PEER_UNREACHABLE)
			bad++;
	}
	/* All of this name's servers failed: ask the DNS for others. */
	if (any > 0 && bad == any && now - src->resolved_ms >=
	    RERESOLVE_FAIL_MS && !evtimer_pending(src->resolve_ev, NULL)) {
		struct timeval tv = { 0, 0 };

		log_info("ntp: every server of %s failed: resolving it again",
		    src->name);
		evtimer_add(src->resolve_ev, &tv);
	}
}

static void
client_select(struct ntp_client *cl, struct peer *fresh)
{
	struct ntp_cand cand[NTP_MAX_PEERS];
	struct peer *map[NTP_MAX_PEERS], *p, *sys;
	struct ntp_sample best[NTP_MAX_PEERS];
	double pj[NTP_MAX_PEERS], lo, hi, seljit;
	struct ntp_selection sel;
	struct source *src;
	uint64_t now = now_mono_ms();
	size_t n = 0, i, ntrue;
	int cur = -1, pick;

	memset(&sel, 0, sizeof(sel));
	TAILQ_FOREACH(p, &cl->peers, entry) {
		if (!peer_usable(p) || n == NTP_MAX_PEERS)
			continue;
		if (ntp_filter_best(&p->filter, &best[n], &pj[n]) == -1)
			continue;
		if (pj[n] < ntp_log2_to_double(cl->precision))
			pj[n] = ntp_log2_to_double(cl->precision);
		cand[n].offset = best[n].offset;
		cand[n].rootdist = peer_rootdist(p, &best[n], pj[n], now);
		cand[n].stratum = p->stratum;
		if (cand[n].rootdist >= NTP_MAXDIST) {
			/* Aged beyond use: treat as not answering. */
			p->state = NTP_PEER_UNREACHABLE;
			continue;
		}
		if (p == cl->sys_peer)
			cur = (int)n;
		map[n++] = p;
	}
	ntrue = ntp_select(cand, n, &lo, &hi);
	pick = ntp_pick(cand, n, cur);
	for (i = 0; i < n; i++)
		map[i]->state = (int)i == pick ? NTP_PEER_SELECTED :
		    cand[i].truechimer ? NTP_PEER_CANDIDATE :
		    NTP_PEER_FALSETICKER;
	sel.ncandidates = n;
	sel.ntruechimers = ntrue;
	if (pick < 0) {
		cl->sys_peer = NULL;
	} else {
		sys = cl->sys_peer = map[pick];
		sel.ok = 1;
		sel.offset = ntp_combine(cand, n, pick, &seljit);
		sel.jitter = sqrt(pj[pick] * pj[pick] + seljit * seljit);
		sel.delay = best[pick].delay;
		sel.sample_mono_ms = best[pick].mono_ms;
		sel.stratum = sys->stratum;
		sel.leap = sys->leap;
		sel.refid = ntp_refid_for((struct sockaddr *)&sys->ss);
		sel.root_delay = sys->root_delay + best[pick].delay;
		sel.root_disp = sys->root_disp + best[pick].disp +
		    NTP_PHI * (double)(now - best[pick].mono_ms) / 1000 +
		    sel.jitter;
		sel.peer_name = sys->src->text;
		sel.peer_addr = sys->addr;
		for (i = 0; i < n; i++)
			if (map[i] == fresh && cand[i].truechimer)
				sel.fresh = 1;
	}
	TAILQ_FOREACH(src, &cl->sources, entry)
		source_check_failed(src);
	if (cl->update != NULL)
		cl->update(&sel, cl->arg);
}

/* --- sources and resolution ------------------------------------------ */

static int
peer_has_addr(struct ntp_client *cl, const struct sockaddr_storage *ss,
    socklen_t len, const struct source *except)
{
	struct peer *p;

	TAILQ_FOREACH(p, &cl->peers, entry)
		if (p->src != except && p->sslen == len &&
		    memcmp(&p->ss, ss, len) == 0)
			return 1;
	return 0;
}

/* Look src's name up again in ms. */
static void
source_schedule(struct source *src, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), 0 };

	evtimer_add(src->resolve_ev, &tv);
}

/*
 * The servers ans gives for src, with src's port, each once, at most
 * NTP_PER_NAME: into want/wlen; returns how many.  One that another
 * source already polls is left to it: a server counts once in selection.
 */
static size_t
source_wanted(const struct source *src, const struct resolver_answer *ans,
    struct sockaddr_storage *want, socklen_t *wlen)
{
	size_t i, j, nwant = 0;

	for (i = 0; i < ans->naddrs && nwant < NTP_PER_NAME; i++) {
		struct sockaddr_storage ss = ans->addrs[i];
		socklen_t len;

		if (ss.ss_family == AF_INET) {
			((struct sockaddr_in *)&ss)->sin_port =
			    htons(src->port);
			len = sizeof(struct sockaddr_in);
		} else if (ss.ss_family == AF_INET6) {
			((struct sockaddr_in6 *)&ss)->sin6_port =
			    htons(src->port);
			len = sizeof(struct sockaddr_in6);
		} else
			continue;
		if (peer_has_addr(src->cl, &ss, len, src))
			continue;
		for (j = 0; j < nwant; j++)
			if (wlen[j] == len && memcmp(&want[j], &ss, len) == 0)
				break;
		if (j < nwant)
			continue;
		want[nwant] = ss;
		wlen[nwant++] = len;
	}
	return nwant;
}

/*
 * Drop src's peers that are not in want any more; a peer kept keeps its
 * state (filter, poll interval), and its entry in want is marked taken
 * (wlen 0).
 */
static void
source_drop_unwanted(struct source *src, const struct sockaddr_storage *want,
    socklen_t *wlen, size_t nwant)
{
	struct ntp_client *cl = src->cl;
	struct peer *p, *next;
	size_t j;

	for (p = TAILQ_FIRST(&cl->peers); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->src != src)
			continue;
		for (j = 0; j < nwant; j++)
			if (wlen[j] == p->sslen &&
			    memcmp(&want[j], &p->ss, p->sslen) == 0)
				break;
		if (j < nwant) {
			wlen[j] = 0;	/* already have it */
			continue;
		}
		log_info("ntp: %s no longer gives %s", src->name, p->addr);
		peer_free(p);
	}
}

/*
 * Put src's new peer np into the list in configuration order (status
 * and selection list peers so): after src's last peer, else before the
 * first peer of a later source, else at the end.
 */
static void
peer_insert(struct source *src, struct peer *np)
{
	struct ntp_client *cl = src->cl;
	struct peer *p, *after = NULL;
	struct source *later;

	TAILQ_FOREACH(p, &cl->peers, entry)
		if (p->src == src)
			after = p;
	if (after != NULL) {
		TAILQ_INSERT_AFTER(&cl->peers, after, np, entry);
		return;
	}
	for (later = TAILQ_NEXT(src, entry); later != NULL;
	    later = TAILQ_NEXT(later, entry))
		TAILQ_FOREACH(p, &cl->peers, entry)
			if (p->src == later) {
				TAILQ_INSERT_BEFORE(p, np, entry);
				return;
			}
	TAILQ_INSERT_TAIL(&cl->peers, np, entry);
}

/* A lookup failed, or gave no address: try again later, backing off. */
static void
source_resolve_failed(struct source *src, const struct resolver_answer *ans)
{
	uint64_t again = src->retry_ms;

	log_warnx("ntp: cannot resolve %s (%s); trying again in %llus",
	    src->name, ans->error ? "lookup failed" : "no address",
	    (unsigned long long)(src->retry_ms / 1000));
	src->retry_ms = src->retry_ms * 2 > RESOLVE_RETRY_MAX_MS ?
	    RESOLVE_RETRY_MAX_MS : src->retry_ms * 2;
	source_schedule(src, again);
}

/*
 * src's name answered: keep the servers still listed, drop the others,
 * poll the new ones; look it up again in an hour.
 */
static void
source_resolved(const struct resolver_answer *ans, void *arg)
{
	struct source *src = arg;
	struct ntp_client *cl = src->cl;
	struct sockaddr_storage want[NTP_PER_NAME];
	socklen_t wlen[NTP_PER_NAME];
	size_t j, nwant;

	src->wait = NULL;
	if (ans->error != 0 || ans->naddrs == 0) {
		source_resolve_failed(src, ans);
		return;
	}
	src->retry_ms = RESOLVE_RETRY_MS;
	src->resolved_ms = now_mono_ms();
	nwant = source_wanted(src, ans, want, wlen);
	source_drop_unwanted(src, want, wlen, nwant);
	for (j = 0; j < nwant; j++)
		if (wlen[j] != 0 && cl->npeers < NTP_MAX_PEERS)
			peer_insert(src, peer_new(src, &want[j], wlen[j]));
	source_schedule(src, RERESOLVE_MS);
}

static void
source_resolve(struct source *src)
{
	struct resolver_answer ans;
	int rv;

	if (src->wait != NULL)
		return;
	rv = resolver_lookup(src->cl->res, src->name, source_resolved, src,
	    &ans, &src->wait);
	if (rv == 1) {
		src->wait = NULL;
		source_resolved(&ans, src);
	} else if (rv == -1) {
		src->wait = NULL;
		log_warnx("ntp: cannot resolve %s: no resolvers (wan."
		    "resolvers)", src->name);
		source_schedule(src, RESOLVE_RETRY_MS);
	}
}

static void
source_resolve_cb(evutil_socket_t fd, short what, void *arg)
{
	source_resolve(arg);
}

static void
source_free(struct source *src)
{
	struct ntp_client *cl = src->cl;
	struct peer *p, *next;

	for (p = TAILQ_FIRST(&cl->peers); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->src == src)
			peer_free(p);
	}
	if (src->wait != NULL)
		resolver_cancel(src->wait);
	event_free(src->resolve_ev);
	TAILQ_REMOVE(&cl->sources, src, entry);
	free(src->text);
	free(src->name);
	free(src);
}

static struct source *
source_new(struct ntp_client *cl, const struct cfg_ntp_server *cs)
{
	struct source *src = xcalloc(1, sizeof(*src));

	src->cl = cl;
	src->text = xstrdup(cs->text);
	src->name = cs->name ? xstrdup(cs->name) : NULL;
	src->port = cs->port;
	memcpy(&src->ss, &cs->ss, cs->sslen);
	src->sslen = cs->sslen;
	src->retry_ms = RESOLVE_RETRY_MS;
	src->resolve_ev = evtimer_new(cl->base, source_resolve_cb, src);
	return src;
}

/* --- the client ------------------------------------------------------ */

struct ntp_client *
ntp_client_new(struct event_base *base, struct resolver *res,
    ntp_client_update_fn update, ntp_client_notice_fn notice,
    ntp_client_corr_fn corr, void *arg)
{
	struct ntp_client *cl = xcalloc(1, sizeof(*cl));
	struct log_ratelimit lrl = LOG_RATELIMIT_INIT(5, 60);

	cl->base = base;
	cl->res = res;
	cl->update = update;
	cl->notice = notice;
	cl->corr = corr;
	cl->arg = arg;
	cl->precision = -20;
	cl->poll_min_ms = 64000;
	cl->poll_max_ms = 1024000;
	cl->log_rl = lrl;
	TAILQ_INIT(&cl->sources);
	TAILQ_INIT(&cl->peers);
	return cl;
}

void
ntp_client_set_precision(struct ntp_client *cl, int precision)
{
	cl->precision = precision;
}

void
ntp_client_configure(struct ntp_client *cl, const struct cfg_ntp *conf)
{
	struct source_list order;
	struct source *src, *next;
	struct peer *p;
	size_t i;

	TAILQ_FOREACH(src, &cl->sources, entry)
		src->mark = 0;
	TAILQ_INIT(&order);
	for (i = 0; conf != NULL && i < conf->nservers; i++) {
		const struct cfg_ntp_server *cs = &conf->servers[i];

		TAILQ_FOREACH(src, &cl->sources, entry)
			if (!src->mark && strcmp(src->text, cs->text) == 0)
				break;
		if (src != NULL) {
			src->mark = 1;
			TAILQ_REMOVE(&cl->sources, src, entry);
		} else {
			src = source_new(cl, cs);
			src->mark = 2;	/* new */
		}
		TAILQ_INSERT_TAIL(&order, src, entry);
	}
	/* What is left was removed from the configuration. */
	while ((src = TAILQ_FIRST(&cl->sources)) != NULL) {
		log_info("ntp: no longer using %s", src->text);
		source_free(src);
	}
	TAILQ_CONCAT(&cl->sources, &order, entry);
	if (conf != NULL) {
		cl->poll_min_ms = conf->poll_min_ms;
		cl->poll_max_ms = conf->poll_max_ms;
	}
	TAILQ_FOREACH(p, &cl->peers, entry) {
		if (p->poll_ms < cl->poll_min_ms)
			p->poll_ms = cl->poll_min_ms;
		if (p->poll_ms > cl->poll_max_ms)
			p->poll_ms = cl->poll_max_ms;
	}
	for (src = TAILQ_FIRST(&cl->sources); src != NULL; src = next) {
		next = TAILQ_NEXT(src, entry);
		if (src->mark != 2)
			continue;
		if (src->name != NULL) {
			source_resolve(src);
		} else if (!peer_has_addr(cl, &src->ss, src->sslen, NULL) &&
		    cl->npeers < NTP_MAX_PEERS) {
			p = peer_new(src, &src->ss, src->sslen);
			TAILQ_INSERT_TAIL(&cl->peers, p, entry);
		}
	}
	/* Keep peers in source order (a reload may reorder sources). */
	{
		struct peer_list sorted;

		TAILQ_INIT(&sorted);
		TAILQ_FOREACH(src, &cl->sources, entry) {
			struct peer *pn;

			for (p = TAILQ_FIRST(&cl->peers); p != NULL; p = pn) {
				pn = TAILQ_NEXT(p, entry);
				if (p->src != src)
					continue;
				TAILQ_REMOVE(&cl->peers, p, entry);
				TAILQ_INSERT_TAIL(&sorted, p, entry);
			}
		}
		TAILQ_CONCAT(&cl->peers, &sorted, entry);
	}
	if (conf == NULL)
		client_select(cl, NULL);
}

void
ntp_client_clock_stepped(struct ntp_client *cl)
{
	struct peer *p;

	TAILQ_FOREACH(p, &cl->peers, entry) {
		/* Its t1 is on the old clock: the answer would lie. */
		if (p->fd != -1)
			peer_query_close(p);
		if (!p->denied)
			peer_schedule(p, STEP_REPOLL_MS);
	}
}

void
ntp_client_free(struct ntp_client *cl)
{
	struct source *src;

	if (cl == NULL)
		return;
	cl->update = NULL;
	while ((src = TAILQ_FIRST(&cl->sources)) != NULL)
		source_free(src);
	free(cl);
}

size_t
ntp_client_peers(const struct ntp_client *cl, struct ntp_peer_info *out,
    size_t max)
{
	const struct peer *p;
	uint64_t now = now_mono_ms();
	size_t n = 0;

	TAILQ_FOREACH(p, &cl->peers, entry) {
		struct ntp_peer_info *pi;
		struct ntp_sample best;
		double jitter;

		if (n == max)
			break;
		pi = &out[n++];
		memset(pi, 0, sizeof(*pi));
		pi->name = p->src->text;
		strlcpy(pi->addr, p->addr, sizeof(pi->addr));
		pi->state = p->state;
		pi->reach = p->reach;
		pi->stratum = p->stratum;
		pi->refid = p->refid;
		pi->poll_ms = p->poll_ms;
		pi->last_reply = p->last_reply;
		pi->polls = p->polls;
		pi->replies = p->replies;
		pi->kods = p->kods;
		if (ntp_filter_best(&p->filter, &best, &jitter) == 0) {
			pi->have_sample = 1;
			pi->offset = best.offset;
			pi->delay = best.delay;
			pi->jitter = jitter;
			pi->rootdist = peer_rootdist(p, &best, jitter, now);
			pi->last_sample_age_s = (double)(now -
			    p->last_good_ms) / 1000;
		}
	}
	return n;
}
