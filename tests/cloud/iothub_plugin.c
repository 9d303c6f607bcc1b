/*
 * iothub_plugin: a mosquitto 2.0 plugin (API v5) that makes one stock
 * broker behave like an Azure IoT hub towards many devices at once, as
 * strictly as the hub does (Microsoft's "Communicate with an IoT hub using
 * the MQTT protocol"; every remaining difference is in doc/testworld.md).
 *
 * The hub's device-facing topics under "$iothub/" (direct methods, twin)
 * carry no device id: on a real hub each device has, in effect, a private
 * topic space.  mosquitto 2.0.11 has no per-client mount point on a shared
 * listener, so this plugin gives each device its own "$iothub/" space:
 *
 *   device ID publishes  $iothub/<rest>   -> routed as hub/ID/<rest>
 *                                             (the cloud learns the sender)
 *   cloud publishes      hub-to/ID/<rest> -> delivered to device ID only,
 *                                             as $iothub/<rest>, and only
 *                                             through a subscription of
 *                                             its current connection that
 *                                             matches it
 *
 * Subscriptions gate delivery, as on the hub: the plugin sees every
 * SUBSCRIBE and UNSUBSCRIBE (ACL checks MOSQ_ACL_SUBSCRIBE/UNSUBSCRIBE) and
 * keeps, per device, the "$iothub/" filters of its current connection.
 * A message the cloud sends is handed to that one client with
 * mosquitto_broker_publish_copy() (which bypasses the broker's own
 * matching) only when one of them matches; otherwise it is dropped, and a
 * direct method is answered at once with 404 to the cloud, as the hub
 * answers a method call to a device that is not online.  A device may
 * subscribe to the hub's documented filters only ($iothub/methods/POST/#,
 * $iothub/twin/res/#, $iothub/twin/PATCH/properties/desired/# and its own
 * devices/ID/messages/devicebound/#); other "$iothub/" filters get a
 * failure in the SUBACK.  The broker never routes a "$iothub/" message to
 * a device by itself (READ is denied), so nothing else -- another device's
 * publications, a will message with a "$iothub/" topic -- can reach one.
 *
 * Also as the hub does:
 *   - a device's MQTT client id is bound to its username
 *     ("{hub}/{id}/?api-version=..." must connect as client id "{id}"):
 *     without that, the ACL's %c patterns would let a device with valid
 *     credentials claim another device's topics;
 *   - a SharedAccessSignature password is checked against the device's key
 *     from the sas_keys file ("ID BASE64KEY" per line): resource
 *     {hub}/devices/{id}, HMAC-SHA256 signature, expiry in the future; and
 *     the connection is closed when the token expires;  a plain password is
 *     left to the broker's password_file (the plugin defers);
 *   - a publish at QoS 2 closes the connection; a retained publish is not
 *     retained: it goes on as an ordinary message, telemetry with the
 *     property mqtt-retain=true added to its property bag;
 *   - a per-device throttle (option throttle: a file, off without it)
 *     answers reported-property PATCHes with 429 and refuses CONNECTs;
 *   - (by the broker itself) QoS 2 subscriptions are granted QoS 1
 *     (listener max_qos 1), a connection with no traffic for 1.5 times its
 *     keep-alive is closed, and a second connection with a device's id
 *     closes the first.
 *
 * Options (plugin_opt_*): hub (the hub's host name, default
 * zapcloud.azure-devices.net), admin (the cloud tool's username, default
 * evcloud), sas_keys (file of device keys; without it SAS tokens are
 * refused), throttle (file of "ID reported|connect COUNT" lines: refuse
 * the device's next COUNT reported PATCHes or CONNECTs, "*" for all of
 * them; re-read whenever it changes, which restarts the counts).
 *
 * Built without sanitizers: it is dlopen()ed by the system's mosquitto.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define IOTHUB_PREFIX "$iothub/"
#define UP_PREFIX "hub/"
#define DOWN_PREFIX "hub-to/"
#define SINK_PREFIX "hub-throttled/"	/* read by nobody */
#define ID_MAX 128
#define DEV_MAX 1024
#define SUB_MAX 8
#define FILTER_MAX 128
#define REPORTED_TOPIC "$iothub/twin/PATCH/properties/reported/"
#define METHOD_TOPIC "methods/POST/"

