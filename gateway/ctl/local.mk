# ctl/: evgatectl.  Each command is a ctl_<concern>.c file, listed in
# evgatectl.c; the control-socket client and text tables they share are
# common/ctl.c (the dnsmasq lease hook talks to evgated through it too).
# In bin: the operators who run it (group evgate-admin) are not root, and
# sbin is not on their PATH.
bin_PROGRAMS += gateway/evgatectl
gateway_evgatectl_SOURCES = gateway/ctl/evgatectl.c \
	gateway/ctl/ctl_relay.c gateway/ctl/ctl_log.c \
	gateway/ctl/ctl_chargers.c gateway/ctl/ctl_time.c \
	gateway/ctl/ctl_pair.c
gateway_evgatectl_CFLAGS = $(gateway_libevgate_a_CFLAGS)
gateway_evgatectl_LDADD = $(GATEWAY_LIBS)
