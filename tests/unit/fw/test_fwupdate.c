/*
 * test_fwupdate: the firmware update engine on the fake HAL, with the
 * HTTP fetches served from memory (a fake struct fwfetch_ops).
 *
 * The HAL calls that make something durable (kv set/del, boot-state set,
 * slot write/erase/sync) are wrapped (-Wl,--wrap) to count them and to
 * cut the power after any one of them: from then on nothing reaches the
 * "flash", the engine is thrown away without a goodbye, the boot loader's
 * rule runs, and a new engine starts from what was stored.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <yaml.h>

#include "core/update/fwupdate.h"
#include "core/update/fwupdate_conf.h"
#include "core/telemetry.h"
#include "hal/fake/hal_fake.h"

#define PRODUCT		"evcharger-sim"
#define BASE_URL	"https://devices.zaptec.com/fw/"
#define SLOT_SIZE	(64 * 1024)	/* the fake HAL's */
#define IMG_SIZE	40000

/* ------------------------------------------------------------------ */
/* Power cuts: wrapped HAL calls.                                     */

int	__real_hal_kv_set(const char *, const void *, size_t);
int	__real_hal_kv_del(const char *);
int	__real_hal_boot_state_set(const struct hal_boot_state *);
int	__real_hal_slot_write(int, uint64_t, const void *, size_t);
int	__real_hal_slot_erase(int);
int	__real_hal_slot_sync(int);
int	__wrap_hal_kv_set(const char *, const void *, size_t);
int	__wrap_hal_kv_del(const char *);
int	__wrap_hal_boot_state_set(const struct hal_boot_state *);
int	__wrap_hal_slot_write(int, uint64_t, const void *, size_t);
int	__wrap_hal_slot_erase(int);
int	__wrap_hal_slot_sync(int);

/*
 * The flash: what a slot held at its last sync (or erase) is all that
 * survives a power cut; later writes are lost with it.
 */
static uint8_t synced[2][SLOT_SIZE];

static void
flash_snapshot(int s)
{
	hal_slot_read(s, 0, synced[s], sizeof(synced[s]));
}

/* After a power cut: unsynced writes never happened. */
static void
flash_restore(void)
{
	static uint8_t now[sizeof(synced[0])];
	int s;

	for (s = 0; s < 2; s++) {
		hal_slot_read(s, 0, now, sizeof(now));
		if (memcmp(now, synced[s], sizeof(now)) != 0)
			assert_int_equal(__real_hal_slot_write(s, 0, synced[s],
			    sizeof(now)), 0);
	}
}

static unsigned ops;		/* durable operations so far */
static unsigned crash_at;	/* cut the power after this one (0: never) */
static int crashed;
static int crashed_while_trying;
static unsigned erases;

/* 1: the operation may run; 0: the power is off, drop it. */
static int
op(void)
{
	if (crashed)
		return 0;
	if (++ops == crash_at) {
		crashed = 1;	/* this one happens, then nothing more */
		return 2;
	}
	return 1;
}

static void
note_crash(void)
{
	struct hal_boot_state b;

	hal_boot_state_get(&b);
	crashed_while_trying = b.trying && !b.confirmed;
}

int
__wrap_hal_kv_set(const char *k, const void *v, size_t n)
{
	int o = op(), rv = 0;

	if (o)
		rv = __real_hal_kv_set(k, v, n);
	if (o == 2)
		note_crash();
	return rv;
}

int
__wrap_hal_kv_del(const char *k)
{
	int o = op(), rv = 0;

	if (o)
		rv = __real_hal_kv_del(k);
	if (o == 2)
		note_crash();
	return rv;
}

int
__wrap_hal_boot_state_set(const struct hal_boot_state *b)
{
	int o = op(), rv = 0;

	if (o)
		rv = __real_hal_boot_state_set(b);
	if (o == 2)
		note_crash();
	return rv;
}

int
__wrap_hal_slot_write(int s, uint64_t off, const void *p, size_t n)
{
	int o = op(), rv = 0;

	if (o)
		rv = __real_hal_slot_write(s, off, p, n);
	if (o == 2)
		note_crash();
	return rv;
}

int
__wrap_hal_slot_erase(int s)
{
	int o = op(), rv = 0;

	if (o) {
		erases++;
		rv = __real_hal_slot_erase(s);
		flash_snapshot(s);
	}
	if (o == 2)
		note_crash();
	return rv;
}

int
__wrap_hal_slot_sync(int s)
{
	int o = op(), rv = 0;

	if (o) {
		rv = __real_hal_slot_sync(s);
		flash_snapshot(s);
	}
	if (o == 2)
		note_crash();
	return rv;
}

/* ------------------------------------------------------------------ */
/* The fake web server behind struct fwfetch_ops.                     */

struct resource {
	char		 url[300];
	uint8_t		*data;
	size_t		 len;
	int		 ignore_range;	/* answers 200 to Range requests */
	uint64_t	 stall_at;	/* stall once past this offset */
	int		 stalls;	/* how many times */
	size_t		 truncate;	/* serve only this many bytes */
	long		 http;		/* fail with this status */
};

struct pending {
	int		 used;
	char		 url[300];
	uint64_t	 offset;
	uint64_t	 max_size;
	fwfetch_data_cb	 data;
	fwfetch_done_cb	 done;
	void		*arg;
};

#define MAX_RES		32
#define MAX_LOG		512

static struct resource res[MAX_RES];
static size_t nres;
static struct pending pend[4];
static struct {
	char		url[300];
	uint64_t	offset;
} reqlog[MAX_LOG];
static size_t nreq;
static uint64_t bytes_served;

static struct resource *
res_find(const char *url)
{
	size_t i;

	for (i = 0; i < nres; i++)
		if (strcmp(res[i].url, url) == 0)
			return &res[i];
	return NULL;
}

static struct resource *
res_add(const char *url, const void *data, size_t len)
{
	struct resource *r = res_find(url);

	if (r == NULL) {
		assert_true(nres < MAX_RES);
		r = &res[nres++];
	} else
		free(r->data);
	memset(r, 0, sizeof(*r));
	snprintf(r->url, sizeof(r->url), "%s", url);
	r->data = malloc(len + 1);
	memcpy(r->data, data, len);
	r->len = len;
	return r;
}

static void *
fake_start(void *ctx, const struct fwfetch_req *req, fwfetch_data_cb data,
    fwfetch_done_cb done, void *arg)
{
	size_t i;

	for (i = 0; i < sizeof(pend) / sizeof(pend[0]); i++)
		if (!pend[i].used)
			break;
	assert_true(i < sizeof(pend) / sizeof(pend[0]));
	pend[i].used = 1;
	snprintf(pend[i].url, sizeof(pend[i].url), "%s", req->url);
	pend[i].offset = req->offset;
	pend[i].max_size = req->max_size;
	pend[i].data = data;
	pend[i].done = done;
	pend[i].arg = arg;
	if (nreq < MAX_LOG) {
		snprintf(reqlog[nreq].url, sizeof(reqlog[nreq].url), "%s",
		    req->url);
		reqlog[nreq].offset = req->offset;
		nreq++;
	}
	return &pend[i];
}

static void
fake_cancel(void *ctx, void *h)
{
	((struct pending *)h)->used = 0;
}

