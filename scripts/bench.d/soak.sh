#!/bin/bash
# scripts/bench.d/soak.sh: evgated for a long time under 1,000 chargers
# that come and go, to show that nothing grows: memory, descriptors,
# pipes, the resolver's cache, CPU.  Not part of a plain scripts/bench
# run (an hour): scripts/bench --only soak.  Its 2-minute version runs in
# CI under ASan with leak checking (tests/integration/soak.sh).
#
# The world and the load are tests/bench/soak_lib.sh's: 1,000 chargers,
# each from an address of its own, reconnecting after random pauses; most
# hold their MQTT connection with a keepalive for a random time, 10 % send
# bursts that must come back whole, 5 % download 16 KiB to 2 MiB over
# HTTPS; the WAN resolver answers with TTLs of 3 to 7 s (and a CNAME); a
# reload every 3 minutes (alternating between two configurations), a
# kill -9 of evgated's dnsmasq every 7 minutes; the fleet log and its
# checkpoint on.  A sample every 30 s.
#
#   SOAK_SECONDS   how long (default 3600; --quick: 120)
#   SOAK_CHARGERS  (default 1000)
#   SOAK_WARMUP    seconds left out of the table (default 600; --quick: 30)
#
# Prints the figures after the warm-up against the end, the slope per
# hour and a verdict; writes samples.csv and an HTML page with a chart per
# figure to build-bench/soak.{csv,html}.
. "${BENCH_LIB:-$(dirname "$0")/../../tests/bench/lib.sh}"

if [ "$BENCH_QUICK" = 1 ]; then
	: "${SOAK_SECONDS:=120}" "${SOAK_WARMUP:=30}" "${SOAK_SAMPLE:=5}"
	: "${SOAK_RELOAD:=20}" "${SOAK_DNSMASQ_KILL:=45}" "${SOAK_HOLD:=20}"
	: "${SOAK_PAUSE:=5}" "${SOAK_KEEPALIVE:=5}"
else
	: "${SOAK_SECONDS:=3600}" "${SOAK_WARMUP:=600}"
fi
SOAK_NS=${BENCH_PREFIX}-soak
SOAK_DIR=$BT/soak
SOAK_EVGATED=$EVGATED
SOAK_EVGATECTL=$BENCH_BUILD/gateway/evgatectl
SOAK_HOOK=$BENCH_BUILD/gateway/evgate-dhcp-hook
SOAK_BIN=$BENCH_BIN
export SOAK_SECONDS SOAK_WARMUP
mkdir -p "$SOAK_DIR"

soak_netns_add() { bench_netns_add "$1"; }
soak_bg() { bench_bg "$@"; SOAK_BG_PID=$BG_PID; }
soak_say() { say "$@"; }
. "$BENCH_TOP/tests/bench/soak_lib.sh"

soak_world_up || exit 1
soak_start_evgated || exit 1
say "soak: ${SOAK_CHARGERS} chargers for ${SOAK_SECONDS} s (load $(cut -d' ' -f1-3 /proc/loadavg))"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
soak_run || exit 1
load1=$(cut -d' ' -f1-3 /proc/loadavg)
soak_stop
cp "$SOAK_DIR/samples.csv" "$BENCH_BUILD/soak.csv"

failed=0
echo "## Soak: $SOAK_CHARGERS chargers coming and going for $(soak_get seconds) s"
echo
echo "A sample every ${SOAK_SAMPLE:-30} s; the first ${SOAK_WARMUP} s are warm-up.  Load average $load0 at the start, $load1 at the end."
echo
if ! python3 "$BENCH_TOP/tests/bench/soak_plot.py" "$SOAK_DIR/samples.csv" \
    "$SOAK_WARMUP" "$BENCH_BUILD/soak.html" "evgated soak, $(date -u '+%Y-%m-%d %H:%M UTC')"; then
	failed=1
fi
echo
echo "| what happened | |"
echo "|---|---:|"
echo "| connections relayed / refused | $(soak_get relayed) / $(soak_get refused) $(soak_get refused_detail) |"
echo "| chargers' connects, failed, bytes wrong | $(soak_get load_connects), $(soak_get load_failed), $(soak_get load_errors) |"
echo "| downloads completed | $(soak_get load_downloads) |"
echo "| reloads sent / applied / failed | $(soak_get reloads_sent) / $(soak_get reloads) / $(soak_get reload_failures) |"
echo "| dnsmasq killed / restarted by evgated | $(soak_get dnsmasq_kills) / $(soak_get dnsmasq_restarts) |"
echo "| resolver queries (TTLs 3-7 s) | $(soak_get resolver_queries) |"
echo "| checkpoints written (errors) | $(soak_get checkpoints) ($(soak_get checkpoint_errors)) |"
fdleak=$(( $(soak_get fds_after) - 2 * $(soak_get pipes_pooled_after) - $(soak_get fds_before) ))
echo "| descriptors before the load / after it (pipes pooled) | $(soak_get fds_before) / $(soak_get fds_after) ($(soak_get pipes_pooled_after)): $([ "$fdleak" = 0 ] && echo "none left over" || echo "$fdleak LEFT OVER") |"
echo "| connections open after the load | $(soak_get active_after) |"
echo "| clean stop: exit status, checkpoint files left | $(soak_get exit_status), $(soak_get checkpoint_files_after) |"
echo
echo "Charts: build-bench/soak.html; samples: build-bench/soak.csv."
echo
[ "$(soak_get load_rc)" = 0 ] || { say "soak: the chargers saw failures"; failed=1; }
exit "$failed"
