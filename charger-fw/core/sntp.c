/*
 * sntp: see sntp.h.  The request carries a random transmit timestamp (a
 * cookie, not our clock: it tells an off-path attacker nothing and makes
 * a forged reply guesswork); t1 is our wall clock read just before sending.
 * Every verdict on an answer -- a kiss-o'-death included -- comes after
 * the cookie matched, so an off-path forger can neither silence a server
 * nor slow the polls.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fwlog.h"
#include "core/bytes.h"
#include "core/sntp.h"
#include "hal/hal.h"

#define NTP_UNIX_DELTA	2208988800ULL	/* 1900 -> 1970, seconds */
#define WINDOW		8
#define NEVER		UINT64_MAX
#define KV_FLOOR	"sntp.floor"
#define BACK_FRESH_MS	600000	/* a held-back sample counts this long */
#define KISS(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | \
			    (uint32_t)(c) << 8 | (uint32_t)(d))

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

enum sntp_parse_status
sntp_parse(const uint8_t *b, size_t len, struct sntp_pkt *p)
{
	memset(p, 0, sizeof(*p));
	if (len < SNTP_PKT_LEN)
		return SNTP_PARSE_SHORT;
	p->li = b[0] >> 6;
	p->vn = (b[0] >> 3) & 7;
	p->mode = b[0] & 7;
	if (p->vn < 3 || p->vn > 4)
		return SNTP_PARSE_BAD_VERSION;
	p->stratum = b[1];
	p->poll = (int8_t)b[2];
	p->precision = (int8_t)b[3];
	p->root_delay = get32(b + 4);
	p->root_disp = get32(b + 8);
	p->refid = get32(b + 12);
	p->ref = get64(b + 16);
	p->org = get64(b + 24);
	p->rec = get64(b + 32);
	p->xmt = get64(b + 40);
	return SNTP_PARSE_OK;
}

enum sntp_verdict
sntp_check(const struct sntp_pkt *p, uint64_t cookie)
{
	uint64_t dist_ms;

	if (p->mode != 4)
		return SNTP_BAD_MODE;
	if (p->org != cookie)
		return SNTP_BAD_ORIGIN;
	/* A kiss carries LI 3 too: look at its code first. */
	if (p->stratum == 0 && sntp_kiss(p) != SNTP_KISS_NONE)
		return SNTP_KOD;
	if (p->li == 3)
		return SNTP_UNSYNCED;
	if (p->stratum < 1 || p->stratum > 15)
		return SNTP_BAD_STRATUM;
	/* Root distance = delay / 2 + dispersion, 16.16 seconds. */
	dist_ms = ((uint64_t)p->root_delay / 2 + p->root_disp) * 1000 >> 16;
	if (dist_ms >= SNTP_MAX_DIST_MS)
		return SNTP_BAD_DISTANCE;
	if (p->rec == 0 || p->xmt == 0)
		return SNTP_BAD_TIMES;
	return SNTP_VALID;
}

const char *
sntp_verdict_str(enum sntp_verdict v)
{
	switch (v) {
	case SNTP_VALID:
		return "valid";
	case SNTP_BAD_MODE:
		return "not a server reply";
	case SNTP_BAD_ORIGIN:
		return "origin does not match our request";
	case SNTP_UNSYNCED:
		return "server not synchronised (LI=3)";
	case SNTP_BAD_STRATUM:
		return "stratum out of 1..15";
	case SNTP_BAD_DISTANCE:
		return "root distance too large";
	case SNTP_BAD_TIMES:
		return "zero timestamps";
	case SNTP_KOD:
		return "kiss-o'-death";
	}
	return "?";
}

enum sntp_kiss
sntp_kiss(const struct sntp_pkt *p)
{
	if (p->stratum != 0)
		return SNTP_KISS_NONE;
	switch (p->refid) {
	case KISS('D', 'E', 'N', 'Y'):
		return SNTP_KISS_DENY;
	case KISS('R', 'S', 'T', 'R'):
		return SNTP_KISS_RSTR;
	case KISS('R', 'A', 'T', 'E'):
		return SNTP_KISS_RATE;
	default:
		return SNTP_KISS_NONE;
	}
}

uint64_t
sntp_ms_to_ntp(int64_t ms)
{
	uint64_t s = (uint64_t)(ms / 1000) + NTP_UNIX_DELTA;
	uint64_t frac = ((uint64_t)(ms % 1000) << 32) / 1000;

	return (s & 0xffffffffULL) << 32 | frac;
}