/* One "$iothub/" subscription of a device's current connection. */
struct hub_sub {
	char	filter[FILTER_MAX];
	int	qos;			/* granted: 0 or 1 */
};

struct hub_dev {
	char		 id[ID_MAX];
	/* The connection the subscriptions belong to; NULL: none. */
	const struct mosquitto *client;
	struct hub_sub	 subs[SUB_MAX];
	size_t		 nsubs;
	/* The connection a SAS token let in, and when the token expires. */
	const struct mosquitto *token_client;
	long long	 token_expiry;
	/* Refusals left from the throttle file; -1: every one. */
	long		 throttle_reported;
	long		 throttle_connect;
};

struct iothub {
	mosquitto_plugin_id_t *pid;
	char hub[256];
	char admin[128];
	char sas_keys[512];
	char throttle[512];
	struct stat throttle_st;	/* of the file last read */
	bool throttle_read;
	struct hub_dev *devs;
	size_t ndevs;
	time_t last_tick;
	unsigned long up, down, refused, dropped, not_online, expired;
	unsigned long throttled;
};

static struct iothub iothub;

/* The filters a device may subscribe to under "$iothub/" (the hub's). */
static const char *const iothub_filters[] = {
	"$iothub/methods/POST/#",
	"$iothub/twin/res/#",
	"$iothub/twin/PATCH/properties/desired/#",
};

/* Exported entry points: the broker finds them by name with dlsym(). */
int mosquitto_plugin_version(int, const int *);
int mosquitto_plugin_init(mosquitto_plugin_id_t *, void **,
    struct mosquitto_opt *, int);
int mosquitto_plugin_cleanup(void *, struct mosquitto_opt *, int);

/*
 * The device id in a hub username "{hub}/{id}/?api-version=...", copied to
 * id; -1 when the username is not a device username of this hub.
 */
static int
iothub_user_device(const char *user, char *id, size_t idlen)
{
	size_t hl = strlen(iothub.hub), n;
	const char *p, *slash;

	if (user == NULL || strncmp(user, iothub.hub, hl) != 0 ||
	    user[hl] != '/')
		return -1;
	p = user + hl + 1;
	if ((slash = strchr(p, '/')) == NULL)
		return -1;
	n = (size_t)(slash - p);
	if (n == 0 || n >= idlen || strncmp(slash, "/?api-version=", 14) != 0)
		return -1;
	memcpy(id, p, n);
	id[n] = '\0';
	return 0;
}

static bool
iothub_is_device(struct mosquitto *client)
{
	char id[ID_MAX];

	return iothub_user_device(mosquitto_client_username(client), id,
	    sizeof(id)) == 0;
}

static bool
iothub_is_admin(struct mosquitto *client)
{
	const char *user = mosquitto_client_username(client);

	return user != NULL && strcmp(user, iothub.admin) == 0;
}

/*
 * Only a device id made of letters, digits and "-._" may appear in a
 * topic level we build; anything else could smuggle in '/', '+' or '#'.
 */
static bool
iothub_id_ok(const char *id, size_t n)
{
	size_t i;

	if (n == 0 || n >= ID_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_'))
			return false;
	}
	return true;
}

/* The device record for id, made when create is set; NULL if none. */
static struct hub_dev *
iothub_dev(const char *id, bool create)
{
	struct hub_dev *d;
	size_t i;

	if (id == NULL)
		return NULL;
	for (i = 0; i < iothub.ndevs; i++)
		if (strcmp(iothub.devs[i].id, id) == 0)
			return &iothub.devs[i];
	if (!create || !iothub_id_ok(id, strlen(id)))
		return NULL;
	if (iothub.ndevs == DEV_MAX) {
		mosquitto_log_printf(MOSQ_LOG_WARNING, "iothub: more than %d "
		    "devices: %s is not served", DEV_MAX, id);
		return NULL;
	}
	d = &iothub.devs[iothub.ndevs++];
	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "%s", id);
	return d;
}

/*
 * The throttle file, re-read when it changed (another inode, size or
 * modification time): every count starts again from what it says.
 */
