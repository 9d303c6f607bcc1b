/*
 * fwlog: format once, hand the line to the board's log sink.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/fwlog.h"

static enum hal_log_level fwlog_level = HAL_LOG_INFO;

void
fwlog_setlevel(enum hal_log_level level)
{
	fwlog_level = level;
}

enum hal_log_level
fwlog_getlevel(void)
{
	return fwlog_level;
}

int
fwlog_level_parse(const char *name)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return -1;
}

void
fw_log(enum hal_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level > fwlog_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hal_log(level, msg);
}

const char *
fw_ipstr(uint32_t a, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", (a >> 24) & 0xff, (a >> 16) & 0xff,
	    (a >> 8) & 0xff, a & 0xff);
	return buf;
}
