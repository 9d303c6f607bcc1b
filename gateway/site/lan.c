/*
 * lan: parsers and cross-section rules for the lan, dhcp, dns and dnsmasq
 * sections (see lan.h).  Only IPv4: dnsmasq hands out DHCPv4 leases here,
 * and the chargers' PLC segment is an IPv4 network.
 */
#include "evgate_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cfg.h"
#include "relay/relay_conf.h"
#include "site/lan.h"
#include "common/match.h"
#include "common/util.h"

#define DNSMASQ_BINARY	"/usr/sbin/dnsmasq"
#define DNSMASQ_USER	"dnsmasq"	/* created by Debian's dnsmasq-base */
#define STATE_DIR	LOCALSTATEDIR "/lib/evgate"
#define RUN_DIR		RUNSTATEDIR "/evgate/dnsmasq"
#define HOOK_PATH	LIBEXECDIR "/evgate-dhcp-hook"
#define RUN_DIR_MAX	80	/* leaves room for "/lease.sock" in sun_path */

/* A scalar's text, or NULL after the error "expected what, found ...". */
static const char *
scalar(struct cfg_ctx *ctx, struct cfg_node *node, const char *what,
    size_t *len)
{
	return cfg_scalar(ctx, node, what, len);
}

static uint32_t
h(struct in_addr a)
{
	return ntohl(a.s_addr);
}

/* --- small pure helpers ---------------------------------------------- */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
lan_parse_mac(const char *s, size_t len, uint8_t mac[6])
{
	size_t i;

	if (len != 17)
		return -1;
	for (i = 0; i < 6; i++) {
		int hi = hexval((unsigned char)s[i * 3]);
		int lo = hexval((unsigned char)s[i * 3 + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

const char *
lan_format_mac(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
	    mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

const char *
lan_check_id(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return "empty charger id";
	if (len > LAN_ID_MAX)
		return "charger id longer than 63 characters";
	if (!isalnum((unsigned char)s[0]))
		return "a charger id starts with a letter or digit";
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return "a charger id has only letters, digits, '-', "
			    "'_' and '.'";
	return NULL;
}

/* Strict dotted quad (inet_pton's rules: no leading zeros, 4 parts). */
static int
parse_ipv4(const char *s, struct in_addr *a)
{
	return inet_pton(AF_INET, s, a) == 1 ? 0 : -1;
}

int
lan_contains(const struct cfg_lan *lan, struct in_addr a)
{
	uint32_t m = h(lan->mask), net = h(lan->addr) & m;

	if ((h(a) & m) != net)
		return 0;
	return (h(a) & ~m) != 0 && (h(a) & ~m) != ~m;
}

const struct cfg_charger *
lan_charger_by_mac(const struct cfg_dhcp *dhcp, const uint8_t mac[6])
{
	size_t i;

	for (i = 0; dhcp != NULL && i < dhcp->ncharger; i++)
		if (memcmp(dhcp->chargers[i].mac, mac, 6) == 0)
			return &dhcp->chargers[i];
	return NULL;
}

size_t
lan_pool_size(const struct cfg_dhcp *dhcp)
{
	size_t n, i;

	if (dhcp == NULL)
		return 0;
	n = (size_t)(h(dhcp->range_hi) - h(dhcp->range_lo)) + 1;
	for (i = 0; i < dhcp->ncharger; i++) {
		uint32_t a = h(dhcp->chargers[i].addr);

		if (a != 0 && (a < h(dhcp->range_lo) || a > h(dhcp->range_hi)))
			n++;
	}
	return n;
}

/* --- lan ------------------------------------------------------------- */

static int
lan_interface(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_lan *lan = arg;
	size_t i, len;

	if (cfg_str(ctx, node, &lan->interface) == -1)
		return -1;
	len = strlen(lan->interface);
	if (len > 15)
		return cfg_error(ctx, node, "an interface name has at most 15 "
		    "characters");
	if (strcmp(lan->interface, ".") == 0 ||
	    strcmp(lan->interface, "..") == 0)
		return cfg_error(ctx, node, "not an interface name");
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)lan->interface[i]) &&
		    strchr("-_.@", lan->interface[i]) == NULL)
			return cfg_error(ctx, node, "\"%.16s\" is not an "
			    "interface name", lan->interface);
	if (strcmp(lan->interface, "lo") == 0)
		return cfg_error(ctx, node, "the chargers are not on the "
		    "loopback interface");
	return 0;
}

static int
lan_address(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_lan *lan = arg;
	char buf[32], *slash, *end;
	const char *v;
	unsigned long prefix;

	if ((v = scalar(ctx, node, "an address such as 10.42.0.1/24",
	    NULL)) == NULL)
		return -1;
	lan->mark = cfg_mark(node);
	if (strlcpy(buf, v, sizeof(buf)) >= sizeof(buf) ||
	    (slash = strchr(buf, '/')) == NULL)
		return cfg_error(ctx, node, "expected the gateway's address "
		    "with its prefix length, such as 10.42.0.1/24, found "
		    "\"%.64s\"", v);
	*slash = '\0';
	prefix = strtoul(slash + 1, &end, 10);
	if (parse_ipv4(buf, &lan->addr) == -1)
		return cfg_error(ctx, node, "\"%s\" is not an IPv4 address",
		    buf);
	if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || prefix < 8 ||
	    prefix > 30)
		return cfg_error(ctx, node, "the prefix length must be 8 to 30 "
		    "(found \"%.16s\")", slash + 1);
	lan->prefix = (unsigned)prefix;
	lan->mask.s_addr = htonl(~0U << (32 - prefix));
	if (!lan_contains(lan, lan->addr))
		return cfg_error(ctx, node, "%s is the network or broadcast "
		    "address of /%lu, not a host address", buf, prefix);
	free(lan->text);
	lan->text = xstrdup(v);
	return 0;
}

int
lan_section(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "interface", lan_interface, 1 },
		{ "address", lan_address, 1 },
		{ NULL, NULL, 0 },
	};
	struct cfg_lan **out = arg;

	*out = xcalloc(1, sizeof(**out));
	return cfg_map(ctx, node, keys, *out);
}

