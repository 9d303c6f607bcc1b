/*
 * ntp_select: clock filter, selection by agreement, combining and offset
 * tracking (see ntp_select.h).
 */
#include "evgate_config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "time/ntp_select.h"

/* --- clock filter ---------------------------------------------------- */

void
ntp_filter_clear(struct ntp_filter *f)
{
	memset(f, 0, sizeof(*f));
}

void
ntp_filter_add(struct ntp_filter *f, const struct ntp_sample *s)
{
	f->s[f->next] = *s;
	f->next = (f->next + 1) % NTP_FILTER_SIZE;
	if (f->n < NTP_FILTER_SIZE)
		f->n++;
}

int
ntp_filter_best(const struct ntp_filter *f, struct ntp_sample *best,
    double *jitter)
{
	size_t i, b = 0;
	double sum = 0;

	if (f->n == 0)
		return -1;
	/*
	 * The lowest delay wins: queueing only ever adds delay and skews
	 * the offset, so the fastest exchange is the most truthful one.
	 */
	for (i = 1; i < f->n; i++)
		if (f->s[i].delay < f->s[b].delay ||
		    (f->s[i].delay == f->s[b].delay &&
		    f->s[i].mono_ms > f->s[b].mono_ms))
			b = i;
	*best = f->s[b];
	for (i = 0; i < f->n; i++) {
		double d = f->s[i].offset - best->offset;

		sum += d * d;
	}
	*jitter = f->n > 1 ? sqrt(sum / (double)(f->n - 1)) : 0;
	return 0;
}

/* --- selection ------------------------------------------------------- */

struct edge {
	double	 v;
	int	 type;	/* -1 lower end, +1 upper end */
};

static int
edge_cmp(const void *a, const void *b)
{
	const struct edge *x = a, *y = b;

	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	/* At equal values, lower ends first: touching intervals overlap. */
	return x->type - y->type;
}

size_t
ntp_select(struct ntp_cand *c, size_t n, double *lo, double *hi)
{
	struct edge e[2 * NTP_SELECT_MAX];
	double low = 0, high = 0;
	size_t i, allow, ntrue = 0;
	int found = 0;

	if (n > NTP_SELECT_MAX)
		n = NTP_SELECT_MAX;
	for (i = 0; i < n; i++) {
		c[i].truechimer = 0;
		e[2 * i].v = c[i].offset - c[i].rootdist;
		e[2 * i].type = -1;
		e[2 * i + 1].v = c[i].offset + c[i].rootdist;
		e[2 * i + 1].type = 1;
	}
	if (n == 0)
		return 0;
	qsort(e, 2 * n, sizeof(e[0]), edge_cmp);
	/*
	 * Assume allow falsetickers, starting with none: the lowest point
	 * covered by n - allow intervals and the highest such point bound
	 * the intersection.  A majority (allow < n/2) must agree.
	 */
	for (allow = 0; 2 * allow < n; allow++) {
		long chime = 0;
		size_t j;

		for (j = 0; j < 2 * n; j++) {
			low = e[j].v;
			chime -= e[j].type;
			if (chime >= (long)(n - allow))
				break;
		}
		chime = 0;
		for (j = 2 * n; j-- > 0;) {
			high = e[j].v;
			chime += e[j].type;
			if (chime >= (long)(n - allow))
				break;
		}
		if (high >= low) {
			found = 1;
			break;
		}
	}
	if (!found)
		return 0;
	for (i = 0; i < n; i++) {
		if (c[i].offset + c[i].rootdist < low ||
		    c[i].offset - c[i].rootdist > high)
			continue;
		c[i].truechimer = 1;
		ntrue++;
	}
	*lo = low;
	*hi = high;
	return ntrue;
}