static void
iothub_throttle_refresh(void)
{
	char line[256], id[ID_MAX], what[16], count[16];
	struct hub_dev *d;
	struct stat st;
	size_t i;
	FILE *fp;
	long n;

	if (iothub.throttle[0] == '\0')
		return;
	if (stat(iothub.throttle, &st) == -1)
		memset(&st, 0, sizeof(st));
	if (iothub.throttle_read && st.st_ino == iothub.throttle_st.st_ino &&
	    st.st_size == iothub.throttle_st.st_size &&
	    st.st_mtim.tv_sec == iothub.throttle_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == iothub.throttle_st.st_mtim.tv_nsec)
		return;
	iothub.throttle_st = st;
	iothub.throttle_read = true;
	for (i = 0; i < iothub.ndevs; i++)
		iothub.devs[i].throttle_reported =
		    iothub.devs[i].throttle_connect = 0;
	if ((fp = fopen(iothub.throttle, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (line[0] == '#' || sscanf(line, "%127s %15s %15s", id, what,
		    count) != 3)
			continue;
		n = strcmp(count, "*") == 0 ? -1 : strtol(count, NULL, 10);
		if ((d = iothub_dev(id, true)) == NULL)
			continue;
		if (strcmp(what, "reported") == 0)
			d->throttle_reported = n;
		else if (strcmp(what, "connect") == 0)
			d->throttle_connect = n;
	}
	fclose(fp);
	mosquitto_log_printf(MOSQ_LOG_INFO, "iothub: throttle file %s read",
	    iothub.throttle);
}

/* Take one refusal from a throttle count: true if this one is refused. */
static bool
iothub_throttle_take(long *left)
{
	if (*left == 0)
		return false;
	if (*left > 0)
		(*left)--;
	return true;
}

#define SAS_PREFIX "SharedAccessSignature "

/* Percent-decoding of at most outlen - 1 bytes; -1 on a bad escape. */
static int
iothub_urldecode(const char *in, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		char c = in[i];

		if (c == '%') {
			char hex[3];

			if (i + 2 >= n)
				return -1;
			if (!isxdigit((unsigned char)in[i + 1]) ||
			    !isxdigit((unsigned char)in[i + 2]))
				return -1;
			hex[0] = in[i + 1];
			hex[1] = in[i + 2];
			hex[2] = '\0';
			c = (char)strtol(hex, NULL, 16);
			i += 2;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* The device's base64 key from the sas_keys file; -1 if none. */
static int
iothub_sas_key(const char *id, char *key, size_t keylen)
{
	char line[512], *sp;
	FILE *fp;
	int rc = -1;

	if (iothub.sas_keys[0] == '\0' ||
	    (fp = fopen(iothub.sas_keys, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if ((sp = strchr(line, ' ')) == NULL)
			continue;
		*sp++ = '\0';
		if (strcmp(line, id) == 0 && strlen(sp) < keylen) {
			memcpy(key, sp, strlen(sp) + 1);
			rc = 0;
			break;
		}
	}
	fclose(fp);
	return rc;
}

/*
 * SharedAccessSignature sr={urlenc(hub/devices/id)}&sig={urlenc(base64(
 * HMAC-SHA256(base64dec(key), sr + "\n" + se)))}&se={expiry}, fields in
 * any order.  Returns MOSQ_ERR_SUCCESS or MOSQ_ERR_AUTH (logged).
 */
static int
iothub_sas_check(const char *id, const char *token, long long *expiry_out)
{
	const char *p = token + strlen(SAS_PREFIX), *f, *sr = NULL;
	const char *sig = NULL, *se = NULL;
	size_t srlen = 0, siglen = 0, selen = 0, n;
	char buf[512], want[512], keyb64[256], tosign[600], sigdec[128];
	unsigned char key[192], mac[EVP_MAX_MD_SIZE], macb64[128];
	unsigned int maclen = 0;
	long long expiry;
	int keylen;
	time_t now = time(NULL);

	for (f = p; *f != '\0'; f += n + (f[n] == '&')) {
		n = strcspn(f, "&");
		if (strncmp(f, "sr=", 3) == 0)
			sr = f + 3, srlen = n - 3;
		else if (strncmp(f, "sig=", 4) == 0)
			sig = f + 4, siglen = n - 4;
		else if (strncmp(f, "se=", 3) == 0)
			se = f + 3, selen = n - 3;
		else if (strncmp(f, "skn=", 4) != 0)
			goto bad;
	}
	if (sr == NULL || sig == NULL || se == NULL || selen == 0 ||
	    selen > 19 || strspn(se, "0123456789") < selen)
		goto bad;
	memcpy(buf, se, selen);
	buf[selen] = '\0';
	expiry = strtoll(buf, NULL, 10);
	if (iothub_urldecode(sr, srlen, buf, sizeof(buf)) == -1)
		goto bad;
	snprintf(want, sizeof(want), "%s/devices/%s", iothub.hub, id);
	if (strcasecmp(buf, want) != 0) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: %s: SAS token "
		    "for another resource (%s)", id, buf);
		return MOSQ_ERR_AUTH;
	}
	if ((long long)now >= expiry) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: %s: SAS token "
		    "expired at %lld, now %lld: is the device's clock right?",
		    id, expiry, (long long)now);
		return MOSQ_ERR_AUTH;
	}
	if (iothub_sas_key(id, keyb64, sizeof(keyb64)) == -1) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: %s: no SAS key "
		    "for this device", id);
		return MOSQ_ERR_AUTH;
	}
	n = strlen(keyb64);
	if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof(key) ||
	    (keylen = EVP_DecodeBlock(key, (unsigned char *)keyb64,
	    (int)n)) < 0)
		goto bad;
	keylen -= (keyb64[n - 1] == '=') + (n > 1 && keyb64[n - 2] == '=');
	if (srlen + 1 + selen >= sizeof(tosign))
		goto bad;
	memcpy(tosign, sr, srlen);
	tosign[srlen] = '\n';
	memcpy(tosign + srlen + 1, se, selen);
	if (HMAC(EVP_sha256(), key, keylen, (unsigned char *)tosign,
	    srlen + 1 + selen, mac, &maclen) == NULL)
		goto bad;
	EVP_EncodeBlock(macb64, mac, (int)maclen);
	if (iothub_urldecode(sig, siglen, sigdec, sizeof(sigdec)) == -1 ||
	    strlen(sigdec) != strlen((char *)macb64) ||
	    CRYPTO_memcmp(sigdec, macb64, strlen(sigdec)) != 0) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: %s: SAS "
		    "signature does not match the device key", id);
		return MOSQ_ERR_AUTH;
	}
	*expiry_out = expiry;
	return MOSQ_ERR_SUCCESS;