int64_t
sntp_ntp_to_ms(uint64_t t)
{
	uint64_t s = t >> 32, frac = t & 0xffffffffULL;

	/* Era pivot: seconds below 2^31 are after 2036 (era 1). */
	if (s < 0x80000000ULL)
		s += 0x100000000ULL;
	/* Round to the nearest millisecond: ms -> NTP truncates. */
	return (int64_t)(s - NTP_UNIX_DELTA) * 1000 +
	    (int64_t)((frac * 1000 + 0x80000000ULL) >> 32);
}

void
sntp_sample(const struct sntp_pkt *p, int64_t t1, int64_t t4,
    int64_t *offset, int64_t *delay)
{
	int64_t t2 = sntp_ntp_to_ms(p->rec), t3 = sntp_ntp_to_ms(p->xmt);

	*offset = ((t2 - t1) + (t3 - t4)) / 2;
	*delay = (t4 - t1) - (t3 - t2);
	if (*delay < 0)
		*delay = 0;
}

struct sample {
	int64_t	offset;
	int64_t	delay;
};

struct server {
	uint32_t	ip;
	int		denied;		/* DENY/RSTR: never again */
	uint64_t	rate_ms;	/* RATE: its poll interval; 0 */
	uint64_t	next_ok;	/* mono: not before this */
};

struct sntp {
	int		 fd;
	uint16_t	 port;
	struct sntp_cb	 cb;
	struct server	 servers[SNTP_MAX_SERVERS];
	size_t		 nservers;
	size_t		 cur;
	int		 synced;
	/* The request in flight. */
	int		 waiting;
	uint64_t	 cookie;
	int64_t		 t1;
	uint64_t	 sent_ms;
	uint64_t	 next_poll;
	struct sample	 win[WINDOW];
	size_t		 nwin;
	size_t		 winpos;
	/* A backward step waiting for a second sample that agrees. */
	int		 back_pending;
	int64_t		 back_offset;
	uint64_t	 back_ms;
	int64_t		 floor_kept;	/* what the kv store has */
	struct sntp_stats stats;
};

/* The floor kept across restarts; the RTC is never behind it. */
static void
floor_load(struct sntp *s)
{
	char buf[32], *end;
	size_t len;
	long long v;

	if (hal_kv_get(KV_FLOOR, buf, sizeof(buf) - 1, &len) == -1 ||
	    len >= sizeof(buf))
		return;
	buf[len] = '\0';
	v = strtoll(buf, &end, 10);
	if (*end != '\0' || v <= 0)
		return;
	s->stats.floor_ms = s->floor_kept = v;
	if (hal_wall_ms() < v) {
		fw_info("sntp: the RTC is behind the last good sync: raised "
		    "to it");
		hal_wall_set_ms(v);
	}
}

static void
floor_keep(struct sntp *s, int now_too)
{
	char buf[32];

	s->stats.floor_ms = hal_wall_ms();
	if (!now_too && s->stats.floor_ms - s->floor_kept < SNTP_FLOOR_EVERY_MS)
		return;
	snprintf(buf, sizeof(buf), "%" PRId64, s->stats.floor_ms);
	if (hal_kv_set(KV_FLOOR, buf, strlen(buf)) == 0)
		s->floor_kept = s->stats.floor_ms;
}

struct sntp *
sntp_new(int fd, uint16_t port, const struct sntp_cb *cb)
{
	struct sntp *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->fd = fd;
	s->port = port != 0 ? port : 123;
	if (cb != NULL)
		s->cb = *cb;
	s->next_poll = NEVER;
	floor_load(s);
	return s;
}

void
sntp_free(struct sntp *s)
{
	free(s);
}

void
sntp_set_servers(struct sntp *s, const uint32_t *a, size_t n, uint64_t now)
{
	uint32_t list[SNTP_MAX_SERVERS];
	size_t i, j, k = 0;

	for (i = 0; i < n && k < SNTP_MAX_SERVERS; i++) {
		if (a[i] == 0)
			continue;
		for (j = 0; j < k; j++)
			if (list[j] == a[i])
				break;
		if (j == k)
			list[k++] = a[i];
	}
	if (k == s->nservers && k > 0) {
		for (i = 0; i < k && s->servers[i].ip == list[i]; i++)
			;
		if (i == k)
			return;
	}
	memset(s->servers, 0, sizeof(s->servers));
	for (i = 0; i < k; i++)
		s->servers[i].ip = list[i];
	s->nservers = k;
	s->cur = 0;
	s->waiting = 0;
	s->stats.misses = 0;
	if (k == 0) {
		s->next_poll = NEVER;
		return;
	}
	/* Keep the 15 s spacing across server changes. */
	if (s->sent_ms != 0 && now < s->sent_ms + SNTP_MIN_POLL_MS)
		s->next_poll = s->sent_ms + SNTP_MIN_POLL_MS;
	else
		s->next_poll = now;
}

