# charger-fw/: the charger firmware (portable core + HAL).  See doc/hal.md.
#
# libfw.a      the portable core (charger-fw/core): links against a HAL.
# libfwlinux.a the Linux HAL (charger-fw/hal/linux): evcharger, evprovision.
# libfwfake.a  the fake HAL (charger-fw/hal/fake): unit tests, fuzz targets.

FW_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(MOSQUITTO_CFLAGS) \
	$(OPENSSL_CFLAGS) $(JSONC_CFLAGS) $(YAML_CFLAGS)
FW_DEPLIBS = $(LIBEVENT_LIBS) $(MOSQUITTO_LIBS) $(OPENSSL_LIBS) \
	$(JSONC_LIBS) $(YAML_LIBS) $(LIBBSD_LIBS)

noinst_LIBRARIES += charger-fw/libfw.a charger-fw/libfwfake.a
charger_fw_libfw_a_SOURCES = \
	charger-fw/hal/hal.h \
	charger-fw/core/fwlog.c charger-fw/core/fwlog.h \
	charger-fw/core/arp.c charger-fw/core/arp.h \
	charger-fw/core/dhcp.c charger-fw/core/dhcp.h \
	charger-fw/core/dns.c charger-fw/core/dns.h \
	charger-fw/core/sntp.c charger-fw/core/sntp.h \
	charger-fw/core/sas.c charger-fw/core/sas.h \
	charger-fw/core/method.c charger-fw/core/method.h \
	charger-fw/core/telemetry.c charger-fw/core/telemetry.h \
	charger-fw/core/ring.c charger-fw/core/ring.h \
	charger-fw/core/store.c charger-fw/core/store.h \
	charger-fw/core/bytes.h \
	charger-fw/core/usage.c charger-fw/core/usage.h \
	charger-fw/core/session.c charger-fw/core/session.h \
	charger-fw/core/charger.c charger-fw/core/charger.h \
	charger-fw/core/link.c charger-fw/core/link.h \
	charger-fw/core/twin.c charger-fw/core/twin.h \
	charger-fw/core/desired.c charger-fw/core/desired.h \
	charger-fw/core/cloud.c charger-fw/core/cloud.h \
	charger-fw/core/fwconfig.c charger-fw/core/fwconfig.h \
	charger-fw/core/yamlcfg.c charger-fw/core/yamlcfg.h \
	charger-fw/core/fw.c charger-fw/core/fw.h
# The stack budget of a controller's RTOS task (4-8 KB): no function of
# the core may need more than 4 KB; with -Werror (CI) that is an error.
FW_STACK_CFLAGS = -Wstack-usage=4096
charger_fw_libfw_a_CFLAGS = $(FW_CFLAGS) $(FW_STACK_CFLAGS)

noinst_LIBRARIES += charger-fw/libfwlinux.a
charger_fw_libfwlinux_a_SOURCES = \
	charger-fw/hal/linux/hal_linux.c charger-fw/hal/linux/hal_linux.h \
	charger-fw/hal/linux/hal_linux_net.c
charger_fw_libfwlinux_a_CFLAGS = $(FW_CFLAGS)

# evcharger: the firmware as a Linux process; evprovision: production.
# Installed only with --enable-firmware-install: a gateway's make install
# is the gateway's.
if INSTALL_FIRMWARE
sbin_PROGRAMS += charger-fw/evcharger charger-fw/evprovision
else
noinst_PROGRAMS += charger-fw/evcharger charger-fw/evprovision
endif
charger_fw_evcharger_SOURCES = charger-fw/evcharger.c
charger_fw_evcharger_CFLAGS = $(FW_CFLAGS)
charger_fw_evcharger_LDADD = charger-fw/libfw.a charger-fw/libfwlinux.a \
	$(FW_DEPLIBS)
charger_fw_evprovision_SOURCES = charger-fw/tools/evprovision.c
charger_fw_evprovision_CFLAGS = $(FW_CFLAGS)
charger_fw_evprovision_LDADD = charger-fw/libfw.a charger-fw/libfwlinux.a \
	$(FW_DEPLIBS)

charger_fw_libfwfake_a_SOURCES = \
	charger-fw/hal/fake/hal_fake.c charger-fw/hal/fake/hal_fake.h
charger_fw_libfwfake_a_CFLAGS = $(FW_CFLAGS)

