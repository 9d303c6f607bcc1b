#!/bin/bash
# fwupdate_world: signed A/B firmware updates of a real evcharger in the
# test world.  The images are signed with evfw-sign and served by the
# world's nginx (devices.zaptec.com, TLS from the test CA); the charger
# fetches them through the gateway's relay on 443 and is told to by the
# cloud (evcloud call: direct method 200; evcloud twin-set: the desired
# "firmware" property).
#
# Checked: a tampered image and a downgrade are refused and leave the
# running slot alone; a good image is downloaded, booted, self-tested,
# confirmed and reported (twin and telemetry), with the anti-rollback
# floor raised; a charger killed (-9) in mid-download resumes with a
# Range request after its restart instead of starting over; method 202
# will not go below the floor; a new image that cannot reach the cloud
# fails its self-test and the boot loader goes back to the previous slot,
# which reports the rollback.
#
# The charger is evcharger itself: its own DHCP client gets the reserved
# lease from the gateway (WORLD_SITE=1: evgated's dnsmasq), its DNS is the
# gateway's, which steers the cloud names to the relay, and its clock
# comes from the gateway's NTP service.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

EVCHARGER=$BUILD/charger-fw/evcharger
EVPROVISION=$BUILD/charger-fw/evprovision
SIGN=$BUILD/charger-fw/tools/evfw-sign
for f in "$EVCHARGER" "$EVPROVISION" "$SIGN"; do
	[ -x "$f" ] || { not_ok "built: $f"; exit 1; }
done

# --- the charger: evcharger as the world's device ----------------------

KEYS=$T/keys
"$SIGN" keygen --key-id vendor-2026a --out "$KEYS" >/dev/null &&
"$SIGN" keygen --key-id vendor-2027a --out "$KEYS" >/dev/null ||
	{ not_ok "signing keys"; exit 1; }
PUB1=$("$SIGN" pubkey "$KEYS/vendor-2026a.pub")
PUB2=$("$SIGN" pubkey "$KEYS/vendor-2027a.pub")

# The world's evcharger device (world.d/fw_evcharger.bash), trusting this
# test's two keys instead of the world's release key; log at debug, the
# RTC right from the first boot.
WORLD_FW_LOG_LEVEL=debug
WORLD_FW_KEEPALIVE=60
WORLD_FW_RTC_OFFSET=0
WORLD_FW_EXTRA="firmware:
  product: evcharger-sim
  selftest: 30
  low_speed_limit: 1000
  low_speed_time: 10
  keys:
    - id: vendor-2026a
      key: $PUB1
    - id: vendor-2027a
      key: $PUB2"

fw_state() { echo "$(world_fw_dir "$1")/state"; }
fw_status() { world_fw_ctl "$1" status 2>/dev/null; }
fw_run() { world_device_start_evcharger "$1"; }	# start or restart

WORLD_DEVICE=evcharger
WORLD_CHARGER_ADDR=evcharger
WORLD_CHARGER_HOSTS=0
WORLD_SITE=1
WORLD_NTP_POLL="16s 16s"
if ! world_up 1; then
	not_ok "world up with evcharger" "$(tail -20 "$W"/log/evcharger-*.log 2>/dev/null)"
	exit 1
fi
ok "world up: evcharger connected to the hub through the relay"
check_eq "evcharger's own DHCP client has its reserved lease from the gateway" \
	"$(world_ip 1)" "$(json_get "$(fw_status 1)" 'd["dhcp"]["address"]' 2>/dev/null)"

ID=$(world_id 1)
STATE=$(fw_state 1)
FWDIR=$WORLD_FIRMWARE_DIR
URL=https://devices.zaptec.com/firmware
ACCESS=$W/inet/nginx/access.log

# --- releases ----------------------------------------------------------

release() {	# release NAME VERSION SECVER KEY-ID [SIZE-KiB]: a signed image
	head -c $((${5:-2048} * 1024)) /dev/urandom >"$FWDIR/$1.bin"
	"$SIGN" sign --key "$KEYS/$4.key" --key-id "$4" \
	    --product evcharger-sim --version "$2" --security-version "$3" \
	    --expires 30d "$FWDIR/$1.bin" >/dev/null
}
release evc-2.0.0 2.0.0 2 vendor-2026a &&
release evc-2.1.0 2.1.0 2 vendor-2026a &&
release evc-1.9.0 1.9.0 1 vendor-2026a &&
release evc-3.0.0 3.0.0 3 vendor-2027a 6144 &&
release evc-3.1.0 3.1.0 3 vendor-2027a ||
	{ not_ok "signed releases"; exit 1; }
# Tampered after signing: one byte changed in the image.
printf 'X' | dd of="$FWDIR/evc-2.1.0.bin" bs=1 seek=4096 conv=notrunc 2>/dev/null
chmod -R a+rX "$FWDIR"

