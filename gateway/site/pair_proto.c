/*
 * pair_proto: the pair link's messages (see pair_proto.h).  json-c reads
 * the JSON (depth-bounded, strict); every field is then checked here by
 * hand against its shape and range before anything is copied out.
 */
#include "evgate_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "site/lan.h"
#include "site/leases.h"
#include "site/pair_proto.h"

static const char *const status_names[PAIR_NSTATUS] = {
	[PAIR_OK] = "ok",
	[PAIR_E_TOO_LONG] = "message too long",
	[PAIR_E_SYNTAX] = "not one JSON object",
	[PAIR_E_TYPE] = "unknown message type",
	[PAIR_E_FIELD] = "bad field",
	[PAIR_E_VERSION] = "unsupported protocol version",
};

static const char *const type_names[PAIR_MSG_NTYPES] = {
	[PAIR_MSG_HELLO] = "hello",
	[PAIR_MSG_ROLE] = "role",
	[PAIR_MSG_LEASE] = "lease",
	[PAIR_MSG_SYNCED] = "synced",
	[PAIR_MSG_PING] = "ping",
	[PAIR_MSG_ACK] = "ack",
};

static const char *const role_names[PAIR_NROLES] = {
	[PAIR_ROLE_SINGLE] = "single",
	[PAIR_ROLE_MASTER] = "master",
	[PAIR_ROLE_BACKUP] = "backup",
	[PAIR_ROLE_FAULT] = "fault",
};

static const char *const part_names[PAIR_DIGEST_NPARTS] = {
	[PAIR_DIGEST_LAN] = "lan",
	[PAIR_DIGEST_DHCP] = "dhcp",
	[PAIR_DIGEST_RESERVATIONS] = "reservations",
	[PAIR_DIGEST_DNS] = "dns",
	[PAIR_DIGEST_RELAY] = "relay",
};

const char *
pair_status_str(enum pair_status s)
{
	return (unsigned)s < PAIR_NSTATUS ? status_names[s] : "?";
}

const char *
pair_msg_type_str(enum pair_msg_type t)
{
	return (unsigned)t < PAIR_MSG_NTYPES ? type_names[t] : "?";
}

const char *
pair_role_str(enum pair_role r)
{
	return (unsigned)r < PAIR_NROLES ? role_names[r] : "?";
}

const char *
pair_digest_part_str(enum pair_digest_part p)
{
	return (unsigned)p < PAIR_DIGEST_NPARTS ? part_names[p] : "?";
}

int
pair_role_parse(const char *s, size_t len)
{
	int i;

	for (i = 0; i < PAIR_NROLES; i++)
		if (strlen(role_names[i]) == len &&
		    memcmp(role_names[i], s, len) == 0)
			return i;
	return -1;
}

int
pair_name_ok(const char *s, size_t len)
{
	return lan_check_id(s, len) == NULL;
}

/* --- reading ---------------------------------------------------------- */

/* A member of o of type t, or NULL. */
static struct json_object *
get(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || v == NULL ||
	    !json_object_is_type(v, t))
		return NULL;
	return v;
}

static int
has(struct json_object *o, const char *key)
{
	return json_object_object_get_ex(o, key, NULL);
}

/* An integer member in [min, max]; 0, or -1 when missing or out of range. */
static int
get_int(struct json_object *o, const char *key, int64_t min, int64_t max,
    int64_t *out)
{
	struct json_object *v = get(o, key, json_type_int);
	int64_t x;

	if (v == NULL)
		return -1;
	x = json_object_get_int64(v);
	/* json-c saturates what does not fit an int64 */
	if (x == INT64_MAX || x == INT64_MIN || x < min || x > max)
		return -1;
	*out = x;
	return 0;
}

static int
get_seq(struct json_object *o, uint64_t *seq)
{
	int64_t v;

	if (get_int(o, "seq", 0, (int64_t)PAIR_SEQ_MAX, &v) == -1)
		return -1;
	*seq = (uint64_t)v;
	return 0;
}