FW_TEST_LIBS = charger-fw/libfw.a charger-fw/libfwfake.a $(FW_DEPLIBS) \
	$(CMOCKA_LIBS)
FW_TEST_CFLAGS = $(FW_CFLAGS) $(CMOCKA_CFLAGS)

# The manual, the porting guide and the example configuration.
EXTRA_DIST += doc/evcharger.8 doc/evcharger.yaml.5 doc/hal.md \
	conf/evcharger.yaml
if INSTALL_FIRMWARE
man_MANS += doc/evcharger.8 doc/evcharger.yaml.5
doc_DATA += doc/hal.md conf/evcharger.yaml
endif

# Unit tests: one cmocka binary per module, on the fake HAL.
FW_UNIT_TESTS = \
	tests/unit/fw/test_dhcp \
	tests/unit/fw/test_dns \
	tests/unit/fw/test_sntp \
	tests/unit/fw/test_sas \
	tests/unit/fw/test_method \
	tests/unit/fw/test_telemetry \
	tests/unit/fw/test_charger \
	tests/unit/fw/test_fwconfig \
	tests/unit/fw/test_cloud \
	tests/unit/fw/test_link \
	tests/unit/fw/test_twin \
	tests/unit/fw/test_desired \
	tests/unit/fw/test_store \
	tests/unit/fw/test_session \
	tests/unit/fw/test_hal_linux

check_PROGRAMS += $(FW_UNIT_TESTS)
TESTS += $(FW_UNIT_TESTS)

tests_unit_fw_test_dhcp_SOURCES = tests/unit/fw/test_dhcp.c
tests_unit_fw_test_dhcp_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_dhcp_LDADD = $(FW_TEST_LIBS)

tests_unit_fw_test_dns_SOURCES = tests/unit/fw/test_dns.c
tests_unit_fw_test_dns_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_dns_LDADD = $(FW_TEST_LIBS)

tests_unit_fw_test_sntp_SOURCES = tests/unit/fw/test_sntp.c
tests_unit_fw_test_sntp_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_sntp_LDADD = $(FW_TEST_LIBS)

tests_unit_fw_test_sas_SOURCES = tests/unit/fw/test_sas.c
tests_unit_fw_test_sas_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_sas_LDADD = $(FW_TEST_LIBS)
tests_unit_fw_test_method_SOURCES = tests/unit/fw/test_method.c
tests_unit_fw_test_method_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_method_LDADD = $(FW_TEST_LIBS)
tests_unit_fw_test_telemetry_SOURCES = tests/unit/fw/test_telemetry.c
tests_unit_fw_test_telemetry_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_telemetry_LDADD = $(FW_TEST_LIBS)
tests_unit_fw_test_charger_SOURCES = tests/unit/fw/test_charger.c
tests_unit_fw_test_charger_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_charger_LDADD = $(FW_TEST_LIBS)
tests_unit_fw_test_fwconfig_SOURCES = tests/unit/fw/test_fwconfig.c
tests_unit_fw_test_fwconfig_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_fwconfig_LDADD = $(FW_TEST_LIBS)
tests_unit_fw_test_cloud_SOURCES = tests/unit/fw/test_cloud.c
tests_unit_fw_test_cloud_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_cloud_LDADD = $(FW_TEST_LIBS)
tests_unit_fw_test_link_SOURCES = tests/unit/fw/test_link.c
tests_unit_fw_test_link_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_link_LDADD = $(FW_TEST_LIBS)
tests_unit_fw_test_twin_SOURCES = tests/unit/fw/test_twin.c
tests_unit_fw_test_twin_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_twin_LDADD = $(FW_TEST_LIBS)
tests_unit_fw_test_desired_SOURCES = tests/unit/fw/test_desired.c
tests_unit_fw_test_desired_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_desired_LDADD = $(FW_TEST_LIBS)
tests_unit_fw_test_store_SOURCES = tests/unit/fw/test_store.c
tests_unit_fw_test_store_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_store_LDADD = $(FW_TEST_LIBS)
# The power can be cut after any durable HAL call (kv, store sync).
tests_unit_fw_test_session_SOURCES = tests/unit/fw/test_session.c
tests_unit_fw_test_session_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_session_LDFLAGS = $(AM_LDFLAGS) \
	-Wl,--wrap=hal_kv_set,--wrap=hal_kv_del \
	-Wl,--wrap=hal_store_write,--wrap=hal_store_sync
