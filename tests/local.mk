# tests/: cmocka unit tests (one binary per module, TAP through automake),
# fuzz targets (libFuzzer with --enable-fuzzing; otherwise replayed over
# their seed corpus by a small driver, as regression tests), integration
# tests and benchmarks (run by scripts/test and scripts/bench, not here).

UNIT_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(LIBEVENT_CFLAGS) \
	$(YAML_CFLAGS) $(JSONC_CFLAGS) $(OPENSSL_CFLAGS)
UNIT_LIBS = $(GATEWAY_LIBS) $(CMOCKA_LIBS)

GATEWAY_UNIT_TESTS = \
	tests/unit/test_tls_hello \
	tests/unit/test_match \
	tests/unit/test_config \
	tests/unit/test_psl \
	tests/unit/test_boxcheck \
	tests/unit/test_control \
	tests/unit/test_util

check_PROGRAMS += $(GATEWAY_UNIT_TESTS)
TESTS += $(GATEWAY_UNIT_TESTS)

tests_unit_test_tls_hello_SOURCES = tests/unit/test_tls_hello.c tests/unit/testutil.h \
	tests/unit/hello.h
tests_unit_test_tls_hello_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_tls_hello_LDADD = $(UNIT_LIBS)
tests_unit_test_match_SOURCES = tests/unit/test_match.c
tests_unit_test_match_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_match_LDADD = $(UNIT_LIBS)
tests_unit_test_config_SOURCES = tests/unit/test_config.c
tests_unit_test_config_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_config_LDADD = $(UNIT_LIBS)
tests_unit_test_psl_SOURCES = tests/unit/test_psl.c
tests_unit_test_psl_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_psl_LDADD = $(UNIT_LIBS)
tests_unit_test_boxcheck_SOURCES = tests/unit/test_boxcheck.c
tests_unit_test_boxcheck_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_boxcheck_LDADD = $(UNIT_LIBS)
tests_unit_test_control_SOURCES = tests/unit/test_control.c
tests_unit_test_control_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_control_LDADD = $(UNIT_LIBS)
tests_unit_test_util_SOURCES = tests/unit/test_util.c
tests_unit_test_util_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_util_LDADD = $(UNIT_LIBS)

# Fuzz targets.  Each tests/fuzz/fuzz_X.c defines LLVMFuzzerTestOneInput
# and has a seed corpus in tests/fuzz/corpus/X/.  A directory adds its own
# targets in its local.mk the same way:
#	FUZZ_TARGETS += tests/fuzz/fuzz_X
#	tests_fuzz_fuzz_X_SOURCES = tests/fuzz/fuzz_X.c
#	tests_fuzz_fuzz_X_CFLAGS = $(FUZZ_CFLAGS)
#	tests_fuzz_fuzz_X_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
#	tests_fuzz_fuzz_X_LDADD = $(FUZZ_MAIN) <its libraries>
# With --enable-fuzzing they are libFuzzer binaries (scripts/fuzz runs
# them); otherwise FUZZ_MAIN is a small driver and tests/fuzz/replay.test
# replays every seed corpus under the sanitizers in make check.
FUZZ_TARGETS = \
	tests/fuzz/fuzz_tls_hello \
	tests/fuzz/fuzz_config \
	tests/fuzz/fuzz_control \
	tests/fuzz/fuzz_psl

FUZZ_CFLAGS = $(UNIT_CFLAGS)
FUZZ_PROG_LINKFLAGS = $(AM_LDFLAGS) $(FUZZ_LDFLAGS)
if ENABLE_FUZZING
noinst_PROGRAMS += $(FUZZ_TARGETS)
FUZZ_MAIN =
else
check_PROGRAMS += $(FUZZ_TARGETS)
TESTS += tests/fuzz/replay.test
FUZZ_MAIN = tests/fuzz/standalone.$(OBJEXT)
tests/fuzz/standalone.$(OBJEXT): tests/fuzz/standalone.c
	$(AM_V_CC)$(COMPILE) -c -o $@ $(srcdir)/tests/fuzz/standalone.c
CLEANFILES += tests/fuzz/standalone.$(OBJEXT)
endif
FUZZ_LDADD = $(FUZZ_MAIN) $(GATEWAY_LIBS)

tests_fuzz_fuzz_tls_hello_SOURCES = tests/fuzz/fuzz_tls_hello.c
tests_fuzz_fuzz_tls_hello_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_tls_hello_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_tls_hello_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_config_SOURCES = tests/fuzz/fuzz_config.c
tests_fuzz_fuzz_config_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_config_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_config_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_psl_SOURCES = tests/fuzz/fuzz_psl.c
tests_fuzz_fuzz_psl_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_psl_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_psl_LDADD = $(FUZZ_LDADD)
tests_fuzz_fuzz_control_SOURCES = tests/fuzz/fuzz_control.c
tests_fuzz_fuzz_control_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_control_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_control_LDADD = $(FUZZ_LDADD)

