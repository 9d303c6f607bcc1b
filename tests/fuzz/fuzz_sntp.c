/* libFuzzer target: the SNTP reply parser and its sanity checks. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/sntp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sntp_pkt p;
	int64_t off, delay;

	if (sntp_parse(data, size, &p) != SNTP_PARSE_OK)
		return 0;
	assert(size >= SNTP_PKT_LEN);
	assert(p.vn == 3 || p.vn == 4);
	if (sntp_check(&p, p.org) == SNTP_VALID) {
		assert(p.li != 3 && p.stratum >= 1 && p.stratum <= 15);
		sntp_sample(&p, 1767225600000LL, 1767225600010LL, &off, &delay);
		assert(delay >= 0);
	}
	assert(sntp_check(&p, p.org + 1) != SNTP_VALID);
	return 0;
}
