/*
 * pair: the link between the two boxes of a redundant pair (see pair.h).
 *
 * Two kinds of connection, each one TLS bufferevent on the daemon's loop:
 *
 *   out  the one we open to pair.peer: we send hello, role changes, the
 *        snapshot and our dnsmasq's lease changes, and read acks;
 *   in   the one the peer opened to pair.listen: we read its messages,
 *        merge its leases into the site's table and acknowledge.
 *
 * A connection is "up" once TLS is done and the peer showed exactly the
 * pinned certificate (checked in the handshake's verify callback and once
 * more after it).  Until then it is pending, with a deadline.  The
 * outbox holds (seq, time) of what was sent and not yet acknowledged:
 * the lag.  While the out connection is down, changes are only counted
 * (the snapshot at the next connect carries them).
 */
#include "evgate_config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/cfg.h"
#include "common/events.h"
#include "common/log.h"
#include "common/util.h"
#include "relay/relay_conf.h"
#include "site/lan.h"
#include "site/leases.h"
#include "site/pair.h"
#include "site/pair_proto.h"
#include "site/site.h"

/* --- the pair section -------------------------------------------------- */

static int
pair_name(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_pair *p = arg;
	const char *why;

	if (cfg_str(ctx, node, &p->name) == -1)
		return -1;
	if ((why = lan_check_id(p->name, strlen(p->name))) != NULL)
		return cfg_error(ctx, node, "\"%.64s\": a box's name is like a "
		    "charger id: %s", p->name, why + (strncmp(why, "a charger "
		    "id ", 13) == 0 ? 13 : 0));
	return 0;
}

static int
pair_address(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_pair *p = arg;
	const char *v;

	if ((v = cfg_scalar(ctx, node, "this box's own IPv4 address on the "
	    "LAN", NULL)) == NULL)
		return -1;
	p->address_mark = cfg_mark(node);
	if (inet_pton(AF_INET, v, &p->address) != 1 || p->address.s_addr == 0)
		return cfg_error(ctx, node, "\"%.64s\" is not an IPv4 address "
		    "(this box's own address on lan.interface, without a "
		    "prefix)", v);
	return 0;
}

static int
pair_sockaddr(struct cfg_ctx *ctx, struct cfg_node *node,
    struct cfg_sockaddr *sa, struct cfg_mark *mark)
{
	const struct sockaddr_in *sin;

	*mark = cfg_mark(node);
	if (cfg_addr(ctx, node, PAIR_DEFAULT_PORT, sa) == -1)
		return -1;
	sin = (const struct sockaddr_in *)&sa->ss;
	if (sa->ss.ss_family == AF_INET && sin->sin_addr.s_addr == INADDR_ANY)
		return cfg_error(ctx, node, "give an address, not 0.0.0.0");
	if (sa->ss.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)&sa->ss)->sin6_addr))
		return cfg_error(ctx, node, "give an address, not ::");
	return 0;
}

static int
pair_listen(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_pair *p = arg;

	return pair_sockaddr(ctx, node, &p->listen, &p->listen_mark);
}

static int
pair_peer(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_pair *p = arg;

	return pair_sockaddr(ctx, node, &p->peer, &p->peer_mark);
}

/* A readable file that holds what load says; the error names the file. */
static int
pem_file(struct cfg_ctx *ctx, struct cfg_node *node, char **path,
    int (*load)(const char *, void **, char *, size_t), void **out)
{
	char err[512];

	if (cfg_str(ctx, node, path) == -1)
		return -1;
	if ((*path)[0] != '/')
		return cfg_error(ctx, node, "the path must be absolute");
	if (load(*path, out, err, sizeof(err)) == -1)
		return cfg_error(ctx, node, "%s", err);
	return 0;
}

static int
load_cert(const char *path, void **out, char *err, size_t errlen)
{
	X509 *x = NULL;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		return -1;
	}
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	ERR_clear_error();
	if (x == NULL) {
		snprintf(err, errlen, "%s: no PEM certificate in it", path);
		return -1;
	}
	*out = x;
	return 0;
}

static int
load_key(const char *path, void **out, char *err, size_t errlen)
{
	EVP_PKEY *k = NULL;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		return -1;
	}
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	ERR_clear_error();
	if (k == NULL) {
		snprintf(err, errlen, "%s: no unencrypted PEM private key in "
		    "it", path);
		return -1;
	}
	*out = k;
	return 0;
}

struct pair_parse {
	struct cfg_pair	*p;
	X509		*cert;
	EVP_PKEY	*key;
	struct cfg_mark	 key_mark;
};

static int
pair_cert(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct pair_parse *pp = arg;

	return pem_file(ctx, node, &pp->p->cert_file, load_cert,
	    (void **)&pp->cert);
}

static int
pair_key(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct pair_parse *pp = arg;

	pp->key_mark = cfg_mark(node);
	return pem_file(ctx, node, &pp->p->key_file, load_key,
	    (void **)&pp->key);
}

static int
pair_peer_cert(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct pair_parse *pp = arg;
	X509 *x = NULL;
	int rv;

	rv = pem_file(ctx, node, &pp->p->peer_cert_file, load_cert,
	    (void **)&x);
	X509_free(x);
	return rv;
}

/* The keys' functions get the cfg_pair through pair_parse. */
#define PP(fn)								\
static int								\
fn##_pp(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)		\
{									\
	return fn(ctx, node, ((struct pair_parse *)arg)->p);		\
}
PP(pair_name)
PP(pair_address)
PP(pair_listen)
PP(pair_peer)
#undef PP

int
pair_cfg_section(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "name", pair_name_pp, 1 },
		{ "address", pair_address_pp, 1 },
		{ "listen", pair_listen_pp, 1 },
		{ "peer", pair_peer_pp, 1 },
		{ "certificate", pair_cert, 1 },
		{ "key", pair_key, 1 },
		{ "peer_certificate", pair_peer_cert, 1 },
		{ NULL, NULL, 0 },
	};
	struct cfg_pair **out = arg;
	struct pair_parse pp;
	int rv;

	memset(&pp, 0, sizeof(pp));
	pp.p = *out = xcalloc(1, sizeof(**out));
	rv = cfg_map(ctx, node, keys, &pp);
	if (rv == 0 && pp.cert != NULL && pp.key != NULL &&
	    X509_check_private_key(pp.cert, pp.key) != 1)
		rv = cfg_error_at(ctx, &pp.key_mark, "%s is not the key of %s",
		    pp.p->key_file, pp.p->cert_file);
	ERR_clear_error();
	X509_free(pp.cert);
	EVP_PKEY_free(pp.key);
	return rv;
}

static uint32_t
h(struct in_addr a)
{
	return ntohl(a.s_addr);
}