int
ntp_pick(const struct ntp_cand *c, size_t n, int current)
{
	int best = -1;
	size_t i;

	/* Stay with the current peer while it agrees: no clock hopping. */
	if (current >= 0 && (size_t)current < n && c[current].truechimer)
		return current;
	for (i = 0; i < n; i++) {
		if (!c[i].truechimer)
			continue;
		if (best < 0 || c[i].stratum < c[best].stratum ||
		    (c[i].stratum == c[best].stratum &&
		    c[i].rootdist < c[best].rootdist))
			best = (int)i;
	}
	return best;
}

double
ntp_combine(const struct ntp_cand *c, size_t n, int peer, double *jitter)
{
	double wsum = 0, osum = 0, jsum = 0;
	size_t i;

	*jitter = 0;
	for (i = 0; i < n; i++) {
		double w;

		if (!c[i].truechimer || !(c[i].rootdist > 0))
			continue;
		w = 1.0 / c[i].rootdist;
		wsum += w;
		osum += w * c[i].offset;
		if (peer >= 0) {
			double d = c[i].offset - c[peer].offset;

			jsum += w * d * d;
		}
	}
	if (wsum == 0)
		return 0;
	*jitter = sqrt(jsum / wsum);
	return osum / wsum;
}

/* --- tracking -------------------------------------------------------- */

void
ntp_track_reset(struct ntp_track *tr)
{
	memset(tr, 0, sizeof(*tr));
}

/*
 * Least squares over the points held: slope and its standard error.  The
 * slope is used only with 4 points or more spanning NTP_TRACK_MIN_SPAN
 * (a burst of samples 2 s apart says nothing about frequency), when it
 * stands out of its own noise (three standard errors) and is within what
 * a working oscillator does; a clock already disciplined by something
 * else then gets no made-up drift to extrapolate over the holdover.
 */
static double
track_span(const struct ntp_track *tr)
{
	double lo = tr->t[0], hi = tr->t[0];
	size_t i;

	for (i = 1; i < tr->n; i++) {
		if (tr->t[i] < lo)
			lo = tr->t[i];
		if (tr->t[i] > hi)
			hi = tr->t[i];
	}
	return hi - lo;
}

static void
track_fit(struct ntp_track *tr)
{
	double mt = 0, mo = 0, stt = 0, sto = 0, res = 0, b, a;
	size_t i;

	tr->freq = tr->freq_raw = tr->freq_err = 0;
	if (tr->n < 3)
		return;
	for (i = 0; i < tr->n; i++) {
		mt += tr->t[i];
		mo += tr->off[i];
	}
	mt /= (double)tr->n;
	mo /= (double)tr->n;
	for (i = 0; i < tr->n; i++) {
		stt += (tr->t[i] - mt) * (tr->t[i] - mt);
		sto += (tr->t[i] - mt) * (tr->off[i] - mo);
	}
	if (stt <= 0)
		return;
	b = sto / stt;
	a = mo - b * mt;
	for (i = 0; i < tr->n; i++) {
		double r = tr->off[i] - (a + b * tr->t[i]);

		res += r * r;
	}
	tr->freq_raw = b;
	tr->freq_err = sqrt(res / (double)(tr->n - 2) / stt);
	if (tr->n >= 4 && track_span(tr) >= NTP_TRACK_MIN_SPAN &&
	    fabs(b) > 3 * tr->freq_err && fabs(b) <= NTP_MAXFREQ)
		tr->freq = b;
}

int
ntp_track_add(struct ntp_track *tr, double t, double offset)
{
	int restarted = 0;

	if (tr->n > 0 && fabs(offset - ntp_track_predict(tr, t)) > NTP_STEP) {
		ntp_track_reset(tr);
		restarted = 1;
	}
	tr->t[tr->next] = t;
	tr->off[tr->next] = offset;
	tr->next = (tr->next + 1) % NTP_TRACK_SIZE;
	if (tr->n < NTP_TRACK_SIZE)
		tr->n++;
	tr->last_t = t;
	tr->last_off = offset;
	track_fit(tr);
	return restarted;
}

double
ntp_track_predict(const struct ntp_track *tr, double t)
{
	if (tr->n == 0)
		return 0;
	return tr->last_off + tr->freq * (t - tr->last_t);
}
