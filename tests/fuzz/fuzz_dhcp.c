/* libFuzzer target: the DHCP message parser of the charger firmware. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "core/dhcp.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dhcp_msg m;
	enum dhcp_parse_status st = dhcp_parse(data, size, &m);

	/* What the client relies on, checked on every input. */
	assert(m.nrouters <= DHCP_MAX_ADDRS);
	assert(m.ndns <= DHCP_MAX_ADDRS);
	assert(m.nntp <= DHCP_MAX_ADDRS);
	if (st == DHCP_PARSE_OK)
		assert(m.type != 0 && size >= 240);
	assert(strlen(dhcp_parse_strerror(st)) > 0);
	return 0;
}
