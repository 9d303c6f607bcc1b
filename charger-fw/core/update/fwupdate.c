/*
 * fwupdate: the update engine (see fwupdate.h for the state machine and
 * doc/firmware-updates.md for the operator's view).
 *
 * The rule that keeps a charger bootable: the slot that runs is never
 * written, and the boot-state record moves to a new slot only after that
 * slot holds exactly the bytes the vendor signed (hashed while streaming
 * and hashed again as stored).  Every durable step is ordered so that a
 * power cut between any two leaves either the old state or the new one:
 *
 *   start from zero: boot record forgets the inactive slot's image
 *     -> job record {manifest hash, off 0} -> erase -> write ...
 *   progress: slot sync -> job record {off}   (the record never claims
 *     bytes that are not durable; a resume re-hashes [0, off))
 *   install: slot record (version, security_version, size, sha256)
 *     -> boot record {active = new, try_once} -> job record removed
 *   confirm: boot record {confirmed} -> boot record {floor raised}
 *
 * and a new engine repairs what an interrupted sequence left (a stale job
 * for the running slot, a floor not yet raised, a rollback not reported).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "core/fwlog.h"
#include "core/update/fwupdate.h"
#include "core/telemetry.h"
#include "hal/hal.h"

#define KV_JOB		"fwupdate.job"
/*
 * A record's text: URL (<= 256), versions, hashes, an error (<= 160):
 * well under this, which keeps it off the stack budget's 1 KB objects.
 */
#define REC_MAX		1024
#define KV_LAST		"fwupdate.last"
#define KV_SLOT_FMT	"fwupdate.slot%d"

#define POLL_MS		5000		/* re-check waits this often */
#define REBOOT_AGAIN_MS	60000		/* ask the host again after this */
#define HASH_CHUNK	16384		/* one slot read */
#define HASH_PER_TICK	(1024 * 1024)	/* then let the loop run */
#define RETRY_MAX_S	600

/* The job: what is being installed, and how far it got (fwupdate.job). */
struct job {
	int		 active;	/* resume on start */
	char		 url[FWUPDATE_URL_MAX];
	char		 want[MANIFEST_VERSION_MAX];
	int		 have_mhash;
	uint8_t		 mhash[32];	/* SHA-256 of the manifest bytes */
	int		 slot;
	uint64_t	 off;		/* bytes durable in the slot */
};

/* The last outcome, kept across reboots for reports (fwupdate.last). */
struct last {
	/* updated, failed, rolled_back, installed (awaiting self-test),
	 * rollback (202 accepted) or "" */
	char		 state[16];
	char		 url[FWUPDATE_URL_MAX];
	char		 target[MANIFEST_VERSION_MAX];
	char		 error[FWUPDATE_ERR_MAX];
};

enum retry_what {
	RETRY_MANIFEST = 0,	/* fetch manifest and signature again */
	RETRY_DOWNLOAD,		/* continue the image from fw->off */
};

struct fwupdate {
	struct fwupdate_cfg	 cfg;
	char			 product[MANIFEST_PRODUCT_MAX];
	struct fwupdate_host	 host;
	struct fwfetch_ops	 fetch;
	struct event		*timer;

	enum fwupdate_state	 state;
	int			 running;	/* slot we run from */
	int			 inactive;
	struct job		 job;
	struct last		 last;

	/* The job under way. */
	uint8_t			 mbuf[MANIFEST_MAX_LEN];
	size_t			 mlen;
	uint8_t			 sig[MANIFEST_SIG_LEN];
	size_t			 siglen;
	int			 parsed;	/* m is valid */
	struct manifest		 m;
	char			 image_url[FWUPDATE_URL_MAX];
	void			*xfer;
	const char		*xfer_what;	/* "manifest", ... */
	char			 abort_why[FWUPDATE_ERR_MAX];
	EVP_MD_CTX		*sha;
	uint64_t		 off;		/* bytes in the slot */
	uint64_t		 persisted;	/* = job.off */
	unsigned		 progress;	/* percent */
	unsigned		 progress_told;

	/* Hashing a slot (REHASH, READBACK, ROLLBACK_CHECK). */
	int			 hslot;
	uint64_t		 hpos;
	uint64_t		 hend;
	uint8_t			 hwant[32];
	uint8_t			 buf[HASH_CHUNK];

	unsigned		 retries;
	enum retry_what		 retry_what;
	uint64_t		 retry_at;
	char			 retry_why[FWUPDATE_ERR_MAX];

	uint64_t		 test_deadline;
	int			 twin_reported;
	uint64_t		 reboot_asked;	/* mono ms; 0 = not yet */
	uint64_t		 next;		/* deadline */

	struct fwupdate_request	 desired;
	int			 have_desired;
	const char		*told;		/* last state reported */
};

static void	step(struct fwupdate *, uint64_t);
static void	start_manifest(struct fwupdate *);

/* ------------------------------------------------------------------ */
/* Small helpers.                                                     */

static uint64_t
now_ms(void)
{
	return hal_mono_ms();
}

/* Error text for reports: printable ASCII only, bounded. */
static void
set_text(char *dst, size_t cap, const char *fmt, va_list ap)
{
	size_t i;

	vsnprintf(dst, cap, fmt, ap);
	for (i = 0; dst[i] != '\0'; i++)
		if ((unsigned char)dst[i] < 0x20 ||
		    (unsigned char)dst[i] > 0x7e)
			dst[i] = ' ';
}

static void
textf(char *dst, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
textf(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_text(dst, cap, fmt, ap);
	va_end(ap);
}

const char *
fwupdate_state_name(enum fwupdate_state st)
{
	switch (st) {
	case FWUPDATE_IDLE:
		return "idle";
	case FWUPDATE_PENDING:
		return "pending";
	case FWUPDATE_MANIFEST:
		return "manifest";
	case FWUPDATE_SIGNATURE:
		return "signature";
	case FWUPDATE_REHASH:
		return "rehash";
	case FWUPDATE_DOWNLOAD:
		return "download";
	case FWUPDATE_RETRY_WAIT:
		return "retry_wait";
	case FWUPDATE_READBACK:
		return "readback";
	case FWUPDATE_REBOOT_WAIT:
		return "reboot_wait";
	case FWUPDATE_TESTING:
		return "testing";
	case FWUPDATE_FAIL_REBOOT:
		return "fail_reboot";
	case FWUPDATE_ROLLBACK_CHECK:
		return "rollback_check";
	}
	return "?";
}

const char *
fwfetch_result_str(enum fwfetch_result r)
{
	switch (r) {
	case FWFETCH_OK:
		return "ok";
	case FWFETCH_RANGE_IGNORED:
		return "server ignored the range";
	case FWFETCH_TOO_BIG:
		return "larger than allowed";
	case FWFETCH_STALLED:
		return "transfer stalled";
	case FWFETCH_HTTP:
		return "HTTP error";
	case FWFETCH_TLS:
		return "TLS error";
	case FWFETCH_NET:
		return "network error";
	case FWFETCH_BAD_URL:
		return "bad URL";
	case FWFETCH_ABORTED:
		return "aborted";
	}
	return "?";
}

static int
host_charging(struct fwupdate *fw)
{
	return fw->host.charging != NULL && fw->host.charging(fw->host.arg);
}

static int
host_synced(struct fwupdate *fw)
{
	return fw->host.time_synced != NULL &&
	    fw->host.time_synced(fw->host.arg);
}

static int
host_cloud(struct fwupdate *fw)
{
	return fw->host.cloud_connected != NULL &&
	    fw->host.cloud_connected(fw->host.arg);
}

/* ------------------------------------------------------------------ */
/* Durable records: "name=value" lines in the HAL's kv store.          */

static int
rec_read(const char *key, char *buf, size_t cap)
{
	size_t len;

	if (hal_kv_get(key, buf, cap - 1, &len) == -1 || len >= cap)
		return -1;
	buf[len] = '\0';
	return 0;
}

/* The value of name in rec into out; -1 if absent or too long. */
static int
rec_field(const char *rec, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name), vlen;
	const char *p = rec, *nl;

	while (*p != '\0') {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		if ((size_t)(nl - p) > nlen && strncmp(p, name, nlen) == 0 &&
		    p[nlen] == '=') {
			vlen = (size_t)(nl - p) - nlen - 1;
			if (vlen >= cap)
				return -1;
			memcpy(out, p + nlen + 1, vlen);
			out[vlen] = '\0';
			return 0;
		}
		p = *nl == '\n' ? nl + 1 : nl;
	}
	return -1;
}

