# common/: what every gateway program uses.
gateway_libevgate_a_SOURCES += \
	gateway/common/log.c gateway/common/log.h \
	gateway/common/util.c gateway/common/util.h \
	gateway/common/match.c gateway/common/match.h
