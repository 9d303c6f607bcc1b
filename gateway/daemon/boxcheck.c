/*
 * boxcheck: a configuration against the machine (see boxcheck.h).
 */
#include "evgate_config.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <ifaddrs.h>
#include <limits.h>
#include <stdarg.h>
#include <net/if.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/cfg.h"
#include "common/control.h"
#include "common/psl.h"
#include "common/util.h"
#include "daemon/boxcheck.h"
#include "daemon/config.h"
#include "fleetlog/metrics.h"
#include "relay/relay_conf.h"
#include "site/lan.h"
#include "site/pair.h"
#include "time/ntp.h"

/* --- /proc/net ------------------------------------------------------- */

static int
hexnum(const char *s, size_t len, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 8)
		return -1;
	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return -1;
		v = v << 4 | (unsigned long)d;
	}
	*out = v;
	return 0;
}

/* The next whitespace-separated field of line; 0 at the end. */
static size_t
field(const char *line, size_t len, size_t *pos, const char **f)
{
	size_t start;

	while (*pos < len && (line[*pos] == ' ' || line[*pos] == '\t'))
		(*pos)++;
	start = *pos;
	while (*pos < len && line[*pos] != ' ' && line[*pos] != '\t' &&
	    line[*pos] != '\n')
		(*pos)++;
	*f = line + start;
	return *pos - start;
}

/*
 * "0100007F:0035" (v4) or 32 hex digits ":" port (v6): the kernel prints
 * each 32-bit word of the address as the number it is in memory.
 */
static int
parse_endpoint(const char *s, size_t len, int v6,
    struct sockaddr_storage *ss, unsigned *port)
{
	size_t alen = v6 ? 32 : 8, i;
	unsigned long w, p;

	if (len != alen + 5 || s[alen] != ':' ||
	    hexnum(s + alen + 1, 4, &p) == -1)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (!v6) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (hexnum(s, 8, &w) == -1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = (uint32_t)w;
		sin->sin_port = htons((uint16_t)p);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		uint32_t word;

		sin6->sin6_family = AF_INET6;
		for (i = 0; i < 4; i++) {
			if (hexnum(s + i * 8, 8, &w) == -1)
				return -1;
			word = (uint32_t)w;
			memcpy(&sin6->sin6_addr.s6_addr[i * 4], &word, 4);
		}
		sin6->sin6_port = htons((uint16_t)p);
	}
	*port = (unsigned)p;
	return 0;
}

int
box_parse_proc_net(const char *line, size_t len, int tcp, int v6,
    struct box_listener *out, unsigned long *inode)
{
	const char *f[10];
	size_t fl[10], pos = 0, i;
	struct sockaddr_storage rem;
	unsigned long st, ino;
	unsigned lport, rport;
	char *end, num[24];

	for (i = 0; i < 10; i++)
		if ((fl[i] = field(line, len, &pos, &f[i])) == 0)
			return i == 0 ? 0 : -1;
	if (fl[0] == 2 && memcmp(f[0], "sl", 2) == 0)
		return 0;			/* the header */
	if (f[0][fl[0] - 1] != ':')
		return -1;
	memset(out, 0, sizeof(*out));
	if (parse_endpoint(f[1], fl[1], v6, &out->ss, &lport) == -1 ||
	    parse_endpoint(f[2], fl[2], v6, &rem, &rport) == -1 ||
	    hexnum(f[3], fl[3], &st) == -1 || fl[9] >= sizeof(num))
		return -1;
	memcpy(num, f[9], fl[9]);
	num[fl[9]] = '\0';
	errno = 0;
	ino = strtoul(num, &end, 10);
	if (*end != '\0' || errno != 0 || !isdigit((unsigned char)num[0]))
		return -1;
	out->tcp = tcp;
	*inode = ino;
	/* TCP: LISTEN (0x0A).  UDP: bound and not connected. */
	if (tcp)
		return st == 0x0A ? 1 : 0;
	return rport == 0 ? 1 : 0;
}

