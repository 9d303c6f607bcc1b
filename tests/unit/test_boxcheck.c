/*
 * Tests for boxcheck: a configuration against a machine the test builds
 * (struct box), so that each finding -- interface, address, users and
 * groups, ports other programs hold, helper programs, public suffixes --
 * is checked with its exact message and position; and the /proc/net line
 * parser on real and broken lines.
 */
#include "evgate_config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include "common/psl.h"
#include "daemon/boxcheck.h"
#include "daemon/config.h"
#include "site/pair.h"

static const char site[] =
    "wan: {resolvers: [192.0.2.53]}\n"			/* 1 */
    "relay:\n"						/* 2 */
    "  listen: 10.42.0.1\n"				/* 3 */
    "  routes:\n"					/* 4 */
    "    - {port: 8883, allow: [hub.example.net]}\n"	/* 5 */
    "    - {port: 443, allow: [\"*.example.com\", \"*.co.uk\"]}\n" /* 6 */
    "control: {socket: /run/x.sock, group: evgate-admin}\n" /* 7 */
    "lan: {interface: plc0, address: 10.42.0.1/24}\n"	/* 8 */
    "dhcp: {range: 10.42.0.10-10.42.0.20}\n"		/* 9 */
    "dns: {}\n"						/* 10 */
    "ntp: {servers: [192.0.2.123]}\n"			/* 11 */
    "metrics: {listen: \"127.0.0.1:9310\"}\n"		/* 12 */
    "daemon: {user: evgate}\n";				/* 13 */

/* The machine: who exists and what is there, set by each test. */
static const char *users[] = { "evgate", "dnsmasq", NULL };
static const char *groups[] = { "evgate-admin", NULL };
static int evgate_in_admin = 1;
static int hook_errno;

static int
in_list(const char *const *l, const char *s)
{
	for (; *l != NULL; l++)
		if (strcmp(*l, s) == 0)
			return 1;
	return 0;
}

static int
user_exists(const char *u)
{
	return in_list(users, u);
}

static int
group_exists(const char *g)
{
	return in_list(groups, g);
}

static int
in_group(const char *u, const char *g)
{
	return strcmp(u, "evgate") == 0 && strcmp(g, "evgate-admin") == 0 &&
	    evgate_in_admin;
}

static int
executable(const char *path)
{
	return strstr(path, "hook") != NULL ? hook_errno : 0;
}

static char *ifnames[] = { "lo", "eth0", "plc0" };

static void
v4(struct sockaddr_storage *ss, const char *a, unsigned port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, a, &sin->sin_addr);
	sin->sin_port = htons((uint16_t)port);
}

struct fx {
	struct box		 box;
	struct box_addr		 addrs[3];
	struct box_listener	 ls[4];
	struct config		*conf;
	struct cfg_diags	 d;
	char			 out[8192];
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[512];
	static const char psl[] = "com\nnet\nco.uk\n";

	fx->conf = config_load_buffer("t.yaml", (const uint8_t *)site,
	    strlen(site), err, sizeof(err));
	if (fx->conf == NULL)
		fail_msg("%s", err);
	strcpy(fx->addrs[0].ifname, "lo");
	v4(&fx->addrs[0].ss, "127.0.0.1", 0);
	strcpy(fx->addrs[1].ifname, "eth0");
	v4(&fx->addrs[1].ss, "192.0.2.10", 0);
	strcpy(fx->addrs[2].ifname, "plc0");
	v4(&fx->addrs[2].ss, "10.42.0.1", 0);
	fx->box.ifnames = ifnames;
	fx->box.nifnames = 3;
	fx->box.addrs = fx->addrs;
	fx->box.naddrs = 3;
	fx->box.listeners = fx->ls;
	fx->box.psl = psl_parse((const uint8_t *)psl, strlen(psl), err,
	    sizeof(err));
	fx->box.run_user = "evgate";
	fx->box.user_exists = user_exists;
	fx->box.group_exists = group_exists;
	fx->box.in_group = in_group;
	fx->box.executable = executable;
	evgate_in_admin = 1;
	hook_errno = 0;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	psl_free(fx->box.psl);
	config_free(fx->conf);
	cfg_diags_free(&fx->d);
	free(fx);
	return 0;
}

/* Run the checks; every finding, one per line, into fx->out. */
static int
run(struct fx *fx)
{
	size_t i;
	int rv;

	cfg_diags_free(&fx->d);
	rv = config_check_box(fx->conf, &fx->box, &fx->d);
	fx->out[0] = '\0';
	for (i = 0; i < fx->d.n; i++) {
		strcat(fx->out, fx->d.v[i].text);
		strcat(fx->out, "\n");
	}
	return rv;
}

