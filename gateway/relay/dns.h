/*
 * dns: the DNS messages the gateway's resolver sends and reads (RFC 1035,
 * RFC 2308, RFC 6891 for EDNS).  Pure and bounded: no I/O, no allocation,
 * every length and every compression pointer checked before use.
 *
 * Why not evdns alone: libevent 2.1's evdns hands over the addresses of
 * an answer and one TTL taken from its A or AAAA records only; the CNAME
 * records that led to them and their TTLs are not seen (a callback for
 * them came with 2.2).  A relay that must never use an address beyond the
 * shortest TTL of the chain that led to it has to read the answer itself.
 * The reader follows the chain from the question's name, takes only the
 * records that belong to it, and reports the smallest TTL over all of
 * them; a negative answer's lifetime is min(SOA TTL, SOA MINIMUM) of its
 * authority section (RFC 2308 5).
 */
#ifndef EVG_DNS_H
#define EVG_DNS_H

#include <sys/socket.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_TYPE_A		1
#define DNS_TYPE_CNAME		5
#define DNS_TYPE_SOA		6
#define DNS_TYPE_AAAA		28
#define DNS_TYPE_OPT		41
#define DNS_CLASS_IN		1

#define DNS_MAX_NAME		253	/* text, without the final dot */
#define DNS_MAX_ADDRS		16
#define DNS_MAX_CHAIN		8	/* CNAMEs followed, at most */
#define DNS_UDP_PAYLOAD		1232	/* EDNS buffer we announce */
#define DNS_MAX_MSG		4096	/* larger answers are not read */

enum dns_status {
	DNS_OK = 0,		/* addresses (or a clean negative answer) */
	DNS_NOT_ANSWER,		/* not a response to this query: ignore it */
	DNS_MALFORMED,		/* a response, but broken */
	DNS_TRUNCATED,		/* TC set: not trusted */
	DNS_SERVFAIL,		/* RCODE 2 */
	DNS_REFUSED,		/* RCODE 5, or another error code */
	DNS_NXDOMAIN,		/* RCODE 3: the name does not exist */
	DNS_NODATA,		/* the name exists, no record of the type */
};

struct dns_answer {
	size_t			 naddrs;
	struct sockaddr_storage	 addrs[DNS_MAX_ADDRS];	/* port 0 */
	uint32_t		 ttl;		/* min over the whole chain */
	int			 have_neg_ttl;	/* an SOA said how long */
	uint32_t		 neg_ttl;	/* for NXDOMAIN and NODATA */
	unsigned		 chain;		/* CNAMEs followed */
};

/*
 * Encode a query for name (as it is: the caller randomises its case) of
 * type qtype with id, recursion desired and an EDNS OPT record.  Returns
 * the length, or 0 when name is not a valid name or cap is too small.
 */
size_t	dns_query_encode(uint8_t *buf, size_t cap, uint16_t id,
	    const char *name, uint16_t qtype);

/*
 * Read a response to the query (id, name exactly as sent -- the
 * randomised case must come back -- and qtype).  DNS_NOT_ANSWER for
 * anything that does not answer that query (a spoof, a stale reply).
 */
enum dns_status dns_answer_parse(const uint8_t *buf, size_t len, uint16_t id,
	    const char *name, uint16_t qtype, struct dns_answer *out);

const char *dns_status_str(enum dns_status);

#endif
