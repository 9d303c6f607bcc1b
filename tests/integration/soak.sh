#!/bin/bash
# soak: the 2-minute version of the soak benchmark (scripts/bench --only
# soak), on the ASan + UBSan build with leak checking: evgated under 500
# chargers that come and go (holding with keepalives, bursting, downloading),
# a WAN resolver with TTLs of 3 to 7 s, a reload every 20 s, a kill -9 of
# its dnsmasq every 30 s, the fleet log and its checkpoint on.  The world
# and the load are tests/bench/soak_lib.sh's.
#
# What must hold: every charger's connection relayed and every byte back
# as sent; every reload applied; dnsmasq back after every kill; when the
# chargers have gone, no connection left, no pipe in use, exactly the
# descriptors of before (plus the pooled pipes), a bounded resolver cache;
# a clean stop with exit status 0 -- LeakSanitizer finds no leak -- and no
# sanitizer report, and no checkpoint file left.  The RSS over time is
# printed, not judged (ASan's own allocator dominates it); the -O2 hour
# is the benchmark's.
. "$(dirname "$0")/lib.sh"

SOAK_NS=${EVG_PREFIX}-soak
SOAK_DIR=$T/soak
SOAK_EVGATED=$EVGATED
SOAK_EVGATECTL=$EVGATECTL
SOAK_HOOK=$BUILD/gateway/evgate-dhcp-hook
SOAK_BIN=$BUILD/tests/bench
SOAK_SECONDS=120 SOAK_CHARGERS=500 SOAK_SAMPLE=5 SOAK_RELOAD=20
SOAK_DNSMASQ_KILL=30 SOAK_HOLD=20 SOAK_PAUSE=5 SOAK_KEEPALIVE=5
mkdir -p "$SOAK_DIR"

soak_netns_add() { netns_add "$1"; }
soak_bg() {		# not bg_ns: the pid must stay this shell's child
	local ns=$1 log=$2
	shift 2
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	SOAK_BG_PID=$!
	at_exit "kill -9 $SOAK_BG_PID"
}
soak_say() { diag "$*"; }
. "$top/tests/bench/soak_lib.sh"

for p in bench_sink bench_soak; do
	[ -x "$SOAK_BIN/$p" ] || { not_ok "$p is built (make check builds it)"; exit 1; }
done
# Leaks are reported at exit, with a status of their own.
export ASAN_OPTIONS=${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=1:exitcode=23

soak_world_up || { not_ok "the soak world is up"; exit 1; }
ok "the soak world is up (resolver with short TTLs, cloud, LAN for dnsmasq)"
soak_start_evgated || { not_ok "evgated (ASan) started" "$(tail -20 "$SOAK_DIR/evgated.log")"; exit 1; }
ok "evgated (ASan + UBSan) started with dnsmasq, the fleet log and its checkpoint"
diag "load average $(cut -d' ' -f1-3 /proc/loadavg)"
soak_run || { not_ok "the load ran"; exit 1; }
soak_stop

g() { soak_get "$1"; }
diag "$(g seconds) s: $(g load_connects) connects, $(g relayed) relayed, $(g load_downloads) downloads, $(g resolver_queries) resolver queries, $(g checkpoints) checkpoints"
check_eq "every charger's connection was relayed (none failed)" 0 "$(g load_failed)"
check_eq "every byte came back as it was sent" 0 "$(g load_errors)"
check "the chargers did connect, many times each" \
    test "$(g load_connects)" -gt "$SOAK_CHARGERS"
check_eq "nothing was refused" 0 "$(g refused)"
check_eq "every reload was applied ($(g reloads_sent) sent)" \
    "$(g reloads_sent)" "$(g reloads)"
check_eq "... and none failed" 0 "$(g reload_failures)"
check "dnsmasq was killed during the soak" test "$(g dnsmasq_kills)" -ge 2
check_eq "evgated restarted dnsmasq after every kill" "$(g dnsmasq_kills)" \
    "$(g dnsmasq_restarts)"
check_eq "dnsmasq runs at the end" 1 "$(g dnsmasq_running)"
check_eq "no connection is left once the chargers have gone" 0 "$(g active_after)"
check_eq "no pipe is left in use" 0 "$(g pipes_in_use_after)"
check_eq "the descriptors are those of before, plus the pooled pipes" \
    "$(g fds_before)" "$(( $(g fds_after) - 2 * $(g pipes_pooled_after) ))"
[ "$(g fds_before)" = "$(( $(g fds_after) - 2 * $(g pipes_pooled_after) ))" ] ||
	diff "$SOAK_DIR/fds.before" "$SOAK_DIR/fds.after" | sed 's/^/# fds: /' 
check "the resolver's cache stays bounded (3 names, A and AAAA)" \
    test "$(g resolver_cached)" -le 6
check "checkpoints were written, without an error" \
    test "$(g checkpoints)" -gt 0 -a "$(g checkpoint_errors)" = 0
check_eq "a clean stop: exit status 0 (LeakSanitizer found no leak)" 0 \
    "$(g exit_status)"
check_fails "no sanitizer report in evgated's output" \
    grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" \
    "$SOAK_DIR/evgated.log"
check_eq "the clean stop left no checkpoint file" 0 "$(g checkpoint_files_after)"
# Figures for the reader; the hour at -O2 is where they are judged.  Under
# ASan the RSS grows by design: freed memory waits in its quarantine
# (256 MiB) to catch a use after free.
diag "figures under ASan (RSS: its quarantine grows; see the -O2 soak):"
python3 "$top/tests/bench/soak_plot.py" "$SOAK_DIR/samples.csv" 30 \
    "$SOAK_DIR/soak.html" | sed 's/^/# /'