bad:
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: %s: malformed SAS "
	    "token", id);
	return MOSQ_ERR_AUTH;
}

static int
iothub_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	const char *cid = mosquitto_client_id(ed->client);
	struct hub_dev *d;
	char id[ID_MAX];
	long long expiry;

	if (iothub_user_device(ed->username, id, sizeof(id)) == -1)
		return MOSQ_ERR_PLUGIN_DEFER;
	if (cid == NULL || strcmp(cid, id) != 0 ||
	    !iothub_id_ok(id, strlen(id))) {
		iothub.refused++;
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: refused client "
		    "id \"%s\" for device \"%s\": they must be equal",
		    cid ? cid : "", id);
		return MOSQ_ERR_AUTH;
	}
	iothub_throttle_refresh();
	if ((d = iothub_dev(id, true)) == NULL)
		return MOSQ_ERR_AUTH;
	if (iothub_throttle_take(&d->throttle_connect)) {
		iothub.refused++;
		iothub.throttled++;
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: %s: CONNECT "
		    "refused: throttled", id);
		return MOSQ_ERR_AUTH;
	}
	if (ed->password != NULL &&
	    strncmp(ed->password, SAS_PREFIX, strlen(SAS_PREFIX)) == 0) {
		if (iothub_sas_check(id, ed->password, &expiry) !=
		    MOSQ_ERR_SUCCESS) {
			iothub.refused++;
			return MOSQ_ERR_AUTH;
		}
		/* The hub closes the connection when its token expires. */
		d->token_client = ed->client;
		d->token_expiry = expiry;
		return MOSQ_ERR_SUCCESS;
	}
	/* Identity is consistent; the password file checks the secret. */
	return MOSQ_ERR_PLUGIN_DEFER;
}

