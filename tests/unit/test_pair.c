/*
 * Tests for pair.c: the pair section's rules (each error at its
 * file:line:column), the digests of the shared settings, and the link
 * itself -- two pair modules on one event loop, over loopback, with real
 * TLS and certificates made here: hellos and agreement, lease changes
 * acknowledged (lag back to 0), role messages, the snapshot that brings
 * a returning peer up to date, a peer with the wrong certificate refused,
 * and a peer with the right one that sends garbage cut off.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/util.h"
#include "daemon/config.h"
#include "site/lan.h"
#include "site/leases.h"
#include "site/pair.h"
#include "site/site.h"
#include "testutil.h"

#define WAIT_MS		10000

/* --- certificates ------------------------------------------------------ */

/* A self-signed P-256 certificate and its key, as dir/name.{pem,key}. */
static void
make_cert(const char *dir, const char *name)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;
	char path[256];
	FILE *fp;

	assert_non_null(k);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0);
	X509_set_issuer_name(x, n);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(PEM_write_X509(fp, x), 1);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	assert_non_null(fp = fopen(path, "w"));
	assert_int_equal(PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL,
	    NULL), 1);
	fclose(fp);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* A free port on 127.0.0.1 (bound to 0, then let go). */
static unsigned
free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* --- fixture ---------------------------------------------------------------- */

struct box {
	struct config	*conf;
	struct site	*site;
	struct pair	*pair;
};

struct fx {
	char			 dir[64];
	struct event_base	*base;
	unsigned		 port[2];
	struct box		 b[2];
	struct config		*old[8];	/* freed at the end */
	size_t			 nold;
};

static const char *
yaml_of(struct fx *fx, int i, const char *peer_cert, const char *extra)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
	    "lan: {interface: plc0, address: 10.42.0.1/24}\n"
	    "dhcp:\n"
	    "  range: 10.42.0.100-10.42.0.250\n"
	    "  chargers:\n"
	    "    - {id: ZAP000101, mac: \"02:42:00:00:00:01\", "
	    "address: 10.42.0.21}\n"
	    "%s"
	    "pair:\n"
	    "  name: gw-%c\n"
	    "  address: 10.42.0.%d\n"
	    "  listen: 127.0.0.1:%u\n"
	    "  peer: 127.0.0.1:%u\n"
	    "  certificate: %s/gw-%c.pem\n"
	    "  key: %s/gw-%c.key\n"
	    "  peer_certificate: %s/%s.pem\n",
	    extra ? extra : "", 'a' + i, 2 + i, fx->port[i], fx->port[!i],
	    fx->dir, 'a' + i, fx->dir, 'a' + i, fx->dir,
	    peer_cert ? peer_cert : i ? "gw-a" : "gw-b");
	return buf;
}

static struct config *
load(const char *text, char *err, size_t errlen)
{
	return config_load_buffer("p.yaml", (const uint8_t *)text,
	    strlen(text), err, errlen);
}

