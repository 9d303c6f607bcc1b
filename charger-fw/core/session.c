/*
 * session: see session.h.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/session.h"

#define HEX_MAX		(2 * METHOD_TEXT_MAX + 1)

static void
hex_of(const char *in, char *out, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *in != '\0' && n + 2 < cap; in++) {
		out[n++] = hex[(unsigned char)*in >> 4];
		out[n++] = hex[(unsigned char)*in & 15];
	}
	out[n] = '\0';
}

/* Hex of printable ASCII back to text; "-" is empty. */
static int
text_of(const char *hex, char *out, size_t cap)
{
	size_t n = strlen(hex), i;
	unsigned v;

	if (strcmp(hex, "-") == 0) {
		out[0] = '\0';
		return 0;
	}
	if (n == 0 || n % 2 != 0 || n / 2 >= cap)
		return -1;
	for (i = 0; i < n; i++)
		if (strchr("0123456789abcdef", hex[i]) == NULL)
			return -1;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1 || v < 0x20 ||
		    v > 0x7e)
			return -1;
		out[i] = (char)v;
	}
	out[n / 2] = '\0';
	return 0;
}

static int
wh_ok(double wh)
{
	return isfinite(wh) && wh >= 0;
}

int
session_encode(const struct session_rec *s, char *buf, size_t cap)
{
	char sid[HEX_MAX], uid[HEX_MAX];
	int n;

	hex_of(s->id, sid, sizeof(sid));
	hex_of(s->user, uid, sizeof(uid));
	n = snprintf(buf, cap, "v1 s=%s u=%s sw=%.3f lw=%.3f st=%" PRId64
	    " lt=%" PRId64 " a=%u p=%u c=%d b=%" PRIu64 " m=%" PRIu64
	    " e=%d ew=%.3f et=%" PRId64 " r=%d",
	    sid[0] != '\0' ? sid : "-", uid[0] != '\0' ? uid : "-",
	    s->start_wh, s->last_wh, s->start_wall, s->last_wall,
	    s->current_a, s->phases, s->charging != 0, s->if0, s->mqtt0,
	    s->ended != 0, s->end_wh, s->end_wall, (int)s->reason);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

int
session_decode(const char *buf, size_t len, struct session_rec *s)
{
	char text[SESSION_TEXT_MAX], again[SESSION_TEXT_MAX];
	char sid[HEX_MAX], uid[HEX_MAX];
	long long st, lt, et;
	unsigned long long b, m;
	int c, e, r, end = -1;

	memset(s, 0, sizeof(*s));
	if (len == 0 || len >= sizeof(text) || memchr(buf, '\0', len) != NULL)
		return -1;
	memcpy(text, buf, len);
	text[len] = '\0';
	if (sscanf(text, "v1 s=%128s u=%128s sw=%lf lw=%lf st=%lld lt=%lld "
	    "a=%u p=%u c=%d b=%llu m=%llu e=%d ew=%lf et=%lld r=%d%n", sid,
	    uid, &s->start_wh, &s->last_wh, &st, &lt, &s->current_a,
	    &s->phases, &c, &b, &m, &e, &s->end_wh, &et, &r, &end) != 15 ||
	    end != (int)len)
		goto bad;
	if (text_of(sid, s->id, sizeof(s->id)) == -1 || s->id[0] == '\0' ||
	    text_of(uid, s->user, sizeof(s->user)) == -1 ||
	    !wh_ok(s->start_wh) || !wh_ok(s->last_wh) ||
	    s->last_wh < s->start_wh || !wh_ok(s->end_wh) ||
	    st < 0 || lt < st || et < 0 || s->current_a > 32 ||
	    (s->phases != 1 && s->phases != 3) ||
	    (c != 0 && c != 1) || (e != 0 && e != 1) ||
	    (r != SESSION_UNPLUGGED && r != SESSION_RESTART))
		goto bad;
	s->start_wall = st;
	s->last_wall = lt;
	s->end_wall = et;
	s->charging = c;
	s->if0 = b;
	s->mqtt0 = m;
	s->ended = e;
	s->reason = (enum session_reason)r;
	/*
	 * Only what session_encode writes: sscanf is lenient (signs,
	 * leading zeros, "nan", hex floats).
	 */
	if (session_encode(s, again, sizeof(again)) == -1 ||
	    strcmp(again, text) != 0)
		goto bad;
	return 0;
bad:
	memset(s, 0, sizeof(*s));
	return -1;
}

/* FNV-1a of the session id and start. */
uint32_t
session_key(const char *id, int64_t start)
{
	uint32_t h = 2166136261U;
	size_t i;

	for (; *id != '\0'; id++)
		h = (h ^ (uint8_t)*id) * 16777619U;
	for (i = 0; i < 8; i++)
		h = (h ^ (uint8_t)((uint64_t)start >> (8 * i))) * 16777619U;
	return h != 0 ? h : 1;
}
