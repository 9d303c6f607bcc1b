# common/: what every part of the gateway stands on: logging, allocation,
# clocks, the YAML framework (cfg), name matching, the events hub, the
# control socket's server (control) and client with its text tables (ctl).
gateway_libevgate_a_SOURCES += \
	gateway/common/clock.c gateway/common/clock.h \
	gateway/common/log.c gateway/common/log.h \
	gateway/common/util.c gateway/common/util.h \
	gateway/common/cfg.c gateway/common/cfg.h \
	gateway/common/match.c gateway/common/match.h \
	gateway/common/psl.c gateway/common/psl.h \
	gateway/common/events.c gateway/common/events.h \
	gateway/common/control.c gateway/common/control.h \
	gateway/common/ctl.c gateway/common/ctl.h
gateway_libevgate_a_SOURCES += \
	gateway/common/netpolicy.c gateway/common/netpolicy.h
