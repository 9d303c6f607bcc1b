/*
 * hal_fake: an in-memory board for the unit tests (see hal_fake.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hal/fake/hal_fake.h"

#define FAKE_KV_MAX	32
#define FAKE_SLOT_SIZE	(64 * 1024)

static uint64_t		 mono;
static int64_t		 wall;
static uint32_t		 rng;
static int		 rnd_fixed = -1;
static struct fake_pkt	 pkts[FAKE_PKT_MAX];
static size_t		 npkts;
static struct fake_pkt	 udps[FAKE_PKT_MAX];
static size_t		 nudps;
static struct fake_pkt	 arps[FAKE_PKT_MAX];
static size_t		 narps;
static struct fake_net	 net;
static struct {
	char	key[64];
	size_t	len;
	uint8_t	val[HAL_KV_MAX];
	int	used;
} kv[FAKE_KV_MAX];
static struct hal_cred	 cred;
static int		 have_cred;
static enum hal_car	 car;
static struct hal_meter	 meter;
static int		 contactor_on;
static unsigned		 contactor_a, contactor_ph;
static void		(*notify_fn)(void *);
static void		*notify_arg;
static unsigned		 reboots;
static char		 log_last[1024];
static uint8_t		 slots[2][FAKE_SLOT_SIZE];
static uint8_t		*store[HAL_STORE_REGIONS];
static size_t		 store_len[HAL_STORE_REGIONS];
static struct hal_boot_state boot;

/* Store faults the tests ask for: every read, or every write, fails. */
static int store_fail_reads, store_fail_writes;

void
fake_hal_reset(void)
{
	int i;

	mono = 1000;
	store_fail_reads = store_fail_writes = 0;
	wall = 1767225600000LL;		/* 2026-01-01T00:00:00Z */
	rng = 12345;
	rnd_fixed = -1;
	npkts = nudps = narps = 0;
	memset(&net, 0, sizeof(net));
	memset(kv, 0, sizeof(kv));
	memset(&cred, 0, sizeof(cred));
	have_cred = 0;
	car = HAL_CAR_ABSENT;
	memset(&meter, 0, sizeof(meter));
	contactor_on = 0;
	contactor_a = contactor_ph = 0;
	notify_fn = NULL;
	notify_arg = NULL;
	reboots = 0;
	log_last[0] = '\0';
	memset(&boot, 0, sizeof(boot));
	boot.confirmed = 1;
	for (i = 0; i < HAL_STORE_REGIONS; i++) {
		free(store[i]);
		store[i] = NULL;
		store_len[i] = 0;
	}
	snprintf(boot.version[0], sizeof(boot.version[0]), "1.0.0");
}

void
fake_set_mono(uint64_t t)
{
	mono = t;
}

void
fake_advance(uint64_t ms)
{
	mono += ms;
	wall += (int64_t)ms;
}

void
fake_set_wall(int64_t t)
{
	wall = t;
}

void
fake_seed(uint32_t s)
{
	rng = s != 0 ? s : 1;
}

void
fake_random_byte(int b)
{
	rnd_fixed = b;
}

void
hal_log(enum hal_log_level level, const char *msg)
{
	if (level <= HAL_LOG_WARN)
		snprintf(log_last, sizeof(log_last), "%s", msg);
	if (getenv("FAKE_HAL_VERBOSE") != NULL)
		fprintf(stderr, "# log[%d] %s\n", level, msg);
}

const char *
fake_log_last(void)
{
	return log_last;
}

uint64_t
hal_mono_ms(void)
{
	return mono;
}

int64_t
hal_wall_ms(void)
{
	return wall;
}

int
hal_wall_set_ms(int64_t t)
{
	wall = t;
	return 0;
}

void
hal_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		if (rnd_fixed >= 0) {
			p[i] = (uint8_t)rnd_fixed;
			continue;
		}
		/* xorshift32: repeatable, good enough for tests. */
		rng ^= rng << 13;
		rng ^= rng >> 17;
		rng ^= rng << 5;
		p[i] = (uint8_t)rng;
	}
}

int
hal_pkt_open(const char *ifname, uint8_t mac[6])
{
	static const uint8_t m[6] = { 0x02, 0x42, 0, 0, 0, 0x01 };

	memcpy(mac, m, 6);
	return 100;
}