/* A string member (len bytes, no NUL inside) or NULL. */
static const char *
get_str(struct json_object *o, const char *key, size_t *len)
{
	struct json_object *v = get(o, key, json_type_string);
	const char *s;

	if (v == NULL)
		return NULL;
	s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	if (memchr(s, '\0', *len) != NULL)
		return NULL;
	return s;
}

static int
hex_ok(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]) ||
		    isupper((unsigned char)s[i]))
			return 0;
	return 1;
}

/* role, since, failover: of a hello or a role message. */
static enum pair_status
parse_role(struct json_object *o, struct pair_msg *m, const char **why)
{
	const char *s;
	size_t len;
	int r;

	if ((s = get_str(o, "role", &len)) == NULL ||
	    (r = pair_role_parse(s, len)) == -1 || r == PAIR_ROLE_SINGLE) {
		*why = "role";
		return PAIR_E_FIELD;
	}
	m->role = (enum pair_role)r;
	if (get_int(o, "since", 0, PAIR_TIME_MAX, &m->since) == -1) {
		*why = "since";
		return PAIR_E_FIELD;
	}
	if (get_int(o, "failover", 0, PAIR_TIME_MAX, &m->failover) == -1) {
		*why = "failover";
		return PAIR_E_FIELD;
	}
	return PAIR_OK;
}

static enum pair_status
parse_hello(struct json_object *o, struct pair_msg *m, const char **why)
{
	struct json_object *d, *v;
	enum pair_status st;
	const char *s;
	int64_t ver;
	size_t len;
	int i;

	if (get_int(o, "v", 1, 65535, &ver) == -1) {
		*why = "v";
		return PAIR_E_FIELD;
	}
	if (ver != PAIR_PROTO_VERSION) {
		*why = "v";
		return PAIR_E_VERSION;
	}
	m->version = (unsigned)ver;
	if ((s = get_str(o, "box", &len)) == NULL || !pair_name_ok(s, len)) {
		*why = "box";
		return PAIR_E_FIELD;
	}
	memcpy(m->box, s, len);
	if ((st = parse_role(o, m, why)) != PAIR_OK)
		return st;
	if ((d = get(o, "digest", json_type_object)) == NULL) {
		*why = "digest";
		return PAIR_E_FIELD;
	}
	/* Only the parts we know; a newer peer may send more. */
	for (i = 0; i < PAIR_DIGEST_NPARTS; i++) {
		if (!json_object_object_get_ex(d, part_names[i], &v))
			continue;
		if (v == NULL || !json_object_is_type(v, json_type_string) ||
		    (len = (size_t)json_object_get_string_len(v)) !=
		    PAIR_DIGEST_HEX ||
		    !hex_ok(json_object_get_string(v), len)) {
			*why = "digest";
			return PAIR_E_FIELD;
		}
		memcpy(m->digest[i], json_object_get_string(v), len);
		m->ndigest++;
	}
	return PAIR_OK;
}

static int
parse_ip(const char *s, size_t len, struct in_addr *a)
{
	char buf[INET_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, a) != 1 || a->s_addr == 0 ||
	    a->s_addr == INADDR_BROADCAST)
		return -1;
	return 0;
}