boot() { sed -n "s/^$1=//p" "$STATE/boot-state"; }
twin_fw() {	# twin_fw EXPR: python expression on the reported firmware
	json_get "$(cat "$W/cloud/data/$ID.twin.json" 2>/dev/null)" \
	    "d[\"reported\"][\"firmware\"]$1" 2>/dev/null
}
twin_is() { [ "$(twin_fw "$1")" = "$2" ]; }
slot_sum() { sha256sum "$STATE/slot-$1.img" 2>/dev/null | cut -d' ' -f1; }
call() {	# call METHOD PAYLOAD: "STATUS BODY" from the charger
	world_evcloud call --device "$ID" --method "$1" --payload "$2" \
	    --timeout 20 2>&1
}

check_eq "the charger starts on its factory image in slot A" 0 "$(boot active)"
factory=$(boot version_a)
A0=$(slot_sum a)

# --- refusals ----------------------------------------------------------

out=$(call 200 "{\"url\":\"$URL/evc-2.1.0.manifest\"}")
case "$out" in
200*accepted*) ok "method 200 with a tampered image: accepted (works asynchronously)" ;;
*) not_ok "method 200 with a tampered image: accepted" "$out" ;;
esac
if wait_for 60 twin_is '["state"]' failed; then
	ok "tampered image refused (twin: $(twin_fw '["error"]'))"
else
	not_ok "tampered image refused" "$(cat "$W/cloud/data/$ID.twin.json")" \
	    "$(tail -20 "$W/log/evcharger-$ID.log")"
fi
check "the error names the hash" grep -q "SHA-256" <<<"$(twin_fw '["error"]')"
check_eq "tampered: still slot A" 0 "$(boot active)"
check_eq "tampered: nothing marked to boot" 0 "$(boot try_once)"
check_eq "tampered: slot B holds no image" "" "$(boot version_b)"
check_eq "tampered: the running slot is untouched" "$A0" "$(slot_sum a)"
check "the download went through the relay (nginx saw the gateway)" \
	grep -q "^$WORLD_GW_WAN .*GET /firmware/evc-2.1.0.bin HTTP/1.1\" 200" "$ACCESS"

out=$(call 200 "{\"url\":\"$URL/evc-2.0.0.manifest\",\"version\":\"2.0.0\"}")
case "$out" in
200*) ok "method 200 for 2.0.0 accepted" ;;
*) not_ok "method 200 for 2.0.0 accepted" "$out" ;;
esac
if wait_for 120 twin_is '["version"]' 2.0.0 && wait_for 30 twin_is '["state"]' idle; then
	ok "2.0.0 installed, booted, confirmed and reported in the twin"
else
	not_ok "2.0.0 installed and confirmed" "$(cat "$W/cloud/data/$ID.twin.json")" \
	    "$(grep -i firmware "$W/log/evcharger-$ID.log" | tail -20)"
fi
check_eq "2.0.0 runs from slot B" 1 "$(boot active)"
check_eq "slot B confirmed" 1 "$(boot confirmed)"
check_eq "the floor rose to 2 after confirmation" 2 "$(boot security_floor)"
check_eq "slot A still holds the previous image" "$factory" "$(boot version_a)"
check_eq "the running slot was never written during the update" "$A0" "$(slot_sum a)"
check_eq "slot B holds exactly the signed image" \
	"$(sha256sum "$FWDIR/evc-2.0.0.bin" | cut -d' ' -f1)" \
	"$(head -c "$(stat -c %s "$FWDIR/evc-2.0.0.bin")" "$STATE/slot-b.img" | sha256sum | cut -d' ' -f1)"
check "the evcharger process re-executed itself (reboot)" \
	grep -q "rebooting" "$W/log/evcharger-$ID.log"
tel_908() {	# tel_908 VERSION: telemetry said this version runs
	grep -q "\"Value\":\"$1\",\"ObservationId\":908" \
	    "$W/cloud/data/$ID.jsonl" 2>/dev/null
}
if wait_for 30 tel_908 2.0.0; then
	ok "telemetry reports version 2.0.0 (observation 908)"
else
	not_ok "telemetry reports version 2.0.0" "$(tail -3 "$W/cloud/data/$ID.jsonl")"
fi
check "telemetry carries the update state (observation 920)" \
	grep -q '"ObservationId":920' "$W/cloud/data/$ID.jsonl"

B0=$(slot_sum b)
out=$(call 200 "\"$URL/evc-1.9.0.manifest\"")
if wait_for 60 bash -c "grep -q 'below the floor 2' '$W/cloud/data/$ID.twin.json'"; then
	ok "downgrade to 1.9.0 (security_version 1) refused: below the floor"
else
	not_ok "downgrade refused" "$out" "$(cat "$W/cloud/data/$ID.twin.json")"
fi
check_fails "downgrade: the image was never even fetched" \
	grep -q "GET /firmware/evc-1.9.0.bin" "$ACCESS"
check_eq "downgrade: still 2.0.0 from slot B" "1 2.0.0" "$(boot active) $(boot version_b)"
check_eq "downgrade: the running slot is untouched" "$B0" "$(slot_sum b)"

# --- kill -9 in mid-download, then resume -------------------------------

