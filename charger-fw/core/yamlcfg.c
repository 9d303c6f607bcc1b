/*
 * yamlcfg: see yamlcfg.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/yamlcfg.h"

int
yamlcfg_fail(struct yamlcfg *x, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(x->err, x->errlen, "%s:%zu:%zu: %s", x->fname,
	    n->start_mark.line + 1, n->start_mark.column + 1, msg);
	return -1;
}

const char *
yamlcfg_scalar(struct yamlcfg *x, const yaml_node_t *n, const char *key)
{
	if (n->type != YAML_SCALAR_NODE) {
		yamlcfg_fail(x, n, "%s: expected a single value", key);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

int
yamlcfg_uint(struct yamlcfg *x, const yaml_node_t *n, const char *key,
    unsigned long min, unsigned long max, unsigned long *out)
{
	const char *s = yamlcfg_scalar(x, n, key);
	char *end;
	unsigned long v;

	if (s == NULL)
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *s == '-' || *s == '+' || *end != '\0' ||
	    errno != 0)
		return yamlcfg_fail(x, n, "%s: \"%s\" is not a number", key, s);
	if (v < min || v > max)
		return yamlcfg_fail(x, n, "%s: %lu is out of range %lu..%lu",
		    key, v, min, max);
	*out = v;
	return 0;
}