static int
capture(struct fake_pkt *arr, size_t *n, uint32_t src, uint32_t dst,
    uint16_t port, const void *buf, size_t len)
{
	struct fake_pkt *p;

	if (*n >= FAKE_PKT_MAX || len > FAKE_BUF) {
		errno = ENOBUFS;
		return -1;
	}
	p = &arr[(*n)++];
	p->src = src;
	p->dst = dst;
	p->port = port;
	p->len = len;
	memcpy(p->buf, buf, len);
	return 0;
}

int
hal_pkt_send(int fd, uint32_t src, uint32_t dst, const uint8_t *buf,
    size_t len)
{
	return capture(pkts, &npkts, src, dst, 67, buf, len);
}

ssize_t
hal_pkt_recv(int fd, uint8_t *buf, size_t cap, uint32_t *src)
{
	errno = EAGAIN;
	return -1;
}

void
hal_pkt_close(int fd)
{
}

size_t
fake_pkt_count(void)
{
	return npkts;
}

const struct fake_pkt *
fake_pkt(size_t i)
{
	return i < npkts ? &pkts[i] : NULL;
}

const struct fake_pkt *
fake_pkt_last(void)
{
	return npkts > 0 ? &pkts[npkts - 1] : NULL;
}

void
fake_pkt_clear(void)
{
	npkts = 0;
}

int
hal_arp_open(const char *ifname)
{
	return 102;
}

int
hal_arp_send(int fd, const uint8_t *buf, size_t len)
{
	return capture(arps, &narps, 0, HAL_IP_BROADCAST, 0, buf, len);
}

ssize_t
hal_arp_recv(int fd, uint8_t *buf, size_t cap)
{
	errno = EAGAIN;
	return -1;
}

void
hal_arp_close(int fd)
{
}

size_t
fake_arp_count(void)
{
	return narps;
}

const struct fake_pkt *
fake_arp(size_t i)
{
	return i < narps ? &arps[i] : NULL;
}

void
fake_arp_clear(void)
{
	narps = 0;
}

int
hal_net_configure(const char *ifname, uint32_t addr, uint32_t mask,
    uint32_t router)
{
	net.calls++;
	net.addr = addr;
	net.mask = mask;
	net.router = router;
	return 0;
}

int
hal_net_counters(const char *ifname, uint64_t *rx, uint64_t *tx)
{
	*rx = 1000;
	*tx = 2000;
	return 0;
}

const struct fake_net *
fake_net(void)
{
	return &net;
}

int
hal_udp_open(void)
{
	return 101;
}

int
hal_udp_send(int fd, uint32_t ip, uint16_t port, const void *buf, size_t len)
{
	return capture(udps, &nudps, 0, ip, port, buf, len);
}

ssize_t
hal_udp_recv(int fd, void *buf, size_t cap, uint32_t *ip, uint16_t *port,
    int64_t *rx)
{
	errno = EAGAIN;
	return -1;
}

void
hal_udp_close(int fd)
{
}

size_t
fake_udp_count(void)
{
	return nudps;
}

const struct fake_pkt *
fake_udp(size_t i)
{
	return i < nudps ? &udps[i] : NULL;
}

void
fake_udp_clear(void)
{
	nudps = 0;
}

int
hal_kv_get(const char *key, void *buf, size_t cap, size_t *len)
{
	size_t i;

	for (i = 0; i < FAKE_KV_MAX; i++)
		if (kv[i].used && strcmp(kv[i].key, key) == 0) {
			memcpy(buf, kv[i].val,
			    kv[i].len < cap ? kv[i].len : cap);
			*len = kv[i].len;
			return 0;
		}
	return -1;
}

int
hal_kv_set(const char *key, const void *val, size_t len)
{
	size_t i, free_i = FAKE_KV_MAX;

	if (len > HAL_KV_MAX || strlen(key) >= sizeof(kv[0].key))
		return -1;
	for (i = 0; i < FAKE_KV_MAX; i++) {
		if (kv[i].used && strcmp(kv[i].key, key) == 0)
			break;
		if (!kv[i].used && free_i == FAKE_KV_MAX)
			free_i = i;
	}
	if (i == FAKE_KV_MAX)
		i = free_i;
	if (i == FAKE_KV_MAX)
		return -1;
	kv[i].used = 1;
	snprintf(kv[i].key, sizeof(kv[i].key), "%s", key);
	memcpy(kv[i].val, val, len);
	kv[i].len = len;
	return 0;
}

