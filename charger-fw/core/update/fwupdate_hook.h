/*
 * fwupdate_hook: plugs the update engine (fwupdate.c) into the firmware
 * core (fw.c) through its struct fw_update_ops:
 *
 *   boot      make the libcurl fetcher (the core's loop and DNS order,
 *             the configured CA bundle) and the engine, which picks up a
 *             self-test, a download to resume or a rollback to report;
 *   method    200 and 202;
 *   cloud     on connect: report the update status (twin + telemetry);
 *   desired   desired "firmware" (the whole twin after a reconnect, or a
 *             change; version-ordered by core/twin.c);
 *   reported  the hub's 204 to the reported PATCH that carried our
 *             status (the self-test's "twin written", matched by $rid);
 *   session   a charging session began or ended: never start an update
 *             or reboot during one.
 *
 * Reports: the twin's reported "firmware" property (fwupdate_status_json)
 * and telemetry observations 908, 911, 920-922 (fwupdate_telemetry).
 */
#ifndef EVFW_FWUPDATE_HOOK_H
#define EVFW_FWUPDATE_HOOK_H

#include "core/update/fwupdate_conf.h"

struct fw;
struct fwupdate_hook;

/* Register with the core (before fw_start).  Copies conf.  NULL on error. */
struct fwupdate_hook *fwupdate_hook_register(struct fw *,
	    const struct fwupdate_conf *);
/* Unregisters and frees; call before fw_free (it uses the core's DNS). */
void	 fwupdate_hook_free(struct fwupdate_hook *);
/* The engine's status as JSON text (malloc'd), for the control socket. */
char	*fwupdate_hook_status_json(struct fwupdate_hook *);

#endif
