/*
 * evcharger: the charger firmware as a Linux process (doc/evcharger.8).
 *
 *   evcharger -c FILE [-d] [-n]        run (foreground; -n: check config)
 *   evcharger --ctl SOCKET COMMAND...  talk to a running one
 *
 * Board glue only: read the YAML configuration, start the Linux HAL, load
 * the credentials, run the portable core (core/fw.c) on one libevent loop,
 * and serve the control socket through which tests and the demo drive the
 * simulated car and meter (plug, unplug, car-full, set-power W, status,
 * reboot).  One line in, one JSON line out.
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "core/fw.h"
#include "core/fwconfig.h"
#include "core/fwlog.h"
#include "core/update/fwupdate_hook.h"
#include "hal/linux/hal_linux.h"

#define CONFIG_MAX	(256 * 1024)
#define CTL_LINE_MAX	256

static struct fw		*fw;
static struct fwupdate_hook	*upd;
static struct event_base	*base;

static void
usage_to(FILE *fp)
{
	fprintf(fp,
	    "usage: evcharger -c FILE [-d] [-n] [-s]\n"
	    "       evcharger --ctl SOCKET COMMAND [ARG]\n"
	    "       evcharger --help | --version\n"
	    "\n"
	    "  -c, --config FILE  the charger's configuration (evcharger.yaml)\n"
	    "  -n                 check the configuration and exit 0/1\n"
	    "  -d                 log to stderr (the default)\n"
	    "  -s                 log to syslog\n"
	    "  --ctl SOCKET CMD   talk to a running evcharger; commands:\n"
	    "                     status, plug, unplug, car-full, set-power W,\n"
	    "                     reboot\n"
	    "  -V, --version      print the version and exit\n"
	    "  -h, --help         this text\n"
	    "\nSee evcharger(8), evcharger.yaml(5).\n");
}

static void __attribute__((noreturn))
usage(void)
{
	usage_to(stderr);
	exit(2);
}

static int
read_file(const char *path, char **out, size_t *len)
{
	char *buf;
	ssize_t n;
	size_t total = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((buf = malloc(CONFIG_MAX + 1)) == NULL) {
		close(fd);
		return -1;
	}
	while (total < CONFIG_MAX &&
	    (n = read(fd, buf + total, CONFIG_MAX - total)) > 0)
		total += (size_t)n;
	close(fd);
	buf[total] = '\0';
	*out = buf;
	*len = total;
	return 0;
}

/* --- control socket -------------------------------------------------- */

static char *
ctl_command(char *line)
{
	char *cmd = strtok(line, " \t\r"), *arg = strtok(NULL, " \t\r"), *end;
	double w;

	if (cmd == NULL)
		return strdup("{\"error\":\"empty command\"}");
	if (strcmp(cmd, "status") == 0)
		return fw_status_json(fw);
	if (strcmp(cmd, "plug") == 0)
		hal_linux_sim_car(HAL_CAR_PLUGGED);
	else if (strcmp(cmd, "unplug") == 0)
		hal_linux_sim_car(HAL_CAR_ABSENT);
	else if (strcmp(cmd, "car-full") == 0)
		hal_linux_sim_car(HAL_CAR_FULL);
	else if (strcmp(cmd, "set-power") == 0) {
		if (arg == NULL || (w = strtod(arg, &end), *end != '\0') ||
		    w < 0 || w > 100000)
			return strdup("{\"error\":\"set-power needs watts "
			    "(0..100000)\"}");
		hal_linux_sim_set_power(w);
	} else if (strcmp(cmd, "reboot") == 0)
		fw_reboot(fw);
	else
		return strdup("{\"error\":\"unknown command\"}");
	return strdup("{\"ok\":true}");
}

static void
ctl_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line, *reply;
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		reply = n > CTL_LINE_MAX ?
		    strdup("{\"error\":\"line too long\"}") : ctl_command(line);
		free(line);
		if (reply != NULL) {
			bufferevent_write(bev, reply, strlen(reply));
			bufferevent_write(bev, "\n", 1);
			free(reply);
		}
	}
	if (evbuffer_get_length(in) > CTL_LINE_MAX)
		bufferevent_free(bev);
}