/* --- dhcp ------------------------------------------------------------ */

static int
dhcp_range(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_dhcp *dhcp = arg;
	char buf[48], *dash, *lo, *hi;
	const char *v;

	if ((v = scalar(ctx, node, "a range such as 10.42.0.10-10.42.0.250",
	    NULL)) == NULL)
		return -1;
	dhcp->range_mark = cfg_mark(node);
	if (strlcpy(buf, v, sizeof(buf)) >= sizeof(buf) ||
	    (dash = strchr(buf, '-')) == NULL)
		return cfg_error(ctx, node, "expected first-last, such as "
		    "10.42.0.10-10.42.0.250, found \"%.64s\"", v);
	*dash = '\0';
	lo = buf;
	hi = dash + 1;
	while (*lo == ' ')
		lo++;
	while (*hi == ' ')
		hi++;
	while (dash > lo && dash[-1] == ' ')
		*--dash = '\0';
	if (parse_ipv4(lo, &dhcp->range_lo) == -1 ||
	    parse_ipv4(hi, &dhcp->range_hi) == -1)
		return cfg_error(ctx, node, "expected two IPv4 addresses, "
		    "first-last, found \"%.64s\"", v);
	if (h(dhcp->range_lo) > h(dhcp->range_hi))
		return cfg_error(ctx, node, "the range's first address is "
		    "after its last");
	return 0;
}

static int
dhcp_lease_time(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_dhcp *dhcp = arg;

	/* dnsmasq's floor is two minutes; a week is plenty for chargers
	 * that must get a new address quickly when they move. */
	return cfg_duration(ctx, node, 120000, 7ULL * 86400000,
	    &dhcp->lease_ms);
}