/* --- reading the machine --------------------------------------------- */

static int
real_user_exists(const char *name)
{
	return getpwnam(name) != NULL;
}

static int
real_group_exists(const char *name)
{
	return getgrnam(name) != NULL;
}

static int
real_in_group(const char *user, const char *group)
{
	struct passwd *pw = getpwnam(user);
	struct group *gr = getgrnam(group);
	gid_t groups[256];
	int n = 256, i;

	if (pw == NULL || gr == NULL)
		return 0;
	if (pw->pw_gid == gr->gr_gid)
		return 1;
	if (getgrouplist(user, pw->pw_gid, groups, &n) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (groups[i] == gr->gr_gid)
			return 1;
	return 0;
}

static int
real_executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return errno;
	if (!S_ISREG(st.st_mode))
		return EISDIR;
	return access(path, X_OK) == 0 ? 0 : errno;
}

struct inode_owner {
	unsigned long	 inode;
	size_t		 idx;	/* into box->listeners */
};

/* comm of pid into buf ("" when gone); its parent pid in *ppid. */
static void
proc_comm(long pid, char *buf, size_t len, long *ppid)
{
	char path[64], line[512], *close;
	FILE *fp;

	buf[0] = '\0';
	*ppid = 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	if (fgets(line, sizeof(line), fp) != NULL &&
	    (close = strrchr(line, ')')) != NULL) {
		char *open = strchr(line, '(');

		if (open != NULL && open < close) {
			*close = '\0';
			strlcpy(buf, open + 1, len);
			sscanf(close + 2, "%*c %ld", ppid);
		}
	}
	fclose(fp);
}

/*
 * Who holds each listening socket: walk /proc/PID/fd for "socket:[N]".
 * Without root only our own user's processes can be seen; the others'
 * sockets keep an empty owner.
 */
/* Was pid started with "-C conf" (conf NULL: no)? */
static int
runs_with_conf(long pid, const char *conf)
{
	char path[64], buf[4096];
	size_t len, i;
	FILE *fp;

	if (conf == NULL)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	len = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[len] = '\0';
	for (i = 0; i < len; i += strlen(buf + i) + 1)
		if (strcmp(buf + i, conf) == 0)
			return 1;
	return 0;
}