static int
same_sockaddr(const struct cfg_sockaddr *a, const struct cfg_sockaddr *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

int
pair_cfg_check(struct cfg_ctx *ctx, struct cfg_node *root,
    const struct cfg_pair *p, const struct cfg_lan *lan,
    const struct cfg_dhcp *dhcp)
{
	char a[INET_ADDRSTRLEN], v[INET_ADDRSTRLEN];
	const struct sockaddr_in *sin;
	size_t i;

	if (lan == NULL)
		return cfg_error(ctx, root, "the pair section needs a lan "
		    "section: lan.address is the virtual address keepalived "
		    "moves between the two boxes");
	inet_ntop(AF_INET, &p->address, a, sizeof(a));
	inet_ntop(AF_INET, &lan->addr, v, sizeof(v));
	if (p->address.s_addr == lan->addr.s_addr)
		return cfg_error_at(ctx, &p->address_mark, "pair.address: %s "
		    "is lan.address, the virtual address the chargers use; "
		    "give this box's own address on %s", a, lan->interface);
	if (!lan_contains(lan, p->address))
		return cfg_error_at(ctx, &p->address_mark, "pair.address: %s "
		    "is outside lan.address's subnet %s", a, lan->text);
	if (dhcp != NULL && h(p->address) >= h(dhcp->range_lo) &&
	    h(p->address) <= h(dhcp->range_hi))
		return cfg_error_at(ctx, &p->address_mark, "pair.address: %s "
		    "is inside dhcp.range: dnsmasq could give it to a charger",
		    a);
	for (i = 0; dhcp != NULL && i < dhcp->ncharger; i++)
		if (dhcp->chargers[i].addr.s_addr == p->address.s_addr)
			return cfg_error_at(ctx, &p->address_mark,
			    "pair.address: %s is reserved for charger %s", a,
			    dhcp->chargers[i].id);
	if (same_sockaddr(&p->peer, &p->listen))
		return cfg_error_at(ctx, &p->peer_mark, "pair.peer: %s is "
		    "pair.listen, this box's own address", p->peer.text);
	sin = (const struct sockaddr_in *)&p->peer.ss;
	if (p->peer.ss.ss_family == AF_INET &&
	    (sin->sin_addr.s_addr == lan->addr.s_addr ||
	    sin->sin_addr.s_addr == p->address.s_addr))
		return cfg_error_at(ctx, &p->peer_mark, "pair.peer: %s is %s; "
		    "give the other box's address", p->peer.text,
		    sin->sin_addr.s_addr == lan->addr.s_addr ? "the virtual "
		    "address, which the master holds: this box could reach "
		    "itself" : "this box's own pair.address");
	sin = (const struct sockaddr_in *)&p->listen.ss;
	if (p->listen.ss.ss_family == AF_INET &&
	    sin->sin_addr.s_addr == lan->addr.s_addr)
		return cfg_error_at(ctx, &p->listen_mark, "pair.listen: %s is "
		    "the virtual address, which only the master holds",
		    p->listen.text);
	return 0;
}

void
pair_cfg_free(struct cfg_pair *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p->listen.text);
	free(p->peer.text);
	free(p->cert_file);
	free(p->key_file);
	free(p->peer_cert_file);
	free(p);
}

/* --- digests of what both boxes must share ------------------------------ */

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lower case, without a final dot: names as dnsmasq and the relay see them. */
static char *
lower_name(const char *s)
{
	char *d = xstrdup(s);
	size_t i;

	for (i = 0; d[i] != '\0'; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char)(d[i] - 'A' + 'a');
	if (i > 0 && d[i - 1] == '.')
		d[i - 1] = '\0';
	return d;
}

/* Print n names sorted, lower case, one a line, after tag. */
static void
print_names(FILE *fp, const char *tag, char *const *names, size_t n)
{
	char **v = xcalloc(n ? n : 1, sizeof(*v));
	size_t i;

	for (i = 0; i < n; i++)
		v[i] = lower_name(names[i]);
	qsort(v, n, sizeof(*v), strp_cmp);
	for (i = 0; i < n; i++) {
		fprintf(fp, "%s %s\n", tag, v[i]);
		free(v[i]);
	}
	free(v);
}

static int
route_cmp(const void *a, const void *b)
{
	const struct cfg_route *x = a, *y = b;

	return x->port < y->port ? -1 : x->port > y->port;
}

static void
digest_text(const struct pair_conf *c, enum pair_digest_part part, FILE *fp)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN], mac[18];
	struct cfg_route *routes;
	char **lines;
	size_t i, n;

	switch (part) {
	case PAIR_DIGEST_LAN:
		if (c->lan != NULL)
			fprintf(fp, "virtual %s/%u\n", inet_ntop(AF_INET,
			    &c->lan->addr, a, sizeof(a)), c->lan->prefix);
		break;
	case PAIR_DIGEST_DHCP:
		if (c->dhcp == NULL)
			break;
		fprintf(fp, "range %s %s\nlease %llu\nknown_only %d\n",
		    inet_ntop(AF_INET, &c->dhcp->range_lo, a, sizeof(a)),
		    inet_ntop(AF_INET, &c->dhcp->range_hi, b, sizeof(b)),
		    (unsigned long long)c->dhcp->lease_ms,
		    c->dhcp->known_only);
		break;
	case PAIR_DIGEST_RESERVATIONS:
		n = c->dhcp != NULL ? c->dhcp->ncharger : 0;
		lines = xcalloc(n ? n : 1, sizeof(*lines));
		for (i = 0; i < n; i++) {
			const struct cfg_charger *ch = &c->dhcp->chargers[i];

			xasprintf(&lines[i], "%s %s %s", lan_format_mac(ch->mac,
			    mac, sizeof(mac)), ch->id, ch->addr.s_addr != 0 ?
			    inet_ntop(AF_INET, &ch->addr, a, sizeof(a)) : "*");
		}
		qsort(lines, n, sizeof(*lines), strp_cmp);
		for (i = 0; i < n; i++) {
			fprintf(fp, "%s\n", lines[i]);
			free(lines[i]);
		}
		free(lines);
		break;
	case PAIR_DIGEST_DNS:
		if (c->dns == NULL)
			break;
		print_names(fp, "steer", c->dns->steer, c->dns->nsteer);
		print_names(fp, "pass", c->dns->pass_through, c->dns->npass);
		break;
	case PAIR_DIGEST_RELAY:
		if (c->relay == NULL)
			break;
		n = c->relay->nroutes;
		routes = xcalloc(n ? n : 1, sizeof(*routes));
		memcpy(routes, c->relay->routes, n * sizeof(*routes));
		qsort(routes, n, sizeof(*routes), route_cmp);
		for (i = 0; i < n; i++) {
			fprintf(fp, "route %u %u\n", routes[i].port,
			    routes[i].upstream_port);
			print_names(fp, " allow", routes[i].allow,
			    routes[i].nallow);
		}
		free(routes);
		fprintf(fp, "transparent %u\n", c->relay->transparent_port);
		break;
	default:
		break;
	}
}

void
pair_digests(const struct pair_conf *c,
    char d[PAIR_DIGEST_NPARTS][PAIR_DIGEST_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;
	int part;

	for (part = 0; part < PAIR_DIGEST_NPARTS; part++) {
		if ((fp = open_memstream(&buf, &len)) == NULL)
			fatal("open_memstream");
		fprintf(fp, "evgate pair %s v1\n",
		    pair_digest_part_str((enum pair_digest_part)part));
		digest_text(c, (enum pair_digest_part)part, fp);
		if (fclose(fp) != 0)
			fatal("open_memstream");
		if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1)
			fatalx("EVP_Digest failed");
		for (i = 0; i < mdlen && i * 2 < PAIR_DIGEST_HEX; i++)
			snprintf(&d[part][i * 2], 3, "%02x", md[i]);
		free(buf);
		buf = NULL;
	}
}

/* --- the module's state ----------------------------------------------- */