EXTRA_DIST += tests/fuzz/standalone.c tests/fuzz/replay.test tests/fuzz/corpus \
	tests/integration \
	tests/unit/data

# ntp: codec, filtering/selection, server, client, configuration.
GATEWAY_UNIT_TESTS += tests/unit/test_ntp_proto
tests_unit_test_ntp_proto_SOURCES = tests/unit/test_ntp_proto.c tests/unit/testutil.h
tests_unit_test_ntp_proto_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_ntp_proto_LDADD = $(UNIT_LIBS)
FUZZ_TARGETS += tests/fuzz/fuzz_ntp
tests_fuzz_fuzz_ntp_SOURCES = tests/fuzz/fuzz_ntp.c
tests_fuzz_fuzz_ntp_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_ntp_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_ntp_LDADD = $(FUZZ_LDADD)

# Fleet log, export, metrics, shipping.
GATEWAY_UNIT_TESTS += tests/unit/test_fleetlog
tests_unit_test_fleetlog_SOURCES = tests/unit/test_fleetlog.c
tests_unit_test_fleetlog_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_fleetlog_LDADD = $(UNIT_LIBS)
FUZZ_TARGETS += tests/fuzz/fuzz_segment
tests_fuzz_fuzz_segment_SOURCES = tests/fuzz/fuzz_segment.c
tests_fuzz_fuzz_segment_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_segment_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_segment_LDADD = $(FUZZ_LDADD)
GATEWAY_UNIT_TESTS += tests/unit/test_ntp_select
tests_unit_test_ntp_select_SOURCES = tests/unit/test_ntp_select.c
tests_unit_test_ntp_select_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_ntp_select_LDADD = $(UNIT_LIBS)
GATEWAY_UNIT_TESTS += tests/unit/test_ntp_server
tests_unit_test_ntp_server_SOURCES = tests/unit/test_ntp_server.c tests/unit/testutil.h
tests_unit_test_ntp_server_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_ntp_server_LDADD = $(UNIT_LIBS)

# Benchmark load generators and the sink (scripts/bench; see
# doc/performance.md).  check_PROGRAMS so that make check builds them for
# tests/integration/bench_smoke.sh; scripts/bench builds them -O2 in
# build-bench/.  Another bench program joins with
#	BENCH_PROGS += tests/bench/X
#	tests_bench_X_SOURCES = tests/bench/X.c $(BENCH_COMMON)
#	tests_bench_X_CFLAGS = $(BENCH_CFLAGS)
#	tests_bench_X_LDADD = $(BENCH_LIBS)
BENCH_COMMON = tests/bench/bench.c tests/bench/bench.h
BENCH_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(OPENSSL_CFLAGS)
BENCH_LIBS = $(LIBEVENT_LIBS) $(OPENSSL_LIBS) $(LIBBSD_LIBS)
BENCH_PROGS = tests/bench/bench_sink tests/bench/bench_bulk \
	tests/bench/bench_rate tests/bench/bench_idle tests/bench/bench_ping \
	tests/bench/bench_soak
check_PROGRAMS += $(BENCH_PROGS)
tests_bench_bench_sink_SOURCES = tests/bench/bench_sink.c $(BENCH_COMMON)
tests_bench_bench_sink_CFLAGS = $(BENCH_CFLAGS)
tests_bench_bench_sink_LDADD = $(BENCH_LIBS)
tests_bench_bench_bulk_SOURCES = tests/bench/bench_bulk.c $(BENCH_COMMON)
tests_bench_bench_bulk_CFLAGS = $(BENCH_CFLAGS)
tests_bench_bench_bulk_LDADD = $(BENCH_LIBS)
tests_bench_bench_rate_SOURCES = tests/bench/bench_rate.c $(BENCH_COMMON)
tests_bench_bench_rate_CFLAGS = $(BENCH_CFLAGS)
tests_bench_bench_rate_LDADD = $(BENCH_LIBS)
tests_bench_bench_idle_SOURCES = tests/bench/bench_idle.c $(BENCH_COMMON)
tests_bench_bench_idle_CFLAGS = $(BENCH_CFLAGS)
tests_bench_bench_idle_LDADD = $(BENCH_LIBS)
tests_bench_bench_ping_SOURCES = tests/bench/bench_ping.c $(BENCH_COMMON)
tests_bench_bench_ping_CFLAGS = $(BENCH_CFLAGS)
tests_bench_bench_ping_LDADD = $(BENCH_LIBS)
tests_bench_bench_soak_SOURCES = tests/bench/bench_soak.c $(BENCH_COMMON)
tests_bench_bench_soak_CFLAGS = $(BENCH_CFLAGS)
tests_bench_bench_soak_LDADD = $(BENCH_LIBS)
EXTRA_DIST += tests/bench/soak_lib.sh tests/bench/soak_plot.py
EXTRA_DIST += tests/bench/lib.sh tests/bench/profile.sh tests/bench/profile_ntp.sh tests/bench/profile_fw.sh \
	tests/bench/world_budget.sh
