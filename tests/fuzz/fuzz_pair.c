/*
 * libFuzzer target: the pair link's messages (pair_proto.c).  Whatever the
 * parser accepts must format again and read back the same, and a lease
 * it accepts is merged into a lease table (leases_merge), which must stay
 * consistent: one address per lease, every lease found by its address.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>

#include "daemon/config.h"
#include "site/lan.h"
#include "site/leases.h"
#include "site/pair_proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char site[] =
    "lan: {interface: plc0, address: 10.42.0.1/24}\n"
    "dhcp:\n"
    "  range: 10.42.0.10-10.42.0.250\n"
    "  chargers: [{id: ZAP000101, mac: \"02:42:00:00:00:01\","
    " address: 10.42.0.21}]\n";

static void
check_entry(const struct lease_info *li, void *arg)
{
	const struct leases *l = arg;

	if (li->active)
		assert(leases_by_addr(l, li->addr) == li);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config *conf;
	static struct leases *table;
	static struct site_conf sc;
	struct pair_msg m, r;
	struct lease_peer lp;
	const char *why;
	char buf[PAIR_MSG_MAX];
	size_t n;

	if (conf == NULL) {
		char err[256];

		conf = config_load_buffer("fuzz", (const uint8_t *)site,
		    sizeof(site) - 1, err, sizeof(err));
		assert(conf != NULL);
		config_site(conf, &sc);
		table = leases_new();
		leases_configure(table, &sc);
	}
	if (pair_msg_parse(data, size, &m, &why) != PAIR_OK)
		return 0;
	n = pair_msg_format(&m, buf, sizeof(buf));
	assert(n > 0 && buf[n - 1] == '\n');
	assert(pair_msg_parse((const uint8_t *)buf, n - 1, &r, &why) ==
	    PAIR_OK);
	assert(memcmp(&m, &r, sizeof(m)) == 0);
	if (m.type != PAIR_MSG_LEASE)
		return 0;
	memset(&lp, 0, sizeof(lp));
	lp.del = m.del;
	memcpy(lp.mac, m.mac, 6);
	lp.addr = m.addr;
	lp.expires = m.ttl < 0 ? 0 : 1795596000 + m.ttl;
	strcpy(lp.hostname, m.hostname);
	strcpy(lp.client_id, m.client_id);
	leases_merge(table, &lp, 1795596000, &why);
	leases_foreach(table, check_entry, table);
	if (leases_count(table) > 1000) {
		leases_free(table);
		table = leases_new();
		leases_configure(table, &sc);
	}
	return 0;
}