int
hal_kv_del(const char *key)
{
	size_t i;

	for (i = 0; i < FAKE_KV_MAX; i++)
		if (kv[i].used && strcmp(kv[i].key, key) == 0)
			kv[i].used = 0;
	return 0;
}

int
hal_cred_load(struct hal_cred *c)
{
	if (!have_cred)
		return -1;
	*c = cred;
	return 0;
}

int
hal_cred_store(const struct hal_cred *c)
{
	cred = *c;
	have_cred = 1;
	return 0;
}

enum hal_car
hal_car_state(void)
{
	return car;
}

void
fake_car_set(enum hal_car c)
{
	car = c;
	if (notify_fn != NULL)
		notify_fn(notify_arg);
}

int
hal_meter_read(struct hal_meter *m)
{
	*m = meter;
	return 0;
}

void
fake_meter_set(const struct hal_meter *m)
{
	meter = *m;
}

int
hal_contactor_set(int on, unsigned a, unsigned ph)
{
	contactor_on = on;
	contactor_a = on ? a : 0;
	contactor_ph = on ? ph : 0;
	return 0;
}

int
fake_contactor(unsigned *a, unsigned *ph)
{
	if (a != NULL)
		*a = contactor_a;
	if (ph != NULL)
		*ph = contactor_ph;
	return contactor_on;
}

void
hal_car_notify(void (*fn)(void *), void *arg)
{
	notify_fn = fn;
	notify_arg = arg;
}

int
hal_reboot(void)
{
	reboots++;
	return -1;
}

unsigned
fake_reboots(void)
{
	return reboots;
}

uint64_t
hal_slot_size(void)
{
	return FAKE_SLOT_SIZE;
}

int
hal_slot_running(void)
{
	return boot.active;
}

static int
slot_range(int slot, uint64_t off, size_t len)
{
	return (slot == HAL_SLOT_A || slot == HAL_SLOT_B) &&
	    off <= FAKE_SLOT_SIZE && len <= FAKE_SLOT_SIZE - off;
}

int
hal_slot_read(int slot, uint64_t off, void *buf, size_t len)
{
	if (!slot_range(slot, off, len))
		return -1;
	memcpy(buf, slots[slot] + off, len);
	return 0;
}

int
hal_slot_write(int slot, uint64_t off, const void *buf, size_t len)
{
	if (!slot_range(slot, off, len) || slot == hal_slot_running())
		return -1;
	memcpy(slots[slot] + off, buf, len);
	return 0;
}

int
hal_slot_erase(int slot)
{
	if (!slot_range(slot, 0, 0) || slot == hal_slot_running())
		return -1;
	memset(slots[slot], 0xff, FAKE_SLOT_SIZE);
	return 0;
}

int
hal_slot_sync(int slot)
{
	return slot_range(slot, 0, 0) ? 0 : -1;
}

int
hal_boot_state_get(struct hal_boot_state *b)
{
	*b = boot;
	return 0;
}

int
hal_boot_state_set(const struct hal_boot_state *b)
{
	boot = *b;
	return 0;
}

size_t
hal_store_size(int region)
{
	return region >= 0 && region < HAL_STORE_REGIONS ? store_len[region] :
	    0;
}

int
hal_store_format(int region, size_t size)
{
	uint8_t *p;

	if (region < 0 || region >= HAL_STORE_REGIONS ||
	    (p = malloc(size)) == NULL)
		return -1;
	memset(p, 0xff, size);
	free(store[region]);
	store[region] = p;
	store_len[region] = size;
	return 0;
}

void
fake_store_fail(int reads, int writes)
{
	store_fail_reads = reads;
	store_fail_writes = writes;
}

int
hal_store_read(int region, size_t off, void *buf, size_t len)
{
	if (store_fail_reads)
		return -1;
	if (region < 0 || region >= HAL_STORE_REGIONS ||
	    off > store_len[region] || len > store_len[region] - off)
		return -1;
	memcpy(buf, store[region] + off, len);
	return 0;
}

int
hal_store_write(int region, size_t off, const void *buf, size_t len)
{
	if (store_fail_writes)
		return -1;
	if (region < 0 || region >= HAL_STORE_REGIONS ||
	    off > store_len[region] || len > store_len[region] - off)
		return -1;
	memcpy(store[region] + off, buf, len);
	return 0;
}

int
hal_store_sync(int region)
{
	return region >= 0 && region < HAL_STORE_REGIONS ? 0 : -1;
}

uint8_t *
fake_store(int region, size_t *len)
{
	*len = store_len[region];
	return store[region];
}