/* Give box i the configuration text (prepare, commit); 0 or -1. */
static int
box_apply(struct fx *fx, int i, const char *text)
{
	struct box *b = &fx->b[i];
	struct pair_conf pc;
	struct config *c;
	char err[1024];

	if ((c = load(text, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	config_pair(c, &pc);
	if (pair_prepare(b->pair, &pc, err, sizeof(err)) == -1) {
		config_free(c);
		return -1;
	}
	pair_commit(b->pair);
	if (b->conf != NULL)
		fx->old[fx->nold++] = b->conf;
	b->conf = c;
	return 0;
}

static void
box_start(struct fx *fx, int i, const char *peer_cert, const char *extra)
{
	fx->b[i].site = site_new(fx->base, NULL);
	fx->b[i].pair = pair_new(fx->base, fx->b[i].site);
	site_set_lease_cb(fx->b[i].site, pair_lease_changed, fx->b[i].pair);
	assert_int_equal(box_apply(fx, i, yaml_of(fx, i, peer_cert, extra)),
	    0);
}

static void
box_stop(struct fx *fx, int i)
{
	struct box *b = &fx->b[i];

	pair_free(b->pair);
	site_free(b->site);
	config_free(b->conf);
	memset(b, 0, sizeof(*b));
}

static int
setup(void **state)
{
	struct fx *fx = xcalloc(1, sizeof(*fx));

	assert_int_equal(test_tmpdir(fx->dir, sizeof(fx->dir), "test_pair"),
	    0);
	make_cert(fx->dir, "gw-a");
	make_cert(fx->dir, "gw-b");
	make_cert(fx->dir, "stranger");
	fx->base = event_base_new();
	fx->port[0] = free_port();
	do
		fx->port[1] = free_port();
	while (fx->port[1] == fx->port[0]);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	size_t i;

	box_stop(fx, 0);
	box_stop(fx, 1);
	for (i = 0; i < fx->nold; i++)
		config_free(fx->old[i]);
	event_base_free(fx->base);
	test_rmtree(fx->dir);
	free(fx);
	return 0;
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
}

/* Run the loop until pred(fx) or WAIT_MS; returns pred's last value. */
static int
wait_for(struct fx *fx, int (*pred)(struct fx *))
{
	struct event *wake = evtimer_new(fx->base, wake_cb, NULL);
	struct timeval tv = { 0, 20000 };
	uint64_t end = now_mono_ms() + WAIT_MS;
	int ok;

	while (!(ok = pred(fx)) && now_mono_ms() < end) {
		evtimer_add(wake, &tv);
		event_base_loop(fx->base, EVLOOP_ONCE);
	}
	event_free(wake);
	return ok;
}

static void
settle(struct fx *fx, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(fx->base, &tv);
	event_base_dispatch(fx->base);
}

static struct pair_peer_info
info(struct fx *fx, int i)
{
	struct pair_peer_info pi;

	pair_peer_info(fx->b[i].pair, &pi);
	return pi;
}

static int
both_linked(struct fx *fx)
{
	return info(fx, 0).out_up && info(fx, 0).in_up && info(fx, 1).out_up &&
	    info(fx, 1).in_up && info(fx, 0).agree != -1 &&
	    info(fx, 1).agree != -1;
}

/* A lease as box i's dnsmasq would report it. */
static void
lease_change(struct fx *fx, int i, enum lease_action a, const char *mac,
    const char *addr, int64_t expires)
{
	struct lease_change lc;

	memset(&lc, 0, sizeof(lc));
	lc.action = a;
	assert_int_equal(lan_parse_mac(mac, strlen(mac), lc.mac), 0);
	assert_int_equal(inet_pton(AF_INET, addr, &lc.addr), 1);
	lc.expires = expires;
	lc.client_id = "";
	lc.hostname = "ZAP000101";
	pair_lease_changed(&lc, fx->b[i].pair);
}

static const struct lease_info *
lease_at(struct fx *fx, int i, const char *addr)
{
	struct in_addr a;

	inet_pton(AF_INET, addr, &a);
	return leases_by_addr(site_leases(fx->b[i].site), a);
}

static int
b_has_21(struct fx *fx)
{
	return lease_at(fx, 1, "10.42.0.21") != NULL;
}

static int
a_lag_zero(struct fx *fx)
{
	return info(fx, 0).lag_changes == 0;
}

static int
b_lag_zero(struct fx *fx)
{
	return info(fx, 1).lag_changes == 0;
}

static int
b_lacks_21(struct fx *fx)
{
	return lease_at(fx, 1, "10.42.0.21") == NULL;
}

static int
a_knows_b_master(struct fx *fx)
{
	return info(fx, 0).role == PAIR_ROLE_MASTER;
}

static int
a_has_30(struct fx *fx)
{
	return lease_at(fx, 0, "10.42.0.30") != NULL;
}

/* --- the pair section ------------------------------------------------------ */

/* text with its first "from" replaced by "to", in out. */
static const char *
subst(const char *text, const char *from, const char *to, char *out,
    size_t len)
{
	const char *p = strstr(text, from);

	assert_non_null(p);
	snprintf(out, len, "%.*s%s%s", (int)(p - text), text, to,
	    p + strlen(from));
	return out;
}

static void
expect_error(struct fx *fx, const char *text, const char *want)
{
	char err[1024];
	struct config *c = load(text, err, sizeof(err));

	if (c != NULL) {
		config_free(c);
		fail_msg("accepted, expected \"%s\"", want);
	}
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\", expected \"%s\"", err, want);
}

static void
test_section(void **state)
{
	struct fx *fx = *state;
	char base[4096], text[4096], err[1024], p1[64], p2[64];
	struct config *c;

	/* The fixture's own files are fine. */
	assert_non_null(c = load(yaml_of(fx, 0, NULL, NULL), err, sizeof(err)));
	assert_string_equal(c->pair->name, "gw-a");
	config_free(c);

	/* Own address: not the virtual one, inside, outside the range. */
	strlcpy(base, yaml_of(fx, 0, NULL, NULL), sizeof(base));
	expect_error(fx, subst(base, "address: 10.42.0.2\n", "address: "
	    "10.42.0.1\n", text, sizeof(text)), "p.yaml:8:12: pair.address: "
	    "10.42.0.1 is lan.address, the virtual address");
	expect_error(fx, subst(base, "address: 10.42.0.2\n", "address: "
	    "10.43.0.2\n", text, sizeof(text)), "is outside lan.address's "
	    "subnet");
	expect_error(fx, subst(base, "address: 10.42.0.2\n", "address: "
	    "10.42.0.199\n", text, sizeof(text)), "is inside dhcp.range");
	expect_error(fx, subst(base, "address: 10.42.0.2\n", "address: "
	    "10.42.0.21\n", text, sizeof(text)), "is reserved for charger "
	    "ZAP000101");
	expect_error(fx, subst(base, "address: 10.42.0.2\n", "address: "
	    "10.42.0/24\n", text, sizeof(text)), "p.yaml:8:12: pair.address: "
	    "\"10.42.0/24\" is not an IPv4 address");

	/* The peer: not ourselves, not the virtual address. */
	snprintf(p2, sizeof(p2), "peer: 127.0.0.1:%u\n", fx->port[1]);
	expect_error(fx, subst(base, p2, "peer: 10.42.0.1:7411\n", text,
	    sizeof(text)), "pair.peer: 10.42.0.1:7411 is the virtual address");
	snprintf(p1, sizeof(p1), "peer: 127.0.0.1:%u\n", fx->port[0]);
	expect_error(fx, subst(base, p2, p1, text, sizeof(text)),
	    "is pair.listen, this box's own address");
	expect_error(fx, subst(base, p2, "peer: 0.0.0.0:7411\n", text,
	    sizeof(text)), "give an address, not 0.0.0.0");

	/* Certificates: readable, PEM, the key fits. */
	expect_error(fx, subst(base, "gw-a.key", "gw-b.key", text,
	    sizeof(text)), "gw-b.key is not the key of");
	expect_error(fx, yaml_of(fx, 0, "nothere", NULL),
	    "pair.peer_certificate: cannot read");
	expect_error(fx, subst(base, "gw-a.pem", "gw-a.key", text,
	    sizeof(text)), "no PEM certificate in it");

	/* A name, a lan section. */
	expect_error(fx, subst(base, "name: gw-a", "name: -w-a", text,
	    sizeof(text)), "p.yaml:7:9: pair.name: \"-w-a\": a box's "
	    "name is like a charger id");
	strlcpy(text, strstr(yaml_of(fx, 0, NULL, NULL), "pair:"),
	    sizeof(text));
	expect_error(fx, text, "the pair section needs a lan section");
}

static void
test_digests(void **state)
{
	struct fx *fx = *state;
	char d1[PAIR_DIGEST_NPARTS][PAIR_DIGEST_HEX + 1];
	char d2[PAIR_DIGEST_NPARTS][PAIR_DIGEST_HEX + 1];
	struct pair_conf pc;
	struct config *c1, *c2;
	char err[1024];

	/* The same settings in another order and case: the same digests. */
	assert_non_null(c1 = load(yaml_of(fx, 0, NULL, "dns: {steer: "
	    "[b.example, A.example]}\nrelay:\n  listen: 10.42.0.1\n  routes:\n"
	    "    - {port: 8883, allow: [hub.example]}\n    - {port: 443, "
	    "allow: [x.example, y.example]}\nwan: {resolvers: [192.0.2.53]}\n"),
	    err, sizeof(err)));
	assert_non_null(c2 = load(yaml_of(fx, 1, NULL, "dns: {steer: "
	    "[a.example., B.example]}\nrelay:\n  listen: 10.42.0.1\n  routes:\n"
	    "    - {port: 443, allow: [y.example, X.example]}\n    - {port: "
	    "8883, allow: [hub.example]}\nwan: {resolvers: [192.0.2.54]}\n"),
	    err, sizeof(err)));
	config_pair(c1, &pc);
	pair_digests(&pc, d1);
	config_pair(c2, &pc);
	pair_digests(&pc, d2);
	assert_memory_equal(d1, d2, sizeof(d1));
	assert_int_equal(strlen(d1[0]), PAIR_DIGEST_HEX);
	config_free(c2);
	/* Another route: only the relay part differs. */
	assert_non_null(c2 = load(yaml_of(fx, 1, NULL, "dns: {steer: "
	    "[a.example., B.example]}\nrelay:\n  listen: 10.42.0.1\n  routes:\n"
	    "    - {port: 443, allow: [y.example]}\n    - {port: "
	    "8883, allow: [hub.example]}\nwan: {resolvers: [192.0.2.54]}\n"),
	    err, sizeof(err)));
	config_pair(c2, &pc);
	pair_digests(&pc, d2);
	assert_string_equal(d1[PAIR_DIGEST_LAN], d2[PAIR_DIGEST_LAN]);
	assert_string_equal(d1[PAIR_DIGEST_RESERVATIONS],
	    d2[PAIR_DIGEST_RESERVATIONS]);
	assert_string_not_equal(d1[PAIR_DIGEST_RELAY], d2[PAIR_DIGEST_RELAY]);
	config_free(c1);
	config_free(c2);
}

/* --- the link ----------------------------------------------------------- */

static void
test_link(void **state)
{
	struct fx *fx = *state;
	struct json_object *st, *v;
	int64_t now = (int64_t)(now_wall_ms() / 1000);

	box_start(fx, 0, NULL, NULL);
	box_start(fx, 1, NULL, NULL);
	assert_true(wait_for(fx, both_linked));
	assert_int_equal(info(fx, 0).agree, 1);
	assert_string_equal(info(fx, 0).box, "gw-b");
	assert_string_equal(info(fx, 1).box, "gw-a");

	/* A lease of A's dnsmasq reaches B, and B acknowledges it. */
	lease_change(fx, 0, LEASE_ADD, "02:42:00:00:00:01", "10.42.0.21",
	    now + 3600);
	assert_true(wait_for(fx, b_has_21));
	assert_true(wait_for(fx, a_lag_zero));
	assert_true(lease_at(fx, 1, "10.42.0.21")->expires >= now + 3597);
	assert_string_equal(lease_at(fx, 1, "10.42.0.21")->charger,
	    "ZAP000101");
	/* ... merged, never sent back: B sent nothing of its own. */
	st = pair_status(fx->b[1].pair);
	json_object_object_get_ex(st, "sync", &v);
	json_object_object_get_ex(v, "sent", &v);
	assert_int_equal(json_object_get_int64(v), 0);
	json_object_put(st);
	/* Its end too. */
	lease_change(fx, 0, LEASE_DEL, "02:42:00:00:00:01", "10.42.0.21",
	    now + 3600);
	assert_true(wait_for(fx, b_lacks_21));

	/* A role message. */
	pair_set_role(fx->b[1].pair, PAIR_ROLE_MASTER, now_wall_ms(),
	    now_wall_ms());
	assert_true(wait_for(fx, a_knows_b_master));
	assert_true(info(fx, 0).failover_ms > 0);
}

/* The peer away: changes count as lag, and the snapshot brings it back. */
static void
test_snapshot(void **state)
{
	struct fx *fx = *state;
	struct lease_peer lp;
	const char *why;
	int64_t now = (int64_t)(now_wall_ms() / 1000);

	box_start(fx, 0, NULL, NULL);
	box_start(fx, 1, NULL, NULL);
	assert_true(wait_for(fx, both_linked));
	box_stop(fx, 0);

	/* B (now master) gives a lease while A is down. */
	memset(&lp, 0, sizeof(lp));
	assert_int_equal(lan_parse_mac("02:42:00:00:00:30", 17, lp.mac), 0);
	inet_pton(AF_INET, "10.42.0.30", &lp.addr);
	lp.expires = now + 600;
	assert_int_equal(site_lease_merge(fx->b[1].site, &lp, &why),
	    LEASE_MERGE_APPLIED);
	lease_change(fx, 1, LEASE_ADD, "02:42:00:00:00:30", "10.42.0.30",
	    now + 600);
	settle(fx, 200);
	assert_int_equal(info(fx, 1).lag_changes, 1);
	assert_false(info(fx, 1).out_up);

	/* A returns with an empty table and learns it. */
	box_start(fx, 0, NULL, NULL);
	assert_true(wait_for(fx, a_has_30));
	assert_true(wait_for(fx, both_linked));
	assert_true(wait_for(fx, b_lag_zero));
	assert_true(lease_at(fx, 0, "10.42.0.30")->expires <= now + 601);
}

static int
b_has_error(struct fx *fx)
{
	struct json_object *st = pair_status(fx->b[1].pair), *peer, *e;
	int ok;

	json_object_object_get_ex(st, "peer", &peer);
	ok = json_object_object_get_ex(peer, "last_error", &e) && e != NULL &&
	    strstr(json_object_get_string(e), "certificate") != NULL;
	json_object_put(st);
	return ok;
}

/* A box that shows another certificate than the pinned one: refused. */
static void
test_pin(void **state)
{
	struct fx *fx = *state;

	box_start(fx, 0, "stranger", NULL);	/* A expects "stranger" */
	box_start(fx, 1, NULL, NULL);
	assert_true(wait_for(fx, b_has_error));
	assert_false(info(fx, 0).in_up);
	assert_false(info(fx, 1).out_up);
	assert_string_equal(info(fx, 0).box, "");
}

/* Settings that differ are seen and named. */
static void
test_disagree(void **state)
{
	struct fx *fx = *state;
	struct json_object *st, *cfg, *d;

	box_start(fx, 0, NULL, NULL);
	box_start(fx, 1, NULL, NULL);
	assert_true(wait_for(fx, both_linked));
	assert_int_equal(info(fx, 0).agree, 1);
	/* B reloads with a DNS name A does not steer: both see it. */
	assert_int_equal(box_apply(fx, 1, yaml_of(fx, 1, NULL,
	    "dns: {steer: [extra.example]}\n")), 0);
	settle(fx, 300);
	assert_int_equal(info(fx, 0).agree, 0);
	st = pair_status(fx->b[0].pair);
	json_object_object_get_ex(st, "config", &cfg);
	json_object_object_get_ex(cfg, "differs", &d);
	assert_int_equal(json_object_array_length(d), 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(
	    d, 0)), "dns");
	json_object_put(st);
	/* the link itself stays up through the reload */
	assert_true(info(fx, 0).in_up);
	assert_true(info(fx, 1).out_up);
}

/* --- a peer with the right certificate that sends garbage ---------------- */

struct raw {
	struct bufferevent	*bev;
	int			 connected;
	int			 closed;
};

static void
raw_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct raw *r = arg;

	if (what & BEV_EVENT_CONNECTED)
		r->connected = 1;
	else
		r->closed = 1;
}