static void
find_owners(struct box *b, struct inode_owner *io, size_t n,
    const char *dnsmasq_conf)
{
	DIR *proc, *fds;
	struct dirent *de, *fe;
	char path[PATH_MAX], link[64], comm[32], pcomm[32];
	long pid, ppid, pppid;
	size_t i;

	if (n == 0 || (proc = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(proc)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = strtol(de->d_name, NULL, 10);
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		if ((fds = opendir(path)) == NULL)
			continue;
		while ((fe = readdir(fds)) != NULL) {
			unsigned long ino;
			ssize_t l;

			snprintf(path, sizeof(path), "/proc/%ld/fd/%s", pid,
			    fe->d_name);
			if ((l = readlink(path, link, sizeof(link) - 1)) <= 0)
				continue;
			link[l] = '\0';
			if (sscanf(link, "socket:[%lu]", &ino) != 1)
				continue;
			for (i = 0; i < n; i++) {
				struct box_listener *bl;

				if (io[i].inode != ino)
					continue;
				bl = &b->listeners[io[i].idx];
				proc_comm(pid, comm, sizeof(comm), &ppid);
				proc_comm(ppid, pcomm, sizeof(pcomm), &pppid);
				snprintf(bl->owner, sizeof(bl->owner),
				    "%s (pid %ld)", comm[0] ? comm : "?", pid);
				bl->ours = strcmp(comm, "evgated") == 0 ||
				    strcmp(pcomm, "evgated") == 0 ||
				    (strcmp(comm, "dnsmasq") == 0 &&
				    runs_with_conf(pid, dnsmasq_conf));
			}
		}
		closedir(fds);
	}
	closedir(proc);
}

static void
read_proc_net(struct box *b, const char *file, int tcp, int v6,
    struct inode_owner **io, size_t *nio)
{
	char line[512];
	FILE *fp;

	if ((fp = fopen(file, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		struct box_listener l;
		unsigned long inode;

		if (box_parse_proc_net(line, strlen(line), tcp, v6, &l,
		    &inode) != 1)
			continue;
		b->listeners = xreallocarray(b->listeners, b->nlisteners + 1,
		    sizeof(*b->listeners));
		b->listeners[b->nlisteners] = l;
		*io = xreallocarray(*io, *nio + 1, sizeof(**io));
		(*io)[*nio].inode = inode;
		(*io)[*nio].idx = b->nlisteners;
		(*nio)++;
		b->nlisteners++;
	}
	fclose(fp);
}

int
box_read(struct box *b, const char *psl_path, const char *daemon_user,
    const char *dnsmasq_conf, char *err, size_t errlen)
{
	struct ifaddrs *ifa, *i;
	struct inode_owner *io = NULL;
	struct passwd *pw;
	size_t nio = 0, k;

	memset(b, 0, sizeof(*b));
	b->user_exists = real_user_exists;
	b->group_exists = real_group_exists;
	b->in_group = real_in_group;
	b->executable = real_executable;
	if (getifaddrs(&ifa) == -1) {
		snprintf(err, errlen, "getifaddrs: %s", strerror(errno));
		return -1;
	}
	for (i = ifa; i != NULL; i = i->ifa_next) {
		for (k = 0; k < b->nifnames; k++)
			if (strcmp(b->ifnames[k], i->ifa_name) == 0)
				break;
		if (k == b->nifnames) {
			b->ifnames = xreallocarray(b->ifnames, b->nifnames + 1,
			    sizeof(*b->ifnames));
			b->ifnames[b->nifnames++] = xstrdup(i->ifa_name);
		}
		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
		    i->ifa_addr->sa_family != AF_INET6))
			continue;
		b->addrs = xreallocarray(b->addrs, b->naddrs + 1,
		    sizeof(*b->addrs));
		memset(&b->addrs[b->naddrs], 0, sizeof(*b->addrs));
		strlcpy(b->addrs[b->naddrs].ifname, i->ifa_name,
		    sizeof(b->addrs[b->naddrs].ifname));
		memcpy(&b->addrs[b->naddrs].ss, i->ifa_addr,
		    i->ifa_addr->sa_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		b->naddrs++;
	}
	freeifaddrs(ifa);
	read_proc_net(b, "/proc/net/tcp", 1, 0, &io, &nio);
	read_proc_net(b, "/proc/net/tcp6", 1, 1, &io, &nio);
	read_proc_net(b, "/proc/net/udp", 0, 0, &io, &nio);
	read_proc_net(b, "/proc/net/udp6", 0, 1, &io, &nio);
	find_owners(b, io, nio, dnsmasq_conf);
	free(io);
	b->psl = psl_load(psl_path, b->psl_error, sizeof(b->psl_error));
	if (geteuid() == 0)
		b->run_user = daemon_user != NULL ? xstrdup(daemon_user) : NULL;
	else if ((pw = getpwuid(geteuid())) != NULL)
		b->run_user = xstrdup(pw->pw_name);
	return 0;
}

void
box_free(struct box *b)
{
	size_t i;

	for (i = 0; i < b->nifnames; i++)
		free(b->ifnames[i]);
	free(b->ifnames);
	free(b->addrs);
	free(b->listeners);
	psl_free(b->psl);
	free(b->run_user);
	memset(b, 0, sizeof(*b));
}

/* --- the checks ------------------------------------------------------ */

struct check {
	const struct config	*conf;
	const struct box	*box;
	struct cfg_diags	*diags;
	int			 rv;
};

/*
 * Report at path, or, when the file does not set that key (a default),
 * at fallback, still naming path: the operator learns which key to set.
 */
static void __attribute__((format(printf, 5, 6)))
say(struct check *c, int warning, const char *path, const char *fallback,
    const char *fmt, ...)
{
	struct cfg_mark m;
	va_list ap;

	if (fallback != NULL && !cfg_index_has(c->conf->index, path))
		m = cfg_index_mark(c->conf->index, fallback);
	else
		m = cfg_index_mark(c->conf->index, path);
	va_start(ap, fmt);
	cfg_diags_addv_at(c->diags, warning, c->conf->path, &m, path, fmt, ap);
	va_end(ap);
	if (!warning)
		c->rv = -1;
}

static int
is_local(const struct box *b, const struct sockaddr_storage *ss,
    const char **ifname)
{
	size_t i;

	for (i = 0; i < b->naddrs; i++)
		if (config_same_addr(&b->addrs[i].ss, ss)) {
			if (ifname != NULL)
				*ifname = b->addrs[i].ifname;
			return 1;
		}
	return 0;
}

static int
wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == 0;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
		    &((const struct sockaddr_in6 *)ss)->sin6_addr);
	return 0;
}

