/*
 * fwupdate_conf: the "firmware:" section of evcharger.yaml (see
 * fwupdate_conf.h).  Unknown keys are errors, as everywhere in the
 * configuration: a typo must not silently switch a check off.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core/fwupdate_conf.h"
#include "core/yamlcfg.h"

static int
get_uint(struct yamlcfg *x, const yaml_node_t *n, const char *key,
    unsigned long min, unsigned long max, unsigned *out)
{
	unsigned long v;

	if (yamlcfg_uint(x, n, key, min, max, &v) == -1)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
parse_key(struct yamlcfg *x, const yaml_node_t *item, struct fwupdate_key *k)
{
	yaml_node_pair_t *p;
	yaml_node_t *kn, *vn;
	const char *ks, *s;
	int have_id = 0, have_key = 0;

	if (item->type != YAML_MAPPING_NODE)
		return yamlcfg_fail(x, item, "firmware.keys: each key is a mapping "
		    "with id and key");
	for (p = item->data.mapping.pairs.start;
	    p < item->data.mapping.pairs.top; p++) {
		kn = yaml_document_get_node(x->doc, p->key);
		vn = yaml_document_get_node(x->doc, p->value);
		if (kn == NULL || vn == NULL || kn->type != YAML_SCALAR_NODE)
			return yamlcfg_fail(x, item, "firmware.keys: bad key");
		ks = (const char *)kn->data.scalar.value;
		if ((s = yamlcfg_scalar(x, vn, ks)) == NULL)
			return -1;
		if (strcmp(ks, "id") == 0) {
			if (!manifest_key_id_ok(s))
				return yamlcfg_fail(x, vn, "firmware.keys.id: \"%s\": "
				    "1-31 of [A-Za-z0-9._-]", s);
			snprintf(k->id, sizeof(k->id), "%s", s);
			have_id = 1;
		} else if (strcmp(ks, "key") == 0) {
			if (manifest_hex32(s, strlen(s), k->pub) == -1)
				return yamlcfg_fail(x, vn, "firmware.keys.key: want "
				    "the 64 hex digits of an Ed25519 public "
				    "key (evfw-sign pubkey)");
			have_key = 1;
		} else
			return yamlcfg_fail(x, kn, "firmware.keys: unknown key "
			    "\"%s\"", ks);
	}
	if (!have_id || !have_key)
		return yamlcfg_fail(x, item, "firmware.keys: each key needs an id "
		    "and a key");
	return 0;
}

static int
parse_keys(struct yamlcfg *x, const yaml_node_t *v, struct fwupdate_conf *c)
{
	yaml_node_item_t *it;
	yaml_node_t *item;
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
			return yamlcfg_fail(x, item, "firmware.keys: at most %d keys",
			    FWUPDATE_MAX_KEYS);
		if (parse_key(x, item, &c->keys[c->nkeys]) == -1)
			return -1;
		for (i = 0; i < c->nkeys; i++)
			if (strcmp(c->keys[i].id, c->keys[c->nkeys].id) == 0)
				return yamlcfg_fail(x, item, "firmware.keys: id \"%s\" "
				    "twice", c->keys[i].id);
		c->nkeys++;
	}
	return 0;
}

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
	struct yamlcfg x = { doc, fname, err, errlen };
	struct fwupdate_conf c = *out;
	yaml_node_pair_t *p;
	yaml_node_t *k, *v;
	const char *ks, *s;

	if (map->type != YAML_MAPPING_NODE)
		return yamlcfg_fail(&x, map, "firmware: expected a mapping");
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = yaml_document_get_node(doc, p->key);
		v = yaml_document_get_node(doc, p->value);
		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
			return yamlcfg_fail(&x, map, "firmware: bad key");
		ks = (const char *)k->data.scalar.value;
		if (strcmp(ks, "product") == 0) {
			if ((s = yamlcfg_scalar(&x, v, "firmware.product")) == NULL)
				return -1;
			if (!manifest_product_ok(s))
				return yamlcfg_fail(&x, v, "firmware.product: \"%s\": "
				    "1-63 of [A-Za-z0-9._-]", s);
			snprintf(c.product, sizeof(c.product), "%s", s);
		} else if (strcmp(ks, "ca_file") == 0) {
			if ((s = yamlcfg_scalar(&x, v, "firmware.ca_file")) == NULL)
				return -1;
			if (*s == '\0' || strlen(s) >= sizeof(c.ca_file))
				return yamlcfg_fail(&x, v, "firmware.ca_file: empty "
				    "or too long");
			snprintf(c.ca_file, sizeof(c.ca_file), "%s", s);
		} else if (strcmp(ks, "selftest") == 0) {
			if (get_uint(&x, v, "firmware.selftest", 10, 3600,
			    &c.selftest_s) == -1)
				return -1;
		} else if (strcmp(ks, "low_speed_limit") == 0) {
			if (get_uint(&x, v, "firmware.low_speed_limit", 1,
			    1000000, &c.low_speed_bps) == -1)
				return -1;
		} else if (strcmp(ks, "low_speed_time") == 0) {
			if (get_uint(&x, v, "firmware.low_speed_time", 5, 3600,
			    &c.low_speed_s) == -1)
				return -1;
		} else if (strcmp(ks, "keys") == 0) {
			if (parse_keys(&x, v, &c) == -1)
				return -1;
		} else
			return yamlcfg_fail(&x, k, "unknown key \"firmware.%s\"", ks);
	}
	*out = c;
	return 0;
}
