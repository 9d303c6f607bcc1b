/*
 * evcloud: command dispatch and what the commands share (TLS MQTT
 * connection to the stand-in hub, small file helpers).
 *
 * The cloud side ("serve", "call", "twin-set") logs in as the admin user
 * on the hub's TLS listener, like any other client, and talks to devices
 * through the iothub plugin's topics: it reads hub/<id>/... (what device
 * <id> published to $iothub/...) and writes hub-to/<id>/... (delivered to
 * that device alone as $iothub/...).  See tests/cloud/iothub_plugin.c.
 */
#include "evgate_config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evcloud.h"

volatile int evc_stop;

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: evcloud COMMAND [options]\n"
	    "\n"
	    "The test world's cloud (see doc/testworld.md).\n"
	    "\n"
	    "  serve     --dir DIR [--ready-file F]\n"
	    "            the cloud: record telemetry per device in DIR/ID.jsonl,\n"
	    "            hold twins (DIR/ID.twin.json), answer twin GET/PATCH\n"
	    "  call      --device ID --method NAME [--payload JSON] "
	    "[--timeout S] [--json]\n"
	    "            direct method; prints status and payload, exit 0 on "
	    "200,\n"
	    "            1 on another status, 2 when the device does not "
	    "answer\n"
	    "  twin-set  --device ID JSON   desired-properties patch (needs "
	    "serve)\n"
	    "  telemetry --dir DIR --device ID [--count]   what was recorded\n"
	    "  twin      --dir DIR --device ID             the twin as held\n"
	    "  devices   --dir DIR [--json]                every device heard\n"
	    "  device    --id ID [--telemetry S] [--mode N] [--ready-file F]\n"
	    "            a stand-in charger: answers methods, sends telemetry\n"
	    "\n"
	    "Connection (serve, call, twin-set, device):\n"
	    "  --host NAME          hub host name (default %s)\n"
	    "  --port N             default 8883\n"
	    "  --cafile FILE        CA bundle to verify the hub with\n"
	    "  --user NAME          admin user (default %s; device: "
	    "\"{host}/{id}/?api-version=...\")\n"
	    "  --password-file F    password (device: its secret), first "
	    "line\n"
	    "  --keepalive S        MQTT keepalive (default 60)\n"
	    "  -v, --verbose        log every message\n",
	    EVCLOUD_HUB_DEFAULT, EVCLOUD_ADMIN_DEFAULT);
}

