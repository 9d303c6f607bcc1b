#!/bin/bash
# fw_hub: the charger firmware against the hub's rules (the stand-in is as
# strict as the IoT hub: world_hub), through the relay:
#   - a desired-property change reaches every charger, which acts on it
#     within seconds without reconnecting, and acknowledges it in the twin
#     (a running session's current is lowered at once);
#   - a throttled (429) acknowledgement is retried until the hub takes it;
#   - a method to a charger that is off fails at once with 404;
#   - SAS tokens of one minute are renewed by clean reconnects before the
#     hub would close the link, for several token lives, while a charging
#     session runs: the hub never closes a link, the session's record
#     arrives exactly once;
#   - a second device with one charger's identity makes the hub drop each
#     in turn: the charger's back-off grows to its cap instead of being
#     reset by every CONNACK, and it counts the links that were dropped.
# Against the firmware before issue 16 each of these fails where the hub
# would make it fail.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

WORLD_SITE=1			# the gateway's DHCP, steered DNS and NTP
WORLD_CHARGER_ADDR=evcharger	# the firmware's DHCP client
WORLD_CHARGER_HOSTS=0
WORLD_DEVICE=evcharger
WORLD_FW_TELEMETRY=60
WORLD_FW_METER=10
WORLD_FW_KEEPALIVE=60
WORLD_FW_SAS_TTL=60		# renewed at 48 s
WORLD_FW_CLOUD_EXTRA="  backoff_base: 1
  backoff_cap: 8
  stable_after: 60"
N=3
if ! world_up $N; then
	not_ok "world up with $N evcharger chargers"
	for i in $(seq 1 $N); do
		tail -5 "$W/log/evcharger-$(world_id "$i").log" 2>/dev/null | sed 's/^/# /'
	done
	exit 1
fi
ok "world up with $N evcharger chargers (SAS tokens of ${WORLD_FW_SAS_TTL} s)"
ID1=$(world_id 1) ID2=$(world_id 2) ID3=$(world_id 3)
LOG=$W/log/mosquitto.log

st() { world_fw_status "$@"; }
is() { [ "$(st "$1" "$2")" = "$3" ]; }
at_least() { local v; v=$(st "$1" "$2") && [ -n "$v" ] && [ "$v" -ge "$3" ]; }
twin() {	# twin ID PYTHON-EXPR-ON-r (the reported properties)
	world_evcloud twin --device "$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)["reported"]
try:
    print(eval(sys.argv[1]))
except Exception:
    print(None)' "$2"
}
twin_is() { [ "$(twin "$1" "$2")" = "$3" ]; }
call() { world_evcloud call --device "$1" --method "$2" ${3:+--payload "$3"} --timeout 20; }

# --- desired properties ----------------------------------------------------
check "plug in $ID1's car" world_fw_ctl 1 plug
out=$(call "$ID1" 501 '["16","3"]')
check_eq "$ID1 starts charging at 16 A" "200 16" "${out%% *} $(st 1 'd["charger"]["current"]')"
for i in $(seq 1 $N); do
	conn[$i]=$(st "$i" 'd["cloud"]["connects"]')
	world_evcloud twin-set --device "$(world_id "$i")" '{"maxCurrent":10}' >/dev/null
done
for i in $(seq 1 $N); do
	id=$(world_id "$i")
	if wait_for 15 is "$i" 'd["charger"]["max_current"]' 10; then
		ok "$id acted on the desired maxCurrent within seconds"
	else
		not_ok "$id acted on the desired maxCurrent" "$(world_fw_ctl "$i" status)"
	fi
	check_eq "... without reconnecting" "${conn[$i]}" "$(st "$i" 'd["cloud"]["connects"]')"
	check "... and acknowledged it in the twin (ac 200, av = the desired version)" \
	    wait_for 15 twin_is "$id" '(r["maxCurrent"]["value"], r["maxCurrent"]["ac"], r["maxCurrent"]["av"] == r["desiredVersion"])' "(10, 200, True)"
done
check_eq "$ID1's running session went down to 10 A at once" "3 10" \
    "$(st 1 'd["charger"]["mode"]') $(st 1 'd["charger"]["current"]')"
world_evcloud twin-set --device "$ID2" '{"maxCurrent":40}' >/dev/null
check "a value out of range is refused in the twin (ac 400), the old one kept" \
    wait_for 15 twin_is "$ID2" '(r["maxCurrent"]["ac"], r["maxCurrent"]["value"])' "(400, 10)"
check_eq "... and in the charger" 10 "$(st 2 'd["charger"]["max_current"]')"

# --- 429: the acknowledgement is retried until the hub takes it --------------
world_hub_throttle "$ID2" reported 3
world_evcloud twin-set --device "$ID2" '{"maxCurrent":12}' >/dev/null
check "$ID2 acts on the change" wait_for 15 is 2 'd["charger"]["max_current"]' 12
check "the hub throttled its acknowledgement three times" \
    wait_for 30 at_least 2 'd["twin"]["throttled"]' 3
