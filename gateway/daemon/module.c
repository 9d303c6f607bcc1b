/*
 * module: all-or-nothing reloads over the module lifecycle (module.h).
 */
#include "evgate_config.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "daemon/module.h"

int
modules_apply(const struct module *mods, size_t n, const struct config *conf,
    char *err, size_t errlen)
{
	char msg[1024];
	size_t i, j;

	for (i = 0; i < n; i++) {
		msg[0] = '\0';
		if (mods[i].prepare(mods[i].self, conf, msg, sizeof(msg)) ==
		    0)
			continue;
		/* The module's own message, unless it gave none. */
		snprintf(err, errlen, "%s", msg[0] ? msg : mods[i].name);
		log_debug("reload: %s refused; aborting %zu prepared "
		    "module%s", mods[i].name, i, i == 1 ? "" : "s");
		for (j = i + 1; j-- > 0; )
			mods[j].abort(mods[j].self);
		return -1;
	}
	for (i = 0; i < n; i++)
		mods[i].commit(mods[i].self);
	return 0;
}

void
modules_status(const struct module *mods, size_t n, struct json_object *into)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (mods[i].status != NULL)
			mods[i].status(mods[i].self, into);
}
