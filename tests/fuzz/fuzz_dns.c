/*
 * libFuzzer target: the resolver's DNS codec (relay/dns.c).  The first
 * two bytes choose the query type and how the name is written; the rest
 * is a response, read as an answer to that query -- with the id taken
 * from it, so the fuzzer reaches past the id check.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "relay/dns.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const names[] = {
	"zapcloud.azure-devices.net", "ZapCloud.Azure-Devices.NET",
	"api.zaptec.com.", "a", "x.example",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_answer a;
	enum dns_status st;
	uint8_t q[DNS_MAX_NAME + 64];
	const char *name;
	uint16_t qtype, id;
	size_t i;

	if (size < 2)
		return 0;
	qtype = data[0] & 1 ? DNS_TYPE_AAAA : DNS_TYPE_A;
	name = names[data[1] % (sizeof(names) / sizeof(names[0]))];
	data += 2;
	size -= 2;
	assert(dns_query_encode(q, sizeof(q), 7, name, qtype) > 0);
	id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	st = dns_answer_parse(data, size, id, name, qtype, &a);
	/* What the resolver relies on, checked on every input. */
	assert(a.naddrs <= DNS_MAX_ADDRS);
	if (st == DNS_OK) {
		assert(a.naddrs > 0);
		assert(a.chain <= DNS_MAX_CHAIN);
		for (i = 0; i < a.naddrs; i++)
			assert(a.addrs[i].ss_family ==
			    (qtype == DNS_TYPE_A ? AF_INET : AF_INET6));
	} else
		assert(st != DNS_NODATA || a.naddrs == 0);
	return 0;
}