enum sess_kind { SESS_OUT, SESS_IN };

struct sess {
	struct pair		*p;
	enum sess_kind		 kind;
	struct bufferevent	*bev;
	struct event		*deadline;	/* the handshake's */
	int			 up;
	int			 pin_mismatch;	/* seen by the verify callback */
	uint64_t		 up_wall_ms;
	char			 addr[INET6_ADDRSTRLEN + 8];
	TAILQ_ENTRY(sess)	 link;		/* pending (in) */
	int			 pending;
	int			 from_peer;	/* in: from pair.peer's address */
	/* in: what to acknowledge */
	uint64_t		 last_seq;
	int			 ack_due;
	int			 hello;		/* the peer said who it is */
};

struct tlsmat {
	SSL_CTX		*srv;
	SSL_CTX		*cli;
	X509		*cert;		/* ours, for comparing */
	X509		*pin;		/* the peer's */
	char		 cert_fp[100];	/* SHA-256, "ab:cd:..." */
	char		 pin_fp[100];
};

struct outbox_item {
	uint64_t	 seq;
	uint64_t	 at_ms;		/* monotonic */
};

struct peer_state {
	char		 box[PAIR_NAME_MAX + 1];
	enum pair_role	 role;
	uint64_t	 since_ms;
	uint64_t	 failover_ms;
	char		 digest[PAIR_DIGEST_NPARTS][PAIR_DIGEST_HEX + 1];
	int		 have_digest;
};

struct pair {
	struct event_base	*base;
	struct site		*site;
	/* in force */
	struct pair_conf	 conf;		/* conf.pair NULL: off */
	struct tlsmat		 tls;
	struct evconnlistener	*lst;
	struct cfg_sockaddr	 lst_addr;	/* bound (text not owned) */
	char			 digest[PAIR_DIGEST_NPARTS][PAIR_DIGEST_HEX + 1];
	/* prepared */
	int			 prepared;
	struct pair_conf	 next;
	struct tlsmat		 next_tls;
	struct evconnlistener	*next_lst;	/* NULL: keep lst */
	int			 next_keep_lst;
	char			 next_digest[PAIR_DIGEST_NPARTS]
				    [PAIR_DIGEST_HEX + 1];
	/* connections */
	struct sess		*out;
	struct sess		*in;
	TAILQ_HEAD(, sess)	 pending;
	size_t			 npending;
	struct event		*retry;
	uint64_t		 retry_ms;
	struct event		*ping;
	int			 out_was_up;	/* for the event on loss */
	/* what we sent */
	struct outbox_item	*box;
	size_t			 box_head, box_n, box_cap;
	uint64_t		 next_seq;
	uint64_t		 acked;
	size_t			 unsent;	/* changes while out is down */
	uint64_t		 unsent_since;	/* monotonic ms of the oldest */
	/* our role, for the peer */
	enum pair_role		 role;
	uint64_t		 role_since_ms, failover_ms;
	/* the peer */
	struct peer_state	 peer;
	int			 agree;		/* -1 unknown, 0, 1 */
	/* counters */
	unsigned long		 sent, acks, received, applied, kept,
				 conflicts, refused, bad, connects,
				 connect_failures, snapshots_sent,
				 snapshots_received, overflows,
				 handshakes_refused, handshakes_dropped;
	char			 last_error[256];
	struct log_ratelimit	 rl;
	struct log_ratelimit	 full_rl;	/* handshake slots full */
};

static void	sess_close(struct sess *, const char *why);
static void	out_connect(struct pair *);

static int
is_on(const struct pair *p)
{
	return p->conf.pair != NULL;
}

static void
set_error(struct pair *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_error(struct pair *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->last_error, sizeof(p->last_error), fmt, ap);
	va_end(ap);
}

static void
pair_event(const char *action, const char *key, struct json_object *val)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "action", json_object_new_string(action));
	if (key != NULL)
		json_object_object_add(o, key, val);
	events_emit(EVENT_PAIR, o);
}

/* --- TLS ----------------------------------------------------------------- */

static void
tls_free(struct tlsmat *t)
{
	SSL_CTX_free(t->srv);
	SSL_CTX_free(t->cli);
	X509_free(t->cert);
	X509_free(t->pin);
	memset(t, 0, sizeof(*t));
}

/* The first bytes of a certificate's SHA-256, for the status. */
static void
fingerprint(X509 *x, char *buf, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	size_t off = 0;

	buf[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &n) != 1)
		return;
	for (i = 0; i < n && off + 3 < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%02x",
		    i ? ":" : "", md[i]);
}

/*
 * Each context holds its own reference to the pinned certificate, freed
 * with the context: a reload with the same certificates keeps pending
 * handshakes on the old contexts (they hold them), and their verify_cb
 * must not read a pin the reload has freed.
 */
static void
pin_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	(void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
	X509_free(ptr);
}

static int
pin_index(void)
{
	static int idx = -1;

	if (idx == -1)
		idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
		    pin_free_cb);
	return idx;
}

/*
 * The peer must show exactly the pinned certificate: the chain is not
 * looked at (a self-signed certificate is the usual case); only the leaf,
 * at depth 0, is compared.
 */
static int
verify_cb(int preverify, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	X509 *pin, *x = X509_STORE_CTX_get_current_cert(xs);
	struct sess *s;

	if (X509_STORE_CTX_get_error_depth(xs) > 0)
		return 1;
	pin = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), pin_index());
	if (x != NULL && pin != NULL && X509_cmp(x, pin) == 0) {
		X509_STORE_CTX_set_error(xs, X509_V_OK);
		return 1;
	}
	if ((s = SSL_get_app_data(ssl)) != NULL)
		s->pin_mismatch = 1;
	return 0;
}

static SSL_CTX *
tls_ctx(int server, const struct cfg_pair *c, X509 *pin, char *err,
    size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() :
	    TLS_client_method());
	unsigned long e;

	if (ctx == NULL)
		goto fail;
	/* Both ends are evgated: TLS 1.3 only. */
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, c->cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, c->key_file, SSL_FILETYPE_PEM) !=
	    1 || SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	if (pin_index() == -1 || SSL_CTX_set_ex_data(ctx, pin_index(), pin) != 1)
		goto fail;
	if (pin != NULL)
		X509_up_ref(pin);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (server)
		SSL_CTX_set_num_tickets(ctx, 0);
	return ctx;
fail:
	e = ERR_peek_last_error();
	snprintf(err, errlen, "pair: TLS with %s and %s: %s", c->cert_file,
	    c->key_file, e ? ERR_reason_error_string(e) : "out of memory");
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

static int
tls_load(struct tlsmat *t, const struct cfg_pair *c, char *err, size_t errlen)
{
	void *x;

	memset(t, 0, sizeof(*t));
	if (load_cert(c->peer_cert_file, &x, err, errlen) == -1)
		return -1;
	t->pin = x;
	if (load_cert(c->cert_file, &x, err, errlen) == -1) {
		tls_free(t);
		return -1;
	}
	t->cert = x;
	if ((t->srv = tls_ctx(1, c, t->pin, err, errlen)) == NULL ||
	    (t->cli = tls_ctx(0, c, t->pin, err, errlen)) == NULL) {
		tls_free(t);
		return -1;
	}
	fingerprint(t->cert, t->cert_fp, sizeof(t->cert_fp));
	fingerprint(t->pin, t->pin_fp, sizeof(t->pin_fp));
	return 0;
}

