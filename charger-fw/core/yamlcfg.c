/*
 * yamlcfg: see yamlcfg.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int
yamlcfg_map(struct yamlcfg *x, const yaml_node_t *map, const char *path,
    const struct yamlcfg_key *keys, void *obj)
{
	const yaml_node_pair_t *p;
	const yaml_node_t *k, *v;
	uint32_t seen = 0;
	char sub[128];
	const char *ks;
	size_t i;

	if (map->type != YAML_MAPPING_NODE)
		return yamlcfg_fail(x, map, "%s%sexpected a mapping", path,
		    *path ? ": " : "");
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(x->doc, p->key);
		v = yaml_document_get_node(x->doc, p->value);
		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
			return yamlcfg_fail(x, map, "%s%sbad key", path,
			    *path ? ": " : "");
		ks = (const char *)k->data.scalar.value;
		snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "",
		    ks);
		for (i = 0; i < YAMLCFG_MAX_KEYS && keys[i].name != NULL; i++)
			if (strcmp(keys[i].name, ks) == 0)
				break;
		if (i == YAMLCFG_MAX_KEYS || keys[i].name == NULL)
			return yamlcfg_fail(x, x->unknown_at_value ? v : k,
			    "unknown key \"%s\"", sub);
		if (seen & (1U << i))
			return yamlcfg_fail(x, k, "duplicate key \"%s\"", sub);
		seen |= 1U << i;
		if (keys[i].set(x, v, sub, &keys[i], obj) == -1)
			return -1;
	}
	return 0;
}

int
yamlcfg_section(struct yamlcfg *x, const yaml_node_t *v, const char *path,
    const struct yamlcfg_key *k, void *obj)
{
	return yamlcfg_map(x, v, path, k->sub, obj);
}

int
yamlcfg_string(struct yamlcfg *x, const yaml_node_t *v, const char *path,
    const struct yamlcfg_key *k, void *obj)
{
	const char *s = yamlcfg_scalar(x, v, path);
	size_t n;

	if (s == NULL)
		return -1;
	if (*s == '\0')
		return yamlcfg_fail(x, v, "%s: must not be empty", path);
	if ((n = strlen(s)) >= k->size)
		return yamlcfg_fail(x, v, "%s: too long (at most %zu bytes)",
		    path, k->size - 1);
	memcpy((char *)obj + k->off, s, n + 1);
	return 0;
}

int
yamlcfg_number(struct yamlcfg *x, const yaml_node_t *v, const char *path,
    const struct yamlcfg_key *k, void *obj)
{
	char *field = (char *)obj + k->off;
	unsigned long u;

	if (yamlcfg_uint(x, v, path, k->min, k->max, &u) == -1)
		return -1;
	switch (k->size) {
	case 1:
		*(uint8_t *)(void *)field = (uint8_t)u;
		break;
	case 2:
		*(uint16_t *)(void *)field = (uint16_t)u;
		break;
	case 4:
		*(uint32_t *)(void *)field = (uint32_t)u;
		break;
	case 8:
		*(uint64_t *)(void *)field = (uint64_t)u;
		break;
	default:
		return yamlcfg_fail(x, v, "%s: internal: field of %zu bytes",
		    path, k->size);
	}
	return 0;
}
