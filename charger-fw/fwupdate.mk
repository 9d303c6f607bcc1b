# charger-fw/fwupdate.mk: signed A/B firmware updates (issue 7).
# Included at the end of charger-fw/local.mk; see doc/firmware-updates.md.
#
# manifest.c  strict manifest parser + Ed25519 verification (libfw.a)
# evfw-sign   the vendor's signing tool (installed: operators run it)

charger_fw_libfw_a_SOURCES += \
	charger-fw/core/manifest.c charger-fw/core/manifest.h

bin_PROGRAMS += charger-fw/tools/evfw-sign
charger_fw_tools_evfw_sign_SOURCES = charger-fw/tools/evfw-sign.c
charger_fw_tools_evfw_sign_CFLAGS = $(FW_CFLAGS)
charger_fw_tools_evfw_sign_LDADD = charger-fw/libfw.a $(OPENSSL_LIBS) \
	$(LIBBSD_LIBS)

check_PROGRAMS += tests/unit/fw/test_manifest
TESTS += tests/unit/fw/test_manifest
tests_unit_fw_test_manifest_SOURCES = tests/unit/fw/test_manifest.c
tests_unit_fw_test_manifest_CFLAGS = $(FW_TEST_CFLAGS)
tests_unit_fw_test_manifest_LDADD = $(FW_TEST_LIBS)

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

