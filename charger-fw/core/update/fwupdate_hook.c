/*
 * fwupdate_hook: the update engine on the firmware core (fwupdate_hook.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "core/fw.h"
#include "core/update/fwfetch.h"
#include "core/fwlog.h"
#include "core/update/fwupdate.h"
#include "core/update/fwupdate_hook.h"

#define TWIN_MAX	(64 * 1024)	/* a twin document we accept */

struct fwupdate_hook {
	struct fw		*fw;
	struct fwupdate_conf	 conf;
	struct fwfetch_curl	*fetch;
	struct fwupdate		*eng;
	uint32_t		 report_id;	/* awaiting its 204; 0 */
};

static int
h_charging(void *arg)
{
	struct fwupdate_hook *h = arg;

	return fw_in_session(h->fw);
}

static int
h_synced(void *arg)
{
	struct fwupdate_hook *h = arg;

	return fw_time_synced(h->fw);
}

static int
h_cloud(void *arg)
{
	struct fwupdate_hook *h = arg;

	return fw_cloud_connected(h->fw);
}

static void
h_report(void *arg, const struct fwupdate_status *s)
{
	struct fwupdate_hook *h = arg;
	struct tel_msg m;
	char *json, *doc;

	fw_info("firmware: %s %s%s%s (%u%%)%s%s", s->state, s->version,
	    s->target[0] != '\0' ? " -> " : "", s->target, s->progress,
	    s->error[0] != '\0' ? ": " : "", s->error);
	if (!fw_cloud_connected(h->fw))
		return;		/* reported again on the next connect */
	tel_init(&m);
	if (fwupdate_telemetry(s, &m) == 0)
		fw_telemetry(h->fw, &m);
	if ((json = fwupdate_status_json(s)) == NULL)
		return;
	if ((doc = malloc(strlen(json) + 16)) != NULL) {
		sprintf(doc, "{\"firmware\":%s}", json);
		h->report_id = fw_twin_report(h->fw, doc);
		free(doc);
	}
	free(json);
}

static void
h_reboot(void *arg)
{
	struct fwupdate_hook *h = arg;

	fw_reboot(h->fw);	/* after the replies in flight went out */
}

static void
report_now(struct fwupdate_hook *h)
{
	struct fwupdate_status s;

	fwupdate_status(h->eng, &s);
	h_report(h, &s);
}

static void
op_boot(void *ctx, struct fw *f)
{
	struct fwupdate_hook *h = ctx;
	struct fwfetch_curl_cfg fc;
	struct fwupdate_host host;
	struct fwupdate_cfg cfg;
	struct fwfetch_ops ops;

	h->fw = f;
	if (h->conf.nkeys == 0) {
		fw_info("firmware: no trusted keys configured: updates off");
		return;
	}
	memset(&fc, 0, sizeof(fc));
	fc.base = fw_base(f);
	fc.dns = fw_dns(f);
	fc.cafile = h->conf.ca_file[0] != '\0' ? h->conf.ca_file :
	    fw_config(f)->cloud.ca_file;
	fc.low_speed_bps = h->conf.low_speed_bps;
	fc.low_speed_s = h->conf.low_speed_s;
	if ((h->fetch = fwfetch_curl_new(&fc)) == NULL)
		return;
	fwfetch_curl_ops(h->fetch, &ops);

	memset(&cfg, 0, sizeof(cfg));
	cfg.product = h->conf.product;
	memcpy(cfg.keys, h->conf.keys, sizeof(cfg.keys));
	cfg.nkeys = h->conf.nkeys;
	cfg.selftest_s = h->conf.selftest_s;
	cfg.base = fw_base(f);
	memset(&host, 0, sizeof(host));
	host.charging = h_charging;
	host.time_synced = h_synced;
	host.cloud_connected = h_cloud;
	host.report = h_report;
	host.reboot = h_reboot;
	host.arg = h;
	if ((h->eng = fwupdate_new(&cfg, &host, &ops)) == NULL ||
	    fwupdate_recover(h->eng) == -1) {
		fw_err("firmware: the update engine cannot start: updates off");
		fwupdate_free(h->eng);
		h->eng = NULL;
		fwfetch_curl_free(h->fetch);
		h->fetch = NULL;
		return;
	}
	fwupdate_note(h->eng, FWUPDATE_EV_CHANGED);
}

static int
op_method(void *ctx, int id, const uint8_t *payload, size_t len,
    char *reply, size_t cap)
{
	struct fwupdate_hook *h = ctx;

	if (h->eng == NULL) {
		snprintf(reply, cap, "{\"error\":\"firmware updates are not "
		    "configured\"}");
		return 400;
	}
	return fwupdate_method(h->eng, id, payload, len, reply, cap);
}

static void
op_cloud(void *ctx, int up)
{
	struct fwupdate_hook *h = ctx;

	if (h->eng == NULL)
		return;
	if (up)
		report_now(h);
	fwupdate_note(h->eng, FWUPDATE_EV_CHANGED);
}

/* Desired properties (the twin orders them): "firmware" is ours. */
static void
op_desired(void *ctx, const char *json, size_t len, int full)
{
	struct fwupdate_hook *h = ctx;

	if (h->eng != NULL && len <= TWIN_MAX)
		fwupdate_twin_desired(h->eng, (const uint8_t *)json, len);
}

static void
op_reported(void *ctx, uint32_t id, int status)
{
	struct fwupdate_hook *h = ctx;

	if (h->eng == NULL || id == 0 || id != h->report_id)
		return;
	/* The hub wrote (204) the patch that carried our status. */
	h->report_id = 0;
	if (status >= 200 && status <= 299)
		fwupdate_note(h->eng, FWUPDATE_EV_TWIN_REPORTED);
}

static void
op_session(void *ctx, int active)
{
	struct fwupdate_hook *h = ctx;

	if (h->eng != NULL)
		fwupdate_note(h->eng, FWUPDATE_EV_CHANGED);
}

struct fwupdate_hook *
fwupdate_hook_register(struct fw *f, const struct fwupdate_conf *conf)
{
	struct fwupdate_hook *h;
	struct fw_update_ops ops;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->fw = f;
	h->conf = *conf;
	memset(&ops, 0, sizeof(ops));
	ops.boot = op_boot;
	ops.method = op_method;
	ops.cloud = op_cloud;
	ops.desired = op_desired;
	ops.reported = op_reported;
	ops.session = op_session;
	ops.ctx = h;
	fw_update_register(f, &ops);
	return h;
}

void
fwupdate_hook_free(struct fwupdate_hook *h)
{
	struct fw_update_ops none;

	if (h == NULL)
		return;
	/* The core must not call into us any more. */
	memset(&none, 0, sizeof(none));
	fw_update_register(h->fw, &none);
	fwupdate_free(h->eng);
	fwfetch_curl_free(h->fetch);
	free(h);
}

char *
fwupdate_hook_status_json(struct fwupdate_hook *h)
{
	struct fwupdate_status s;

	if (h == NULL || h->eng == NULL)
		return strdup("{\"state\":\"off\"}");
	fwupdate_status(h->eng, &s);
	return fwupdate_status_json(&s);
}
