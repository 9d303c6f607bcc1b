# gateway/: evgated (the daemon), evgatectl (its admin CLI) and the dnsmasq
# lease hook.  One folder per subsystem, each with its rules in its own
# local.mk; every module but the three mains goes into libevgate.a, which
# the unit tests, fuzz targets and benchmarks link as well.
#
#   common/    log, util, match, cfg: used by every program
#   daemon/    evgated's main, the module lifecycle, the root
#              configuration, control socket, events, privileges
#   relay/     the TLS relay: ClientHello parser, resolver, state machine
#   time/      the NTP client, selection and server
#   site/      DHCP and DNS: LAN configuration, dnsmasq, the lease table
#   fleetlog/  the fleet log, its export, metrics and shipping
#   ctl/       evgatectl and its commands

noinst_LIBRARIES += gateway/libevgate.a
gateway_libevgate_a_SOURCES =
gateway_libevgate_a_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(YAML_CFLAGS) \
	$(JSONC_CFLAGS) $(OPENSSL_CFLAGS) $(CURL_CFLAGS) $(ZLIB_CFLAGS)
GATEWAY_LIBS = gateway/libevgate.a $(LIBEVENT_OPENSSL_LIBS) \
	$(LIBEVENT_LIBS) $(YAML_LIBS) \
	$(JSONC_LIBS) $(LIBBSD_LIBS) $(CURL_LIBS) $(ZLIB_LIBS) -lm \
	$(OPENSSL_LIBS) $(LIBCAP_LIBS)

include gateway/common/local.mk
include gateway/daemon/local.mk
include gateway/relay/local.mk
include gateway/time/local.mk
include gateway/site/local.mk
include gateway/fleetlog/local.mk
include gateway/ctl/local.mk
