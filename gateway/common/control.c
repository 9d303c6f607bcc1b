/*
 * control: the control socket (see control.h).  Each client gets a
 * bufferevent; the request line is bounded, parsed, dispatched to the
 * registered handler, and the reply is written before the socket closes.
 */
#include "evgate_config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <json-c/json.h>

#include "common/cfg.h"
#include "common/control.h"
#include "common/log.h"
#include "common/util.h"

#define CONTROL_MAX_COMMANDS	64
#define CONTROL_MAX_CLIENTS	64
#define CONTROL_TIMEOUT_S	10

struct control_cmd {
	const char	*name;
	control_fn	 fn;
	void		*arg;
};

struct control {
	struct event_base	*base;
	struct evconnlistener	*listener;
	char			*path;
	struct evconnlistener	*next;		/* prepared */
	char			*next_path;
	int			 perms_changed;	/* by prepare, same path */
	mode_t			 old_mode;
	gid_t			 old_gid;
	struct control_cmd	 cmds[CONTROL_MAX_COMMANDS];
	size_t			 ncmds;
	size_t			 nclients;
	struct log_ratelimit	 rl;
};

/* --- configuration: the control section ----------------------------- */

void
control_cfg_defaults(struct cfg_control *c)
{
	memset(c, 0, sizeof(*c));
	c->mode = 0660;
}

void
control_cfg_finish(struct cfg_control *c)
{
	if (c->socket == NULL)
		c->socket = xstrdup(CONTROL_DEFAULT_SOCKET);
}

void
control_cfg_free(struct cfg_control *c)
{
	free(c->socket);
	free(c->group);
	c->socket = c->group = NULL;
}

static int
control_socket(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_control *c = arg;

	if (cfg_str(ctx, node, &c->socket) == -1)
		return -1;
	if (c->socket[0] != '/')
		return cfg_error(ctx, node, "the socket path must be absolute");
	if (strlen(c->socket) >= 108)
		return cfg_error(ctx, node, "the socket path is longer than "
		    "107 bytes");
	return 0;
}

static int
control_group(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_control *c = arg;

	return cfg_str(ctx, node, &c->group);
}

static int
control_mode(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	struct cfg_control *c = arg;
	const char *s;
	unsigned long v;
	char *end;

	if ((s = cfg_scalar(ctx, node, "an octal mode", NULL)) == NULL)
		return -1;
	v = strtoul(s, &end, 8);
	if (*s < '0' || *s > '7' || *end != '\0' || v > 0777 || (v & 0600) != 0600)
		return cfg_error(ctx, node, "expected an octal mode such as "
		    "0660 that lets the owner read and write, found \"%.16s\"",
		    s);
	/* Anyone who can write to the socket can reload and stop evgated. */
	if (v & 0002)
		return cfg_error(ctx, node, "%.16s lets every user on the box "
		    "drive evgated (reload, stop): give write to the owner "
		    "and control.group only, such as 0660", s);
	c->mode = (unsigned)v;
	return 0;
}

int
control_cfg_section(struct cfg_ctx *ctx, struct cfg_node *node, void *arg)
{
	static const struct cfg_key keys[] = {
		{ "socket", control_socket, 0 },
		{ "group", control_group, 0 },
		{ "mode", control_mode, 0 },
		{ NULL, NULL, 0 },
	};
	return cfg_map(ctx, node, keys, arg);
}

/* --- the socket ------------------------------------------------------ */

struct control_client {
	struct control		*ctl;
	struct bufferevent	*bev;
	struct control_peer	 peer;
	int			 replied;
};

struct json_object *
control_parse_request(const char *buf, size_t len, const char **cmd,
    char *err, size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *req, *c;
	const char *s;
	size_t i;

	*cmd = NULL;
	if (len > CONTROL_MAX_REQUEST) {
		snprintf(err, errlen, "request longer than %d bytes",
		    CONTROL_MAX_REQUEST);
		return NULL;
	}
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "NUL byte in request");
		return NULL;
	}
	/* Depth 8 is plenty for any command and bounds the recursion. */
	if ((tok = json_tokener_new_ex(8)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	req = json_tokener_parse_ex(tok, buf, (int)len);
	if (req == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		snprintf(err, errlen, "malformed request: %s",
		    req != NULL && e == json_tokener_success ?
		    "trailing bytes after the JSON object" :
		    e == json_tokener_continue ? "incomplete JSON" :
		    json_tokener_error_desc(e));
		json_object_put(req);
		json_tokener_free(tok);
		return NULL;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(req, json_type_object)) {
		snprintf(err, errlen, "a request must be a JSON object");
		json_object_put(req);
		return NULL;
	}
	if (!json_object_object_get_ex(req, "cmd", &c) ||
	    !json_object_is_type(c, json_type_string)) {
		snprintf(err, errlen, "a request needs a \"cmd\" string");
		json_object_put(req);
		return NULL;
	}
	s = json_object_get_string(c);
	if (s[0] == '\0' || strlen(s) > CONTROL_MAX_CMD) {
		snprintf(err, errlen, "bad command name");
		json_object_put(req);
		return NULL;
	}
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '-' ||
		    (s[i] >= '0' && s[i] <= '9'))) {
			snprintf(err, errlen, "bad command name");
			json_object_put(req);
			return NULL;
		}
	*cmd = s;
	return req;
}

