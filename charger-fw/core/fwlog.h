/*
 * fwlog: the firmware's printf-style logging over hal_log().  Messages
 * above the chosen level are dropped before formatting.
 */
#ifndef EVFW_FWLOG_H
#define EVFW_FWLOG_H

#include "hal/hal.h"

void	fwlog_setlevel(enum hal_log_level);
enum hal_log_level fwlog_getlevel(void);
/* "error", "warn", "info", "debug" -> level; -1 when unknown. */
int	fwlog_level_parse(const char *);

void	fw_log(enum hal_log_level, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#define fw_err(...)	fw_log(HAL_LOG_ERR, __VA_ARGS__)
#define fw_warn(...)	fw_log(HAL_LOG_WARN, __VA_ARGS__)
#define fw_info(...)	fw_log(HAL_LOG_INFO, __VA_ARGS__)
#define fw_debug(...)	fw_log(HAL_LOG_DEBUG, __VA_ARGS__)

/* "a.b.c.d" of a host-order address into buf (>= 16 bytes); returns buf. */
const char *fw_ipstr(uint32_t, char *);

#endif