static enum pair_status
parse_lease(struct json_object *o, struct pair_msg *m, const char **why)
{
	const char *s;
	size_t len;

	if (get_seq(o, &m->seq) == -1 || m->seq == 0) {
		*why = "seq";
		return PAIR_E_FIELD;
	}
	if ((s = get_str(o, "op", &len)) != NULL && len == 3 &&
	    memcmp(s, "add", 3) == 0)
		m->del = 0;
	else if (s != NULL && len == 3 && memcmp(s, "del", 3) == 0)
		m->del = 1;
	else {
		*why = "op";
		return PAIR_E_FIELD;
	}
	if ((s = get_str(o, "mac", &len)) == NULL ||
	    lan_parse_mac(s, len, m->mac) == -1 || (m->mac[0] & 1)) {
		*why = "mac";
		return PAIR_E_FIELD;
	}
	if ((s = get_str(o, "ip", &len)) == NULL ||
	    parse_ip(s, len, &m->addr) == -1) {
		*why = "ip";
		return PAIR_E_FIELD;
	}
	if (get_int(o, "ttl", -1, PAIR_TTL_MAX, &m->ttl) == -1) {
		*why = "ttl";
		return PAIR_E_FIELD;
	}
	if (has(o, "client_id")) {
		if ((s = get_str(o, "client_id", &len)) == NULL ||
		    !lease_client_id_ok(s, len) ||
		    len >= sizeof(m->client_id)) {
			*why = "client_id";
			return PAIR_E_FIELD;
		}
		memcpy(m->client_id, s, len);
	}
	if (has(o, "hostname")) {
		if ((s = get_str(o, "hostname", &len)) == NULL ||
		    !lease_hostname_ok(s, len)) {
			*why = "hostname";
			return PAIR_E_FIELD;
		}
		memcpy(m->hostname, s, len);
	}
	return PAIR_OK;
}

