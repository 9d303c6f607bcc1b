/*
 * fwupdate: signed, resumable A/B firmware updates over the HAL's slots.
 *
 * Where it sits: the cloud link hands it direct methods 200 (upgrade) and
 * 202 (roll back) and the twin's desired "firmware" property; it fetches
 * through struct fwfetch_ops (libcurl on the firmware loop), writes the
 * inactive slot and the boot-state record through the HAL, and tells the
 * host (the evcharger main) what to report in telemetry and the twin.
 *
 * One job at a time, an explicit state machine (enum fwupdate_state):
 *
 *   IDLE -> PENDING (waits: no charging session, clock synchronised)
 *        -> MANIFEST -> SIGNATURE (fetch; verify key id + Ed25519, then
 *           parse; check product, version asked for, size <= slot,
 *           security_version >= floor, not expired)
 *        -> REHASH (resume: hash what the slot already holds)
 *        -> DOWNLOAD (stream into the inactive slot while hashing;
 *           progress made durable every persist_every bytes)
 *        -> READBACK (hash the slot as stored; compare with the manifest)
 *        -> REBOOT_WAIT (slot marked "try once"; reboot when not charging)
 *   after the reboot, on the new image:
 *        TESTING (clock synced, cloud connected, twin reported, before
 *           selftest_s) -> confirm -> raise the floor -> IDLE
 *        or FAIL_REBOOT (self-test timed out: reboot when not charging;
 *           the boot loader then starts the previous slot).
 *   202: ROLLBACK_CHECK (hash the previous slot) -> REBOOT_WAIT -> ...
 *   Transient fetch failures go to RETRY_WAIT and resume; refusals end the
 *   job with an error.
 *
 * Everything that must survive a power cut is in the HAL: the boot-state
 * record, and three kv records (see doc/firmware-updates.md): the job
 * (fwupdate.job: URL, manifest hash, bytes durable in the slot), each
 * slot's image (fwupdate.slot0/1: version, security_version, size, sha256)
 * and the last outcome (fwupdate.last).  fwupdate_recover() resumes from
 * them: making an engine and recovering are two steps, so that a test can
 * cut the power, make a new engine and watch the recovery on its own.
 *
 * Time: driven by the caller (fwupdate_tick / fwupdate_deadline) like the
 * other firmware modules, or, with cfg.base set, by its own libevent
 * timer.  All calls come from the firmware thread.
 */
#ifndef EVFW_FWUPDATE_H
#define EVFW_FWUPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/update/fwfetch.h"
#include "core/update/manifest.h"

#define FWUPDATE_MAX_KEYS	4
#define FWUPDATE_URL_MAX	MANIFEST_URL_MAX	/* with the NUL */
#define FWUPDATE_ERR_MAX	160
#define FWUPDATE_REQ_MAX	2048	/* method 200 payload, bytes */

/* Telemetry observation ids (evgate's choice; 908/911 are the vendor's). */
#define FWUPDATE_OBS_STATE	920	/* text: the state name */
#define FWUPDATE_OBS_PROGRESS	921	/* integer: percent downloaded */
#define FWUPDATE_OBS_ERROR	922	/* text: why it failed or rolled back */

struct fwupdate_key {
	char		id[MANIFEST_KEYID_MAX];
	uint8_t		pub[MANIFEST_PUBKEY_LEN];	/* raw Ed25519 */
};

struct fwupdate_cfg {
	const char	*product;	/* must equal the manifest's product */
	struct fwupdate_key keys[FWUPDATE_MAX_KEYS];	/* current + next */
	size_t		 nkeys;
	unsigned	 selftest_s;	/* default 300 */
	uint64_t	 persist_every;	/* bytes; default 256 KiB */
	unsigned	 retry_s;	/* first retry; doubles; default 10 */
	unsigned	 max_retries;	/* in a row without progress; def. 5 */
	struct event_base *base;	/* NULL: caller runs tick/deadline */
};

enum fwupdate_state {
	FWUPDATE_IDLE = 0,
	FWUPDATE_PENDING,
	FWUPDATE_MANIFEST,
	FWUPDATE_SIGNATURE,
	FWUPDATE_REHASH,
	FWUPDATE_DOWNLOAD,
	FWUPDATE_RETRY_WAIT,
	FWUPDATE_READBACK,
	FWUPDATE_REBOOT_WAIT,
	FWUPDATE_TESTING,
	FWUPDATE_FAIL_REBOOT,
	FWUPDATE_ROLLBACK_CHECK,
};

/* What the twin's reported "firmware" property and telemetry say. */
struct fwupdate_status {
	/*
	 * idle, postponed (waiting for the charging session to end),
	 * pending (waiting for the clock), downloading, verifying,
	 * rebooting, testing, rolling_back, failed, rolled_back.
	 */
	const char	*state;
	char		 version[MANIFEST_VERSION_MAX];	/* running */
	char		 other_version[MANIFEST_VERSION_MAX];	/* other slot */
	char		 target[MANIFEST_VERSION_MAX];	/* being installed */
	unsigned	 progress;	/* percent of the image downloaded */
	char		 error[FWUPDATE_ERR_MAX];	/* "" when none */
	uint32_t	 security_floor;
	int		 slot;		/* running slot, 0 = A */
};

