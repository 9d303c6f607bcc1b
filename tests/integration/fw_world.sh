#!/bin/bash
# fw_world: evcharger in the test world.  Each charger namespace runs the
# firmware, which gets its reserved address from the gateway's DHCP with
# its own client, resolves the cloud and NTP names through the gateway's
# DNS, takes the time from the gateway's NTP service, and reaches the hub
# only through the relay, with TLS end to end.  The cloud tool (evcloud)
# starts and stops charging with direct methods; the hub goes away for a
# while and the chargers come back by themselves.  Prints each charger's
# bytes per idle hour and per charging session from the relay's
# accounting (figures, never asserted: tests do not assert timings).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

WORLD_SITE=1			# the gateway's DHCP and steered DNS
WORLD_CHARGER_ADDR=evcharger	# the firmware's DHCP client
WORLD_CHARGER_HOSTS=0		# names from the gateway's DNS only
WORLD_DEVICE=evcharger
WORLD_FW_TELEMETRY=60		# pulse while idle, s (the vendor: 600)
WORLD_FW_METER=10		# meter values while charging, s (60)
WORLD_FW_KEEPALIVE=60		# MQTT keepalive, s (300)
N=3

if ! world_up $N; then
	not_ok "world up with $N evcharger devices"
	for i in $(seq 1 $N); do
		tail -5 "$W/log/evcharger-$(world_id "$i").log" 2>/dev/null | sed 's/^/# /'
	done
	exit 1
fi
ok "world up with $N evcharger devices, all connected to the hub"

st() { world_fw_status "$@"; }
is() { [ "$(st "$1" "$2")" = "$3" ]; }
at_least() { local v; v=$(st "$1" "$2") && [ "$v" -ge "$3" ]; }

for i in $(seq 1 $N); do
	id=$(world_id "$i")
	check_eq "$id leased its reserved address with its own DHCP client" \
	    "$(world_ip "$i")" "$(st "$i" 'd["dhcp"]["address"]')"
	check "$id: the address is configured on eth0" \
	    world_charger_has_addr "$i"
	check "$id synchronised its clock from the gateway" \
	    is "$i" '(d["time"]["synced"], d["time"]["server"])' "(True, '$WORLD_GW_LAN')"
	check_eq "$id reached the hub's name through the gateway (the relay)" \
	    "$WORLD_GW_LAN" "$(st "$i" 'd["cloud"]["address"]')"
done

# The relay saw each charger's TLS connection to the hub.
relay() {	# relay ID FIELD: from the gateway's per-charger accounting
	world_ctl --json chargers | python3 -c '
import json, sys
for c in json.load(sys.stdin)["chargers"]:
    if c.get("id") == sys.argv[1]:
        print(c.get(sys.argv[2], 0)); break
else:
    print(0)' "$1" "$2"
}
bytes() { echo $(( $(relay "$1" bytes_up) + $(relay "$1" bytes_down) )); }
for i in $(seq 1 $N); do
	id=$(world_id "$i")
	check "$id's connection went through the relay" \
	    test "$(relay "$id" connections)" -ge 1
done

# Online per charger: a lease and the MQTT connection, in the status and
# as the per-charger gauge labelled by reservation id.
online() {
	world_ctl --json status | python3 -c '
import json, sys
print(json.load(sys.stdin)["dhcp"]["online"].get(sys.argv[1]))' "$1"
}
for i in $(seq 1 $N); do
	id=$(world_id "$i")
	check_eq "$id is online (status dhcp.online)" 1 "$(online "$id")"
done
check_eq "evgate_charger_online is 1 for each charger, by reservation id" "$N" \
    "$(ip netns exec "$WNS_GW" curl -sS -m 5 http://127.0.0.1:9310/metrics |
	grep -c '^evgate_charger_online{charger="[^"]*"} 1$')"

# evgatectl chargers: ONLINE SINCE while the link is up, OFFLINE SINCE
# (when it ended) once it is down.
since() {	# since ID FIELD: the chargers list's field for ID
	json_get "$(world_ctl --json chargers)" \
	    "[c['$2'] for c in d['chargers'] if c['id'] == '$1'][0]"
}
check "$(world_id 1): evgatectl chargers has its online since ($(since "$(world_id 1)" online_since))" \
    test -n "$(since "$(world_id 1)" online_since | grep -E '^20[0-9-]+T')"
check_eq "$(world_id 1): and no offline since while online" None \
    "$(since "$(world_id 1)" offline_since)"