static int
tls_same(const struct tlsmat *a, const struct tlsmat *b)
{
	return a->cert != NULL && b->cert != NULL && X509_cmp(a->cert,
	    b->cert) == 0 && X509_cmp(a->pin, b->pin) == 0;
}

/* --- the outbox: sent, not yet acknowledged --------------------------- */

static void
outbox_clear(struct pair *p)
{
	p->box_head = p->box_n = 0;
}

static void
outbox_push(struct pair *p, uint64_t seq)
{
	if (p->box_head > 0 && p->box_head + p->box_n == p->box_cap) {
		memmove(p->box, p->box + p->box_head,
		    p->box_n * sizeof(*p->box));
		p->box_head = 0;
	}
	if (p->box_n == p->box_cap)
		p->box = xreallocarray(p->box, p->box_cap = p->box_cap * 2 +
		    64, sizeof(*p->box));
	p->box[p->box_head + p->box_n].seq = seq;
	p->box[p->box_head + p->box_n].at_ms = now_mono_ms();
	p->box_n++;
}

static void
outbox_ack(struct pair *p, uint64_t seq)
{
	while (p->box_n > 0 && p->box[p->box_head].seq <= seq) {
		p->box_head++;
		p->box_n--;
	}
	if (p->box_n == 0)
		p->box_head = 0;
	if (seq > p->acked)
		p->acked = seq;
}

/* --- sending (the out connection) ------------------------------------- */

/* Write one message on s; 0, or -1 when it could not be formatted. */
static int
sess_send(struct sess *s, const struct pair_msg *m)
{
	char buf[PAIR_MSG_MAX];
	size_t n;

	if ((n = pair_msg_format(m, buf, sizeof(buf))) == 0) {
		log_warnx("pair: cannot format a %s message",
		    pair_msg_type_str(m->type));
		return -1;
	}
	bufferevent_write(s->bev, buf, n);
	return 0;
}

static void
fill_role(const struct pair *p, struct pair_msg *m)
{
	m->role = p->role == PAIR_ROLE_SINGLE ? PAIR_ROLE_BACKUP : p->role;
	m->since = (int64_t)(p->role_since_ms / 1000);
	m->failover = (int64_t)(p->failover_ms / 1000);
}

static void
send_hello(struct pair *p)
{
	struct pair_msg m;
	int i;

	memset(&m, 0, sizeof(m));
	m.type = PAIR_MSG_HELLO;
	m.version = PAIR_PROTO_VERSION;
	strlcpy(m.box, p->conf.pair->name, sizeof(m.box));
	fill_role(p, &m);
	for (i = 0; i < PAIR_DIGEST_NPARTS; i++)
		strlcpy(m.digest[i], p->digest[i], sizeof(m.digest[i]));
	m.ndigest = PAIR_DIGEST_NPARTS;
	sess_send(p->out, &m);
}

/* A lease of ours as a message with the next seq, sent and in the outbox. */
static void
send_lease(struct pair *p, int del, const uint8_t mac[6], struct in_addr addr,
    int64_t expires, const char *client_id, const char *hostname)
{
	struct pair_msg m;
	int64_t now = (int64_t)(now_wall_ms() / 1000);

	memset(&m, 0, sizeof(m));
	m.type = PAIR_MSG_LEASE;
	m.seq = ++p->next_seq;
	m.del = del;
	memcpy(m.mac, mac, 6);
	m.addr = addr;
	m.ttl = expires == 0 ? -1 : expires > now ? expires - now : 0;
	if (m.ttl > PAIR_TTL_MAX)
		m.ttl = PAIR_TTL_MAX;
	if (client_id != NULL && lease_client_id_ok(client_id,
	    strlen(client_id)))
		strlcpy(m.client_id, client_id, sizeof(m.client_id));
	if (hostname != NULL && lease_hostname_ok(hostname, strlen(hostname)))
		strlcpy(m.hostname, hostname, sizeof(m.hostname));
	if (sess_send(p->out, &m) == -1)
		return;
	p->sent++;
	outbox_push(p, m.seq);
}

struct snap {
	struct pair	*p;
	int64_t		 now;
	size_t		 n;
};

static void
snap_one(const struct lease_info *li, void *arg)
{
	struct snap *sn = arg;

	if (!li->active || (li->expires != 0 && li->expires <= sn->now))
		return;
	send_lease(sn->p, 0, li->mac, li->addr, li->expires, li->client_id,
	    li->hostname);
	sn->n++;
}

/* Everything we hold, then "synced": the peer merges it all. */
static void
send_snapshot(struct pair *p)
{
	struct snap sn = { p, (int64_t)(now_wall_ms() / 1000), 0 };
	struct pair_msg m;

	outbox_clear(p);
	p->unsent = 0;
	p->unsent_since = 0;
	leases_foreach(site_leases(p->site), snap_one, &sn);
	memset(&m, 0, sizeof(m));
	m.type = PAIR_MSG_SYNCED;
	m.seq = ++p->next_seq;
	if (sess_send(p->out, &m) == 0)
		outbox_push(p, m.seq);
	p->snapshots_sent++;
	log_info("pair: sent %s our %zu lease%s (seq up to %llu)",
	    p->peer.box[0] ? p->peer.box : p->conf.pair->peer.text, sn.n,
	    sn.n == 1 ? "" : "s", (unsigned long long)m.seq);
}

void
pair_lease_changed(const struct lease_change *lc, void *arg)
{
	struct pair *p = arg;

	if (!is_on(p))
		return;
	if (p->out == NULL || !p->out->up) {
		/* The snapshot at the next connect carries it. */
		if (p->unsent++ == 0)
			p->unsent_since = now_mono_ms();
		return;
	}
	if (p->box_n >= PAIR_OUTBOX_MAX) {
		/* The peer reads nothing: start over with a snapshot, which
		 * carries this change too. */
		p->overflows++;
		sess_close(p->out, "too many changes not acknowledged");
		if (p->unsent++ == 0)
			p->unsent_since = now_mono_ms();
		return;
	}
	send_lease(p, lc->action == LEASE_DEL, lc->mac, lc->addr, lc->expires,
	    lc->client_id, lc->hostname);
}

void
pair_set_role(struct pair *p, enum pair_role role, uint64_t since_ms,
    uint64_t failover_ms)
{
	struct pair_msg m;

	p->role = role;
	p->role_since_ms = since_ms;
	p->failover_ms = failover_ms;
	if (!is_on(p) || p->out == NULL || !p->out->up)
		return;
	memset(&m, 0, sizeof(m));
	m.type = PAIR_MSG_ROLE;
	fill_role(p, &m);
	sess_send(p->out, &m);
}

/* --- receiving (the in connection) ------------------------------------ */