static int
dhcp_known_only(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_dhcp *dhcp = arg;

	return cfg_bool(ctx, node, &dhcp->known_only);
}

struct charger_parse {
	struct cfg_dhcp	*dhcp;
	size_t		 idx;
};

static int
charger_id(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct charger_parse *cp = arg;
	struct cfg_charger *c = &cp->dhcp->chargers[cp->idx];
	const char *why;
	size_t i;

	if (cfg_str(ctx, node, &c->id) == -1)
		return -1;
	if ((why = lan_check_id(c->id, strlen(c->id))) != NULL)
		return cfg_error(ctx, node, "\"%.64s\": %s", c->id, why);
	for (i = 0; i < cp->idx; i++)
		if (strcasecmp(cp->dhcp->chargers[i].id, c->id) == 0)
			return cfg_error(ctx, node, "charger id %s is listed "
			    "twice (also dhcp.chargers[%zu])", c->id, i);
	return 0;
}

static int
charger_mac(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct charger_parse *cp = arg;
	struct cfg_charger *c = &cp->dhcp->chargers[cp->idx];
	static const uint8_t zero[6];
	const char *v;
	size_t i, len;

	if ((v = scalar(ctx, node, "a MAC address", &len)) == NULL)
		return -1;
	if (lan_parse_mac(v, len, c->mac) == -1)
		return cfg_error(ctx, node, "expected a MAC address such as "
		    "\"02:42:00:00:00:01\", found \"%.64s\"", v);
	if (c->mac[0] & 1)
		return cfg_error(ctx, node, "%s is a multicast address, not a "
		    "charger's", v);
	if (memcmp(c->mac, zero, 6) == 0)
		return cfg_error(ctx, node, "00:00:00:00:00:00 is not a "
		    "charger's MAC address");
	for (i = 0; i < cp->idx; i++)
		if (memcmp(cp->dhcp->chargers[i].mac, c->mac, 6) == 0)
			return cfg_error(ctx, node, "MAC %s is listed twice "
			    "(also dhcp.chargers[%zu])", v, i);
	return 0;
}

static int
charger_address(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct charger_parse *cp = arg;
	struct cfg_charger *c = &cp->dhcp->chargers[cp->idx];
	const char *v;
	size_t i;

	if ((v = scalar(ctx, node, "an IPv4 address", NULL)) == NULL)
		return -1;
	c->addr_mark = cfg_mark(node);
	if (parse_ipv4(v, &c->addr) == -1 || c->addr.s_addr == 0)
		return cfg_error(ctx, node, "\"%.64s\" is not an IPv4 address",
		    v);
	for (i = 0; i < cp->idx; i++)
		if (cp->dhcp->chargers[i].addr.s_addr == c->addr.s_addr)
			return cfg_error(ctx, node, "address %s is reserved "
			    "twice (also for %s)", v,
			    cp->dhcp->chargers[i].id ?
			    cp->dhcp->chargers[i].id : "another charger");
	return 0;
}

static int
charger_item(struct cfg_ctx *ctx, struct cfg_node *node, size_t idx, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "id", charger_id, 1 },
		{ "mac", charger_mac, 1 },
		{ "address", charger_address, 0 },
		{ NULL, NULL, 0 },
	};
	struct charger_parse cp = { arg, idx };

	return cfg_map(ctx, node, keys, &cp);
}

static int
dhcp_chargers(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_dhcp *dhcp = arg;
	size_t n;

	if (cfg_list_len(ctx, node, "a list of chargers, {id, mac, address}",
	    &n) == -1)
		return -1;
	if (n > LAN_MAX_CHARGERS)
		return cfg_error(ctx, node, "more than %d chargers",
		    LAN_MAX_CHARGERS);
	dhcp->chargers = xcalloc(n ? n : 1, sizeof(*dhcp->chargers));
	dhcp->ncharger = n;
	return cfg_seq(ctx, node, charger_item, dhcp);
}

