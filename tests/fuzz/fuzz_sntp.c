/*
 * libFuzzer target: the SNTP reply parser, its sanity checks and the
 * kiss-o'-death codes; then the client fed the input as the answer to
 * its request (the cookie patched in), so back-off, kiss handling, the
 * floor and the two-sample rule run on every input.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/sntp.h"
#include "hal/fake/hal_fake.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
client(const uint8_t *data, size_t size)
{
	static const uint32_t servers[2] = { 0x0a2a0001, 0x0a2a0002 };
	const struct fake_pkt *req;
	uint8_t buf[512];
	struct sntp *s;
	int i;

	if (size > sizeof(buf))
		return;
	fake_hal_reset();
	if ((s = sntp_new(101, 123, NULL)) == NULL)
		return;
	sntp_set_servers(s, servers, 2, hal_mono_ms());
	for (i = 0; i < 3; i++) {
		fake_advance(sntp_deadline(s) - hal_mono_ms());
		sntp_tick(s, hal_mono_ms());
		if ((req = fake_udp(fake_udp_count() - 1)) == NULL)
			break;
		memcpy(buf, data, size);
		if (size >= 48)
			memcpy(buf + 24, req->buf + 40, 8);	/* our cookie */
		sntp_input(s, buf, size, req->dst, 123, hal_wall_ms(),
		    hal_mono_ms());
		assert(sntp_deadline(s) >= hal_mono_ms());
	}
	sntp_free(s);
}

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
	if (sntp_check(&p, p.org) == SNTP_KOD)
		assert(p.stratum == 0 && sntp_kiss(&p) != SNTP_KISS_NONE);
	client(data, size);
	return 0;
}
