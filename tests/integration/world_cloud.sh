#!/bin/bash
# world_cloud: the cloud stand-in behaves like the IoT hub towards many
# devices on one broker: each device sees only its own topics and its own
# $iothub traffic; direct methods and twins work end to end through the
# relay (evcloud call / twin-set against a stand-in device).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

# Device 1 runs the stand-in (evcloud device).  The others are played by
# mosquitto clients, one role each, because a second connection with the
# same client id would push the first off the hub:
#   2 listens to everything it can subscribe to (must hear nothing)
#   3 listens to its own direct methods
#   4 tries what a misbehaving device might, and asks for its twin
WORLD_DEVICE=none
if ! world_up 4; then
	not_ok "world up with 4 chargers"
	exit 1
fi
ok "world up with 4 chargers"
ID1=$(world_id 1) ID2=$(world_id 2) ID3=$(world_id 3) ID4=$(world_id 4)
WORLD_DEVICE=standin
world_device_start 1
if wait_for 20 world_device_ready 1; then
	ok "the stand-in device $ID1 is connected through the relay"
else
	not_ok "the stand-in device $ID1 is connected through the relay" \
	    "$(tail -5 "$W/log/device-$ID1.log")"
fi

world_mqtt 2 mosquitto_sub -v -q 1 -t '$iothub/#' -t '#' -t 'hub/#' \
    -t 'hub-to/#' -t "devices/$ID1/#" >"$T/snoop" 2>"$T/snoop.err" &
snoop=$!
at_exit "kill $snoop"
world_mqtt 3 mosquitto_sub -v -q 1 -t '$iothub/methods/POST/#' \
    >"$T/dev3" 2>"$T/dev3.err" &
dev3=$!
at_exit "kill $dev3"
# Both subscribed: each has a relayed hub connection in SPLICE, and the
# broker logged their subscriptions.
subscribed() {
	grep -q "$ID2 1 #" "$W/log/mosquitto.log" &&
	    grep -q "$ID3 1 \$iothub/methods/POST/#" "$W/log/mosquitto.log"
}
wait_for 10 subscribed || diag "subscriptions not seen in the broker log"

# --- direct methods --------------------------------------------------------------
check_eq "method 501 (start charging) round trip: the device answers 200" \
    '{"status":200,"payload":{"mode":3}}' \
    "$(world_evcloud call --device "$ID1" --method 501 --payload '["16","3"]' --json)"
cloud_mode() {
	world_evcloud devices --json | python3 -c '
import json, sys
print(json.load(sys.stdin)["devices"][sys.argv[1]]["mode"])' "$1"
}
mode_is() { [ "$(cloud_mode "$1")" = "$2" ]; }
if wait_for 10 mode_is "$ID1" 3; then
	ok "the cloud recorded the device's new operation mode (710 = 3, charging)"
else
	not_ok "the cloud recorded the device's new operation mode (710 = 3)" \
	    "mode: $(cloud_mode "$ID1")"
fi
out=$(world_evcloud call --device "$ID1" --method 501)
check_eq "a second 501 is refused by the device: 400, exit 1" \
    '1 400 {"message":"already charging"}' "$? $out"
out=$(world_evcloud call --device "$ID1" --method 502)
check_eq "method 502 (stop charging): 200, exit 0" '0 200 {"mode":5}' "$? $out"
if wait_for 10 mode_is "$ID1" 5; then
	ok "the cloud recorded 710 = 5 (finished)"
else
	not_ok "the cloud recorded 710 = 5 (finished)" "mode: $(cloud_mode "$ID1")"
fi
world_evcloud call --device "$ID3" --method 1 --timeout 3 >/dev/null 2>&1
check_eq "a method nobody answers times out: exit 2" "2" "$?"
if wait_for 5 grep -q '^\$iothub/methods/POST/1/?\$rid=' "$T/dev3"; then
	ok "... the request did reach that device alone, as \$iothub/methods/POST/1"
else
	not_ok "... the request did reach that device" "$(cat "$T/dev3" "$T/dev3.err")"
fi
check_fails "a payload that is not JSON is refused before sending" \
    world_evcloud call --device "$ID1" --method 501 --payload '{oops'

# --- twins -------------------------------------------------------------------------
twin_get() {	# twin_get PYTHON-EXPR-ON-t
	world_evcloud twin --device "$ID1" | python3 -c '
import json, sys
t = json.load(sys.stdin)
v = eval(sys.argv[1])
print(*(v if isinstance(v, tuple) else (v,)))' "$1"
}
check_eq "the device reported to its twin after connecting" "evcloud-standin" \
    "$(twin_get 't["reported"]["firmware"]')"
check_eq "twin-set: the desired patch gets version 2" '{ "$version": 2 }' \
    "$(world_evcloud twin-set --device "$ID1" '{"maxCurrent":{"value":16}}')"
applied() { [ "$(twin_get 't["reported"].get("desiredVersion")')" = 2 ]; }
if wait_for 10 applied; then
	ok "the device got the patch and reported desiredVersion 2 back"
else
	not_ok "the device got the patch and reported desiredVersion 2 back" \
	    "$(tail -3 "$W/log/device-$ID1.log")"
fi
check_eq "the twin as the cloud holds it" "16 2" \
    "$(twin_get 't["desired"]["maxCurrent"]["value"], t["desired"]["$version"]')"