static struct raw raw;

static int
raw_connected(struct fx *fx)
{
	return raw.connected || raw.closed;
}

static int
raw_closed(struct fx *fx)
{
	return raw.closed;
}

/* A TLS context with B's certificate and key (client or server). */
static SSL_CTX *
ctx_as_b(struct fx *fx, const SSL_METHOD *method)
{
	SSL_CTX *ctx = SSL_CTX_new(method);
	char path[256];

	snprintf(path, sizeof(path), "%s/gw-b.pem", fx->dir);
	assert_int_equal(SSL_CTX_use_certificate_file(ctx, path,
	    SSL_FILETYPE_PEM), 1);
	snprintf(path, sizeof(path), "%s/gw-b.key", fx->dir);
	assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, path,
	    SSL_FILETYPE_PEM), 1);
	return ctx;
}

/* raw as a TLS client on fd (-1: a socket connected later). */
static void
raw_start(struct fx *fx, SSL_CTX *ctx, int fd)
{
	memset(&raw, 0, sizeof(raw));
	raw.bev = bufferevent_openssl_socket_new(fx->base, fd, SSL_new(ctx),
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_openssl_set_allow_dirty_shutdown(raw.bev, 1);
	bufferevent_setcb(raw.bev, NULL, NULL, raw_event_cb, &raw);
	bufferevent_enable(raw.bev, EV_READ | EV_WRITE);
}

static void
test_garbage(void **state)
{
	struct fx *fx = *state;
	struct json_object *st, *sync, *v;
	struct sockaddr_in sin;
	SSL_CTX *ctx;

	box_start(fx, 0, NULL, NULL);
	/* B's certificate, but our own bytes. */
	ctx = ctx_as_b(fx, TLS_client_method());
	raw_start(fx, ctx, -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)fx->port[0]);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bufferevent_socket_connect(raw.bev,
	    (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_true(wait_for(fx, raw_connected));
	assert_true(raw.connected);
	/* A lease before a hello is refused as much as garbage. */
	{
		static const char m[] = "{\"t\":\"lease\",\"seq\":1,\"op\":"
		    "\"add\",\"mac\":\"02:42:00:00:00:01\",\"ip\":"
		    "\"10.42.0.21\",\"ttl\":9}\n";

		bufferevent_write(raw.bev, m, sizeof(m) - 1);
	}
	assert_true(wait_for(fx, raw_closed));
	assert_null(lease_at(fx, 0, "10.42.0.21"));
	bufferevent_free(raw.bev);

	raw_start(fx, ctx, -1);
	assert_int_equal(bufferevent_socket_connect(raw.bev,
	    (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_true(wait_for(fx, raw_connected));
	bufferevent_write(raw.bev, "{\"t\":\"lease\",\"seq\":1}\r\n", 24);
	assert_true(wait_for(fx, raw_closed));
	bufferevent_free(raw.bev);
	SSL_CTX_free(ctx);

	st = pair_status(fx->b[0].pair);
	json_object_object_get_ex(st, "sync", &sync);
	json_object_object_get_ex(sync, "bad_messages", &v);
	assert_int_equal(json_object_get_int64(v), 1);
	json_object_put(st);
	/* ... and A goes on: the real B links up. */
	box_start(fx, 1, NULL, NULL);
	assert_true(wait_for(fx, both_linked));
}

/*
 * A reload with the same certificates while a peer's handshake is pending:
 * the handshake goes on with the old contexts, whose pin must still be
 * there (the reload freed it once: verify_cb then compared the peer's
 * certificate with freed memory).
 */
static void
test_reload_during_handshake(void **state)
{
	struct fx *fx = *state;
	struct json_object *st, *peer, *e;
	struct sockaddr_in sin;
	SSL_CTX *ctx;
	int fd;

	box_start(fx, 0, NULL, NULL);
	/* A takes the TCP connection: its TLS session starts, on the
	 * contexts of now. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)fx->port[0]);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(evutil_make_socket_nonblocking(fd), 0);
	settle(fx, 100);
	/* The same configuration again: no restart, the session stays. */
	assert_int_equal(box_apply(fx, 0, yaml_of(fx, 0, NULL, NULL)), 0);
	/* Now B's certificate arrives. */
	ctx = ctx_as_b(fx, TLS_client_method());
	raw_start(fx, ctx, fd);
	assert_true(wait_for(fx, raw_connected));
	assert_true(raw.connected);
	/* A checks the client's certificate after our side is done: give
	 * it the time, then it must have taken it (no pin mismatch). */
	settle(fx, 200);
	assert_false(raw.closed);
	st = pair_status(fx->b[0].pair);
	json_object_object_get_ex(st, "peer", &peer);
	if (json_object_object_get_ex(peer, "last_error", &e) && e != NULL)
		assert_null(strstr(json_object_get_string(e), "certificate"));
	json_object_put(st);
	bufferevent_free(raw.bev);
	SSL_CTX_free(ctx);
}

/*
 * A peer that takes the TLS connection and closes it at once (another
 * version mid-upgrade, say): the back-off does not start afresh at each
 * handshake, so it is not called every second.
 */
struct flaky {
	SSL_CTX			*ctx;
	struct evconnlistener	*lst;
	int			 accepted;
};

static void
flaky_event_cb(struct bufferevent *bev, short what, void *arg)
{
	/* Connected (its handshake done) or failed: either way, gone. */
	bufferevent_free(bev);
}

static void
flaky_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct flaky *f = arg;
	struct bufferevent *bev;

	f->accepted++;
	bev = bufferevent_openssl_socket_new(evconnlistener_get_base(l), fd,
	    SSL_new(f->ctx), BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, NULL, NULL, flaky_event_cb, f);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* A counter of box i's status "sync" section (-1: not there). */
static long
sync_counter(struct fx *fx, int i, const char *key)
{
	struct json_object *st = pair_status(fx->b[i].pair), *sync, *v;
	long n = -1;

	if (json_object_object_get_ex(st, "sync", &sync) &&
	    json_object_object_get_ex(sync, key, &v))
		n = (long)json_object_get_int64(v);
	json_object_put(st);
	return n;
}

static void
test_backoff_short_links(void **state)
{
	struct fx *fx = *state;
	struct flaky f;
	struct sockaddr_in sin;
	int n;

	memset(&f, 0, sizeof(f));
	f.ctx = ctx_as_b(fx, TLS_server_method());
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)fx->port[1]);	/* B's address */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f.lst = evconnlistener_new_bind(fx->base, flaky_accept_cb, &f,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
	    (struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(f.lst);
	box_start(fx, 0, NULL, NULL);
	/* 1 s, 2 s, 4 s apart: 3 within 4.5 s (every second: 5). */
	settle(fx, 4500);
	n = (int)sync_counter(fx, 0, "connects");
	if (n < 1 || n > 3)
		fail_msg("%d links to a peer that closes them at once in "
		    "4.5 s (expected at most 3)", n);
	assert_true(f.accepted >= n);
	evconnlistener_free(f.lst);
	SSL_CTX_free(f.ctx);
}

/* A silent client's socket: 1 if the other end closed it, else 0. */
static int
peek_closed(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	if (n == 0 || (n == -1 && errno == ECONNRESET))
		return 1;
	return 0;
}

/*
 * Whoever reaches the pair port can open connections and say nothing:
 * each holds one of PAIR_MAX_PENDING handshake slots for 10 s.  The
 * peer's connection (from pair.peer's address) takes the oldest such
 * slot instead of being refused; the others are refused while full.
 */
static void
test_handshake_slots(void **state)
{
	struct fx *fx = *state;
	struct sockaddr_in src, dst;
	int fds[PAIR_MAX_PENDING + 2], i;

	box_start(fx, 0, NULL, NULL);
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(0x7f000002);	/* 127.0.0.2 */
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)fx->port[0]);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < PAIR_MAX_PENDING + 2; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(fds[i] >= 0);
		assert_int_equal(bind(fds[i], (struct sockaddr *)&src,
		    sizeof(src)), 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&dst,
		    sizeof(dst)), 0);
		settle(fx, 50);
	}
	settle(fx, 200);
	assert_int_equal(sync_counter(fx, 0, "handshakes_refused"), 2);
	assert_int_equal(sync_counter(fx, 0, "handshakes_dropped"), 0);
	assert_true(peek_closed(fds[PAIR_MAX_PENDING]));
	assert_true(peek_closed(fds[PAIR_MAX_PENDING + 1]));
	assert_false(peek_closed(fds[0]));
	/* B, from 127.0.0.1 (A's pair.peer), links up at once. */
	box_start(fx, 1, NULL, NULL);
	assert_true(wait_for(fx, both_linked));
	assert_int_equal(sync_counter(fx, 0, "handshakes_dropped"), 1);
	/* the oldest silent one made room; the others still wait */
	assert_true(peek_closed(fds[0]));
	for (i = 1; i < PAIR_MAX_PENDING; i++)
		assert_false(peek_closed(fds[i]));
	for (i = 0; i < PAIR_MAX_PENDING + 2; i++)
		close(fds[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_section, setup, teardown),
		cmocka_unit_test_setup_teardown(test_digests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disagree, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_during_handshake,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_handshake_slots, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_backoff_short_links,
		    setup, teardown),
	};

	/* As evgated does: a write to a closed TLS link is an error. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