static bool
iothub_filter_allowed(const char *filter)
{
	size_t i;

	for (i = 0; i < sizeof(iothub_filters) / sizeof(iothub_filters[0]);
	    i++)
		if (strcmp(filter, iothub_filters[i]) == 0)
			return true;
	return false;
}

/* A device's "$iothub/" subscription: kept for its current connection. */
static int
iothub_subscribe(struct mosquitto *client, const char *filter, int qos)
{
	const char *id = mosquitto_client_id(client);
	struct hub_dev *d;
	size_t i;

	if (!iothub_filter_allowed(filter)) {
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: %s: "
		    "subscription to \"%s\" refused: not a hub topic filter",
		    id, filter);
		return MOSQ_ERR_ACL_DENIED;
	}
	if ((d = iothub_dev(id, true)) == NULL)
		return MOSQ_ERR_ACL_DENIED;
	if (d->client != client) {
		/* A new connection: the old one's filters went with it. */
		d->client = client;
		d->nsubs = 0;
	}
	for (i = 0; i < d->nsubs; i++)
		if (strcmp(d->subs[i].filter, filter) == 0)
			break;
	if (i == d->nsubs) {
		if (d->nsubs == SUB_MAX)
			return MOSQ_ERR_ACL_DENIED;
		snprintf(d->subs[d->nsubs++].filter, FILTER_MAX, "%s",
		    filter);
	}
	/* QoS 2 is granted as 1, as by the hub (and the listener). */
	d->subs[i].qos = qos > 1 ? 1 : qos;
	return MOSQ_ERR_SUCCESS;
}

static int
iothub_unsubscribe(struct mosquitto *client, const char *filter)
{
	struct hub_dev *d = iothub_dev(mosquitto_client_id(client), false);
	size_t i;

	if (d == NULL || d->client != client)
		return MOSQ_ERR_SUCCESS;
	for (i = 0; i < d->nsubs; i++)
		if (strcmp(d->subs[i].filter, filter) == 0) {
			d->subs[i] = d->subs[--d->nsubs];
			break;
		}
	return MOSQ_ERR_SUCCESS;
}

static int
iothub_acl(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	bool hubtopic;

	if (ed->topic == NULL || !iothub_is_device(ed->client))
		return MOSQ_ERR_PLUGIN_DEFER;
	hubtopic = strncmp(ed->topic, IOTHUB_PREFIX,
	    strlen(IOTHUB_PREFIX)) == 0;
	switch (ed->access) {
	case MOSQ_ACL_SUBSCRIBE:
		return hubtopic ? iothub_subscribe(ed->client, ed->topic,
		    ed->qos) : MOSQ_ERR_PLUGIN_DEFER;
	case MOSQ_ACL_UNSUBSCRIBE:
		return hubtopic ? iothub_unsubscribe(ed->client, ed->topic) :
		    MOSQ_ERR_PLUGIN_DEFER;
	case MOSQ_ACL_READ:
		/*
		 * The broker never routes a "$iothub/" message to a device
		 * itself: the plugin delivers those (a will message or a
		 * forged topic would otherwise reach every subscriber).
		 */
		return hubtopic ? MOSQ_ERR_ACL_DENIED : MOSQ_ERR_PLUGIN_DEFER;
	default:
		return MOSQ_ERR_PLUGIN_DEFER;
	}
}

static int
iothub_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	struct hub_dev *d = iothub_dev(mosquitto_client_id(ed->client), false);

	if (d == NULL)
		return MOSQ_ERR_SUCCESS;
	if (d->client == ed->client) {
		d->client = NULL;
		d->nsubs = 0;
	}
	if (d->token_client == ed->client)
		d->token_client = NULL;
	return MOSQ_ERR_SUCCESS;
}

