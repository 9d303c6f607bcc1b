/*
 * fwconfig: evcharger's configuration (YAML, doc/evcharger.yaml.5) parsed
 * from a buffer into an immutable struct.  Every error names the file,
 * line and column.  Unknown keys are errors (a typo must not silently
 * fall back to a default).
 */
#ifndef EVFW_FWCONFIG_H
#define EVFW_FWCONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/charger.h"
#include "core/cloud.h"
#include "core/dns.h"
#include "core/store.h"
#include "core/update/fwupdate_conf.h"

#define FWCONFIG_PATH_MAX	1024
#define FWCONFIG_KEEPALIVE_MAX	1177	/* the hub's limit */

enum fw_netmode {
	FW_NET_DHCP = 0,	/* the firmware's DHCP client */
	FW_NET_STATIC,		/* the link is configured already */
};

struct fw_config {
	char		 interface[32];
	enum fw_netmode	 netmode;
	char		 state_dir[FWCONFIG_PATH_MAX];
	struct cloud_cfg cloud;		/* id and secret come later */
	struct dns_server dns_fallback[DNS_MAX_SERVERS];
	size_t		 ndns_fallback;
	unsigned	 dns_timeout_ms;
	char		 ntp_server[256];
	uint16_t	 ntp_port;
	struct charger_cfg charger;
	char		 control_socket[FWCONFIG_PATH_MAX];
	int		 log_level;	/* enum hal_log_level */
	int64_t		 rtc_offset_s;	/* simulation: first-boot RTC */
	unsigned	 data_usage_s;	/* 822 interval */
	struct store_cfg store;		/* the store-and-forward rings */
	uint64_t	 budget_daily;	/* interface bytes a day; 0: none */
	/* The "firmware:" section, parsed by fwupdate_conf.c (issue 7). */
	struct fwupdate_conf firmware;
};

void	fwconfig_defaults(struct fw_config *);
/* 0, or -1 with "file:line:column: message" in err. */
int	fwconfig_parse(const char *buf, size_t len, const char *fname,
	    struct fw_config *, char *err, size_t errlen);

#endif
