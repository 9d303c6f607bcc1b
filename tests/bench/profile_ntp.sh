#!/bin/bash
# tests/bench/profile_ntp.sh: callgrind profile of evgated's NTP server
# path (receive, checks, rate limiter, reply), synchronised to a chronyd
# upstream and loaded by tests/bench/ntp_load, in a namespace of its own,
# with the -O2 build (run scripts/bench once first: it builds build-bench/).
#
#   tests/bench/profile_ntp.sh [SECONDS] [rate-limit on|off]
#
# Prints the functions with the most instructions and the instructions per
# reply; the raw profile is build-bench/profile/callgrind.ntp.out.
set -u
export BENCH_PREFIX=evpn$(($$ % 10000))
. "$(dirname "$0")/lib.sh"

secs=${1:-5}
rl=${2:-off}
outdir=$BENCH_BUILD/profile
mkdir -p "$outdir"
NS=${BENCH_PREFIX}-ntp
UP=127.0.0.123
bench_netns_add "$NS" || exit 1
mkdir -p "$BT/up"
getent passwd _chrony >/dev/null && chown _chrony: "$BT/up"
chmod 750 "$BT/up"
cat >"$BT/up/chrony.conf" <<EOF
local stratum 1
allow all
bindaddress $UP
port 123
cmdport 0
pidfile $BT/up/chronyd.pid
driftfile $BT/up/drift
EOF
bench_bg "$NS" "$BT/upstream.log" chronyd -x -d -f "$BT/up/chrony.conf"
enabled=false
[ "$rl" = on ] && enabled=true
cat >"$BT/evgated.yaml" <<EOF
ntp:
  servers: [$UP]
  listen: [127.0.0.2]
  poll: {min: 16s, max: 16s}
  rate_limit: {enabled: $enabled}
control: {socket: $BT/evgated.sock}
EOF
ip netns exec "$NS" valgrind --tool=callgrind \
    --callgrind-out-file="$outdir/callgrind.ntp.out" \
    "$EVGATED" -c "$BT/evgated.yaml" -l warn >"$BT/evgated.log" 2>&1 &
vpid=$!
bench_at_exit "kill -9 $vpid"
synced() {
	ip netns exec "$NS" python3 "$BENCH_TOP/tests/integration/ntp_tool.py" \
	    query 127.0.0.2 | grep -q '"li": [012], .*"stratum": [1-9]'
}
bench_wait_for 120 synced || { echo "evgated did not synchronise" >&2; tail "$BT/evgated.log" >&2; exit 1; }
out=$(ip netns exec "$NS" "$BENCH_BIN/ntp_load" -c 127.0.0.2:123 \
    -b 127.0.1.1-127.0.1.8 -t "$secs" -q 100 -w 32 2>&1)
echo "load: $out"
kill -TERM "$vpid"
wait "$vpid"
replies=$(sed -n 's/.*replies=\([0-9]*\).*/\1/p' <<<"$out")
total=$(callgrind_annotate "$outdir/callgrind.ntp.out" 2>/dev/null |
    sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,)
echo "instructions in all: $total; replies: $replies;" \
    "per reply: $(( replies > 0 ? total / replies : 0 )) (start-up and sync included)"
callgrind_annotate --inclusive=no "$outdir/callgrind.ntp.out" 2>/dev/null |
    sed -n '/^Ir/,$p' | head -25
