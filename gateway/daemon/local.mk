# daemon/: evgated's main and what holds its modules together.
gateway_libevgate_a_SOURCES += \
	gateway/daemon/config.c gateway/daemon/config.h \
	gateway/daemon/control.c gateway/daemon/control.h \
	gateway/daemon/events.c gateway/daemon/events.h \
	gateway/daemon/sdnotify.c gateway/daemon/sdnotify.h \
	gateway/daemon/privdrop.c gateway/daemon/privdrop.h

sbin_PROGRAMS += gateway/evgated
gateway_evgated_SOURCES = gateway/daemon/evgated.c gateway/daemon/evgated.h
gateway_evgated_CFLAGS = $(gateway_libevgate_a_CFLAGS)
gateway_evgated_LDADD = $(GATEWAY_LIBS)
