# daemon/: what holds evgated's modules together: the module lifecycle,
# the root configuration, the daemon's wiring and status, privileges and
# systemd readiness; evgated.c is the process around them.
gateway_libevgate_a_SOURCES += \
	gateway/daemon/module.c gateway/daemon/module.h \
	gateway/daemon/config.c gateway/daemon/config.h \
	gateway/daemon/boxcheck.c gateway/daemon/boxcheck.h \
	gateway/daemon/config_dump.c \
	gateway/daemon/sdnotify.c gateway/daemon/sdnotify.h \
	gateway/daemon/privdrop.c gateway/daemon/privdrop.h \
	gateway/daemon/role.c gateway/daemon/role.h \
	gateway/daemon/daemon.c gateway/daemon/evgated.h

sbin_PROGRAMS += gateway/evgated
gateway_evgated_SOURCES = gateway/daemon/evgated.c
gateway_evgated_CFLAGS = $(gateway_libevgate_a_CFLAGS)
gateway_evgated_LDADD = $(GATEWAY_LIBS)