/* Once a second: close the connections whose SAS token has expired. */
static int
iothub_tick(int event, void *event_data, void *userdata)
{
	time_t now = time(NULL);
	struct hub_dev *d;
	size_t i;

	if (now == iothub.last_tick)
		return MOSQ_ERR_SUCCESS;
	iothub.last_tick = now;
	for (i = 0; i < iothub.ndevs; i++) {
		d = &iothub.devs[i];
		if (d->token_client == NULL || (long long)now < d->token_expiry)
			continue;
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: %s: SAS token "
		    "expired at %lld: closing the connection, as the hub does",
		    d->id, d->token_expiry);
		d->token_client = NULL;
		iothub.expired++;
		mosquitto_kick_client_by_clientid(d->id, false);
	}
	return MOSQ_ERR_SUCCESS;
}

/*
 * Deliver "$iothub/<rest>" to device d through a subscription of its
 * current connection that matches it: true if one did.
 */
static bool
iothub_deliver(struct hub_dev *d, const char *rest, const void *payload,
    int len, int qos)
{
	char topic[1024];
	bool match;
	size_t i;
	int rc;

	if (d == NULL || d->client == NULL)
		return false;
	if ((size_t)snprintf(topic, sizeof(topic), "%s%s", IOTHUB_PREFIX,
	    rest) >= sizeof(topic))
		return false;
	for (i = 0; i < d->nsubs; i++) {
		if (mosquitto_topic_matches_sub(d->subs[i].filter, topic,
		    &match) != MOSQ_ERR_SUCCESS || !match)
			continue;
		rc = mosquitto_broker_publish_copy(d->id, topic, len, payload,
		    qos < d->subs[i].qos ? qos : d->subs[i].qos, false, NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			mosquitto_log_printf(MOSQ_LOG_WARNING,
			    "iothub: publish to %s failed: %d", d->id, rc);
			return false;
		}
		iothub.down++;
		return true;
	}
	return false;
}

/* The request id of "...?$rid=R[&...]" into rid; -1 if none or unsafe. */
static int
iothub_rid(const char *topic, char *rid, size_t cap)
{
	const char *p = strstr(topic, "?$rid=");
	size_t n;

	if (p == NULL)
		return -1;
	p += 6;
	n = strcspn(p, "&");
	if (n == 0 || n >= cap || !iothub_id_ok(p, n))
		return -1;
	memcpy(rid, p, n);
	rid[n] = '\0';
	return 0;
}

/*
 * Replace the message's topic with a + b + c + d (which may point into
 * the old one: it is freed only once the new one is made).
 */
static int
iothub_retopic(struct mosquitto_evt_message *ed, const char *a, const char *b,
    const char *c, const char *d)
{
	size_t len = strlen(a) + strlen(b) + strlen(c) + strlen(d) + 1;
	char *t;

	if ((t = mosquitto_malloc(len)) == NULL)
		return MOSQ_ERR_NOMEM;
	snprintf(t, len, "%s%s%s%s", a, b, c, d);
	mosquitto_free(ed->topic);
	ed->topic = t;
	return MOSQ_ERR_SUCCESS;
}

/* Device -> cloud: "$iothub/<rest>" becomes "hub/<id>/<rest>". */
static int
iothub_up(struct mosquitto_evt_message *ed)
{
	const char *cid = mosquitto_client_id(ed->client);
	const char *rest = ed->topic + strlen(IOTHUB_PREFIX);
	static const char body[] =
	    "{\"errorCode\":429001,\"message\":\"IotHubThrottled\"}";
	struct hub_dev *d;
	char rid[64], res[128];

	if (strncmp(ed->topic, REPORTED_TOPIC, strlen(REPORTED_TOPIC)) == 0) {
		iothub_throttle_refresh();
		d = iothub_dev(cid, true);
		if (d != NULL && iothub_throttle_take(&d->throttle_reported)) {
			/* Answered here; the twin never sees the patch. */
			iothub.throttled++;
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: %s: "
			    "reported PATCH throttled: 429", cid);
			if (iothub_rid(ed->topic, rid, sizeof(rid)) == 0) {
				snprintf(res, sizeof(res),
				    "twin/res/429/?$rid=%s", rid);
				iothub_deliver(d, res, body,
				    (int)sizeof(body) - 1, 1);
			}
			return iothub_retopic(ed, SINK_PREFIX, cid, "", "");
		}
	}
	iothub.up++;
	return iothub_retopic(ed, UP_PREFIX, cid, "/", rest);
}