static void
client_free(struct control_client *cl)
{
	cl->ctl->nclients--;
	bufferevent_free(cl->bev);
	free(cl);
}

static void
client_reply(struct control_client *cl, struct json_object *reply)
{
	const char *text;

	text = json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	bufferevent_write(cl->bev, text, strlen(text));
	bufferevent_write(cl->bev, "\n", 1);
	cl->replied = 1;
	bufferevent_disable(cl->bev, EV_READ);
}

static void
client_error(struct control_client *cl, const char *msg)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	client_reply(cl, o);
	json_object_put(o);
}

static void
client_dispatch(struct control_client *cl, const char *line, size_t len)
{
	struct control *ctl = cl->ctl;
	struct json_object *req, *reply;
	const char *cmd;
	char err[512];
	size_t i;

	err[0] = '\0';
	if ((req = control_parse_request(line, len, &cmd, err,
	    sizeof(err))) == NULL) {
		log_warnx_rl(&ctl->rl, "control: uid %u: %s",
		    (unsigned)cl->peer.uid, err);
		client_error(cl, err);
		return;
	}
	for (i = 0; i < ctl->ncmds; i++)
		if (strcmp(ctl->cmds[i].name, cmd) == 0)
			break;
	if (i == ctl->ncmds) {
		snprintf(err, sizeof(err), "unknown command \"%s\"", cmd);
		client_error(cl, err);
		json_object_put(req);
		return;
	}
	log_debug("control: uid %u pid %d: %s", (unsigned)cl->peer.uid,
	    (int)cl->peer.pid, cmd);
	reply = ctl->cmds[i].fn(req, &cl->peer, ctl->cmds[i].arg, err,
	    sizeof(err));
	json_object_put(req);
	if (reply == NULL) {
		client_error(cl, err[0] ? err : "command failed");
		return;
	}
	json_object_object_add(reply, "ok", json_object_new_boolean(1));
	client_reply(cl, reply);
	json_object_put(reply);
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct control_client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr eol;
	size_t len;
	char *line;

	if (cl->replied)
		return;
	eol = evbuffer_search_eol(in, NULL, &len, EVBUFFER_EOL_LF);
	if (eol.pos == -1) {
		if (evbuffer_get_length(in) > CONTROL_MAX_REQUEST) {
			evbuffer_drain(in, evbuffer_get_length(in));
			client_error(cl, "request too long");
		}
		return;
	}
	if ((size_t)eol.pos > CONTROL_MAX_REQUEST) {
		evbuffer_drain(in, evbuffer_get_length(in));
		client_error(cl, "request too long");
		return;
	}
	line = xmalloc((size_t)eol.pos + 1);
	evbuffer_remove(in, line, (size_t)eol.pos);
	evbuffer_drain(in, len);
	line[eol.pos] = '\0';
	client_dispatch(cl, line, (size_t)eol.pos);
	free(line);
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct control_client *cl = arg;

	if (cl->replied &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		client_free(cl);
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct control_client *cl = arg;

	/* EOF before a reply, an error, or the timeout: just drop it. */
	client_free(cl);
}

static void
control_accept_cb(struct evconnlistener *lst, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct control *ctl = arg;
	struct control_client *cl;
	struct timeval tv = { CONTROL_TIMEOUT_S, 0 };
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (ctl->nclients >= CONTROL_MAX_CLIENTS) {
		log_warnx_rl(&ctl->rl, "control: too many clients");
		close(fd);
		return;
	}
	cl = xcalloc(1, sizeof(*cl));
	cl->ctl = ctl;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0) {
		cl->peer.pid = uc.pid;
		cl->peer.uid = uc.uid;
		cl->peer.gid = uc.gid;
	}
	cl->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (cl->bev == NULL) {
		close(fd);
		free(cl);
		return;
	}
	ctl->nclients++;
	bufferevent_setcb(cl->bev, client_read_cb, client_write_cb,
	    client_event_cb, cl);
	bufferevent_set_timeouts(cl->bev, &tv, &tv);
	bufferevent_setwatermark(cl->bev, EV_READ, 0, CONTROL_MAX_REQUEST + 2);
	bufferevent_enable(cl->bev, EV_READ | EV_WRITE);
}

struct control *
control_new(struct event_base *base)
{
	struct control *ctl = xcalloc(1, sizeof(*ctl));
	struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 6);

	ctl->base = base;
	ctl->rl = rl;
	return ctl;
}

static void
control_close(struct control *ctl)
{
	if (ctl->listener != NULL) {
		evconnlistener_free(ctl->listener);
		ctl->listener = NULL;
	}
	if (ctl->path != NULL) {
		unlink(ctl->path);
		free(ctl->path);
		ctl->path = NULL;
	}
}

