/*
 * cloud: see cloud.h.  One driver per event: DNS answer, socket readable
 * or writable, the misc/connect-timeout timer, the back-off timer, and
 * mosquitto's connect/disconnect/subscribe/publish/message callbacks.
 * Every path that loses the connection ends in cloud_lost(), which is
 * idempotent; when the link is taken down on purpose (token renewal, a
 * new address) c->again says so and the next attempt starts at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <mosquitto.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "core/cloud.h"
#include "core/dns.h"
#include "core/fwlog.h"
#include "core/link.h"
#include "core/sas.h"
#include "hal/hal.h"

#define PROPS		"$.ct=application%2Fjson&$.ce=utf-8"
#define SUBS		3	/* the $iothub filters, one SUBSCRIBE */

struct cloud {
	struct event_base	*base;
	struct dns		*dns;
	struct cloud_cfg	 cfg;
	struct cloud_cb		 cb;
	struct mosquitto	*mosq;
	SSL_CTX			*ssl;
	SSL_SESSION		*session;	/* the last one, to resume */
	enum cloud_state	 state;
	struct dns_req		*dnsreq;
	int			 sock;
	struct event		*ev_read;
	struct event		*ev_write;
	struct event		*ev_misc;	/* 1 s: keepalive, timeout */
	struct event		*ev_retry;
	uint64_t		 connect_started;
	struct link		 link;
	int			 sub_mid[2];	/* SUBSCRIBEs awaiting SUBACK */
	int			 subscribed;
	const char		*again;		/* down on purpose: why */
	int			 renewal;	/* ... to renew the token */
	struct cloud_stats	 stats;
};

static void	cloud_update_events(struct cloud *);

/* An MQTT packet's size: fixed header, remaining length, the rest. */
static uint64_t
mqtt_size(size_t rest)
{
	return 1 + (rest < 128 ? 1 : rest < 16384 ? 2 : rest < 2097152 ?
	    3 : 4) + rest;
}

/* A PUBLISH of topic and payload at qos. */
static uint64_t
mqtt_publish_size(size_t topic, size_t payload, int qos)
{
	return mqtt_size(2 + topic + (qos > 0 ? 2 : 0) + payload);
}
static void	cloud_drop_events(struct cloud *);
static void	cloud_lost(struct cloud *, const char *why);

const char *
cloud_state_name(enum cloud_state s)
{
	static const char *const names[] = { "idle", "resolving",
		"connecting", "connected", "waiting" };

	return (unsigned)s < 5 ? names[s] : "?";
}

static void
cloud_set_state(struct cloud *c, enum cloud_state s)
{
	if (c->state != s)
		fw_debug("cloud: %s -> %s", cloud_state_name(c->state),
		    cloud_state_name(s));
	c->state = s;
}

/*
 * At handshake start: SNI must be the hub name (the gateway relay routes
 * by it, and the hub picks its certificate by it), where libmosquitto
 * would send the address it connects to; and the last session is offered
 * for resumption, which spares a reconnect the certificate chain and key
 * exchange (the bulk of its bytes on a metered link).  At handshake end:
 * count resumptions.
 */
static void
cloud_ssl_info(const SSL *ssl, int where, int ret)
{
	struct cloud *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	if (c == NULL)
		return;
	if (where & SSL_CB_HANDSHAKE_START) {
		SSL_set_tlsext_host_name((SSL *)ssl, c->cfg.host);
		if (c->session != NULL && SSL_get_session(ssl) == NULL)
			SSL_set_session((SSL *)ssl, c->session);
	}
	if ((where & SSL_CB_HANDSHAKE_DONE) && SSL_session_reused((SSL *)ssl))
		c->stats.tls_resumed++;
}

/* A new session (TLS 1.2 at the handshake, 1.3 from a ticket): keep it. */
static int
cloud_ssl_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct cloud *c = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	if (c == NULL || !SSL_SESSION_is_resumable(sess))
		return 0;
	if (c->session != NULL)
		SSL_SESSION_free(c->session);
	c->session = sess;
	return 1;		/* we hold the reference */
}

