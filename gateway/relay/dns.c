/*
 * dns: query encoding and answer reading for the resolver (see dns.h).
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "relay/dns.h"

#define HDR_LEN		12
#define MAX_RRS		64	/* answer records read, at most */
#define MAX_JUMPS	32	/* compression pointers followed per name */

#define F_QR		0x8000
#define F_OPCODE	0x7800
#define F_TC		0x0200
#define F_RD		0x0100
#define F_RCODE		0x000f

struct msg {
	const uint8_t	*p;
	size_t		 len;
};

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint8_t *
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

/* --- the query ------------------------------------------------------- */

size_t
dns_query_encode(uint8_t *buf, size_t cap, uint16_t id, const char *name,
    uint16_t qtype)
{
	size_t nlen = strlen(name), need, label = 0, i;
	uint8_t *p = buf, *lenp;

	if (nlen > 0 && name[nlen - 1] == '.')
		nlen--;
	if (nlen == 0 || nlen > DNS_MAX_NAME)
		return 0;
	need = HDR_LEN + nlen + 2 + 4 + 11;
	if (cap < need)
		return 0;
	p = put16(p, id);
	p = put16(p, F_RD);
	p = put16(p, 1);		/* QDCOUNT */
	p = put16(p, 0);
	p = put16(p, 0);
	p = put16(p, 1);		/* ARCOUNT: the OPT record */
	lenp = p++;
	for (i = 0; i < nlen; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			*lenp = (uint8_t)label;
			lenp = p++;
			label = 0;
			continue;
		}
		if (c <= ' ' || c >= 0x7f || ++label > 63)
			return 0;
		*p++ = c;
	}
	if (label == 0)
		return 0;
	*lenp = (uint8_t)label;
	*p++ = 0;
	p = put16(p, qtype);
	p = put16(p, DNS_CLASS_IN);
	/* RFC 6891: OPT, root owner, our UDP payload size, no flags. */
	*p++ = 0;
	p = put16(p, DNS_TYPE_OPT);
	p = put16(p, DNS_UDP_PAYLOAD);
	p = put16(p, 0);
	p = put16(p, 0);
	p = put16(p, 0);
	return (size_t)(p - buf);
}

/* --- reading --------------------------------------------------------- */

/*
 * Read the name at *off into text (lower case, dot-separated, no final
 * dot), following compression pointers only backwards, and move *off past
 * it.  A name with bytes that cannot be part of a host name comes back as
 * "" (it matches nothing).  -1 when the message is broken.
 */
static int
read_name(const struct msg *m, size_t *off, char *text, size_t cap)
{
	size_t pos = *off, out = 0, end = 0, jumps = 0, i;
	size_t lowest = *off;
	int valid = 1, jumped = 0;
	uint8_t l;

	for (;;) {
		if (pos >= m->len)
			return -1;
		l = m->p[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t to;

			if (pos + 1 >= m->len || ++jumps > MAX_JUMPS)
				return -1;
			to = (size_t)(l & 0x3f) << 8 | m->p[pos + 1];
			/* Only backwards, to a byte not yet seen: no loop. */
			if (to >= lowest)
				return -1;
			if (!jumped)
				end = pos + 2;
			jumped = 1;
			lowest = to;
			pos = to;
			continue;
		}
		if (l & 0xc0)
			return -1;		/* 0x40, 0x80: not in use */
		if (l == 0) {
			if (!jumped)
				end = pos + 1;
			break;
		}
		if (pos + 1 + l > m->len)
			return -1;
		if (out + l + 1 > DNS_MAX_NAME + 1)
			return -1;
		if (out > 0)
			text[out++] = '.';
		for (i = 0; i < l; i++) {
			unsigned char c = m->p[pos + 1 + i];

			if (c <= ' ' || c >= 0x7f || c == '.')
				valid = 0;
			text[out++] = (char)tolower(c);
		}
		pos += 1 + l;
	}
	if (out >= cap)
		return -1;
	text[out] = '\0';
	if (!valid)
		text[0] = '\0';
	*off = end;
	return 0;
}

