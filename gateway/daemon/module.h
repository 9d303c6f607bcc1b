/*
 * module: the one lifecycle every module of evgated follows, and the
 * reload that drives it (after nginx's cycle and relayd's merge).
 *
 *	prepare(new config)	build the new state beside the running one;
 *				may fail (-1, err), touches nothing live
 *	commit()		switch to it; cannot fail
 *	abort()			drop what prepare built
 *	status(into)		add the module's sections to the status
 *	free()			stop and release everything
 *
 * modules_apply() prepares every module in order; if one fails it aborts
 * those already prepared (newest first) and the running configuration
 * stays whole; otherwise it commits them all, in order.  What happens to
 * work in flight at a commit (connections, pending lookups, a dnsmasq
 * restart, a batch being shipped) each module states in its own header.
 *
 * A module is an instance (self) and its functions; the daemon gives
 * each module the sections it reads from struct config (daemon.c).
 */
#ifndef EVG_MODULE_H
#define EVG_MODULE_H

#include <stddef.h>

struct config;
struct json_object;

struct module {
	const char	*name;		/* for messages */
	void		*self;
	int		(*prepare)(void *self, const struct config *,
			    char *err, size_t errlen);
	void		(*commit)(void *self);
	void		(*abort)(void *self);
	void		(*status)(void *self, struct json_object *into);
	void		(*free)(void *self);
};

/*
 * Prepare mods[0..n) for conf, then commit all, or abort all.  0, or -1
 * with err ("name: message" of the module that refused).
 */
int	modules_apply(const struct module *mods, size_t n,
	    const struct config *conf, char *err, size_t errlen);
/* Every module's status sections, in order, into a new object's members. */
void	modules_status(const struct module *mods, size_t n,
	    struct json_object *into);

#endif