/*
 * Cloud -> device: "hub-to/<id>/<rest>" goes to <id> as "$iothub/<rest>"
 * through a matching subscription, or nowhere.  A direct method that
 * cannot be delivered is answered with 404 at once, as the hub answers a
 * method call to a device that is not online (or not subscribed).
 */
static int
iothub_down(struct mosquitto_evt_message *ed)
{
	const char *p = ed->topic + strlen(DOWN_PREFIX);
	const char *slash = strchr(p, '/'), *rest;
	static const char body[] = "{\"errorCode\":404103,\"message\":"
	    "\"DeviceNotOnline\"}";
	char id[ID_MAX], rid[64], res[ID_MAX + 128];
	size_t n;

	if (slash == NULL || slash[1] == '\0' ||
	    !iothub_id_ok(p, (size_t)(slash - p))) {
		mosquitto_log_printf(MOSQ_LOG_WARNING,
		    "iothub: dropped cloud message to bad topic \"%s\"",
		    ed->topic);
		return MOSQ_ERR_SUCCESS;
	}
	n = (size_t)(slash - p);
	memcpy(id, p, n);
	id[n] = '\0';
	rest = slash + 1;
	if (iothub_deliver(iothub_dev(id, false), rest, ed->payload,
	    (int)ed->payloadlen, ed->qos > 1 ? 1 : ed->qos))
		return MOSQ_ERR_SUCCESS;
	if (strncmp(rest, METHOD_TOPIC, strlen(METHOD_TOPIC)) == 0 &&
	    iothub_rid(rest, rid, sizeof(rid)) == 0) {
		iothub.not_online++;
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: %s is not "
		    "online for methods: 404 to the caller", id);
		snprintf(res, sizeof(res), "%s%s/methods/res/404/?$rid=%s",
		    UP_PREFIX, id, rid);
		mosquitto_broker_publish(NULL, res, (int)sizeof(body) - 1,
		    mosquitto_strdup(body), 1, false, NULL);
	} else {
		iothub.dropped++;
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: %s has no "
		    "subscription for $iothub/%s: dropped, as the hub does",
		    id, rest);
	}
	/*
	 * The original "hub-to/..." message continues through the broker
	 * and reaches nobody: the ACL lets no client read "hub-to/#".
	 */
	return MOSQ_ERR_SUCCESS;
}

/*
 * The hub keeps no retained messages: a retained publish goes on as an
 * ordinary one, and telemetry carries mqtt-retain=true in its property
 * bag so that the cloud can see it was asked for.
 */
static int
iothub_unretain(struct mosquitto_evt_message *ed)
{
	const char *cid = mosquitto_client_id(ed->client);
	char prefix[ID_MAX + 32];
	size_t pl;

	ed->retain = false;
	pl = (size_t)snprintf(prefix, sizeof(prefix),
	    "devices/%s/messages/events/", cid);
	if (strncmp(ed->topic, prefix, pl) != 0 ||
	    strstr(ed->topic + pl, "mqtt-retain=") != NULL)
		return MOSQ_ERR_SUCCESS;
	return iothub_retopic(ed, ed->topic, ed->topic[pl] == '\0' ? "" : "&",
	    "mqtt-retain=true", "");
}

static int
iothub_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;
	int rc;

	if (ed->topic == NULL)
		return MOSQ_ERR_SUCCESS;
	if (iothub_is_device(ed->client)) {
		/*
		 * The hub closes the connection of a device that publishes
		 * at QoS 2.  mosquitto's listener option max_qos 1 does that
		 * too, but 2.0.11 loses it when it reloads its
		 * configuration (SIGHUP); an error from this callback makes
		 * the broker drop the client in any case.
		 */
		if (ed->qos > 1) {
			iothub.refused++;
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: %s "
			    "published at QoS %d: disconnecting it, as the hub "
			    "does", mosquitto_client_id(ed->client), ed->qos);
			return MOSQ_ERR_PROTOCOL;
		}
		if (ed->retain &&
		    (rc = iothub_unretain(ed)) != MOSQ_ERR_SUCCESS)
			return rc;
		if (strncmp(ed->topic, IOTHUB_PREFIX,
		    strlen(IOTHUB_PREFIX)) == 0)
			return iothub_up(ed);
		return MOSQ_ERR_SUCCESS;
	}
	if (strncmp(ed->topic, DOWN_PREFIX, strlen(DOWN_PREFIX)) == 0 &&
	    iothub_is_admin(ed->client))
		return iothub_down(ed);
	return MOSQ_ERR_SUCCESS;
}

