/*
 * cloud: the IoT hub link.  MQTT 3.1.1 over TLS with libmosquitto, driven
 * from the firmware's libevent loop (no mosquitto thread): the socket is
 * registered for reading, for writing while mosquitto has something to
 * send, and re-registered after every reconnect; a one-second timer runs
 * mosquitto_loop_misc for keepalives.
 *
 * Connection state machine: IDLE -> RESOLVING (the hub name through the
 * firmware's DNS order) -> CONNECTING (TCP, TLS, CONNECT to the resolved
 * address) -> CONNECTED (CONNACK 0; SUBSCRIBE; after the SUBACKs the host
 * is told, and the twin GETs) -> WAITING (back-off) -> RESOLVING ...  The
 * firmware owns reconnecting, forever: DNS, TCP, TLS and authentication
 * errors, and a link dropped before it proved stable, all lead to WAITING
 * for a random time within a window that doubles up to a cap (core/link.h:
 * full jitter; the back-off is reset only by a link that stayed up).
 * Two reconnects are not failures and do not wait: the renewal of the SAS
 * token (a clean DISCONNECT and a new CONNECT at ~80 % of its life, when
 * the host is not busy) and cloud_reconnect() (the address changed).
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
	CLOUD_AUTH_SAS = 0,		/* SAS token from a device key */
	CLOUD_AUTH_PASSWORD,		/* the secret itself: test worlds */
};

struct cloud_cfg {
	char		host[256];
	uint16_t	port;
	char		ca_file[1024];
	enum cloud_auth	auth;
	unsigned	keepalive_s;		/* <= 1177 */
	unsigned	sas_ttl_s;		/* token lifetime; default 1 h */
	unsigned	connect_timeout_s;
	unsigned	backoff_base_s;		/* first window; default 10 */
	unsigned	backoff_cap_s;		/* default 190 (55 with a car) */
	unsigned	stable_s;		/* default 180 */
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
	/* CONNACK 0 (1), or the link went down (0). */
	void	(*state)(void *arg, int connected);
	/* Every SUBACK arrived: the hub delivers now (twin GET, reports). */
	void	(*subscribed)(void *arg);
	void	(*method)(void *arg, const struct method_req *,
		    const uint8_t *payload, size_t len);
	/* Cloud-to-device messages and twin traffic (topic, payload). */
	void	(*message)(void *arg, const char *topic,
		    const uint8_t *payload, size_t len);
	/* The hub acknowledged (PUBACK) the QoS 1 publish with this id. */
	void	(*acked)(void *arg, int mid);
	/* Is a car connected (the back-off cap depends on it)? */
	int	(*car_connected)(void *arg);
	/* Would a renewal now disturb the host (a session starting)? */
	int	(*busy)(void *arg);
	void	*arg;
};

struct cloud_stats {
	unsigned long	attempts;
	unsigned long	connects;
	unsigned long	disconnects;
	unsigned long	dropped;	/* connected, then dropped unstable */
	unsigned long	renewals;	/* token renewals (clean reconnects) */
	unsigned long	reconnects;	/* cloud_reconnect (new address) */
	unsigned long	dns_failures;
	unsigned long	published;
	unsigned long	received;
	/* MQTT packets' bytes (before TLS, TCP, IP), both ways. */
	uint64_t	mqtt_tx;
	uint64_t	mqtt_rx;
	unsigned long	tls_resumed;	/* handshakes that resumed a session */
	unsigned	failures;	/* the n of the back-off */
	uint64_t	window_ms;	/* the back-off window of the last wait */
	uint64_t	next_attempt_ms;
	int64_t		token_expiry_s;	/* wall s; 0 without SAS */
	const char	*phase;		/* link_phase_name() */
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

/*
 * Reconnect at once, without a failure (the address or lease changed):
 * a connected link is closed cleanly; a wait is cut short.
 */
void	 cloud_reconnect(struct cloud *, const char *why);
/* The hub answered on this link (a twin 200): it is proven. */
void	 cloud_proven(struct cloud *);

/*
 * Telemetry (QoS 1) to devices/{id}/messages/events/ + property bag, the
 * message id mid (NULL: none) as the hub's $.mid.  Returns the MQTT
 * message id (> 0; cb.acked gets it at the PUBACK), or -1.
 */
int	 cloud_telemetry(struct cloud *, const char *json, const char *mid);
int	 cloud_method_reply(struct cloud *, const char *rid, int status,
	    const char *json);
/* Any publish (QoS 0): the twin's requests.  0 or -1. */
int	 cloud_publish0(struct cloud *, const char *topic, const char *json);

#endif