static const struct fwfetch_ops fake_ops = { fake_start, fake_cancel, NULL };

/* Serve one transfer to its end (or to a power cut). */
static void
serve(struct pending *p)
{
	struct pending t = *p;
	struct resource *r = res_find(t.url);
	size_t end, pos, n;

	p->used = 0;	/* done may start the next transfer in this slot */
	if (r == NULL) {
		t.done(t.arg, FWFETCH_HTTP, 404, "");
		return;
	}
	if (r->http != 0) {
		t.done(t.arg, FWFETCH_HTTP, r->http, "");
		return;
	}
	if (t.offset > 0 && r->ignore_range) {
		t.done(t.arg, FWFETCH_RANGE_IGNORED, 200, "");
		return;
	}
	/* As fwfetch_curl: nothing to ask for at or past the cap. */
	if (t.offset >= t.max_size) {
		t.done(t.arg, FWFETCH_TOO_BIG, 0, "offset past the size cap");
		return;
	}
	if (t.offset > r->len) {
		t.done(t.arg, FWFETCH_RANGE_IGNORED, 416, "");
		return;
	}
	if (r->len > t.max_size) {	/* Content-Length says so */
		t.done(t.arg, FWFETCH_TOO_BIG, 200, "");
		return;
	}
	end = r->truncate != 0 && r->truncate < r->len ? r->truncate : r->len;
	for (pos = (size_t)t.offset; pos < end; pos += n) {
		if (r->stalls > 0 && pos >= r->stall_at) {
			r->stalls--;
			t.done(t.arg, FWFETCH_STALLED, 0, "too slow");
			return;
		}
		n = end - pos < 1000 ? end - pos : 1000;
		if (strstr(t.url, ".bin") != NULL)
			bytes_served += n;
		if (t.data(t.arg, r->data + pos, n) == -1) {
			if (!crashed)
				t.done(t.arg, FWFETCH_ABORTED, 0, "");
			return;
		}
		if (crashed)
			return;
	}
	t.done(t.arg, FWFETCH_OK, t.offset > 0 ? 206 : 200, "");
}

static int
fetch_pending(void)
{
	size_t i;

	for (i = 0; i < sizeof(pend) / sizeof(pend[0]); i++)
		if (pend[i].used)
			return (int)i;
	return -1;
}

/* ------------------------------------------------------------------ */
/* Releases: images with signed manifests.                            */

static EVP_PKEY *keys[3];	/* 0, 1 trusted; 2 not */
static uint8_t pubs[3][32];
static const char *const key_ids[3] = { "vendor-2026a", "vendor-2027a",
	"evil-1" };

struct release {
	char		 name[64];
	char		 url[300];	/* of the manifest */
	uint8_t		 image[SLOT_SIZE + 16];
	size_t		 size;
	uint8_t		 sha[32];
};

static struct release rel_v2, rel_v3;

static void
sign(EVP_PKEY *k, const void *buf, size_t len, uint8_t sig[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = 64;

	assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, k), 1);
	assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, buf, len), 1);
	EVP_MD_CTX_free(ctx);
}

struct relopt {
	const char	*product;
	uint32_t	 secver;
	int		 key;		/* index into keys[] */
	const char	*key_id;	/* NULL: keys' own id */
	int64_t		 expires_in;	/* seconds from the fake wall clock */
	size_t		 size;		/* 0: IMG_SIZE */
	size_t		 claim_size;	/* 0: the real size */
};

static void
publish(struct release *r, const char *name, const char *version,
    const struct relopt *o)
{
	char text[1024], hex[65], tc[32], te[32], url[320];
	int64_t now = hal_wall_ms() / 1000;
	uint8_t sig[64];
	uint32_t x = 2166136261u;
	size_t i;
	int n;

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->url, sizeof(r->url), BASE_URL "%s.manifest", name);
	r->size = o->size != 0 ? o->size : IMG_SIZE;
	for (i = 0; i < r->size; i++) {
		x = x * 16777619u ^ (uint32_t)(i + name[0] + version[0]);
		r->image[i] = (uint8_t)(x >> 13);
	}
	EVP_Digest(r->image, r->size, r->sha, NULL, EVP_sha256(), NULL);
	manifest_hex(r->sha, 32, hex);
	n = snprintf(text, sizeof(text),
	    "format: evgate-fw-1\nproduct: %s\nversion: %s\n"
	    "security_version: %u\nsize: %zu\nsha256: %s\ncreated: %s\n"
	    "expires: %s\nkey_id: %s\n",
	    o->product != NULL ? o->product : PRODUCT, version, o->secver,
	    o->claim_size != 0 ? o->claim_size : r->size, hex,
	    manifest_time_format(now - 86400, tc, sizeof(tc)),
	    manifest_time_format(now + (o->expires_in != 0 ? o->expires_in :
	    90 * 86400), te, sizeof(te)),
	    o->key_id != NULL ? o->key_id : key_ids[o->key]);
	sign(keys[o->key], text, (size_t)n, sig);
	res_add(r->url, text, (size_t)n);
	snprintf(url, sizeof(url), "%s.sig", r->url);
	res_add(url, sig, sizeof(sig));
	snprintf(url, sizeof(url), BASE_URL "%s.bin", name);
	res_add(url, r->image, r->size);
}

static struct resource *
image_res(const struct release *r)
{
	char url[320];

	snprintf(url, sizeof(url), BASE_URL "%s.bin", r->name);
	return res_find(url);
}

/* ------------------------------------------------------------------ */
/* The host (what the evcharger core would be).                       */

static int h_charging, h_synced, h_cloud, reboot_asked;
static unsigned nreports;
static struct fwupdate_status last_status;
static char states_seen[1024];

static int
h_is_charging(void *a)
{
	return h_charging;
}

static int
h_is_synced(void *a)
{
	return h_synced;
}

static int
h_is_cloud(void *a)
{
	return h_cloud;
}

static void
h_report(void *a, const struct fwupdate_status *s)
{
	nreports++;
	last_status = *s;
	if (strlen(states_seen) + strlen(s->state) + 2 < sizeof(states_seen)) {
		strcat(states_seen, s->state);
		strcat(states_seen, " ");
	}
}

static void
h_reboot(void *a)
{
	reboot_asked = 1;
}

static const struct fwupdate_host host = { h_is_charging, h_is_synced,
	h_is_cloud, h_report, h_reboot, NULL };

static struct fwupdate *fw;

/* An engine that has not recovered yet. */
static struct fwupdate *
engine_new(void)
{
	struct fwupdate_cfg cfg;
	struct fwupdate *f;
	size_t i;

	memset(&cfg, 0, sizeof(cfg));
	cfg.product = PRODUCT;
	for (i = 0; i < 2; i++) {
		snprintf(cfg.keys[i].id, sizeof(cfg.keys[i].id), "%s",
		    key_ids[i]);
		memcpy(cfg.keys[i].pub, pubs[i], 32);
	}
	cfg.nkeys = 2;
	cfg.selftest_s = 60;
	cfg.persist_every = 4096;
	cfg.retry_s = 10;
	cfg.max_retries = 3;
	f = fwupdate_new(&cfg, &host, &fake_ops);
	assert_non_null(f);
	return f;
}