int
lan_dhcp_section(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "range", dhcp_range, 1 },
		{ "lease_time", dhcp_lease_time, 0 },
		{ "known_only", dhcp_known_only, 0 },
		{ "chargers", dhcp_chargers, 0 },
		{ NULL, NULL, 0 },
	};
	struct cfg_dhcp **out = arg, *dhcp;

	dhcp = *out = xcalloc(1, sizeof(*dhcp));
	dhcp->lease_ms = 3600000;
	dhcp->known_only = 1;
	return cfg_map(ctx, node, keys, dhcp);
}

/* --- dns ------------------------------------------------------------- */

static int
dns_cache_size(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_dns *dns = arg;
	unsigned long v;

	if (cfg_uint(ctx, node, 0, 10000, &v) == -1)
		return -1;
	dns->cache_size = (unsigned)v;
	return 0;
}

/* A list of names, each "name" or "*.suffix" as in relay allowlists. */
struct name_list {
	char	**v;
	size_t	  n;
};

static int
name_item(struct cfg_ctx *ctx, struct cfg_node *node, size_t idx, void *arg)
{
	struct name_list *l = arg;
	const char *why;

	if (cfg_str(ctx, node, &l->v[idx]) == -1)
		return -1;
	if ((why = match_pattern_check(l->v[idx])) != NULL)
		return cfg_error(ctx, node, "\"%.64s\": %s", l->v[idx], why);
	return 0;
}

static int
name_list(struct cfg_ctx *ctx, struct cfg_node *node, char ***list, size_t *n)
{
	struct name_list l;

	if (cfg_list_len(ctx, node, "a list of names", &l.n) == -1)
		return -1;
	if (l.n > 1024)
		return cfg_error(ctx, node, "more than 1024 names");
	l.v = xcalloc(l.n ? l.n : 1, sizeof(*l.v));
	/* Owned by the section from here on, so it is freed either way. */
	*list = l.v;
	*n = l.n;
	return cfg_seq(ctx, node, name_item, &l);
}

static int
dns_steer(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_dns *dns = arg;

	return name_list(ctx, node, &dns->steer, &dns->nsteer);
}

static int
dns_pass_through(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_dns *dns = arg;

	return name_list(ctx, node, &dns->pass_through, &dns->npass);
}

int
lan_dns_section(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "cache_size", dns_cache_size, 0 },
		{ "steer", dns_steer, 0 },
		{ "pass_through", dns_pass_through, 0 },
		{ NULL, NULL, 0 },
	};
	struct cfg_dns **out = arg, *dns;

	dns = *out = xcalloc(1, sizeof(*dns));
	dns->cache_size = 1000;
	dns->nsteer = (size_t)-1;	/* not given: the default, below */
	if (cfg_map(ctx, node, keys, dns) == -1) {
		if (dns->nsteer == (size_t)-1)
			dns->nsteer = 0;
		return -1;
	}
	if (dns->nsteer == (size_t)-1) {
		/* The chargers' NTP name is static: steer it unless told. */
		dns->steer = xcalloc(1, sizeof(*dns->steer));
		dns->steer[0] = xstrdup("no.pool.ntp.org");
		dns->nsteer = 1;
	}
	return 0;
}

/* --- dnsmasq --------------------------------------------------------- */

static int
abs_path(struct cfg_ctx *ctx, struct cfg_node *node, char **out)
{
	size_t i;

	if (cfg_str(ctx, node, out) == -1)
		return -1;
	if ((*out)[0] != '/')
		return cfg_error(ctx, node, "the path must be absolute");
	if (strlen(*out) > 200)
		return cfg_error(ctx, node, "path longer than 200 bytes");
	/* dnsmasq runs the hook's "init" through the shell (popen), and
	 * the paths go into dnsmasq's configuration file: keep them to
	 * characters that mean nothing to either. */
	for (i = 0; (*out)[i] != '\0'; i++)
		if (!isalnum((unsigned char)(*out)[i]) &&
		    strchr("/._-+", (*out)[i]) == NULL)
			return cfg_error(ctx, node, "use only letters, digits "
			    "and / . _ - + in this path");
	return 0;
}

