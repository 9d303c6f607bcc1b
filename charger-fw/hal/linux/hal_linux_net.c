/*
 * hal_linux_net: the DHCP packet socket, the ARP socket (RFC 5227
 * probes), interface configuration over rtnetlink, UDP with kernel
 * receive timestamps, interface counters.
 *
 * The packet socket is AF_PACKET/SOCK_DGRAM for IPv4 on one interface
 * with a classic BPF filter for UDP to port 68, so the firmware wakes up
 * only for DHCP, not for every MQTT segment.  Broadcasts are built here
 * (IPv4 + UDP headers, checksums).  Unicasts (RENEWING) go out through a
 * kernel UDP socket bound to port 68 on the interface, as ISC dhclient
 * does; that socket also keeps the kernel from answering the server's
 * unicast replies with ICMP port unreachable.  Its own receive queue is
 * drained and discarded (the packet socket sees the same frames).
 */
#include "evgate_config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hal/linux/hal_linux.h"

int64_t	hal_linux_rtc_offset(void);

static int	pkt_ifindex;
static int	pkt_udp = -1;		/* the unicast/fallback socket */

static void
netlog(enum hal_log_level level, const char *what, const char *ifname)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s %s: %s", what, ifname, strerror(errno));
	hal_log(level, msg);
}

static uint16_t
csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