static void
check_agreement(struct pair *p)
{
	char differs[256] = "";
	int i, agree = 1;

	if (!p->peer.have_digest) {
		p->agree = -1;
		return;
	}
	for (i = 0; i < PAIR_DIGEST_NPARTS; i++) {
		if (p->peer.digest[i][0] == '\0' ||
		    strcmp(p->peer.digest[i], p->digest[i]) == 0)
			continue;
		agree = 0;
		strlcat(differs, differs[0] ? ", " : "", sizeof(differs));
		strlcat(differs, pair_digest_part_str(
		    (enum pair_digest_part)i), sizeof(differs));
	}
	if (agree != p->agree) {
		if (agree)
			log_info("pair: the configurations of %s and %s agree",
			    p->conf.pair->name, p->peer.box);
		else
			log_warnx("pair: the configurations of %s and %s "
			    "differ in: %s -- after a failover the chargers "
			    "would be served differently; make them the same",
			    p->conf.pair->name, p->peer.box, differs);
		pair_event(agree ? "config_agrees" : "config_differs", agree ?
		    NULL : "differs", agree ? NULL :
		    json_object_new_string(differs));
	}
	p->agree = agree;
}

static void
take_role(struct pair *p, const struct pair_msg *m)
{
	if (m->role != p->peer.role)
		log_info("pair: %s is %s", p->peer.box[0] ? p->peer.box :
		    "the peer", pair_role_str(m->role));
	p->peer.role = m->role;
	p->peer.since_ms = (uint64_t)m->since * 1000;
	p->peer.failover_ms = (uint64_t)m->failover * 1000;
}

static void
take_lease(struct pair *p, const struct pair_msg *m)
{
	struct lease_peer lp;
	const char *why;
	char mac[18], a[INET_ADDRSTRLEN];
	int64_t now = (int64_t)(now_wall_ms() / 1000);

	memset(&lp, 0, sizeof(lp));
	lp.del = m->del;
	memcpy(lp.mac, m->mac, 6);
	lp.addr = m->addr;
	/* The sender's "seconds left" on our clock: the two boxes' clocks
	 * need not agree. */
	lp.expires = m->ttl < 0 ? 0 : now + m->ttl;
	strlcpy(lp.hostname, m->hostname, sizeof(lp.hostname));
	strlcpy(lp.client_id, m->client_id, sizeof(lp.client_id));
	switch ((enum lease_merge)site_lease_merge(p->site, &lp, &why)) {
	case LEASE_MERGE_APPLIED:
		p->applied++;
		log_debug("pair: %s lease of %s to %s from %s",
		    m->del ? "ended" : "merged", inet_ntop(AF_INET, &m->addr,
		    a, sizeof(a)), lan_format_mac(m->mac, mac, sizeof(mac)),
		    p->peer.box);
		break;
	case LEASE_MERGE_SAME:
	case LEASE_MERGE_OLDER:
		p->kept++;
		break;
	case LEASE_MERGE_CONFLICT:
	case LEASE_MERGE_REFUSED:
		if (m->del)
			p->kept++;
		else {
			p->conflicts++;
			log_warnx_rl(&p->rl, "pair: %s's lease of %s to %s not "
			    "taken: %s", p->peer.box, inet_ntop(AF_INET,
			    &m->addr, a, sizeof(a)), lan_format_mac(m->mac, mac,
			    sizeof(mac)), why ? why : "?");
		}
		break;
	}
}

/* One message on the in connection; 0, or -1 to close it. */
static int
in_message(struct sess *s, const struct pair_msg *m)
{
	struct pair *p = s->p;

	if (!s->hello && m->type != PAIR_MSG_HELLO) {
		sess_close(s, "the first message was not a hello");
		return -1;
	}
	switch (m->type) {
	case PAIR_MSG_HELLO:
		if (!s->hello || strcmp(p->peer.box, m->box) != 0)
			log_info("pair: %s (%s) connected to us, %s",
			    m->box, s->addr, pair_role_str(m->role));
		if (strcmp(m->box, p->conf.pair->name) == 0)
			log_warnx_rl(&p->rl, "pair: the peer calls itself %s, "
			    "as this box does: give each box its own "
			    "pair.name", m->box);
		s->hello = 1;
		strlcpy(p->peer.box, m->box, sizeof(p->peer.box));
		memcpy(p->peer.digest, m->digest, sizeof(p->peer.digest));
		p->peer.have_digest = 1;
		take_role(p, m);
		check_agreement(p);
		break;
	case PAIR_MSG_ROLE:
		take_role(p, m);
		break;
	case PAIR_MSG_LEASE:
		take_lease(p, m);
		s->last_seq = m->seq;
		s->ack_due = 1;
		break;
	case PAIR_MSG_SYNCED:
		p->snapshots_received++;
		log_info("pair: %s's leases merged (%lu taken so far, %lu "
		    "we knew or held later)", p->peer.box, p->applied,
		    p->kept);
		pair_event("synced", "peer", json_object_new_string(
		    p->peer.box));
		s->last_seq = m->seq;
		s->ack_due = 1;
		break;
	case PAIR_MSG_PING:
		s->ack_due = 1;
		break;
	default:
		sess_close(s, "it sent an acknowledgement on its own "
		    "connection");
		return -1;
	}
	return 0;
}

static int
out_message(struct sess *s, const struct pair_msg *m)
{
	struct pair *p = s->p;

	if (m->type != PAIR_MSG_ACK) {
		sess_close(s, "it sent more than acknowledgements");
		return -1;
	}
	if (m->seq > p->next_seq) {
		sess_close(s, "it acknowledged what we never sent");
		return -1;
	}
	p->acks++;
	outbox_ack(p, m->seq);
	return 0;
}

static void
sess_read_cb(struct bufferevent *bev, void *arg)
{
	struct sess *s = arg;
	struct pair *p = s->p;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr eol;
	struct pair_msg m;
	enum pair_status st;
	const char *why;
	uint8_t buf[PAIR_MSG_MAX];
	size_t len;

	for (;;) {
		eol = evbuffer_search_eol(in, NULL, &len, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) >= PAIR_MSG_MAX) {
				p->bad++;
				sess_close(s, "a message longer than the "
				    "limit");
				return;
			}
			break;
		}
		if ((size_t)eol.pos >= PAIR_MSG_MAX) {
			p->bad++;
			sess_close(s, "a message longer than the limit");
			return;
		}
		evbuffer_remove(in, buf, (size_t)eol.pos);
		evbuffer_drain(in, 1);
		st = pair_msg_parse(buf, (size_t)eol.pos, &m, &why);
		if (st != PAIR_OK) {
			p->bad++;
			log_warnx_rl(&p->rl, "pair: from %s: %s%s%s", s->addr,
			    pair_status_str(st), why ? ": " : "", why ? why :
			    "");
			sess_close(s, st == PAIR_E_VERSION ? "it speaks another "
			    "version of the pair protocol" : "it sent a bad "
			    "message");
			return;
		}
		p->received++;
		if ((s->kind == SESS_IN ? in_message(s, &m) :
		    out_message(s, &m)) == -1)
			return;
	}
	if (s->kind == SESS_IN) {
		site_leases_save(p->site);
		if (s->ack_due) {
			memset(&m, 0, sizeof(m));
			m.type = PAIR_MSG_ACK;
			m.seq = s->last_seq;
			sess_send(s, &m);
			s->ack_due = 0;
		}
	}
}

/* --- connections ------------------------------------------------------- */

static void
sess_free(struct sess *s)
{
	struct pair *p = s->p;

	if (s->pending) {
		TAILQ_REMOVE(&p->pending, s, link);
		p->npending--;
	}
	if (p->out == s)
		p->out = NULL;
	if (p->in == s)
		p->in = NULL;
	if (s->deadline != NULL)
		event_free(s->deadline);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	free(s);
}