static void
sntp_send(struct sntp *s, uint64_t now)
{
	uint8_t b[SNTP_PKT_LEN];
	char ip[16];
	size_t i;

	memset(b, 0, sizeof(b));
	b[0] = (0 << 6) | (4 << 3) | 3;		/* LI 0, v4, client */
	hal_random(&s->cookie, sizeof(s->cookie));
	for (i = 0; i < 8; i++)
		b[40 + i] = (uint8_t)(s->cookie >> (56 - 8 * i));
	s->t1 = hal_wall_ms();
	if (hal_udp_send(s->fd, s->servers[s->cur].ip, s->port, b,
	    sizeof(b)) == -1)
		fw_warn("sntp: send to %s failed",
		    fw_ipstr(s->servers[s->cur].ip, ip));
	s->stats.sent++;
	s->waiting = 1;
	s->sent_ms = now;
	s->next_poll = now + SNTP_TIMEOUT_MS;
	/* A server that asked for less (RATE) gets it from now on. */
	if (s->servers[s->cur].rate_ms != 0)
		s->servers[s->cur].next_ok = now + s->servers[s->cur].rate_ms;
}

/* The next server not denied, from cur + 1 on; -1 if every one is. */
static int
next_server(struct sntp *s)
{
	size_t i, k;

	for (i = 1; i <= s->nservers; i++) {
		k = (s->cur + i) % s->nservers;
		if (!s->servers[k].denied)
			return (int)k;
	}
	return -1;
}

enum outcome {
	POLL_GOOD = 0,		/* a sample taken */
	POLL_AGAIN,		/* a sample held back: another one soon */
	POLL_KISS,		/* a kiss: handled; not a miss */
	POLL_MISS,		/* no answer, or none we could use */
};

/*
 * This poll is over; the next at least 15 s after it went out, later
 * after misses in a row (doubling to the cap) or a RATE kiss.
 */
static void
sntp_poll_done(struct sntp *s, enum outcome o, uint64_t now)
{
	uint64_t gap = SNTP_MIN_POLL_MS, cap = s->synced ? SNTP_SYNCED_POLL_MS :
	    SNTP_BACKOFF_CAP_MS, next;
	int k;

	s->waiting = 0;
	if (o == POLL_MISS) {
		s->stats.misses++;
		if (s->stats.misses > 1 && s->stats.misses < 32)
			gap = SNTP_MIN_POLL_MS << (s->stats.misses - 1);
		if (gap > cap)
			gap = cap;
	} else if (o == POLL_GOOD) {
		s->stats.misses = 0;
		if (s->synced)
			gap = SNTP_SYNCED_POLL_MS;
	}
	if (o != POLL_GOOD || s->servers[s->cur].denied) {
		if ((k = next_server(s)) == -1) {
			fw_err("sntp: every server refused us (kiss-o'-death): "
			    "no more requests");
			s->next_poll = NEVER;
			return;
		}
		s->cur = (size_t)k;
	}
	next = s->sent_ms + gap;
	if (next < now)
		next = now;
	if (next < s->servers[s->cur].next_ok)
		next = s->servers[s->cur].next_ok;
	s->next_poll = next;
}

static void
sntp_step(struct sntp *s, int64_t offset)
{
	int first = !s->synced;

	hal_wall_set_ms(hal_wall_ms() + offset);
	s->synced = 1;
	s->stats.steps++;
	/* Older samples are relative to the old clock. */
	s->nwin = 0;
	s->winpos = 0;
	s->back_pending = 0;
	fw_info("sntp: clock %s by %+lld ms", first ? "set" : "stepped",
	    (long long)offset);
	floor_keep(s, 1);
	if (s->cb.synced != NULL)
		s->cb.synced(s->cb.arg, offset);
}

/* RFC 4330 section 8: the client MUST act on these. */
static void
sntp_kissed(struct sntp *s, const struct sntp_pkt *p, uint32_t ip,
    uint64_t now)
{
	struct server *sv = &s->servers[s->cur];
	char a[16];

	s->stats.kods++;
	if (sntp_kiss(p) == SNTP_KISS_RATE) {
		sv->rate_ms = sv->rate_ms == 0 ? SNTP_RATE_MIN_MS :
		    sv->rate_ms * 2;
		if (sv->rate_ms > SNTP_SYNCED_POLL_MS)
			sv->rate_ms = SNTP_SYNCED_POLL_MS;
		sv->next_ok = now + sv->rate_ms;
		fw_warn("sntp: %s asks us to poll less (RATE): every %llu s "
		    "at most", fw_ipstr(ip, a),
		    (unsigned long long)(sv->rate_ms / 1000));
	} else {
		sv->denied = 1;
		s->stats.denied++;
		fw_err("sntp: %s refuses us (%s): no more requests to it",
		    fw_ipstr(ip, a), sntp_kiss(p) == SNTP_KISS_DENY ? "DENY" :
		    "RSTR");
	}
	sntp_poll_done(s, POLL_KISS, now);
}