int
hal_pkt_open(const char *ifname, uint8_t mac[6])
{
	/* udp and dst port 68, not a fragment (offsets in the IP header). */
	static struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 6),
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 4, 0),
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
		BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 68, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };
	struct sockaddr_ll sll;
	struct sockaddr_in sin;
	struct ifreq ifr;
	int fd, one = 1;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if ((fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    htons(ETH_P_IP))) == -1) {
		netlog(HAL_LOG_ERR, "packet socket on", ifname);
		return -1;
	}
	if (ioctl(fd, SIOCGIFINDEX, &ifr) == -1) {
		netlog(HAL_LOG_ERR, "no interface", ifname);
		goto fail;
	}
	pkt_ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) == -1) {
		netlog(HAL_LOG_ERR, "no hardware address on", ifname);
		goto fail;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	/* Bring the link up: a board's PHY is up at power-on. */
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) == -1)
			netlog(HAL_LOG_WARN, "cannot bring up", ifname);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
	    sizeof(prog)) == -1) {
		netlog(HAL_LOG_ERR, "BPF filter on", ifname);
		goto fail;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_IP);
	sll.sll_ifindex = pkt_ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == -1) {
		netlog(HAL_LOG_ERR, "bind packet socket on", ifname);
		goto fail;
	}

	if ((pkt_udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	setsockopt(pkt_udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (setsockopt(pkt_udp, SOL_SOCKET, SO_BINDTODEVICE, ifname,
	    (socklen_t)strlen(ifname)) == -1) {
		netlog(HAL_LOG_ERR, "SO_BINDTODEVICE", ifname);
		goto fail;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(68);
	if (bind(pkt_udp, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		netlog(HAL_LOG_ERR, "bind UDP port 68 on", ifname);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	if (pkt_udp != -1)
		close(pkt_udp);
	pkt_udp = -1;
	return -1;
}

int
hal_pkt_send(int fd, uint32_t src, uint32_t dst, const uint8_t *payload,
    size_t len)
{
	uint8_t frame[1500], pseudo[12];
	struct sockaddr_ll sll;
	struct sockaddr_in sin;
	size_t tot = 20 + 8 + len;
	uint16_t sum;

	if (dst != HAL_IP_BROADCAST) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(67);
		sin.sin_addr.s_addr = htonl(dst);
		return sendto(pkt_udp, payload, len, 0, (struct sockaddr *)&sin,
		    sizeof(sin)) == (ssize_t)len ? 0 : -1;
	}
	if (tot > sizeof(frame)) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(frame, 0, 28);
	frame[0] = 0x45;
	frame[2] = tot >> 8;
	frame[3] = tot & 0xff;
	frame[8] = 64;				/* TTL */
	frame[9] = IPPROTO_UDP;
	frame[12] = src >> 24;
	frame[13] = src >> 16;
	frame[14] = src >> 8;
	frame[15] = src;
	memset(frame + 16, 0xff, 4);
	sum = ~csum_add(0, frame, 20);
	frame[10] = sum >> 8;
	frame[11] = sum & 0xff;
	frame[20] = 0;				/* 68 -> 67 */
	frame[21] = 68;
	frame[23] = 67;
	frame[24] = (8 + len) >> 8;
	frame[25] = (8 + len) & 0xff;
	memcpy(frame + 28, payload, len);
	memcpy(pseudo, frame + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_UDP;
	pseudo[10] = frame[24];
	pseudo[11] = frame[25];
	sum = ~csum_add(csum_add(0, pseudo, 12), frame + 20, 8 + len);
	if (sum == 0)
		sum = 0xffff;
	frame[26] = sum >> 8;
	frame[27] = sum & 0xff;

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_IP);
	sll.sll_ifindex = pkt_ifindex;
	sll.sll_halen = 6;
	memset(sll.sll_addr, 0xff, 6);
	return sendto(fd, frame, tot, 0, (struct sockaddr *)&sll,
	    sizeof(sll)) == (ssize_t)tot ? 0 : -1;
}

ssize_t
hal_pkt_recv(int fd, uint8_t *buf, size_t cap, uint32_t *src)
{
	uint8_t frame[2048], junk[16];
	struct sockaddr_ll sll;
	socklen_t sl = sizeof(sll);
	size_t ihl, tot, ulen;
	ssize_t n;

	/* What the kernel delivered to port 68 we have seen already. */
	while (pkt_udp != -1 && recv(pkt_udp, junk, sizeof(junk), 0) >= 0)
		;
	n = recvfrom(fd, frame, sizeof(frame), 0, (struct sockaddr *)&sll,
	    &sl);
	if (n == -1)
		return -1;
	if (sll.sll_pkttype == PACKET_OUTGOING)
		return 0;
	/* IPv4, UDP, no fragment, 67 -> 68, lengths consistent. */
	if (n < 28 || (frame[0] >> 4) != 4)
		return 0;
	ihl = (size_t)(frame[0] & 0x0f) * 4;
	tot = (size_t)frame[2] << 8 | frame[3];
	if (ihl < 20 || tot > (size_t)n || tot < ihl + 8 ||
	    frame[9] != IPPROTO_UDP || csum_add(0, frame, ihl) != 0xffff)
		return 0;
	if (((frame[6] & 0x1f) | frame[7]) != 0 || (frame[6] & 0x20))
		return 0;
	if (((frame[ihl] << 8) | frame[ihl + 1]) != 67 ||
	    ((frame[ihl + 2] << 8) | frame[ihl + 3]) != 68)
		return 0;
	ulen = (size_t)frame[ihl + 4] << 8 | frame[ihl + 5];
	if (ulen < 8 || ulen > tot - ihl)
		return 0;
	ulen -= 8;
	if (ulen > cap)
		return 0;
	memcpy(buf, frame + ihl + 8, ulen);
	*src = (uint32_t)frame[12] << 24 | (uint32_t)frame[13] << 16 |
	    (uint32_t)frame[14] << 8 | frame[15];
	return (ssize_t)ulen;
}

void
hal_pkt_close(int fd)
{
	close(fd);
	if (pkt_udp != -1)
		close(pkt_udp);
	pkt_udp = -1;
}

/* ------------------------------------------------------------------ */
/* rtnetlink: one request, wait for its ACK.                          */

struct nlreq {
	struct nlmsghdr	 nh;
	union {
		struct ifaddrmsg ifa;
		struct rtmsg	 rt;
	} u;
	uint8_t		 attrs[256];
};

static void
nl_attr(struct nlreq *r, uint16_t type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((uint8_t *)r +
	    NLMSG_ALIGN(r->nh.nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) +
	    RTA_ALIGN(rta->rta_len);
}

static int
nl_talk(struct nlreq *r)
{
	struct sockaddr_nl sa;
	uint8_t buf[4096];
	struct nlmsghdr *h;
	struct nlmsgerr *e;
	ssize_t n;
	int fd, rv = -1;

	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
	    NETLINK_ROUTE)) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	r->nh.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	r->nh.nlmsg_seq = (uint32_t)hal_mono_ms();
	if (sendto(fd, r, r->nh.nlmsg_len, 0, (struct sockaddr *)&sa,
	    sizeof(sa)) == -1)
		goto out;
	if ((n = recv(fd, buf, sizeof(buf), 0)) == -1)
		goto out;
	for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
	    h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type != NLMSG_ERROR)
			continue;
		e = NLMSG_DATA(h);
		if (e->error == 0)
			rv = 0;
		else
			errno = -e->error;
		break;
	}
out:
	close(fd);
	return rv;
}

static int
nl_addr(int cmd, int flags, int ifindex, uint32_t addr, unsigned plen)
{
	struct nlreq r;
	uint32_t a = htonl(addr), bc = htonl(addr | (plen >= 32 ? 0 :
	    0xffffffffU >> plen));

	memset(&r, 0, sizeof(r));
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	r.nh.nlmsg_type = (uint16_t)cmd;
	r.nh.nlmsg_flags = (uint16_t)flags;
	r.u.ifa.ifa_family = AF_INET;
	r.u.ifa.ifa_prefixlen = (uint8_t)plen;
	r.u.ifa.ifa_index = (unsigned)ifindex;
	r.u.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	nl_attr(&r, IFA_LOCAL, &a, 4);
	nl_attr(&r, IFA_ADDRESS, &a, 4);
	if (cmd == RTM_NEWADDR)
		nl_attr(&r, IFA_BROADCAST, &bc, 4);
	return nl_talk(&r);
}

static int
nl_default_route(int ifindex, uint32_t router)
{
	struct nlreq r;
	uint32_t gw = htonl(router);
	int oif = ifindex;

	memset(&r, 0, sizeof(r));
	r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	r.nh.nlmsg_type = RTM_NEWROUTE;
	r.nh.nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	r.u.rt.rtm_family = AF_INET;
	r.u.rt.rtm_table = RT_TABLE_MAIN;
	r.u.rt.rtm_protocol = RTPROT_BOOT;
	r.u.rt.rtm_scope = RT_SCOPE_UNIVERSE;
	r.u.rt.rtm_type = RTN_UNICAST;
	nl_attr(&r, RTA_GATEWAY, &gw, 4);
	nl_attr(&r, RTA_OIF, &oif, sizeof(oif));
	return nl_talk(&r);
}

static unsigned
prefix_len(uint32_t mask)
{
	unsigned n = 0;

	while (n < 32 && (mask & (0x80000000U >> n)))
		n++;
	return n;
}

/*
 * ARP: AF_PACKET/SOCK_DGRAM for ETH_P_ARP on the interface; the kernel
 * adds the Ethernet header (to the broadcast address given) and strips
 * it.  Frames we sent ourselves come back as PACKET_OUTGOING: not ours
 * to judge (0).
 */
static int arp_ifindex;

int
hal_arp_open(const char *ifname)
{
	struct sockaddr_ll sll;
	struct ifreq ifr;
	int fd;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if ((fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    htons(ETH_P_ARP))) == -1) {
		netlog(HAL_LOG_WARN, "ARP socket on", ifname);
		return -1;
	}
	if (ioctl(fd, SIOCGIFINDEX, &ifr) == -1) {
		netlog(HAL_LOG_WARN, "no interface", ifname);
		close(fd);
		return -1;
	}
	arp_ifindex = ifr.ifr_ifindex;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ARP);
	sll.sll_ifindex = arp_ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == -1) {
		netlog(HAL_LOG_WARN, "bind ARP socket on", ifname);
		close(fd);
		return -1;
	}
	return fd;
}