tests_unit_fw_test_session_LDADD = $(FW_TEST_LIBS)
# The Linux HAL itself, in a temporary state directory.
tests_unit_fw_test_hal_linux_SOURCES = tests/unit/fw/test_hal_linux.c
tests_unit_fw_test_hal_linux_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_hal_linux_LDADD = charger-fw/libfwlinux.a $(FW_DEPLIBS) \
	$(CMOCKA_LIBS)

# Fuzz targets (see tests/local.mk).  This file is included before
# tests/local.mk, which assigns FUZZ_TARGETS, so the firmware's targets are
# listed here and added to the program lists the same way it does.
FW_FUZZ_TARGETS = tests/fuzz/fuzz_dhcp tests/fuzz/fuzz_sntp \
	tests/fuzz/fuzz_method tests/fuzz/fuzz_twin tests/fuzz/fuzz_desired \
	tests/fuzz/fuzz_arp tests/fuzz/fuzz_ring tests/fuzz/fuzz_session
if ENABLE_FUZZING
noinst_PROGRAMS += $(FW_FUZZ_TARGETS)
else
check_PROGRAMS += $(FW_FUZZ_TARGETS)
endif
tests_fuzz_fuzz_dhcp_SOURCES = tests/fuzz/fuzz_dhcp.c
tests_fuzz_fuzz_dhcp_CFLAGS = $(FUZZ_CFLAGS) $(FW_CFLAGS)
tests_fuzz_fuzz_dhcp_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_dhcp_LDADD = $(FUZZ_MAIN) $(FW_TEST_LIBS)
tests_fuzz_fuzz_sntp_SOURCES = tests/fuzz/fuzz_sntp.c
tests_fuzz_fuzz_sntp_CFLAGS = $(FUZZ_CFLAGS) $(FW_CFLAGS)
tests_fuzz_fuzz_sntp_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_sntp_LDADD = $(FUZZ_MAIN) $(FW_TEST_LIBS)
tests_fuzz_fuzz_method_SOURCES = tests/fuzz/fuzz_method.c
tests_fuzz_fuzz_method_CFLAGS = $(FUZZ_CFLAGS) $(FW_CFLAGS)
tests_fuzz_fuzz_method_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_method_LDADD = $(FUZZ_MAIN) $(FW_TEST_LIBS)
tests_fuzz_fuzz_twin_SOURCES = tests/fuzz/fuzz_twin.c
tests_fuzz_fuzz_twin_CFLAGS = $(FUZZ_CFLAGS) $(FW_CFLAGS)
tests_fuzz_fuzz_twin_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_twin_LDADD = $(FUZZ_MAIN) $(FW_TEST_LIBS)
tests_fuzz_fuzz_desired_SOURCES = tests/fuzz/fuzz_desired.c
tests_fuzz_fuzz_desired_CFLAGS = $(FUZZ_CFLAGS) $(FW_CFLAGS)
tests_fuzz_fuzz_desired_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_desired_LDADD = $(FUZZ_MAIN) $(FW_TEST_LIBS)
tests_fuzz_fuzz_arp_SOURCES = tests/fuzz/fuzz_arp.c
tests_fuzz_fuzz_arp_CFLAGS = $(FUZZ_CFLAGS) $(FW_CFLAGS)
tests_fuzz_fuzz_arp_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_arp_LDADD = $(FUZZ_MAIN) $(FW_TEST_LIBS)
tests_fuzz_fuzz_ring_SOURCES = tests/fuzz/fuzz_ring.c
tests_fuzz_fuzz_ring_CFLAGS = $(FUZZ_CFLAGS) $(FW_CFLAGS)
tests_fuzz_fuzz_ring_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_ring_LDADD = $(FUZZ_MAIN) $(FW_TEST_LIBS)
tests_fuzz_fuzz_session_SOURCES = tests/fuzz/fuzz_session.c
tests_fuzz_fuzz_session_CFLAGS = $(FUZZ_CFLAGS) $(FW_CFLAGS)
tests_fuzz_fuzz_session_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_session_LDADD = $(FUZZ_MAIN) $(FW_TEST_LIBS)

# The update engine (signed A/B firmware updates): its rules live with it.
include $(top_srcdir)/charger-fw/core/update/local.mk