static void
schedule_retry(struct pair *p)
{
	struct timeval tv;

	if (!is_on(p))
		return;
	if (p->retry_ms == 0)
		p->retry_ms = PAIR_RETRY_MIN_MS;
	tv.tv_sec = (time_t)(p->retry_ms / 1000);
	tv.tv_usec = (suseconds_t)(p->retry_ms % 1000) * 1000;
	evtimer_add(p->retry, &tv);
	p->retry_ms = p->retry_ms * 2 > PAIR_RETRY_MAX_MS ? PAIR_RETRY_MAX_MS :
	    p->retry_ms * 2;
}

static void
sess_close(struct sess *s, const char *why)
{
	struct pair *p = s->p;
	enum sess_kind kind = s->kind;
	int was_up = s->up;
	uint64_t up_ms = s->up ? now_wall_ms() - s->up_wall_ms : 0;

	if (why != NULL) {
		if (was_up)
			log_warnx("pair: %s connection %s %s closed: %s",
			    kind == SESS_OUT ? "our" : "the peer's",
			    kind == SESS_OUT ? "to" : "from", s->addr, why);
		else
			log_debug("pair: %s %s: %s", kind == SESS_OUT ?
			    "connecting to" : "connection from", s->addr, why);
		set_error(p, "%s %s: %s", kind == SESS_OUT ? "to" : "from",
		    s->addr, why);
	}
	sess_free(s);
	if (kind == SESS_OUT) {
		evtimer_del(p->ping);
		if (was_up) {
			pair_event("disconnected", "peer",
			    json_object_new_string(p->peer.box[0] ?
			    p->peer.box : p->conf.pair != NULL ?
			    p->conf.pair->peer.text : "?"));
			/* What was in flight comes again in the snapshot. */
			if (p->box_n > 0 && p->unsent++ == 0)
				p->unsent_since = p->box[p->box_head].at_ms;
			outbox_clear(p);
			/* The back-off starts afresh only after a link that
			 * lasted: a peer that closes right after its hello
			 * (another version mid-upgrade) is not called every
			 * second, each time with a whole snapshot. */
			if (up_ms >= PAIR_STABLE_MS)
				p->retry_ms = 0;
		} else
			p->connect_failures++;
		schedule_retry(p);
	}
}

static void
ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pair *p = arg;
	struct pair_msg m;
	struct timeval tv = { PAIR_PING_MS / 1000, (PAIR_PING_MS % 1000) *
	    1000 };

	if (p->out == NULL || !p->out->up)
		return;
	memset(&m, 0, sizeof(m));
	m.type = PAIR_MSG_PING;
	m.seq = p->next_seq;
	sess_send(p->out, &m);
	evtimer_add(p->ping, &tv);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	sess_close(arg, "no TLS handshake within the time limit");
}

/* After the handshake: the pinned certificate, again, to be sure. */
static int
sess_pinned(struct sess *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	X509 *x = ssl != NULL ? SSL_get1_peer_certificate(ssl) : NULL;
	int ok = x != NULL && X509_cmp(x, s->p->tls.pin) == 0;

	X509_free(x);
	return ok;
}

static void
sess_up(struct sess *s)
{
	struct pair *p = s->p;
	struct timeval dead = { PAIR_DEAD_MS / 1000, (PAIR_DEAD_MS % 1000) *
	    1000 };
	struct timeval ping = { PAIR_PING_MS / 1000, (PAIR_PING_MS % 1000) *
	    1000 };

	if (!sess_pinned(s)) {
		sess_close(s, "the peer's certificate is not "
		    "pair.peer_certificate");
		return;
	}
	event_free(s->deadline);
	s->deadline = NULL;
	s->up = 1;
	s->up_wall_ms = now_wall_ms();
	bufferevent_set_timeouts(s->bev, &dead, NULL);
	if (s->kind == SESS_OUT) {
		p->connects++;
		log_info("pair: connected to %s", s->addr);
		pair_event("connected", "peer", json_object_new_string(
		    p->peer.box[0] ? p->peer.box : s->addr));
		send_hello(p);
		send_snapshot(p);
		evtimer_add(p->ping, &ping);
		return;
	}
	TAILQ_REMOVE(&p->pending, s, link);
	p->npending--;
	s->pending = 0;
	if (p->in != NULL)
		sess_close(p->in, NULL);	/* the peer connected again */
	p->in = s;
}

static void
sess_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sess *s = arg;
	unsigned long e;
	char msg[256];

	if (what & BEV_EVENT_CONNECTED) {
		sess_up(s);
		return;
	}
	if (s->pin_mismatch) {
		log_warnx_rl(&s->p->rl, "pair: %s %s: the peer's certificate "
		    "is not the one in pair.peer_certificate (%s): refused",
		    s->kind == SESS_OUT ? "connecting to" : "connection from",
		    s->addr, s->p->conf.pair != NULL ?
		    s->p->conf.pair->peer_cert_file : "?");
		sess_close(s, "the peer's certificate is not "
		    "pair.peer_certificate");
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		sess_close(s, "nothing heard for too long");
		return;
	}
	if ((e = bufferevent_get_openssl_error(bev)) != 0) {
		/* Without close_notify: as good as an EOF here. */
		switch (ERR_GET_REASON(e)) {
		case SSL_R_UNEXPECTED_EOF_WHILE_READING:
			snprintf(msg, sizeof(msg), "closed by the peer");
			break;
		case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
		case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
		case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
		case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
		case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
			snprintf(msg, sizeof(msg), "the peer refused our "
			    "certificate: is pair.certificate what its "
			    "pair.peer_certificate names?");
			break;
		default:
			snprintf(msg, sizeof(msg), "TLS: %s",
			    ERR_reason_error_string(e) != NULL ?
			    ERR_reason_error_string(e) : "handshake failed");
		}
		while (bufferevent_get_openssl_error(bev) != 0)
			;
		sess_close(s, msg);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		sess_close(s, "closed by the peer");
		return;
	}
	snprintf(msg, sizeof(msg), "%s", errno ? strerror(errno) :
	    "connection error");
	sess_close(s, msg);
}

static struct sess *
sess_new(struct pair *p, enum sess_kind kind, int fd, const struct sockaddr *sa)
{
	struct sess *s = xcalloc(1, sizeof(*s));
	struct timeval tv = { PAIR_HANDSHAKE_MS / 1000, 0 };
	SSL *ssl;

	s->p = p;
	s->kind = kind;
	format_sockaddr(sa, s->addr, sizeof(s->addr));
	if ((ssl = SSL_new(kind == SESS_OUT ? p->tls.cli : p->tls.srv)) ==
	    NULL) {
		ERR_clear_error();
		if (fd != -1)
			close(fd);
		free(s);
		return NULL;
	}
	SSL_set_app_data(ssl, s);
	s->bev = bufferevent_openssl_socket_new(p->base, fd, ssl, kind ==
	    SESS_OUT ? BUFFEREVENT_SSL_CONNECTING : BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		SSL_free(ssl);
		if (fd != -1)
			close(fd);
		free(s);
		return NULL;
	}
	/* A peer that vanishes without close_notify (libevent #1212). */
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_setcb(s->bev, sess_read_cb, NULL, sess_event_cb, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->deadline = evtimer_new(p->base, deadline_cb, s);
	evtimer_add(s->deadline, &tv);
	return s;
}

static void
out_connect(struct pair *p)
{
	const struct cfg_sockaddr *peer = &p->conf.pair->peer;
	struct sess *s;

	if (p->out != NULL)
		return;
	if ((s = sess_new(p, SESS_OUT, -1, (const struct sockaddr *)
	    &peer->ss)) == NULL) {
		set_error(p, "cannot make a TLS connection (out of memory?)");
		schedule_retry(p);
		return;
	}
	p->out = s;
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&peer->ss,
	    (int)peer->len) == -1)
		sess_close(s, strerror(errno ? errno : ECONNREFUSED));
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pair *p = arg;

	if (is_on(p))
		out_connect(p);
}

