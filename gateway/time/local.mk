# time/: trusted time (codec, selection, server, upstream client, module).
gateway_libevgate_a_SOURCES += \
	gateway/time/ntp_proto.c gateway/time/ntp_proto.h \
	gateway/time/ntp_select.c gateway/time/ntp_select.h \
	gateway/time/ntp_server.c gateway/time/ntp_server.h \
	gateway/time/ntp_client.c gateway/time/ntp_client.h \
	gateway/time/ntp.c gateway/time/ntp.h