static struct fwupdate *
engine(void)
{
	struct fwupdate *f = engine_new();

	assert_int_equal(fwupdate_recover(f), 0);
	return f;
}

/* Run the engine until it waits for time, a reboot, or the power cut. */
static void
drive(void)
{
	int i, p;

	for (i = 0; i < 100000 && !crashed && !reboot_asked; i++) {
		if ((p = fetch_pending()) != -1) {
			serve(&pend[p]);
			continue;
		}
		if (fwupdate_deadline(fw) <= hal_mono_ms()) {
			fwupdate_tick(fw, hal_mono_ms());
			continue;
		}
		break;
	}
}

static void
wait_s(unsigned s)
{
	fake_advance((uint64_t)s * 1000);
	drive();
}

/* The boot loader's rule (hal.h), as the board applies it at reset. */
static void
boot_loader(void)
{
	struct hal_boot_state b;

	hal_boot_state_get(&b);
	if (b.try_once) {
		b.try_once = 0;
		b.trying = 1;
	} else if (b.trying && !b.confirmed) {
		b.active = b.previous;
		b.trying = 0;
		b.confirmed = 1;
		b.rolled_back = 1;
	}
	__real_hal_boot_state_set(&b);
}

static uint8_t factory_sha[32];

/* What the boot loader starts must be a whole, recorded image. */
static void
assert_boot_valid(void)
{
	struct fwupdate_slotinfo si;
	struct hal_boot_state b;
	static uint8_t buf[SLOT_SIZE];
	uint8_t md[32];
	int run;

	hal_boot_state_get(&b);
	run = b.active;
	assert_string_not_equal(b.version[run], "");
	if (fwupdate_slotinfo_get(run, &si) == 0) {
		assert_string_equal(si.version, b.version[run]);
		assert_true(si.size <= SLOT_SIZE);
		hal_slot_read(run, 0, buf, (size_t)si.size);
		EVP_Digest(buf, (size_t)si.size, md, NULL, EVP_sha256(), NULL);
		assert_memory_equal(md, si.sha256, 32);
		assert_true(b.security_floor <= si.security_version);
	} else {
		/* Only the factory image has no record. */
		assert_int_equal(run, HAL_SLOT_A);
		assert_string_equal(b.version[run], "1.0.0");
		hal_slot_read(run, 0, buf, SLOT_SIZE);
		EVP_Digest(buf, SLOT_SIZE, md, NULL, EVP_sha256(), NULL);
		assert_memory_equal(md, factory_sha, 32);
		assert_int_equal(b.security_floor, 0);
	}
}

/* Reset, or power cut: the engine goes away, the board boots again. */
static void
power_cycle(void)
{
	fwupdate_free(fw);
	fw = NULL;
	memset(pend, 0, sizeof(pend));
	if (crashed)
		flash_restore();
	crashed = 0;
	reboot_asked = 0;
	boot_loader();
	assert_boot_valid();
	fw = engine();
	drive();
}

/* The host's side after a boot: clock, cloud, twin report acknowledged. */
static void
come_online(void)
{
	h_synced = h_cloud = 1;
	fwupdate_note(fw, FWUPDATE_EV_CHANGED);
	drive();
	fwupdate_note(fw, FWUPDATE_EV_TWIN_REPORTED);
	drive();
}

static int
method(int id, const char *payload, char *reply)
{
	static char buf[512];

	return fwupdate_method(fw, id, (const uint8_t *)payload,
	    strlen(payload), reply != NULL ? reply : buf, 512);
}

static int
method_url(const char *url)
{
	char p[400];

	snprintf(p, sizeof(p), "{\"url\":\"%s\"}", url);
	return method(200, p, NULL);
}

static void
boot_state(struct hal_boot_state *b)
{
	assert_int_equal(hal_boot_state_get(b), 0);
}

static size_t
requests_for(const char *suffix, uint64_t *last_offset)
{
	size_t i, n = 0, sl = strlen(suffix), ul;

	for (i = 0; i < nreq; i++) {
		ul = strlen(reqlog[i].url);
		if (ul >= sl && strcmp(reqlog[i].url + ul - sl, suffix) == 0) {
			n++;
			if (last_offset != NULL)
				*last_offset = reqlog[i].offset;
		}
	}
	return n;
}

static int
setup(void **state)
{
	static uint8_t buf[SLOT_SIZE];
	size_t i;

	fake_hal_reset();
	for (i = 0; i < nres; i++)
		free(res[i].data);
	nres = 0;
	nreq = 0;
	bytes_served = 0;
	memset(pend, 0, sizeof(pend));
	ops = crash_at = 0;
	crashed = crashed_while_trying = 0;
	erases = 0;
	h_charging = 0;
	h_synced = h_cloud = 1;
	reboot_asked = 0;
	nreports = 0;
	states_seen[0] = '\0';
	memset(&last_status, 0, sizeof(last_status));
	hal_slot_read(HAL_SLOT_A, 0, buf, SLOT_SIZE);
	EVP_Digest(buf, SLOT_SIZE, factory_sha, NULL, EVP_sha256(), NULL);
	flash_snapshot(HAL_SLOT_A);
	flash_snapshot(HAL_SLOT_B);
	publish(&rel_v2, "evc-2.0.0", "2.0.0", &(struct relopt){ .secver = 2 });
	publish(&rel_v3, "evc-3.0.0", "3.0.0", &(struct relopt){ .secver = 3,
	    .key = 1 });
	fw = engine();
	return 0;
}

static int
teardown(void **state)
{
	fwupdate_free(fw);
	fw = NULL;
	return 0;
}

/* Installs rel and confirms it: 200, download, reboot, self-test. */
static void
update_to(const struct release *r)
{
	assert_int_equal(method_url(r->url), 200);
	drive();
	assert_true(reboot_asked);
	power_cycle();
	assert_int_equal(fwupdate_state(fw), FWUPDATE_TESTING);
	come_online();
	assert_int_equal(fwupdate_state(fw), FWUPDATE_IDLE);
}

/* ------------------------------------------------------------------ */
/* The tests.                                                         */

