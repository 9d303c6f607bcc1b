/*
 * yamlcfg: what evcharger.yaml's parsers share (fwconfig for the firmware
 * core, fwupdate_conf for the "firmware:" section): one error in the form
 * "file:line:column: message", taken from libyaml's node positions,
 * bounded scalar readers, and a walker that applies a table of keys to a
 * mapping.
 *
 * The walker (yamlcfg_map) is where the rules every mapping of the file
 * follows are kept, as the gateway's cfg_map keeps them: an unknown key is
 * an error (a typo must not fall back to a default silently), and so is a
 * key given twice (libyaml keeps both; the second would win unseen).
 */
#ifndef EVFW_YAMLCFG_H
#define EVFW_YAMLCFG_H

#include <stddef.h>

#include <yaml.h>

struct yamlcfg {
	yaml_document_t	*doc;
	const char	*fname;		/* for messages */
	char		*err;		/* the one message */
	size_t		 errlen;
	/*
	 * Where an unknown key is reported: 0 at the key, 1 at its value
	 * (fwconfig's top level and sections always did; kept so that
	 * messages do not move under operators' feet).
	 */
	int		 unknown_at_value;
};

/* Write "fname:line:column: message" for node n into err; returns -1. */
int	 yamlcfg_fail(struct yamlcfg *, const yaml_node_t *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/* The scalar's text, or NULL with an error naming key. */
const char *yamlcfg_scalar(struct yamlcfg *, const yaml_node_t *,
	    const char *key);
/* A decimal number in min..max; 0 or -1 with an error naming key. */
int	 yamlcfg_uint(struct yamlcfg *, const yaml_node_t *, const char *key,
	    unsigned long min, unsigned long max, unsigned long *);

/*
 * One key of a mapping.  set() gets the value node, the key's dotted path
 * ("cloud.port") for messages, the entry itself and the object being
 * filled; it returns 0 or -1 (after yamlcfg_fail).  The generic setters
 * below use off/size/min/max/sub; a custom setter may use them as it
 * likes.  A table ends with an entry whose name is NULL.
 */
struct yamlcfg_key;
typedef int	 yamlcfg_set_fn(struct yamlcfg *, const yaml_node_t *,
		    const char *path, const struct yamlcfg_key *, void *obj);
struct yamlcfg_key {
	const char		 *name;
	yamlcfg_set_fn		 *set;
	size_t			  off;		/* the field in obj */
	size_t			  size;		/* its size in bytes */
	unsigned long		  min, max;	/* numbers: the range */
	const struct yamlcfg_key *sub;		/* yamlcfg_section */
};

#define YAMLCFG_MAX_KEYS	32	/* per table */

/*
 * Apply keys to the mapping node map: each key's setter runs in the
 * file's order.  Unknown and duplicate keys, and a node that is not a
 * mapping, are errors.  path is the mapping's own dotted path ("" at the
 * top).  0, or -1 with the error in x.
 */
int	 yamlcfg_map(struct yamlcfg *, const yaml_node_t *map,
	    const char *path, const struct yamlcfg_key *keys, void *obj);

/* Generic setters for yamlcfg_key.set. */
/* A nested mapping: sub is its table, obj the same object. */
yamlcfg_set_fn	 yamlcfg_section;
/* A non-empty string of at most size - 1 bytes into char[size] at off. */
yamlcfg_set_fn	 yamlcfg_string;
/* A number in min..max into an unsigned integer of size 1, 2, 4 or 8. */
yamlcfg_set_fn	 yamlcfg_number;

#endif