static int
dm_binary(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_dnsmasq *dm = arg;

	return abs_path(ctx, node, &dm->binary);
}

static int
dm_user(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_dnsmasq *dm = arg;
	size_t i;

	if (cfg_str(ctx, node, &dm->user) == -1)
		return -1;
	for (i = 0; dm->user[i] != '\0'; i++)
		if (!isalnum((unsigned char)dm->user[i]) &&
		    strchr("-_.", dm->user[i]) == NULL)
			return cfg_error(ctx, node, "\"%.32s\" is not a user "
			    "name", dm->user);
	if (i > 32)
		return cfg_error(ctx, node, "user name longer than 32");
	if (strcmp(dm->user, "root") == 0)
		return cfg_error(ctx, node, "dnsmasq must not keep root "
		    "privileges: give an unprivileged user");
	return 0;
}

static int
dm_state_dir(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_dnsmasq *dm = arg;

	return abs_path(ctx, node, &dm->state_dir);
}

static int
dm_run_dir(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_dnsmasq *dm = arg;

	if (abs_path(ctx, node, &dm->run_dir) == -1)
		return -1;
	if (strlen(dm->run_dir) > RUN_DIR_MAX)
		return cfg_error(ctx, node, "run_dir is longer than %d bytes "
		    "(it holds a Unix socket)", RUN_DIR_MAX);
	return 0;
}

static int
dm_hook(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_dnsmasq *dm = arg;

	return abs_path(ctx, node, &dm->hook);
}

int
lan_dnsmasq_section(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "binary", dm_binary, 0 },
		{ "user", dm_user, 0 },
		{ "state_dir", dm_state_dir, 0 },
		{ "run_dir", dm_run_dir, 0 },
		{ "hook", dm_hook, 0 },
		{ NULL, NULL, 0 },
	};
	struct cfg_dnsmasq **out = arg;

	*out = xcalloc(1, sizeof(**out));
	return cfg_map(ctx, node, keys, *out);
}

/* --- rules across sections ------------------------------------------- */

/* An error at a position saved while parsing. */
static int
mark_error(struct cfg_ctx *ctx, struct cfg_mark mark, const char *msg)
{
	return cfg_error_at(ctx, &mark, "%s", msg);
}

static int
mark_error_fmt(struct cfg_ctx *ctx, struct cfg_mark mark, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cfg_error_at(ctx, &mark, "%s", msg);
}

/* The dnsmasq domain a name stands for ("*.x" and "x" both mean x). */
static const char *
domain_of(const char *pattern)
{
	return pattern[0] == '*' && pattern[1] == '.' ? pattern + 2 : pattern;
}

