#!/bin/bash
# tests/bench/world_budget.sh OUT: one evcharger's traffic in the test
# world, for scripts/bench.d/databudget.sh.  Writes "key value" lines to
# OUT; TAP-ish progress goes to stdout (the caller discards it).
#
# One charger (ZAP000101) runs the firmware (WORLD_DEVICE=evcharger) with
# its own DHCP client behind the gateway; its MQTT connection to the hub
# goes through evgated's relay, whose per-charger accounting (evgatectl
# chargers: bytes_up + bytes_down, the TLS payload both ways) is what is
# read.  Beside it, an nftables counter in the charger's namespace counts
# the same connection at IP level (headers, ACKs, retransmissions: what a
# metered link bills), and eth0's counters give everything on the wire
# from boot to connected (DHCP, DNS, NTP too).  Measured:
#   connect    the link coming up: TLS, CONNECT, subscriptions, twin and
#              the reports a charger sends on (re)connect, until quiet
#   keepalive  one MQTT keepalive round (PINGREQ/PINGRESP), timed from
#              one to the next; cloud.keepalive is set to 30 s (the
#              firmware's minimum) so that rounds come quickly; the size
#              of a round does not depend on the interval
#   pulse      one idle sign of life (observation -1) with its PUBACK: the
#              idle pulse set to 10 s for a window through the twin's
#              desired properties (as an operator would), then put back
#   usage      the data-usage report (822): measured as the pulse plus
#              the difference in topic and payload bytes between the two
#              as the cloud recorded them (it is sent once an hour)
#   message    one telemetry message (publish + PUBACK) while charging,
#              the average over the messages of a window with the meter
#              every 5 s (count from the firmware's "published" counter)
#   startstop  a charging session with no time in it: plug, start (method
#              501), charging, stop (502), unplug, the session record
#   renewal    a SAS token renewal: the clean reconnect at 80 % of the
#              token's life (cloud.sas_ttl is set to 900 s here so that it
#              comes at 720 s, after the windows above)
# Needs the world (tests/integration/world.sh) with the evcharger device
# (tests/integration/world.d/fw_evcharger.bash) and a build with
# charger-fw/evcharger, evprovision and tests/cloud/evcloud (EVGATE_BUILD).
out=${1:?usage: world_budget.sh OUTFILE}
. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/../integration/world.sh"

WORLD_SITE=1
WORLD_CHARGER_ADDR=evcharger
WORLD_CHARGER_HOSTS=0
WORLD_DEVICE=budget
WORLD_FW_TELEMETRY=900		# the firmware's default idle pulse
WORLD_FW_METER=5
KA=30
WORLD_FW_KEEPALIVE=$KA
SAS_TTL=900
WORLD_FW_SAS_TTL=$SAS_TTL

declare -F world_device_start_evcharger >/dev/null ||
    { not_ok "the world has no evcharger device"; exit 1; }

# The evcharger device, with IP-level counters of its MQTT connection in
# place before the firmware starts (the world's device extension point).
world_device_start_budget() {
	ip netns exec "$(world_ns "$1")" nft -f - <<-'NFT' || return 1
	table inet evbudget {
		counter mqtt {}
		chain out {
			type filter hook output priority 0;
			tcp dport 8883 counter name mqtt
		}
		chain in {
			type filter hook input priority 0;
			tcp sport 8883 counter name mqtt
		}
	}
	NFT
	world_device_start_evcharger "$1"
}
world_device_ready_budget() { world_device_ready_evcharger "$1"; }
: >"$out"
put() { echo "$1 $2" >>"$out"; }

world_up 1 || { not_ok "world up with one evcharger"; exit 1; }
ok "world up: one evcharger connected through the relay"
ID=$(world_id 1)
NS=$(world_ns 1)

