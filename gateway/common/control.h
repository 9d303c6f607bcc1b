/*
 * control: the daemon's control socket, spoken by evgatectl (and by the
 * dnsmasq lease hook).  A Unix stream socket; a client sends one request,
 * a single line of JSON such as {"cmd":"status"}, and gets one line of JSON
 * back: {"ok":true,...} or {"ok":false,"error":"..."}.  Modules register
 * the commands they answer.  Requests are bounded (CONTROL_MAX_REQUEST) and
 * parsed strictly before any handler sees them.
 */
#ifndef EVG_CONTROL_H
#define EVG_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#include "common/cfg.h"

struct event_base;
struct json_object;
struct control;

#define CONTROL_DEFAULT_SOCKET	RUNSTATEDIR "/evgate/evgated.sock"

/* The control section of evgated.yaml. */
struct cfg_control {
	char		*socket;	/* absolute path */
	char		*group;		/* owner group of the socket, or NULL */
	unsigned	 mode;		/* permission bits, default 0660 */
};

/* The section parser: defaults first, finish after (arg: cfg_control *). */
void	control_cfg_defaults(struct cfg_control *);
int	control_cfg_section(struct cfg_ctx *, struct cfg_node *, void *);
void	control_cfg_finish(struct cfg_control *);
void	control_cfg_free(struct cfg_control *);

#define CONTROL_MAX_REQUEST	65536
#define CONTROL_MAX_CMD		32

/* Who is asking, from SO_PEERCRED. */
struct control_peer {
	pid_t	 pid;
	uid_t	 uid;
	gid_t	 gid;
};

/*
 * A command handler.  req is the parsed request (borrowed).  Return a new
 * reply object (the "ok" member is added for you), or NULL with err set.
 */
typedef struct json_object *(*control_fn)(struct json_object *req,
	    const struct control_peer *, void *arg, char *err, size_t errlen);

struct control	*control_new(struct event_base *);
/*
 * The module lifecycle (daemon/module.h).  prepare makes the socket a new
 * path needs (bound and listening, but not yet accepting) and sets the
 * permissions; for the same path it sets them on the live socket and
 * remembers the old ones.  0, or -1 with err and nothing changed.
 * commit starts accepting on a new socket and closes (and removes) the
 * old one; abort undoes prepare.  Clients in the middle of a request
 * finish it on the socket they came in on.  cc is copied.
 */
int		 control_prepare(struct control *, const struct cfg_control *,
		    char *err, size_t errlen);
void		 control_commit(struct control *);
void		 control_abort(struct control *);
/* prepare and commit in one, for sockets outside a reload. */
int		 control_listen(struct control *, const struct cfg_control *,
		    char *err, size_t errlen);
/* The path listened on, or NULL. */
const char	*control_path(const struct control *);
/* cmd must stay valid; a second registration of a name replaces the first. */
void		 control_register(struct control *, const char *cmd,
		    control_fn, void *arg);
/* Stop listening and remove the socket file. */
void		 control_free(struct control *);

/*
 * Parse one request line (without its newline).  Returns the request
 * object with *cmd pointing into it, or NULL with err set.  Pure; used by
 * the daemon, the tests and the fuzzer.
 */
struct json_object *control_parse_request(const char *buf, size_t len,
		    const char **cmd, char *err, size_t errlen);

#endif