static int
same_domain(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* Why an address is not a host of lan's subnet, for messages. */
static const char *
outside_why(const struct cfg_lan *lan, struct in_addr a)
{
	static char why[160];
	uint32_t m = h(lan->mask);

	if ((h(a) & m) == (h(lan->addr) & m))
		snprintf(why, sizeof(why), "is the %s address of lan.address's "
		    "subnet %s, not a host address", (h(a) & ~m) == 0 ?
		    "network" : "broadcast", lan->text);
	else
		snprintf(why, sizeof(why), "is outside lan.address's subnet %s",
		    lan->text);
	return why;
}

/*
 * Every charger without a reserved address needs one from the range, and
 * reserved addresses inside the range are not handed to anyone else: with
 * known_only, a range smaller than that leaves chargers without a lease.
 */
static int
check_pool(struct cfg_ctx *ctx, const struct cfg_dhcp *dhcp)
{
	size_t i, need = 0, reserved_in = 0, range;

	range = (size_t)(h(dhcp->range_hi) - h(dhcp->range_lo)) + 1;
	for (i = 0; i < dhcp->ncharger; i++) {
		uint32_t a = h(dhcp->chargers[i].addr);

		if (a == 0)
			need++;
		else if (a >= h(dhcp->range_lo) && a <= h(dhcp->range_hi))
			reserved_in++;
	}
	if (need > range - reserved_in)
		return mark_error_fmt(ctx, dhcp->range_mark, "dhcp.range: %zu "
		    "chargers have no reserved address but the range has only "
		    "%zu free (%zu addresses, %zu of them reserved): widen "
		    "dhcp.range or give chargers an address", need,
		    range - reserved_in, range, reserved_in);
	return 0;
}

static int
check_dhcp(struct cfg_ctx *ctx, const struct cfg_lan *lan,
    const struct cfg_dhcp *dhcp)
{
	char msg[256], a[INET_ADDRSTRLEN];
	size_t i;

	if (!lan_contains(lan, dhcp->range_lo) ||
	    !lan_contains(lan, dhcp->range_hi)) {
		struct in_addr bad = lan_contains(lan, dhcp->range_lo) ?
		    dhcp->range_hi : dhcp->range_lo;

		snprintf(msg, sizeof(msg), "dhcp.range: %s %s", inet_ntop(
		    AF_INET, &bad, a, sizeof(a)), outside_why(lan, bad));
		return mark_error(ctx, dhcp->range_mark, msg);
	}
	if (h(lan->addr) >= h(dhcp->range_lo) &&
	    h(lan->addr) <= h(dhcp->range_hi)) {
		snprintf(msg, sizeof(msg), "dhcp.range: the range contains "
		    "the gateway's own address %s", inet_ntop(AF_INET,
		    &lan->addr, a, sizeof(a)));
		return mark_error(ctx, dhcp->range_mark, msg);
	}
	for (i = 0; i < dhcp->ncharger; i++) {
		const struct cfg_charger *c = &dhcp->chargers[i];

		if (c->addr.s_addr == 0)
			continue;
		inet_ntop(AF_INET, &c->addr, a, sizeof(a));
		if (c->addr.s_addr == lan->addr.s_addr) {
			snprintf(msg, sizeof(msg), "dhcp.chargers[%zu].address: "
			    "%s is the gateway's own address", i, a);
			return mark_error(ctx, c->addr_mark, msg);
		}
		if (!lan_contains(lan, c->addr)) {
			snprintf(msg, sizeof(msg), "dhcp.chargers[%zu].address: "
			    "%s %s", i, a, outside_why(lan, c->addr));
			return mark_error(ctx, c->addr_mark, msg);
		}
	}
	return check_pool(ctx, dhcp);
}

static int
check_dns(struct cfg_ctx *ctx, struct cfg_node *root, const struct cfg_dns *dns,
    const struct cfg_relay *relay, size_t nresolvers)
{
	char path[64];
	size_t i, j, k;
	int rv = 0;

	if (dns->npass > 0 && nresolvers == 0)
		return cfg_error_path(ctx, "dns.pass_through", "needs "
		    "wan.resolvers to resolve through");
	for (i = 0; i < dns->npass; i++) {
		const char *p = domain_of(dns->pass_through[i]);

		snprintf(path, sizeof(path), "dns.pass_through[%zu]", i);
		for (j = 0; j < dns->nsteer; j++)
			if (same_domain(p, domain_of(dns->steer[j])))
				rv = cfg_error_path(ctx, path, "%s is both in "
				    "dns.steer and in dns.pass_through",
				    dns->pass_through[i]);
		for (j = 0; relay != NULL && j < relay->nroutes; j++)
			for (k = 0; k < relay->routes[j].nallow; k++)
				if (same_domain(p, domain_of(
				    relay->routes[j].allow[k])))
					rv = cfg_error_path(ctx, path, "%s is "
					    "in dns.pass_through but the relay "
					    "allows it (relay.routes[%zu]): "
					    "relayed names are steered to the "
					    "gateway", dns->pass_through[i], j);
	}
	return rv;
}

/* The relay must listen where steered names send the chargers. */
static int
check_relay(struct cfg_ctx *ctx, const struct cfg_lan *lan,
    const struct cfg_relay *r)
{
	char msg[256], a[INET_ADDRSTRLEN];
	size_t i;

	for (i = 0; i < r->nlisten; i++) {
		const struct sockaddr_in *sin =
		    (const struct sockaddr_in *)&r->listen[i].ss;

		if (r->listen[i].ss.ss_family != AF_INET)
			continue;
		if (sin->sin_addr.s_addr == lan->addr.s_addr ||
		    sin->sin_addr.s_addr == htonl(INADDR_ANY))
			return 0;
	}
	inet_ntop(AF_INET, &lan->addr, a, sizeof(a));
	snprintf(msg, sizeof(msg), "lan.address: the relay does not listen on "
	    "%s, but steered names are answered with it: add it to "
	    "relay.listen", a);
	return mark_error(ctx, lan->mark, msg);
}

int
lan_config_check(struct cfg_ctx *ctx, struct cfg_node *root,
    const struct cfg_lan *lan, const struct cfg_dhcp *dhcp,
    const struct cfg_dns *dns, struct cfg_dnsmasq **dnsmasq,
    const struct cfg_relay *relay, size_t nresolvers)
{
	struct cfg_dnsmasq *dm;
	int rv = 0;

	if (lan == NULL) {
		if (dhcp != NULL)
			cfg_error_path(ctx, "dhcp", "needs a lan section");
		if (dns != NULL)
			cfg_error_path(ctx, "dns", "needs a lan section");
		return dhcp != NULL || dns != NULL ? -1 : 0;
	}
	if (dhcp != NULL && check_dhcp(ctx, lan, dhcp) == -1)
		rv = -1;
	if (dns != NULL && check_dns(ctx, root, dns, relay, nresolvers) == -1)
		rv = -1;
	if (relay != NULL && dns != NULL && check_relay(ctx, lan, relay) == -1)
		rv = -1;
	if (*dnsmasq == NULL)
		*dnsmasq = xcalloc(1, sizeof(**dnsmasq));
	dm = *dnsmasq;
	if (dm->binary == NULL)
		dm->binary = xstrdup(DNSMASQ_BINARY);
	if (dm->user == NULL)
		dm->user = xstrdup(DNSMASQ_USER);
	if (dm->state_dir == NULL)
		dm->state_dir = xstrdup(STATE_DIR);
	if (dm->run_dir == NULL)
		dm->run_dir = xstrdup(RUN_DIR);
	if (dm->hook == NULL)
		dm->hook = xstrdup(HOOK_PATH);
	return rv;
}

void
lan_config_free(struct cfg_lan *lan, struct cfg_dhcp *dhcp,
    struct cfg_dns *dns, struct cfg_dnsmasq *dnsmasq)
{
	size_t i;

	if (lan != NULL) {
		free(lan->interface);
		free(lan->text);
		free(lan);
	}
	if (dhcp != NULL) {
		for (i = 0; i < dhcp->ncharger; i++)
			free(dhcp->chargers[i].id);
		free(dhcp->chargers);
		free(dhcp);
	}
	if (dns != NULL) {
		cfg_strlist_free(dns->steer, dns->nsteer);
		cfg_strlist_free(dns->pass_through, dns->npass);
		free(dns);
	}
	if (dnsmasq != NULL) {
		free(dnsmasq->binary);
		free(dnsmasq->user);
		free(dnsmasq->state_dir);
		free(dnsmasq->run_dir);
		free(dnsmasq->hook);
		free(dnsmasq);
	}
}