static SSL_CTX *
cloud_ssl_ctx(struct cloud *c)
{
	X509_VERIFY_PARAM *param;
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
	if (SSL_CTX_load_verify_locations(ctx, c->cfg.ca_file, NULL) != 1) {
		fw_err("cloud: cannot load CA bundle %s", c->cfg.ca_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	param = SSL_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_hostflags(param,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (X509_VERIFY_PARAM_set1_host(param, c->cfg.host, 0) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_app_data(ctx, c);
	SSL_CTX_set_info_callback(ctx, cloud_ssl_info);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, cloud_ssl_new_session);
	return ctx;
}

/*
 * What the hub delivers to us only through a subscription: cloud-to-device
 * messages (QoS 1), and the $iothub filters of methods, twin responses and
 * desired-property changes (QoS 0: a method or a twin answer is worth
 * nothing late; the twin GET after every connect catches up).
 */
static int
cloud_subscribe(struct cloud *c)
{
	static char *const hub[SUBS] = { "$iothub/methods/POST/#",
		"$iothub/twin/res/#", "$iothub/twin/PATCH/properties/desired/#" };
	char topic[256];

	snprintf(topic, sizeof(topic), "devices/%s/messages/devicebound/#",
	    c->cfg.id);
	c->subscribed = 0;
	c->stats.mqtt_tx += mqtt_size(2 + 2 + strlen(topic) + 1) +
	    mqtt_size(2 + 2 + strlen(hub[0]) + 1 + 2 + strlen(hub[1]) + 1 +
	    2 + strlen(hub[2]) + 1);
	c->stats.mqtt_rx += 5 + 7;	/* the two SUBACKs */
	if (mosquitto_subscribe(c->mosq, &c->sub_mid[0], topic, 1) !=
	    MOSQ_ERR_SUCCESS ||
	    mosquitto_subscribe_multiple(c->mosq, &c->sub_mid[1], SUBS, hub, 0,
	    0, NULL) != MOSQ_ERR_SUCCESS)
		return -1;
	return 0;
}

static void
on_connect(struct mosquitto *m, void *arg, int rc)
{
	struct cloud *c = arg;

	if (rc != 0) {
		snprintf(c->stats.last_error, sizeof(c->stats.last_error),
		    "CONNACK %d: %s", rc, mosquitto_connack_string(rc));
		fw_warn("cloud: refused: %s", c->stats.last_error);
		return;		/* the broker closes; on_disconnect follows */
	}
	fw_info("cloud: connected to %s (%s:%u)", c->cfg.host,
	    c->stats.address, c->cfg.port);
	cloud_set_state(c, CLOUD_CONNECTED);
	link_connected(&c->link, hal_mono_ms());
	c->stats.connects++;
	c->stats.last_error[0] = '\0';
	if (cloud_subscribe(c) == -1)
		fw_warn("cloud: cannot subscribe");
	if (c->cb.state != NULL)
		c->cb.state(c->cb.arg, 1);
}

/* The SUBACKs: once both came, the hub delivers what we asked for. */
static void
on_subscribe(struct mosquitto *m, void *arg, int mid, int n,
    const int *granted)
{
	struct cloud *c = arg;
	int i;

	for (i = 0; i < n; i++)
		if (granted[i] > 1)
			fw_warn("cloud: a subscription was refused (%d)",
			    granted[i]);
	if (mid == c->sub_mid[0])
		c->sub_mid[0] = 0;
	else if (mid == c->sub_mid[1])
		c->sub_mid[1] = 0;
	else
		return;
	if (c->sub_mid[0] != 0 || c->sub_mid[1] != 0 || c->subscribed)
		return;
	c->subscribed = 1;
	fw_debug("cloud: subscribed");
	if (c->cb.subscribed != NULL)
		c->cb.subscribed(c->cb.arg);
}

/* A PUBACK: the hub has our QoS 1 message; the link works. */
static void
on_publish(struct mosquitto *m, void *arg, int mid)
{
	struct cloud *c = arg;

	c->stats.mqtt_rx += 4;		/* PUBACK */
	if (c->subscribed)
		link_proven(&c->link, hal_mono_ms());
	if (c->cb.acked != NULL)
		c->cb.acked(c->cb.arg, mid);
}

static void
on_disconnect(struct mosquitto *m, void *arg, int rc)
{
	struct cloud *c = arg;

	cloud_lost(c, rc == 0 ? "disconnected" : mosquitto_strerror(rc));
}

static void
on_message(struct mosquitto *m, void *arg, const struct mosquitto_message *msg)
{
	struct cloud *c = arg;
	struct method_req req;
	enum method_status st;

	c->stats.received++;
	c->stats.mqtt_rx += mqtt_publish_size(strlen(msg->topic),
	    (size_t)msg->payloadlen, msg->qos);
	if (msg->qos > 0)
		c->stats.mqtt_tx += 4;		/* our PUBACK */
	st = method_parse_topic(msg->topic, strlen(msg->topic), &req);
	if (st == METHOD_OK) {
		if (c->cb.method != NULL)
			c->cb.method(c->cb.arg, &req, msg->payload,
			    (size_t)msg->payloadlen);
		return;
	}
	if (st == METHOD_BAD_RID) {
		fw_warn("cloud: dropped method request: %s",
		    method_strerror(st));
		return;
	}
	if (c->cb.message != NULL)
		c->cb.message(c->cb.arg, msg->topic, msg->payload,
		    (size_t)msg->payloadlen);
}

static void
on_log(struct mosquitto *m, void *arg, int level, const char *s)
{
	struct cloud *c = arg;

	/* libmosquitto has no PINGRESP callback; its log line says it. */
	if (strstr(s, "received PINGRESP") != NULL) {
		c->stats.mqtt_rx += 2;
		if (c->subscribed)
			link_proven(&c->link, hal_mono_ms());
	} else if (strstr(s, "sending PINGREQ") != NULL)
		c->stats.mqtt_tx += 2;
	fw_debug("mosquitto: %s", s);
}

static int
cloud_car(struct cloud *c)
{
	return c->cb.car_connected != NULL && c->cb.car_connected(c->cb.arg);
}

static void
cloud_schedule_retry(struct cloud *c)
{
	uint16_t r;
	uint64_t d;
	struct timeval tv;

	hal_random(&r, sizeof(r));
	d = link_failed(&c->link, hal_mono_ms(), cloud_car(c), r);
	c->stats.failures = c->link.failures;
	c->stats.dropped = c->link.dropped;
	c->stats.window_ms = link_window_ms(&c->link, cloud_car(c));
	c->stats.next_attempt_ms = hal_mono_ms() + d;
	tv.tv_sec = (time_t)(d / 1000);
	tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
	cloud_set_state(c, CLOUD_WAITING);
	evtimer_add(c->ev_retry, &tv);
	fw_info("cloud: next attempt in %llu.%03llu s (failure %u, window "
	    "%llu s)", (unsigned long long)(d / 1000),
	    (unsigned long long)(d % 1000), c->stats.failures,
	    (unsigned long long)(c->stats.window_ms / 1000));
}

static void	cloud_attempt(struct cloud *);

static void
cloud_lost(struct cloud *c, const char *why)
{
	const char *again = c->again;

	if (c->state == CLOUD_WAITING || c->state == CLOUD_IDLE)
		return;
	c->again = NULL;
	if (c->state == CLOUD_CONNECTED) {
		c->stats.disconnects++;
		if (again != NULL)
			fw_info("cloud: reconnecting: %s", again);
		else
			fw_warn("cloud: connection lost: %s", why);
		if (c->cb.state != NULL)
			c->cb.state(c->cb.arg, 0);
	} else if (again == NULL) {
		fw_warn("cloud: connecting to %s failed: %s", c->cfg.host, why);
		if (c->stats.last_error[0] == '\0' ||
		    strncmp(c->stats.last_error, "CONNACK", 7) != 0)
			snprintf(c->stats.last_error,
			    sizeof(c->stats.last_error), "%s", why);
	}
	c->subscribed = 0;
	c->sub_mid[0] = c->sub_mid[1] = 0;
	if (c->dnsreq != NULL) {
		dns_cancel(c->dnsreq);
		c->dnsreq = NULL;
	}
	cloud_drop_events(c);
	if (again != NULL) {
		/* On purpose: no failure, no wait. */
		if (c->renewal)
			link_renewing(&c->link);
		else
			link_reset(&c->link);
		c->renewal = 0;
		c->stats.renewals = c->link.renewals;
		cloud_attempt(c);
		return;
	}
	cloud_schedule_retry(c);
}

static void
cloud_io(evutil_socket_t fd, short what, void *arg)
{
	struct cloud *c = arg;
	int rc = MOSQ_ERR_SUCCESS, err;

	errno = 0;
	if (what & EV_READ)
		rc = mosquitto_loop_read(c->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && (what & EV_WRITE))
		rc = mosquitto_loop_write(c->mosq, 1);
	err = errno;
	if (rc != MOSQ_ERR_SUCCESS && mosquitto_socket(c->mosq) == -1) {
		cloud_lost(c, mosquitto_strerror(rc));
		return;
	}
	/*
	 * libmosquitto 2.0 treats a failed TCP connect under a pending TLS
	 * handshake (SSL_ERROR_SYSCALL) as "try again", which would spin on
	 * the dead socket until our connect timeout: the errno of the failed
	 * read/write tells.
	 */
	if (c->state == CLOUD_CONNECTING && (err == ECONNREFUSED ||
	    err == ECONNRESET || err == EHOSTUNREACH || err == ENETUNREACH ||
	    err == ETIMEDOUT || err == EPIPE)) {
		mosquitto_disconnect(c->mosq);
		cloud_lost(c, strerror(err));
		return;
	}
	cloud_update_events(c);
}

/* Forget the socket's events (it is closed, or about to be replaced). */
static void
cloud_drop_events(struct cloud *c)
{
	if (c->ev_read != NULL)
		event_free(c->ev_read);
	if (c->ev_write != NULL)
		event_free(c->ev_write);
	c->ev_read = c->ev_write = NULL;
	c->sock = -1;
}

/*
 * Follow mosquitto's socket.  A new connection may get the same descriptor
 * number as the old one, so cloud_lost() and every connect attempt drop
 * the events first: registration is always fresh after a reconnect.
 */
static void
cloud_update_events(struct cloud *c)
{
	int sock = c->mosq != NULL ? mosquitto_socket(c->mosq) : -1;

	if (sock != c->sock) {
		cloud_drop_events(c);
		c->sock = sock;
		if (sock != -1) {
			c->ev_read = event_new(c->base, sock,
			    EV_READ | EV_PERSIST, cloud_io, c);
			c->ev_write = event_new(c->base, sock, EV_WRITE,
			    cloud_io, c);
			event_add(c->ev_read, NULL);
		}
	}
	if (c->ev_write != NULL && mosquitto_want_write(c->mosq))
		event_add(c->ev_write, NULL);
}

static void
cloud_misc(evutil_socket_t fd, short what, void *arg)
{
	struct cloud *c = arg;
	int rc;

	if (c->state == CLOUD_CONNECTING &&
	    hal_mono_ms() - c->connect_started >
	    c->cfg.connect_timeout_s * 1000ULL) {
		mosquitto_disconnect(c->mosq);
		cloud_lost(c, "timed out");
		return;
	}
	if (c->state == CLOUD_CONNECTING || c->state == CLOUD_CONNECTED) {
		rc = mosquitto_loop_misc(c->mosq);
		if (rc != MOSQ_ERR_SUCCESS && mosquitto_socket(c->mosq) == -1) {
			cloud_lost(c, mosquitto_strerror(rc));
			return;
		}
		cloud_update_events(c);
	}
	link_tick(&c->link, hal_mono_ms());
	if (c->state == CLOUD_CONNECTED && c->cfg.auth == CLOUD_AUTH_SAS &&
	    link_renew_due(&c->link, hal_wall_ms() / 1000, c->cb.busy != NULL &&
	    c->cb.busy(c->cb.arg))) {
		/*
		 * Before the hub closes the link at the token's expiry: a
		 * clean DISCONNECT, and at once a CONNECT with a new token
		 * (resuming the TLS session: a few hundred bytes).
		 */
		c->renewal = 1;
		c->again = "renewing the SAS token";
		mosquitto_disconnect(c->mosq);
		/* Unless the disconnect callback ran and went on already. */
		if (c->state == CLOUD_CONNECTED)
			cloud_lost(c, "renewal");
	}
}

static void
cloud_resolved(int err, uint32_t addr, void *arg)
{
	struct cloud *c = arg;
	char token[1024], user[512];
	const char *pw = c->cfg.secret;
	int64_t now;
	int rc;

	c->dnsreq = NULL;
	if (err != 0) {
		c->stats.dns_failures++;
		cloud_lost(c, "cannot resolve the hub name");
		return;
	}
	fw_ipstr(addr, c->stats.address);
	if (sas_username(c->cfg.host, c->cfg.id, user, sizeof(user)) == -1) {
		cloud_lost(c, "username too long");
		return;
	}
	if (c->cfg.auth == CLOUD_AUTH_SAS) {
		/* A fresh token before each connect (the clock is set). */
		now = hal_wall_ms() / 1000;
		if (sas_token(c->cfg.host, c->cfg.id, c->cfg.secret,
		    now + c->cfg.sas_ttl_s, token, sizeof(token)) == -1) {
			cloud_lost(c, "cannot make a SAS token (bad key?)");
			return;
		}
		link_token(&c->link, now);
		c->stats.token_expiry_s = now + c->cfg.sas_ttl_s;
		pw = token;
	}
	mosquitto_username_pw_set(c->mosq, user, pw);
	/* CONNECT (protocol name, level, flags, keepalive; id, user,
	 * password) and CONNACK. */
	c->stats.mqtt_tx += mqtt_size(10 + 2 + strlen(c->cfg.id) + 2 +
	    strlen(user) + 2 + strlen(pw));
	c->stats.mqtt_rx += 4;
	cloud_set_state(c, CLOUD_CONNECTING);
	c->connect_started = hal_mono_ms();
	c->stats.attempts++;
	fw_debug("cloud: connecting to %s (%s:%u)", c->cfg.host,
	    c->stats.address, c->cfg.port);
	cloud_drop_events(c);
	rc = mosquitto_connect_async(c->mosq, c->stats.address, c->cfg.port,
	    (int)c->cfg.keepalive_s);
	if (rc != MOSQ_ERR_SUCCESS) {
		cloud_lost(c, mosquitto_strerror(rc));
		return;
	}
	cloud_update_events(c);
}

static void
cloud_attempt(struct cloud *c)
{
	cloud_set_state(c, CLOUD_RESOLVING);
	c->stats.last_error[0] = '\0';
	c->dnsreq = dns_resolve(c->dns, c->cfg.host, cloud_resolved, c);
	if (c->dnsreq == NULL)
		cloud_lost(c, "out of memory");
}

static void
cloud_retry(evutil_socket_t fd, short what, void *arg)
{
	cloud_attempt(arg);
}

struct cloud *
cloud_new(struct event_base *base, struct dns *dns,
    const struct cloud_cfg *cfg, const struct cloud_cb *cb)
{
	static int inited;
	struct link_cfg lc;
	struct cloud *c;
	struct timeval sec = { 1, 0 };

	if (!inited) {
		mosquitto_lib_init();
		inited = 1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->base = base;
	c->dns = dns;
	c->cfg = *cfg;
	if (c->cfg.connect_timeout_s == 0)
		c->cfg.connect_timeout_s = 30;
	if (c->cfg.sas_ttl_s == 0)
		c->cfg.sas_ttl_s = 86400;
	if (cb != NULL)
		c->cb = *cb;
	c->sock = -1;
	memset(&lc, 0, sizeof(lc));
	lc.base_ms = c->cfg.backoff_base_s * 1000ULL;
	lc.cap_ms = c->cfg.backoff_cap_s * 1000ULL;
	/* A driver waits at the charger: at most 55 s then. */
	lc.cap_car_ms = lc.cap_ms != 0 && lc.cap_ms < 55000 ? lc.cap_ms : 55000;
	lc.stable_ms = c->cfg.stable_s * 1000ULL;
	lc.token_s = c->cfg.auth == CLOUD_AUTH_SAS ? c->cfg.sas_ttl_s : 0;
	link_init(&c->link, &lc);
	c->stats.phase = link_phase_name(c->link.phase);
	if ((c->ssl = cloud_ssl_ctx(c)) == NULL) {
		cloud_free(c);		/* said why already */
		return NULL;
	}
	/* clean_session false: the hub keeps our subscriptions and QoS 1. */
	if ((c->mosq = mosquitto_new(c->cfg.id, false, c)) == NULL)
		goto fail;
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
	    MQTT_PROTOCOL_V311);
	/* Our context as it is: no libmosquitto defaults on top. */
	mosquitto_int_option(c->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
	if (mosquitto_void_option(c->mosq, MOSQ_OPT_SSL_CTX, c->ssl) !=
	    MOSQ_ERR_SUCCESS)
		goto fail;
	mosquitto_connect_callback_set(c->mosq, on_connect);
	mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
	mosquitto_subscribe_callback_set(c->mosq, on_subscribe);
	mosquitto_publish_callback_set(c->mosq, on_publish);
	mosquitto_message_callback_set(c->mosq, on_message);
	mosquitto_log_callback_set(c->mosq, on_log);
	c->ev_misc = event_new(base, -1, EV_PERSIST, cloud_misc, c);
	c->ev_retry = evtimer_new(base, cloud_retry, c);
	if (c->ev_misc == NULL || c->ev_retry == NULL)
		goto fail;
	event_add(c->ev_misc, &sec);
	return c;
fail:
	fw_err("cloud: cannot set up the hub link");
	cloud_free(c);
	return NULL;
}

void
cloud_free(struct cloud *c)
{
	if (c == NULL)
		return;
	if (c->dnsreq != NULL)
		dns_cancel(c->dnsreq);
	cloud_drop_events(c);
	if (c->ev_misc != NULL)
		event_free(c->ev_misc);
	if (c->ev_retry != NULL)
		event_free(c->ev_retry);
	if (c->mosq != NULL) {
		/* No callbacks into a half-freed link. */
		mosquitto_connect_callback_set(c->mosq, NULL);
		mosquitto_disconnect_callback_set(c->mosq, NULL);
		mosquitto_subscribe_callback_set(c->mosq, NULL);
		mosquitto_publish_callback_set(c->mosq, NULL);
		mosquitto_message_callback_set(c->mosq, NULL);
		mosquitto_log_callback_set(c->mosq, NULL);
		if (c->state == CLOUD_CONNECTED) {
			mosquitto_disconnect(c->mosq);
			mosquitto_loop_write(c->mosq, 1);
		}
		mosquitto_destroy(c->mosq);
	}
	if (c->session != NULL)
		SSL_SESSION_free(c->session);
	if (c->ssl != NULL)
		SSL_CTX_free(c->ssl);
	free(c);
}

void
cloud_start(struct cloud *c)
{
	if (c->state != CLOUD_IDLE)
		return;
	cloud_attempt(c);
}

enum cloud_state
cloud_state(const struct cloud *c)
{
	return c->state;
}

const struct cloud_stats *
cloud_stats(const struct cloud *c)
{
	struct cloud *w = (struct cloud *)c;	/* refresh the derived ones */

	w->stats.phase = link_phase_name(c->link.phase);
	w->stats.failures = c->link.failures;
	w->stats.dropped = c->link.dropped;
	w->stats.renewals = c->link.renewals;
	return &c->stats;
}

void
cloud_reconnect(struct cloud *c, const char *why)
{
	switch (c->state) {
	case CLOUD_CONNECTING:
	case CLOUD_CONNECTED:
		c->stats.reconnects++;
		c->again = why;
		mosquitto_disconnect(c->mosq);
		/* Unless the disconnect callback ran and went on already. */
		if (c->state == CLOUD_CONNECTING ||
		    c->state == CLOUD_CONNECTED)
			cloud_lost(c, why);
		break;
	case CLOUD_WAITING:
		c->stats.reconnects++;
		fw_info("cloud: trying now: %s", why);
		evtimer_del(c->ev_retry);
		cloud_attempt(c);
		break;
	default:
		break;		/* resolving on the new servers already */
	}
}

void
cloud_proven(struct cloud *c)
{
	if (c->subscribed)
		link_proven(&c->link, hal_mono_ms());
}

static int
cloud_publish(struct cloud *c, const char *topic, const char *payload,
    int qos)
{
	int rc, mid = 0;

	if (c->state != CLOUD_CONNECTED)
		return -1;
	rc = mosquitto_publish(c->mosq, &mid, topic, (int)strlen(payload),
	    payload, qos, false);
	if (rc != MOSQ_ERR_SUCCESS) {
		fw_warn("cloud: publish to %s: %s", topic,
		    mosquitto_strerror(rc));
		return -1;
	}
	c->stats.published++;
	c->stats.mqtt_tx += mqtt_publish_size(strlen(topic), strlen(payload),
	    qos);
	cloud_update_events(c);
	return mid > 0 ? mid : 0;
}

int
cloud_telemetry(struct cloud *c, const char *json, const char *mid)
{
	char topic[320];

	snprintf(topic, sizeof(topic), "devices/%s/messages/events/%s%s%s",
	    c->cfg.id, mid != NULL ? "$.mid=" : "", mid != NULL ? mid : "",
	    mid != NULL ? "&" PROPS : PROPS);
	return cloud_publish(c, topic, json, 1);
}

int
cloud_method_reply(struct cloud *c, const char *rid, int status,
    const char *json)
{
	char topic[128];

	snprintf(topic, sizeof(topic), "$iothub/methods/res/%d/?$rid=%s",
	    status, rid);
	return cloud_publish(c, topic, json, 0) == -1 ? -1 : 0;
}

int
cloud_publish0(struct cloud *c, const char *topic, const char *json)
{
	return cloud_publish(c, topic, json, 0) == -1 ? -1 : 0;
}