/* A connection from the address we connect to: the peer's, most likely. */
static int
from_peer_addr(const struct pair *p, const struct sockaddr *sa)
{
	const struct sockaddr_storage *peer = &p->conf.pair->peer.ss;

	if (sa->sa_family != peer->ss_family)
		return 0;
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)peer)->sin_addr.s_addr;
	if (sa->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr,
		    &((const struct sockaddr_in6 *)peer)->sin6_addr,
		    sizeof(struct in6_addr)) == 0;
	return 0;
}

/*
 * Handshake slots are few (PAIR_MAX_PENDING), and whoever reaches the
 * pair port could hold them all, each for PAIR_HANDSHAKE_MS, again and
 * again, and keep the peer out.  So a connection from pair.peer's address
 * takes the slot of the oldest pending one from anywhere else; others
 * are refused while the slots are full.  (A box whose outgoing address
 * is not its pair.peer address is treated as anyone: its handshake takes
 * milliseconds, the slots' deadlines ten seconds.)
 */
static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct pair *p = arg;
	struct sess *s, *old;
	char addr[INET6_ADDRSTRLEN + 8];
	int peer;

	if (!is_on(p)) {
		close(fd);
		return;
	}
	peer = from_peer_addr(p, sa);
	if (p->npending >= PAIR_MAX_PENDING) {
		old = NULL;
		if (peer)
			TAILQ_FOREACH(old, &p->pending, link)
				if (!old->from_peer)
					break;
		if (old == NULL) {
			p->handshakes_refused++;
			log_warnx_rl(&p->full_rl, "pair: %zu connections in "
			    "their handshake already; refused one from %s",
			    p->npending, format_sockaddr(sa, addr,
			    sizeof(addr)));
			close(fd);
			return;
		}
		p->handshakes_dropped++;
		log_warnx_rl(&p->full_rl, "pair: handshake slots full; "
		    "dropped the oldest, from %s, for one from the peer's "
		    "address", old->addr);
		sess_free(old);
	}
	set_nonblock_cloexec(fd);
	if ((s = sess_new(p, SESS_IN, fd, sa)) == NULL)
		return;
	s->from_peer = peer;
	s->pending = 1;
	TAILQ_INSERT_TAIL(&p->pending, s, link);
	p->npending++;
}

static void
close_all(struct pair *p)
{
	struct sess *s;

	while ((s = TAILQ_FIRST(&p->pending)) != NULL)
		sess_free(s);
	if (p->in != NULL)
		sess_free(p->in);
	if (p->out != NULL) {
		if (p->out->up)
			pair_event("disconnected", "peer",
			    json_object_new_string(p->peer.box[0] ?
			    p->peer.box : "?"));
		sess_free(p->out);
	}
	evtimer_del(p->retry);
	evtimer_del(p->ping);
	p->retry_ms = 0;
	outbox_clear(p);
}