int
hal_arp_send(int fd, const uint8_t *payload, size_t len)
{
	struct sockaddr_ll sll;

	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ARP);
	sll.sll_ifindex = arp_ifindex;
	sll.sll_halen = 6;
	memset(sll.sll_addr, 0xff, 6);
	return sendto(fd, payload, len, 0, (struct sockaddr *)&sll,
	    sizeof(sll)) == (ssize_t)len ? 0 : -1;
}

ssize_t
hal_arp_recv(int fd, uint8_t *buf, size_t cap)
{
	struct sockaddr_ll sll;
	socklen_t sl = sizeof(sll);
	ssize_t n;

	if ((n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&sll,
	    &sl)) == -1)
		return -1;
	return sll.sll_pkttype == PACKET_OUTGOING ? 0 : n;
}

void
hal_arp_close(int fd)
{
	close(fd);
}

int
hal_net_configure(const char *ifname, uint32_t addr, uint32_t mask,
    uint32_t router)
{
	static uint32_t cur_addr;
	static unsigned cur_plen;
	unsigned plen = prefix_len(mask);
	int ifindex;

	if ((ifindex = (int)if_nametoindex(ifname)) == 0) {
		netlog(HAL_LOG_ERR, "no interface", ifname);
		return -1;
	}
	if (cur_addr != 0 && (cur_addr != addr || cur_plen != plen)) {
		if (nl_addr(RTM_DELADDR, 0, ifindex, cur_addr,
		    cur_plen) == -1 && errno != EADDRNOTAVAIL)
			netlog(HAL_LOG_WARN, "removing address from", ifname);
		cur_addr = 0;
	}
	if (addr == 0)
		return 0;
	if (nl_addr(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex, addr,
	    plen) == -1) {
		netlog(HAL_LOG_ERR, "adding address to", ifname);
		return -1;
	}
	cur_addr = addr;
	cur_plen = plen;
	if (router != 0 && nl_default_route(ifindex, router) == -1) {
		netlog(HAL_LOG_ERR, "default route on", ifname);
		return -1;
	}
	return 0;
}

