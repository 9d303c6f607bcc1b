/*
 * usage: what the charger's link costs, per day and in total, across
 * reboots, and the daily data budget.
 *
 * Two levels are counted: the interface (every byte on the wire, from
 * hal_net_counters: what a metered link bills) and MQTT (the MQTT packets
 * the cloud link sent and received, before TLS, TCP and IP).  Counters
 * since boot come in; usage keeps totals that only grow, and the day's
 * share from the first of its bytes (UTC day, once the clock is set).
 * They are kept in the kv store ("usage") at most every keep_ms and at
 * every new day, so a reboot or a power cut loses at most that much.
 *
 * The budget: when the day's interface bytes exceed it, usage_over says
 * so (the core stretches the periodic intervals and reports it) until the
 * day ends.  Pure apart from the kv store; time passed in.
 */
#ifndef EVFW_USAGE_H
#define EVFW_USAGE_H

#include <stddef.h>
#include <stdint.h>

#define USAGE_KEEP_MS		(15 * 60 * 1000)
#define USAGE_TEXT_MAX		160

struct usage {
	uint64_t	budget;		/* interface bytes a day; 0: none */
	uint64_t	total_if;	/* since ever */
	uint64_t	total_mqtt;
	int64_t		day;		/* UTC day number; -1 unknown */
	uint64_t	day_if;		/* today's */
	uint64_t	day_mqtt;
	int		over;		/* today's budget exceeded */
	/* internals */
	uint64_t	last_if;	/* the counters since boot last seen */
	uint64_t	last_mqtt;
	int		started;
	uint64_t	kept_ms;	/* mono: last written */
	int		dirty;
};

/* Load the kept totals; budget in bytes a day (0: none). */
void	 usage_init(struct usage *, uint64_t budget);
/*
 * The counters since boot now (interface bytes rx + tx, MQTT bytes);
 * wall_ms only when the clock is set (else -1: the day is not known).
 * Returns 1 when the budget became exceeded (0 otherwise).
 */
int	 usage_update(struct usage *, uint64_t if_now, uint64_t mqtt_now,
	    int64_t wall_ms, uint64_t now_ms);
/* Write what is counted now (also done by usage_update, at its pace). */
void	 usage_keep(struct usage *, uint64_t now_ms);
int	 usage_encode(const struct usage *, char *, size_t);
int	 usage_decode(const char *, size_t, struct usage *);

#endif
