/*
 * libFuzzer target: the lease parsers.  Every input is tried both as a
 * line of the lease database (lease_parse_line) and as a lease-event
 * request from the dhcp-script hook (lease_event_parse); what they accept
 * must meet the promises leases.h makes, and an accepted event is applied
 * to a lease table (which must stay consistent).
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>

#include "daemon/config.h"
#include "site/lan.h"
#include "site/leases.h"

/* The site's view of c (a few at once, for calls in one expression). */
static const struct site_conf *
SC(const struct config *c)
{
	static struct site_conf v[4];
	static unsigned i;
	struct site_conf *sc = &v[i++ % 4];

	config_site(c, sc);
	return sc;
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char site[] =
    "lan: {interface: plc0, address: 10.42.0.1/24}\n"
    "dhcp:\n"
    "  range: 10.42.0.10-10.42.0.250\n"
    "  chargers: [{id: ZAP000101, mac: \"02:42:00:00:00:01\","
    " address: 10.42.0.21}]\n";

static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~')
			return 0;
	return 1;
}

static void
collect(const char *line, void *arg)
{
	struct lease_line ln;

	/* What dnsmasq gets back parses again, in its own form. */
	assert(lease_parse_line((const uint8_t *)line, strlen(line), &ln) ==
	    LEASE_OK && ln.dnsmasq_form);
	(*(size_t *)arg)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config *conf;
	struct lease_line ln;
	struct lease_event ev;
	struct leases *l;
	const char *why;
	char err[256];
	size_t n = 0;
	int rv;

	if (conf == NULL) {
		conf = config_load_buffer("fuzz", (const uint8_t *)site,
		    sizeof(site) - 1, err, sizeof(err));
		assert(conf != NULL);
	}
	if (lease_parse_line(data, size, &ln) == LEASE_OK) {
		assert(size <= LEASE_LINE_MAX);
		assert(ln.expires >= -1);
		assert(ln.addr.s_addr != 0);
		assert(strlen(ln.hostname) <= LEASE_HOSTNAME_MAX);
		assert(ln.hostname[0] == '\0' || lease_hostname_ok(ln.hostname,
		    strlen(ln.hostname)));
		assert(printable(ln.client_id) && printable(ln.charger));
		assert(ln.charger[0] == '\0' || lan_check_id(ln.charger,
		    strlen(ln.charger)) == NULL);
		l = leases_new();
		leases_configure(l, SC(conf));
		assert(leases_apply_line(l, &ln) == 1);
		assert(leases_count(l) == 1);
		leases_free(l);
	}
	if (lease_event_parse(data, size, &ev) == LEASE_OK) {
		assert(ev.action == LEASE_ADD || ev.action == LEASE_OLD ||
		    ev.action == LEASE_DEL);
		assert(ev.hostname[0] == '\0' || lease_hostname_ok(ev.hostname,
		    strlen(ev.hostname)));
		assert(printable(ev.client_id) && printable(ev.interface));
		assert(ev.expires >= -1 && ev.remaining >= -1);
		l = leases_new();
		leases_configure(l, SC(conf));
		rv = leases_apply(l, &ev, 1795596000LL, &why);
		assert(rv == -1 ? why != NULL : why == NULL);
		if (rv == 1 && ev.action != LEASE_DEL) {
			assert(leases_by_addr(l, ev.addr) != NULL);
			assert(leases_name(l, ev.addr) != NULL);
		}
		leases_init_lines(l, 0, collect, &n);
		assert(n <= 1);
		leases_free(l);
	}
	return 0;
}
