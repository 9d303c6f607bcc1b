/*
 * evcloud: the test world's cloud tool.  One program, several commands:
 * "serve" is the cloud behind the stand-in IoT hub (records telemetry,
 * holds device twins), "call" and "twin-set" act on a device through it,
 * "telemetry", "twin" and "devices" read what it recorded, and "device"
 * is a stand-in charger until charger-fw's evcharger takes its place.
 * See doc/testworld.md.
 */
#ifndef EVCLOUD_H
#define EVCLOUD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mosquitto.h>

#define EVCLOUD_HUB_DEFAULT	"zapcloud.azure-devices.net"
#define EVCLOUD_ADMIN_DEFAULT	"evcloud"
#define EVCLOUD_API_VERSION	"2021-04-12"
#define EVCLOUD_ID_MAX		64

/* Options every command may take; unused ones are ignored. */
struct evc_opts {
	const char	*host;		/* hub host name (TLS name too) */
	int		 port;
	const char	*cafile;	/* CA bundle: the world's test CA */
	const char	*user;		/* admin username (cloud commands) */
	const char	*password_file;	/* first line = password/secret */
	const char	*dir;		/* the cloud's record directory */
	const char	*device;	/* device id (--device / --id) */
	const char	*method;
	const char	*payload;
	const char	*ready_file;	/* written once connected+subscribed */
	int		 timeout;	/* seconds */
	int		 telemetry;	/* device: pulse interval, seconds */
	int		 keepalive;	/* seconds */
	int		 mode;		/* device: initial operation mode */
	bool		 json;
	bool		 count;
	bool		 verbose;
};

/* evcloud.c */
extern volatile int evc_stop;		/* set by SIGTERM/SIGINT */
void		 evc_log(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
/* Connects with TLS (peer and host name verified), MQTT 3.1.1; NULL on
 * error (logged).  clean: clean session flag; retry: a failed TCP/TLS
 * connect still returns the handle, for mosquitto_reconnect(). */
struct mosquitto *evc_connect(const struct evc_opts *, const char *clientid,
		    const char *user, bool clean, bool retry, void *obj);
/* Reads the first line of a file into buf; -1 on error (logged). */
int		 evc_read_secret(const char *, char *, size_t);
/* ISO 8601 UTC with milliseconds, e.g. 2026-11-25T08:00:00.123Z. */
void		 evc_now_iso(char *, size_t);
/* A device id safe to use as a topic level and a file name. */
bool		 evc_id_ok(const char *);
/* Writes buf to path atomically (temp file + rename); -1 on error. */
int		 evc_write_file(const char *, const char *, size_t);
/* Creates (or truncates) the ready file, if one was asked for. */
void		 evc_ready(const struct evc_opts *);

/* serve.c */
int		 evc_cmd_serve(const struct evc_opts *);
int		 evc_cmd_telemetry(const struct evc_opts *);
int		 evc_cmd_twin(const struct evc_opts *);
int		 evc_cmd_devices(const struct evc_opts *);

/* call.c */
int		 evc_cmd_call(const struct evc_opts *);
int		 evc_cmd_twin_set(const struct evc_opts *);

/* device.c */
int		 evc_cmd_device(const struct evc_opts *);

#endif
