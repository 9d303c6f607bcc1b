/*
 * telemetry: the observation message, its JSON written directly (values
 * escaped exactly as json-c would).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/telemetry.h"

void
tel_init(struct tel_msg *m)
{
	m->n = 0;
	m->used = 0;
	m->key = 0;
}

int
tel_add(struct tel_msg *m, int id, enum tel_type type, const char *value)
{
	size_t len = strlen(value);
	struct tel_obs *o;

	if (m->n >= TEL_MAX_OBS || len >= TEL_VALUE_MAX ||
	    len + 1 > TEL_TEXT_MAX - m->used)
		return -1;
	o = &m->obs[m->n++];
	o->id = id;
	o->type = type;
	o->off = (uint16_t)m->used;
	memcpy(m->text + m->used, value, len + 1);
	m->used += len + 1;
	return 0;
}

const char *
tel_value(const struct tel_msg *m, size_t i)
{
	return m->text + m->obs[i].off;
}

int
tel_addf(struct tel_msg *m, int id, enum tel_type type, const char *fmt, ...)
{
	char buf[TEL_VALUE_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return tel_add(m, id, type, buf);
}

void
tel_time(int64_t wall_ms, char *buf, size_t cap)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * A JSON string body: '"' and '\\' escaped, control characters as
 * \b \f \n \r \t or \u00XX, everything else (UTF-8 included) as is --
 * the same bytes json-c writes with JSON_C_TO_STRING_NOSLASHESCAPE.  With
 * out == NULL only counts.
 */
static size_t
json_str(char *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t n = 0;
	char e;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':  e = '"'; break;
		case '\\': e = '\\'; break;
		case '\b': e = 'b'; break;
		case '\f': e = 'f'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		case '\t': e = 't'; break;
		default:   e = *p < 0x20 ? 'u' : 0; break;
		}
		if (e == 0) {
			if (out != NULL)
				out[n] = (char)*p;
			n++;
		} else if (e != 'u') {
			if (out != NULL) {
				out[n] = '\\';
				out[n + 1] = e;
			}
			n += 2;
		} else {
			if (out != NULL)
				memcpy(out + n, (char[]){ '\\', 'u', '0', '0',
				    hex[*p >> 4], hex[*p & 15] }, 6);
			n += 6;
		}
	}
	return n;
}

/* v in decimal into buf (>= 12 bytes), not terminated; returns the length. */
static size_t
fmt_int(char *buf, int v)
{
	char tmp[12];
	unsigned u = v < 0 ? 0U - (unsigned)v : (unsigned)v;
	size_t n = 0, i = 0;

	do
		tmp[n++] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		buf[i++] = '-';
	while (n > 0)
		buf[i++] = tmp[--n];
	return i;
}

/*
 * Written directly, not through a json-c tree: the profile of a charging
 * session (doc/performance.md) had building and freeing the tree at about
 * 57,000 instructions a message, four times the MQTT publish and TLS
 * record together.  Two passes: count, then write into one allocation.
 */
char *
tel_encode(const struct tel_msg *m, int64_t wall_ms)
{
	char when[32], num[2][16], *out = NULL;
	size_t i, len, wlen;
	int pass;

	tel_time(wall_ms, when, sizeof(when));
	wlen = strlen(when);	/* digits, '-', ':', 'T', 'Z': no escapes */
	/* Pass 0 only counts (out is NULL); pass 1 writes. */
	for (pass = 0; pass < 2; pass++) {
#define PUT(str, n) do {					\
	if (out != NULL)					\
		memcpy(out + len, (str), (n));			\
	len += (n);						\
} while (0)
#define PUTS(lit) PUT(lit, sizeof(lit) - 1)
		len = 0;
		PUTS("{\"Observations\":[");
		for (i = 0; i < m->n; i++) {
			size_t a = fmt_int(num[0], m->obs[i].id);
			size_t b = fmt_int(num[1], (int)m->obs[i].type);

			if (i > 0)
				PUTS(",");
			PUTS("{\"ObservedAt\":\"");
			PUT(when, wlen);
			PUTS("\",\"Value\":\"");
			len += json_str(out != NULL ? out + len : NULL,
			    tel_value(m, i));
			PUTS("\",\"ObservationId\":");
			PUT(num[0], a);
			PUTS(",\"Type\":");
			PUT(num[1], b);
			PUTS("}");
		}
		PUTS("],\"Type\":6}");
#undef PUTS
#undef PUT
		if (pass == 0 && (out = malloc(len + 1)) == NULL)
			return NULL;
	}
	out[len] = '\0';
	return out;
}
