#!/bin/bash
# world_relay: in the test world, the relay is a charger's only way out,
# and through it a charger reaches exactly its cloud with end-to-end TLS:
# MQTT to the hub (recorded by the cloud), HTTPS with Range to the
# firmware host; and the internet's DNS and NTP serve the gateway.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

WORLD_DEVICE=none	# this test is the device
if ! world_up 2; then
	not_ok "world up with 2 chargers"
	exit 1
fi
ok "world up with 2 chargers"
CA=$W/pki/ca.pem
ID1=$(world_id 1)

# --- no way around the relay -------------------------------------------------
tcp_connect() {	# tcp_connect I ADDR PORT: from charger I, 5 s at most
	world_in "$1" timeout 5 bash -c "exec 3<>/dev/tcp/$2/$3"
}
check_fails "a charger cannot connect to the hub's address directly" \
    tcp_connect 1 203.0.113.10 8883
check_fails "a charger cannot connect to the web host's address directly" \
    tcp_connect 1 203.0.113.20 443
check_fails "a charger cannot reach the public DNS directly" \
    world_in 1 dig +time=2 +tries=1 @203.0.113.53 "$WORLD_HUB"
check_fails "a charger cannot reach the internet's NTP server directly" \
    world_in 1 ntpdig -t 2 203.0.113.123
check "the gateway itself reaches the hub (so the above is the gateway's doing)" \
    port_open "$WNS_GW" 203.0.113.10 8883

# --- DNS and NTP in the internet ---------------------------------------------
check_eq "the public DNS answers the hub name" "203.0.113.10" \
    "$(in_ns "$WNS_GW" dig +short +time=2 +tries=1 @203.0.113.53 "$WORLD_HUB" A)"
check_eq "the public DNS answers no.pool.ntp.org" "203.0.113.123" \
    "$(in_ns "$WNS_GW" dig +short +time=2 +tries=1 @203.0.113.53 no.pool.ntp.org A)"
check_eq "the public DNS knows no other name (NXDOMAIN)" "NXDOMAIN" \
    "$(in_ns "$WNS_GW" dig +time=2 +tries=1 @203.0.113.53 example.com A |
	sed -n 's/.*status: \([A-Z]*\).*/\1/p')"
ntp=$(in_ns "$WNS_GW" ntpdig -t 3 203.0.113.123 2>&1)
if [[ $ntp == *" 203.0.113.123 s1 "* ]]; then
	ok "chronyd in the internet serves time at stratum 1 (ntpdig from the gateway)"
else
	not_ok "chronyd in the internet serves time at stratum 1 (ntpdig from the gateway)" "$ntp"
fi

# --- MQTT through the relay ---------------------------------------------------
marker="world-relay-$$-$RANDOM"
check "a charger publishes telemetry through the relay (TLS, CA verified, its secret)" \
    world_mqtt 1 mosquitto_pub -q 1 \
    -t "devices/$ID1/messages/events/" -m "{\"marker\":\"$marker\"}"
if wait_for 10 grep -q "$marker" "$W/cloud/data/$ID1.jsonl"; then
	ok "the cloud recorded it for $ID1"
else
	not_ok "the cloud recorded it for $ID1"
fi
check_eq "the record has the payload and a receive time" "$marker True" \
    "$(world_evcloud telemetry --device "$ID1" | grep "$marker" | python3 -c '
import json, sys
r = json.loads(sys.stdin.readline())
print(r["payload"]["marker"], r["received"].endswith("Z"))')"
check_fails "a wrong secret is refused by the hub" \
    world_in 1 mosquitto_pub -h "$WORLD_HUB" -p 8883 --cafile "$CA" \
    -i "$ID1" -u "$(world_user "$ID1")" -P wrong-secret -t "devices/$ID1/messages/events/" -m x
make_ca "$T/otherca" >/dev/null
check_fails "a client that trusts another CA rejects the hub's certificate" \
    world_in 1 mosquitto_pub -h "$WORLD_HUB" -p 8883 --cafile "$T/otherca/ca.pem" \
    -i "$ID1" -u "$(world_user "$ID1")" -P "$(cat "$(world_secret_file "$ID1")")" \
    -t "devices/$ID1/messages/events/" -m x
check "TLS 1.2 to the hub through the relay, certificate verified" \
    bash -c "ip netns exec $(world_ns 1) openssl s_client -connect $WORLD_HUB:8883 \
	-servername $WORLD_HUB -CAfile $CA -verify_return_error -brief </dev/null 2>&1 |
	grep -q 'Protocol version: TLSv1.2'"
check_fails "the hub refuses TLS 1.3 (capped at 1.2 like the classic endpoint)" \
    bash -c "ip netns exec $(world_ns 1) openssl s_client -tls1_3 -connect $WORLD_HUB:8883 \
	-servername $WORLD_HUB -CAfile $CA </dev/null 2>&1 | grep -q 'Protocol version: TLSv1.3'"
check "the hub's TLS 1.3 refusal is a protocol alert, not a missing server" \
    bash -c "ip netns exec $(world_ns 1) openssl s_client -tls1_3 -connect $WORLD_HUB:8883 \
	-servername $WORLD_HUB -CAfile $CA </dev/null 2>&1 | grep -q 'alert protocol version'"

# --- HTTPS through the relay ----------------------------------------------------
img=$WORLD_FIRMWARE_DIR/test-image.bin
url=https://devices.zaptec.com/firmware/test-image.bin
code=$(world_in 2 curl -sS --cacert "$CA" -r 1000-4999 -o "$T/part" \
    -w '%{http_code}' "$url" 2>&1)
check_eq "a Range request for firmware through the relay gets 206" "206" "$code"
check "the 4000 bytes are the image's bytes 1000-4999" \
    cmp "$T/part" <(tail -c +1001 "$img" | head -c 4000)
check_eq "a whole download matches the image" "$(sha256sum <"$img")" \
    "$(world_in 2 curl -sS --cacert "$CA" "$url" | sha256sum)"
check "the API host answers through the relay too" \
    world_in 2 curl -sSf --cacert "$CA" -o /dev/null https://api.zaptec.com/
check_fails "a name that is not allowed gets nowhere (the relay refuses it)" \
    world_in 2 curl -sS --max-time 5 --cacert "$CA" \
    --resolve www.example.com:443:10.42.0.1 -o /dev/null https://www.example.com/

# --- what the gateway saw -------------------------------------------------------------
st=$(world_ctl --json status)
check "evgatectl counts relayed connections and bytes" \
    python3 -c 'import json,sys; r=json.loads(sys.argv[1])["relay"]
assert r["relayed"] >= 5 and r["bytes_up"] > 0 and r["bytes_down"] > 1048576, r' "$st"
check "evgatectl counts the refused name" \
    python3 -c 'import json,sys; r=json.loads(sys.argv[1])["relay"]
assert sum(r["refused"].values()) >= 1, r' "$st"
