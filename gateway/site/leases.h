/*
 * leases: the gateway's own DHCP lease database.
 *
 * dnsmasq hands out the leases but keeps no file of its own
 * (leasefile-ro): every change reaches evgated as a lease event from the
 * dhcp-script hook, is applied here, and is written at once, atomically,
 * to the state directory.  When dnsmasq starts, the hook asks for the
 * table ("init") and gives it back to dnsmasq in its lease-file format.
 * So leases survive a restart of dnsmasq and of evgated.
 *
 * One entry per MAC: its address, expiry, the charger id (from its
 * reservation in dhcp.chargers, else the hostname it gave, sanitised),
 * when it was first and last seen, and what the relay carried for it since
 * evgated started.  An entry whose lease ended is kept while the MAC is
 * reserved (so "last seen" survives), otherwise dropped.
 *
 * Everything that comes from outside (a lease event: MAC, address and
 * hostname are the charger's word, relayed by the unprivileged hook; a
 * line of the database file) goes through the pure, bounded parsers
 * below first.  Not thread-safe; evgated has one thread.
 */
#ifndef EVG_LEASES_H
#define EVG_LEASES_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct site_conf;
struct json_object;
struct leases;

#define LEASE_HOSTNAME_MAX	63	/* one DNS label */
#define LEASE_CLIENT_ID_MAX	64	/* bytes; as text "01:02:..." */
#define LEASE_CLIENT_ID_TEXT	(LEASE_CLIENT_ID_MAX * 3)
#define LEASE_LINE_MAX		512
#define LEASE_FILE_MAX		(8 * 1024 * 1024)
#define LEASE_POOL_WARN_PCT	90

enum lease_action {
	LEASE_ADD = 0,
	LEASE_OLD,		/* renewed, or reported again at dnsmasq start */
	LEASE_DEL,
};

/* A lease event from the hook, after validation. */
struct lease_event {
	enum lease_action action;
	uint8_t		 mac[6];
	struct in_addr	 addr;
	int64_t		 expires;	/* epoch s; 0: never; -1: not given */
	int64_t		 remaining;	/* seconds; -1: not given */
	char		 hostname[LEASE_HOSTNAME_MAX + 1];	/* "": none */
	char		 client_id[LEASE_CLIENT_ID_TEXT];	/* "": none */
	char		 interface[16];				/* "": none */
	unsigned	 rejected;	/* LEASE_REJ_*: fields dropped */
};

/* Optional fields that failed validation are dropped, not trusted. */
#define LEASE_REJ_HOSTNAME	0x01
#define LEASE_REJ_CLIENT_ID	0x02
#define LEASE_REJ_INTERFACE	0x04
#define LEASE_REJ_EXPIRES	0x08

/* One line of the lease database: dnsmasq's 5 fields, or our 8. */
struct lease_line {
	int64_t		 expires;	/* 0: never; -1: no lease now ("-") */
	uint8_t		 mac[6];
	struct in_addr	 addr;
	char		 hostname[LEASE_HOSTNAME_MAX + 1];
	char		 client_id[LEASE_CLIENT_ID_TEXT];
	char		 charger[64];
	int64_t		 first_seen;	/* 0 in dnsmasq's form */
	int64_t		 last_seen;
	int		 dnsmasq_form;	/* 1: exactly dnsmasq's 5 fields */
};

enum lease_status {
	LEASE_OK = 0,
	LEASE_SKIP,		/* blank line or comment */
	LEASE_E_SYNTAX,		/* not a request/line at all, or torn */
	LEASE_E_TOO_LONG,
	LEASE_E_ACTION,
	LEASE_E_MAC,
	LEASE_E_ADDR,
	LEASE_E_EXPIRES,
	LEASE_E_HOSTNAME,
	LEASE_E_CLIENT_ID,
	LEASE_E_CHARGER,
	LEASE_E_TIME,
	LEASE_NSTATUS
};

/* What a lease_status means, for messages. */
const char	*lease_status_str(enum lease_status);
const char	*lease_action_str(enum lease_action);

/*
 * Parse a lease-event request: one control-socket request line such as
 * {"cmd":"lease-event","action":"add","mac":"02:42:00:00:00:01",
 * "ip":"10.42.0.21","expires":"1795598288","hostname":"ZAP000101",
 * "client_id":"01:02:42:00:00:00:01","interface":"plc0"}.  All values are
 * strings, as dnsmasq gives them to the hook.  action, mac and ip must be
 * valid; a bad optional field is dropped and flagged in ev->rejected.
 * Pure and bounded.
 */
enum lease_status lease_event_parse(const uint8_t *buf, size_t len,
		    struct lease_event *ev);
/* The same, from a request the control socket already parsed. */
enum lease_status lease_event_from_json(struct json_object *req,
		    struct lease_event *ev);

/*
 * Parse one line of the lease database (without its newline):
 * "expires mac ip hostname|* client-id|*" (dnsmasq's lease-file format)
 * or that followed by "charger|* first-seen last-seen" (ours; expires may
 * then be "-" for a charger without a lease now).  Pure and bounded;
 * a torn line (fields missing) is LEASE_E_SYNTAX.
 */
enum lease_status lease_parse_line(const uint8_t *buf, size_t len,
		    struct lease_line *out);

/* Is s (len bytes) a hostname we keep: one label of letters, digits,
 * '-' and '_', starting with a letter or digit, at most 63 bytes? */
int		 lease_hostname_ok(const char *s, size_t len);
/* Is s (len bytes) a client id as we keep it: "01:02:aa", 1 to
 * LEASE_CLIENT_ID_MAX bytes in hex, colon-separated? */
int		 lease_client_id_ok(const char *s, size_t len);