#define SUFFIX_ERR							\
	"t.yaml:6:44: relay.routes[1].allow[1]: \"*.co.uk\" allows every "	\
	"name under the public suffix \"co.uk\", where anyone can have a "	\
	"server: list the cloud's own names instead\n"

/* The machine as the guide sets it up: only the public suffix. */
static void
test_good_box(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(run(fx), -1);
	assert_string_equal(fx->out, SUFFIX_ERR);
}

static void
test_interface_and_address(void **state)
{
	struct fx *fx = *state;

	fx->box.nifnames = 2;		/* no plc0 */
	fx->box.naddrs = 2;
	assert_int_equal(run(fx), -1);
	assert_string_equal(fx->out,
	    "t.yaml:8:18: lan.interface: this machine has no interface plc0 "
	    "(\"ip link\" lists them): dnsmasq would serve nothing\n"
	    "t.yaml:3:11: relay.listen: warning: 10.42.0.1 is no address of "
	    "this machine yet: the relay listens anyway (freebind), but "
	    "chargers reach it only once it is configured\n" SUFFIX_ERR);
	fx->box.nifnames = 3;		/* plc0 without its address */
	assert_int_equal(run(fx), -1);
	assert_string_equal(fx->out,
	    "t.yaml:8:33: lan.address: 10.42.0.1/24 is not an address of plc0 "
	    "(nor of any interface): the NTP server and dnsmasq could not "
	    "bind it (\"Cannot assign requested address\"); add it, e.g. \"ip "
	    "address add 10.42.0.1/24 dev plc0\", or in the site's network "
	    "configuration\n"
	    "t.yaml:3:11: relay.listen: warning: 10.42.0.1 is no address of "
	    "this machine yet: the relay listens anyway (freebind), but "
	    "chargers reach it only once it is configured\n" SUFFIX_ERR);
	strcpy(fx->addrs[2].ifname, "eth0");	/* on the wrong interface */
	fx->box.naddrs = 3;
	assert_int_equal(run(fx), -1);
	assert_string_equal(fx->out,
	    "t.yaml:8:33: lan.address: 10.42.0.1/24 is an address of eth0, not "
	    "of lan.interface plc0: dnsmasq would serve the wrong network\n"
	    SUFFIX_ERR);
}


/*
 * One box of a pair: lan.address is the virtual address, on the master
 * only -- its absence is no error, nor the relay's listener on it; the
 * box's own pair.address must be on lan.interface.
 */
static void
test_pair_box(void **state)
{
	struct fx *fx = *state;

	/* (the section's files are not read here: only its address is) */
	fx->conf->pair = calloc(1, sizeof(*fx->conf->pair));
	inet_pton(AF_INET, "10.42.0.2", &fx->conf->pair->address);
	fx->box.naddrs = 2;		/* a backup: no 10.42.0.1 */
	assert_int_equal(run(fx), -1);
	assert_string_equal(fx->out,
	    "t.yaml:1:1: pair.address: 10.42.0.2 is not an address of plc0: it "
	    "is this box's own address there, which keepalived's adverts come "
	    "from; add it (with the prefix of lan.address) in the site's "
	    "network configuration\n" SUFFIX_ERR);
	v4(&fx->addrs[2].ss, "10.42.0.2", 0);
	fx->box.naddrs = 3;
	assert_int_equal(run(fx), -1);
	assert_string_equal(fx->out, SUFFIX_ERR);
}

static void
test_ports_in_use(void **state)
{
	struct fx *fx = *state;

	fx->ls[0].tcp = 1;
	v4(&fx->ls[0].ss, "0.0.0.0", 443);
	strcpy(fx->ls[0].owner, "nginx (pid 812)");
	fx->ls[1].tcp = 0;
	v4(&fx->ls[1].ss, "10.42.0.1", 53);
	strcpy(fx->ls[1].owner, "dnsmasq (pid 9)");
	fx->ls[2].tcp = 0;		/* evgated's own NTP: not a clash */
	v4(&fx->ls[2].ss, "10.42.0.1", 123);
	strcpy(fx->ls[2].owner, "evgated (pid 7)");
	fx->ls[2].ours = 1;
	fx->ls[3].tcp = 0;		/* UDP 9310 does not take TCP 9310 */
	v4(&fx->ls[3].ss, "127.0.0.1", 9310);
	fx->box.nlisteners = 4;
	assert_int_equal(run(fx), -1);
	assert_string_equal(fx->out,
	    "t.yaml:6:14: relay.routes[1].port: port 443 (TCP) on 0.0.0.0, for "
	    "the relay, is in use by nginx (pid 812)\n"
	    "t.yaml:10:6: dns: port 53 (UDP) on 10.42.0.1, for dnsmasq's DNS, "
	    "is in use by dnsmasq (pid 9): a system DNS server such as the "
	    "dnsmasq package's or systemd-resolved must not serve the "
	    "chargers' interface\n" SUFFIX_ERR);
}