static void
test_good_update(void **state)
{
	struct hal_boot_state b;
	struct fwupdate_slotinfo si;
	char reply[512];

	assert_int_equal(method(200, "\"" BASE_URL "evc-2.0.0.manifest\"",
	    reply), 200);
	assert_string_equal(reply, "{\"status\":\"accepted\"}");
	drive();
	/* Manifest, signature, image: once each, image from byte 0. */
	assert_int_equal(requests_for(".manifest", NULL), 1);
	assert_int_equal(requests_for(".manifest.sig", NULL), 1);
	assert_int_equal(requests_for(".bin", NULL), 1);
	assert_int_equal(reqlog[2].offset, 0);
	assert_int_equal(bytes_served, IMG_SIZE);
	assert_true(reboot_asked);
	assert_string_equal(last_status.state, "rebooting");
	assert_non_null(strstr(states_seen, "downloading"));
	assert_non_null(strstr(states_seen, "verifying"));
	boot_state(&b);
	assert_int_equal(b.active, HAL_SLOT_B);
	assert_int_equal(b.previous, HAL_SLOT_A);
	assert_int_equal(b.try_once, 1);
	assert_int_equal(b.confirmed, 0);
	assert_string_equal(b.version[HAL_SLOT_B], "2.0.0");
	assert_int_equal(b.security_floor, 0);
	assert_int_equal(fwupdate_slotinfo_get(HAL_SLOT_B, &si), 0);
	assert_int_equal(si.security_version, 2);
	assert_memory_equal(si.sha256, rel_v2.sha, 32);

	power_cycle();
	assert_int_equal(hal_slot_running(), HAL_SLOT_B);
	assert_int_equal(fwupdate_state(fw), FWUPDATE_TESTING);
	/* Not yet confirmed: the floor stays where it was. */
	h_cloud = 0;
	drive();
	boot_state(&b);
	assert_int_equal(b.security_floor, 0);
	assert_int_equal(b.trying, 1);
	fwupdate_note(fw, FWUPDATE_EV_TWIN_REPORTED);
	assert_int_equal(fwupdate_state(fw), FWUPDATE_TESTING);
	boot_state(&b);
	assert_int_equal(b.security_floor, 0);
	/* Cloud up: the self-test passes, then the floor rises. */
	h_cloud = 1;
	fwupdate_note(fw, FWUPDATE_EV_CHANGED);
	assert_int_equal(fwupdate_state(fw), FWUPDATE_IDLE);
	boot_state(&b);
	assert_int_equal(b.confirmed, 1);
	assert_int_equal(b.trying, 0);
	assert_int_equal(b.security_floor, 2);
	assert_string_equal(last_status.state, "idle");
	assert_string_equal(last_status.version, "2.0.0");
	assert_string_equal(last_status.other_version, "1.0.0");
	assert_int_equal(last_status.security_floor, 2);
	/* The old image was never touched. */
	power_cycle();
	assert_int_equal(hal_slot_running(), HAL_SLOT_B);
	assert_int_equal(fwupdate_state(fw), FWUPDATE_IDLE);

	/* And on to 3.0.0, signed with the next key, into slot A. */
	update_to(&rel_v3);
	boot_state(&b);
	assert_int_equal(b.active, HAL_SLOT_A);
	assert_string_equal(b.version[HAL_SLOT_A], "3.0.0");
	assert_int_equal(b.security_floor, 3);
}