int
mosquitto_plugin_version(int n, const int *versions)
{
	int i;

	for (i = 0; i < n; i++)
		if (versions[i] == 5)
			return 5;
	return -1;
}

int
mosquitto_plugin_init(mosquitto_plugin_id_t *pid, void **userdata,
    struct mosquitto_opt *opts, int nopts)
{
	int i, rc;

	memset(&iothub, 0, sizeof(iothub));
	iothub.pid = pid;
	snprintf(iothub.hub, sizeof(iothub.hub), "zapcloud.azure-devices.net");
	snprintf(iothub.admin, sizeof(iothub.admin), "evcloud");
	for (i = 0; i < nopts; i++) {
		if (strcmp(opts[i].key, "hub") == 0)
			snprintf(iothub.hub, sizeof(iothub.hub), "%s",
			    opts[i].value);
		else if (strcmp(opts[i].key, "admin") == 0)
			snprintf(iothub.admin, sizeof(iothub.admin), "%s",
			    opts[i].value);
		else if (strcmp(opts[i].key, "sas_keys") == 0)
			snprintf(iothub.sas_keys, sizeof(iothub.sas_keys), "%s",
			    opts[i].value);
		else if (strcmp(opts[i].key, "throttle") == 0)
			snprintf(iothub.throttle, sizeof(iothub.throttle), "%s",
			    opts[i].value);
		else {
			mosquitto_log_printf(MOSQ_LOG_ERR,
			    "iothub: unknown option plugin_opt_%s",
			    opts[i].key);
			return MOSQ_ERR_INVAL;
		}
	}
	if ((iothub.devs = mosquitto_calloc(DEV_MAX,
	    sizeof(*iothub.devs))) == NULL)
		return MOSQ_ERR_NOMEM;
	*userdata = &iothub;
	rc = mosquitto_callback_register(pid, MOSQ_EVT_BASIC_AUTH,
	    iothub_basic_auth, NULL, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_callback_register(pid, MOSQ_EVT_MESSAGE,
		    iothub_message, NULL, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_callback_register(pid, MOSQ_EVT_ACL_CHECK,
		    iothub_acl, NULL, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_callback_register(pid, MOSQ_EVT_DISCONNECT,
		    iothub_disconnect, NULL, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_callback_register(pid, MOSQ_EVT_TICK,
		    iothub_tick, NULL, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		mosquitto_log_printf(MOSQ_LOG_INFO, "iothub: hub %s, admin %s%s%s",
		    iothub.hub, iothub.admin, iothub.throttle[0] != '\0' ?
		    ", throttle file " : "", iothub.throttle);
	return rc;
}

int
mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts,
    int nopts)
{
	mosquitto_log_printf(MOSQ_LOG_INFO, "iothub: %lu up, %lu down, "
	    "%lu connections refused, %lu dropped (no subscription), %lu "
	    "methods to devices not online, %lu tokens expired, %lu throttled",
	    iothub.up, iothub.down, iothub.refused, iothub.dropped,
	    iothub.not_online, iothub.expired, iothub.throttled);
	mosquitto_callback_unregister(iothub.pid, MOSQ_EVT_BASIC_AUTH,
	    iothub_basic_auth, NULL);
	mosquitto_callback_unregister(iothub.pid, MOSQ_EVT_MESSAGE,
	    iothub_message, NULL);
	mosquitto_callback_unregister(iothub.pid, MOSQ_EVT_ACL_CHECK,
	    iothub_acl, NULL);
	mosquitto_callback_unregister(iothub.pid, MOSQ_EVT_DISCONNECT,
	    iothub_disconnect, NULL);
	mosquitto_callback_unregister(iothub.pid, MOSQ_EVT_TICK,
	    iothub_tick, NULL);
	mosquitto_free(iothub.devs);
	iothub.devs = NULL;
	return MOSQ_ERR_SUCCESS;
}
