# tests/cloud/: the test world's cloud stand-in (see doc/testworld.md).
#
# evcloud: the cloud tool and stand-in device; built by "make" so that
# scripts/world, scripts/demo and the integration tests find it in the
# build directory.
noinst_PROGRAMS += tests/cloud/evcloud
tests_cloud_evcloud_SOURCES = tests/cloud/evcloud.c tests/cloud/evcloud.h \
	tests/cloud/serve.c tests/cloud/call.c tests/cloud/device.c
tests_cloud_evcloud_CFLAGS = $(AM_CFLAGS) $(MOSQUITTO_CFLAGS) \
	$(JSONC_CFLAGS)
tests_cloud_evcloud_LDADD = $(MOSQUITTO_LIBS) $(JSONC_LIBS) $(LIBBSD_LIBS)
# The broker plugin is built along with evcloud: one is useless without
# the other.
EXTRA_tests_cloud_evcloud_DEPENDENCIES = tests/cloud/iothub_plugin.so

# iothub_plugin.so: loaded by the system's mosquitto (dlopen), so it is
# built as a plain shared object, never with the sanitizer flags (an
# ASan-instrumented object cannot be loaded into an uninstrumented
# process).  The broker's plugin headers come from Debian's mosquitto-dev;
# OpenSSL checks SAS tokens.
IOTHUB_PLUGIN_SRC = $(srcdir)/tests/cloud/iothub_plugin.c
tests/cloud/iothub_plugin.so: tests/cloud/iothub_plugin.c
	@$(MKDIR_P) tests/cloud
	@echo '#include <mosquitto_plugin.h>' | \
	    $(CC) $(CPPFLAGS) $(MOSQUITTO_CFLAGS) -E -x c - >/dev/null 2>&1 || { \
	    echo "tests/cloud: <mosquitto_plugin.h> not found: install the" \
	    "Debian package mosquitto-dev (or run scripts/setup)" >&2; exit 1; }
	$(AM_V_CC)$(CC) $(WARN_CFLAGS) $(CPPFLAGS) $(CFLAGS) \
	    $(MOSQUITTO_CFLAGS) $(OPENSSL_CFLAGS) -fPIC -shared \
	    -o $@ $(IOTHUB_PLUGIN_SRC) $(OPENSSL_LIBS)

CLEANFILES += tests/cloud/iothub_plugin.so
EXTRA_DIST += tests/cloud/iothub_plugin.c
# The world's guide (the world itself is tests/integration/world.sh).
EXTRA_DIST += doc/testworld.md