static const char *
addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = ss->ss_family == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)ss)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	if (inet_ntop(ss->ss_family, a, buf, (socklen_t)len) == NULL)
		strlcpy(buf, "?", len);
	return buf;
}

static void
check_lan(struct check *c)
{
	const struct cfg_lan *lan = c->conf->lan;
	const struct box *b = c->box;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	const char *on = NULL;
	size_t i;

	if (lan == NULL)
		return;
	for (i = 0; i < b->nifnames; i++)
		if (strcmp(b->ifnames[i], lan->interface) == 0)
			break;
	if (i == b->nifnames) {
		say(c, 0, "lan.interface", NULL, "this machine has no "
		    "interface %s (\"ip link\" lists them): dnsmasq would "
		    "serve nothing", lan->interface);
		return;
	}
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	if (c->conf->pair != NULL) {
		/*
		 * A pair's box: lan.address is the virtual address, which
		 * keepalived adds on the master only; the box's own address
		 * must be there (its VRRP adverts come from it).
		 */
		sin->sin_addr = c->conf->pair->address;
		if (!is_local(b, &ss, &on) || strcmp(on, lan->interface) != 0)
			say(c, 0, "pair.address", NULL, "%s is not an address "
			    "of %s: it is this box's own address there, which "
			    "keepalived's adverts come from; add it (with the "
			    "prefix of lan.address) in the site's network "
			    "configuration", inet_ntoa(c->conf->pair->address),
			    lan->interface);
		return;
	}
	sin->sin_addr = lan->addr;
	if (!is_local(b, &ss, &on))
		say(c, 0, "lan.address", NULL, "%s is not an address of %s "
		    "(nor of any interface): the NTP server and dnsmasq could "
		    "not bind it (\"Cannot assign requested address\"); add it, "
		    "e.g. \"ip address add %s dev %s\", or in the site's "
		    "network configuration", lan->text, lan->interface,
		    lan->text, lan->interface);
	else if (strcmp(on, lan->interface) != 0)
		say(c, 0, "lan.address", NULL, "%s is an address of %s, not of "
		    "lan.interface %s: dnsmasq would serve the wrong network",
		    lan->text, on, lan->interface);
}

