#!/bin/bash
# world_hub: the cloud stand-in is as strict as the Azure IoT hub it stands
# for (Microsoft's "Communicate with an IoT hub using the MQTT protocol";
# doc/testworld.md lists what still differs).  One rule per block, each
# checked with plain MQTT clients (tests/integration/mqtt_tool.py) through
# the relay, as devices of the world:
#   - a twin response, desired PATCH, direct method or cloud-to-device
#     message reaches a device only through a subscription that matches it;
#     only the hub's topic filters may be subscribed to;
#   - a direct method to a device that is offline (or not subscribed to
#     methods) fails at once with 404;
#   - QoS 2 subscriptions are granted QoS 1, a QoS 2 publish closes the
#     connection, a retained publish is not retained (the cloud sees
#     mqtt-retain=true);
#   - a connection with no traffic for 1.5 x its keep-alive is closed;
#   - a SAS token is checked at CONNECT and the connection closed when it
#     expires;
#   - a second connection with a device's id closes the first;
#   - the per-device throttle answers reported PATCHes with 429 and refuses
#     CONNECTs.
# The firmware's side of the same rules is fw_hub.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

WORLD_DEVICE=none
if ! world_up 3; then
	not_ok "world up with 3 chargers"
	exit 1
fi
ok "world up with 3 chargers (plain clients play the devices)"
ID1=$(world_id 1) ID2=$(world_id 2) ID3=$(world_id 3)
LOG=$W/log/mosquitto.log
msgs() { grep '^MSG' "$@" | sed 's/ $//'; }

# The cloud publishing as the hub's service side (a cloud-to-device
# message), with the admin's credentials, from the internet.
admin_pub() {
	ip netns exec "$WNS_INET" mosquitto_pub -h "$WORLD_HUB" -p 8883 \
	    --cafile "$W/pki/ca.pem" -V mqttv311 -i "evcloud-test-$$" \
	    -u "$WORLD_ADMIN" -P "$(cat "$W/cloud/admin.secret")" -q 1 "$@"
}

# --- subscriptions gate delivery --------------------------------------------
out=$(world_mqtt_tool 1 pub '$iothub/twin/GET/?$rid=1' '' 0 0 wait 4 2>&1)
check_eq "a twin GET without a subscription to \$iothub/twin/res/# gets no answer" \
    "" "$(msgs <<<"$out")"
check "... the hub dropped the answer, and its log says why" \
    wait_for 5 grep -qF "$ID1 has no subscription for \$iothub/twin/res/200/?\$rid=1" "$LOG"
out=$(world_mqtt_tool 1 sub '$iothub/twin/res/#' 1 \
    pub '$iothub/twin/GET/?$rid=2' '' 0 0 expect 'rid=2' 10 2>&1)
check "with the subscription, the answer arrives" \
    grep -qF 'MSG $iothub/twin/res/200/?$rid=2 {"desired"' <<<"$out"
out=$(world_mqtt_tool 1 sub '$iothub/twin/res/200/?$rid=3' 1 \
    sub '$iothub/#' 1 sub '$iothub/methods/POST/#' 1 2>&1)
check_eq "only the hub's topic filters may be subscribed to (SUBACK 128 for the others)" \
    "SUBACK 128|SUBACK 128|SUBACK 1" "$(grep '^SUBACK' <<<"$out" | paste -sd'|')"

# Device 2 stays connected, subscribed to twin responses only.
world_mqtt_tool 2 sub '$iothub/twin/res/#' 1 wait 120 >"$T/dev2" 2>&1 &
dev2=$!
at_exit "kill $dev2 2>/dev/null"
wait_for 10 grep -q '^SUBACK' "$T/dev2" || diag "device 2 did not subscribe"
out=$(world_evcloud call --device "$ID2" --method 1 --timeout 20)
check_eq "a method to a device not subscribed to methods fails with 404 (exit 1)" \
    "1 404" "$? ${out%% *}"
check "... answered by the hub at once: the device never saw it" \
    bash -c "! grep -q 'methods/POST' '$T/dev2'"
out=$(world_evcloud call --device "$ID3" --method 1 --timeout 20)
check_eq "a method to a device that is offline fails with 404 at once (exit 1)" \
    "1 404" "$? ${out%% *}"
world_evcloud twin-set --device "$ID2" '{"mode":"gated"}' >/dev/null
check "a desired PATCH to a device not subscribed to desired changes is dropped" \
    wait_for 10 grep -qF "$ID2 has no subscription for \$iothub/twin/PATCH/properties/desired/" "$LOG"
admin_pub -t "devices/$ID2/messages/devicebound/c2d-1" -m 'c2d-1'
sleep 2
check_eq "device 2 received none of them" "" "$(msgs "$T/dev2")"

out=$(world_mqtt_tool 3 sub '$iothub/twin/PATCH/properties/desired/#' 1 \
    sub "devices/$ID3/messages/devicebound/#" 1 expect devicebound 20 2>&1 &
    sleep 3
    world_evcloud twin-set --device "$ID3" '{"mode":"subscribed"}' >/dev/null
    admin_pub -t "devices/$ID3/messages/devicebound/c2d-2" -m 'c2d-2'
    wait)
