/*
 * cloud: the IoT hub link.  MQTT 3.1.1 over TLS with libmosquitto, driven
 * from the firmware's libevent loop (no mosquitto thread): the socket is
 * registered for reading, for writing while mosquitto has something to
 * send, and re-registered after every reconnect; a one-second timer runs
 * mosquitto_loop_misc for keepalives.
 *
 * Connection state machine: IDLE -> RESOLVING (the hub name through the
 * firmware's DNS order) -> CONNECTING (TCP, TLS, CONNECT to the resolved
 * address) -> CONNECTED (CONNACK 0; subscribe, twin GET) -> WAITING
 * (back-off) -> RESOLVING ...  The firmware owns reconnecting, forever:
 * DNS, TCP, TLS and authentication errors all lead to WAITING with
 * 10 s + min(n^2 s, 45 s with a car connected / 180 s otherwise) + a
 * random 0-5 s, n counting failed attempts since the last good connect.
 *
 * TLS: our own SSL_CTX is handed to libmosquitto (MOSQ_OPT_SSL_CTX): TLS
 * 1.2 at least, the CA bundle from the configuration, peer verification
 * on, and the HUB NAME as the verified host (X509_VERIFY_PARAM_set1_host)
 * and as SNI (set at handshake start).  libmosquitto's own hostname check
 * would use the address we connect to, which is an IP literal because we
 * resolve the name ourselves; see doc/hal.md.  The last TLS session is
 * offered again on reconnect (resumption: no certificate chain, a
 * fraction of the bytes).
 */
#ifndef EVFW_CLOUD_H
#define EVFW_CLOUD_H

#include <stddef.h>
#include <stdint.h>

#include "core/method.h"

struct event_base;
struct dns;

enum cloud_auth {
	CLOUD_AUTH_PASSWORD = 0,	/* the per-device secret */
	CLOUD_AUTH_SAS,			/* SAS token from a device key */
};

struct cloud_cfg {
	char		host[256];
	uint16_t	port;
	char		ca_file[1024];
	enum cloud_auth	auth;
	unsigned	keepalive_s;		/* <= 1177 */
	unsigned	sas_ttl_s;		/* token lifetime */
	unsigned	connect_timeout_s;
	char		id[64];
	char		secret[256];
};

enum cloud_state {
	CLOUD_IDLE = 0,
	CLOUD_RESOLVING,
	CLOUD_CONNECTING,
	CLOUD_CONNECTED,
	CLOUD_WAITING,
};

struct cloud_cb {
	void	(*state)(void *arg, int connected);
	void	(*method)(void *arg, const struct method_req *,
		    const uint8_t *payload, size_t len);
	/* Cloud-to-device messages and twin traffic (topic, payload). */
	void	(*message)(void *arg, const char *topic,
		    const uint8_t *payload, size_t len);
	/* Is a car connected (the back-off cap depends on it)? */
	int	(*car_connected)(void *arg);
	void	*arg;
};

struct cloud_stats {
	unsigned long	attempts;
	unsigned long	connects;
	unsigned long	disconnects;
	unsigned long	dns_failures;
	unsigned long	published;
	unsigned long	received;
	unsigned long	tls_resumed;	/* handshakes that resumed a session */
	unsigned	failures;	/* consecutive, the n of the back-off */
	uint64_t	next_attempt_ms;
	char		last_error[128];
	char		address[16];	/* the hub's address last used */
};

struct cloud;

struct cloud *cloud_new(struct event_base *, struct dns *,
	    const struct cloud_cfg *, const struct cloud_cb *);
void	 cloud_free(struct cloud *);
/* Start connecting (once the clock is set); idempotent. */
void	 cloud_start(struct cloud *);
enum cloud_state cloud_state(const struct cloud *);
const char *cloud_state_name(enum cloud_state);
const struct cloud_stats *cloud_stats(const struct cloud *);

/* Telemetry (QoS 1) to devices/{id}/messages/events/ + property bag. */
int	 cloud_telemetry(struct cloud *, const char *json);
int	 cloud_method_reply(struct cloud *, const char *rid, int status,
	    const char *json);
/* Reported properties: $iothub/twin/PATCH/properties/reported/. */
int	 cloud_twin_report(struct cloud *, const char *json);

/* The reconnect delay in ms for failure n >= 1; jitter_ms 0..5000. */
uint64_t cloud_backoff_ms(unsigned n, int car_connected, unsigned jitter_ms);

#endif