/* Addresses evgated binds must be this machine's (or a wildcard). */
static void
check_bound_addrs(struct check *c)
{
	const struct config *conf = c->conf;
	char path[48], a[INET6_ADDRSTRLEN];
	size_t i;

	if (conf->ntp != NULL && conf->ntp->serve)
		for (i = 0; i < conf->ntp->nlisten; i++) {
			const struct sockaddr_storage *ss =
			    &conf->ntp->listen[i].ss;

			if (wildcard(ss) || is_local(c->box, ss, NULL))
				continue;
			if (conf->lan != NULL && ss->ss_family == AF_INET &&
			    ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
			    conf->lan->addr.s_addr)
				continue;	/* said at lan.address, or a
						 * pair's virtual address */
			snprintf(path, sizeof(path), "ntp.listen[%zu]", i);
			say(c, 0, path, "ntp", "%s is no address of this "
			    "machine: the NTP server could not bind it",
			    addr_text(ss, a, sizeof(a)));
		}
	if (conf->metrics != NULL && !wildcard(&conf->metrics->listen.ss) &&
	    !is_local(c->box, &conf->metrics->listen.ss, NULL))
		say(c, 0, "metrics.listen", NULL, "%s is no address of this "
		    "machine: metrics could not be served there",
		    addr_text(&conf->metrics->listen.ss, a, sizeof(a)));
	for (i = 0; conf->relay != NULL && i < conf->relay->nlisten; i++) {
		const struct sockaddr_storage *ss = &conf->relay->listen[i].ss;

		if (wildcard(ss) || is_local(c->box, ss, NULL))
			continue;
		/* A pair's virtual address is the master's only. */
		if (conf->pair != NULL && conf->lan != NULL &&
		    ss->ss_family == AF_INET &&
		    ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
		    conf->lan->addr.s_addr)
			continue;
		/* "listen: 10.42.0.1" (one address) has no [0] in the file */
		snprintf(path, sizeof(path), "relay.listen[%zu]", i);
		if (!cfg_index_has(conf->index, path))
			strlcpy(path, "relay.listen", sizeof(path));
		say(c, 1, path, NULL, "%s is no address of this "
		    "machine yet: the relay listens anyway (freebind), but "
		    "chargers reach it only once it is configured",
		    addr_text(ss, a, sizeof(a)));
	}
	for (i = 0; i < conf->wan.nresolvers; i++) {
		const struct sockaddr_storage *ss = &conf->wan.resolvers[i].ss;

		if (!is_local(c->box, ss, NULL))
			continue;
		snprintf(path, sizeof(path), "wan.resolvers[%zu]", i);
		say(c, 1, path, NULL, "%s is an address of this machine: it "
		    "must be a resolver of the site's, never one that steers "
		    "cloud names to the gateway", addr_text(ss, a, sizeof(a)));
	}
}

/* Ports another program already holds. */
static void
check_ports_in_use(struct check *c)
{
	struct config_binding *cb;
	char a[INET6_ADDRSTRLEN];
	size_t n, i, j;

	config_bindings(c->conf, &cb, &n);
	for (i = 0; i < n; i++)
		for (j = 0; j < c->box->nlisteners; j++) {
			const struct box_listener *l = &c->box->listeners[j];
			uint16_t lport = ntohs(l->ss.ss_family == AF_INET ?
			    ((const struct sockaddr_in *)&l->ss)->sin_port :
			    ((const struct sockaddr_in6 *)&l->ss)->sin6_port);

			if (l->ours || lport != cb[i].port ||
			    !(l->tcp ? cb[i].tcp : cb[i].udp))
				continue;
			if (!(wildcard(&l->ss) || wildcard(&cb[i].ss) ||
			    config_same_addr(&l->ss, &cb[i].ss)))
				continue;
			say(c, 0, cb[i].path, NULL, "port %u (%s) on %s, for "
			    "%s, is in use by %s%s", cb[i].port,
			    l->tcp ? "TCP" : "UDP", addr_text(&l->ss, a,
			    sizeof(a)), cb[i].who, l->owner[0] ? l->owner :
			    "another program (run as root to see which)",
			    cb[i].port == 53 ? ": a system DNS server such as "
			    "the dnsmasq package's or systemd-resolved must "
			    "not serve the chargers' interface" : "");
			break;
		}
	free(cb);
}

