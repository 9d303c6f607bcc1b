# site/: the site services on the chargers' LAN: its configuration (lan),
# dnsmasq supervision (dnsmasq), the lease table (leases), the module glue
# (site), the dhcp-script that hands lease events to evgated, and the
# link to the other box of a redundant pair (pair, its messages pair_proto).
gateway_libevgate_a_SOURCES += \
	gateway/site/lan.c gateway/site/lan.h \
	gateway/site/leases.c gateway/site/leases.h \
	gateway/site/dnsmasq.c gateway/site/dnsmasq.h \
	gateway/site/site.c gateway/site/site.h \
	gateway/site/pair_proto.c gateway/site/pair_proto.h \
	gateway/site/pair.c gateway/site/pair.h

libexec_PROGRAMS += gateway/evgate-dhcp-hook
gateway_evgate_dhcp_hook_SOURCES = gateway/site/evgate-dhcp-hook.c
gateway_evgate_dhcp_hook_CFLAGS = $(gateway_libevgate_a_CFLAGS)
gateway_evgate_dhcp_hook_LDADD = $(GATEWAY_LIBS)
