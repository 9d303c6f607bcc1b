/*
 * sdnotify: systemd's readiness protocol (sd_notify(3)) without libsystemd:
 * one datagram to $NOTIFY_SOCKET.  A no-op when the variable is unset.
 */
#ifndef EVG_SDNOTIFY_H
#define EVG_SDNOTIFY_H

/* Send state such as "READY=1" or "STATUS=..."; 0 sent or not wanted, -1. */
int	sdnotify(const char *state);

#endif
