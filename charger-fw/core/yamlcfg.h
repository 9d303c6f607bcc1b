/*
 * yamlcfg: the few helpers evcharger.yaml's parsers share (fwconfig for
 * the firmware core, fwupdate_conf for the "firmware:" section): one error
 * in the form "file:line:column: message", taken from libyaml's node
 * positions, and bounded scalar readers.
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

#endif
