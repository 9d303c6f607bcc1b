/*
 * Tests for privdrop, as far as it runs without root: the directories
 * prepared for the daemon's user (created with owner and mode, or refused
 * when a file or not writable by that user), privdrop() as a no-op for a
 * process that is not root (run in a child that leaves root first when the
 * tests run as root), its refusals before anything changes when run as
 * root, and privdrop_caps_text().
 *
 * The drop itself (root to daemon.user keeping CAP_NET_BIND_SERVICE,
 * CAP_NET_ADMIN and CAP_NET_RAW ambient, the bounding set trimmed,
 * no_new_privs, root not regained) needs root and changes the process for
 * good; tests/integration/privdrop_world.sh covers it with a whole
 * evgated and dnsmasq.
 */
#include "evgate_config.h"

#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/log.h"
#include "daemon/config.h"
#include "daemon/privdrop.h"
#include "fleetlog/fleetlog.h"
#include "site/lan.h"
#include "time/ntp.h"
#include "testutil.h"

/* A uid and gid that are not ours (nobody's, unless we are nobody). */
#define NOBODY	(getuid() == 65534 ? (uid_t)65533 : (uid_t)65534)

/* A configuration with the four directories privdrop prepares. */
struct fixture {
	char			 dir[64];
	char			 sock[512], state[512], run[512], log[512];
	struct config		 conf;
	struct cfg_lan		 lan;
	struct cfg_dnsmasq	 dnsmasq;
	struct cfg_log		 fl;
	struct cfg_ntp		 ntp;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL || test_tmpdir(f->dir, sizeof(f->dir), "privdrop") == -1)
		return -1;
	snprintf(f->sock, sizeof(f->sock), "%s/run/evgate/evgated.sock",
	    f->dir);
	snprintf(f->state, sizeof(f->state), "%s/var/lib/evgate/dnsmasq",
	    f->dir);
	snprintf(f->run, sizeof(f->run), "%s/run/evgate/dnsmasq", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/var/log/evgate", f->dir);
	f->conf.control.socket = f->sock;
	f->conf.lan = &f->lan;
	f->conf.dnsmasq = &f->dnsmasq;
	f->dnsmasq.state_dir = f->state;
	f->dnsmasq.run_dir = f->run;
	f->conf.log = &f->fl;
	f->fl.dir = f->log;
	f->conf.ntp = &f->ntp;
	umask(022);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	test_rmtree(f->dir);
	free(f);
	return 0;
}

/* f->dir + "/" + rel */
static const char *
at(struct fixture *f, const char *rel, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", f->dir, rel);
	return buf;
}

static void
assert_dir(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	struct stat sb;

	if (stat(path, &sb) == -1)
		fail_msg("%s: %s", path, strerror(errno));
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_uid, uid);
	assert_int_equal(sb.st_gid, gid);
	if ((sb.st_mode & 07777) != mode)
		fail_msg("%s: mode %o, not %o", path,
		    (unsigned)(sb.st_mode & 07777), (unsigned)mode);
}

static int
exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static void
touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	assert_true(fd != -1);
	close(fd);
}

/* --- privdrop_prepare_dirs ------------------------------------------- */