struct fwupdate_host {
	/* A charging session is running: no start, no reboot now. */
	int	(*charging)(void *arg);
	/* The wall clock has been set from SNTP. */
	int	(*time_synced)(void *arg);
	/* The cloud link is up (MQTT connected). */
	int	(*cloud_connected)(void *arg);
	/* The status changed: report it (twin + telemetry). */
	void	(*report)(void *arg, const struct fwupdate_status *);
	/* Reboot now (after flushing); NULL: hal_reboot(). */
	void	(*reboot)(void *arg);
	void	*arg;
};

/* A method 200 request or the twin's desired firmware. */
struct fwupdate_request {
	char	url[FWUPDATE_URL_MAX];	/* https://...manifest */
	char	version[MANIFEST_VERSION_MAX];	/* "" = any */
};

enum fwupdate_req_status {
	FWUPDATE_REQ_OK = 0,
	FWUPDATE_REQ_TOO_LARGE,
	FWUPDATE_REQ_BAD_JSON,
	FWUPDATE_REQ_BAD_SHAPE,		/* not "url" or {"url": ...} */
	FWUPDATE_REQ_BAD_URL,		/* not https://, too long, odd bytes */
	FWUPDATE_REQ_BAD_VERSION,
};

/*
 * Parse a method 200 payload: a JSON string (the manifest URL) or an
 * object {"url": "...", "version": "..."} (version optional; no other
 * keys).  Pure and bounded (FWUPDATE_REQ_MAX bytes, depth 4).
 */
enum fwupdate_req_status fwupdate_parse_request(const uint8_t *, size_t,
	    struct fwupdate_request *);
const char *fwupdate_req_strerror(enum fwupdate_req_status);

struct fwupdate;

/*
 * Create the engine, idle: checks and copies cfg, keeps copies of host
 * and fetch; reads and writes nothing durable.  NULL on failure (logged).
 * Makes no host callbacks.
 */
struct fwupdate *fwupdate_new(const struct fwupdate_cfg *,
	    const struct fwupdate_host *, const struct fwfetch_ops *);
/*
 * Power-cut recovery, once, before anything else: pick up where a
 * previous run stopped from the boot-state record and the kv records (a
 * marked slot to boot, the self-test of a new image, a rollback to
 * report, a security floor to raise, a download to resume), repairing
 * what an interrupted sequence left.  May write the records; makes no
 * host callbacks.  0, or -1 when the boot-state record cannot be read.
 */
int	 fwupdate_recover(struct fwupdate *);
/* Stops a transfer under way; writes nothing (a power cut may follow). */
void	 fwupdate_free(struct fwupdate *);

/*
 * Direct methods 200 and 202: returns 200 (accepted; the work goes on
 * asynchronously) or 400, and a JSON reply body in reply.
 */
int	 fwupdate_method(struct fwupdate *, int id, const uint8_t *, size_t,
	    char *reply, size_t cap);

/*
 * The twin's desired properties (a PATCH, or the "desired" object of a
 * GET): acts on its "firmware": {"url", "version"} member if present.
 * Starts an update unless that version runs already, a job is under way,
 * or that URL and version failed or rolled back before (a changed desired
 * value, or method 200, tries again).  0, or -1 if the member is malformed.
 */
int	 fwupdate_twin_desired(struct fwupdate *, const uint8_t *, size_t);

enum fwupdate_event {
	/* Charging, clock or cloud state changed: look again now. */
	FWUPDATE_EV_CHANGED = 0,
	/* The hub acknowledged a twin report carrying our status. */
	FWUPDATE_EV_TWIN_REPORTED,
};
void	 fwupdate_note(struct fwupdate *, enum fwupdate_event);

/* Run what is due at now_ms (hal_mono_ms), and the deadline after it. */
void	 fwupdate_tick(struct fwupdate *, uint64_t now_ms);
uint64_t fwupdate_deadline(const struct fwupdate *);

enum fwupdate_state fwupdate_state(const struct fwupdate *);
const char *fwupdate_state_name(enum fwupdate_state);
void	 fwupdate_status(const struct fwupdate *, struct fwupdate_status *);

/* The image a slot holds, as recorded when it was installed. */
struct fwupdate_slotinfo {
	char		version[MANIFEST_VERSION_MAX];
	uint32_t	security_version;
	uint64_t	size;
	uint8_t		sha256[MANIFEST_SHA256_LEN];
};
/* 0, or -1 when the slot has no record (factory image, or erased). */
int	 fwupdate_slotinfo_get(int slot, struct fwupdate_slotinfo *);

/*
 * Report helpers for the host.  fwupdate_status_json: the twin's
 * reported "firmware" object as JSON text (malloc'd; NULL on failure).
 * fwupdate_telemetry: appends observations 908 (running version), 911
 * (other slot), 920 (state), 921 (progress), 922 (error, when any) to a
 * telemetry message (core/telemetry.h); -1 when it is full.
 */
char	*fwupdate_status_json(const struct fwupdate_status *);
struct tel_msg;
int	 fwupdate_telemetry(const struct fwupdate_status *, struct tel_msg *);

/* "https://h/p/x.manifest" -> "https://h/p/x.bin"; -1 if no .manifest. */
int	 fwupdate_image_url(const char *manifest_url, char *out, size_t cap);

#endif