/* A refusal before download: nothing erased, nothing fetched. */
static void
assert_refused(const char *url, const char *why)
{
	struct hal_boot_state before, after;

	boot_state(&before);
	assert_int_equal(method_url(url), 200);
	drive();
	assert_int_equal(fwupdate_state(fw), FWUPDATE_IDLE);
	assert_string_equal(last_status.state, "failed");
	if (strstr(last_status.error, why) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", last_status.error, why);
	assert_int_equal(requests_for(".bin", NULL), 0);
	assert_int_equal(erases, 0);
	assert_false(reboot_asked);
	boot_state(&after);
	assert_int_equal(after.active, before.active);
	assert_int_equal(after.previous, before.previous);
	assert_int_equal(after.try_once, before.try_once);
	assert_int_equal(after.confirmed, before.confirmed);
	assert_int_equal(after.security_floor, before.security_floor);
	assert_string_equal(after.version[0], before.version[0]);
	assert_string_equal(after.version[1], before.version[1]);
}

static void
test_bad_signature(void **state)
{
	struct release r;

	/* Signed by an untrusted key that claims a trusted key's id. */
	publish(&r, "evc-bad", "2.1.0", &(struct relopt){ .key = 2,
	    .key_id = "vendor-2026a" });
	assert_refused(r.url, "bad signature");
	/* A manifest changed after signing. */
	res_find(rel_v2.url)->data[30] ^= 1;
	assert_refused(rel_v2.url, "bad signature");
}

static void
test_unknown_key_id(void **state)
{
	struct release r;

	publish(&r, "evc-evil", "2.1.0", &(struct relopt){ .key = 2 });
	assert_refused(r.url, "unknown key id \"evil-1\"");
}

static void
test_wrong_product(void **state)
{
	struct release r;

	publish(&r, "evc-other", "2.1.0", &(struct relopt){
	    .product = "another-charger" });
	assert_refused(r.url, "product \"another-charger\"");
}

static void
test_below_floor(void **state)
{
	struct release r;

	update_to(&rel_v3);		/* floor 3 */
	erases = 0;
	nreq = 0;
	publish(&r, "evc-old", "2.5.0", &(struct relopt){ .secver = 2 });
	assert_refused(r.url, "below the floor 3");
}

static void
test_size_over_slot(void **state)
{
	struct release r;

	publish(&r, "evc-big", "2.1.0", &(struct relopt){
	    .size = SLOT_SIZE + 1 });
	assert_refused(r.url, "does not fit");
}

static void
test_expired(void **state)
{
	struct release r;

	publish(&r, "evc-exp", "2.1.0", &(struct relopt){ .expires_in = 60 });
	fake_advance(61 * 1000);
	assert_refused(r.url, "expired");
}

/* No synchronised clock: wait (expiry cannot be judged), fetch nothing. */
static void
test_waits_for_clock(void **state)
{
	h_synced = 0;
	assert_int_equal(method_url(rel_v2.url), 200);
	drive();
	wait_s(30);
	assert_int_equal(fwupdate_state(fw), FWUPDATE_PENDING);
	assert_string_equal(last_status.state, "pending");
	assert_int_equal(nreq, 0);
	h_synced = 1;
	wait_s(5);
	assert_true(reboot_asked);
}

static void
test_postponed_while_charging(void **state)
{
	h_charging = 1;
	assert_int_equal(method_url(rel_v2.url), 200);
	drive();
	wait_s(600);
	assert_int_equal(nreq, 0);
	assert_string_equal(last_status.state, "postponed");
	/* A second request while one waits: refused. */
	assert_int_equal(method_url(rel_v3.url), 400);
	h_charging = 0;
	fwupdate_note(fw, FWUPDATE_EV_CHANGED);	/* session ended */
	drive();
	assert_true(reboot_asked);
	assert_int_equal(requests_for(".bin", NULL), 1);
}

/* The reboot itself waits for the end of a charging session. */
static void
test_reboot_waits_for_session(void **state)
{
	assert_int_equal(method_url(rel_v2.url), 200);
	/* Manifest and signature, then the session starts mid-download. */
	serve(&pend[fetch_pending()]);
	serve(&pend[fetch_pending()]);
	h_charging = 1;
	drive();
	assert_false(reboot_asked);
	assert_int_equal(fwupdate_state(fw), FWUPDATE_REBOOT_WAIT);
	assert_string_equal(last_status.state, "rebooting");
	wait_s(3600);
	assert_false(reboot_asked);
	/* The process restarts without a reset: the marked slot is left
	 * alone, and the reboot still comes once the session ends. */
	fwupdate_free(fw);
	fw = engine();
	drive();
	assert_int_equal(fwupdate_state(fw), FWUPDATE_REBOOT_WAIT);
	assert_int_equal(method_url(rel_v3.url), 400);
	assert_false(reboot_asked);
	h_charging = 0;
	wait_s(5);
	assert_true(reboot_asked);
}

static void
test_truncated_download(void **state)
{
	struct hal_boot_state b;

	image_res(&rel_v2)->truncate = IMG_SIZE - 100;
	assert_int_equal(method_url(rel_v2.url), 200);
	drive();
	assert_string_equal(last_status.state, "failed");
	assert_non_null(strstr(last_status.error, "the manifest says 40000"));
	assert_false(reboot_asked);
	boot_state(&b);
	assert_int_equal(b.active, HAL_SLOT_A);
	assert_int_equal(b.try_once, 0);
	assert_string_equal(b.version[HAL_SLOT_B], "");
	/* A longer image than the manifest says is cut off at the size. */
	image_res(&rel_v2)->truncate = 0;
	publish(&rel_v3, "evc-3.0.0", "3.0.0", &(struct relopt){ .secver = 3,
	    .claim_size = IMG_SIZE - 1 });
	/* (served with Content-Length: the fetcher's cap refuses it) */
	assert_int_equal(method_url(rel_v3.url), 200);
	drive();
	assert_string_equal(last_status.state, "failed");
	assert_non_null(strstr(last_status.error, "larger than allowed"));
	boot_state(&b);
	assert_int_equal(b.try_once, 0);
}

static void
test_hash_mismatch(void **state)
{
	struct hal_boot_state b;
	uint64_t off = 99;

	image_res(&rel_v2)->data[IMG_SIZE / 2] ^= 0x40;
	assert_int_equal(method_url(rel_v2.url), 200);
	drive();
	assert_string_equal(last_status.state, "failed");
	assert_non_null(strstr(last_status.error, "SHA-256"));
	assert_false(reboot_asked);
	boot_state(&b);
	assert_int_equal(b.active, HAL_SLOT_A);
	assert_int_equal(b.try_once, 0);
	assert_string_equal(b.version[HAL_SLOT_B], "");
	/* The server is fixed: the next attempt starts from zero. */
	image_res(&rel_v2)->data[IMG_SIZE / 2] ^= 0x40;
	assert_int_equal(method_url(rel_v2.url), 200);
	drive();
	assert_int_equal(requests_for(".bin", &off), 2);
	assert_int_equal(off, 0);
	assert_true(reboot_asked);
}

static void
test_stall_then_resume(void **state)
{
	struct resource *img = image_res(&rel_v2);
	uint64_t off = 0;

	img->stall_at = 30000;
	img->stalls = 1;
	assert_int_equal(method_url(rel_v2.url), 200);
	drive();
	assert_int_equal(fwupdate_state(fw), FWUPDATE_RETRY_WAIT);
	assert_string_equal(last_status.state, "downloading");
	assert_non_null(strstr(last_status.error, "stalled"));
	assert_int_equal(last_status.progress, 75);
	wait_s(10);
	assert_true(reboot_asked);
	/* The second request picked up where the first stopped. */
	assert_int_equal(requests_for(".bin", &off), 2);
	assert_int_equal(off, 30000);
	assert_int_equal(bytes_served, IMG_SIZE);
	power_cycle();
	come_online();
	assert_string_equal(last_status.version, "2.0.0");
}

/* A stall that never clears: give up after max_retries, keep the bytes. */
static void
test_stall_gives_up(void **state)
{
	struct resource *img = image_res(&rel_v2);
	uint64_t off = 0;

	img->stall_at = 20000;
	img->stalls = 100;
	assert_int_equal(method_url(rel_v2.url), 200);
	drive();
	wait_s(10);
	wait_s(20);
	wait_s(40);
	assert_string_equal(last_status.state, "failed");
	assert_non_null(strstr(last_status.error, "gave up after 4"));
	/* Asked again later for the same manifest: resumes, not restarts. */
	img->stalls = 0;
	assert_int_equal(method_url(rel_v2.url), 200);
	drive();
	assert_true(reboot_asked);
	(void)requests_for(".bin", &off);
	assert_int_equal(off, 20000);
}

static void
test_range_ignored(void **state)
{
	struct resource *img = image_res(&rel_v2);
	uint64_t off = 99;

	img->stall_at = 30000;
	img->stalls = 1;
	img->ignore_range = 1;
	assert_int_equal(method_url(rel_v2.url), 200);
	drive();
	erases = 0;
	wait_s(10);
	assert_true(reboot_asked);
	/* Resume refused by the server: erase, then the whole image. */
	assert_int_equal(requests_for(".bin", &off), 3);
	assert_int_equal(off, 0);
	assert_int_equal(erases, 1);
	assert_int_equal(bytes_served, 30000 + IMG_SIZE);
	power_cycle();
	come_online();
	assert_string_equal(last_status.version, "2.0.0");
}

/* The process dies mid-download (no reboot needed): the next start
 * resumes the same manifest after re-hashing what the slot holds. */
static void
test_restart_resumes(void **state)
{
	uint64_t off = 0;

	crash_at = 25;		/* somewhere in the image writes */
	assert_int_equal(method_url(rel_v2.url), 200);
	drive();
	assert_true(crashed);
	fwupdate_free(fw);
	memset(pend, 0, sizeof(pend));
	flash_restore();
	crashed = 0;
	crash_at = 0;
	bytes_served = 0;
	fw = engine();
	assert_int_equal(fwupdate_state(fw), FWUPDATE_PENDING);
	drive();
	assert_true(reboot_asked);
	assert_int_equal(requests_for(".manifest", NULL), 2);
	(void)requests_for(".bin", &off);
	assert_true(off > 0 && off < IMG_SIZE);
	assert_int_equal(bytes_served, IMG_SIZE - off);
	power_cycle();
	come_online();
	assert_string_equal(last_status.version, "2.0.0");
}

/*
 * A power cut after every single durable operation of a whole update:
 * every boot starts a whole, recorded image, and the update ends with
 * 2.0.0 confirmed and the floor at 2 (or, if the cut came during the
 * new image's trial, with 1.0.0 and the rollback reported).
 */
static int
run_with_cut(unsigned k)
{
	struct hal_boot_state b;
	int boots, cut = 0;

	crash_at = k;
	assert_int_equal(method_url(rel_v2.url), 200);
	drive();
	for (boots = 0; boots < 10; boots++) {
		if (crashed)
			cut = 1;
		if (crashed || reboot_asked) {
			power_cycle();
			continue;
		}
		if (fwupdate_state(fw) == FWUPDATE_TESTING ||
		    fwupdate_state(fw) == FWUPDATE_PENDING) {
			come_online();
			continue;
		}
		if (fwupdate_state(fw) == FWUPDATE_RETRY_WAIT) {
			wait_s(600);
			continue;
		}
		break;
	}
	come_online();
	assert_int_equal(fwupdate_state(fw), FWUPDATE_IDLE);
	boot_state(&b);
	assert_int_equal(b.confirmed, 1);
	assert_int_equal(b.trying, 0);
	assert_int_equal(b.try_once, 0);
	if (strcmp(b.version[b.active], "2.0.0") == 0) {
		assert_int_equal(b.active, HAL_SLOT_B);
		assert_int_equal(b.security_floor, 2);
	} else {
		assert_true(crashed_while_trying);
		assert_string_equal(b.version[b.active], "1.0.0");
		assert_int_equal(b.security_floor, 0);
		assert_string_equal(last_status.state, "rolled_back");
	}
	assert_boot_valid();
	return cut;
}

static void
test_power_cut_every_step(void **state)
{
	unsigned total, k, cuts = 0;

	run_with_cut(0);
	total = ops;
	assert_true(total > 30);
	for (k = 1; k <= total; k++) {
		teardown(state);
		setup(state);
		cuts += (unsigned)run_with_cut(k);
	}
	assert_int_equal(cuts, total);
}

static void
test_selftest_failure_rolls_back(void **state)
{
	struct hal_boot_state b;
	char p[400];

	assert_int_equal(method_url(rel_v2.url), 200);
	drive();
	power_cycle();
	assert_int_equal(fwupdate_state(fw), FWUPDATE_TESTING);
	/* The new image never reaches the cloud. */
	h_cloud = 0;
	wait_s(30);
	assert_false(reboot_asked);
	wait_s(31);
	assert_int_equal(fwupdate_state(fw), FWUPDATE_FAIL_REBOOT);
	assert_string_equal(last_status.state, "rolling_back");
	assert_true(reboot_asked);
	boot_state(&b);
	assert_int_equal(b.security_floor, 0);
	power_cycle();
	boot_state(&b);
	assert_int_equal(b.active, HAL_SLOT_A);
	assert_int_equal(b.rolled_back, 1);
	assert_int_equal(b.security_floor, 0);
	assert_int_equal(fwupdate_state(fw), FWUPDATE_IDLE);
	h_cloud = 1;
	come_online();
	assert_string_equal(last_status.state, "rolled_back");
	assert_string_equal(last_status.version, "1.0.0");
	assert_string_equal(last_status.target, "2.0.0");
	assert_non_null(strstr(last_status.error, "cloud connection"));
	/* Reported: the boot record's flag is cleared. */
	boot_state(&b);
	assert_int_equal(b.rolled_back, 0);
	/* The twin still asks for 2.0.0: not tried again in a loop. */
	nreq = 0;
	snprintf(p, sizeof(p), "{\"firmware\":{\"url\":\"%s\","
	    "\"version\":\"2.0.0\"},\"$version\":4}", rel_v2.url);
	assert_int_equal(fwupdate_twin_desired(fw, (uint8_t *)p, strlen(p)), 0);
	drive();
	assert_int_equal(nreq, 0);
	assert_string_equal(last_status.state, "rolled_back");
}

/* The new image dies during its trial (kill -9, power cut): the boot
 * loader goes back, the old image reports why. */
static void
test_crash_during_trial_rolls_back(void **state)
{
	struct hal_boot_state b;

	assert_int_equal(method_url(rel_v2.url), 200);
	drive();
	power_cycle();
	assert_int_equal(fwupdate_state(fw), FWUPDATE_TESTING);
	power_cycle();			/* crashed before confirming */
	boot_state(&b);
	assert_int_equal(b.active, HAL_SLOT_A);
	assert_int_equal(b.rolled_back, 1);
	come_online();
	assert_string_equal(last_status.state, "rolled_back");
	assert_non_null(strstr(last_status.error, "did not confirm"));
	boot_state(&b);
	assert_int_equal(b.security_floor, 0);
}

/*
 * Recovery is a step of its own: a new engine touches nothing durable and
 * stays idle until fwupdate_recover() reads the records and resumes.
 */
static void
test_recover_is_a_step(void **state)
{
	unsigned before;

	assert_int_equal(method_url(rel_v2.url), 200);
	drive();
	assert_true(reboot_asked);
	fwupdate_free(fw);
	reboot_asked = 0;
	boot_loader();
	before = ops;
	fw = engine_new();
	assert_int_equal(ops, before);
	assert_int_equal(fwupdate_state(fw), FWUPDATE_IDLE);
	assert_int_equal(fwupdate_deadline(fw), UINT64_MAX);
	assert_int_equal(fwupdate_recover(fw), 0);
	assert_int_equal(fwupdate_state(fw), FWUPDATE_TESTING);
	come_online();
	assert_int_equal(fwupdate_state(fw), FWUPDATE_IDLE);
	assert_string_equal(last_status.state, "idle");
	assert_string_equal(last_status.version, "2.0.0");
}

static void
test_rollback_method(void **state)
{
	struct hal_boot_state b;
	char reply[512];
	struct release r;

	/* Nothing to go back to yet. */
	assert_int_equal(method(202, "", reply), 400);
	assert_non_null(strstr(reply, "no previous image"));

	/* 2.5.0 (security_version 0), then back to the factory image. */
	publish(&r, "evc-2.5.0", "2.5.0", &(struct relopt){ .secver = 0 });
	update_to(&r);
	assert_int_equal(method(202, "", reply), 200);
	drive();
	assert_true(reboot_asked);
	power_cycle();
	assert_int_equal(hal_slot_running(), HAL_SLOT_A);
	come_online();
	boot_state(&b);
	assert_int_equal(b.confirmed, 1);
	assert_string_equal(last_status.version, "1.0.0");
	/* ... and forward again: the previous slot's hash is checked. */
	assert_int_equal(method(202, "", reply), 200);
	assert_int_equal(fwupdate_state(fw), FWUPDATE_REBOOT_WAIT);
	power_cycle();
	come_online();
	assert_string_equal(last_status.version, "2.5.0");

	/* A damaged previous image is not booted. */
	publish(&r, "evc-2.6.0", "2.6.0", &(struct relopt){ .secver = 0 });
	update_to(&r);			/* into A; previous = B (2.5.0) */
	__real_hal_slot_write(HAL_SLOT_B, 100, "x", 1);
	reboot_asked = 0;
	assert_int_equal(method(202, "", reply), 200);
	drive();
	assert_false(reboot_asked);
	assert_string_equal(last_status.state, "failed");
	assert_non_null(strstr(last_status.error, "damaged"));
	boot_state(&b);
	assert_int_equal(b.active, HAL_SLOT_A);
	assert_int_equal(b.try_once, 0);

	/* Never below the floor. */
	update_to(&rel_v3);		/* secver 3, into B */
	assert_int_equal(method(202, "", reply), 400);
	assert_non_null(strstr(reply, "security floor"));
}

static void
test_requests(void **state)
{
	static const struct {
		const char		*json;
		enum fwupdate_req_status st;
	} cases[] = {
		{ "\"https://a.example/x.manifest\"", FWUPDATE_REQ_OK },
		{ " {\"url\":\"https://a/b\",\"version\":\"1.2\"} ",
		    FWUPDATE_REQ_OK },
		{ "", FWUPDATE_REQ_BAD_JSON },
		{ "{", FWUPDATE_REQ_BAD_JSON },
		{ "\"https://a/b\" x", FWUPDATE_REQ_BAD_JSON },
		{ "\"https://a/b\"\"", FWUPDATE_REQ_BAD_JSON },
		{ "[\"https://a/b\"]", FWUPDATE_REQ_BAD_SHAPE },
		{ "{\"uri\":\"https://a/b\"}", FWUPDATE_REQ_BAD_SHAPE },
		{ "{\"url\":\"https://a/b\",\"x\":1}", FWUPDATE_REQ_BAD_SHAPE },
		{ "{\"url\":5}", FWUPDATE_REQ_BAD_SHAPE },
		{ "{}", FWUPDATE_REQ_BAD_SHAPE },
		{ "null", FWUPDATE_REQ_BAD_SHAPE },
		{ "\"http://a/b\"", FWUPDATE_REQ_BAD_URL },
		{ "\"https://\"", FWUPDATE_REQ_BAD_URL },
		{ "\"https://a/b c\"", FWUPDATE_REQ_BAD_URL },
		{ "\"https://a/\\u0000b\"", FWUPDATE_REQ_BAD_URL },
		{ "\"ftp://a/b\"", FWUPDATE_REQ_BAD_URL },
		{ "{\"url\":\"https://a/b\",\"version\":\"1 2\"}",
		    FWUPDATE_REQ_BAD_VERSION },
		{ "{\"url\":\"https://a/b\",\"version\":2}",
		    FWUPDATE_REQ_BAD_VERSION },
		{ "[[[[[[[[\"https://a/b\"]]]]]]]]", FWUPDATE_REQ_BAD_JSON },
	};
	struct fwupdate_request r;
	char big[FWUPDATE_REQ_MAX + 2], url[300];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum fwupdate_req_status st = fwupdate_parse_request(
		    (const uint8_t *)cases[i].json, strlen(cases[i].json), &r);

		if (st != cases[i].st)
			fail_msg("%s: want %s, got %s", cases[i].json,
			    fwupdate_req_strerror(cases[i].st),
			    fwupdate_req_strerror(st));
	}
	fwupdate_parse_request((const uint8_t *)cases[1].json,
	    strlen(cases[1].json), &r);
	assert_string_equal(r.url, "https://a/b");
	assert_string_equal(r.version, "1.2");
	/* A NUL inside the payload. */
	assert_int_equal(fwupdate_parse_request((const uint8_t *)"\"https://a/b"
	    "\"\0", 14, &r), FWUPDATE_REQ_BAD_JSON);
	memset(big, ' ', sizeof(big));
	assert_int_equal(fwupdate_parse_request((uint8_t *)big, sizeof(big),
	    &r), FWUPDATE_REQ_TOO_LARGE);
	/* URL length: 250 bytes fits (with ".sig" appended later). */
	memset(url, 'a', sizeof(url));
	memcpy(url, "\"https://", 9);
	url[251] = '"';
	assert_int_equal(fwupdate_parse_request((uint8_t *)url, 252, &r),
	    FWUPDATE_REQ_OK);
	url[251] = 'a';
	url[252] = '"';
	assert_int_equal(fwupdate_parse_request((uint8_t *)url, 253, &r),
	    FWUPDATE_REQ_BAD_URL);

	/* Through the method: 400 with the reason; one job at a time. */
	assert_int_equal(method(200, "{\"url\":\"http://x/y\"}", url), 400);
	assert_non_null(strstr(url, "https"));
	assert_int_equal(method(201, "", url), 400);
	h_charging = 1;
	assert_int_equal(method_url(rel_v2.url), 200);
	assert_int_equal(method_url(rel_v2.url), 400);
	assert_int_equal(method(202, "", url), 400);

	assert_int_equal(fwupdate_image_url(BASE_URL "a.manifest", url,
	    sizeof(url)), 0);
	assert_string_equal(url, BASE_URL "a.bin");
	assert_int_equal(fwupdate_image_url(BASE_URL "a.manifest?x=1", url,
	    sizeof(url)), -1);
	assert_int_equal(fwupdate_image_url(".manifest", url, 5), -1);
}