int
hal_net_counters(const char *ifname, uint64_t *rx, uint64_t *tx)
{
	const char *names[2] = { "rx_bytes", "tx_bytes" };
	uint64_t *out[2] = { rx, tx };
	char path[256], buf[32];
	ssize_t n;
	int i, fd;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s",
		    ifname, names[i]);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			return -1;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			return -1;
		buf[n] = '\0';
		*out[i] = strtoull(buf, NULL, 10);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* UDP.                                                               */

int
hal_udp_open(void)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	/* Kernel receive timestamps: the NTP T4 (PROTOCOLS.md). */
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;	/* port 0: a random ephemeral port */
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

int
hal_udp_send(int fd, uint32_t ip, uint16_t port, const void *buf, size_t len)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(ip);
	return sendto(fd, buf, len, 0, (struct sockaddr *)&sin,
	    sizeof(sin)) == (ssize_t)len ? 0 : -1;
}

ssize_t
hal_udp_recv(int fd, void *buf, size_t cap, uint32_t *ip, uint16_t *port,
    int64_t *rx)
{
	union {
		struct cmsghdr	h;
		uint8_t		b[CMSG_SPACE(sizeof(struct timespec))];
	} ctl;
	struct sockaddr_in sin;
	struct iovec iov = { buf, cap };
	struct msghdr mh;
	struct cmsghdr *c;
	struct timespec ts;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &sin;
	mh.msg_namelen = sizeof(sin);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = &ctl;
	mh.msg_controllen = sizeof(ctl);
	if ((n = recvmsg(fd, &mh, 0)) == -1)
		return -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS)
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
	*rx = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
	    hal_linux_rtc_offset();
	*ip = ntohl(sin.sin_addr.s_addr);
	*port = ntohs(sin.sin_port);
	return n;
}

void
hal_udp_close(int fd)
{
	close(fd);
}