/* Set mode and group of path; 0 or -1 with err. */
static int
set_perms(const char *path, const struct cfg_control *cc, gid_t gid,
    char *err, size_t errlen)
{
	/* Under the shipped unit the group is already evgate-admin. */
	if (chmod(path, cc->mode) == -1 || (cc->group != NULL &&
	    chown_changed(path, -1, (uid_t)-1, gid) == -1)) {
		snprintf(err, errlen, "control: permissions of %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* A listening socket at cc->socket, not yet accepting; NULL and err. */
static struct evconnlistener *
control_bind(struct control *ctl, const struct cfg_control *cc, char *err,
    size_t errlen)
{
	struct evconnlistener *lst;
	struct sockaddr_un sun;
	char *dir, *slash, msg[256];
	int fd, probe;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, cc->socket, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control: socket path too long");
		return NULL;
	}
	/* The directory (e.g. /run/evgate) may not exist after a boot. */
	dir = xstrdup(cc->socket);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir_p(dir, 0755, (uid_t)-1, 0, msg, sizeof(msg)) == -1) {
			snprintf(err, errlen, "control: %s", msg);
			free(dir);
			return NULL;
		}
	}
	free(dir);
	/* Another evgated answering on this path?  Then do not steal it. */
	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1) {
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			snprintf(err, errlen, "control: %s is in use by a "
			    "running daemon", cc->socket);
			return NULL;
		}
		close(probe);
	}
	unlink(cc->socket);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "control: bind %s: %s", cc->socket,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	lst = evconnlistener_new(ctl->base, control_accept_cb, ctl,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_DISABLED, 16, fd);
	if (lst == NULL) {
		snprintf(err, errlen, "control: cannot listen on %s",
		    cc->socket);
		close(fd);
		unlink(cc->socket);
		return NULL;
	}
	return lst;
}

int
control_prepare(struct control *ctl, const struct cfg_control *cc, char *err,
    size_t errlen)
{
	struct group *gr = NULL;
	struct stat sb;

	control_abort(ctl);
	if (cc->group != NULL && (gr = getgrnam(cc->group)) == NULL) {
		snprintf(err, errlen, "control: no group \"%s\"", cc->group);
		return -1;
	}
	if (ctl->path != NULL && strcmp(ctl->path, cc->socket) == 0) {
		/* The same socket: new permissions, the old ones kept. */
		if (stat(ctl->path, &sb) == -1) {
			snprintf(err, errlen, "control: %s: %s", ctl->path,
			    strerror(errno));
			return -1;
		}
		ctl->old_mode = sb.st_mode & 07777;
		ctl->old_gid = sb.st_gid;
		ctl->perms_changed = 1;
		if (set_perms(ctl->path, cc, gr ? gr->gr_gid : 0, err,
		    errlen) == -1) {
			control_abort(ctl);
			return -1;
		}
		return 0;
	}
	if ((ctl->next = control_bind(ctl, cc, err, errlen)) == NULL)
		return -1;
	ctl->next_path = xstrdup(cc->socket);
	if (set_perms(ctl->next_path, cc, gr ? gr->gr_gid : 0, err,
	    errlen) == -1) {
		control_abort(ctl);
		return -1;
	}
	return 0;
}

void
control_commit(struct control *ctl)
{
	ctl->perms_changed = 0;
	if (ctl->next == NULL)
		return;
	control_close(ctl);
	ctl->listener = ctl->next;
	ctl->path = ctl->next_path;
	ctl->next = NULL;
	ctl->next_path = NULL;
	evconnlistener_enable(ctl->listener);
	log_info("control: listening on %s", ctl->path);
}

void
control_abort(struct control *ctl)
{
	if (ctl->perms_changed) {
		if (chmod(ctl->path, ctl->old_mode) == -1 ||
		    chown_changed(ctl->path, -1, (uid_t)-1, ctl->old_gid) == -1)
			log_warn("control: restoring permissions of %s",
			    ctl->path);
		ctl->perms_changed = 0;
	}
	if (ctl->next != NULL) {
		evconnlistener_free(ctl->next);
		ctl->next = NULL;
	}
	if (ctl->next_path != NULL) {
		unlink(ctl->next_path);
		free(ctl->next_path);
		ctl->next_path = NULL;
	}
}

int
control_listen(struct control *ctl, const struct cfg_control *cc, char *err,
    size_t errlen)
{
	if (control_prepare(ctl, cc, err, errlen) == -1)
		return -1;
	control_commit(ctl);
	return 0;
}

const char *
control_path(const struct control *ctl)
{
	return ctl->path;
}

void
control_register(struct control *ctl, const char *cmd, control_fn fn,
    void *arg)
{
	size_t i;

	for (i = 0; i < ctl->ncmds; i++)
		if (strcmp(ctl->cmds[i].name, cmd) == 0)
			break;
	if (i == CONTROL_MAX_COMMANDS)
		fatalx("control: too many commands");
	ctl->cmds[i].name = cmd;
	ctl->cmds[i].fn = fn;
	ctl->cmds[i].arg = arg;
	if (i == ctl->ncmds)
		ctl->ncmds++;
}

void
control_free(struct control *ctl)
{
	if (ctl == NULL)
		return;
	control_abort(ctl);
	control_close(ctl);
	free(ctl);
}