/* An image URL in the manifest, and one that cannot be derived. */
static void
test_manifest_url(void **state)
{
	struct resource *m;
	char url[320];

	/* Serve the manifest under a name without ".manifest". */
	m = res_find(rel_v2.url);
	res_add(BASE_URL "latest", m->data, m->len);
	snprintf(url, sizeof(url), "%s.sig", rel_v2.url);
	m = res_find(url);
	res_add(BASE_URL "latest.sig", m->data, m->len);
	assert_int_equal(method_url(BASE_URL "latest"), 200);
	drive();
	assert_string_equal(last_status.state, "failed");
	assert_non_null(strstr(last_status.error, "no url"));
	assert_int_equal(method(200, "{\"url\":\"" BASE_URL "nothing."
	    "manifest\"}", NULL), 200);
	drive();
	assert_non_null(strstr(last_status.error, "HTTP 404"));
}

static int
desired(const char *json)
{
	return fwupdate_twin_desired(fw, (const uint8_t *)json, strlen(json));
}

static void
test_twin_desired(void **state)
{
	char p[600];

	/* The version that runs already: nothing to do. */
	snprintf(p, sizeof(p), "{\"firmware\":{\"url\":\"%s\","
	    "\"version\":\"1.0.0\"}}", rel_v2.url);
	assert_int_equal(fwupdate_twin_desired(fw, (uint8_t *)p, strlen(p)), 0);
	drive();
	assert_int_equal(nreq, 0);
	/* Malformed: refused, nothing done. */
	assert_int_equal(desired("{\"firmware\":{\"url\":\"https://a/b\"}}"),
	    -1);
	assert_int_equal(desired("{\"firmware\":\"https://a/b\"}"), -1);
	assert_int_equal(desired("{\"firmware\":{\"url\":\"https://a/b\","
	    "\"version\":\"1\",\"x\":1}}"), -1);
	assert_int_equal(desired("{"), -1);
	/* Other desired properties only, or no wish. */
	assert_int_equal(desired("{\"maxCurrent\":16,\"$version\":3}"), 0);
	assert_int_equal(desired("{\"firmware\":null}"), 0);
	drive();
	assert_int_equal(nreq, 0);
	/* A version that does not match the manifest: refused. */
	snprintf(p, sizeof(p), "{\"firmware\":{\"url\":\"%s\","
	    "\"version\":\"2.0.1\"}}", rel_v2.url);
	assert_int_equal(fwupdate_twin_desired(fw, (uint8_t *)p, strlen(p)), 0);
	drive();
	assert_string_equal(last_status.state, "failed");
	assert_non_null(strstr(last_status.error, "2.0.1 was asked for"));
	/* Seen again (every reconnect GETs the twin): not retried. */
	nreq = 0;
	assert_int_equal(fwupdate_twin_desired(fw, (uint8_t *)p, strlen(p)), 0);
	drive();
	assert_int_equal(nreq, 0);
	/* The right version: installed. */
	snprintf(p, sizeof(p), "{\"firmware\":{\"url\":\"%s\","
	    "\"version\":\"2.0.0\"}}", rel_v2.url);
	assert_int_equal(fwupdate_twin_desired(fw, (uint8_t *)p, strlen(p)), 0);
	drive();
	assert_true(reboot_asked);
	power_cycle();
	/* The new image gets the same desired value: it runs it already. */
	nreq = 0;
	assert_int_equal(fwupdate_twin_desired(fw, (uint8_t *)p, strlen(p)), 0);
	come_online();
	assert_int_equal(nreq, 0);
	assert_string_equal(last_status.version, "2.0.0");
}