check "a subscribed device gets the desired PATCH, with its version" \
    grep -qE '^MSG \$iothub/twin/PATCH/properties/desired/\?\$version=[0-9]+ \{"mode":"subscribed"' <<<"$out"
check "... and the cloud-to-device message" \
    grep -qF "MSG devices/$ID3/messages/devicebound/c2d-2 c2d-2" <<<"$out"

# --- QoS 2 and retain ---------------------------------------------------------
out=$(world_mqtt_tool 1 sub '$iothub/methods/POST/#' 2 2>&1)
check_eq "a QoS 2 subscription is granted QoS 1" "SUBACK 1" "$(grep '^SUBACK' <<<"$out")"
out=$(world_mqtt_tool 1 pub "devices/$ID1/messages/events/" 'qos2' 2 0 wait 10 2>&1)
check "a QoS 2 publish closes the connection" grep -q '^CLOSED' <<<"$out"
tag="retained-$$-$RANDOM"
world_mqtt_tool 1 pub "devices/$ID1/messages/events/\$.ct=application%2Fjson" \
    "{\"tag\":\"$tag\"}" 1 1 wait 2 >/dev/null 2>&1
check "a retained publish goes on as telemetry, marked mqtt-retain=true" \
    wait_for 10 grep -qE "\"properties\":\"[^\"]*mqtt-retain=true\".*$tag|$tag.*\"properties\":\"[^\"]*mqtt-retain=true" \
    "$W/cloud/data/$ID1.jsonl"
out=$(ip netns exec "$WNS_INET" mosquitto_sub -h "$WORLD_HUB" -p 8883 \
    --cafile "$W/pki/ca.pem" -V mqttv311 -i "evcloud-late-$$" \
    -u "$WORLD_ADMIN" -P "$(cat "$W/cloud/admin.secret")" \
    -t "devices/$ID1/messages/events/#" -W 3 2>/dev/null)
check_eq "... and is not retained: a later subscriber gets nothing" "" "$out"

# --- keep-alive -----------------------------------------------------------------
out=$(world_mqtt_tool 1 -k 5 --no-ping idle 60 2>&1)
check "a connection silent for 1.5 x its keep-alive (5 s) is closed" \
    grep -q '^CLOSED' <<<"$out"
out=$(world_mqtt_tool 1 -k 5 wait 15 2>&1)
check_fails "a connection that pings within its keep-alive stays" \
    grep -q '^CLOSED' <<<"$out"

# --- SAS tokens: checked at CONNECT, closed at expiry ---------------------------
key=$(openssl rand -base64 32)
world_provision_sas "$ID1" "$key"
tok=$(world_sas_token "$ID1" "$key" $(( $(date +%s) + 8 )))
out=$(world_mqtt_tool 1 -P "$tok" idle 60 2>&1)
check "a valid SAS token is accepted" grep -q '^CONNACK 0' <<<"$out"
check "... and the hub closes the connection when the token expires" \
    grep -q '^CLOSED' <<<"$out"
check "... saying so in its log" \
    grep -q "iothub: $ID1: SAS token expired at .*: closing the connection" "$LOG"
out=$(world_mqtt_tool 1 -P "$tok" 2>&1)
check_eq "the same token is refused at CONNECT afterwards" "CONNACK 5" "$out"

# --- one connection per device id ----------------------------------------------
world_mqtt_tool 1 idle 60 >"$T/first" 2>&1 &
first=$!
at_exit "kill $first 2>/dev/null"
wait_for 10 grep -q '^CONNACK 0' "$T/first" || diag "the first connection did not connect"
world_mqtt_tool 1 wait 2 >/dev/null 2>&1
check "a second connection with the device's id closes the first" \
    wait_for 10 grep -q '^CLOSED' "$T/first"

# --- the throttle -----------------------------------------------------------------
world_hub_throttle "$ID1" reported 2
out=$(world_mqtt_tool 1 sub '$iothub/twin/res/#' 1 \
    pub '$iothub/twin/PATCH/properties/reported/?$rid=t1' '{"t":1}' 1 0 expect 'rid=t1' 10 \
    pub '$iothub/twin/PATCH/properties/reported/?$rid=t2' '{"t":2}' 1 0 expect 'rid=t2' 10 \
    pub '$iothub/twin/PATCH/properties/reported/?$rid=t3' '{"t":3}' 1 0 expect 'rid=t3' 10 2>&1)
check_eq "a throttled device's reported PATCHes get 429, then 204 again" \
    "429 429 204" "$(msgs <<<"$out" | sed -E 's#^MSG \$iothub/twin/res/([0-9]+)/.*#\1#' | paste -sd' ')"
check_eq "... and the twin has only the one that was accepted" "3" \
    "$(world_evcloud twin --device "$ID1" | python3 -c '
import json, sys
print(json.load(sys.stdin)["reported"].get("t"))')"
world_hub_throttle "$ID1" connect 1
out=$(world_mqtt_tool 1 2>&1)
check_eq "a throttled CONNECT is refused" "CONNACK 5" "$out"
out=$(world_mqtt_tool 1 2>&1)
check_eq "... once: the next one is accepted" "CONNACK 0" "$out"