/* A listening socket on sa (IP_FREEBIND: the link may come up later). */
static struct evconnlistener *
listen_on(struct pair *p, const struct cfg_sockaddr *sa, char *err,
    size_t errlen)
{
	struct evconnlistener *l;
	int fd, one = 1;

	if ((fd = socket(sa->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof(one));
	if (sa->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&sa->ss, sa->len) == -1 ||
	    listen(fd, 16) == -1)
		goto fail;
	if ((l = evconnlistener_new(p->base, accept_cb, p,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_DISABLED, -1, fd)) == NULL)
		goto fail;
	return l;
fail:
	snprintf(err, errlen, "pair.listen: cannot listen on %s: %s",
	    sa->text, strerror(errno));
	if (fd != -1)
		close(fd);
	return NULL;
}

/* --- the module lifecycle ---------------------------------------------- */

struct pair *
pair_new(struct event_base *base, struct site *site)
{
	struct pair *p = xcalloc(1, sizeof(*p));
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(20, 3);

	p->base = base;
	p->site = site;
	p->rl = rl;
	p->full_rl = rl;
	p->agree = -1;
	TAILQ_INIT(&p->pending);
	p->retry = evtimer_new(base, retry_cb, p);
	p->ping = evtimer_new(base, ping_cb, p);
	return p;
}

int
pair_prepare(struct pair *p, const struct pair_conf *c, char *err,
    size_t errlen)
{
	pair_abort(p);
	p->next = *c;
	if (c->pair != NULL) {
		if (tls_load(&p->next_tls, c->pair, err, errlen) == -1) {
			memset(&p->next, 0, sizeof(p->next));
			return -1;
		}
		if (p->lst != NULL && same_sockaddr(&p->lst_addr,
		    &c->pair->listen))
			p->next_keep_lst = 1;
		else if ((p->next_lst = listen_on(p, &c->pair->listen, err,
		    errlen)) == NULL) {
			tls_free(&p->next_tls);
			memset(&p->next, 0, sizeof(p->next));
			return -1;
		}
		pair_digests(c, p->next_digest);
	}
	p->prepared = 1;
	return 0;
}

void
pair_abort(struct pair *p)
{
	tls_free(&p->next_tls);
	if (p->next_lst != NULL)
		evconnlistener_free(p->next_lst);
	p->next_lst = NULL;
	p->next_keep_lst = 0;
	memset(&p->next, 0, sizeof(p->next));
	p->prepared = 0;
}

void
pair_commit(struct pair *p)
{
	int restart, was_on = is_on(p), new_digest;

	if (!p->prepared)
		return;
	p->prepared = 0;
	if (p->next.pair == NULL) {
		if (was_on)
			log_info("pair: no pair section any more: closing the "
			    "link");
		close_all(p);
		tls_free(&p->tls);
		if (p->lst != NULL)
			evconnlistener_free(p->lst);
		p->lst = NULL;
		memset(&p->conf, 0, sizeof(p->conf));
		memset(&p->peer, 0, sizeof(p->peer));
		p->agree = -1;
		return;
	}
	restart = !was_on || !tls_same(&p->tls, &p->next_tls) ||
	    !same_sockaddr(&p->conf.pair->peer, &p->next.pair->peer);
	new_digest = memcmp(p->digest, p->next_digest, sizeof(p->digest)) != 0;
	tls_free(&p->tls);
	p->tls = p->next_tls;
	memset(&p->next_tls, 0, sizeof(p->next_tls));
	if (!p->next_keep_lst) {
		if (p->lst != NULL)
			evconnlistener_free(p->lst);
		p->lst = p->next_lst;
		p->next_lst = NULL;
		evconnlistener_enable(p->lst);
	}
	p->next_keep_lst = 0;
	p->conf = p->next;
	/* the text is the configuration's; only the address is compared */
	p->lst_addr.ss = p->conf.pair->listen.ss;
	p->lst_addr.len = p->conf.pair->listen.len;
	memcpy(p->digest, p->next_digest, sizeof(p->digest));
	memset(&p->next, 0, sizeof(p->next));
	if (restart) {
		close_all(p);
		out_connect(p);
		return;
	}
	/* Pending handshakes use the old contexts' settings: they are
	 * the same certificates.  A new digest: tell the peer. */
	if (new_digest) {
		if (p->out != NULL && p->out->up)
			send_hello(p);
		check_agreement(p);
	}
}

void
pair_free(struct pair *p)
{
	if (p == NULL)
		return;
	pair_abort(p);
	close_all(p);
	tls_free(&p->tls);
	if (p->lst != NULL)
		evconnlistener_free(p->lst);
	event_free(p->retry);
	event_free(p->ping);
	free(p->box);
	free(p);
}

/* --- what others read -------------------------------------------------- */

void
pair_peer_info(const struct pair *p, struct pair_peer_info *pi)
{
	uint64_t now = now_mono_ms(), oldest = 0;

	memset(pi, 0, sizeof(*pi));
	pi->enabled = is_on(p);
	if (!pi->enabled)
		return;
	pi->out_up = p->out != NULL && p->out->up;
	pi->in_up = p->in != NULL;
	strlcpy(pi->box, p->peer.box, sizeof(pi->box));
	pi->role = p->peer.role;
	pi->failover_ms = p->peer.failover_ms;
	pi->agree = p->agree;
	pi->lag_changes = p->box_n + p->unsent;
	if (p->box_n > 0)
		oldest = p->box[p->box_head].at_ms;
	if (p->unsent > 0 && (oldest == 0 || p->unsent_since < oldest))
		oldest = p->unsent_since;
	pi->lag_oldest_ms = oldest != 0 && now > oldest ? now - oldest : 0;
}

static struct json_object *
json_time_ms(uint64_t ms)
{
	char buf[40];

	if (ms == 0)
		return NULL;
	return json_object_new_string(format_utc_s(ms, buf, sizeof(buf)));
}

#define I64(v)	json_object_new_int64((int64_t)(v))

struct json_object *
pair_status(void *arg)
{
	struct pair *p = arg;
	struct json_object *o = json_object_new_object(), *peer, *sync, *cfg,
	    *dg, *diff;
	struct pair_peer_info pi;
	char a[INET_ADDRSTRLEN];
	uint64_t failover;
	int i;

	pair_peer_info(p, &pi);
	json_object_object_add(o, "enabled", json_object_new_boolean(
	    pi.enabled));
	json_object_object_add(o, "role", json_object_new_string(
	    pair_role_str(p->role)));
	if (!pi.enabled)
		return o;
	failover = p->failover_ms > pi.failover_ms ? p->failover_ms :
	    pi.failover_ms;
	json_object_object_add(o, "box", json_object_new_string(
	    p->conf.pair->name));
	json_object_object_add(o, "role_since", json_time_ms(
	    p->role_since_ms));
	json_object_object_add(o, "last_failover", json_time_ms(failover));
	json_object_object_add(o, "last_takeover_here", json_time_ms(
	    p->failover_ms));
	json_object_object_add(o, "address", json_object_new_string(
	    inet_ntop(AF_INET, &p->conf.pair->address, a, sizeof(a))));
	json_object_object_add(o, "virtual_address", p->conf.lan != NULL ?
	    json_object_new_string(inet_ntop(AF_INET, &p->conf.lan->addr, a,
	    sizeof(a))) : NULL);
	json_object_object_add(o, "listen", json_object_new_string(
	    p->conf.pair->listen.text));

	peer = json_object_new_object();
	json_object_object_add(peer, "address", json_object_new_string(
	    p->conf.pair->peer.text));
	json_object_object_add(peer, "box", pi.box[0] ?
	    json_object_new_string(pi.box) : NULL);
	json_object_object_add(peer, "role", pi.role != PAIR_ROLE_SINGLE ?
	    json_object_new_string(pair_role_str(pi.role)) : NULL);
	json_object_object_add(peer, "connected", json_object_new_boolean(
	    pi.out_up && pi.in_up));
	json_object_object_add(peer, "out", json_object_new_string(
	    pi.out_up ? "up" : p->out != NULL ? "connecting" : "down"));
	json_object_object_add(peer, "in", json_object_new_string(
	    pi.in_up ? "up" : p->npending > 0 ? "connecting" : "down"));
	json_object_object_add(peer, "out_since", pi.out_up ?
	    json_time_ms(p->out->up_wall_ms) : NULL);
	json_object_object_add(peer, "in_since", pi.in_up ?
	    json_time_ms(p->in->up_wall_ms) : NULL);
	json_object_object_add(peer, "last_error", p->last_error[0] ?
	    json_object_new_string(p->last_error) : NULL);
	json_object_object_add(o, "peer", peer);

	sync = json_object_new_object();
	json_object_object_add(sync, "lag_changes", I64(pi.lag_changes));
	json_object_object_add(sync, "lag_oldest_s", json_object_new_double(
	    (double)pi.lag_oldest_ms / 1000));
	json_object_object_add(sync, "sent", I64(p->sent));
	json_object_object_add(sync, "last_seq", I64(p->next_seq));
	json_object_object_add(sync, "acked_seq", I64(p->acked));
	json_object_object_add(sync, "received", I64(p->received));
	json_object_object_add(sync, "applied", I64(p->applied));
	json_object_object_add(sync, "kept", I64(p->kept));
	json_object_object_add(sync, "conflicts", I64(p->conflicts));
	json_object_object_add(sync, "bad_messages", I64(p->bad));
	json_object_object_add(sync, "connects", I64(p->connects));
	json_object_object_add(sync, "connect_failures", I64(
	    p->connect_failures));
	json_object_object_add(sync, "snapshots_sent", I64(p->snapshots_sent));
	json_object_object_add(sync, "snapshots_received", I64(
	    p->snapshots_received));
	json_object_object_add(sync, "overflows", I64(p->overflows));
	json_object_object_add(sync, "handshakes_refused",
	    I64(p->handshakes_refused));
	json_object_object_add(sync, "handshakes_dropped",
	    I64(p->handshakes_dropped));
	json_object_object_add(o, "sync", sync);

	cfg = json_object_new_object();
	json_object_object_add(cfg, "agree", p->agree < 0 ? NULL :
	    json_object_new_boolean(p->agree));
	diff = json_object_new_array();
	dg = json_object_new_object();
	for (i = 0; i < PAIR_DIGEST_NPARTS; i++) {
		json_object_object_add(dg, pair_digest_part_str(
		    (enum pair_digest_part)i), json_object_new_string_len(
		    p->digest[i], 16));
		if (p->peer.have_digest && p->peer.digest[i][0] != '\0' &&
		    strcmp(p->peer.digest[i], p->digest[i]) != 0)
			json_object_array_add(diff, json_object_new_string(
			    pair_digest_part_str((enum pair_digest_part)i)));
	}
	json_object_object_add(cfg, "differs", diff);
	json_object_object_add(cfg, "digest", dg);
	json_object_object_add(o, "config", cfg);

	json_object_object_add(o, "certificate", json_object_new_string(
	    p->tls.cert_fp));
	json_object_object_add(o, "peer_certificate", json_object_new_string(
	    p->tls.pin_fp));
	return o;
}
