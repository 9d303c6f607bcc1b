/*
 * link: when the cloud link connects, gives up and renews -- the policy
 * of cloud.c, kept apart from libmosquitto so that it runs on the unit
 * tests' clock.  Pure: every function takes the time; nothing here does
 * I/O.
 *
 * Back-off.  After a failure the next attempt waits a random time in
 * [1 s, window] ("full jitter": a site's chargers that lost the hub
 * together spread over the whole window instead of coming back in step),
 * window = min(cap, base x 2^(n-1)), n counting failures since the link
 * was last stable; cap is shorter with a car connected (a driver waits).
 *
 * Stable.  A CONNACK alone proves little: a hub that accepts a device and
 * then drops it (a duplicate device id, throttling, an expired token)
 * would otherwise reset the back-off at every connect and see a reconnect
 * every few seconds for ever.  The link is *proven* once the hub has
 * answered on it (the SUBACK, and a twin 200, a PUBACK or a PINGRESP), and
 * *stable* after stable_ms more without a drop; only then does n go back
 * to 0.  A drop before that counts as "connected then dropped" and as a
 * failure.
 *
 * Renewal.  A SAS token lives token_s; the hub closes the connection when
 * it expires.  At renew_pct of its life the link is renewed by a clean
 * reconnect (DISCONNECT, then at once a new CONNECT with a new token),
 * which is not a failure, and the time the link has been proven carries
 * across it (with tokens shorter than stable_ms a link could otherwise
 * never become stable); when the host is busy (a charging session
 * starting or stopping, messages not yet acknowledged) it waits, but not
 * beyond 95 % of the life.
 */
#ifndef EVFW_LINK_H
#define EVFW_LINK_H

#include <stdint.h>

struct link_cfg {
	uint64_t	base_ms;	/* first window; default 10 s */
	uint64_t	cap_ms;		/* default 190 s */
	uint64_t	cap_car_ms;	/* with a car connected; default 55 s */
	uint64_t	stable_ms;	/* default 180 s */
	unsigned	token_s;	/* SAS token life; 0: no tokens */
	unsigned	renew_pct;	/* default 80 */
};

enum link_phase {
	LINK_DOWN = 0,
	LINK_UP,	/* CONNACK 0: not proven yet */
	LINK_PROVEN,	/* the hub answered; stable after stable_ms */
	LINK_STABLE,
};

struct link {
	struct link_cfg	 cfg;
	enum link_phase	 phase;
	unsigned	 failures;	/* n of the back-off */
	uint64_t	 up_ms;		/* CONNACK */
	uint64_t	 proven_ms;
	uint64_t	 carry_ms;	/* proven_ms across a renewal; 0 */
	int64_t		 token_made_s;	/* wall s the token was made */
	unsigned long	 dropped;	/* connected, then dropped unstable */
	unsigned long	 renewals;
};

void	 link_init(struct link *, const struct link_cfg *);
/* The window for the next wait (ms), with a car connected or not. */
uint64_t link_window_ms(const struct link *, int car);
/*
 * A connection attempt failed or the link went down: count it and
 * return the wait before the next attempt; r is 16 random bits.
 */
uint64_t link_failed(struct link *, uint64_t now_ms, int car, uint16_t r);
/* A token was made for the attempt starting now (wall clock, s). */
void	 link_token(struct link *, int64_t wall_s);
void	 link_connected(struct link *, uint64_t now_ms);	/* CONNACK 0 */
void	 link_proven(struct link *, uint64_t now_ms);
/* Run timers: a proven link becomes stable. */
void	 link_tick(struct link *, uint64_t now_ms);
/* Mono time the phase changes by itself (UINT64_MAX: never). */
uint64_t link_deadline(const struct link *);
/*
 * Is a renewal due at wall time now_s?  busy: the host would rather not
 * now.  Returns 1 when the link should renew (then call link_renewing).
 */
int	 link_renew_due(const struct link *, int64_t now_s, int busy);
/* Wall time (s) a renewal becomes due, and the latest it may wait to. */
int64_t	 link_renew_at(const struct link *);
int64_t	 link_renew_by(const struct link *);
/* The link goes down for a renewal: no failure, proven time carried. */
void	 link_renewing(struct link *);
/* The link goes down on purpose otherwise (a new address): no failure. */
void	 link_reset(struct link *);
const char *link_phase_name(enum link_phase);

#endif
