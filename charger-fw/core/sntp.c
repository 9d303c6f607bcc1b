/*
 * sntp: see sntp.h.  The request carries a random transmit timestamp (a
 * cookie, not our clock: it tells an off-path attacker nothing and makes
 * a forged reply guesswork); t1 is our wall clock read just before sending.
 */
#include <stdlib.h>
#include <string.h>

#include "core/fwlog.h"
#include "core/sntp.h"
#include "hal/hal.h"

#define NTP_UNIX_DELTA	2208988800ULL	/* 1900 -> 1970, seconds */
#define WINDOW		8
#define NEVER		UINT64_MAX

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

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
	}
	return "?";
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

struct sntp {
	int		 fd;
	uint16_t	 port;
	struct sntp_cb	 cb;
	uint32_t	 servers[SNTP_MAX_SERVERS];
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
	struct sntp_stats stats;
};

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
	if (k == s->nservers && k > 0 &&
	    memcmp(list, s->servers, k * sizeof(*list)) == 0)
		return;
	memcpy(s->servers, list, k * sizeof(*list));
	s->nservers = k;
	s->cur = 0;
	s->waiting = 0;
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
	if (hal_udp_send(s->fd, s->servers[s->cur], s->port, b,
	    sizeof(b)) == -1)
		fw_warn("sntp: send to %s failed",
		    fw_ipstr(s->servers[s->cur], ip));
	s->stats.sent++;
	s->waiting = 1;
	s->sent_ms = now;
	s->next_poll = now + SNTP_TIMEOUT_MS;
}

/* This poll is over; the next at least 15 s after it went out. */
static void
sntp_poll_done(struct sntp *s, int good, uint64_t now)
{
	uint64_t min = s->sent_ms + SNTP_MIN_POLL_MS;

	s->waiting = 0;
	if (!good)
		s->cur = (s->cur + 1) % s->nservers;
	if (good && s->synced)
		s->next_poll = s->sent_ms + SNTP_SYNCED_POLL_MS;
	else
		s->next_poll = now > min ? now : min;
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
	fw_info("sntp: clock %s by %+lld ms", first ? "set" : "stepped",
	    (long long)offset);
	if (s->cb.synced != NULL)
		s->cb.synced(s->cb.arg, offset);
}

void
sntp_input(struct sntp *s, const uint8_t *buf, size_t len, uint32_t ip,
    uint16_t port, int64_t t4, uint64_t now)
{
	struct sntp_pkt p;
	enum sntp_verdict v;
	int64_t offset, delay;
	struct sample best;
	char a[16];
	size_t i;

	if (!s->waiting || ip != s->servers[s->cur] || port != s->port)
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
		fw_info("sntp: %s: %s", fw_ipstr(ip, a), sntp_verdict_str(v));
		sntp_poll_done(s, 0, now);
		return;
	}
	sntp_sample(&p, s->t1, t4, &offset, &delay);
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
	if (!s->synced)
		sntp_step(s, offset);
	else if (best.offset > SNTP_STEP_MS || best.offset < -SNTP_STEP_MS)
		sntp_step(s, best.offset);
	sntp_poll_done(s, 1, now);
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
		    fw_ipstr(s->servers[s->cur], a));
		sntp_poll_done(s, 0, now);
		if (now < s->next_poll)
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