static void
test_prepare_creates(void **state)
{
	struct fixture *f = *state;
	uid_t uid = getuid();
	gid_t gid = getgid();
	char err[1024], p[256];

	strcpy(err, "unset");
	if (privdrop_prepare_dirs(&f->conf, uid, gid, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	/* each with its mode, its missing parents 0755, all the user's */
	assert_dir(at(f, "run", p, sizeof(p)), uid, gid, 0755);
	assert_dir(at(f, "run/evgate", p, sizeof(p)), uid, gid, 0755);
	assert_dir(f->run, uid, gid, 0755);
	assert_dir(at(f, "var/lib", p, sizeof(p)), uid, gid, 0755);
	assert_dir(f->state, uid, gid, 0750);
	assert_dir(f->log, uid, gid, 0750);
	/* the socket itself is the control module's to make */
	assert_false(exists(f->sock));

	/* Again: what exists and is writable is left alone. */
	assert_int_equal(chmod(f->log, 0700), 0);
	assert_int_equal(privdrop_prepare_dirs(&f->conf, uid, gid, err,
	    sizeof(err)), 0);
	assert_dir(f->log, uid, gid, 0700);
}

/* Without a site (lan) or a fleet log, their directories are not made. */
static void
test_prepare_only_configured(void **state)
{
	struct fixture *f = *state;
	char err[1024], p[256];

	f->conf.lan = NULL;
	f->conf.log = NULL;
	assert_int_equal(privdrop_prepare_dirs(&f->conf, getuid(), getgid(),
	    err, sizeof(err)), 0);
	assert_true(exists(at(f, "run/evgate", p, sizeof(p))));
	assert_false(exists(f->run));
	assert_false(exists(at(f, "var", p, sizeof(p))));
	/* a lan section always comes with dnsmasq's; without it, nothing */
	f->conf.lan = &f->lan;
	f->conf.dnsmasq = NULL;
	assert_int_equal(privdrop_prepare_dirs(&f->conf, getuid(), getgid(),
	    err, sizeof(err)), 0);
	assert_false(exists(at(f, "var", p, sizeof(p))));
}

static void
test_prepare_file(void **state)
{
	struct fixture *f = *state;
	char err[1024], want[1024], p[256];

	/* The socket's directory is a file. */
	touch(at(f, "run", p, sizeof(p)));
	snprintf(f->sock, sizeof(f->sock), "%s/run/evgated.sock", f->dir);
	assert_int_equal(privdrop_prepare_dirs(&f->conf, getuid(), getgid(),
	    err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s/run exists and is not a directory",
	    f->dir);
	assert_string_equal(err, want);
	/* nothing after it was made */
	assert_false(exists(f->state));
	assert_false(exists(f->log));

	/* A parent on the way is a file. */
	snprintf(f->sock, sizeof(f->sock), "%s/ctl/evgated.sock", f->dir);
	snprintf(f->state, sizeof(f->state), "%s/run/lib/dnsmasq", f->dir);
	assert_int_equal(privdrop_prepare_dirs(&f->conf, getuid(), getgid(),
	    err, sizeof(err)), -1);
	assert_string_equal(err, want);
	assert_true(exists(at(f, "ctl", p, sizeof(p))));
	assert_false(exists(f->log));

	/* The fleet log's directory is a file. */
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	snprintf(f->run, sizeof(f->run), "%s/rundir", f->dir);
	touch(at(f, "log", p, sizeof(p)));
	snprintf(f->log, sizeof(f->log), "%s/log", f->dir);
	assert_int_equal(privdrop_prepare_dirs(&f->conf, getuid(), getgid(),
	    err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s/log exists and is not a directory",
	    f->dir);
	assert_string_equal(err, want);
}

/*
 * An existing directory the daemon writes to must be writable by its
 * user: as the owner (u+w), through the group (g+w) or by anyone (o+w).
 */
static void
test_prepare_unwritable(void **state)
{
	struct fixture *f = *state;
	uid_t uid = getuid();
	gid_t gid = getgid();
	char err[1024], want[1024], p[256];

	f->conf.lan = NULL;
	f->conf.log = NULL;
	at(f, "run", p, sizeof(p));
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(f->sock, sizeof(f->sock), "%s/evgated.sock", p);

	/* Ours but read-only. */
	assert_int_equal(chmod(p, 0555), 0);
	assert_int_equal(privdrop_prepare_dirs(&f->conf, uid, gid, err,
	    sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s is not writable by uid %u: chown it "
	    "to the daemon's user (or remove it)", p, (unsigned)uid);
	assert_string_equal(err, want);
	assert_int_equal(chmod(p, 0755), 0);
	assert_int_equal(privdrop_prepare_dirs(&f->conf, uid, gid, err,
	    sizeof(err)), 0);

	/* Another user's view of the same directory (owned by us). */
	snprintf(want, sizeof(want), "%s is not writable by uid %u: chown it "
	    "to the daemon's user (or remove it)", p, (unsigned)NOBODY);
	assert_int_equal(privdrop_prepare_dirs(&f->conf, NOBODY, NOBODY, err,
	    sizeof(err)), -1);
	assert_string_equal(err, want);
	/* our group with g+w is enough for a member */
	assert_int_equal(chmod(p, 0775), 0);
	assert_int_equal(privdrop_prepare_dirs(&f->conf, NOBODY, gid, err,
	    sizeof(err)), 0);
	/* and without g+w it is not, whatever the others may do */
	assert_int_equal(chmod(p, 0757), 0);
	assert_int_equal(privdrop_prepare_dirs(&f->conf, NOBODY, gid, err,
	    sizeof(err)), -1);
	/* o+w lets anyone else */
	assert_int_equal(privdrop_prepare_dirs(&f->conf, NOBODY, NOBODY, err,
	    sizeof(err)), 0);
	assert_int_equal(chmod(p, 0755), 0);

	/*
	 * A missing directory for another user: made and given away as
	 * root; without root the chown fails and says so.
	 */
	snprintf(f->sock, sizeof(f->sock), "%s/ctl/evgated.sock", f->dir);
	at(f, "ctl", p, sizeof(p));
	if (geteuid() == 0) {
		assert_int_equal(privdrop_prepare_dirs(&f->conf, NOBODY,
		    NOBODY, err, sizeof(err)), 0);
		assert_dir(p, NOBODY, NOBODY, 0755);
	} else {
		assert_int_equal(privdrop_prepare_dirs(&f->conf, NOBODY,
		    NOBODY, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "chown %s: Operation not "
		    "permitted", p);
		assert_string_equal(err, want);
	}
}

/* --- privdrop -------------------------------------------------------- */

/*
 * Leave root for good if we have it (a child only): no capabilities are
 * kept across setresuid without PR_SET_KEEPCAPS.
 */
static int
leave_root(void)
{
	if (geteuid() != 0)
		return 0;
	if (setgroups(0, NULL) == -1 ||
	    setresgid(NOBODY, NOBODY, NOBODY) == -1 ||
	    setresuid(NOBODY, NOBODY, NOBODY) == -1)
		return -1;
	return geteuid() == 0 ? -1 : 0;
}

/* Run fn in a child that is not root; its exit status, 0 for success. */
static int
as_non_root(int (*fn)(struct fixture *), struct fixture *f)
{
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == 0) {
		if (leave_root() == -1)
			_exit(100);
		_exit(fn(f));
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/*
 * Not root: privdrop has nothing to do, whoever daemon.user names (even
 * nobody that exists, even root), and touches nothing.
 */
static int
child_not_root(struct fixture *f)
{
	static const char *const users[] = {
		NULL, "nobody", "root", "evgate-no-such-user",
	};
	uid_t uid = getuid(), euid = geteuid();
	char err[64];
	size_t i;

	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		strcpy(err, "unset");
		if (privdrop(&f->conf, users[i], err, sizeof(err)) != 0)
			return 1 + (int)i;
		if (strcmp(err, "unset") != 0)
			return 10 + (int)i;
		if (getuid() != uid || geteuid() != euid)
			return 20 + (int)i;
	}
	return 0;
}

static void
test_privdrop_not_root(void **state)
{
	struct fixture *f = *state;
	char p[256];

	assert_int_equal(as_non_root(child_not_root, f), 0);
	/* not even the directories were made */
	assert_false(exists(at(f, "run", p, sizeof(p))));
	assert_false(exists(at(f, "var", p, sizeof(p))));
}

/*
 * As root, privdrop refuses before it changes anything: no daemon.user
 * (a warning, and it stays root), a user that does not exist, root
 * itself, directories it cannot prepare.  Without root every one of
 * these is the no-op above.
 */
static void
test_privdrop_refusals(void **state)
{
	struct fixture *f = *state;
	char err[1024], want[1024], p[256];
	FILE *fp;
	int saved;
	long n;

	if (geteuid() != 0) {
		assert_int_equal(privdrop(&f->conf, "evgate-no-such-user", err,
		    sizeof(err)), 0);
		assert_int_equal(privdrop(&f->conf, "root", err, sizeof(err)),
		    0);
		return;
	}
	log_init("privtest", 1, LOG_LEVEL_INFO);
	fflush(stderr);
	fp = tmpfile();
	assert_non_null(fp);
	saved = dup(STDERR_FILENO);
	dup2(fileno(fp), STDERR_FILENO);
	strcpy(err, "unset");
	n = privdrop(&f->conf, NULL, err, sizeof(err));
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_int_equal(n, 0);
	assert_string_equal(err, "unset");
	n = ftell(fp);
	rewind(fp);
	assert_true(n > 0 && n < (long)sizeof(p));
	assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
	p[n] = '\0';
	fclose(fp);
	assert_non_null(strstr(p, "privtest[warning]: running as root: set "
	    "daemon.user (or -u) to drop privileges after start-up\n"));

	assert_int_equal(privdrop(&f->conf, "evgate-no-such-user", err,
	    sizeof(err)), -1);
	assert_string_equal(err, "daemon.user: no user \"evgate-no-such-user\" "
	    "on this system (systemd-sysusers conf/evgate.sysusers creates "
	    "\"evgate\")");
	assert_int_equal(privdrop(&f->conf, "root", err, sizeof(err)), -1);
	assert_string_equal(err, "daemon.user: \"root\" is root");

	/* nobody exists on every Debian; its directories cannot be made */
	assert_non_null(getpwnam("nobody"));
	touch(at(f, "run", p, sizeof(p)));
	assert_int_equal(privdrop(&f->conf, "nobody", err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s/run exists and is not a directory",
	    f->dir);
	assert_string_equal(err, want);
	/* still root, with every capability it had */
	assert_int_equal(geteuid(), 0);
	assert_int_equal(getuid(), 0);
}

/* --- privdrop_caps_text ---------------------------------------------- */

/* The kernel's own view: does this process hold any capability? */
static int
holds_caps(void)
{
	char line[256];
	FILE *fp = fopen("/proc/self/status", "r");
	int any = 0;

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if ((strncmp(line, "CapInh:", 7) == 0 ||
		    strncmp(line, "CapPrm:", 7) == 0 ||
		    strncmp(line, "CapEff:", 7) == 0) &&
		    strtoull(line + 7, NULL, 16) != 0)
			any = 1;
	fclose(fp);
	return any;
}

static int
child_no_caps(struct fixture *f)
{
	char buf[64];

	memset(buf, 'x', sizeof(buf));
	if (holds_caps())
		return 1;
	if (privdrop_caps_text(buf, sizeof(buf)) != buf)
		return 2;
	return strcmp(buf, "") == 0 ? 0 : 3;
}

/*
 * As root: exactly two capabilities, permitted and effective.  Then the
 * text names them, in libcap's order, and a short buffer gets a cut,
 * terminated copy.
 */
static int
child_two_caps(struct fixture *f)
{
	static const cap_value_t two[] = {
		CAP_NET_BIND_SERVICE, CAP_NET_ADMIN,
	};
	cap_t caps = cap_init();
	char buf[64];

	if (caps == NULL ||
	    cap_set_flag(caps, CAP_PERMITTED, 2, two, CAP_SET) ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 2, two, CAP_SET) ||
	    cap_set_proc(caps) == -1)
		return 1;
	cap_free(caps);
	privdrop_caps_text(buf, sizeof(buf));
	if (strcmp(buf, "cap_net_bind_service,cap_net_admin=ep") != 0)
		return 2;
	memset(buf, 'x', sizeof(buf));
	privdrop_caps_text(buf, 10);
	if (strcmp(buf, "cap_net_b") != 0 || buf[10] != 'x')
		return 3;
	return 0;
}

static void
test_caps_text(void **state)
{
	struct fixture *f = *state;
	char buf[1024];
	pid_t pid;
	int status;

	/* In this process: empty exactly when it holds nothing. */
	privdrop_caps_text(buf, sizeof(buf));
	if (holds_caps())
		assert_true(buf[0] != '\0');
	else
		assert_string_equal(buf, "");
	/* A process that is not root holds nothing: "". */
	assert_int_equal(as_non_root(child_no_caps, f), 0);
	if (geteuid() != 0)
		return;
	fflush(stdout);
	if ((pid = fork()) == 0)
		_exit(child_two_caps(f));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prepare_creates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_prepare_only_configured,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_prepare_unwritable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_privdrop_not_root, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_privdrop_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_caps_text, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("privdrop", tests, NULL, NULL);
}
