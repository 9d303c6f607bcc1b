# gateway/: evgated and evgatectl.  Every module but the two mains goes into
# libevgate.a, which the unit tests and fuzz targets link as well.

noinst_LIBRARIES += gateway/libevgate.a
gateway_libevgate_a_SOURCES = \
	gateway/log.c gateway/log.h \
	gateway/util.c gateway/util.h \
	gateway/config.c gateway/config.h \
	gateway/match.c gateway/match.h \
	gateway/tls_hello.c gateway/tls_hello.h \
	gateway/resolver.c gateway/resolver.h \
	gateway/relay.c gateway/relay.h \
	gateway/control.c gateway/control.h \
	gateway/sdnotify.c gateway/sdnotify.h \
	gateway/events.c gateway/events.h \
	gateway/ctl.c gateway/ctl.h
gateway_libevgate_a_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(YAML_CFLAGS) \
	$(JSONC_CFLAGS) $(OPENSSL_CFLAGS)

GATEWAY_LIBS = gateway/libevgate.a $(LIBEVENT_LIBS) $(YAML_LIBS) \
	$(JSONC_LIBS) $(LIBBSD_LIBS)

sbin_PROGRAMS += gateway/evgated gateway/evgatectl

gateway_evgated_SOURCES = gateway/evgated.c gateway/evgated.h
gateway_evgated_CFLAGS = $(gateway_libevgate_a_CFLAGS)
gateway_evgated_LDADD = $(GATEWAY_LIBS)

gateway_evgatectl_SOURCES = gateway/evgatectl.c gateway/ctl_relay.c
gateway_evgatectl_CFLAGS = $(gateway_libevgate_a_CFLAGS)
gateway_evgatectl_LDADD = $(GATEWAY_LIBS)

# Fleet log: events into JSON Lines segments (fleetlog), export and report
# (export, ctl_log), Prometheus metrics (metrics), shipping (ship).
gateway_libevgate_a_SOURCES += gateway/fleetlog.c gateway/fleetlog.h \
	gateway/export.c gateway/export.h \
	gateway/metrics.c gateway/metrics.h \
	gateway/ship.c gateway/ship.h
gateway_libevgate_a_CFLAGS += $(CURL_CFLAGS) $(ZLIB_CFLAGS)
GATEWAY_LIBS += $(CURL_LIBS) $(ZLIB_LIBS)

# ntp: trusted time (codec, upstream client, server, module glue).
gateway_libevgate_a_SOURCES += \
	gateway/ntp_proto.c gateway/ntp_proto.h
GATEWAY_LIBS += -lm
gateway_libevgate_a_SOURCES += gateway/ntp_select.c gateway/ntp_select.h
gateway_libevgate_a_SOURCES += gateway/ntp_server.c gateway/ntp_server.h
gateway_evgatectl_SOURCES += gateway/ctl_log.c

# Site services: LAN configuration (lan), dnsmasq supervision (dnsmasq),
# the lease table (leases), the module glue (site); the dhcp-script that
# hands lease events to evgated; evgatectl chargers.
gateway_libevgate_a_SOURCES += gateway/lan.c gateway/lan.h \
	gateway/leases.c gateway/leases.h \
	gateway/dnsmasq.c gateway/dnsmasq.h \
	gateway/site.c gateway/site.h
gateway_evgatectl_SOURCES += gateway/ctl_chargers.c
libexec_PROGRAMS += gateway/evgate-dhcp-hook
gateway_evgate_dhcp_hook_SOURCES = gateway/evgate-dhcp-hook.c
gateway_evgate_dhcp_hook_CFLAGS = $(gateway_libevgate_a_CFLAGS)
gateway_evgate_dhcp_hook_LDADD = $(GATEWAY_LIBS)
gateway_libevgate_a_SOURCES += gateway/ntp_client.c gateway/ntp_client.h \
	gateway/ntp.c gateway/ntp.h
GATEWAY_LIBS += $(OPENSSL_LIBS)
gateway_evgatectl_SOURCES += gateway/ctl_time.c

# privdrop: leave root at start-up, keeping a few capabilities (libcap).
gateway_libevgate_a_SOURCES += gateway/privdrop.c gateway/privdrop.h
GATEWAY_LIBS += $(LIBCAP_LIBS)
