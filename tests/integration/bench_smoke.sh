#!/bin/bash
# bench_smoke: the benchmark's load generators (tests/bench) still work,
# so scripts/bench cannot rot between runs.  Each runs for about a second
# against evgated in a private namespace, the way scripts/bench runs them,
# and must move its data correctly: every byte checked against the
# pattern, every echo compared, every connection accounted for.  No
# timing is asserted (that is what scripts/bench prints).
#
#   127.0.0.2:8883    evgated (allows zapcloud.azure-devices.net only)
#   127.0.0.10:8883   bench_sink
#   127.0.0.53        dnsmasq: the cloud name -> 127.0.0.10
. "$(dirname "$0")/lib.sh"

NS=${EVG_PREFIX}-bsmoke
HUB=zapcloud.azure-devices.net
B=$BUILD/tests/bench
RELAY=127.0.0.2:8883

for p in bench_sink bench_bulk bench_rate bench_idle bench_ping; do
	[ -x "$B/$p" ] || { not_ok "$p is built (make check builds it)"; exit 1; }
done
netns_add "$NS" || { not_ok "create namespace"; exit 1; }

cat >"$T/dnsmasq.conf" <<EOF
no-resolv
no-hosts
listen-address=127.0.0.53
bind-interfaces
port=53
user=root
local-ttl=300
address=/$HUB/127.0.0.10
address=/#/
EOF
bg_ns "$NS" "$T/dnsmasq.log" dnsmasq -k --conf-file="$T/dnsmasq.conf" \
    --pid-file="$T/dnsmasq.pid" >/dev/null
ip netns exec "$NS" "$B/bench_sink" -l 127.0.0.10:8883 >"$T/sink.out" 2>&1 &
SINK_PID=$!
at_exit "kill -9 $SINK_PID"

SOCK=$T/evgated.sock
cat >"$T/evgated.yaml" <<EOF
wan: {resolvers: [127.0.0.53], resolver_timeout: 1s,
  allow_prefixes: [127.0.0.0/8]}
relay:
  listen: [127.0.0.2]
  routes:
    - {port: 8883, allow: [$HUB]}
  limits: {per_client: 2000, total: 2000}
  timeouts: {hello: 10s, connect: 10s, idle: 1h, drain: 1s}
control: {socket: $SOCK}
EOF
bg_ns "$NS" "$T/evgated.log" "$EVGATED" -c "$T/evgated.yaml" >/dev/null
wait_for 10 port_open "$NS" 127.0.0.10 8883 &&
wait_for 10 port_open "$NS" 127.0.0.2 8883 ||
    { not_ok "sink and evgated started" "$(cat "$T"/*.log "$T/sink.out")"; exit 1; }
ok "sink and evgated started"

kv() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2; exit }'; }
relayed() { json_get "$(ctl "$SOCK" --json status)" "d['relay']['relayed']"; }

# Bulk: 32 MiB in 4 streams, every byte read and checked.
r0=$(relayed)
out=$(ip netns exec "$NS" "$B/bench_bulk" -c "$RELAY" -n 4 -t 32M -v -T 60 2>&1)
rc=$?
check_eq "bench_bulk through evgated: exit 0" 0 "$rc"
check_eq "bench_bulk: all 32 MiB arrived, pattern verified, no errors" \
    "33554432 1 0" "$(kv bytes "$out") $(kv verified "$out") $(kv errors "$out")"
check_eq "evgated relayed the 4 bulk streams" 4 $(($(relayed) - r0))

# Connection rate: a second of connect, hello, request, reply, close.
r0=$(relayed)
out=$(ip netns exec "$NS" "$B/bench_rate" -c "$RELAY" -C 8 -d 1 -r 300 \
    -b 127.0.1.1-127.0.1.8 -v 2>&1)
rc=$?
check_eq "bench_rate through evgated: exit 0 (no errors)" 0 "$rc"
n=$(kv conns "$out")
if [ "${n:-0}" -gt 0 ] && [ "$(kv verified "$out")" = 1 ]; then
	ok "bench_rate: $n connections, every 300-byte reply verified"
else
	not_ok "bench_rate: connections completed and verified" "$out"
fi
check_eq "evgated relayed every one of them" "$n" $(($(relayed) - r0))

# Idle holder: 200 connections, keepalive every 0.5 s for 1.5 s.
out=$(ip netns exec "$NS" "$B/bench_idle" -c "$RELAY" -n 200 -k 0.5 -H 1.5 -x 2>&1)
rc=$?
check_eq "bench_idle through evgated: exit 0 (every ping answered)" 0 "$rc"
held=$(grep '^phase=held' <<<"$out")
done_=$(grep '^phase=done' <<<"$out")
check_eq "bench_idle: all 200 held, none failed" "200 0" \
    "$(kv established "$held") $(kv failed "$held")"
pings=$(kv pings "$done_")
if [ "${pings:-0}" -ge 200 ] && [ "$(kv dropped "$done_")" = 0 ]; then
	ok "bench_idle: $pings keepalives sent, none dropped"
else
	not_ok "bench_idle: keepalives sent, none dropped" "$out"
fi

# Ping-pong: 500 round trips, each echo compared.
out=$(ip netns exec "$NS" "$B/bench_ping" -c "$RELAY" -n 500 -w 10 2>&1)
rc=$?
check_eq "bench_ping through evgated: exit 0" 0 "$rc"
check_eq "bench_ping: 500 echoes, all equal to what was sent" "500 0" \
    "$(kv pings "$out") $(kv errors "$out")"

# The hello is real and evgated reads it: another SNI is refused.
out=$(ip netns exec "$NS" "$B/bench_ping" -c "$RELAY" -n 5 -w 0 \
    -s evil.example.com 2>&1)
rc=$?
check_eq "bench_ping with an SNI not on the allowlist: no echo, exit 1" \
    "1 0" "$rc $(kv pings "$(grep '^pings=' <<<"$out")")"
check_eq "evgated refused it as not allowed (it parsed the hello's SNI)" 1 \
    "$(json_get "$(ctl "$SOCK" --json status)" "d['relay']['refused']['not-allowed']")"

# The sink saw no malformed command on any connection.
kill -TERM "$SINK_PID"
wait_for 5 grep -q '^conns=' "$T/sink.out"
check_eq "the sink saw no bad connection" 0 "$(kv bad "$(grep '^conns=' "$T/sink.out")")"