/*
 * Step to want (ms), unless it goes back more than a second: that needs a
 * second sample that agrees.  Returns 0 when held back.
 */
static int
sntp_maybe_step(struct sntp *s, int64_t want, uint64_t now)
{
	int64_t d;

	if (want >= -SNTP_STEP_MS) {
		sntp_step(s, want);
		return 1;
	}
	d = want - s->back_offset;
	if (s->back_pending && now - s->back_ms <= BACK_FRESH_MS &&
	    d <= SNTP_AGREE_MS && d >= -SNTP_AGREE_MS) {
		sntp_step(s, want);
		return 1;
	}
	s->back_pending = 1;
	s->back_offset = want;
	s->back_ms = now;
	s->stats.held_back++;
	fw_info("sntp: a step back of %lld ms waits for a second sample",
	    (long long)want);
	return 0;
}

void
sntp_input(struct sntp *s, const uint8_t *buf, size_t len, uint32_t ip,
    uint16_t port, int64_t t4, uint64_t now)
{
	struct sntp_pkt p;
	enum sntp_verdict v;
	int64_t offset, delay, want;
	struct sample best;
	int step = 0;
	char a[16];
	size_t i;

	if (!s->waiting || ip != s->servers[s->cur].ip || port != s->port)
		return;
	if (sntp_parse(buf, len, &p) != SNTP_PARSE_OK) {
		s->stats.rejected++;
		return;
	}
	if ((v = sntp_check(&p, s->cookie)) != SNTP_VALID) {
		s->stats.rejected++;
		s->stats.last_reject = v;
		if (v == SNTP_BAD_ORIGIN)
			return;		/* not our answer: keep waiting */
		if (v == SNTP_KOD) {
			sntp_kissed(s, &p, ip, now);
			return;
		}
		fw_info("sntp: %s: %s", fw_ipstr(ip, a), sntp_verdict_str(v));
		sntp_poll_done(s, POLL_MISS, now);
		return;
	}
	sntp_sample(&p, s->t1, t4, &offset, &delay);
	/* A time before our last good sync is wrong, whoever says it. */
	if (s->stats.floor_ms > 0 && t4 + offset < s->stats.floor_ms) {
		s->stats.rejected++;
		s->stats.below_floor++;
		fw_warn("sntp: %s says a time before the last good sync: "
		    "refused", fw_ipstr(ip, a));
		sntp_poll_done(s, POLL_MISS, now);
		return;
	}
	s->stats.valid++;
	s->stats.last_offset = offset;
	s->stats.last_delay = delay;
	s->stats.last_server = ip;
	fw_debug("sntp: %s: offset %+lld ms, delay %lld ms", fw_ipstr(ip, a),
	    (long long)offset, (long long)delay);
	s->win[s->winpos] = (struct sample){ offset, delay };
	s->winpos = (s->winpos + 1) % WINDOW;
	if (s->nwin < WINDOW)
		s->nwin++;
	best = s->win[0];
	for (i = 1; i < s->nwin; i++)
		if (s->win[i].delay < best.delay)
			best = s->win[i];
	want = offset;
	if (!s->synced)
		step = 1;
	else if (best.offset > SNTP_STEP_MS || best.offset < -SNTP_STEP_MS) {
		step = 1;
		want = best.offset;
	}
	if (step && !sntp_maybe_step(s, want, now)) {
		/* Another sample soon, from the next server if there is one. */
		sntp_poll_done(s, POLL_AGAIN, now);
		return;
	}
	if (!step)
		s->back_pending = 0;
	if (s->synced)
		floor_keep(s, 0);
	sntp_poll_done(s, POLL_GOOD, now);
}

void
sntp_tick(struct sntp *s, uint64_t now)
{
	char a[16];

	if (s->nservers == 0 || now < s->next_poll)
		return;
	if (s->waiting) {
		s->stats.timeouts++;
		fw_debug("sntp: no answer from %s",
		    fw_ipstr(s->servers[s->cur].ip, a));
		sntp_poll_done(s, POLL_MISS, now);
		if (now < s->next_poll)
			return;
	}
	if (s->servers[s->cur].denied) {
		s->next_poll = NEVER;
		return;
	}
	sntp_send(s, now);
}

uint64_t
sntp_deadline(const struct sntp *s)
{
	return s->next_poll;
}

int
sntp_synced(const struct sntp *s)
{
	return s->synced;
}

const struct sntp_stats *
sntp_stats(const struct sntp *s)
{
	return &s->stats;
}
