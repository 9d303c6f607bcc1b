#!/bin/bash
# scripts/bench.d/footprint.sh: the gateway's footprint with a car park of
# 1,000 simulated chargers, each from its own LAN address (127.1.x.y, all
# local on the namespace's loopback), each holding its cloud connection
# with an MQTT-like keepalive.  All 1,000 connect at once, as after a
# power cut, then hold.  evgated runs with the shipped per-client limit
# (16); HAProxy and nginx do the same job beside it for comparison.
#
# Reports, per peer: RSS of its process tree before and while holding,
# RSS per charger, how long the 1,000 took to be relayed and the CPU that
# cost, and the CPU used while holding.  The keepalive is compressed to
# KA seconds so that the CPU is measurable in a short run; the vendor's
# real keepalive is 300 s (doc/performance.md scales the figure).
. "${BENCH_LIB:-$(dirname "$0")/../../tests/bench/lib.sh}"

PEERS=(evgated haproxy nginx)
NS=${BENCH_PREFIX}-foot
N=$BENCH_RUNS
CHARGERS=1000
SRC=127.1.0.1-127.1.3.232		# 1,000 addresses
if [ "$BENCH_QUICK" = 1 ]; then
	KA=5 HOLD=10
else
	KA=10 HOLD=30
fi
export EVG_PER_CLIENT=16
failed=0

world_up "$NS" || exit 1

measure() {		# measure PEER RUN
	local p=$1 r=$2 rss0 rss1 c0 c1 c2 log=$BT/foot.out pid held done_
	rss0=$(tree_rss_kb "$PEER_PID")
	c0=$(tree_cpu "$PEER_PID")
	: >"$log"
	run_in_ns "$BENCH_BIN/bench_idle" -c "${PEER_ADDR[$p]}" -n "$CHARGERS" \
	    -b "$SRC" -P "$CHARGERS" -k "$KA" -H "$HOLD" -T 30 \
	    >"$log" 2>"$BT/foot.err" &
	pid=$!
	bench_at_exit "kill -9 $pid"
	if ! bench_wait_for 120 grep -q '^phase=held' "$log"; then
		say "footprint $p: chargers did not connect: $(cat "$log" "$BT/foot.err")"
		failed=1; bench_stop "$pid"; return
	fi
	c1=$(tree_cpu "$PEER_PID")
	if ! bench_wait_for $((HOLD + 60)) grep -q '^phase=done' "$log"; then
		say "footprint $p: no result: $(cat "$log" "$BT/foot.err")"
		failed=1; bench_stop "$pid"; return
	fi
	c2=$(tree_cpu "$PEER_PID")
	rss1=$(tree_rss_kb "$PEER_PID")
	held=$(grep '^phase=held' "$log")
	done_=$(grep '^phase=done' "$log")
	bench_stop "$pid"
	record foot "$p" "$r" held "$(kv established "$done_")"
	record foot "$p" "$r" ramp "$(kv ramp_s "$held")"
	record foot "$p" "$r" rss0 "$rss0"
	record foot "$p" "$r" rss1 "$rss1"
	record foot "$p" "$r" per "$(awk -v a="$rss0" -v b="$rss1" \
	    -v n="$(kv established "$done_")" 'BEGIN { printf "%.0f", n ? (b - a) * 1024 / n : 0 }')"
	record foot "$p" "$r" ramp_cpu "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')"
	record foot "$p" "$r" hold_pct "$(awk -v a="$c1" -v b="$c2" -v h="$HOLD" \
	    'BEGIN { printf "%.3f", (b - a) / h * 100 }')"
	record foot "$p" "$r" pings "$(kv pings "$done_")"
	[ "$(kv dropped "$done_")" = 0 ] || say "footprint $p: dropped: $done_"
	[ "$(kv failed "$held")" = 0 ] || say "footprint $p: failed to connect: $held"
}

for ((r = 1; r <= N; r++)); do
	for p in $(rotate "$r" "${PEERS[@]}"); do
		say "footprint: run $r/$N: $p"
		peer_start "$p" || { failed=1; continue; }
		measure "$p" "$r"
		peer_stop "$p"
	done
done

m() { median "$@"; }
mib() { awk -v k="$1" 'BEGIN { if (k != "") printf "%.1f", k / 1024; else print "n/a" }'; }
echo "## Gateway footprint: $CHARGERS chargers, one LAN address each, holding their cloud connection (median of $N)"
echo
echo "All $CHARGERS connect at once (as after a power cut), then hold with a 2-byte keepalive every ${KA}s for ${HOLD}s (the vendor's keepalive is 300 s: the CPU at that rate is the hold figure × $KA / 300).  evgated with its shipped per-client limit (16).  Lower is better everywhere."
echo
echo "| peer | held | RSS idle MiB | RSS holding MiB | bytes per charger | all connected in s | CPU s for the storm | CPU % holding (keepalive ${KA}s) | evgated/peer RSS per charger |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for p in "${PEERS[@]}"; do
	echo "| $p | $(m foot $p held) | $(mib "$(m foot $p rss0)") | $(mib "$(m foot $p rss1)") |" \
	    "$(fmt "$(m foot $p per)" 0) | $(fmt "$(m foot $p ramp)" 2) | $(fmt "$(m foot $p ramp_cpu)" 2) |" \
	    "$(fmt "$(m foot $p hold_pct)" 2) |" \
	    "$([ $p = evgated ] || ratio "$(m foot evgated per)" "$(m foot $p per)") |"
done
echo
exit "$failed"
