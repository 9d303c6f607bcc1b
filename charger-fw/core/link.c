/*
 * link: see link.h.
 */
#include <stdint.h>
#include <string.h>

#include "core/link.h"

#define SEC		1000ULL
#define NEVER		UINT64_MAX
#define MIN_WAIT_MS	1000	/* never straight back: the floor of jitter */
#define RENEW_LATEST	95	/* percent of the token's life */

const char *
link_phase_name(enum link_phase p)
{
	static const char *const names[] = { "down", "up", "proven",
		"stable" };

	return (unsigned)p < 4 ? names[p] : "?";
}

void
link_init(struct link *l, const struct link_cfg *cfg)
{
	memset(l, 0, sizeof(*l));
	l->cfg = *cfg;
	if (l->cfg.base_ms == 0)
		l->cfg.base_ms = 10 * SEC;
	if (l->cfg.cap_ms == 0)
		l->cfg.cap_ms = 190 * SEC;
	if (l->cfg.cap_car_ms == 0)
		l->cfg.cap_car_ms = 55 * SEC;
	if (l->cfg.stable_ms == 0)
		l->cfg.stable_ms = 180 * SEC;
	if (l->cfg.renew_pct == 0 || l->cfg.renew_pct > RENEW_LATEST)
		l->cfg.renew_pct = 80;
}

uint64_t
link_window_ms(const struct link *l, int car)
{
	uint64_t cap = car ? l->cfg.cap_car_ms : l->cfg.cap_ms, w;
	unsigned n = l->failures > 0 ? l->failures - 1 : 0;

	/* base << n, without overflowing for a large n. */
	if (n >= 32 || (w = l->cfg.base_ms << n) >= cap ||
	    w >> n != l->cfg.base_ms)
		return cap;
	return w;
}

uint64_t
link_failed(struct link *l, uint64_t now, int car, uint16_t r)
{
	uint64_t w, d;

	if (l->phase == LINK_STABLE)
		l->failures = 0;	/* a first failure after a good while */
	else if (l->phase != LINK_DOWN)
		l->dropped++;		/* connected, then dropped: unstable */
	l->phase = LINK_DOWN;
	l->carry_ms = 0;
	if (l->failures < UINT32_MAX)
		l->failures++;
	w = link_window_ms(l, car);
	d = w * r / 65536;
	return d < MIN_WAIT_MS ? MIN_WAIT_MS : d;
}

void
link_token(struct link *l, int64_t wall_s)
{
	l->token_made_s = wall_s;
}

void
link_connected(struct link *l, uint64_t now)
{
	l->phase = LINK_UP;
	l->up_ms = now;
}

void
link_proven(struct link *l, uint64_t now)
{
	if (l->phase != LINK_UP)
		return;
	l->phase = LINK_PROVEN;
	l->proven_ms = l->carry_ms != 0 ? l->carry_ms : now;
	l->carry_ms = 0;
}

void
link_tick(struct link *l, uint64_t now)
{
	if (l->phase == LINK_PROVEN && now - l->proven_ms >= l->cfg.stable_ms) {
		l->phase = LINK_STABLE;
		l->failures = 0;
	}
}

uint64_t
link_deadline(const struct link *l)
{
	return l->phase == LINK_PROVEN ? l->proven_ms + l->cfg.stable_ms :
	    NEVER;
}

int64_t
link_renew_at(const struct link *l)
{
	return l->token_made_s +
	    (int64_t)l->cfg.token_s * l->cfg.renew_pct / 100;
}

int64_t
link_renew_by(const struct link *l)
{
	return l->token_made_s + (int64_t)l->cfg.token_s * RENEW_LATEST / 100;
}

int
link_renew_due(const struct link *l, int64_t now_s, int busy)
{
	if (l->cfg.token_s == 0 || l->phase == LINK_DOWN)
		return 0;
	if (now_s >= link_renew_by(l))
		return 1;
	return now_s >= link_renew_at(l) && !busy;
}

void
link_renewing(struct link *l)
{
	uint64_t carry = l->phase == LINK_PROVEN ? l->proven_ms : 0;

	l->renewals++;
	link_reset(l);
	l->carry_ms = carry;
}

void
link_reset(struct link *l)
{
	/* Down on purpose: the link was fine, the back-off stays as it is. */
	if (l->phase == LINK_STABLE)
		l->failures = 0;
	l->phase = LINK_DOWN;
	l->carry_ms = 0;
}
