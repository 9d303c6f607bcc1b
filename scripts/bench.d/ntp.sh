#!/bin/bash
# scripts/bench.d/ntp.sh: evgated's NTP server against chronyd serving, on
# this machine, in one run.  Both are stratum 2 from the same upstream (a
# third chronyd, "local stratum 1") in one namespace on loopback, both one
# thread.  tests/bench/ntp_load measures, against each in turn:
#   - the offset a client sees from a quiet server (single requests,
#     kernel receive timestamps) and its round trip;
#   - closed-loop throughput: 8 client sockets, each with 32 requests in
#     flight, for T seconds: replies per second, CPU per reply, round
#     trip and offset under that load.
# evgated runs with rate limiting off (its default would, rightly, cut a
# load generator's 8 addresses down to 0.5 requests/s each; chronyd has
# none unless configured).  Prints one markdown section; asserts nothing
# about timings.  Runs standalone too:
#   BENCH_BUILD=build-bench bash scripts/bench.d/ntp.sh
. "${BENCH_LIB:-$(dirname "$0")/../../tests/bench/lib.sh}"

NS=${BENCH_PREFIX}-ntp
N=$BENCH_RUNS
UPSTREAM=127.0.0.123
declare -A ADDR=([evgated]=127.0.0.2 [chronyd]=127.0.0.3)
PEERS=(evgated chronyd)
SRC=127.0.1.1-127.0.1.8
WINDOW=32
TOOL="python3 $BENCH_TOP/tests/integration/ntp_tool.py"
if [ "$BENCH_QUICK" = 1 ]; then
	T=3 Q=100
else
	T=10 Q=500
fi
failed=0

for f in "$EVGATED" "$BENCH_BIN/ntp_load"; do
	[ -x "$f" ] || { say "ntp: $f is missing (make bench-programs)"; exit 1; }
done
command -v chronyd >/dev/null || { say "ntp: chronyd is not installed"; exit 1; }

bench_netns_add "$NS" || exit 1

# chronyd_conf DIR ADDR LINE...: a serving chronyd that never sets the
# clock (-x) with its own files; chronyd wants its directory its own.
chronyd_conf() {
	local d=$1 a=$2
	shift 2
	mkdir -p "$d"
	getent passwd _chrony >/dev/null && chown _chrony: "$d"
	chmod 750 "$d"
	{
		printf '%s\n' "$@"
		cat <<EOF
allow all
bindaddress $a
port 123
cmdport 0
bindcmdaddress $d/chronyd.sock
pidfile $d/chronyd.pid
driftfile $d/drift
EOF
	} >"$d/chrony.conf"
}

chronyd_conf "$BT/up" "$UPSTREAM" "local stratum 1"
bench_bg "$NS" "$BT/upstream.log" chronyd -x -d -f "$BT/up/chrony.conf"

# Both peers stay up for the whole piece, synchronised, so that each run
# measures a server in its steady state.
chronyd_conf "$BT/chronyd" "${ADDR[chronyd]}" \
    "server $UPSTREAM iburst minpoll 4 maxpoll 4"
bench_bg "$NS" "$BT/chronyd.log" chronyd -x -d -f "$BT/chronyd/chrony.conf"
declare -A PID=([chronyd]=$BG_PID)
cat >"$BT/evgated.yaml" <<EOF
site: {name: "bench"}
ntp:
  servers: [$UPSTREAM]
  listen: [${ADDR[evgated]}]
  poll: {min: 16s, max: 16s}
  rate_limit: {enabled: false}
control: {socket: $BT/evgated.sock}
EOF
bench_bg "$NS" "$BT/evgated.log" "$EVGATED" -c "$BT/evgated.yaml"
PID[evgated]=$BG_PID

synced() {	# synced ADDR: answers with LI != 3 and a stratum
	ip netns exec "$NS" $TOOL query "$1" | grep -q '"li": [012], .*"stratum": [1-9]'
}
for p in "${PEERS[@]}"; do
	if ! bench_wait_for 60 synced "${ADDR[$p]}"; then
		say "ntp: $p did not synchronise:"
		tail -5 "$BT/$p.log" >&2
		exit 1
	fi
done
sleep 1

measure() {		# measure PEER RUN
	local p=$1 r=$2 c0 c1 out
	c0=$(tree_cpu "${PID[$p]}")
	if ! out=$(ip netns exec "$NS" "$BENCH_BIN/ntp_load" \
	    -c "${ADDR[$p]}:123" -b "$SRC" -t "$T" -q "$Q" -w "$WINDOW" 2>&1); then
		say "ntp $p: $out"
		failed=1
	fi
	c1=$(tree_cpu "${PID[$p]}")
	say "ntp $p run $r: $out"
	for k in rate idle_offset_p50_us idle_offset_p99abs_us idle_rtt_p50_us \
	    rtt_p50_us rtt_p99_us load_offset_p50_us load_offset_p99abs_us \
	    lost bad idle_bad replies; do
		record ntp "$p" "$r" "$k" "$(kv "$k" "$out")"
	done
	record ntp "$p" "$r" cpu_100k "$(awk -v a="$c0" -v b="$c1" \
	    -v n="$(kv replies "$out")" 'BEGIN { if (n > 0) printf "%.3f", (b - a) / n * 100000 }')"
}

for ((r = 1; r <= N; r++)); do
	for p in $(rotate "$r" "${PEERS[@]}"); do
		say "ntp: run $r/$N: $p"
		measure "$p" "$r"
	done
done

m() { median ntp "$@"; }
row() {		# row LABEL KEY DECIMALS [noratio]
	local e c
	e=$(m evgated "$2")
	c=$(m chronyd "$2")
	echo "| $1 | $(fmt "$e" "$3") | $(fmt "$c" "$3") | $([ -n "${4:-}" ] && echo "" || ratio "$e" "$c") |"
}
echo "## Time: the NTP server, evgated against chronyd serving (median of $N)"
echo
echo "Both stratum 2 from the same upstream chronyd, on loopback in one namespace, one thread each.  Load: 8 client sockets ($SRC) × $WINDOW requests in flight for ${T}s (closed loop); idle: $Q single requests 5 ms apart.  Offsets are \"server − client clock\" on one machine, so the truth is 0; the client uses kernel receive timestamps.  evgated with rate limiting off (see doc/time.md)."
echo
echo "| measure | evgated | chronyd | evgated/chronyd |"
echo "|---|---:|---:|---:|"
row "replies/s under load (higher is better)" rate 0
echo "| (runs) | $(spread ntp evgated rate) | $(spread ntp chronyd rate) | |"
row "CPU s per 100k replies (lower is better)" cpu_100k 3
row "round trip p50 under load, µs" rtt_p50_us 1
row "round trip p99 under load, µs" rtt_p99_us 1
row "offset a client sees, idle: median, µs" idle_offset_p50_us 1 noratio
row "offset a client sees, idle: p99 of \|offset\|, µs (lower is better)" idle_offset_p99abs_us 1
row "round trip idle p50, µs" idle_rtt_p50_us 1
row "offset under load: median, µs" load_offset_p50_us 1 noratio
row "offset under load: p99 of \|offset\|, µs" load_offset_p99abs_us 1
row "requests lost (no reply in 0.5 s)" lost 0 noratio
row "replies not synchronised (LI=3/stratum 0)" bad 0 noratio
echo
exit "$failed"
