/*
 * iothub_plugin: a mosquitto 2.0 plugin (API v5) that makes one stock
 * broker behave like an Azure IoT hub towards many devices at once.
 *
 * The hub's device-facing topics under "$iothub/" (direct methods, twin)
 * carry no device id: on a real hub each device has, in effect, a private
 * topic space.  mosquitto 2.0.11 has no per-client mount point on a shared
 * listener, so this plugin gives each device its own "$iothub/" space:
 *
 *   device ID publishes  $iothub/<rest>   -> routed as hub/ID/<rest>
 *                                             (the cloud learns the sender)
 *   cloud publishes      hub-to/ID/<rest> -> delivered to device ID only,
 *                                             as $iothub/<rest>
 *
 * The ACL file denies devices reading "$iothub/#", "hub/#" and "hub-to/#"
 * through subscriptions: a message the plugin hands to one client with
 * mosquitto_broker_publish_copy() is queued for that client directly and
 * does not go through subscription matching, so no other device, and no
 * will message with a "$iothub/" topic, can ever reach a device there.
 *
 * It also binds a device's MQTT client id to its username, as the hub
 * does ("{hub}/{id}/?api-version=..." must connect as client id "{id}"):
 * without that, the ACL's %c patterns would let a device with valid
 * credentials claim another device's topics.  A plain password is checked
 * by the broker's password_file (this plugin defers).  A password that is
 * a SharedAccessSignature token, as real hubs take, is checked here
 * against the device's key from the sas_keys file ("ID BASE64KEY" per
 * line): resource {hub}/devices/{id}, HMAC-SHA256 signature, and an
 * expiry in the future, so a device whose clock is wrong is refused, as
 * by the real hub.
 *
 * Options (plugin_opt_*): hub (the hub's host name, default
 * zapcloud.azure-devices.net), admin (the cloud tool's username, default
 * evcloud), sas_keys (file of device keys; without it SAS tokens are
 * refused).
 *
 * Built without sanitizers: it is dlopen()ed by the system's mosquitto.
 */
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
#define ID_MAX 128

struct iothub {
	mosquitto_plugin_id_t *pid;
	char hub[256];
	char admin[128];
	char sas_keys[512];
	unsigned long up, down, refused;
};

static struct iothub iothub;

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
iothub_sas_check(const char *id, const char *token)
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
	char id[ID_MAX];

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
	if (ed->password != NULL &&
	    strncmp(ed->password, SAS_PREFIX, strlen(SAS_PREFIX)) == 0) {
		if (iothub_sas_check(id, ed->password) == MOSQ_ERR_SUCCESS)
			return MOSQ_ERR_SUCCESS;
		iothub.refused++;
		return MOSQ_ERR_AUTH;
	}
	/* Identity is consistent; the password file checks the secret. */
	return MOSQ_ERR_PLUGIN_DEFER;
}

/* Device -> cloud: "$iothub/<rest>" becomes "hub/<id>/<rest>". */
static int
iothub_up(struct mosquitto_evt_message *ed)
{
	const char *cid = mosquitto_client_id(ed->client);
	const char *rest = ed->topic + strlen(IOTHUB_PREFIX);
	size_t len;
	char *t;

	len = strlen(UP_PREFIX) + strlen(cid) + 1 + strlen(rest) + 1;
	if ((t = mosquitto_malloc(len)) == NULL)
		return MOSQ_ERR_NOMEM;
	snprintf(t, len, "%s%s/%s", UP_PREFIX, cid, rest);
	mosquitto_free(ed->topic);
	ed->topic = t;
	iothub.up++;
	return MOSQ_ERR_SUCCESS;
}

/* Cloud -> device: "hub-to/<id>/<rest>" goes to <id> as "$iothub/<rest>". */
static int
iothub_down(struct mosquitto_evt_message *ed)
{
	const char *p = ed->topic + strlen(DOWN_PREFIX);
	const char *slash = strchr(p, '/');
	char id[ID_MAX], *t;
	size_t n, len;
	int rc;

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
	len = strlen(IOTHUB_PREFIX) + strlen(slash + 1) + 1;
	if ((t = mosquitto_malloc(len)) == NULL)
		return MOSQ_ERR_NOMEM;
	snprintf(t, len, "%s%s", IOTHUB_PREFIX, slash + 1);
	/*
	 * Delivered to that one client only (dropped if it is not
	 * connected, like a hub's method call to an offline device).
	 */
	rc = mosquitto_broker_publish_copy(id, t, (int)ed->payloadlen,
	    ed->payload, ed->qos > 1 ? 1 : ed->qos, false, NULL);
	mosquitto_free(t);
	if (rc != MOSQ_ERR_SUCCESS)
		mosquitto_log_printf(MOSQ_LOG_WARNING,
		    "iothub: publish to %s failed: %d", id, rc);
	else
		iothub.down++;
	/*
	 * The original "hub-to/..." message continues through the broker
	 * and reaches nobody: the ACL lets no client read "hub-to/#".
	 */
	return MOSQ_ERR_SUCCESS;
}

static int
iothub_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;

	if (ed->topic == NULL)
		return MOSQ_ERR_SUCCESS;
	/*
	 * The hub closes the connection of a device that publishes at QoS 2.
	 * mosquitto's listener option max_qos 1 does that too, but 2.0.11
	 * loses it when it reloads its configuration (SIGHUP, e.g. after a
	 * device is provisioned); an error from this callback makes the
	 * broker drop the client in any case.
	 */
	if (ed->qos > 1 && iothub_is_device(ed->client)) {
		iothub.refused++;
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "iothub: %s published "
		    "at QoS %d: disconnecting it, as the hub does",
		    mosquitto_client_id(ed->client), ed->qos);
		return MOSQ_ERR_PROTOCOL;
	}
	if (strncmp(ed->topic, IOTHUB_PREFIX, strlen(IOTHUB_PREFIX)) == 0 &&
	    iothub_is_device(ed->client))
		return iothub_up(ed);
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
		else {
			mosquitto_log_printf(MOSQ_LOG_ERR,
			    "iothub: unknown option plugin_opt_%s",
			    opts[i].key);
			return MOSQ_ERR_INVAL;
		}
	}
	*userdata = &iothub;
	rc = mosquitto_callback_register(pid, MOSQ_EVT_BASIC_AUTH,
	    iothub_basic_auth, NULL, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_callback_register(pid, MOSQ_EVT_MESSAGE,
		    iothub_message, NULL, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		mosquitto_log_printf(MOSQ_LOG_INFO, "iothub: hub %s, admin %s",
		    iothub.hub, iothub.admin);
	return rc;
}

int
mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts,
    int nopts)
{
	mosquitto_log_printf(MOSQ_LOG_INFO, "iothub: %lu up, %lu down, "
	    "%lu connections refused", iothub.up, iothub.down,
	    iothub.refused);
	mosquitto_callback_unregister(iothub.pid, MOSQ_EVT_BASIC_AUTH,
	    iothub_basic_auth, NULL);
	mosquitto_callback_unregister(iothub.pid, MOSQ_EVT_MESSAGE,
	    iothub_message, NULL);
	return MOSQ_ERR_SUCCESS;
}
