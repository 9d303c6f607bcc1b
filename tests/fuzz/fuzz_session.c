/*
 * libFuzzer target: the session's durable record (core/session.c) and
 * the data-usage record (core/usage.c), the two lines of text the charger
 * reads back from its kv store after a power cut.  Whatever the bytes, a
 * record that decodes is one the encoder writes, byte for byte, and
 * holds only values the charger can act on.
 */
#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/session.h"
#include "core/usage.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct session_rec s, t;
	struct usage u, v;
	char text[SESSION_TEXT_MAX];
	int n;

	if (session_decode((const char *)data, size, &s) == 0) {
		assert(s.id[0] != '\0');
		assert(isfinite(s.start_wh) && s.start_wh >= 0);
		assert(s.last_wh >= s.start_wh && isfinite(s.end_wh));
		assert(s.phases == 1 || s.phases == 3);
		assert(s.current_a <= 32);
		assert(s.last_wall >= s.start_wall && s.start_wall >= 0);
		n = session_encode(&s, text, sizeof(text));
		assert(n == (int)size && memcmp(text, data, size) == 0);
		assert(session_decode(text, (size_t)n, &t) == 0);
		assert(strcmp(s.id, t.id) == 0 && s.if0 == t.if0);
		assert(session_key(s.id, s.start_wall) != 0);
	} else
		assert(s.id[0] == '\0');

	memset(&u, 0, sizeof(u));
	u.budget = 12345;
	if (usage_decode((const char *)data, size, &u) == 0) {
		assert(u.day_if <= u.total_if && u.day_mqtt <= u.total_mqtt);
		assert(u.day >= -1 && (u.over == 0 || u.over == 1));
		assert(u.budget == 12345);
		assert(usage_encode(&u, text, sizeof(text)) == 0);
		assert(strlen(text) == size && memcmp(text, data, size) == 0);
		memset(&v, 0, sizeof(v));
		assert(usage_decode(text, size, &v) == 0);
		assert(v.total_if == u.total_if);
	} else
		assert(u.budget == 12345 && u.total_if == 0);
	return 0;
}