# mqtt_tool: one connection that subscribes to the twin's responses (the
# hub answers only through that subscription), publishes, and prints what
# it receives ("MSG topic payload").
check_eq "twin GET from a plain client: 200, desired and reported" \
    'MSG $iothub/twin/res/200/?$rid=7 {"desired":{"$version":1},"reported":{"$version":1}}' \
    "$(world_mqtt_tool 4 sub '$iothub/twin/res/#' 1 \
	pub '$iothub/twin/GET/?$rid=7' '' 0 0 expect 'rid=7' 10 2>&1 | grep '^MSG')"
check_eq "reported PATCH from a plain client: 204 with the new version" \
    'MSG $iothub/twin/res/204/?$rid=8&$version=2' \
    "$(world_mqtt_tool 4 sub '$iothub/twin/res/#' 1 \
	pub '$iothub/twin/PATCH/properties/reported/?$rid=8' '{"x":1}' 1 0 \
	expect 'rid=8' 10 2>&1 | grep '^MSG' | sed 's/ $//')"

# --- isolation ---------------------------------------------------------------------
spoof="spoof-$$-$RANDOM"
world_mqtt 4 mosquitto_pub -q 1 -t "devices/$ID1/messages/events/" -m "$spoof" >/dev/null 2>&1
world_mqtt 4 mosquitto_pub -q 1 -t "hub/$ID1/methods/res/200/?\$rid=1" -m "$spoof" >/dev/null 2>&1
world_mqtt 4 mosquitto_pub -q 1 -t "hub-to/$ID1/methods/POST/502/?\$rid=1" -m "$spoof" >/dev/null 2>&1
world_mqtt 4 mosquitto_pub -q 1 -t "devices/$ID3/messages/devicebound/x" -m "$spoof" >/dev/null 2>&1
# ... then what it may publish: once recorded, the broker had them all.
world_mqtt 4 mosquitto_pub -q 1 -t "devices/$ID4/messages/events/" -m "{\"after\":\"$spoof\"}"
wait_for 10 grep -q "$spoof" "$W/cloud/data/$ID4.jsonl" ||
    diag "device 4's own telemetry was not recorded"
check_fails "telemetry sent in another device's name is not recorded" \
    grep -q "$spoof" "$W/cloud/data/$ID1.jsonl"
check_fails "a device cannot call another device's methods (hub-to/ is the cloud's)" \
    grep -q 'method 502 (rid 1,' "$W/log/device-$ID1.log"
check_fails "a device cannot log in under another device's client id" \
    world_in 4 mosquitto_pub -h "$WORLD_HUB" -p 8883 --cafile "$W/pki/ca.pem" \
    -i "$ID1" -u "$(world_user "$ID4")" -P "$(cat "$(world_secret_file "$ID4")")" \
    -t "devices/$ID1/messages/events/" -m x
check_fails "a device that publishes at QoS 2 is disconnected, as by the hub" \
    world_mqtt 4 mosquitto_pub -q 2 -t "devices/$ID4/messages/events/" -m x

# --- SharedAccessSignature tokens, as real hubs take them -------------------------
key=$(openssl rand -base64 32)
world_provision_sas "$ID4" "$key"
sas_pub() {	# sas_pub TOKEN MESSAGE: device 4 publishes with TOKEN as password
	world_in 4 mosquitto_pub -h "$WORLD_HUB" -p 8883 --cafile "$W/pki/ca.pem" \
	    -V mqttv311 -i "$ID4" -u "$(world_user "$ID4")" -P "$1" -q 1 \
	    -t "devices/$ID4/messages/events/" -m "$2"
}
now=$(date +%s)
check "a valid SAS token (expiry in an hour) is accepted" \
    sas_pub "$(world_sas_token "$ID4" "$key" $((now + 3600)))" "sas-ok-$spoof"
if wait_for 10 grep -q "sas-ok-$spoof" "$W/cloud/data/$ID4.jsonl"; then
	ok "... and what the device sent with it is recorded"
else
	not_ok "... and what the device sent with it is recorded"
fi
check_fails "an expired SAS token is refused (a device with a wrong clock)" \
    sas_pub "$(world_sas_token "$ID4" "$key" $((now - 60)))" x
check "... and the hub's log says why" \
    grep -q "$ID4: SAS token expired .*clock" "$W/log/mosquitto.log"
check_fails "a SAS token signed with another key is refused" \
    sas_pub "$(world_sas_token "$ID4" "$(openssl rand -base64 32)" $((now + 3600)))" x
check_fails "a SAS token for another device's resource is refused" \
    sas_pub "$(world_sas_token "$ID1" "$key" $((now + 3600)))" x
check_fails "a malformed SAS token is refused" \
    sas_pub "SharedAccessSignature sr=x&se=notanumber" x

if kill -0 "$snoop" 2>/dev/null; then
	ok "the listening device stayed connected all along"
else
	not_ok "the listening device stayed connected all along" "$(cat "$T/snoop.err")"
fi
kill "$snoop" 2>/dev/null
wait "$snoop" 2>/dev/null
check_eq "it heard nothing: no method, twin answer, telemetry or hub traffic of others" \
    "" "$(cat "$T/snoop")"