static void
test_reports(void **state)
{
	struct fwupdate_status s;
	struct tel_msg m;
	char *json;

	update_to(&rel_v2);
	fwupdate_status(fw, &s);
	json = fwupdate_status_json(&s);
	assert_non_null(json);
	assert_string_equal(json, "{\"state\":\"idle\",\"version\":\"2.0.0\","
	    "\"target\":\"2.0.0\",\"progress\":100,\"error\":\"\","
	    "\"security_floor\":2,\"slot\":\"B\",\"other_version\":\"1.0.0\"}");
	free(json);
	tel_init(&m);
	assert_int_equal(fwupdate_telemetry(&s, &m), 0);
	assert_int_equal(m.n, 4);
	assert_int_equal(m.obs[0].id, 908);
	assert_string_equal(tel_value(&m, 0), "2.0.0");
	assert_int_equal(m.obs[1].id, 911);
	assert_string_equal(tel_value(&m, 1), "1.0.0");
	assert_int_equal(m.obs[2].id, FWUPDATE_OBS_STATE);
	assert_string_equal(tel_value(&m, 2), "idle");
	assert_int_equal(m.obs[3].id, FWUPDATE_OBS_PROGRESS);
	/* Progress went up in 10 % steps, not per chunk. */
	assert_true(nreports < 40);
}