/* A resource record's header and where its data is. */
struct rr {
	char		 owner[DNS_MAX_NAME + 1];
	uint16_t	 type;
	uint16_t	 class;
	uint32_t	 ttl;
	size_t		 rdata;		/* offset */
	uint16_t	 rdlen;
};

static int
read_rr(const struct msg *m, size_t *off, struct rr *rr)
{
	if (read_name(m, off, rr->owner, sizeof(rr->owner)) == -1 ||
	    *off + 10 > m->len)
		return -1;
	rr->type = get16(m->p + *off);
	rr->class = get16(m->p + *off + 2);
	rr->ttl = get32(m->p + *off + 4);
	/* RFC 2181 8: a TTL with the top bit set is taken as zero. */
	if (rr->ttl & 0x80000000U)
		rr->ttl = 0;
	rr->rdlen = get16(m->p + *off + 8);
	rr->rdata = *off + 10;
	if (rr->rdata + rr->rdlen > m->len)
		return -1;
	*off = rr->rdata + rr->rdlen;
	return 0;
}

static uint32_t
min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* The negative lifetime from the authority section's SOA, if any. */
static int
read_soa(const struct msg *m, size_t *off, unsigned n, struct dns_answer *out)
{
	char skip[DNS_MAX_NAME + 1];
	struct rr rr;
	size_t d;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (read_rr(m, off, &rr) == -1)
			return -1;
		if (rr.type != DNS_TYPE_SOA || rr.class != DNS_CLASS_IN ||
		    out->have_neg_ttl)
			continue;
		d = rr.rdata;
		if (read_name(m, &d, skip, sizeof(skip)) == -1 ||
		    read_name(m, &d, skip, sizeof(skip)) == -1 ||
		    d + 20 != rr.rdata + rr.rdlen)
			return -1;
		out->neg_ttl = min32(rr.ttl, get32(m->p + d + 16));
		out->have_neg_ttl = 1;
	}
	return 0;
}

