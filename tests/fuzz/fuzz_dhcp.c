/*
 * libFuzzer target: the DHCP message parser of the charger firmware, and
 * the decoder of the lease it keeps across restarts (the same bytes).
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/dhcp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dhcp_msg m;
	struct dhcp_lease l;
	char text[DHCP_LEASE_TEXT_MAX];
	enum dhcp_parse_status st = dhcp_parse(data, size, &m);

	/* What the client relies on, checked on every input. */
	assert(m.nrouters <= DHCP_MAX_ADDRS);
	assert(m.ndns <= DHCP_MAX_ADDRS);
	assert(m.nntp <= DHCP_MAX_ADDRS);
	if (st == DHCP_PARSE_OK)
		assert(m.type != 0 && size >= 240);
	assert(strlen(dhcp_parse_strerror(st)) > 0);
	if (dhcp_lease_decode((const char *)data, size, &l) == 0) {
		assert(l.ndns <= DHCP_MAX_ADDRS && l.nntp <= DHCP_MAX_ADDRS);
		assert(l.addr != 0);
		/* What decodes encodes again, to the same text. */
		assert(dhcp_lease_encode(&l, text, sizeof(text)) == 0);
	}
	return 0;
}
