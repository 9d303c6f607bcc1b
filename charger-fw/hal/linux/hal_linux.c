/*
 * hal_linux: logging, clocks, storage, credentials, the simulated meter,
 * reboot and the A/B slots on Linux.  The network half is hal_linux_net.c.
 *
 * Every file in the state directory is written by temp file + fsync +
 * rename + fsync of the directory, so a kill -9 (our power cut) leaves the
 * old or the new contents, never a mix.
 */
#include "evgate_config.h"

#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "hal/linux/hal_linux.h"

#define DEFAULT_SLOT_SIZE	(16ULL * 1024 * 1024)

static char		 state_dir[PATH_MAX];
static int		 log_stderr = 1;
static const char	*log_ident = "evcharger";
static int64_t		 rtc_offset;
static uint64_t		 slot_size = DEFAULT_SLOT_SIZE;
static int		 running_slot;
static char *const	*saved_argv;

static void		(*car_fn)(void *);
static void		*car_arg;
static enum hal_car	 car = HAL_CAR_ABSENT;
static int		 contactor_on;
static unsigned		 offer_a, offer_ph;
static double		 power_cap;
static double		 energy_wh;
static uint64_t		 energy_at;

void
hal_log(enum hal_log_level level, const char *msg)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const tag[] = { "error", "warning", "info",
		"debug" };
	struct timespec ts;
	struct tm tm;
	char when[32];

	if ((unsigned)level > HAL_LOG_DEBUG)
		level = HAL_LOG_DEBUG;
	if (!log_stderr) {
		syslog(prio[level], "%s", msg);
		return;
	}
	/* Log times are the host's: the firmware's RTC may be wrong. */
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s[%s]: %s\n", when, ts.tv_nsec / 1000000,
	    log_ident, tag[level], msg);
	fflush(stderr);
}

static void
linux_log(enum hal_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
linux_log(enum hal_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hal_log(level, msg);
}

uint64_t
hal_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int64_t
host_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
hal_wall_ms(void)
{
	return host_wall_ms() + rtc_offset;
}

/* Used by hal_linux_net.c for kernel receive timestamps. */
int64_t	hal_linux_rtc_offset(void);

int64_t
hal_linux_rtc_offset(void)
{
	return rtc_offset;
}

int
hal_wall_set_ms(int64_t t)
{
	char buf[32];
	int n;

	rtc_offset = t - host_wall_ms();
	/* A real RTC keeps running across a reboot: so does ours. */
	n = snprintf(buf, sizeof(buf), "%lld", (long long)rtc_offset);
	return hal_kv_set("rtc_offset_ms", buf, (size_t)n);
}

void
hal_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			abort();	/* no entropy: nothing sane to do */
		}
		p += n;
		len -= (size_t)n;
	}
}

/* ------------------------------------------------------------------ */
/* Files.                                                             */

static int
path_of(char *buf, size_t cap, const char *name)
{
	int n = snprintf(buf, cap, "%s/%s", state_dir, name);

	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int
sync_dir(const char *dir)
{
	int fd, rv;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rv = fsync(fd);
	close(fd);
	return rv;
}

/*
 * The end of an atomic replace: fd (tmp, written) synced and closed, tmp
 * renamed over path, the directory synced.  0, or -1 with tmp gone.
 */
static int
commit_tmp(int fd, const char *tmp, const char *path)
{
	char dir[PATH_MAX], *slash;

	if (fsync(fd) == -1) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) == -1) {
		unlink(tmp);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	return sync_dir(dir);
}

/* Atomic replace of state_dir/name with buf. */
static int
file_put(const char *name, const void *buf, size_t len, mode_t mode)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	const uint8_t *p = buf;
	ssize_t n;
	int fd;

	if (path_of(path, sizeof(path), name) == -1)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    mode)) == -1)
		return -1;
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	return commit_tmp(fd, tmp, path);
fail:
	close(fd);
	unlink(tmp);
	return -1;
}