table=$(world_ctl chargers)
echo "$table" | sed 's/^/# /'
check "the text table has ONLINE SINCE and OFFLINE SINCE" \
    grep -q 'ONLINE SINCE  *OFFLINE SINCE' <<<"$table"

ID1=$(world_id 1)
ID2=$(world_id 2)
call() { world_evcloud call --device "$1" --method "$2" ${3:+--payload "$3"} --timeout 20; }

# Telemetry reaches the cloud (evcloud serve records it).
check "$ID1's telemetry reached the cloud" \
    wait_for 30 bash -c "grep -q '\"ObservationId\":710' '$W/cloud/data/$ID1.jsonl'"

# --- direct methods through the relay ----------------------------------
out=$(call "$ID1" 501 '["16","3"]')
check_eq "501 without a car: 400" 400 "${out%% *}"
b0=$(bytes "$ID1")
t0=$(date +%s)
check "plug in $ID1's car" world_fw_ctl 1 plug
out=$(call "$ID1" 501 '["16","3"]')
check_eq "501 with a car: 200" 200 "${out%% *}"
check "$ID1 is charging" is 1 'd["charger"]["mode"]' 3
check "the cloud heard 710 = 3" \
    wait_for 15 bash -c "grep -q '\"Value\":\"3\",\"ObservationId\":710' '$W/cloud/data/$ID1.jsonl'"
sleep 30		# meter values every WORLD_FW_METER seconds
check "meter values reached the cloud" \
    bash -c "grep -q '\"ObservationId\":553' '$W/cloud/data/$ID1.jsonl'"
out=$(call "$ID1" 502)
check_eq "502 while charging: 200" 200 "${out%% *}"
out=$(call "$ID1" 502)
check_eq "502 again: 400" 400 "${out%% *}"
check "unplug $ID1's car" world_fw_ctl 1 unplug
check "the completed session reached the cloud (723)" \
    wait_for 15 bash -c "grep -q '\"ObservationId\":723' '$W/cloud/data/$ID1.jsonl'"
sleep 2
b1=$(bytes "$ID1")
t1=$(date +%s)
diag "$ID1: a charging session of $((t1 - t0)) s (meter every ${WORLD_FW_METER} s) cost $((b1 - b0)) bytes through the relay (TLS payload, both ways); the vendor's budget is ~5 MB per session"

# --- idle: bytes per hour --------------------------------------------------
i0=$(bytes "$ID2")
s0=$(date +%s)
sleep 120
i1=$(bytes "$ID2")
s1=$(date +%s)
check "$ID2 kept its link up while idle" is 2 'd["cloud"]["connected"]' True
diag "$ID2 idle: $((i1 - i0)) bytes in $((s1 - s0)) s = $(( (i1 - i0) * 3600 / (s1 - s0) )) bytes per idle hour (pulse every ${WORLD_FW_TELEMETRY} s, keepalive ${WORLD_FW_KEEPALIVE} s); the vendor's budget is ~3 MB per day"

# --- the hub goes away -------------------------------------------------------
c0=$(st 2 'd["cloud"]["connects"]')
world_stop mosquitto
check "$ID2 noticed the hub is gone" wait_for 20 is 2 'd["cloud"]["connected"]' False
check "$ID2: evgatectl chargers says offline since, not online since" \
    wait_for 10 eval 'test "$(since "$ID2" online_since)" = None &&
	since "$ID2" offline_since | grep -qE "^20[0-9-]+T"'
sleep 20
world_hub_start || not_ok "hub restarted"
for i in $(seq 1 $N); do
	id=$(world_id "$i")
	if wait_for 150 is "$i" 'd["cloud"]["connected"]' True; then
		ok "$id reconnected through the relay after the hub came back"
	else
		not_ok "$id reconnected after the hub came back" "$(world_fw_ctl "$i" status)"
	fi
done
check "$ID2 counted a new connection" at_least 2 'd["cloud"]["connects"]' $((c0 + 1))
diag "$ID2 back-off: $(grep -o 'next attempt in [0-9.]* s' "$W/log/evcharger-$ID2.log" | sed 's/next attempt in //' | tr '\n' ' ')"
out=$(call "$ID2" 1)
check_eq "$ID2 answers a ping after reconnecting" 200 "${out%% *}"

for i in $(seq 1 $N); do
	id=$(world_id "$i")
	check "$id: no sanitizer report" \
	    bash -c "! grep -q Sanitizer '$W/log/evcharger-$id.log'"
done
