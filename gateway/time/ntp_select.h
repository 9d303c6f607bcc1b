/*
 * ntp_select: the arithmetic between upstream samples and the offset we
 * serve, pure (no I/O, no clock reads) so that it can be tested with
 * made-up servers:
 *
 *  - the clock filter: per server, the last 8 valid samples; the one with
 *    the lowest round-trip delay is the best estimate (RFC 5905, 10);
 *  - selection by agreement: each server's correctness interval is its
 *    offset plus or minus its root distance; the largest group whose
 *    intervals share a common point wins if it is a majority, and servers
 *    outside it are falsetickers (RFC 5905, 11.2.1, in the simplified
 *    form of ntpd 4.2.8: interval endpoints only);
 *  - combining the survivors into one offset, weighted by 1/distance;
 *  - tracking: the offset of the system clock over time, with a frequency
 *    estimate (least squares over the last 8 updates, used only when they
 *    span 4 minutes and the slope is statistically significant) to
 *    extrapolate between polls.
 */
#ifndef EVG_NTP_SELECT_H
#define EVG_NTP_SELECT_H

#include <stddef.h>
#include <stdint.h>

#define NTP_FILTER_SIZE	8
#define NTP_PHI		15e-6	/* dispersion growth, s/s (RFC 5905) */
#define NTP_MAXDIST	1.5	/* largest usable root distance, s */
#define NTP_MAXDISP	16.0	/* "infinite" dispersion, s */
#define NTP_SELECT_MAX	64	/* candidates considered at most */
#define NTP_TRACK_SIZE	8
#define NTP_MAXFREQ	500e-6	/* a clock further off than this is broken */
#define NTP_STEP	0.128	/* larger corrections are steps */
#define NTP_TRACK_MIN_SPAN 240.0 /* s of history before a frequency */

/* One measurement against one server. */
struct ntp_sample {
	double		 offset;	/* server - local clock, s */
	double		 delay;		/* round trip minus server time, s */
	double		 disp;		/* precisions + PHI * round trip, s */
	uint64_t	 mono_ms;	/* when it was taken (monotonic) */
};

struct ntp_filter {
	struct ntp_sample s[NTP_FILTER_SIZE];
	size_t		 n;		/* samples held, <= NTP_FILTER_SIZE */
	size_t		 next;		/* slot for the next one */
};

void	ntp_filter_clear(struct ntp_filter *);
/* Keep s, forgetting the oldest when 8 are held. */
void	ntp_filter_add(struct ntp_filter *, const struct ntp_sample *);
/*
 * The lowest-delay sample held (the newest of equals), and the jitter:
 * the RMS difference of the other samples' offsets from it.  Returns 0,
 * or -1 when the filter is empty.
 */
int	ntp_filter_best(const struct ntp_filter *, struct ntp_sample *,
	    double *jitter);

/* A server that passed the sanity checks, as selection sees it. */
struct ntp_cand {
	double		 offset;	/* best sample's offset */
	double		 rootdist;	/* half-width of its interval, > 0 */
	int		 stratum;
	int		 truechimer;	/* out: 1 if in the agreeing majority */
};

/*
 * Mark the truechimers among n candidates (n <= NTP_SELECT_MAX).  Returns
 * how many there are, with [*lo, *hi] the interval they agree on; 0 when
 * no majority agrees (then nobody is a truechimer).
 */
size_t	ntp_select(struct ntp_cand *, size_t n, double *lo, double *hi);
/*
 * The system peer among the truechimers: the current one (index, or -1)
 * while it is still a truechimer, else the lowest stratum and then the
 * smallest root distance.  Returns an index, or -1 if there are none.
 */
int	ntp_pick(const struct ntp_cand *, size_t n, int current);
/*
 * Combine the truechimers' offsets, weighted by 1/rootdist; *jitter is
 * their weighted RMS difference from the system peer's offset.  Returns
 * the combined offset (0 if there are none).
 */
double	ntp_combine(const struct ntp_cand *, size_t n, int peer,
	    double *jitter);

/* The system clock's offset over time (t in seconds, monotonic). */
struct ntp_track {
	double		 t[NTP_TRACK_SIZE];
	double		 off[NTP_TRACK_SIZE];
	size_t		 n, next;
	double		 last_t, last_off;	/* the newest point */
	double		 freq;		/* d(offset)/dt used to predict */
	double		 freq_raw;	/* the least-squares slope */
	double		 freq_err;	/* its standard error */
};

void	ntp_track_reset(struct ntp_track *);
/*
 * Record the offset measured at t (t increasing).  A point further than
 * NTP_STEP from the prediction starts the history afresh (the clock or
 * the upstream changed under us).  Returns 1 when that happened, else 0.
 */
int	ntp_track_add(struct ntp_track *, double t, double offset);
/* The offset predicted for t; 0 before the first point. */
double	ntp_track_predict(const struct ntp_track *, double t);

#endif
