/*
 * fw: the firmware core as a whole.  It ties the modules together on one
 * libevent loop:
 *
 *   link up -> DHCP lease -> DNS servers (DHCP's, then fallbacks) and
 *   interface configured -> SNTP (no.pool.ntp.org, then option 42) ->
 *   clock set -> cloud connect -> telemetry and direct methods
 *
 * and hosts the hook points of the firmware-update engine (issue 7): the
 * engine registers fw_update_ops; the core calls them at boot, for direct
 * methods 200 and 202, on cloud (dis)connects, for desired properties and
 * answers to its reports, and at session start/end, and offers the
 * services below (safe reboot, telemetry, twin reports, state queries).
 *
 * The device twin (core/twin.c) and the settings the cloud may change
 * through it (core/desired.c: maxCurrent, telemetry intervals) live here;
 * the applied settings are kept in the HAL's kv store ("twin.desired"), so
 * that a charger that boots without the cloud keeps the cloud's limits.
 * A new lease with another address (or router) makes the hub link
 * reconnect at once.
 */
#ifndef EVFW_FW_H
#define EVFW_FW_H

#include <stddef.h>
#include <stdint.h>

#include "core/fwconfig.h"
#include "core/telemetry.h"
#include "hal/hal.h"

struct event_base;
struct dns;
struct fw;

/*
 * What the update engine plugs in.  Every hook is optional and runs on the
 * firmware thread; none may block.
 */
struct fw_update_ops {
	/* The core is up; the boot-state record tells about a try boot. */
	void	(*boot)(void *ctx, struct fw *);
	/* Methods 200 (upgrade) and 202 (roll back): reply at once with a
	 * status (200/400) and JSON in reply; do the work asynchronously. */
	int	(*method)(void *ctx, int id, const uint8_t *payload, size_t len,
		    char *reply, size_t cap);
	/* The hub link came up (1: subscribed, the twin GET on its way) or
	 * went down (0). */
	void	(*cloud)(void *ctx, int connected);
	/* Desired properties, version-ordered (core/twin.h): the whole
	 * document (full = 1, after every reconnect) or a change. */
	void	(*desired)(void *ctx, const char *json, size_t len, int full);
	/* The hub answered the report fw_twin_report() gave this id. */
	void	(*reported)(void *ctx, uint32_t id, int status);
	/* A charging session started (1) or ended (0): never install or
	 * reboot during one. */
	void	(*session)(void *ctx, int active);
	void	*ctx;
};

/* cred: the device id and secret from the credential store. */
struct fw *fw_new(struct event_base *, const struct fw_config *,
	    const struct hal_cred *);
void	 fw_free(struct fw *);
int	 fw_start(struct fw *);
void	 fw_update_register(struct fw *, const struct fw_update_ops *);

/* Services for the update engine and the control interface. */
struct event_base *fw_base(struct fw *);
struct dns *fw_dns(struct fw *);
const struct fw_config *fw_config(struct fw *);
int	 fw_time_synced(struct fw *);
int	 fw_cloud_connected(struct fw *);
int	 fw_in_session(struct fw *);
/* Store telemetry (core/store.c) and send it now if the link is up. */
void	 fw_telemetry(struct fw *, const struct tel_msg *);
/* Report properties (merged with others not sent yet): id, 0 on error. */
uint32_t fw_twin_report(struct fw *, const char *json);
/* Reboot after the pending replies went out (about a second). */
void	 fw_reboot(struct fw *);
/* The car state changed (hal_car_notify lands here). */
void	 fw_car_changed(void *fw);

/* The status for the control socket: a JSON object (malloc'd text). */
char	*fw_status_json(struct fw *);

#endif