relay_bytes() {
	world_ctl --json chargers | python3 -c '
import json, sys
for c in json.load(sys.stdin)["chargers"]:
    if c.get("id") == sys.argv[1]:
        print(c.get("bytes_up", 0) + c.get("bytes_down", 0)); break
else:
    print(0)' "$ID"
}
wire_bytes() {		# the MQTT connection at IP level, both ways
	ip netns exec "$NS" nft -j list counter inet evbudget mqtt | python3 -c '
import json, sys
for o in json.load(sys.stdin)["nftables"]:
    if "counter" in o:
        print(o["counter"]["bytes"]); break'
}
eth0_bytes() {		# rx + tx of the charger's eth0, every frame
	ip -n "$NS" -s -j link show eth0 | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["stats64"]
print(s["rx"]["bytes"] + s["tx"]["bytes"])'
}
published() { world_fw_status 1 'd["cloud"]["published"]'; }
# settle: wait until the relay's count has not moved for 3 s (max 60 s).
settle() {
	local last cur same=0 i
	last=$(relay_bytes)
	for i in $(seq 120); do
		sleep 0.5
		cur=$(relay_bytes)
		if [ "$cur" = "$last" ]; then
			same=$((same + 1))
			[ "$same" -ge 6 ] && return 0
		else
			same=0
			last=$cur
		fi
	done
	return 1
}
# next_change: wait (max 2 keepalives) until the relay's count moves,
# then until it settles for 1 s; prints the new count.
next_change() {
	local b0 cur i
	b0=$(relay_bytes)
	for i in $(seq $((KA * 2 * 5))); do
		sleep 0.2
		cur=$(relay_bytes)
		[ "$cur" != "$b0" ] && break
	done
	sleep 1
	relay_bytes
}

# --- connect -------------------------------------------------------------
settle || { not_ok "the link went quiet after connecting"; exit 1; }
put connect "$(relay_bytes)"
put connect_wire "$(wire_bytes)"
put boot_eth0 "$(eth0_bytes)"
ok "connect: $(relay_bytes) bytes through the relay"

# --- keepalive rounds, timed from one to the next --------------------------
p0=$(published)
b0=$(next_change)
w0=$(wire_bytes)
t0=$(date +%s%N)
rounds=2
for _ in $(seq $rounds); do b1=$(next_change); done
w1=$(wire_bytes)
t1=$(date +%s%N)
if [ "$(published)" != "$p0" ]; then
	not_ok "no telemetry during the keepalive window"; exit 1
fi
put keepalive "$(((b1 - b0) / rounds))"
put keepalive_wire "$(((w1 - w0) / rounds))"
put keepalive_secs "$(((t1 - t0) / rounds / 1000000))"
ok "keepalive: $(((b1 - b0) / rounds)) bytes per round"

# --- idle pulses, through the twin's desired properties ---------------------
twin() { world_evcloud twin-set --device "$ID" "$1" >/dev/null; }
twin '{"telemetry":{"pulseIdle":10}}' || { not_ok "twin-set pulseIdle"; exit 1; }
settle
p0=$(published)
pb0=$(relay_bytes)
pw0=$(wire_bytes)
sleep 30
p1=$(published)
pb1=$(relay_bytes)
pw1=$(wire_bytes)
[ $((p1 - p0)) -gt 0 ] || { not_ok "idle pulses at 10 s"; exit 1; }
put pulse "$(((pb1 - pb0) / (p1 - p0)))"
put pulse_wire "$(((pw1 - pw0) / (p1 - p0)))"
twin '{"telemetry":{"pulseIdle":null}}' || { not_ok "twin-set pulseIdle back"; exit 1; }
settle
ok "pulse: $(((pb1 - pb0) / (p1 - p0))) bytes each ($((p1 - p0)) in 30 s)"

