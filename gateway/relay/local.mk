# relay/: the outbound-only TLS relay.
gateway_libevgate_a_SOURCES += \
	gateway/relay/tls_hello.c gateway/relay/tls_hello.h \
	gateway/relay/resolver.c gateway/relay/resolver.h \
	gateway/relay/relay.c gateway/relay/relay.h
gateway_libevgate_a_SOURCES += \
	gateway/relay/relay_conf.c gateway/relay/relay_conf.h \
	gateway/relay/relay_report.c gateway/relay/relay_report.h
gateway_libevgate_a_SOURCES += gateway/relay/dns.c gateway/relay/dns.h