GATEWAY_UNIT_TESTS += tests/unit/test_export
tests_unit_test_export_SOURCES = tests/unit/test_export.c
tests_unit_test_export_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_export_LDADD = $(UNIT_LIBS)
# scripts/bench builds these with: make bench-programs
bench-programs: $(BENCH_PROGS)
.PHONY: bench-programs
GATEWAY_UNIT_TESTS += tests/unit/test_metrics
tests_unit_test_metrics_SOURCES = tests/unit/test_metrics.c
tests_unit_test_metrics_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_metrics_LDADD = $(UNIT_LIBS)
GATEWAY_UNIT_TESTS += tests/unit/test_ship
tests_unit_test_ship_SOURCES = tests/unit/test_ship.c
tests_unit_test_ship_CFLAGS = $(UNIT_CFLAGS) $(ZLIB_CFLAGS)
tests_unit_test_ship_LDADD = $(UNIT_LIBS)
GATEWAY_UNIT_TESTS += tests/unit/test_ntp_client tests/unit/test_ntp
tests_unit_test_ntp_client_SOURCES = tests/unit/test_ntp_client.c tests/unit/testutil.h
tests_unit_test_ntp_client_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_ntp_client_LDADD = $(UNIT_LIBS)
tests_unit_test_ntp_SOURCES = tests/unit/test_ntp.c
tests_unit_test_ntp_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_ntp_LDADD = $(UNIT_LIBS)
# Site services: configuration and generated dnsmasq files, dnsmasq's log
# and back-off, the lease table and its parsers (fuzzed: fuzz_lease).
GATEWAY_UNIT_TESTS += tests/unit/test_dnsmasq_config tests/unit/test_dnsmasq \
	tests/unit/test_leases
tests_unit_test_dnsmasq_config_SOURCES = tests/unit/test_dnsmasq_config.c
tests_unit_test_dnsmasq_config_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_dnsmasq_config_LDADD = $(UNIT_LIBS)
tests_unit_test_dnsmasq_SOURCES = tests/unit/test_dnsmasq.c
tests_unit_test_dnsmasq_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_dnsmasq_LDADD = $(UNIT_LIBS)
tests_unit_test_leases_SOURCES = tests/unit/test_leases.c
tests_unit_test_leases_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_leases_LDADD = $(UNIT_LIBS)
FUZZ_TARGETS += tests/fuzz/fuzz_lease
tests_fuzz_fuzz_lease_SOURCES = tests/fuzz/fuzz_lease.c
tests_fuzz_fuzz_lease_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_lease_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_lease_LDADD = $(FUZZ_LDADD)
EXTRA_DIST += tests/collector
# ntp_load: the NTP piece of scripts/bench (scripts/bench.d/ntp.sh).
BENCH_PROGS += tests/bench/ntp_load
tests_bench_ntp_load_SOURCES = tests/bench/ntp_load.c $(BENCH_COMMON)
tests_bench_ntp_load_CFLAGS = $(BENCH_CFLAGS)
tests_bench_ntp_load_LDADD = gateway/libevgate.a $(BENCH_LIBS) -lm
# The relay's reports: records into events, status, the refusal policy.
GATEWAY_UNIT_TESTS += tests/unit/test_relay_report
tests_unit_test_relay_report_SOURCES = tests/unit/test_relay_report.c tests/unit/capture.h
tests_unit_test_relay_report_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_relay_report_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=now_mono_ms
tests_unit_test_relay_report_LDADD = $(UNIT_LIBS)
# The relay's state machine over loopback, with a resolver of the test's.
GATEWAY_UNIT_TESTS += tests/unit/test_checkpoint
tests_unit_test_checkpoint_SOURCES = tests/unit/test_checkpoint.c
tests_unit_test_checkpoint_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_checkpoint_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=relay_foreach
tests_unit_test_checkpoint_LDADD = $(UNIT_LIBS)

