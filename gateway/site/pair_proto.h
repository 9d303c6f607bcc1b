/*
 * pair_proto: the messages two evgated boxes of a redundant pair exchange
 * over their TLS link (site/pair.c), as pure functions: parse one line of
 * untrusted bytes into a struct, and format a struct into a line.
 *
 * Every message is one line of JSON, at most PAIR_MSG_MAX bytes with its
 * newline, an object whose "t" names the type:
 *
 *   hello   {"t":"hello","v":1,"box":"gw-a","role":"backup","since":S,
 *            "failover":F,"digest":{"lan":HEX,...}}
 *           first on every connection from the box that opened it; again
 *           after a reload (new digests) -- who it is, its role, the
 *           digests of the settings both boxes must share
 *   role    {"t":"role","role":"master","since":S,"failover":F}
 *   lease   {"t":"lease","seq":N,"op":"add"|"del","mac":"02:..","ip":"..",
 *            "ttl":SECONDS,"client_id":"01:..","hostname":"ZAP000101"}
 *           a lease of the sender's dnsmasq (ttl: seconds left, -1: no
 *           end; del: the lease it ended); the snapshot after a connect
 *           is the same messages, then
 *   synced  {"t":"synced","seq":N}   the snapshot is complete
 *   ping    {"t":"ping","seq":N}     nothing new; answer with an ack
 *   ack     {"t":"ack","seq":N}      everything up to N is applied
 *
 * The box that opened the connection sends hello, role, lease, synced and
 * ping; the one that accepted it sends ack only.  Each box opens its own
 * connection, so each direction of the lease flow has its own sequence
 * numbers and acknowledgements.
 *
 * The parser is bounded (length, JSON depth, every field's shape and
 * range), never trusts a byte and allocates nothing that outlives it; it
 * has unit tests (tests/unit/test_pair_proto.c) and a fuzz target
 * (tests/fuzz/fuzz_pair.c).
 */
#ifndef EVG_PAIR_PROTO_H
#define EVG_PAIR_PROTO_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define PAIR_PROTO_VERSION	1
#define PAIR_MSG_MAX		2048	/* bytes of one line, newline included */
#define PAIR_NAME_MAX		63	/* a box's name: like a charger id */
#define PAIR_HOSTNAME_MAX	63
#define PAIR_CLIENT_ID_TEXT	(64 * 3)
#define PAIR_TTL_MAX		(8 * 86400)	/* a lease is at most 7 days */
#define PAIR_SEQ_MAX		((uint64_t)1 << 53)	/* exact in JSON */
#define PAIR_TIME_MAX		((int64_t)1 << 40)	/* epoch s */

enum pair_msg_type {
	PAIR_MSG_HELLO = 0,
	PAIR_MSG_ROLE,
	PAIR_MSG_LEASE,
	PAIR_MSG_SYNCED,
	PAIR_MSG_PING,
	PAIR_MSG_ACK,
	PAIR_MSG_NTYPES
};

/* The parts of the configuration both boxes must share. */
enum pair_digest_part {
	PAIR_DIGEST_LAN = 0,	/* the virtual address and its prefix */
	PAIR_DIGEST_DHCP,	/* range, lease time, known_only */
	PAIR_DIGEST_RESERVATIONS,	/* dhcp.chargers */
	PAIR_DIGEST_DNS,	/* steered and pass-through names */
	PAIR_DIGEST_RELAY,	/* routes: ports and allowlists */
	PAIR_DIGEST_NPARTS
};
#define PAIR_DIGEST_HEX		64	/* SHA-256 */

enum pair_role {
	PAIR_ROLE_SINGLE = 0,	/* no pair: this box serves alone */
	PAIR_ROLE_MASTER,
	PAIR_ROLE_BACKUP,
	PAIR_ROLE_FAULT,
	PAIR_NROLES
};

struct pair_msg {
	enum pair_msg_type type;
	uint64_t	 seq;		/* lease, synced, ping, ack */
	/* hello, role */
	unsigned	 version;
	char		 box[PAIR_NAME_MAX + 1];
	enum pair_role	 role;
	int64_t		 since;		/* role since, epoch s; 0: unknown */
	int64_t		 failover;	/* its last takeover; 0: none */
	char		 digest[PAIR_DIGEST_NPARTS][PAIR_DIGEST_HEX + 1];
	unsigned	 ndigest;	/* parts given (others ""); hello */
	/* lease */
	int		 del;
	uint8_t		 mac[6];
	struct in_addr	 addr;
	int64_t		 ttl;		/* seconds left; -1: no end */
	char		 client_id[PAIR_CLIENT_ID_TEXT];	/* "": none */
	char		 hostname[PAIR_HOSTNAME_MAX + 1];	/* "": none */
};

enum pair_status {
	PAIR_OK = 0,
	PAIR_E_TOO_LONG,
	PAIR_E_SYNTAX,		/* not one JSON object, NUL byte, too deep */
	PAIR_E_TYPE,		/* no or an unknown "t" */
	PAIR_E_FIELD,		/* a field missing, of the wrong type, bad */
	PAIR_E_VERSION,		/* a hello of a version we do not speak */
	PAIR_NSTATUS
};

const char	*pair_status_str(enum pair_status);
const char	*pair_msg_type_str(enum pair_msg_type);
const char	*pair_role_str(enum pair_role);
/* "master" etc. into a role; -1 when s names none (len bytes). */
int		 pair_role_parse(const char *s, size_t len);
const char	*pair_digest_part_str(enum pair_digest_part);

/*
 * Parse one message (without its newline; a trailing "\r" is not
 * allowed).  Pure and bounded.  On PAIR_OK *out is filled; the field
 * that failed is named in *why (static text) otherwise.
 */
enum pair_status pair_msg_parse(const uint8_t *buf, size_t len,
		    struct pair_msg *out, const char **why);

/*
 * Format m as one line with its newline into buf.  Returns the length,
 * or 0 when it does not fit (cannot happen with PAIR_MSG_MAX) or m is
 * not valid.  What it writes, pair_msg_parse reads back the same.
 */
size_t		 pair_msg_format(const struct pair_msg *m, char *buf,
		    size_t len);

/* Is s (len bytes) a valid box name? */
int		 pair_name_ok(const char *s, size_t len);

#endif