# The data-usage report: the pulse's cost plus the difference in what the
# MQTT PUBLISH carries (topic and payload), as the cloud recorded both.
usage_delta=$(python3 - "$W/cloud/data/$ID.jsonl" <<'PY'
import json, sys
pulse = usage = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    obs = r.get("payload", {}).get("Observations", [])
    ids = [o.get("ObservationId") for o in obs]
    size = len(r["topic"]) + r["bytes"]
    if ids == [-1]:
        pulse = size
    elif 822 in ids:
        usage = size
print("" if pulse is None or usage is None else usage - pulse)
PY
)
[ -n "$usage_delta" ] || { not_ok "the cloud has a pulse and a data-usage report"; exit 1; }
put usage "$(($(grep '^pulse ' "$out" | cut -d' ' -f2) + usage_delta))"
put usage_wire "$(($(grep '^pulse_wire ' "$out" | cut -d' ' -f2) + usage_delta))"
ok "data-usage report: $usage_delta bytes more than a pulse"

# --- a session with no time in it, then messages while charging ------------
call() { world_evcloud call --device "$ID" --method "$1" ${2:+--payload "$2"} --timeout 20; }
mode() { world_fw_status 1 'd["charger"]["mode"]'; }
b0=$(relay_bytes)
w0=$(wire_bytes)
world_fw_ctl 1 plug >/dev/null
r=$(call 501 '["16","3"]')
[ "${r%% *}" = 200 ] || { not_ok "start charging (501): $r"; exit 1; }
# (wait_for runs its arguments again and again: a $(...) in them would
# be read once, before the wait; hence the small functions)
charging() { test "$(mode)" = 3; }
wait_for 15 charging || { not_ok "charging"; exit 1; }
ok "charging"
# The message window: the meter every WORLD_FW_METER s.
sleep 2
m0=$(published)
mb0=$(relay_bytes)
mw0=$(wire_bytes)
sleep 30
m1=$(published)
mb1=$(relay_bytes)
mw1=$(wire_bytes)
[ $((m1 - m0)) -gt 0 ] || { not_ok "telemetry while charging"; exit 1; }
put message "$(((mb1 - mb0) / (m1 - m0)))"
put message_wire "$(((mw1 - mw0) / (m1 - m0)))"
put messages "$((m1 - m0))"
ok "message: $(((mb1 - mb0) / (m1 - m0))) bytes each ($((m1 - m0)) in 30 s)"
r=$(call 502)
[ "${r%% *}" = 200 ] || { not_ok "stop charging (502): $r"; exit 1; }
world_fw_ctl 1 unplug >/dev/null
settle
b1=$(relay_bytes)
w1=$(wire_bytes)
# The start/stop overhead: the session minus its window's messages.
put startstop "$((b1 - b0 - (mb1 - mb0)))"
put startstop_wire "$((w1 - w0 - (mw1 - mw0)))"
ok "start and stop: $((b1 - b0 - (mb1 - mb0))) bytes"

# --- a SAS token renewal: the clean reconnect at 80 % of its life -----------
renewals() { world_fw_status 1 'd["cloud"]["renewals"]'; }
[ "$(renewals)" = 0 ] ||
    { not_ok "no renewal before the measured windows ended (raise SAS_TTL)"; exit 1; }
b0=$(relay_bytes)
w0=$(wire_bytes)
c0=$(world_fw_status 1 'd["cloud"]["connects"]')
renewed() { test "$(renewals)" -ge 1; }
connected() { test "$(world_fw_status 1 'd["cloud"]["connected"]')" = True; }
wait_for $((SAS_TTL)) renewed || { not_ok "a renewal"; exit 1; }
wait_for 30 connected || { not_ok "connected again after the renewal"; exit 1; }
settle
# Both counts are per charger, over its connections: the old one's close
# and the new one's handshake, subscriptions, twin and reports.
put renewal "$(($(relay_bytes) - b0))"
put renewal_wire "$(($(wire_bytes) - w0))"
put renewal_resumed "$(world_fw_status 1 'd["cloud"]["tls_resumed"]')"
[ "$(world_fw_status 1 'd["cloud"]["connects"]')" -gt "$c0" ] ||
    { not_ok "the renewal was a reconnect"; exit 1; }
ok "renewal: $(($(relay_bytes) - b0)) bytes through the relay"
