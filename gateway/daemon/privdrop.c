/*
 * privdrop: see privdrop.h.  The order matters: trim the bounding set
 * while still root (that needs CAP_SETPCAP), keep capabilities across
 * setuid with PR_SET_KEEPCAPS, change groups and ids, then set the
 * capability sets and raise the ambient ones, and finally prove that root
 * cannot be regained.
 */
#include "evgate_config.h"

#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "fleetlog/fleetlog.h"
#include "site/lan.h"
#include "common/log.h"
#include "time/ntp.h"
#include "daemon/privdrop.h"
#include "common/util.h"

/* --- directories ----------------------------------------------------- */

/*
 * mkdir -p path; the components it creates belong to uid:gid.  An
 * existing path must be writable by uid when must_write (the daemon writes
 * there); its parents need not be.
 */
static int
mkdirs_owned(const char *path, mode_t mode, int must_write, uid_t uid,
    gid_t gid, char *err, size_t errlen)
{
	struct stat sb;

	if (stat(path, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a "
			    "directory", path);
			return -1;
		}
		/*
		 * Say it now rather than fail obscurely after the drop.  As
		 * the kernel does, the owner's bits count for the owner, the
		 * group's for the group, the others' for the rest.
		 */
		if (must_write && !(sb.st_uid == uid ?
		    (sb.st_mode & S_IWUSR) : sb.st_gid == gid ?
		    (sb.st_mode & S_IWGRP) : (sb.st_mode & S_IWOTH))) {
			snprintf(err, errlen, "%s is not writable by uid %u: "
			    "chown it to the daemon's user (or remove it)",
			    path, (unsigned)uid);
			return -1;
		}
		return 0;
	}
	return mkdir_p(path, mode, uid, gid, err, errlen);
}

int
privdrop_prepare_dirs(const struct config *conf, uid_t uid, gid_t gid,
    char *err, size_t errlen)
{
	char *copy;
	int rv;

	copy = xstrdup(conf->control.socket);
	rv = mkdirs_owned(dirname(copy), 0755, 1, uid, gid, err, errlen);
	free(copy);
	if (rv == -1)
		return -1;
	if (conf->lan != NULL && conf->dnsmasq != NULL &&
	    (mkdirs_owned(conf->dnsmasq->state_dir, 0750, 1, uid, gid, err,
	    errlen) == -1 || mkdirs_owned(conf->dnsmasq->run_dir, 0755, 1,
	    uid, gid, err, errlen) == -1))
		return -1;
	if (conf->log != NULL &&
	    mkdirs_owned(conf->log->dir, 0750, 1, uid, gid, err, errlen) == -1)
		return -1;
	return 0;
}

/* --- the drop -------------------------------------------------------- */

static const cap_value_t ambient_caps[] = {
	CAP_NET_BIND_SERVICE, CAP_NET_ADMIN, CAP_NET_RAW,
};
#define NAMBIENT (sizeof(ambient_caps) / sizeof(ambient_caps[0]))

int
privdrop(const struct config *conf, const char *user, char *err,
    size_t errlen)
{
	cap_value_t keep[NAMBIENT + 1];
	size_t nkeep = 0, i;
	struct passwd *pw;
	cap_t caps = NULL;
	cap_value_t c;
	int rv = -1;

	if (geteuid() != 0)
		return 0;
	if (user == NULL) {
		log_warnx("running as root: set daemon.user (or -u) to drop "
		    "privileges after start-up");
		return 0;
	}
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "daemon.user: no user \"%s\" on this "
		    "system (systemd-sysusers conf/evgate.sysusers creates "
		    "\"evgate\")", user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "daemon.user: \"%s\" is root", user);
		return -1;
	}
	if (privdrop_prepare_dirs(conf, pw->pw_uid, pw->pw_gid, err,
	    errlen) == -1)
		return -1;

	for (i = 0; i < NAMBIENT; i++)
		keep[nkeep++] = ambient_caps[i];
	if (conf->ntp != NULL && conf->ntp->set_clock)
		keep[nkeep++] = CAP_SYS_TIME;

	/* The bounding set first: only root may shrink it. */
	for (c = 0; c <= CAP_LAST_CAP; c++) {
		for (i = 0; i < nkeep && keep[i] != c; i++)
			;
		if (i == nkeep && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == -1 &&
		    errno != EINVAL) {
			snprintf(err, errlen, "PR_CAPBSET_DROP: %s",
			    strerror(errno));
			return -1;
		}
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1 ||
	    initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		snprintf(err, errlen, "cannot become %s: %s", user,
		    strerror(errno));
		return -1;
	}
	if ((caps = cap_init()) == NULL ||
	    cap_set_flag(caps, CAP_PERMITTED, (int)nkeep, keep, CAP_SET) ||
	    cap_set_flag(caps, CAP_EFFECTIVE, (int)nkeep, keep, CAP_SET) ||
	    cap_set_flag(caps, CAP_INHERITABLE, (int)NAMBIENT, ambient_caps,
	    CAP_SET) || cap_set_proc(caps) == -1) {
		snprintf(err, errlen, "setting capabilities: %s",
		    strerror(errno));
		goto out;
	}
	for (i = 0; i < NAMBIENT; i++)
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
		    (unsigned long)ambient_caps[i], 0, 0) == -1) {
			snprintf(err, errlen, "PR_CAP_AMBIENT_RAISE: %s",
			    strerror(errno));
			goto out;
		}
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(err, errlen, "prctl: %s", strerror(errno));
		goto out;
	}
	/* Root must be gone for good. */
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "could regain root after dropping it");
		goto out;
	}
	log_info("running as %s (uid %u) with %s", user,
	    (unsigned)pw->pw_uid, privdrop_caps_text((char [256]){ 0 }, 256));
	rv = 0;
out:
	if (caps != NULL)
		cap_free(caps);
	return rv;
}

const char *
privdrop_caps_text(char *buf, size_t len)
{
	cap_t caps = cap_get_proc();
	char *text;

	buf[0] = '\0';
	if (caps == NULL)
		return buf;
	if ((text = cap_to_text(caps, NULL)) != NULL) {
		/* "=" alone means none; "cap_a,cap_b=eip" otherwise. */
		strlcpy(buf, strcmp(text, "=") == 0 ? "" : text, len);
		cap_free(text);
	}
	cap_free(caps);
	return buf;
}
