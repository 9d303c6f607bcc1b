/*
 * fwupdate_conf: the "firmware:" section of evcharger.yaml (see
 * doc/evcharger.yaml.5 and doc/firmware-updates.md):
 *
 *   firmware:
 *     product: evcharger-sim       # must equal the manifests' product
 *     ca_file: /etc/evcharger/ca.pem   # default: cloud.ca_file
 *     selftest: 300                # s for the new image to prove itself
 *     low_speed_limit: 64          # bytes/s below which ...
 *     low_speed_time: 60           # ... for this long, a download stalls
 *     keys:                        # trusted signing keys, 1 to 4
 *       - id: vendor-2026a
 *         key: 64 hex digits (raw Ed25519 public key, "evfw-sign pubkey")
 *       - id: vendor-2027a
 *         key: ...
 *
 * Without keys, firmware updates are off (methods 200 and 202 answer
 * 400).  The parser works on a libyaml document so that evcharger's
 * configuration parser hands it the section node; errors name
 * file:line:column like the rest of the configuration.
 */
#ifndef EVFW_FWUPDATE_CONF_H
#define EVFW_FWUPDATE_CONF_H

#include <stddef.h>

#include "core/update/fwupdate.h"

#define FWUPDATE_CONF_PATH_MAX	1024
#define FWUPDATE_DEFAULT_PRODUCT "evcharger-sim"

struct fwupdate_conf {
	char		 product[MANIFEST_PRODUCT_MAX];
	char		 ca_file[FWUPDATE_CONF_PATH_MAX];	/* ""=cloud's */
	struct fwupdate_key keys[FWUPDATE_MAX_KEYS];
	size_t		 nkeys;
	unsigned	 selftest_s;
	unsigned	 low_speed_bps;
	unsigned	 low_speed_s;
};

void	 fwupdate_conf_defaults(struct fwupdate_conf *);

struct yaml_document_s;
struct yaml_node_s;
/*
 * Parse the mapping node into c (which holds the defaults).  0, or -1
 * with "fname:line:column: message" in err.
 */
int	 fwupdate_conf_parse(struct yaml_document_s *, struct yaml_node_s *,
	    const char *fname, struct fwupdate_conf *c, char *err,
	    size_t errlen);

#endif
