/*
 * libFuzzer target: the direct-method parsers.  The first byte picks the
 * method, the rest is its payload; the whole input is also tried as a
 * request topic.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/method.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int ids[] = { 1, 102, 200, 202, 501, 502, 503, 504, 505,
		506, 507, 999 };
	struct method_args a;
	struct method_req r;
	enum method_status st;

	if (size == 0)
		return 0;
	st = method_parse_payload(ids[data[0] % (sizeof(ids) / sizeof(ids[0]))],
	    data + 1, size - 1, &a);
	if (st == METHOD_OK) {
		assert(a.current_a == 0 ||
		    (a.current_a >= 6 && a.current_a <= 32));
		assert(a.phases == 1 || a.phases == 3);
		assert(strlen(a.text) <= METHOD_TEXT_MAX);
	}
	if (method_parse_topic((const char *)data, size, &r) == METHOD_OK) {
		assert(strlen(r.rid) > 0 && strlen(r.rid) < METHOD_RID_MAX);
		assert(strlen(r.name) > 0 && strlen(r.name) < METHOD_NAME_MAX);
	}
	return 0;
}