static void
check_users(struct check *c)
{
	const struct config *conf = c->conf;
	const struct box *b = c->box;

	if (conf->daemon != NULL && conf->daemon->user != NULL &&
	    !b->user_exists(conf->daemon->user))
		say(c, 0, "daemon.user", NULL, "no user %s on this machine "
		    "(systemd-sysusers creates evgate from the installed "
		    "sysusers file)", conf->daemon->user);
	if (conf->lan != NULL && conf->dnsmasq != NULL &&
	    !b->user_exists(conf->dnsmasq->user))
		say(c, 0, "dnsmasq.user", "lan", "no user %s on this machine "
		    "(Debian's dnsmasq-base creates dnsmasq)",
		    conf->dnsmasq->user);
	if (conf->control.group == NULL)
		return;
	if (!b->group_exists(conf->control.group))
		say(c, 0, "control.group", NULL, "no group %s on this machine",
		    conf->control.group);
	else if (b->run_user != NULL &&
	    !b->in_group(b->run_user, conf->control.group))
		say(c, 0, "control.group", NULL, "evgated runs as %s, who is "
		    "not in group %s: it could not give the socket to that "
		    "group (\"Operation not permitted\"); add %s to it (the "
		    "installed sysusers file does for evgate-admin)",
		    b->run_user, conf->control.group, b->run_user);
}

static void
check_programs(struct check *c)
{
	const struct cfg_dnsmasq *dm = c->conf->dnsmasq;
	int e;

	if (c->conf->lan == NULL || dm == NULL)
		return;
	if ((e = c->box->executable(dm->binary)) != 0)
		say(c, 0, "dnsmasq.binary", "lan", "%s: %s (install Debian's "
		    "dnsmasq-base, or set dnsmasq.binary)", dm->binary,
		    strerror(e));
	if (c->conf->dhcp != NULL && (e = c->box->executable(dm->hook)) != 0)
		say(c, 0, "dnsmasq.hook", "dhcp", "%s: %s (\"make install\" "
		    "puts evgate-dhcp-hook there; set dnsmasq.hook to where it "
		    "is, e.g. the build tree's gateway/evgate-dhcp-hook)",
		    dm->hook, strerror(e));
}

/* A wildcard over a public suffix lets chargers reach anyone's server. */
static void
check_suffixes(struct check *c)
{
	const struct cfg_relay *r = c->conf->relay;
	char path[64];
	size_t i, j;

	if (c->box->psl == NULL) {
		say(c, 1, "relay", NULL, "cannot check allowlists against the "
		    "public suffix list: %s (install Debian's publicsuffix)",
		    c->box->psl_error);
		return;
	}
	for (i = 0; r != NULL && i < r->nroutes; i++)
		for (j = 0; j < r->routes[i].nallow; j++) {
			const char *p = r->routes[i].allow[j];

			if (p[0] != '*' || !psl_is_suffix(c->box->psl, p + 2))
				continue;
			snprintf(path, sizeof(path), "relay.routes[%zu].allow"
			    "[%zu]", i, j);
			say(c, 0, path, NULL, "\"%s\" allows every name under "
			    "the public suffix \"%s\", where anyone can have a "
			    "server: list the cloud's own names instead", p,
			    p + 2);
		}
	if (c->conf->dns == NULL)
		return;
	for (i = 0; i < c->conf->dns->npass; i++) {
		const char *p = c->conf->dns->pass_through[i];
		const char *d = p[0] == '*' ? p + 2 : p;

		if (!psl_is_suffix(c->box->psl, d))
			continue;
		snprintf(path, sizeof(path), "dns.pass_through[%zu]", i);
		say(c, 0, path, NULL, "\"%s\" passes every name under the "
		    "public suffix \"%s\" to the chargers: list the names "
		    "they need instead", p, d);
	}
}

int
config_check_box(const struct config *conf, const struct box *box,
    struct cfg_diags *diags)
{
	struct check c = { conf, box, diags, 0 };

	check_lan(&c);
	check_bound_addrs(&c);
	check_ports_in_use(&c);
	check_users(&c);
	check_programs(&c);
	check_suffixes(&c);
	return c.rv;
}