enum pair_status
pair_msg_parse(const uint8_t *buf, size_t len, struct pair_msg *m,
    const char **why)
{
	struct json_tokener *tok;
	struct json_object *o = NULL;
	enum pair_status st;
	const char *s;
	size_t tlen;
	int i;

	memset(m, 0, sizeof(*m));
	*why = NULL;
	if (len >= PAIR_MSG_MAX) {
		*why = "length";
		return PAIR_E_TOO_LONG;
	}
	/* One object, nothing around it: no blanks, no "\r". */
	if (len == 0 || memchr(buf, '\0', len) != NULL || buf[0] != '{' ||
	    buf[len - 1] != '}') {
		*why = "object";
		return PAIR_E_SYNTAX;
	}
	/* Depth 3 holds every message: object, digest object, string. */
	if ((tok = json_tokener_new_ex(3)) == NULL) {
		*why = "memory";
		return PAIR_E_SYNTAX;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
	if (o == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(o, json_type_object)) {
		json_tokener_free(tok);
		json_object_put(o);
		*why = "object";
		return PAIR_E_SYNTAX;
	}
	json_tokener_free(tok);
	st = PAIR_E_TYPE;
	*why = "t";
	if ((s = get_str(o, "t", &tlen)) == NULL)
		goto out;
	for (i = 0; i < PAIR_MSG_NTYPES; i++)
		if (strlen(type_names[i]) == tlen &&
		    memcmp(type_names[i], s, tlen) == 0)
			break;
	if (i == PAIR_MSG_NTYPES)
		goto out;
	m->type = (enum pair_msg_type)i;
	*why = NULL;
	switch (m->type) {
	case PAIR_MSG_HELLO:
		st = parse_hello(o, m, why);
		break;
	case PAIR_MSG_ROLE:
		st = parse_role(o, m, why);
		break;
	case PAIR_MSG_LEASE:
		st = parse_lease(o, m, why);
		break;
	case PAIR_MSG_SYNCED:
	case PAIR_MSG_PING:
	case PAIR_MSG_ACK:
		st = PAIR_OK;
		if (get_seq(o, &m->seq) == -1) {
			*why = "seq";
			st = PAIR_E_FIELD;
		}
		break;
	default:
		break;
	}
out:
	json_object_put(o);
	if (st != PAIR_OK) {
		enum pair_msg_type t = m->type;

		memset(m, 0, sizeof(*m));
		m->type = t;
	}
	return st;
}

/* --- writing ---------------------------------------------------------- */

static int
role_ok(const struct pair_msg *m)
{
	return m->role > PAIR_ROLE_SINGLE && m->role < PAIR_NROLES &&
	    m->since >= 0 && m->since <= PAIR_TIME_MAX && m->failover >= 0 &&
	    m->failover <= PAIR_TIME_MAX;
}

size_t
pair_msg_format(const struct pair_msg *m, char *buf, size_t len)
{
	char mac[18], a[INET_ADDRSTRLEN];
	int n = -1, i, k;
	size_t off;

	if (len == 0)
		return 0;
	switch (m->type) {
	case PAIR_MSG_HELLO:
		if (!role_ok(m) || !pair_name_ok(m->box, strlen(m->box)))
			return 0;
		n = snprintf(buf, len, "{\"t\":\"hello\",\"v\":%d,\"box\":"
		    "\"%s\",\"role\":\"%s\",\"since\":%" PRId64 ",\"failover\":"
		    "%" PRId64 ",\"digest\":{", PAIR_PROTO_VERSION, m->box,
		    pair_role_str(m->role), m->since, m->failover);
		for (i = 0, k = 0; n > 0 && (size_t)n < len &&
		    i < PAIR_DIGEST_NPARTS; i++) {
			if (m->digest[i][0] == '\0')
				continue;
			if (strlen(m->digest[i]) != PAIR_DIGEST_HEX ||
			    !hex_ok(m->digest[i], PAIR_DIGEST_HEX))
				return 0;
			off = (size_t)n;
			n += snprintf(buf + off, len - off, "%s\"%s\":\"%s\"",
			    k++ ? "," : "", part_names[i], m->digest[i]);
		}
		if (n > 0 && (size_t)n < len)
			n += snprintf(buf + n, len - (size_t)n, "}}\n");
		break;
	case PAIR_MSG_ROLE:
		if (!role_ok(m))
			return 0;
		n = snprintf(buf, len, "{\"t\":\"role\",\"role\":\"%s\","
		    "\"since\":%" PRId64 ",\"failover\":%" PRId64 "}\n",
		    pair_role_str(m->role), m->since, m->failover);
		break;
	case PAIR_MSG_LEASE:
		if (m->seq == 0 || m->seq > PAIR_SEQ_MAX || m->ttl < -1 ||
		    m->ttl > PAIR_TTL_MAX || (m->mac[0] & 1) ||
		    m->addr.s_addr == 0 ||
		    (m->client_id[0] != '\0' && !lease_client_id_ok(
		    m->client_id, strlen(m->client_id))) ||
		    (m->hostname[0] != '\0' && !lease_hostname_ok(m->hostname,
		    strlen(m->hostname))))
			return 0;
		lan_format_mac(m->mac, mac, sizeof(mac));
		inet_ntop(AF_INET, &m->addr, a, sizeof(a));
		n = snprintf(buf, len, "{\"t\":\"lease\",\"seq\":%" PRIu64
		    ",\"op\":\"%s\",\"mac\":\"%s\",\"ip\":\"%s\",\"ttl\":%"
		    PRId64 "%s%s%s%s%s%s}\n", m->seq, m->del ? "del" : "add",
		    mac, a, m->ttl,
		    m->client_id[0] ? ",\"client_id\":\"" : "", m->client_id,
		    m->client_id[0] ? "\"" : "",
		    m->hostname[0] ? ",\"hostname\":\"" : "", m->hostname,
		    m->hostname[0] ? "\"" : "");
		break;
	case PAIR_MSG_SYNCED:
	case PAIR_MSG_PING:
	case PAIR_MSG_ACK:
		if (m->seq > PAIR_SEQ_MAX)
			return 0;
		n = snprintf(buf, len, "{\"t\":\"%s\",\"seq\":%" PRIu64 "}\n",
		    type_names[m->type], m->seq);
		break;
	default:
		return 0;
	}
	if (n <= 0 || (size_t)n >= len || (size_t)n > PAIR_MSG_MAX)
		return 0;
	return (size_t)n;
}