/* The "firmware:" section of evcharger.yaml. */
static int
conf(const char *yaml, struct fwupdate_conf *c, char *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *k, *v;
	yaml_node_pair_t *p;
	int rv = -2;

	fwupdate_conf_defaults(c);
	err[0] = '\0';
	assert_true(yaml_parser_initialize(&parser));
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml,
	    strlen(yaml));
	assert_true(yaml_parser_load(&parser, &doc));
	root = yaml_document_get_root_node(&doc);
	for (p = root->data.mapping.pairs.start;
	    p < root->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(&doc, p->key);
		v = yaml_document_get_node(&doc, p->value);
		if (strcmp((char *)k->data.scalar.value, "firmware") == 0)
			rv = fwupdate_conf_parse(&doc, v, "c.yaml", c, err,
			    256);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rv;
}

static void
test_conf(void **state)
{
	struct fwupdate_conf c;
	char err[256];
	char hex[65], y[1024];

	manifest_hex(pubs[0], 32, hex);
	fwupdate_conf_defaults(&c);
	assert_string_equal(c.product, FWUPDATE_DEFAULT_PRODUCT);
	assert_int_equal(c.nkeys, 0);
	assert_int_equal(c.selftest_s, 300);

	snprintf(y, sizeof(y), "firmware:\n  product: evc-x\n"
	    "  ca_file: /etc/ca.pem\n  selftest: 120\n"
	    "  low_speed_limit: 100\n  low_speed_time: 30\n"
	    "  keys:\n    - id: vendor-2026a\n      key: %s\n"
	    "    - {id: vendor-2027a, key: %s}\n", hex, hex);
	assert_int_equal(conf(y, &c, err), 0);
	assert_string_equal(c.product, "evc-x");
	assert_string_equal(c.ca_file, "/etc/ca.pem");
	assert_int_equal(c.selftest_s, 120);
	assert_int_equal(c.low_speed_bps, 100);
	assert_int_equal(c.low_speed_s, 30);
	assert_int_equal(c.nkeys, 2);
	assert_string_equal(c.keys[1].id, "vendor-2027a");
	assert_memory_equal(c.keys[0].pub, pubs[0], 32);

	/* Errors name file:line:column. */
	assert_int_equal(conf("firmware:\n  prodcut: x\n", &c, err), -1);
	assert_string_equal(err,
	    "c.yaml:2:3: unknown key \"firmware.prodcut\"");
	assert_int_equal(conf("firmware:\n  selftest: 5\n", &c, err), -1);
	assert_string_equal(err, "c.yaml:2:13: firmware.selftest: 5 is out of "
	    "range 10..3600");
	assert_int_equal(conf("firmware:\n  selftest: soon\n", &c, err), -1);
	assert_string_equal(err, "c.yaml:2:13: firmware.selftest: \"soon\" is "
	    "not a number");
	assert_int_equal(conf("firmware:\n  keys:\n    - id: k\n"
	    "      key: abcd\n", &c, err), -1);
	assert_string_equal(err, "c.yaml:4:12: firmware.keys.key: want the 64 "
	    "hex digits of an Ed25519 public key (evfw-sign pubkey)");
	snprintf(y, sizeof(y), "firmware:\n  keys:\n    - id: k\n"
	    "      key: %s\n    - id: k\n      key: %s\n", hex, hex);
	assert_int_equal(conf(y, &c, err), -1);
	assert_string_equal(err, "c.yaml:5:7: firmware.keys: id \"k\" twice");
	assert_int_equal(conf("firmware:\n  keys:\n    - id: k\n", &c, err),
	    -1);
	assert_non_null(strstr(err, "needs an id and a key"));
	assert_int_equal(conf("firmware:\n  keys: x\n", &c, err), -1);
	assert_int_equal(conf("firmware:\n  product: a/b\n", &c, err), -1);
	assert_int_equal(conf("firmware: [1]\n", &c, err), -1);
	snprintf(y, sizeof(y), "firmware:\n  keys:\n"
	    "    - {id: a, key: %s}\n    - {id: b, key: %s}\n"
	    "    - {id: c, key: %s}\n    - {id: d, key: %s}\n"
	    "    - {id: e, key: %s}\n", hex, hex, hex, hex, hex);
	assert_int_equal(conf(y, &c, err), -1);
	assert_non_null(strstr(err, "at most 4 keys"));
	/* A key given twice is an error, where the second one is. */
	assert_int_equal(conf("firmware:\n  selftest: 60\n  selftest: 70\n",
	    &c, err), -1);
	assert_string_equal(err,
	    "c.yaml:3:3: duplicate key \"firmware.selftest\"");
	snprintf(y, sizeof(y), "firmware:\n  keys:\n"
	    "    - {id: a, key: %s, id: b}\n", hex);
	assert_int_equal(conf(y, &c, err), -1);
	assert_non_null(strstr(err, "duplicate key \"firmware.keys.id\""));
	/* A failed parse leaves the defaults. */
	assert_int_equal(c.nkeys, 0);
}

static int
group_setup(void **state)
{
	size_t i, len;

	for (i = 0; i < 3; i++) {
		keys[i] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		assert_non_null(keys[i]);
		len = 32;
		EVP_PKEY_get_raw_public_key(keys[i], pubs[i], &len);
	}
	return 0;
}

static int
group_teardown(void **state)
{
	size_t i;

	for (i = 0; i < 3; i++)
		EVP_PKEY_free(keys[i]);
	for (i = 0; i < nres; i++)
		free(res[i].data);
	return 0;
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_good_update),
		T(test_bad_signature),
		T(test_unknown_key_id),
		T(test_wrong_product),
		T(test_below_floor),
		T(test_size_over_slot),
		T(test_expired),
		T(test_waits_for_clock),
		T(test_postponed_while_charging),
		T(test_reboot_waits_for_session),
		T(test_truncated_download),
		T(test_hash_mismatch),
		T(test_stall_then_resume),
		T(test_stall_gives_up),
		T(test_range_ignored),
		T(test_restart_resumes),
		T(test_power_cut_every_step),
		T(test_selftest_failure_rolls_back),
		T(test_crash_during_trial_rolls_back),
		T(test_recover_is_a_step),
		T(test_rollback_method),
		T(test_requests),
		T(test_manifest_url),
		T(test_twin_desired),
		T(test_reports),
		T(test_conf),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