static void
ctl_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void
ctl_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct bufferevent *bev;

	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	bufferevent_setcb(bev, ctl_read, NULL, ctl_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static struct evconnlistener *
ctl_listen(const char *path)
{
	struct evconnlistener *l;
	struct sockaddr_un sun;
	mode_t old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fw_err("control socket path too long: %s", path);
		return NULL;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	unlink(path);
	old = umask(077);
	l = evconnlistener_new_bind(base, ctl_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 8,
	    (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (l == NULL)
		fw_err("control socket %s: %s", path, strerror(errno));
	return l;
}

/* evcharger --ctl SOCKET COMMAND [ARG] */
static int
ctl_client(int argc, char **argv)
{
	struct sockaddr_un sun;
	char line[CTL_LINE_MAX + 2], buf[65536];
	size_t total = 0;
	ssize_t n;
	int fd, i;

	if (argc < 2)
		usage();
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(argv[0]) >= sizeof(sun.sun_path))
		usage();
	memcpy(sun.sun_path, argv[0], strlen(argv[0]) + 1);
	line[0] = '\0';
	for (i = 1; i < argc; i++) {
		if (strlen(line) + strlen(argv[i]) + 2 > CTL_LINE_MAX)
			usage();
		if (i > 1)
			strcat(line, " ");
		strcat(line, argv[i]);
	}
	strcat(line, "\n");
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "evcharger: %s: %s\n", argv[0],
		    strerror(errno));
		return 1;
	}
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		fprintf(stderr, "evcharger: write: %s\n", strerror(errno));
		return 1;
	}
	while (total < sizeof(buf) - 1 &&
	    (n = read(fd, buf + total, sizeof(buf) - 1 - total)) > 0) {
		total += (size_t)n;
		if (buf[total - 1] == '\n')
			break;
	}
	close(fd);
	buf[total] = '\0';
	fputs(buf, stdout);
	return total == 0 || strncmp(buf, "{\"error\"", 8) == 0;
}

/* --- main ------------------------------------------------------------ */

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	fw_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(base);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ctl", required_argument, NULL, 'C' },
		{ "config", required_argument, NULL, 'c' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hal_linux_params hp;
	struct fw_config cfg;
	struct hal_cred cred;
	struct evconnlistener *ctl = NULL;
	struct event *sigs[2];
	const char *config = NULL;
	char err[512], *buf;
	size_t len;
	int ch, check = 0, to_stderr = 1;

	while ((ch = getopt_long(argc, argv, "+c:dnsVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'C':
			return ctl_client(argc - optind + 1, argv + optind - 1);
		case 'c':
			config = optarg;
			break;
		case 'd':
			to_stderr = 1;
			break;
		case 's':
			to_stderr = 0;
			break;
		case 'n':
			check = 1;
			break;
		case 'V':
			printf("evcharger %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage_to(stdout);
			return 0;
		default:
			usage();
		}
	}
	if (config == NULL || optind != argc)
		usage();
	if (read_file(config, &buf, &len) == -1) {
		fprintf(stderr, "evcharger: %s: %s\n", config, strerror(errno));
		return 1;
	}
	if (fwconfig_parse(buf, len, config, &cfg, err, sizeof(err)) == -1) {
		fprintf(stderr, "evcharger: %s\n", err);
		free(buf);
		return 1;
	}
	free(buf);
	if (check) {
		printf("%s: OK\n", config);
		return 0;
	}
	fwlog_setlevel((enum hal_log_level)cfg.log_level);
	signal(SIGPIPE, SIG_IGN);

	memset(&hp, 0, sizeof(hp));
	hp.state_dir = cfg.state_dir;
	hp.log_stderr = to_stderr;
	hp.ident = "evcharger";
	hp.rtc_offset_ms = cfg.rtc_offset_s * 1000;
	hp.argv = argv;
	if (hal_linux_init(&hp) == -1)
		return 1;
	if (hal_cred_load(&cred) == -1) {
		fw_err("no credentials in %s/credentials: provision this "
		    "charger with evprovision", cfg.state_dir);
		return 1;
	}
	if ((base = event_base_new()) == NULL)
		return 1;
	if ((fw = fw_new(base, &cfg, &cred)) == NULL)
		return 1;
	/* Signed A/B updates (methods 200/202, twin "firmware"). */
	if ((upd = fwupdate_hook_register(fw, &cfg.firmware)) == NULL)
		return 1;
	if (cfg.control_socket[0] != '\0' &&
	    (ctl = ctl_listen(cfg.control_socket)) == NULL)
		return 1;
	if (fw_start(fw) == -1) {
		fw_err("cannot start on %s", cfg.interface);
		return 1;
	}
	sigs[0] = evsignal_new(base, SIGTERM, on_signal, NULL);
	sigs[1] = evsignal_new(base, SIGINT, on_signal, NULL);
	event_add(sigs[0], NULL);
	event_add(sigs[1], NULL);
	event_base_dispatch(base);

	fwupdate_hook_free(upd);	/* first: it uses the core's DNS */
	fw_free(fw);
	if (ctl != NULL) {
		evconnlistener_free(ctl);
		unlink(cfg.control_socket);
	}
	event_free(sigs[0]);
	event_free(sigs[1]);
	event_base_free(base);
	return 0;
}
