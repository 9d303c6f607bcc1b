# site/: the site services on the chargers' LAN: its configuration (lan),
# dnsmasq supervision (dnsmasq), the lease table (leases), the module glue
# (site), and the dhcp-script that hands lease events to evgated.
gateway_libevgate_a_SOURCES += \
	gateway/site/lan.c gateway/site/lan.h \
	gateway/site/leases.c gateway/site/leases.h \
	gateway/site/dnsmasq.c gateway/site/dnsmasq.h \
	gateway/site/site.c gateway/site/site.h

libexec_PROGRAMS += gateway/evgate-dhcp-hook
gateway_evgate_dhcp_hook_SOURCES = gateway/site/evgate-dhcp-hook.c
gateway_evgate_dhcp_hook_CFLAGS = $(gateway_libevgate_a_CFLAGS)
gateway_evgate_dhcp_hook_LDADD = $(GATEWAY_LIBS)
