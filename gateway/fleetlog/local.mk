# fleetlog/: events into JSON Lines segments (fleetlog), export and report
# (export), Prometheus metrics (metrics), shipping to a collector (ship),
# the open connections' end records kept for a crash (checkpoint).
gateway_libevgate_a_SOURCES += \
	gateway/fleetlog/fleetlog.c gateway/fleetlog/fleetlog.h \
	gateway/fleetlog/export.c gateway/fleetlog/export.h \
	gateway/fleetlog/metrics.c gateway/fleetlog/metrics.h \
	gateway/fleetlog/ship.c gateway/fleetlog/ship.h \
	gateway/fleetlog/checkpoint.c gateway/fleetlog/checkpoint.h