# Slow the PLC port towards the charger so the 6 MiB image takes a while.
ip netns exec "$WNS_PLC" tc qdisc replace dev c1 root tbf rate 2mbit \
	burst 16kb latency 400ms
world_evcloud twin-set --device "$ID" \
	"{\"firmware\":{\"url\":\"$URL/evc-3.0.0.manifest\",\"version\":\"3.0.0\"}}" >/dev/null
job_off() { sed -n 's/^off=//p' "$STATE/kv/fwupdate.job" 2>/dev/null; }
past() { local o; o=$(job_off); [ -n "$o" ] && [ "$o" -ge "$1" ]; }
if wait_for 60 past 1048576; then
	ok "twin desired 3.0.0: download under way ($(job_off) bytes durable)"
else
	not_ok "twin desired 3.0.0 started a download" "$(cat "$STATE/kv/fwupdate.job" 2>&1)" \
	    "$(tail -20 "$W/log/evcharger-$ID.log")"
fi
kill -9 "$(world_pid "evcharger-$ID")"
sleep 0.5
killed_at=$(job_off)
check "killed in mid-download (at byte $killed_at of 6291456)" \
	test "$killed_at" -lt 6291456
ip netns exec "$WNS_PLC" tc qdisc replace dev c1 root tbf rate 10mbit \
	burst 32kb latency 100ms
fw_run 1
if wait_for 180 twin_is '["version"]' 3.0.0 && wait_for 30 twin_is '["state"]' idle; then
	ok "after the restart the update finished: 3.0.0 confirmed"
else
	not_ok "update finished after the restart" "$(cat "$W/cloud/data/$ID.twin.json")" \
	    "$(grep -i firmware "$W/log/evcharger-$ID.log" | tail -20)"
fi
check "nginx served the rest of the image as a Range (206) request" \
	grep -q "GET /firmware/evc-3.0.0.bin HTTP/1.1\" 206" "$ACCESS"
# (nginx counts the first request as whole: the relay and the socket
# buffers took it all before the charger died; what matters is where the
# second one started.)
rest=$(awk '$7 == "/firmware/evc-3.0.0.bin" && $9 == 206 { print $10 }' "$ACCESS")
check_eq "the resumed request carried only the bytes after the $killed_at durable ones" \
	$((6291456 - killed_at)) "$rest"
check_eq "3.0.0 runs from slot A, floor 3" "0 3.0.0 3" \
	"$(boot active) $(boot version_a) $(boot security_floor)"

out=$(call 202 '{}')
case "$out" in
400*floor*) ok "method 202 refuses to roll back below the floor ($out)" ;;
*) not_ok "method 202 refuses to roll back below the floor" "$out" ;;
esac

# --- a new image that cannot reach the cloud: rollback ------------------

out=$(call 200 "\"$URL/evc-3.1.0.manifest\"")
case "$out" in
200*) ok "method 200 for 3.1.0 accepted" ;;
*) not_ok "method 200 for 3.1.0 accepted" "$out" ;;
esac
# From now on the charger cannot reach the hub (HTTPS still works).
nft_ns() { ip netns exec "$(world_ns 1)" nft "$@"; }
nft_ns add table inet fwtest &&
nft_ns add chain inet fwtest out '{ type filter hook output priority 0; }' &&
nft_ns add rule inet fwtest out tcp dport 8883 drop ||
	not_ok "block MQTT from the charger"
tried() { [ "$(boot version_b)" = 3.1.0 ] && [ "$(boot trying)" = 1 ]; }
if wait_for 60 tried; then
	ok "3.1.0 downloaded and booted on trial from slot B"
else
	not_ok "3.1.0 booted on trial" "$(cat "$STATE/boot-state")"
fi
back() { [ "$(boot active)" = 0 ] && [ "$(boot rolled_back)" = 1 ]; }
if wait_for 90 back; then
	ok "no cloud within the self-test time: the boot loader went back to slot A"
else
	not_ok "rolled back to slot A" "$(cat "$STATE/boot-state")" \
	    "$(grep -i 'firmware\|boot' "$W/log/evcharger-$ID.log" | tail -10)"
fi
check_eq "the floor stayed at 3" 3 "$(boot security_floor)"
nft_ns delete table inet fwtest
if wait_for 90 twin_is '["state"]' rolled_back; then
	ok "the previous image reports the rollback: $(twin_fw '["error"]')"
else
	not_ok "rollback reported" "$(cat "$W/cloud/data/$ID.twin.json")"
fi
check_eq "it runs 3.0.0 again" 3.0.0 "$(twin_fw '["version"]')"
check "the reason is the self-test" grep -q "self-test failed: no cloud" \
	<<<"$(twin_fw '["error"]')"
if wait_for 30 bash -c "[ \"\$(sed -n 's/^rolled_back=//p' '$STATE/boot-state')\" = 0 ]"; then
	ok "reported: the boot record's rollback flag is cleared"
else
	not_ok "rollback flag cleared" "$(cat "$STATE/boot-state")"
fi