static int
rec_u64(const char *rec, const char *name, uint64_t *out)
{
	char v[24], *end;
	unsigned long long x;

	if (rec_field(rec, name, v, sizeof(v)) == -1 || v[0] == '\0')
		return -1;
	x = strtoull(v, &end, 10);
	if (*end != '\0' || v[0] == '-')
		return -1;
	*out = x;
	return 0;
}

static int
job_load(struct job *j)
{
	char rec[REC_MAX], hex[80];
	uint64_t x;

	memset(j, 0, sizeof(*j));
	if (rec_read(KV_JOB, rec, sizeof(rec)) == -1)
		return -1;
	if (rec_field(rec, "url", j->url, sizeof(j->url)) == -1 ||
	    strncmp(j->url, "https://", 8) != 0 ||
	    rec_field(rec, "want", j->want, sizeof(j->want)) == -1 ||
	    rec_u64(rec, "slot", &x) == -1 || x > 1)
		goto bad;
	j->slot = (int)x;
	if (rec_u64(rec, "active", &x) == -1)
		goto bad;
	j->active = x != 0;
	if (rec_u64(rec, "off", &j->off) == -1)
		goto bad;
	if (rec_field(rec, "mhash", hex, sizeof(hex)) == -1)
		goto bad;
	if (hex[0] != '\0') {
		if (manifest_hex32(hex, strlen(hex), j->mhash) == -1)
			goto bad;
		j->have_mhash = 1;
	}
	return 0;
bad:
	fw_warn("fwupdate: %s record is damaged; ignoring it", KV_JOB);
	memset(j, 0, sizeof(*j));
	return -1;
}

static int
job_save(const struct job *j)
{
	char rec[REC_MAX], hex[65] = "";
	int n;

	if (j->have_mhash)
		manifest_hex(j->mhash, 32, hex);
	n = snprintf(rec, sizeof(rec),
	    "active=%d\nurl=%s\nwant=%s\nmhash=%s\nslot=%d\noff=%" PRIu64 "\n",
	    j->active, j->url, j->want, hex, j->slot, j->off);
	if (n < 0 || n >= (int)sizeof(rec) ||
	    hal_kv_set(KV_JOB, rec, (size_t)n) == -1) {
		fw_err("fwupdate: cannot write %s", KV_JOB);
		return -1;
	}
	return 0;
}

static void
job_clear(struct fwupdate *fw)
{
	memset(&fw->job, 0, sizeof(fw->job));
	if (hal_kv_del(KV_JOB) == -1)
		fw_err("fwupdate: cannot remove %s", KV_JOB);
}

static void
last_load(struct last *l)
{
	char rec[REC_MAX];

	memset(l, 0, sizeof(*l));
	if (rec_read(KV_LAST, rec, sizeof(rec)) == -1)
		return;
	if (rec_field(rec, "state", l->state, sizeof(l->state)) == -1 ||
	    rec_field(rec, "url", l->url, sizeof(l->url)) == -1 ||
	    rec_field(rec, "target", l->target, sizeof(l->target)) == -1 ||
	    rec_field(rec, "error", l->error, sizeof(l->error)) == -1)
		memset(l, 0, sizeof(*l));
}

static void
last_save(struct fwupdate *fw)
{
	char rec[REC_MAX];
	struct last *l = &fw->last;
	int n;

	n = snprintf(rec, sizeof(rec), "state=%s\nurl=%s\ntarget=%s\n"
	    "error=%s\n", l->state, l->url, l->target, l->error);
	if (n < 0 || n >= (int)sizeof(rec) ||
	    hal_kv_set(KV_LAST, rec, (size_t)n) == -1)
		fw_err("fwupdate: cannot write %s", KV_LAST);
}

static void
last_set(struct fwupdate *fw, const char *state, const char *url,
    const char *target, const char *error)
{
	struct last l;

	/* The arguments may point into fw->last itself. */
	memset(&l, 0, sizeof(l));
	snprintf(l.state, sizeof(l.state), "%s", state);
	snprintf(l.url, sizeof(l.url), "%s", url);
	snprintf(l.target, sizeof(l.target), "%s", target);
	snprintf(l.error, sizeof(l.error), "%s", error);
	fw->last = l;
	last_save(fw);
}

int
fwupdate_slotinfo_get(int slot, struct fwupdate_slotinfo *si)
{
	char key[32], rec[REC_MAX], hex[80];
	uint64_t x;

	memset(si, 0, sizeof(*si));
	if (slot != HAL_SLOT_A && slot != HAL_SLOT_B)
		return -1;
	snprintf(key, sizeof(key), KV_SLOT_FMT, slot);
	if (rec_read(key, rec, sizeof(rec)) == -1)
		return -1;
	if (rec_field(rec, "version", si->version, sizeof(si->version)) ==
	    -1 || rec_u64(rec, "security_version", &x) == -1 ||
	    x > UINT32_MAX || rec_u64(rec, "size", &si->size) == -1 ||
	    rec_field(rec, "sha256", hex, sizeof(hex)) == -1 ||
	    manifest_hex32(hex, strlen(hex), si->sha256) == -1) {
		memset(si, 0, sizeof(*si));
		return -1;
	}
	si->security_version = (uint32_t)x;
	return 0;
}

static int
slotinfo_set(int slot, const struct fwupdate_slotinfo *si)
{
	char key[32], rec[256], hex[65];
	int n;

	snprintf(key, sizeof(key), KV_SLOT_FMT, slot);
	manifest_hex(si->sha256, 32, hex);
	n = snprintf(rec, sizeof(rec), "version=%s\nsecurity_version=%u\n"
	    "size=%" PRIu64 "\nsha256=%s\n", si->version,
	    si->security_version, si->size, hex);
	if (n < 0 || n >= (int)sizeof(rec) ||
	    hal_kv_set(key, rec, (size_t)n) == -1) {
		fw_err("fwupdate: cannot write %s", key);
		return -1;
	}
	return 0;
}

static int
slotinfo_del(int slot)
{
	char key[32];

	snprintf(key, sizeof(key), KV_SLOT_FMT, slot);
	return hal_kv_del(key);
}

static int
boot_get(struct hal_boot_state *b)
{
	if (hal_boot_state_get(b) == -1) {
		fw_err("fwupdate: cannot read the boot-state record");
		return -1;
	}
	return 0;
}