check "... and it kept trying, with back-off, until the twin had it" \
    wait_for 90 twin_is "$ID2" 'r["maxCurrent"]["value"]' 12
world_hub_throttle "$ID2" reported 0

# --- a method to a charger that is off: 404 at once --------------------------
world_stop "evcharger-$ID3"
out=$(call "$ID3" 1)
check_eq "a method to a charger that is off fails with 404 (exit 1)" "1 404" "$? ${out%% *}"

# --- token renewal across several token lives, a session running -------------
s0=$(grep -c '"ObservationId":723' "$W/cloud/data/$ID1.jsonl")
sid=$(st 1 'd["charger"]["session_id"]')
for i in 1 2; do r0[$i]=$(st "$i" 'd["cloud"]["renewals"]'); done
for i in 1 2; do
	id=$(world_id "$i")
	if wait_for 200 at_least "$i" 'd["cloud"]["renewals"]' $((r0[i] + 3)); then
		ok "$id renewed its token three times by clean reconnects"
	else
		not_ok "$id renewed its token three times" "$(world_fw_ctl "$i" status)"
	fi
	check_eq "... none of them a failure or a dropped link" "0 0" \
	    "$(st "$i" 'd["cloud"]["failures"]') $(st "$i" 'd["cloud"]["dropped"]')"
done
check_fails "the hub never had to close a link for an expired token" \
    grep -q "SAS token expired at .*closing" "$LOG"
check_eq "$ID1's session ran on across the renewals" "3 $sid" \
    "$(st 1 'd["charger"]["mode"]') $(st 1 'd["charger"]["session_id"]')"
check "unplug $ID1's car" world_fw_ctl 1 unplug
check "its session record (723) arrived" \
    wait_for 20 bash -c "[ \$(grep -c '\"ObservationId\":723' '$W/cloud/data/$ID1.jsonl') -gt $s0 ]"
sleep 5
check_eq "... exactly once" $((s0 + 1)) "$(grep -c '"ObservationId":723' "$W/cloud/data/$ID1.jsonl")"

# --- a duplicate of one charger's identity ------------------------------------
dir=$(world_fw_dir 2)
mkdir -p "$W/dup"
cp -a "$dir/state" "$W/dup/"
sed -e 's/^network: .*/network: static/' -e "s#$dir/#$W/dup/#g" \
    "$dir/evcharger.yaml" >"$W/dup/evcharger.yaml"
d0=$(st 2 'd["cloud"]["dropped"]')
world_spawn "$(world_ns 2)" "dup-$ID2" "$EVCHARGER" -c "$W/dup/evcharger.yaml"
dup() { "$EVCHARGER" --ctl "$W/dup/ctl.sock" status 2>/dev/null | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
print(eval(sys.argv[1]))' "$1"; }
if wait_for 120 at_least 2 'd["cloud"]["dropped"]' $((d0 + 3)); then
	ok "with a duplicate, the hub drops $ID2's links in turn ($(st 2 'd["cloud"]["dropped"]') counted)"
else
	not_ok "the hub drops $ID2's links in turn" "$(world_fw_ctl 2 status)"
fi
if wait_for 120 is 2 'd["cloud"]["window_ms"]' 8000; then
	ok "... and its back-off grows to the cap (8 s here) instead of restarting at every CONNACK"
else
	not_ok "... and its back-off grows to the cap" "$(world_fw_ctl 2 status)"
fi
check "... so does the duplicate's" wait_for 120 bash -c "[ \"\$(\"$EVCHARGER\" --ctl '$W/dup/ctl.sock' status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"cloud\"][\"window_ms\"])')\" = 8000 ]"
check "the hub saw both take the id from each other" \
    bash -c "[ \$(grep -c 'Client $ID2 already connected, closing old connection' '$LOG') -ge 3 ]"
world_stop "dup-$ID2"
if wait_for 60 is 2 'd["cloud"]["connected"]' True; then
	ok "once the duplicate is gone, $ID2 is back"
else
	not_ok "once the duplicate is gone, $ID2 is back" "$(world_fw_ctl 2 status)"
fi
check "$ID2 reports its dropped links in telemetry (observation 930)" \
    wait_for 30 bash -c "grep -q '\"ObservationId\":930' '$W/cloud/data/$ID2.jsonl'"

for i in 1 2; do
	id=$(world_id "$i")
	check "$id: no sanitizer report" \
	    bash -c "! grep -q Sanitizer '$W/log/evcharger-$id.log'"
done
check "the duplicate: no sanitizer report" \
    bash -c "! grep -q Sanitizer '$W/log/dup-$ID2.log'"
