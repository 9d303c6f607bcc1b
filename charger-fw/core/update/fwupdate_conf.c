/*
 * fwupdate_conf: the "firmware:" section of evcharger.yaml (see
 * fwupdate_conf.h).  Unknown and duplicate keys are errors, as everywhere
 * in the configuration (yamlcfg_map): a typo must not silently switch a
 * check off.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/update/fwupdate_conf.h"
#include "core/yamlcfg.h"

#define F(field)	offsetof(struct fwupdate_conf, field), \
			sizeof(((struct fwupdate_conf *)0)->field)
#define NUM(name, field, min, max) \
			{ name, yamlcfg_number, F(field), min, max, NULL }
#define FN(name, fn)	{ name, fn, 0, 0, 0, 0, NULL }
#define END		{ NULL, NULL, 0, 0, 0, 0, NULL }

static int
set_product(struct yamlcfg *x, const yaml_node_t *v, const char *path,
    const struct yamlcfg_key *k, void *obj)
{
	struct fwupdate_conf *c = obj;
	const char *s;

	if ((s = yamlcfg_scalar(x, v, path)) == NULL)
		return -1;
	if (!manifest_product_ok(s))
		return yamlcfg_fail(x, v, "firmware.product: \"%s\": 1-63 of "
		    "[A-Za-z0-9._-]", s);
	snprintf(c->product, sizeof(c->product), "%s", s);
	return 0;
}

static int
set_ca_file(struct yamlcfg *x, const yaml_node_t *v, const char *path,
    const struct yamlcfg_key *k, void *obj)
{
	struct fwupdate_conf *c = obj;
	const char *s;

	if ((s = yamlcfg_scalar(x, v, path)) == NULL)
		return -1;
	if (*s == '\0' || strlen(s) >= sizeof(c->ca_file))
		return yamlcfg_fail(x, v, "firmware.ca_file: empty or too long");
	snprintf(c->ca_file, sizeof(c->ca_file), "%s", s);
	return 0;
}

/* One trusted key: {id, key}, both required. */
struct key_item {
	struct fwupdate_key	*k;
	int			 have_id;
	int			 have_key;
};

static int
set_key_id(struct yamlcfg *x, const yaml_node_t *v, const char *path,
    const struct yamlcfg_key *k, void *obj)
{
	struct key_item *ki = obj;
	const char *s;

	if ((s = yamlcfg_scalar(x, v, path)) == NULL)
		return -1;
	if (!manifest_key_id_ok(s))
		return yamlcfg_fail(x, v, "firmware.keys.id: \"%s\": 1-31 of "
		    "[A-Za-z0-9._-]", s);
	snprintf(ki->k->id, sizeof(ki->k->id), "%s", s);
	ki->have_id = 1;
	return 0;
}

static int
set_key_pub(struct yamlcfg *x, const yaml_node_t *v, const char *path,
    const struct yamlcfg_key *k, void *obj)
{
	struct key_item *ki = obj;
	const char *s;

	if ((s = yamlcfg_scalar(x, v, path)) == NULL)
		return -1;
	if (manifest_hex32(s, strlen(s), ki->k->pub) == -1)
		return yamlcfg_fail(x, v, "firmware.keys.key: want the 64 hex "
		    "digits of an Ed25519 public key (evfw-sign pubkey)");
	ki->have_key = 1;
	return 0;
}

static const struct yamlcfg_key key_item_keys[] = {
	FN("id", set_key_id),
	FN("key", set_key_pub),
	END
};

static int
parse_key(struct yamlcfg *x, const yaml_node_t *item, const char *path,
    struct fwupdate_key *k)
{
	struct key_item ki = { k, 0, 0 };

	if (item->type != YAML_MAPPING_NODE)
		return yamlcfg_fail(x, item, "firmware.keys: each key is a "
		    "mapping with id and key");
	if (yamlcfg_map(x, item, path, key_item_keys, &ki) == -1)
		return -1;
	if (!ki.have_id || !ki.have_key)
		return yamlcfg_fail(x, item, "firmware.keys: each key needs an "
		    "id and a key");
	return 0;
}

static int
set_keys(struct yamlcfg *x, const yaml_node_t *v, const char *path,
    const struct yamlcfg_key *k, void *obj)
{
	struct fwupdate_conf *c = obj;
	const yaml_node_item_t *it;
	const yaml_node_t *item;
	size_t i;

	if (v->type != YAML_SEQUENCE_NODE)
		return yamlcfg_fail(x, v, "firmware.keys: expected a list");
	c->nkeys = 0;
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		item = yaml_document_get_node(x->doc, *it);
		if (item == NULL)
			return yamlcfg_fail(x, v, "firmware.keys: bad item");
		if (c->nkeys == FWUPDATE_MAX_KEYS)
			return yamlcfg_fail(x, item, "firmware.keys: at most %d "
			    "keys", FWUPDATE_MAX_KEYS);
		if (parse_key(x, item, path, &c->keys[c->nkeys]) == -1)
			return -1;
		for (i = 0; i < c->nkeys; i++)
			if (strcmp(c->keys[i].id, c->keys[c->nkeys].id) == 0)
				return yamlcfg_fail(x, item, "firmware.keys: id "
				    "\"%s\" twice", c->keys[i].id);
		c->nkeys++;
	}
	return 0;
}

static const struct yamlcfg_key firmware_keys[] = {
	FN("product", set_product),
	FN("ca_file", set_ca_file),
	NUM("selftest", selftest_s, 10, 3600),
	NUM("low_speed_limit", low_speed_bps, 1, 1000000),
	NUM("low_speed_time", low_speed_s, 5, 3600),
	FN("keys", set_keys),
	END
};

void
fwupdate_conf_defaults(struct fwupdate_conf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->product, sizeof(c->product), "%s",
	    FWUPDATE_DEFAULT_PRODUCT);
	c->selftest_s = 300;
	c->low_speed_bps = 64;
	c->low_speed_s = 60;
}

int
fwupdate_conf_parse(yaml_document_t *doc, yaml_node_t *map,
    const char *fname, struct fwupdate_conf *out, char *err, size_t errlen)
{
	struct yamlcfg x = { doc, fname, err, errlen, 0 };
	struct fwupdate_conf c = *out;

	if (map->type != YAML_MAPPING_NODE)
		return yamlcfg_fail(&x, map, "firmware: expected a mapping");
	if (yamlcfg_map(&x, map, "firmware", firmware_keys, &c) == -1)
		return -1;
	*out = c;
	return 0;
}