enum dns_status
dns_answer_parse(const uint8_t *buf, size_t len, uint16_t id,
    const char *name, uint16_t qtype, struct dns_answer *out)
{
	struct msg m = { buf, len };
	char qname[DNS_MAX_NAME + 1], want[DNS_MAX_NAME + 1];
	char cur[DNS_MAX_NAME + 1];
	struct rr rrs[MAX_RRS];
	unsigned qd, an, ns, i, nrr, hops;
	uint16_t flags, rcode;
	size_t off = HDR_LEN, nlen = strlen(name), k;
	int found;

	memset(out, 0, sizeof(*out));
	out->ttl = UINT32_MAX;
	if (len < HDR_LEN || len > DNS_MAX_MSG || get16(buf) != id)
		return DNS_NOT_ANSWER;
	flags = get16(buf + 2);
	qd = get16(buf + 4);
	an = get16(buf + 6);
	ns = get16(buf + 8);
	if (!(flags & F_QR) || (flags & F_OPCODE) != 0 || qd != 1)
		return DNS_NOT_ANSWER;

	/*
	 * The question must be ours, to the letter: the case of the name
	 * was randomised (0x20), so an answer that guessed only the id and
	 * the port does not pass.
	 */
	if (nlen > 0 && name[nlen - 1] == '.')
		nlen--;
	{
		size_t qoff = off, o = 0, i2;
		uint8_t l;

		while (qoff < len && (l = buf[qoff]) != 0) {
			/* room for the dot, the label and the final NUL */
			if ((l & 0xc0) || qoff + 1 + l > len || o + l + 2 >
			    sizeof(qname))
				return DNS_NOT_ANSWER;
			if (o > 0)
				qname[o++] = '.';
			for (i2 = 0; i2 < l; i2++)
				qname[o++] = (char)buf[qoff + 1 + i2];
			qoff += 1 + l;
		}
		if (qoff >= len || qoff + 5 > len)
			return DNS_NOT_ANSWER;
		qname[o] = '\0';
		if (o != nlen || memcmp(qname, name, nlen) != 0 ||
		    get16(buf + qoff + 1) != qtype ||
		    get16(buf + qoff + 3) != DNS_CLASS_IN)
			return DNS_NOT_ANSWER;
		off = qoff + 5;
	}
	if (flags & F_TC)
		return DNS_TRUNCATED;
	rcode = flags & F_RCODE;
	if (rcode == 2)
		return DNS_SERVFAIL;
	if (rcode != 0 && rcode != 3)
		return DNS_REFUSED;
	if (an > MAX_RRS)
		return DNS_MALFORMED;
	for (i = 0, nrr = 0; i < an; i++, nrr++)
		if (read_rr(&m, &off, &rrs[nrr]) == -1)
			return DNS_MALFORMED;
	if (read_soa(&m, &off, ns, out) == -1)
		return DNS_MALFORMED;
	if (rcode == 3)
		return DNS_NXDOMAIN;

	/* Follow the chain from the question's name. */
	for (k = 0; k < nlen; k++)
		want[k] = (char)tolower((unsigned char)name[k]);
	want[nlen] = '\0';
	strlcpy(cur, want, sizeof(cur));
	for (hops = 0; ; hops++) {
		found = 0;
		for (i = 0; i < nrr; i++) {
			size_t d = rrs[i].rdata;

			if (rrs[i].type != DNS_TYPE_CNAME ||
			    rrs[i].class != DNS_CLASS_IN ||
			    strcmp(rrs[i].owner, cur) != 0)
				continue;
			if (hops >= DNS_MAX_CHAIN)
				return DNS_MALFORMED;	/* too long, or a loop */
			if (read_name(&m, &d, cur, sizeof(cur)) == -1 ||
			    d != rrs[i].rdata + rrs[i].rdlen)
				return DNS_MALFORMED;
			out->ttl = min32(out->ttl, rrs[i].ttl);
			out->chain++;
			found = 1;
			break;
		}
		if (!found)
			break;
	}
	for (i = 0; i < nrr; i++) {
		struct sockaddr_storage *ss;

		if (rrs[i].type != qtype || rrs[i].class != DNS_CLASS_IN ||
		    strcmp(rrs[i].owner, cur) != 0)
			continue;
		if ((qtype == DNS_TYPE_A && rrs[i].rdlen != 4) ||
		    (qtype == DNS_TYPE_AAAA && rrs[i].rdlen != 16))
			return DNS_MALFORMED;
		out->ttl = min32(out->ttl, rrs[i].ttl);
		if (out->naddrs == DNS_MAX_ADDRS)
			continue;
		ss = &out->addrs[out->naddrs++];
		memset(ss, 0, sizeof(*ss));
		if (qtype == DNS_TYPE_A) {
			ss->ss_family = AF_INET;
			memcpy(&((struct sockaddr_in *)ss)->sin_addr,
			    buf + rrs[i].rdata, 4);
		} else {
			ss->ss_family = AF_INET6;
			memcpy(&((struct sockaddr_in6 *)ss)->sin6_addr,
			    buf + rrs[i].rdata, 16);
		}
	}
	if (out->naddrs == 0) {
		out->ttl = 0;
		return DNS_NODATA;
	}
	return DNS_OK;
}

const char *
dns_status_str(enum dns_status st)
{
	switch (st) {
	case DNS_OK:
		return "ok";
	case DNS_NOT_ANSWER:
		return "not-an-answer";
	case DNS_MALFORMED:
		return "malformed";
	case DNS_TRUNCATED:
		return "truncated";
	case DNS_SERVFAIL:
		return "server-failure";
	case DNS_REFUSED:
		return "refused";
	case DNS_NXDOMAIN:
		return "no-such-name";
	case DNS_NODATA:
		return "no-data";
	}
	return "unknown";
}
