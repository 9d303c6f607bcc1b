# charger-fw/core/update/: the update engine, signed A/B firmware updates.
# Included at the end of charger-fw/local.mk; see doc/firmware-updates.md.
# Everything of the engine lives in this directory (libfw.a):
#
# manifest.c  strict manifest parser + Ed25519 verification
# fwupdate.c  the update engine: A/B slots, resume, self-test, rollback
# fwfetch.c   HTTPS downloads: libcurl multi_socket on the libevent loop
# fwupdate_conf.c  the "firmware:" section of evcharger.yaml
# fwupdate_hook.c  the engine on the firmware core (fw_update_ops)
# evfw-sign   the vendor's signing tool (installed: operators run it)

charger_fw_libfw_a_SOURCES += \
	charger-fw/core/update/manifest.c charger-fw/core/update/manifest.h \
	charger-fw/core/update/fwupdate.c charger-fw/core/update/fwupdate.h \
	charger-fw/core/update/fwfetch.c charger-fw/core/update/fwfetch.h \
	charger-fw/core/update/fwupdate_conf.c charger-fw/core/update/fwupdate_conf.h \
	charger-fw/core/update/fwupdate_hook.c charger-fw/core/update/fwupdate_hook.h
charger_fw_libfw_a_CFLAGS += $(CURL_CFLAGS)
FW_DEPLIBS += $(CURL_LIBS)

if INSTALL_FIRMWARE
bin_PROGRAMS += charger-fw/tools/evfw-sign
else
noinst_PROGRAMS += charger-fw/tools/evfw-sign
endif
charger_fw_tools_evfw_sign_SOURCES = charger-fw/tools/evfw-sign.c
charger_fw_tools_evfw_sign_CFLAGS = $(FW_CFLAGS)
charger_fw_tools_evfw_sign_LDADD = charger-fw/libfw.a $(OPENSSL_LIBS) \
	$(LIBBSD_LIBS)

check_PROGRAMS += tests/unit/fw/test_manifest tests/unit/fw/test_fwupdate
TESTS += tests/unit/fw/test_manifest tests/unit/fw/test_fwupdate
tests_unit_fw_test_manifest_SOURCES = tests/unit/fw/test_manifest.c
tests_unit_fw_test_manifest_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_manifest_LDADD = $(FW_TEST_LIBS)

# The engine on the fake HAL; the HAL calls that make something durable
# are wrapped so the test can cut the power after any one of them.
tests_unit_fw_test_fwupdate_SOURCES = tests/unit/fw/test_fwupdate.c
tests_unit_fw_test_fwupdate_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_fwupdate_LDFLAGS = $(AM_LDFLAGS) \
	-Wl,--wrap=hal_kv_set,--wrap=hal_kv_del,--wrap=hal_boot_state_set \
	-Wl,--wrap=hal_slot_write,--wrap=hal_slot_erase,--wrap=hal_slot_sync
tests_unit_fw_test_fwupdate_LDADD = $(FW_TEST_LIBS)

# Fuzz target (replayed over tests/fuzz/corpus/manifest by make check).
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_manifest
else
check_PROGRAMS += tests/fuzz/fuzz_manifest
endif
tests_fuzz_fuzz_manifest_SOURCES = tests/fuzz/fuzz_manifest.c
tests_fuzz_fuzz_manifest_CFLAGS = $(FUZZ_CFLAGS) $(FW_CFLAGS)
tests_fuzz_fuzz_manifest_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_manifest_LDADD = $(FUZZ_MAIN) $(FW_TEST_LIBS)


# Docs: the tool's manual and the operator's guide.
EXTRA_DIST += doc/evfw-sign.1 doc/firmware-updates.md
if INSTALL_FIRMWARE
man_MANS += doc/evfw-sign.1
doc_DATA += doc/firmware-updates.md
endif

# Fuzz target: the method 200 payload parser.
if ENABLE_FUZZING
noinst_PROGRAMS += tests/fuzz/fuzz_fwrequest
else
check_PROGRAMS += tests/fuzz/fuzz_fwrequest
endif
tests_fuzz_fuzz_fwrequest_SOURCES = tests/fuzz/fuzz_fwrequest.c
tests_fuzz_fuzz_fwrequest_CFLAGS = $(FUZZ_CFLAGS) $(FW_CFLAGS)
tests_fuzz_fuzz_fwrequest_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_fwrequest_LDADD = $(FUZZ_MAIN) $(FW_TEST_LIBS)