/* An entry of the table, as the rest of the daemon sees it. */
struct lease_info {
	uint8_t		 mac[6];
	char		 mac_text[18];
	struct in_addr	 addr;		/* current, or last, address */
	int		 active;	/* has a lease now */
	int64_t		 expires;	/* 0: never; -1: no lease */
	char		 hostname[LEASE_HOSTNAME_MAX + 1];
	char		 client_id[LEASE_CLIENT_ID_TEXT];
	char		 charger[64];	/* id, or "" if unknown */
	int		 reserved;	/* listed in dhcp.chargers */
	int64_t		 first_seen, last_seen;	/* epoch s */
	/* What the relay carried for it since evgated started. */
	uint64_t	 conns, refused, bytes_up, bytes_down;
	int64_t		 link_closed;	/* epoch s: its cloud link last
					   ended (0: not since the start) */
};

/* Table: new, free. */
struct leases	*leases_new(void);
void		 leases_free(struct leases *);

/*
 * Take the reservations and the LAN from conf (borrowed until the next
 * call).  Entries are renamed after their reservations; entries whose
 * reservation went away and that have no lease are dropped.
 */
void		 leases_configure(struct leases *, const struct site_conf *);

/*
 * Apply a lease event at time now (epoch s).  Returns 1 when the table
 * changed, 0 when not (a del for a lease we do not hold; an "old" that
 * only reads back a lease we hold: dnsmasq starting), -1 when the
 * event is refused (why says so: an address outside the LAN, the
 * gateway's own address).
 */
int		 leases_apply(struct leases *, const struct lease_event *,
		    int64_t now, const char **why);
/*
 * A lease as the pair's peer reports it (site/pair.c): of its dnsmasq,
 * with the expiry already on our clock.
 */
struct lease_peer {
	int		 del;		/* the peer's dnsmasq ended it */
	uint8_t		 mac[6];
	struct in_addr	 addr;
	int64_t		 expires;	/* epoch s, our clock; 0: never */
	char		 hostname[LEASE_HOSTNAME_MAX + 1];	/* "": none */
	char		 client_id[LEASE_CLIENT_ID_TEXT];	/* "": none */
};

/* A lease our own dnsmasq changed (site.c hands it to the pair). */
struct lease_change {
	enum lease_action action;
	uint8_t		 mac[6];
	struct in_addr	 addr;
	int64_t		 expires;	/* add, old: its expiry; del: the
					 * expiry it had (epoch s; 0: never) */
	const char	*client_id;	/* "": none */
	const char	*hostname;	/* "": none */
};

enum lease_merge {
	LEASE_MERGE_SAME = 0,	/* we knew it (or later): nothing changed */
	LEASE_MERGE_APPLIED,	/* the table changed */
	LEASE_MERGE_OLDER,	/* ours is later: kept ours */
	LEASE_MERGE_CONFLICT,	/* its address is another MAC's here, later */
	LEASE_MERGE_REFUSED,	/* outside the LAN, the gateway's address */
};

/*
 * Merge a lease of the peer's at time now: the later expiry wins, for
 * the MAC's own entry and for the address (held here by another MAC).
 * A del removes our lease only if ours is not later than what the peer
 * ended.  Applying never reports anything onwards (no echo between the
 * boxes); the caller saves the table when it changed.  why is set for
 * REFUSED and CONFLICT.
 */
enum lease_merge leases_merge(struct leases *, const struct lease_peer *,
		    int64_t now, const char **why);
const char	*lease_merge_str(enum lease_merge);

/* A line from the database (leases_load uses it); same returns. */
int		 leases_apply_line(struct leases *, const struct lease_line *);

const struct lease_info *leases_by_addr(const struct leases *,
		    struct in_addr);
const struct lease_info *leases_by_mac(const struct leases *,
		    const uint8_t mac[6]);
/* What the relay should call a client address: id, else MAC, or NULL. */
const char	*leases_name(const struct leases *, struct in_addr);
/* Every entry, in MAC order. */
void		 leases_foreach(const struct leases *,
		    void (*)(const struct lease_info *, void *), void *);
size_t		 leases_count(const struct leases *);

/* Leases in use (active, unexpired at now) and the pool they come from. */
size_t		 leases_in_use(const struct leases *, int64_t now);
size_t		 leases_pool_size(const struct leases *);
/*
 * Track the pool against LEASE_POOL_WARN_PCT: 1 when use has just reached
 * it (warn once per crossing), -1 when it has just fallen below again,
 * else 0.
 */
int		 leases_pool_check(struct leases *, int64_t now);

/*
 * The lines dnsmasq gets at its start, in its lease-file format: leases
 * that are active, unexpired and still valid under the configuration
 * (inside the LAN; the reserved address if the MAC has one; a known MAC
 * if dhcp.known_only).  Hostnames are not given back: dnsmasq would put
 * them into DNS.  Calls fn per line; returns the number of lines.
 */
size_t		 leases_init_lines(const struct leases *, int64_t now,
		    void (*fn)(const char *line, void *), void *);

/* A connection of client address addr ended (relayed or refused);
 * link: it was the charger's cloud link (the MQTT port). */
void		 leases_account(struct leases *, struct in_addr, int relayed,
		    int link, uint64_t up, uint64_t down, int64_t now);

/*
 * Write the table to path atomically (temp file, fsync, rename, fsync of
 * the directory), mode 0600.  0, or -1 with err.
 */
int		 leases_save(const struct leases *, const char *path,
		    char *err, size_t errlen);
/*
 * Read path into the table (which should be empty).  A missing file is
 * an empty table.  Lines that do not parse are skipped and counted (a
 * warning names each one).  0, or -1 with err if the file cannot be read.
 */
int		 leases_load(struct leases *, const char *path,
		    size_t *loaded, size_t *skipped, char *err, size_t errlen);

#endif