static int
boot_set(const struct hal_boot_state *b)
{
	if (hal_boot_state_set(b) == -1) {
		fw_err("fwupdate: cannot write the boot-state record");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reporting.                                                         */

static const char *
shown_state(const struct fwupdate *fw)
{
	switch (fw->state) {
	case FWUPDATE_IDLE:
		if (strcmp(fw->last.state, "failed") == 0)
			return "failed";
		if (strcmp(fw->last.state, "rolled_back") == 0)
			return "rolled_back";
		return "idle";
	case FWUPDATE_PENDING:
		return host_charging((struct fwupdate *)fw) ? "postponed" :
		    "pending";
	case FWUPDATE_MANIFEST:
	case FWUPDATE_SIGNATURE:
	case FWUPDATE_REHASH:
	case FWUPDATE_DOWNLOAD:
	case FWUPDATE_RETRY_WAIT:
		return "downloading";
	case FWUPDATE_READBACK:
		return "verifying";
	case FWUPDATE_REBOOT_WAIT:
		return "rebooting";
	case FWUPDATE_TESTING:
		return "testing";
	case FWUPDATE_FAIL_REBOOT:
	case FWUPDATE_ROLLBACK_CHECK:
		return "rolling_back";
	}
	return "idle";
}

void
fwupdate_status(const struct fwupdate *fw, struct fwupdate_status *s)
{
	struct hal_boot_state b;

	memset(s, 0, sizeof(*s));
	s->state = shown_state(fw);
	s->slot = fw->running;
	if (hal_boot_state_get(&b) == 0) {
		snprintf(s->version, sizeof(s->version), "%s",
		    b.version[fw->running]);
		snprintf(s->other_version, sizeof(s->other_version), "%s",
		    b.version[fw->inactive]);
		s->security_floor = b.security_floor;
	}
	switch (fw->state) {
	case FWUPDATE_IDLE:
		snprintf(s->target, sizeof(s->target), "%s", fw->last.target);
		snprintf(s->error, sizeof(s->error), "%s", fw->last.error);
		s->progress = strcmp(fw->last.state, "updated") == 0 ? 100 : 0;
		break;
	case FWUPDATE_TESTING:
	case FWUPDATE_FAIL_REBOOT:
		snprintf(s->target, sizeof(s->target), "%s", s->version);
		snprintf(s->error, sizeof(s->error), "%s", fw->last.error);
		s->progress = 100;
		break;
	default:
		snprintf(s->target, sizeof(s->target), "%s", fw->parsed ?
		    fw->m.version : fw->job.want[0] != '\0' ? fw->job.want :
		    fw->last.target);
		s->progress = fw->progress;
		if (fw->state == FWUPDATE_RETRY_WAIT)
			snprintf(s->error, sizeof(s->error), "%s",
			    fw->retry_why);
		break;
	}
}

static void
report(struct fwupdate *fw)
{
	struct fwupdate_status s;

	fwupdate_status(fw, &s);
	fw->told = s.state;
	fw->progress_told = fw->progress;
	if (fw->host.report != NULL)
		fw->host.report(fw->host.arg, &s);
}

/* Report when what the cloud sees would change. */
static void
report_if_changed(struct fwupdate *fw)
{
	if (fw->told == NULL || strcmp(fw->told, shown_state(fw)) != 0)
		report(fw);
}

static void
set_state(struct fwupdate *fw, enum fwupdate_state st)
{
	if (fw->state != st)
		fw_info("fwupdate: %s -> %s", fwupdate_state_name(fw->state),
		    fwupdate_state_name(st));
	fw->state = st;
	report(fw);
}

/* ------------------------------------------------------------------ */
/* Ending a job.                                                      */

static void
xfer_cancel(struct fwupdate *fw)
{
	if (fw->xfer != NULL) {
		fw->fetch.cancel(fw->fetch.ctx, fw->xfer);
		fw->xfer = NULL;
	}
}

static void consider_desired(struct fwupdate *);

/*
 * The job is refused or failed for good.  keep_progress: leave what was
 * downloaded for a later request of the same manifest (transient
 * failures); otherwise the next attempt starts from zero.
 */
static void
job_fail(struct fwupdate *fw, int keep_progress, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
job_fail(struct fwupdate *fw, int keep_progress, const char *fmt, ...)
{
	char why[FWUPDATE_ERR_MAX];
	const char *target;
	va_list ap;

	va_start(ap, fmt);
	set_text(why, sizeof(why), fmt, ap);
	va_end(ap);
	fw_err("fwupdate: %s: %s", fw->job.url, why);
	xfer_cancel(fw);
	target = fw->job.want[0] != '\0' ? fw->job.want :
	    fw->parsed ? fw->m.version : "";
	last_set(fw, "failed", fw->job.url, target, why);
	if (keep_progress && fw->job.have_mhash) {
		fw->job.active = 0;
		job_save(&fw->job);
	} else
		job_clear(fw);
	fw->parsed = 0;
	fw->progress = 0;
	set_state(fw, FWUPDATE_IDLE);
	consider_desired(fw);
}

/* ------------------------------------------------------------------ */
/* Fetch callbacks and retries.                                       */

static void
retry_later(struct fwupdate *fw, enum retry_what what, const char *why)
{
	unsigned shift = fw->retries < 6 ? fw->retries : 6;
	uint64_t delay = (uint64_t)fw->cfg.retry_s << shift;

	if (fw->retries >= fw->cfg.max_retries) {
		job_fail(fw, 1, "%s (gave up after %u attempts)", why,
		    fw->retries + 1);
		return;
	}
	fw->retries++;
	if (delay > RETRY_MAX_S)
		delay = RETRY_MAX_S;
	fw->retry_what = what;
	fw->retry_at = now_ms() + delay * 1000;
	snprintf(fw->retry_why, sizeof(fw->retry_why), "%s", why);
	fw_warn("fwupdate: %s; retry %u in %" PRIu64 " s", why, fw->retries,
	    delay);
	set_state(fw, FWUPDATE_RETRY_WAIT);
}

/*
 * A transfer ended badly.  Refusals (too big, bad URL, HTTP 4xx, what
 * our data callback refused) end the job; the rest is retried.
 */
static void
fetch_failed(struct fwupdate *fw, enum retry_what what,
    enum fwfetch_result r, long status, const char *detail)
{
	char why[FWUPDATE_ERR_MAX];

	if (r == FWFETCH_ABORTED && fw->abort_why[0] != '\0') {
		job_fail(fw, 0, "%s", fw->abort_why);
		return;
	}
	if (r == FWFETCH_HTTP)
		textf(why, sizeof(why), "%s: HTTP %ld", fw->xfer_what, status);
	else
		textf(why, sizeof(why), "%s: %s%s%s", fw->xfer_what,
		    fwfetch_result_str(r), detail[0] != '\0' ? ": " : "",
		    detail);
	/* A 5xx may pass; a 404, a redirect or a refusal will not. */
	if (r == FWFETCH_TOO_BIG || r == FWFETCH_BAD_URL ||
	    r == FWFETCH_ABORTED || (r == FWFETCH_HTTP && status < 500)) {
		job_fail(fw, 0, "%s", why);
		return;
	}
	retry_later(fw, what, why);
}

static int
manifest_data(void *arg, const uint8_t *p, size_t n)
{
	struct fwupdate *fw = arg;

	if (n > sizeof(fw->mbuf) - fw->mlen) {
		textf(fw->abort_why, sizeof(fw->abort_why),
		    "manifest is longer than %d bytes", MANIFEST_MAX_LEN);
		return -1;
	}
	memcpy(fw->mbuf + fw->mlen, p, n);
	fw->mlen += n;
	return 0;
}

static int
sig_data(void *arg, const uint8_t *p, size_t n)
{
	struct fwupdate *fw = arg;

	if (n > sizeof(fw->sig) - fw->siglen) {
		textf(fw->abort_why, sizeof(fw->abort_why),
		    "signature is longer than %d bytes", MANIFEST_SIG_LEN);
		return -1;
	}
	memcpy(fw->sig + fw->siglen, p, n);
	fw->siglen += n;
	return 0;
}

static void	check_manifest(struct fwupdate *);

static void
sig_done(void *arg, enum fwfetch_result r, long status, const char *detail)
{
	struct fwupdate *fw = arg;

	fw->xfer = NULL;
	if (r != FWFETCH_OK)
		fetch_failed(fw, RETRY_MANIFEST, r, status, detail);
	else
		check_manifest(fw);
	step(fw, now_ms());
}

static void
manifest_done(void *arg, enum fwfetch_result r, long status,
    const char *detail)
{
	struct fwupdate *fw = arg;
	struct fwfetch_req req;
	char url[FWUPDATE_URL_MAX + 8];

	fw->xfer = NULL;
	if (r != FWFETCH_OK) {
		fetch_failed(fw, RETRY_MANIFEST, r, status, detail);
		step(fw, now_ms());
		return;
	}
	snprintf(url, sizeof(url), "%s.sig", fw->job.url);
	req.url = url;
	req.offset = 0;
	req.max_size = MANIFEST_SIG_LEN;
	fw->siglen = 0;
	fw->abort_why[0] = '\0';
	fw->xfer_what = "signature";
	set_state(fw, FWUPDATE_SIGNATURE);
	if ((fw->xfer = fw->fetch.start(fw->fetch.ctx, &req, sig_data,
	    sig_done, fw)) == NULL)
		retry_later(fw, RETRY_MANIFEST, "signature: cannot start");
	step(fw, now_ms());
}

static void
start_manifest(struct fwupdate *fw)
{
	struct fwfetch_req req;

	fw->mlen = 0;
	fw->parsed = 0;
	fw->abort_why[0] = '\0';
	fw->xfer_what = "manifest";
	req.url = fw->job.url;
	req.offset = 0;
	req.max_size = MANIFEST_MAX_LEN;
	fw_info("fwupdate: fetching %s", fw->job.url);
	set_state(fw, FWUPDATE_MANIFEST);
	if ((fw->xfer = fw->fetch.start(fw->fetch.ctx, &req, manifest_data,
	    manifest_done, fw)) == NULL)
		retry_later(fw, RETRY_MANIFEST, "manifest: cannot start");
}

/* ------------------------------------------------------------------ */
/* Download.                                                          */

/* Make fw->off durable: slot first, then the record that claims it. */
static int
checkpoint(struct fwupdate *fw)
{
	if (fw->off == fw->persisted)
		return 0;
	if (hal_slot_sync(fw->inactive) == -1) {
		textf(fw->abort_why, sizeof(fw->abort_why),
		    "cannot sync slot %c", 'A' + fw->inactive);
		return -1;
	}
	fw->job.off = fw->off;
	if (job_save(&fw->job) == -1) {
		textf(fw->abort_why, sizeof(fw->abort_why),
		    "cannot record the download progress");
		return -1;
	}
	fw->persisted = fw->off;
	return 0;
}

static void
update_progress(struct fwupdate *fw)
{
	fw->progress = fw->m.size == 0 ? 0 :
	    (unsigned)(fw->off * 100 / fw->m.size);
	/* Every 10 %: enough to follow, cheap on the data budget. */
	if (fw->progress / 10 != fw->progress_told / 10)
		report(fw);
}

static int
image_data(void *arg, const uint8_t *p, size_t n)
{
	struct fwupdate *fw = arg;

	if (n > fw->m.size - fw->off) {
		textf(fw->abort_why, sizeof(fw->abort_why),
		    "image is longer than the manifest's %" PRIu64 " bytes",
		    fw->m.size);
		return -1;
	}
	if (hal_slot_write(fw->inactive, fw->off, p, n) == -1) {
		textf(fw->abort_why, sizeof(fw->abort_why),
		    "cannot write slot %c at %" PRIu64, 'A' + fw->inactive,
		    fw->off);
		return -1;
	}
	if (EVP_DigestUpdate(fw->sha, p, n) != 1) {
		textf(fw->abort_why, sizeof(fw->abort_why), "SHA-256 failed");
		return -1;
	}
	fw->off += n;
	fw->retries = 0;	/* progress: the retry budget starts over */
	if (fw->off - fw->persisted >= fw->cfg.persist_every &&
	    checkpoint(fw) == -1)
		return -1;
	update_progress(fw);
	return 0;
}

static void	image_done(void *, enum fwfetch_result, long, const char *);
static void	restart_from_zero(struct fwupdate *, const char *);

static void
start_download(struct fwupdate *fw)
{
	struct fwfetch_req req;

	req.url = fw->image_url;
	req.offset = fw->off;
	req.max_size = fw->m.size;
	fw->abort_why[0] = '\0';
	fw->xfer_what = "image";
	if (fw->off > 0)
		fw_info("fwupdate: resuming %s at byte %" PRIu64 " of %" PRIu64,
		    fw->image_url, fw->off, fw->m.size);
	else
		fw_info("fwupdate: downloading %s (%" PRIu64 " bytes) into "
		    "slot %c", fw->image_url, fw->m.size, 'A' + fw->inactive);
	update_progress(fw);
	set_state(fw, FWUPDATE_DOWNLOAD);
	if ((fw->xfer = fw->fetch.start(fw->fetch.ctx, &req, image_data,
	    image_done, fw)) == NULL)
		retry_later(fw, RETRY_DOWNLOAD, "image: cannot start");
}

static void
start_hash(struct fwupdate *fw, enum fwupdate_state st, int slot,
    uint64_t end)
{
	fw->hslot = slot;
	fw->hpos = 0;
	fw->hend = end;
	if (EVP_DigestInit_ex(fw->sha, EVP_sha256(), NULL) != 1) {
		job_fail(fw, 0, "SHA-256 failed");
		return;
	}
	set_state(fw, st);
}

/* All size bytes are in the slot: compare, then hash the slot as stored. */
static void
download_complete(struct fwupdate *fw)
{
	uint8_t md[32];
	unsigned mdlen;

	if (checkpoint(fw) == -1) {
		job_fail(fw, 0, "%s", fw->abort_why);
		return;
	}
	if (EVP_DigestFinal_ex(fw->sha, md, &mdlen) != 1 ||
	    memcmp(md, fw->m.sha256, 32) != 0) {
		job_fail(fw, 0, "SHA-256 of the image does not match the "
		    "manifest");
		return;
	}
	/* What the flash holds is what counts: hash it as stored. */
	memcpy(fw->hwant, fw->m.sha256, 32);
	start_hash(fw, FWUPDATE_READBACK, fw->inactive, fw->m.size);
}

static void
image_done(void *arg, enum fwfetch_result r, long status, const char *detail)
{
	struct fwupdate *fw = arg;

	fw->xfer = NULL;
	if (r == FWFETCH_RANGE_IGNORED) {
		restart_from_zero(fw, "the server ignored the range request");
		goto out;
	}
	if (r != FWFETCH_OK) {
		/* Keep what arrived: durable before the retry waits. */
		if (checkpoint(fw) == -1)
			job_fail(fw, 0, "%s", fw->abort_why);
		else
			fetch_failed(fw, RETRY_DOWNLOAD, r, status, detail);
		goto out;
	}
	if (fw->off != fw->m.size) {
		job_fail(fw, 0, "image is %" PRIu64 " bytes, the manifest says "
		    "%" PRIu64, fw->off, fw->m.size);
		goto out;
	}
	download_complete(fw);
out:
	step(fw, now_ms());
}

/*
 * Forget the inactive slot's image and start writing it from byte 0.
 * Erase comes after the job record says "offset 0", and every start at
 * offset 0 erases, so a power cut anywhere here just erases again.
 */
static int
fresh_start(struct fwupdate *fw, const uint8_t mhash[32])
{
	struct hal_boot_state b;

	if (boot_get(&b) == -1)
		return -1;
	if (b.version[fw->inactive][0] != '\0' || b.previous != fw->running) {
		b.version[fw->inactive][0] = '\0';
		b.previous = (uint8_t)fw->running;
		if (boot_set(&b) == -1)
			return -1;
	}
	slotinfo_del(fw->inactive);
	fw->job.have_mhash = 1;
	memcpy(fw->job.mhash, mhash, 32);
	fw->job.slot = fw->inactive;
	fw->job.off = 0;
	fw->job.active = 1;
	if (job_save(&fw->job) == -1)
		return -1;
	return 0;
}

static void
download_from_zero(struct fwupdate *fw)
{
	if (hal_slot_erase(fw->inactive) == -1) {
		job_fail(fw, 0, "cannot erase slot %c", 'A' + fw->inactive);
		return;
	}
	fw->off = fw->persisted = 0;
	if (EVP_DigestInit_ex(fw->sha, EVP_sha256(), NULL) != 1) {
		job_fail(fw, 0, "SHA-256 failed");
		return;
	}
	start_download(fw);
}

static void
restart_from_zero(struct fwupdate *fw, const char *why)
{
	fw_warn("fwupdate: %s: restarting the image from byte 0", why);
	fw->job.off = 0;
	if (job_save(&fw->job) == -1) {
		job_fail(fw, 0, "cannot record the download progress");
		return;
	}
	download_from_zero(fw);
}

/* ------------------------------------------------------------------ */
/* Verification: key id, signature, then the strict parse and checks. */

static const struct fwupdate_key *
find_key(const struct fwupdate *fw, const char *id)
{
	size_t i;

	for (i = 0; i < fw->cfg.nkeys; i++)
		if (strcmp(fw->cfg.keys[i].id, id) == 0)
			return &fw->cfg.keys[i];
	return NULL;
}

static void
check_manifest(struct fwupdate *fw)
{
	const struct fwupdate_key *key;
	struct hal_boot_state b;
	struct manifest *m = &fw->m;
	enum manifest_status st;
	char id[MANIFEST_KEYID_MAX], t[32];
	uint8_t mhash[32];
	int64_t now;

	if ((st = manifest_key_id(fw->mbuf, fw->mlen, id, sizeof(id))) !=
	    MANIFEST_OK) {
		job_fail(fw, 0, "manifest: %s", manifest_strerror(st));
		return;
	}
	if ((key = find_key(fw, id)) == NULL) {
		job_fail(fw, 0, "manifest signed with unknown key id \"%s\"",
		    id);
		return;
	}
	if ((st = manifest_verify(fw->mbuf, fw->mlen, fw->sig, fw->siglen,
	    key->pub)) != MANIFEST_OK) {
		job_fail(fw, 0, "manifest: %s (key id %s)",
		    manifest_strerror(st), id);
		return;
	}
	/* Only now are the bytes the vendor's: parse them. */
	if ((st = manifest_parse(fw->mbuf, fw->mlen, m)) != MANIFEST_OK) {
		job_fail(fw, 0, "manifest line %u: %s", m->err_line,
		    manifest_strerror(st));
		return;
	}
	fw->parsed = 1;
	if (strcmp(m->product, fw->product) != 0) {
		job_fail(fw, 0, "manifest is for product \"%s\", this is "
		    "\"%s\"", m->product, fw->product);
		return;
	}
	if (fw->job.want[0] != '\0' && strcmp(m->version, fw->job.want)) {
		job_fail(fw, 0, "manifest is for version %s, %s was asked for",
		    m->version, fw->job.want);
		return;
	}
	if (m->size > hal_slot_size()) {
		job_fail(fw, 0, "image of %" PRIu64 " bytes does not fit the "
		    "%" PRIu64 "-byte slot", m->size, hal_slot_size());
		return;
	}
	if (boot_get(&b) == -1) {
		job_fail(fw, 0, "cannot read the boot-state record");
		return;
	}
	if (m->security_version < b.security_floor) {
		job_fail(fw, 0, "security_version %u is below the floor %u: "
		    "downgrade refused", m->security_version,
		    b.security_floor);
		return;
	}
	if (!host_synced(fw)) {
		job_fail(fw, 0, "clock not synchronised: cannot check expiry");
		return;
	}
	now = hal_wall_ms() / 1000;
	if (now >= m->expires) {
		job_fail(fw, 0, "manifest expired at %s",
		    manifest_time_format(m->expires, t, sizeof(t)));
		return;
	}
	if (m->url[0] != '\0')
		snprintf(fw->image_url, sizeof(fw->image_url), "%s", m->url);
	else if (fwupdate_image_url(fw->job.url, fw->image_url,
	    sizeof(fw->image_url)) == -1) {
		job_fail(fw, 0, "manifest has no url and its own URL does not "
		    "end in .manifest");
		return;
	}
	fw_info("fwupdate: manifest good: %s %s security_version %u, %" PRIu64
	    " bytes, key %s", m->product, m->version, m->security_version,
	    m->size, m->key_id);
	if (EVP_Digest(fw->mbuf, fw->mlen, mhash, NULL, EVP_sha256(),
	    NULL) != 1) {
		job_fail(fw, 0, "SHA-256 failed");
		return;
	}
	/* The same manifest as the interrupted download: resume it. */
	if (fw->job.have_mhash && memcmp(fw->job.mhash, mhash, 32) == 0 &&
	    fw->job.slot == fw->inactive && fw->job.off > 0 &&
	    fw->job.off <= m->size) {
		fw->off = fw->persisted = fw->job.off;
		start_hash(fw, FWUPDATE_REHASH, fw->inactive, fw->job.off);
		return;
	}
	if (fresh_start(fw, mhash) == -1) {
		job_fail(fw, 0, "cannot record the new download");
		return;
	}
	download_from_zero(fw);
}

/* ------------------------------------------------------------------ */
/* Installing, confirming, rolling back.                              */

/* Point the boot loader at slot, once, with the previous as fallback. */
static int
mark_try_once(struct fwupdate *fw, int slot, const char *version)
{
	struct hal_boot_state b;

	if (boot_get(&b) == -1)
		return -1;
	b.previous = (uint8_t)fw->running;
	b.active = (uint8_t)slot;
	b.try_once = 1;
	b.trying = 0;
	b.confirmed = 0;
	b.rolled_back = 0;
	snprintf(b.version[slot], sizeof(b.version[slot]), "%s", version);
	return boot_set(&b);
}

static void
install(struct fwupdate *fw)
{
	struct fwupdate_slotinfo si;

	memset(&si, 0, sizeof(si));
	snprintf(si.version, sizeof(si.version), "%s", fw->m.version);
	si.security_version = fw->m.security_version;
	si.size = fw->m.size;
	memcpy(si.sha256, fw->m.sha256, 32);
	if (slotinfo_set(fw->inactive, &si) == -1 ||
	    mark_try_once(fw, fw->inactive, fw->m.version) == -1) {
		job_fail(fw, 0, "cannot mark slot %c", 'A' + fw->inactive);
		return;
	}
	fw_info("fwupdate: slot %c holds %s; it boots once on the next "
	    "reboot", 'A' + fw->inactive, fw->m.version);
	last_set(fw, "installed", fw->job.url, fw->m.version, "");
	job_clear(fw);
	fw->reboot_asked = 0;
	set_state(fw, FWUPDATE_REBOOT_WAIT);
}

static void
do_reboot(struct fwupdate *fw, uint64_t now)
{
	if (fw->reboot_asked != 0 && now - fw->reboot_asked < REBOOT_AGAIN_MS)
		return;
	fw->reboot_asked = now;
	fw_info("fwupdate: rebooting (%s)", fw->state == FWUPDATE_REBOOT_WAIT ?
	    "to start the new image" : "to roll back");
	if (fw->host.reboot != NULL)
		fw->host.reboot(fw->host.arg);
	else if (hal_reboot() == -1)
		fw_err("fwupdate: reboot failed; trying again later");
}

static void
confirm(struct fwupdate *fw)
{
	struct fwupdate_slotinfo si;
	struct hal_boot_state b;

	if (boot_get(&b) == -1)
		return;
	b.confirmed = 1;
	b.trying = 0;
	if (boot_set(&b) == -1)
		return;
	/* Only a confirmed image may raise the floor. */
	if (fwupdate_slotinfo_get(fw->running, &si) == 0 &&
	    si.security_version > b.security_floor) {
		fw_info("fwupdate: security floor %u -> %u", b.security_floor,
		    si.security_version);
		b.security_floor = si.security_version;
		if (boot_set(&b) == -1)
			return;
	}
	fw_info("fwupdate: slot %c (%s) confirmed", 'A' + fw->running,
	    b.version[fw->running]);
	last_set(fw, "updated", fw->last.url, b.version[fw->running], "");
	set_state(fw, FWUPDATE_IDLE);
	consider_desired(fw);
}

static void
selftest_failed(struct fwupdate *fw)
{
	char why[FWUPDATE_ERR_MAX];

	textf(why, sizeof(why), "self-test failed: no %s within %u s",
	    !host_synced(fw) ? "time synchronisation" :
	    !host_cloud(fw) ? "cloud connection" : "twin report",
	    fw->cfg.selftest_s);
	fw_err("fwupdate: %s; rolling back", why);
	last_set(fw, "failed", fw->last.url, fw->last.target, why);
	fw->reboot_asked = 0;
	set_state(fw, FWUPDATE_FAIL_REBOOT);
}

static void
hash_step(struct fwupdate *fw)
{
	struct fwupdate_slotinfo si;
	uint64_t budget = HASH_PER_TICK;
	uint8_t md[32];
	unsigned mdlen;
	size_t n;

	while (fw->hpos < fw->hend && budget > 0) {
		n = fw->hend - fw->hpos < sizeof(fw->buf) ?
		    (size_t)(fw->hend - fw->hpos) : sizeof(fw->buf);
		if (hal_slot_read(fw->hslot, fw->hpos, fw->buf, n) == -1 ||
		    EVP_DigestUpdate(fw->sha, fw->buf, n) != 1) {
			job_fail(fw, 0, "cannot read slot %c", 'A' + fw->hslot);
			return;
		}
		fw->hpos += n;
		budget -= n < budget ? n : budget;
	}
	if (fw->hpos < fw->hend)
		return;
	switch (fw->state) {
	case FWUPDATE_REHASH:
		/* The context now covers [0, off): go on from there. */
		fw_info("fwupdate: %" PRIu64 " bytes already in slot %c",
		    fw->off, 'A' + fw->inactive);
		/* Cut off after the last byte: nothing left to fetch. */
		if (fw->off == fw->m.size)
			download_complete(fw);
		else
			start_download(fw);
		break;
	case FWUPDATE_READBACK:
		if (EVP_DigestFinal_ex(fw->sha, md, &mdlen) != 1 ||
		    memcmp(md, fw->hwant, 32) != 0) {
			job_fail(fw, 0, "slot %c does not read back what was "
			    "written", 'A' + fw->inactive);
			return;
		}
		install(fw);
		break;
	case FWUPDATE_ROLLBACK_CHECK:
		if (EVP_DigestFinal_ex(fw->sha, md, &mdlen) != 1 ||
		    memcmp(md, fw->hwant, 32) != 0) {
			job_fail(fw, 0, "the image in slot %c is damaged; not "
			    "rolling back", 'A' + fw->hslot);
			return;
		}
		if (fwupdate_slotinfo_get(fw->hslot, &si) == -1 ||
		    mark_try_once(fw, fw->hslot, si.version) == -1) {
			job_fail(fw, 0, "cannot mark slot %c", 'A' + fw->hslot);
			return;
		}
		fw->reboot_asked = 0;
		set_state(fw, FWUPDATE_REBOOT_WAIT);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------------ */
/* The driver.                                                        */

static void
job_begin(struct fwupdate *fw, const struct fwupdate_request *req)
{
	memset(&fw->job, 0, sizeof(fw->job));
	/* Keep the resume point of an earlier attempt, if any. */
	(void)job_load(&fw->job);
	fw->job.active = 1;
	snprintf(fw->job.url, sizeof(fw->job.url), "%s", req->url);
	snprintf(fw->job.want, sizeof(fw->job.want), "%s", req->version);
	if (fw->job.have_mhash && fw->job.slot != fw->inactive) {
		fw->job.have_mhash = 0;
		fw->job.off = 0;
	}
	fw->job.slot = fw->inactive;
	job_save(&fw->job);
	fw->retries = 0;
	fw->parsed = 0;
	fw->progress = 0;
	fw_info("fwupdate: update requested: %s%s%s", req->url,
	    req->version[0] != '\0' ? " version " : "", req->version);
	set_state(fw, FWUPDATE_PENDING);
}

static void
arm(struct fwupdate *fw)
{
	struct timeval tv;
	uint64_t now, d;

	if (fw->timer == NULL)
		return;
	if (fw->next == UINT64_MAX) {
		evtimer_del(fw->timer);
		return;
	}
	now = now_ms();
	d = fw->next > now ? fw->next - now : 0;
	tv.tv_sec = (time_t)(d / 1000);
	tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
	evtimer_add(fw->timer, &tv);
}

/* What can be decided now in the current state. */
static void
act(struct fwupdate *fw, uint64_t now)
{
	switch (fw->state) {
	case FWUPDATE_PENDING:
		/* Never start during a charging session. */
		if (!host_charging(fw) && host_synced(fw))
			start_manifest(fw);
		break;
	case FWUPDATE_RETRY_WAIT:
		if (now < fw->retry_at)
			break;
		if (fw->retry_what == RETRY_DOWNLOAD)
			start_download(fw);
		else
			start_manifest(fw);
		break;
	case FWUPDATE_REHASH:
	case FWUPDATE_READBACK:
	case FWUPDATE_ROLLBACK_CHECK:
		hash_step(fw);
		break;
	case FWUPDATE_REBOOT_WAIT:
	case FWUPDATE_FAIL_REBOOT:
		if (!host_charging(fw))
			do_reboot(fw, now);
		break;
	case FWUPDATE_TESTING:
		if (host_synced(fw) && host_cloud(fw) && fw->twin_reported)
			confirm(fw);
		else if (now >= fw->test_deadline)
			selftest_failed(fw);
		break;
	default:
		break;
	}
}

/* Act until the state settles, report, then compute the next deadline. */
static void
step(struct fwupdate *fw, uint64_t now)
{
	enum fwupdate_state before;
	int i;

	for (i = 0; i < 8; i++) {
		before = fw->state;
		act(fw, now);
		if (fw->state == before)
			break;
	}
	report_if_changed(fw);

	switch (fw->state) {
	case FWUPDATE_REHASH:
	case FWUPDATE_READBACK:
	case FWUPDATE_ROLLBACK_CHECK:
		fw->next = now;		/* more hashing: next loop pass */
		break;
	case FWUPDATE_PENDING:
	case FWUPDATE_REBOOT_WAIT:
	case FWUPDATE_FAIL_REBOOT:
		fw->next = now + POLL_MS;
		break;
	case FWUPDATE_TESTING:
		fw->next = now + POLL_MS < fw->test_deadline ? now + POLL_MS :
		    fw->test_deadline;
		break;
	case FWUPDATE_RETRY_WAIT:
		fw->next = fw->retry_at;
		break;
	default:
		fw->next = UINT64_MAX;	/* transfers call back */
		break;
	}
	arm(fw);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fwupdate *fw = arg;

	fwupdate_tick(fw, now_ms());
}

void
fwupdate_tick(struct fwupdate *fw, uint64_t now)
{
	step(fw, now);
}

uint64_t
fwupdate_deadline(const struct fwupdate *fw)
{
	return fw->next;
}

enum fwupdate_state
fwupdate_state(const struct fwupdate *fw)
{
	return fw->state;
}

void
fwupdate_note(struct fwupdate *fw, enum fwupdate_event ev)
{
	struct hal_boot_state b;

	if (ev == FWUPDATE_EV_TWIN_REPORTED) {
		fw->twin_reported = 1;
		/* The rollback has been reported: the flag has done its job. */
		if (boot_get(&b) == 0 && b.rolled_back && b.confirmed &&
		    !b.trying) {
			b.rolled_back = 0;
			boot_set(&b);
		}
	}
	step(fw, now_ms());
}

/* ------------------------------------------------------------------ */
/* Requests.                                                          */

static int
url_ok(const char *s, size_t n)
{
	size_t i;

	/* At most 250 bytes: room for ".sig" after it. */
	if (n <= 8 || n > FWUPDATE_URL_MAX - 6 || strncmp(s, "https://", 8))
		return 0;
	for (i = 8; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return 0;
	return 1;
}

static enum fwupdate_req_status
request_from_json(struct json_object *o, int need_version,
    struct fwupdate_request *r)
{
	struct json_object *u = NULL, *v = NULL;
	const char *s;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (json_object_is_type(o, json_type_string))
		u = o;
	else if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, key, val) {
			if (strcmp(key, "url") == 0)
				u = val;
			else if (strcmp(key, "version") == 0)
				v = val;
			else
				return FWUPDATE_REQ_BAD_SHAPE;
		}
	} else
		return FWUPDATE_REQ_BAD_SHAPE;
	if (u == NULL || !json_object_is_type(u, json_type_string))
		return FWUPDATE_REQ_BAD_SHAPE;
	s = json_object_get_string(u);
	n = (size_t)json_object_get_string_len(u);
	if (!url_ok(s, n) || strlen(s) != n)
		return FWUPDATE_REQ_BAD_URL;
	memcpy(r->url, s, n);
	r->url[n] = '\0';
	if (v != NULL) {
		if (!json_object_is_type(v, json_type_string) ||
		    !manifest_version_ok(json_object_get_string(v)))
			return FWUPDATE_REQ_BAD_VERSION;
		snprintf(r->version, sizeof(r->version), "%s",
		    json_object_get_string(v));
	} else if (need_version)
		return FWUPDATE_REQ_BAD_SHAPE;
	return FWUPDATE_REQ_OK;
}

/*
 * One JSON value filling buf (blanks around it allowed) into *out (NULL
 * for JSON null).  0, or -1 if buf is not exactly that.
 */
static int
json_parse(const uint8_t *buf, size_t len, int depth,
    struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t end;
	int rv = 0;

	*out = NULL;
	if (memchr(buf, '\0', len) != NULL || len > INT32_MAX)
		return -1;
	if ((tok = json_tokener_new_ex(depth)) == NULL)
		return -1;
	o = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (o == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
		/* A lone number needs an end mark. */
		o = json_tokener_parse_ex(tok, "", 1);
		end = len;
	}
	if (json_tokener_get_error(tok) != json_tokener_success)
		rv = -1;
	json_tokener_free(tok);
	for (; rv == 0 && end < len; end++)
		if (!isspace(buf[end]))
			rv = -1;
	if (rv == -1)
		json_object_put(o);
	else
		*out = o;
	return rv;
}

enum fwupdate_req_status
fwupdate_parse_request(const uint8_t *buf, size_t len,
    struct fwupdate_request *r)
{
	struct json_object *o;
	enum fwupdate_req_status st;

	memset(r, 0, sizeof(*r));
	if (len > FWUPDATE_REQ_MAX)
		return FWUPDATE_REQ_TOO_LARGE;
	if (json_parse(buf, len, 4, &o) == -1)
		return FWUPDATE_REQ_BAD_JSON;
	st = request_from_json(o, 0, r);
	json_object_put(o);
	if (st != FWUPDATE_REQ_OK)
		memset(r, 0, sizeof(*r));
	return st;
}

const char *
fwupdate_req_strerror(enum fwupdate_req_status st)
{
	switch (st) {
	case FWUPDATE_REQ_OK:
		return "ok";
	case FWUPDATE_REQ_TOO_LARGE:
		return "payload too large";
	case FWUPDATE_REQ_BAD_JSON:
		return "payload is not JSON";
	case FWUPDATE_REQ_BAD_SHAPE:
		return "payload must be \"URL\" or {\"url\": ..., "
		    "\"version\": ...}";
	case FWUPDATE_REQ_BAD_URL:
		return "url must be https:// and at most 250 bytes";
	case FWUPDATE_REQ_BAD_VERSION:
		return "bad version";
	}
	return "?";
}

int
fwupdate_image_url(const char *murl, char *out, size_t cap)
{
	static const char ext[] = ".manifest";
	size_t n = strlen(murl), e = sizeof(ext) - 1;

	if (n <= e || strcmp(murl + n - e, ext) != 0 ||
	    (size_t)snprintf(out, cap, "%.*s.bin", (int)(n - e), murl) >= cap)
		return -1;
	return 0;
}

static int
reply(char *buf, size_t cap, int code, const char *key, const char *val)
{
	struct json_object *o = json_object_new_object();

	if (o != NULL) {
		json_object_object_add(o, key, json_object_new_string(val));
		snprintf(buf, cap, "%s", json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else
		snprintf(buf, cap, "{}");
	return code;
}

/* Why a new job cannot start now, or NULL. */
static const char *
busy(const struct fwupdate *fw)
{
	switch (fw->state) {
	case FWUPDATE_IDLE:
		return NULL;
	case FWUPDATE_TESTING:
		return "the new image is still in its self-test";
	case FWUPDATE_REBOOT_WAIT:
	case FWUPDATE_FAIL_REBOOT:
		return "waiting to reboot into the new image";
	case FWUPDATE_ROLLBACK_CHECK:
		return "a rollback is under way";
	default:
		return "an update is already running";
	}
}

static int
method_rollback(struct fwupdate *fw, char *out, size_t cap)
{
	struct fwupdate_slotinfo si;
	struct hal_boot_state b;
	const char *why;
	int other = fw->inactive, have_info;
	char msg[FWUPDATE_ERR_MAX];

	if ((why = busy(fw)) != NULL)
		return reply(out, cap, 400, "error", why);
	if (boot_get(&b) == -1)
		return reply(out, cap, 400, "error", "boot state unreadable");
	if (b.trying || !b.confirmed)
		return reply(out, cap, 400, "error",
		    "the running image is not confirmed");
	if (b.previous != other || b.version[other][0] == '\0')
		return reply(out, cap, 400, "error",
		    "no previous image to roll back to");
	have_info = fwupdate_slotinfo_get(other, &si) == 0;
	/* An image without a record (the factory image) counts as 0. */
	if ((have_info ? si.security_version : 0) < b.security_floor) {
		textf(msg, sizeof(msg), "the previous image (%s) is below the "
		    "security floor %u", b.version[other], b.security_floor);
		return reply(out, cap, 400, "error", msg);
	}
	if (have_info && si.size > hal_slot_size())
		return reply(out, cap, 400, "error",
		    "the previous image's record is damaged");
	fw_info("fwupdate: rollback to slot %c (%s) requested", 'A' + other,
	    b.version[other]);
	memset(&fw->job, 0, sizeof(fw->job));
	fw->parsed = 0;
	last_set(fw, "rollback", "", b.version[other], "");
	if (have_info) {
		memcpy(fw->hwant, si.sha256, 32);
		start_hash(fw, FWUPDATE_ROLLBACK_CHECK, other, si.size);
	} else if (mark_try_once(fw, other, b.version[other]) == -1) {
		return reply(out, cap, 400, "error", "cannot mark the slot");
	} else {
		fw->reboot_asked = 0;
		set_state(fw, FWUPDATE_REBOOT_WAIT);
	}
	step(fw, now_ms());
	return reply(out, cap, 200, "status", "accepted");
}

int
fwupdate_method(struct fwupdate *fw, int id, const uint8_t *payload,
    size_t len, char *out, size_t cap)
{
	struct fwupdate_request req;
	enum fwupdate_req_status st;
	const char *why;

	if (id == 202)
		return method_rollback(fw, out, cap);
	if (id != 200)
		return reply(out, cap, 400, "error", "not a firmware method");
	if ((st = fwupdate_parse_request(payload, len, &req)) !=
	    FWUPDATE_REQ_OK)
		return reply(out, cap, 400, "error",
		    fwupdate_req_strerror(st));
	if ((why = busy(fw)) != NULL)
		return reply(out, cap, 400, "error", why);
	job_begin(fw, &req);
	step(fw, now_ms());
	return reply(out, cap, 200, "status", "accepted");
}

/* Start the twin's desired version if that is what should happen now. */
static void
consider_desired(struct fwupdate *fw)
{
	struct fwupdate_request *d = &fw->desired;
	struct hal_boot_state b;

	if (!fw->have_desired || fw->state != FWUPDATE_IDLE)
		return;
	if (boot_get(&b) == -1)
		return;
	if (strcmp(b.version[fw->running], d->version) == 0)
		return;
	/* Tried before and it did not stick: wait for a new desired value. */
	if (strcmp(fw->last.url, d->url) == 0 &&
	    strcmp(fw->last.target, d->version) == 0 &&
	    (strcmp(fw->last.state, "failed") == 0 ||
	    strcmp(fw->last.state, "rolled_back") == 0))
		return;
	job_begin(fw, d);
}

int
fwupdate_twin_desired(struct fwupdate *fw, const uint8_t *buf, size_t len)
{
	struct json_object *o, *f;
	struct fwupdate_request req;
	enum fwupdate_req_status st;
	int rv = 0;

	if (json_parse(buf, len, 16, &o) == -1) {
		fw_warn("fwupdate: desired properties are not JSON");
		return -1;
	}
	if (json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "firmware", &f)) {
		if (f == NULL)		/* "firmware": null: no wish */
			fw->have_desired = 0;
		else if ((st = request_from_json(f, 1, &req)) !=
		    FWUPDATE_REQ_OK ||
		    !json_object_is_type(f, json_type_object)) {
			fw_warn("fwupdate: desired firmware ignored: %s",
			    st != FWUPDATE_REQ_OK ? fwupdate_req_strerror(st) :
			    "not an object");
			rv = -1;
		} else {
			fw->desired = req;
			fw->have_desired = 1;
			consider_desired(fw);
		}
	}
	json_object_put(o);
	step(fw, now_ms());
	return rv;
}

/* ------------------------------------------------------------------ */
/* Start-up: the engine, then recovery from what the records say.      */

struct fwupdate *
fwupdate_new(const struct fwupdate_cfg *cfg, const struct fwupdate_host *host,
    const struct fwfetch_ops *fetch)
{
	struct fwupdate *fw;

	if (cfg->product == NULL || !manifest_product_ok(cfg->product) ||
	    cfg->nkeys == 0 || cfg->nkeys > FWUPDATE_MAX_KEYS) {
		fw_err("fwupdate: a product name and 1-%d keys are needed",
		    FWUPDATE_MAX_KEYS);
		return NULL;
	}
	if ((fw = calloc(1, sizeof(*fw))) == NULL)
		return NULL;
	fw->cfg = *cfg;
	snprintf(fw->product, sizeof(fw->product), "%s", cfg->product);
	fw->cfg.product = fw->product;
	if (fw->cfg.selftest_s == 0)
		fw->cfg.selftest_s = 300;
	if (fw->cfg.persist_every == 0)
		fw->cfg.persist_every = 256 * 1024;
	if (fw->cfg.retry_s == 0)
		fw->cfg.retry_s = 10;
	if (fw->cfg.max_retries == 0)
		fw->cfg.max_retries = 5;
	fw->host = *host;
	fw->fetch = *fetch;
	fw->next = UINT64_MAX;
	fw->running = hal_slot_running();
	fw->inactive = fw->running == HAL_SLOT_A ? HAL_SLOT_B : HAL_SLOT_A;
	if ((fw->sha = EVP_MD_CTX_new()) == NULL)
		goto fail;
	if (cfg->base != NULL &&
	    (fw->timer = evtimer_new(cfg->base, timer_cb, fw)) == NULL)
		goto fail;
	return fw;
fail:
	fwupdate_free(fw);
	return NULL;
}

/*
 * A slot is marked and the boot loader has not run since (an engine
 * restarted without a reset): that slot must not be written; reboot into
 * it when it is safe.
 */
static void
recover_marked(struct fwupdate *fw, const struct hal_boot_state *b)
{
	fw_info("fwupdate: slot %c is marked to boot; rebooting when safe",
	    'A' + b->active);
	fw->state = FWUPDATE_REBOOT_WAIT;
	fw->next = now_ms();
}

/* The new image's one try is running: it has selftest_s to prove itself. */
static void
recover_trial(struct fwupdate *fw, const struct hal_boot_state *b)
{
	fw->state = FWUPDATE_TESTING;
	fw->test_deadline = now_ms() + (uint64_t)fw->cfg.selftest_s * 1000;
	fw_info("fwupdate: running %s from slot %c on trial; self-test for up "
	    "to %u s", b->version[fw->running], 'A' + fw->running,
	    fw->cfg.selftest_s);
	fw->next = now_ms();
}

/* The new image never confirmed; the boot loader came back: say so once. */
static void
recover_rollback(struct fwupdate *fw, const struct hal_boot_state *b)
{
	int failed = fw->inactive;

	if (!b->rolled_back || strcmp(fw->last.state, "rolled_back") == 0)
		return;
	if (strcmp(fw->last.target, b->version[failed]) != 0 ||
	    fw->last.error[0] == '\0')
		textf(fw->last.error, sizeof(fw->last.error),
		    "version %s did not confirm after reboot", b->version[failed]);
	fw_err("fwupdate: rolled back to %s: %s", b->version[fw->running],
	    fw->last.error);
	last_set(fw, "rolled_back", fw->last.url, b->version[failed],
	    fw->last.error);
	job_clear(fw);
}

/* Finish a confirmation that a power cut interrupted: raise the floor. */
static void
recover_floor(struct hal_boot_state *b, int running)
{
	struct fwupdate_slotinfo si;

	if (!b->confirmed || fwupdate_slotinfo_get(running, &si) == -1 ||
	    si.security_version <= b->security_floor)
		return;
	fw_info("fwupdate: security floor %u -> %u", b->security_floor,
	    si.security_version);
	b->security_floor = si.security_version;
	boot_set(b);
}

int
fwupdate_recover(struct fwupdate *fw)
{
	struct hal_boot_state b;

	if (boot_get(&b) == -1)
		return -1;
	last_load(&fw->last);
	/* A job for the running slot: installed and booted, or rolled back. */
	if (job_load(&fw->job) == 0 && fw->job.slot == fw->running)
		job_clear(fw);
	if (b.try_once)
		recover_marked(fw, &b);
	else if (b.trying && !b.confirmed)
		recover_trial(fw, &b);
	else {
		recover_rollback(fw, &b);
		recover_floor(&b, fw->running);
		if (fw->job.active && fw->job.url[0] != '\0') {
			fw_info("fwupdate: resuming the update from %s",
			    fw->job.url);
			fw->state = FWUPDATE_PENDING;
			fw->next = now_ms();
		}
	}
	arm(fw);
	return 0;
}

void
fwupdate_free(struct fwupdate *fw)
{
	if (fw == NULL)
		return;
	xfer_cancel(fw);
	if (fw->timer != NULL)
		event_free(fw->timer);
	EVP_MD_CTX_free(fw->sha);
	free(fw);
}

/* ------------------------------------------------------------------ */
/* Report encodings.                                                  */

char *
fwupdate_status_json(const struct fwupdate_status *s)
{
	struct json_object *o;
	char slot[2] = { (char)('A' + s->slot), '\0' };
	char *out = NULL;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	json_object_object_add(o, "state", json_object_new_string(s->state));
	json_object_object_add(o, "version",
	    json_object_new_string(s->version));
	json_object_object_add(o, "target", json_object_new_string(s->target));
	json_object_object_add(o, "progress",
	    json_object_new_int((int)s->progress));
	json_object_object_add(o, "error", json_object_new_string(s->error));
	json_object_object_add(o, "security_floor",
	    json_object_new_int64(s->security_floor));
	json_object_object_add(o, "slot", json_object_new_string(slot));
	json_object_object_add(o, "other_version",
	    json_object_new_string(s->other_version));
	out = strdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return out;
}

int
fwupdate_telemetry(const struct fwupdate_status *s, struct tel_msg *m)
{
	if (tel_add(m, TEL_FW_VERSION, TEL_TEXT, s->version) == -1 ||
	    (s->other_version[0] != '\0' &&
	    tel_add(m, TEL_FW_VERSION_OTHER, TEL_TEXT, s->other_version) ==
	    -1) ||
	    tel_add(m, FWUPDATE_OBS_STATE, TEL_TEXT, s->state) == -1 ||
	    tel_addf(m, FWUPDATE_OBS_PROGRESS, TEL_INT, "%u", s->progress) ==
	    -1 || (s->error[0] != '\0' &&
	    tel_add(m, FWUPDATE_OBS_ERROR, TEL_TEXT, s->error) == -1))
		return -1;
	return 0;
}