GATEWAY_UNIT_TESTS += tests/unit/test_relay
tests_unit_test_relay_SOURCES = tests/unit/test_relay.c tests/unit/hello.h
tests_unit_test_relay_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_relay_LDADD = $(UNIT_LIBS)
# A whole evgated in-process: reloads that any module refuses.
GATEWAY_UNIT_TESTS += tests/unit/test_daemon
tests_unit_test_daemon_SOURCES = tests/unit/test_daemon.c tests/unit/testutil.h
tests_unit_test_daemon_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_daemon_LDADD = $(UNIT_LIBS)
# The small common and daemon modules: the YAML framework (cfg), clocks and
# the log, the events hub, systemd readiness, privileges, the control
# client and its text tables.
GATEWAY_UNIT_TESTS += tests/unit/test_cfg
tests_unit_test_cfg_SOURCES = tests/unit/test_cfg.c
tests_unit_test_cfg_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cfg_LDADD = $(UNIT_LIBS)
GATEWAY_UNIT_TESTS += tests/unit/test_clock
tests_unit_test_clock_SOURCES = tests/unit/test_clock.c tests/unit/capture.h
tests_unit_test_clock_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_clock_LDADD = $(UNIT_LIBS)
GATEWAY_UNIT_TESTS += tests/unit/test_events
tests_unit_test_events_SOURCES = tests/unit/test_events.c tests/unit/capture.h
tests_unit_test_events_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_events_LDADD = $(UNIT_LIBS)
GATEWAY_UNIT_TESTS += tests/unit/test_sdnotify
tests_unit_test_sdnotify_SOURCES = tests/unit/test_sdnotify.c tests/unit/testutil.h
tests_unit_test_sdnotify_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_sdnotify_LDADD = $(UNIT_LIBS)
GATEWAY_UNIT_TESTS += tests/unit/test_privdrop
tests_unit_test_privdrop_SOURCES = tests/unit/test_privdrop.c tests/unit/testutil.h
tests_unit_test_privdrop_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_privdrop_LDADD = $(UNIT_LIBS)
GATEWAY_UNIT_TESTS += tests/unit/test_ctl
tests_unit_test_ctl_SOURCES = tests/unit/test_ctl.c tests/unit/testutil.h
tests_unit_test_ctl_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_ctl_LDADD = $(UNIT_LIBS)
# The resolver against evdns servers on loopback; its cache's clock is the
# test's (now_mono_ms wrapped at link time).
GATEWAY_UNIT_TESTS += tests/unit/test_resolver
tests_unit_test_resolver_SOURCES = tests/unit/test_resolver.c
tests_unit_test_resolver_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_resolver_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=now_mono_ms
tests_unit_test_resolver_LDADD = $(UNIT_LIBS)
# The site module: refusals, lifecycle, the lease socket and the relay's
# view (a stand-in dnsmasq script; nothing real is started).
GATEWAY_UNIT_TESTS += tests/unit/test_site
tests_unit_test_site_SOURCES = tests/unit/test_site.c tests/unit/testutil.h
tests_unit_test_site_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_site_LDADD = $(UNIT_LIBS)
# The resolver's DNS codec, and its fuzz target.
GATEWAY_UNIT_TESTS += tests/unit/test_dns
tests_unit_test_dns_SOURCES = tests/unit/test_dns.c
tests_unit_test_dns_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_dns_LDADD = $(UNIT_LIBS)
FUZZ_TARGETS += tests/fuzz/fuzz_dns
tests_fuzz_fuzz_dns_SOURCES = tests/fuzz/fuzz_dns.c
tests_fuzz_fuzz_dns_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_dns_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_dns_LDADD = $(FUZZ_LDADD)
# The upstream address policy.
GATEWAY_UNIT_TESTS += tests/unit/test_netpolicy
tests_unit_test_netpolicy_SOURCES = tests/unit/test_netpolicy.c
tests_unit_test_netpolicy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_netpolicy_LDADD = $(UNIT_LIBS)
# A redundant pair: the link's messages (fuzzed: fuzz_pair), the link
# itself over loopback with real TLS, and the role views and health.
GATEWAY_UNIT_TESTS += tests/unit/test_pair_proto
tests_unit_test_pair_proto_SOURCES = tests/unit/test_pair_proto.c
tests_unit_test_pair_proto_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_pair_proto_LDADD = $(UNIT_LIBS)
FUZZ_TARGETS += tests/fuzz/fuzz_pair
tests_fuzz_fuzz_pair_SOURCES = tests/fuzz/fuzz_pair.c
tests_fuzz_fuzz_pair_CFLAGS = $(FUZZ_CFLAGS)
tests_fuzz_fuzz_pair_LDFLAGS = $(FUZZ_PROG_LINKFLAGS)
tests_fuzz_fuzz_pair_LDADD = $(FUZZ_LDADD)
GATEWAY_UNIT_TESTS += tests/unit/test_pair
tests_unit_test_pair_SOURCES = tests/unit/test_pair.c tests/unit/testutil.h
tests_unit_test_pair_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_pair_LDADD = $(UNIT_LIBS)
GATEWAY_UNIT_TESTS += tests/unit/test_role
tests_unit_test_role_SOURCES = tests/unit/test_role.c
tests_unit_test_role_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_role_LDADD = $(UNIT_LIBS)