void
evc_log(const char *fmt, ...)
{
	char ts[40];
	va_list ap;

	evc_now_iso(ts, sizeof(ts));
	fprintf(stderr, "%s evcloud[%d]: ", ts, (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
evc_now_iso(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char s[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03ldZ", s, ts.tv_nsec / 1000000);
}

bool
evc_id_ok(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n >= EVCLOUD_ID_MAX || id[0] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_'))
			return false;
	}
	return true;
}

int
evc_read_secret(const char *path, char *buf, size_t len)
{
	FILE *fp;
	size_t n;

	if ((fp = fopen(path, "r")) == NULL) {
		evc_log("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fgets(buf, (int)len, fp) == NULL) {
		evc_log("%s: empty", path);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (n == 0) {
		evc_log("%s: empty first line", path);
		return -1;
	}
	return 0;
}

int
evc_write_file(const char *path, const char *buf, size_t len)
{
	char tmp[4096];
	int fd, rc = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp%d", path,
	    (int)getpid()) >= sizeof(tmp))
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1) {
		evc_log("%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write(fd, buf, len) != (ssize_t)len) {
		evc_log("%s: write: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, path) == -1) {
		evc_log("rename %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	close(fd);
	if (rc == -1)
		unlink(tmp);
	return rc;
}

void
evc_ready(const struct evc_opts *o)
{
	int fd;

	if (o->ready_file == NULL)
		return;
	if ((fd = open(o->ready_file, O_WRONLY | O_CREAT | O_TRUNC,
	    0644)) == -1) {
		evc_log("%s: %s", o->ready_file, strerror(errno));
		return;
	}
	close(fd);
}

struct mosquitto *
evc_connect(const struct evc_opts *o, const char *clientid, const char *user,
    bool clean, bool retry, void *obj)
{
	struct mosquitto *m;
	char pw[512];
	int rc;

	if (o->password_file == NULL) {
		evc_log("--password-file is required");
		return NULL;
	}
	if (evc_read_secret(o->password_file, pw, sizeof(pw)) == -1)
		return NULL;
	if ((m = mosquitto_new(clientid, clean, obj)) == NULL) {
		evc_log("mosquitto_new: %s", strerror(errno));
		return NULL;
	}
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_username_pw_set(m, user, pw);
	explicit_bzero(pw, sizeof(pw));
	if (o->cafile != NULL) {
		/* Peer and host name verification stay on (the default). */
		rc = mosquitto_tls_set(m, o->cafile, NULL, NULL, NULL, NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_opts_set(m, 1, "tlsv1.2", NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			evc_log("TLS set-up with %s: %s", o->cafile,
			    mosquitto_strerror(rc));
			mosquitto_destroy(m);
			return NULL;
		}
	}
	rc = mosquitto_connect(m, o->host, o->port, o->keepalive);
	if (rc != MOSQ_ERR_SUCCESS) {
		evc_log("connect to %s:%d: %s%s", o->host, o->port,
		    rc == MOSQ_ERR_ERRNO ? strerror(errno) :
		    mosquitto_strerror(rc), retry ? " (will retry)" : "");
		/* The host is remembered: mosquitto_reconnect() can retry. */
		if (!retry) {
			mosquitto_destroy(m);
			return NULL;
		}
	}
	return m;
}

static void
on_signal(int sig)
{
	evc_stop = sig;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "cafile", required_argument, NULL, 'C' },
		{ "user", required_argument, NULL, 'u' },
		{ "password-file", required_argument, NULL, 'P' },
		{ "dir", required_argument, NULL, 'd' },
		{ "device", required_argument, NULL, 'i' },
		{ "id", required_argument, NULL, 'i' },
		{ "method", required_argument, NULL, 'm' },
		{ "payload", required_argument, NULL, 'l' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "telemetry", required_argument, NULL, 'T' },
		{ "keepalive", required_argument, NULL, 'k' },
		{ "mode", required_argument, NULL, 'M' },
		{ "json", no_argument, NULL, 'j' },
		{ "count", no_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct evc_opts o;
	struct sigaction sa;
	const char *cmd;
	int ch, rc;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	memset(&o, 0, sizeof(o));
	o.host = EVCLOUD_HUB_DEFAULT;
	o.port = 8883;
	o.user = EVCLOUD_ADMIN_DEFAULT;
	o.timeout = 30;
	o.telemetry = 60;
	o.keepalive = 60;
	o.mode = 2;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H': o.host = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 'C': o.cafile = optarg; break;
		case 'u': o.user = optarg; break;
		case 'P': o.password_file = optarg; break;
		case 'd': o.dir = optarg; break;
		case 'i': o.device = optarg; break;
		case 'm': o.method = optarg; break;
		case 'l': o.payload = optarg; break;
		case 'r': o.ready_file = optarg; break;
		case 't': o.timeout = atoi(optarg); break;
		case 'T': o.telemetry = atoi(optarg); break;
		case 'k': o.keepalive = atoi(optarg); break;
		case 'M': o.mode = atoi(optarg); break;
		case 'j': o.json = true; break;
		case 'c': o.count = true; break;
		case 'v': o.verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (o.port <= 0 || o.port > 65535 || o.timeout <= 0 ||
	    o.telemetry <= 0 || o.keepalive < 5) {
		fprintf(stderr, "evcloud: bad --port, --timeout, --telemetry "
		    "or --keepalive\n");
		return 2;
	}
	if (o.device != NULL && !evc_id_ok(o.device)) {
		fprintf(stderr, "evcloud: bad device id \"%s\"\n", o.device);
		return 2;
	}
	/* twin-set takes the patch as its one operand. */
	if (strcmp(cmd, "twin-set") == 0 && optind == argc - 1)
		o.payload = argv[optind++];
	if (optind != argc) {
		fprintf(stderr, "evcloud: unexpected argument \"%s\"\n",
		    argv[optind]);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	mosquitto_lib_init();
	if (strcmp(cmd, "serve") == 0)
		rc = evc_cmd_serve(&o);
	else if (strcmp(cmd, "call") == 0)
		rc = evc_cmd_call(&o);
	else if (strcmp(cmd, "twin-set") == 0)
		rc = evc_cmd_twin_set(&o);
	else if (strcmp(cmd, "telemetry") == 0)
		rc = evc_cmd_telemetry(&o);
	else if (strcmp(cmd, "twin") == 0)
		rc = evc_cmd_twin(&o);
	else if (strcmp(cmd, "devices") == 0)
		rc = evc_cmd_devices(&o);
	else if (strcmp(cmd, "device") == 0)
		rc = evc_cmd_device(&o);
	else {
		fprintf(stderr, "evcloud: unknown command \"%s\"\n", cmd);
		usage(stderr);
		rc = 2;
	}
	mosquitto_lib_cleanup();
	return rc;
}
