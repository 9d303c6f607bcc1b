# ctl/: evgatectl.  ctl.c (the control-socket client, tables, numbers) is
# in libevgate.a: the dnsmasq lease hook talks to evgated through it too.
# Each command is a ctl_<concern>.c file, listed in evgatectl.c.
gateway_libevgate_a_SOURCES += gateway/ctl/ctl.c gateway/ctl/ctl.h

sbin_PROGRAMS += gateway/evgatectl
gateway_evgatectl_SOURCES = gateway/ctl/evgatectl.c \
	gateway/ctl/ctl_relay.c gateway/ctl/ctl_log.c \
	gateway/ctl/ctl_chargers.c gateway/ctl/ctl_time.c
gateway_evgatectl_CFLAGS = $(gateway_libevgate_a_CFLAGS)
gateway_evgatectl_LDADD = $(GATEWAY_LIBS)