/* Read state_dir/name: length, or -1 (ENOENT when absent). */
static ssize_t
file_get(const char *name, void *buf, size_t cap)
{
	char path[PATH_MAX];
	ssize_t n, total = 0;
	int fd;

	if (path_of(path, sizeof(path), name) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while ((size_t)total < cap) {
		n = read(fd, (uint8_t *)buf + total, cap - (size_t)total);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	close(fd);
	return total;
}

static int
kv_key_ok(const char *key)
{
	const char *p;

	if (*key == '\0' || strlen(key) > 64 || key[0] == '.')
		return 0;
	for (p = key; *p != '\0'; p++)
		if (!islower((unsigned char)*p) &&
		    !isdigit((unsigned char)*p) &&
		    *p != '_' && *p != '.' && *p != '-')
			return 0;
	return 1;
}

int
hal_kv_get(const char *key, void *buf, size_t cap, size_t *len)
{
	char name[128];
	uint8_t tmp[HAL_KV_MAX + 1];
	ssize_t n;

	if (!kv_key_ok(key))
		return -1;
	snprintf(name, sizeof(name), "kv/%s", key);
	if ((n = file_get(name, tmp, sizeof(tmp))) == -1 || n > HAL_KV_MAX)
		return -1;
	memcpy(buf, tmp, (size_t)n < cap ? (size_t)n : cap);
	*len = (size_t)n;
	return 0;
}

int
hal_kv_set(const char *key, const void *buf, size_t len)
{
	char name[128];

	if (!kv_key_ok(key) || len > HAL_KV_MAX)
		return -1;
	snprintf(name, sizeof(name), "kv/%s", key);
	return file_put(name, buf, len, 0644);
}

int
hal_kv_del(const char *key)
{
	char path[PATH_MAX], name[128];

	if (!kv_key_ok(key))
		return -1;
	snprintf(name, sizeof(name), "kv/%s", key);
	if (path_of(path, sizeof(path), name) == -1)
		return -1;
	if (unlink(path) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Credentials: state_dir/credentials, mode 0600, two lines            */
/* "id=..." and "secret=...".  A board keeps these in a secure element */
/* or read-protected flash.                                          */

int
hal_cred_load(struct hal_cred *c)
{
	char buf[512], *line, *save = NULL;
	ssize_t n;

	memset(c, 0, sizeof(*c));
	if ((n = file_get("credentials", buf, sizeof(buf) - 1)) == -1)
		return -1;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "id=", 3) == 0)
			snprintf(c->device_id, sizeof(c->device_id), "%s",
			    line + 3);
		else if (strncmp(line, "secret=", 7) == 0)
			snprintf(c->secret, sizeof(c->secret), "%s", line + 7);
	}
	if (c->device_id[0] == '\0' || c->secret[0] == '\0') {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
hal_cred_store(const struct hal_cred *c)
{
	char buf[512];
	int n;

	if (strchr(c->device_id, '\n') != NULL || strchr(c->secret, '\n'))
		return -1;
	n = snprintf(buf, sizeof(buf), "id=%s\nsecret=%s\n", c->device_id,
	    c->secret);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return file_put("credentials", buf, (size_t)n, 0600);
}

/* ------------------------------------------------------------------ */
/* Store-and-forward regions: state_dir/store-N.bin, written in place  */
/* with pwrite and made durable with fsync (formatting: temp file of   */
/* 0xff bytes, fsync, rename).                                         */

static int
store_path(int region, char *buf, size_t cap)
{
	char name[32];

	if (region < 0 || region >= HAL_STORE_REGIONS)
		return -1;
	snprintf(name, sizeof(name), "store-%d.bin", region);
	return path_of(buf, cap, name);
}

static int
store_fd(int region, int flags)
{
	char path[PATH_MAX];

	if (store_path(region, path, sizeof(path)) == -1)
		return -1;
	return open(path, flags | O_CLOEXEC);
}

size_t
hal_store_size(int region)
{
	struct stat st;
	int fd;

	if ((fd = store_fd(region, O_RDONLY)) == -1)
		return 0;
	if (fstat(fd, &st) == -1)
		st.st_size = 0;
	close(fd);
	return (size_t)st.st_size;
}

int
hal_store_format(int region, size_t size)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	uint8_t buf[4096];
	size_t left = size, n;
	int fd;

	if (store_path(region, path, sizeof(path)) == -1)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		return -1;
	memset(buf, 0xff, sizeof(buf));
	while (left > 0) {
		n = left < sizeof(buf) ? left : sizeof(buf);
		if (write(fd, buf, n) != (ssize_t)n)
			goto fail;
		left -= n;
	}
	return commit_tmp(fd, tmp, path);
fail:
	close(fd);
	unlink(tmp);
	return -1;
}

int
hal_store_read(int region, size_t off, void *buf, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = store_fd(region, O_RDONLY)) == -1)
		return -1;
	n = pread(fd, buf, len, (off_t)off);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

int
hal_store_write(int region, size_t off, const void *buf, size_t len)
{
	ssize_t n;
	int fd;

	if ((fd = store_fd(region, O_WRONLY)) == -1)
		return -1;
	n = pwrite(fd, buf, len, (off_t)off);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

int
hal_store_sync(int region)
{
	int fd, rv;

	if ((fd = store_fd(region, O_RDONLY)) == -1)
		return -1;
	rv = fdatasync(fd);
	close(fd);
	return rv;
}

/* ------------------------------------------------------------------ */
/* The simulated car and meter: 230 V on three phases; a plugged-in car  */
/* draws what is offered (optionally capped in watts); energy is the    */
/* integral of power over monotonic time.                            */
/*                                                                    */
/* A real charger's meter keeps its energy register through a power   */
/* cut, and a car stays plugged in while the charger reboots; the     */
/* simulation keeps both in state_dir/sim, written whenever they change */
/* or are read, so that a kill -9 or a reboot finds them as the        */
/* firmware last saw them (a session that survives the cut can be      */
/* resumed or closed against the same register).                      */

#define SIM_VOLTAGE	230.0
#define SIM_FILE	"sim"

static void
sim_save(void)
{
	char buf[128];
	int n;

	n = snprintf(buf, sizeof(buf), "car=%d\nenergy=%.6f\npower_cap=%.3f\n",
	    (int)car, energy_wh, power_cap);
	if (n < 0 || (size_t)n >= sizeof(buf) ||
	    file_put(SIM_FILE, buf, (size_t)n, 0644) == -1)
		linux_log(HAL_LOG_WARN, "%s/%s: cannot save the simulated "
		    "car and meter: %s", state_dir, SIM_FILE, strerror(errno));
}

static void
sim_load(void)
{
	char buf[128];
	ssize_t n;
	int c;
	double e, w;

	if ((n = file_get(SIM_FILE, buf, sizeof(buf) - 1)) <= 0)
		return;
	buf[n] = '\0';
	if (sscanf(buf, "car=%d\nenergy=%lf\npower_cap=%lf", &c, &e, &w) != 3 ||
	    c < HAL_CAR_ABSENT || c > HAL_CAR_FULL || !(e >= 0) || !(w >= 0)) {
		linux_log(HAL_LOG_WARN, "%s/%s: not a simulation state; "
		    "starting with no car and a zero meter", state_dir,
		    SIM_FILE);
		return;
	}
	car = (enum hal_car)c;
	energy_wh = e;
	power_cap = w;
}

static double
sim_power(void)
{
	double p;

	if (!contactor_on || car != HAL_CAR_PLUGGED)
		return 0;
	p = SIM_VOLTAGE * offer_a * offer_ph;
	if (power_cap > 0 && p > power_cap)
		p = power_cap;
	return p;
}

static void
sim_integrate(void)
{
	uint64_t now = hal_mono_ms();

	if (energy_at != 0)
		energy_wh += sim_power() * (double)(now - energy_at) /
		    3600000.0;
	energy_at = now;
}

enum hal_car
hal_car_state(void)
{
	return car;
}

int
hal_meter_read(struct hal_meter *m)
{
	double p, per;
	unsigned i;

	sim_integrate();
	memset(m, 0, sizeof(*m));
	p = sim_power();
	per = offer_ph > 0 ? p / offer_ph / SIM_VOLTAGE : 0;
	for (i = 0; i < 3; i++) {
		m->voltage[i] = SIM_VOLTAGE;
		m->current[i] = i < offer_ph ? per : 0;
	}
	m->power = p;
	m->energy = energy_wh;
	sim_save();
	return 0;
}

int
hal_contactor_set(int on, unsigned a, unsigned ph)
{
	sim_integrate();
	contactor_on = on;
	offer_a = on ? a : 0;
	offer_ph = on ? ph : 0;
	sim_save();
	return 0;
}

void
hal_car_notify(void (*fn)(void *), void *arg)
{
	car_fn = fn;
	car_arg = arg;
}

void
hal_linux_sim_car(enum hal_car c)
{
	sim_integrate();
	car = c;
	sim_save();
	if (car_fn != NULL)
		car_fn(car_arg);
}

void
hal_linux_sim_set_power(double w)
{
	sim_integrate();
	power_cap = w;
	sim_save();
}

/* ------------------------------------------------------------------ */
/* Reboot: re-exec ourselves, like a board reset.                     */

void
hal_linux_close_fds(void)
{
	syscall(SYS_close_range, 3U, ~0U, 0);
}

int
hal_reboot(void)
{
	linux_log(HAL_LOG_INFO, "rebooting (re-exec)");
	if (saved_argv == NULL) {
		errno = EINVAL;
		return -1;
	}
	hal_linux_close_fds();
	execv("/proc/self/exe", saved_argv);
	linux_log(HAL_LOG_ERR, "re-exec failed: %s", strerror(errno));
	return -1;
}

/* ------------------------------------------------------------------ */
/* Slots: state_dir/slot-a.img and slot-b.img; the boot-state record is */
/* state_dir/boot-state, a few "key=value" lines replaced atomically.  */

static const char *const slot_file[2] = { "slot-a.img", "slot-b.img" };

uint64_t
hal_slot_size(void)
{
	return slot_size;
}

int
hal_slot_running(void)
{
	return running_slot;
}

static int
slot_ok(int slot, uint64_t off, size_t len)
{
	if (slot != HAL_SLOT_A && slot != HAL_SLOT_B)
		return 0;
	return off <= slot_size && len <= slot_size - off;
}

static int
slot_open(int slot, int flags)
{
	char path[PATH_MAX];

	if (path_of(path, sizeof(path), slot_file[slot]) == -1)
		return -1;
	return open(path, flags | O_CLOEXEC, 0644);
}

int
hal_slot_read(int slot, uint64_t off, void *buf, size_t len)
{
	ssize_t n;
	int fd;

	if (!slot_ok(slot, off, len) || (fd = slot_open(slot, O_RDONLY)) == -1)
		return -1;
	n = pread(fd, buf, len, (off_t)off);
	close(fd);
	if (n >= 0 && (size_t)n < len)
		memset((uint8_t *)buf + n, 0xff, len - (size_t)n);
	return n < 0 ? -1 : 0;
}

int
hal_slot_write(int slot, uint64_t off, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;
	int fd;

	if (!slot_ok(slot, off, len) || slot == running_slot) {
		errno = EPERM;
		return -1;
	}
	if ((fd = slot_open(slot, O_WRONLY | O_CREAT)) == -1)
		return -1;
	while (len > 0) {
		if ((n = pwrite(fd, p, len, (off_t)off)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	close(fd);
	return 0;
}

int
hal_slot_erase(int slot)
{
	int fd;

	if (!slot_ok(slot, 0, 0) || slot == running_slot) {
		errno = EPERM;
		return -1;
	}
	if ((fd = slot_open(slot, O_WRONLY | O_CREAT | O_TRUNC)) == -1)
		return -1;
	fsync(fd);
	close(fd);
	return 0;
}

int
hal_slot_sync(int slot)
{
	int fd, rv;

	if (!slot_ok(slot, 0, 0) || (fd = slot_open(slot, O_RDONLY)) == -1)
		return -1;
	rv = fsync(fd);
	close(fd);
	return rv;
}

int
hal_boot_state_get(struct hal_boot_state *b)
{
	char buf[1024], *line, *save = NULL, *eq;
	unsigned long v;
	ssize_t n;

	memset(b, 0, sizeof(*b));
	if ((n = file_get("boot-state", buf, sizeof(buf) - 1)) == -1)
		return -1;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq++ = '\0';
		if (strcmp(line, "version_a") == 0) {
			snprintf(b->version[0], sizeof(b->version[0]), "%s",
			    eq);
			continue;
		}
		if (strcmp(line, "version_b") == 0) {
			snprintf(b->version[1], sizeof(b->version[1]), "%s",
			    eq);
			continue;
		}
		v = strtoul(eq, NULL, 10);
		if (strcmp(line, "active") == 0)
			b->active = v == 1;
		else if (strcmp(line, "previous") == 0)
			b->previous = v == 1;
		else if (strcmp(line, "try_once") == 0)
			b->try_once = v != 0;
		else if (strcmp(line, "trying") == 0)
			b->trying = v != 0;
		else if (strcmp(line, "confirmed") == 0)
			b->confirmed = v != 0;
		else if (strcmp(line, "rolled_back") == 0)
			b->rolled_back = v != 0;
		else if (strcmp(line, "security_floor") == 0)
			b->security_floor = (uint32_t)v;
	}
	return 0;
}

int
hal_boot_state_set(const struct hal_boot_state *b)
{
	char buf[1024];
	int n;

	if (b->active > 1 || b->previous > 1 ||
	    strchr(b->version[0], '\n') != NULL ||
	    strchr(b->version[1], '\n') != NULL)
		return -1;
	n = snprintf(buf, sizeof(buf),
	    "active=%u\nprevious=%u\ntry_once=%u\ntrying=%u\nconfirmed=%u\n"
	    "rolled_back=%u\nsecurity_floor=%u\nversion_a=%.*s\n"
	    "version_b=%.*s\n", b->active, b->previous, b->try_once,
	    b->trying, b->confirmed, b->rolled_back, b->security_floor,
	    HAL_SLOT_VERSION_MAX, b->version[0], HAL_SLOT_VERSION_MAX,
	    b->version[1]);
	return file_put("boot-state", buf, (size_t)n, 0644);
}

const char *
hal_linux_build_version(void)
{
	return PACKAGE_VERSION;
}

/* The boot loader's rule (hal.h), run once at start. */
static int
boot_select(void)
{
	struct hal_boot_state b;

	if (hal_boot_state_get(&b) == -1) {
		if (errno != ENOENT)
			return -1;
		memset(&b, 0, sizeof(b));
		b.active = b.previous = HAL_SLOT_A;
		b.confirmed = 1;
	}
	if (b.try_once) {
		b.try_once = 0;
		b.trying = 1;
		linux_log(HAL_LOG_INFO, "boot: trying slot %c once",
		    'A' + b.active);
	} else if (b.trying && !b.confirmed) {
		linux_log(HAL_LOG_WARN, "boot: slot %c was not confirmed; "
		    "rolling back to slot %c", 'A' + b.active,
		    'A' + b.previous);
		b.active = b.previous;
		b.trying = 0;
		b.confirmed = 1;
		b.rolled_back = 1;
	}
	running_slot = b.active;
	if (b.version[running_slot][0] == '\0')
		snprintf(b.version[running_slot], sizeof(b.version[0]), "%s",
		    PACKAGE_VERSION);
	return hal_boot_state_set(&b);
}

int
hal_linux_init(const struct hal_linux_params *p)
{
	char path[PATH_MAX], buf[32];
	size_t len;

	log_stderr = p->log_stderr;
	if (p->ident != NULL)
		log_ident = p->ident;
	if (!log_stderr)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	saved_argv = p->argv;
	if (p->slot_size != 0)
		slot_size = p->slot_size;
	if (snprintf(state_dir, sizeof(state_dir), "%s", p->state_dir) >=
	    (int)sizeof(state_dir))
		return -1;
	if (mkdir(state_dir, 0755) == -1 && errno != EEXIST) {
		linux_log(HAL_LOG_ERR, "%s: %s", state_dir, strerror(errno));
		return -1;
	}
	if (path_of(path, sizeof(path), "kv") == -1)
		return -1;
	if (mkdir(path, 0755) == -1 && errno != EEXIST) {
		linux_log(HAL_LOG_ERR, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (p->storage_only)
		return 0;
	rtc_offset = p->rtc_offset_ms;
	if (hal_kv_get("rtc_offset_ms", buf, sizeof(buf) - 1, &len) == 0 &&
	    len < sizeof(buf)) {
		buf[len] = '\0';
		rtc_offset = strtoll(buf, NULL, 10);
	}
	sim_load();
	if (boot_select() == -1) {
		linux_log(HAL_LOG_ERR, "%s/boot-state: %s", state_dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}