static void
test_users_groups_programs(void **state)
{
	struct fx *fx = *state;

	evgate_in_admin = 0;
	hook_errno = ENOENT;
	assert_int_equal(run(fx), -1);
	assert_string_equal(fx->out,
	    "t.yaml:7:39: control.group: evgated runs as evgate, who is not in "
	    "group evgate-admin: it could not give the socket to that group "
	    "(\"Operation not permitted\"); add evgate to it (the installed "
	    "sysusers file does for evgate-admin)\n"
	    "t.yaml:9:7: dnsmasq.hook: " LIBEXECDIR "/evgate-dhcp-hook: No such "
	    "file or directory (\"make install\" puts evgate-dhcp-hook there; "
	    "set dnsmasq.hook to where it is, e.g. the build tree's "
	    "gateway/evgate-dhcp-hook)\n" SUFFIX_ERR);
	users[0] = "nobody";
	groups[0] = "staff";
	fx->box.run_user = NULL;	/* root: in every group */
	assert_int_equal(run(fx), -1);
	users[0] = "evgate";
	groups[0] = "evgate-admin";
	assert_non_null(strstr(fx->out, "t.yaml:13:16: daemon.user: no user "
	    "evgate on this machine"));
	assert_non_null(strstr(fx->out, "t.yaml:7:39: control.group: no group "
	    "evgate-admin on this machine\n"));
}

static void
test_no_suffix_list(void **state)
{
	struct fx *fx = *state;
	struct psl *p = fx->box.psl;

	fx->box.psl = NULL;
	strcpy(fx->box.psl_error, "/x/list.dat: No such file or directory");
	assert_int_equal(run(fx), 0);		/* a warning only */
	assert_string_equal(fx->out, "t.yaml:3:3: relay: warning: cannot check "
	    "allowlists against the public suffix list: /x/list.dat: No such "
	    "file or directory (install Debian's publicsuffix)\n");
	fx->box.psl = p;
}

/* Parse one line, its length counted. */
#define PN(line, tcp, v6)						\
	box_parse_proc_net((line), strlen(line), (tcp), (v6), &l, &inode)

static void
test_proc_net(void **state)
{
	struct box_listener l;
	unsigned long inode;
	char a[INET6_ADDRSTRLEN];
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&l.ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&l.ss;

	assert_int_equal(PN("  sl  local_address rem_address "
	    "  st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
	    "inode\n", 1, 0), 0);
	/* 127.0.0.53:53 listening, as the kernel prints it */
	assert_int_equal(PN("   0: 3500007F:0035 00000000:0000 "
	    "0A 00000000:00000000 00:00000000 00000000   101        0 18812 1 "
	    "0000000000000000 100 0 0 10 5\n", 1, 0), 1);
	assert_string_equal(inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a)),
	    "127.0.0.53");
	assert_int_equal(ntohs(sin->sin_port), 53);
	assert_int_equal(inode, 18812);
	assert_int_equal(l.tcp, 1);
	/* established: not a listener */
	assert_int_equal(PN("   1: 0100007F:0CEA 0100007F:B0B2 "
	    "01 00000000:00000000 00:00000000 00000000     0        0 2201 1 "
	    "0000000000000000 20 4 30 10 -1\n", 1, 0), 0);
	/* UDP bound to [::]:123, not connected */
	assert_int_equal(PN("  12: "
	    "00000000000000000000000000000000:007B "
	    "00000000000000000000000000000000:0000 07 00000000:00000000 "
	    "00:00000000 00000000     0        0 3001 2 0000000000000000 0\n", 0, 1), 1);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));
	assert_int_equal(ntohs(sin6->sin6_port), 123);
	assert_int_equal(l.tcp, 0);
	/* broken lines */
	assert_int_equal(PN("", 1, 0), 0);
	assert_int_equal(PN("   0: 3500007F:0035", 1, 0), -1);
	assert_int_equal(PN("   0: 3500007G:0035 00000000:0000 "
	    "0A 0 0 0 0 0 1\n", 1, 0), -1);
	assert_int_equal(PN("   0: 3500007F:0035 00000000:0000 "
	    "0A 0 0 0 0 0 12x\n", 1, 0), -1);
	assert_int_equal(PN("   0 3500007F:0035 00000000:0000 "
	    "0A 0 0 0 0 0 1\n", 1, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_box, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pair_box, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_interface_and_address,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports_in_use, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_users_groups_programs,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_suffix_list, setup,
		    teardown),
		cmocka_unit_test(test_proc_net),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
