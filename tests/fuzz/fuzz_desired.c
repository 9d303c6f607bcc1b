/*
 * libFuzzer target: the desired-properties document (a twin PATCH or the
 * desired part of a GET) and the kept settings' text.  The first byte
 * picks whole document or patch.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/desired.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct desired_settings s = { 16, 600, 180, 60 }, k;
	char ack[DESIRED_ACK_MAX];
	int64_t v;

	if (size == 0)
		return 0;
	if (desired_apply(&s, (const char *)data + 1, size - 1, data[0] & 1,
	    7, ack, sizeof(ack)) == DESIRED_OK) {
		assert(s.max_current_a == 0 ||
		    (s.max_current_a >= 6 && s.max_current_a <= 32));
		assert(s.pulse_idle_s == 0 || s.pulse_idle_s >= 10);
		assert(strlen(ack) < sizeof(ack));
	}
	if (desired_decode((const char *)data, size, &k, &v) == 0)
		assert(v >= 0 && k.max_current_a <= 32);
	return 0;
}
