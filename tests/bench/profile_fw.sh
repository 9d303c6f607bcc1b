#!/bin/bash
# tests/bench/profile_fw.sh: callgrind profile of the charger firmware's
# paths -- a charging session (meter values every second, telemetry through
# the gateway's relay) and a firmware download (HTTPS through the relay,
# streamed into the inactive slot while hashing, signature and hash checks)
# -- in a one-charger test world built from the -O2 build (run
# scripts/bench once first: it builds build-bench/).
#
#   tests/bench/profile_fw.sh [SESSION_SECONDS] [IMAGE_SIZE]
#
# The raw profile is build-bench/profile/callgrind.fw.PID.out, dumped when
# the charger enters hal_reboot() to start the new image: it covers boot,
# the cloud link, the session and the whole download and verification.
# The re-exec itself is not followed: the Linux HAL re-executes
# /proc/self/exe, which under valgrind is valgrind's own tool binary.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export EVGATE_BUILD=${EVGATE_BUILD:-$top/build-bench}
export EVG_PREFIX=evpf$(($$ % 1000))
export WORLD_SITE=1 WORLD_CHARGER_ADDR=evcharger WORLD_CHARGER_HOSTS=0
export WORLD_DEVICE=evcharger WORLD_FW_METER=1 WORLD_FW_TELEMETRY=60
secs=${1:-30}
size=${2:-8M}
pdir=$EVGATE_BUILD/profile
mkdir -p "$pdir"
rm -f "$pdir"/callgrind.fw.*
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/world.sh"
at_exit world_down
world_up 1 || { echo "world did not come up" >&2; exit 1; }
id=$(world_id 1)
dir=$(world_fw_dir 1)
world_stop "evcharger-$id"
ip netns exec "$(world_ns 1)" valgrind --tool=callgrind --dump-before=hal_reboot \
    --callgrind-out-file="$pdir/callgrind.fw.%p.out" "$EVCHARGER" -c "$dir/evcharger.yaml" \
    >"$W/log/evcharger-valgrind.log" 2>&1 &
vpid=$!
at_exit "kill -9 $vpid"
wait_for 180 world_device_ready_evcharger 1 ||
    { echo "the charger did not connect under valgrind" >&2; exit 1; }
world_fw_ctl 1 plug >/dev/null
sleep 2
world_evcloud call --device "$id" --method 501 --payload '["16","3"]' --timeout 60
sleep "$secs"
world_evcloud call --device "$id" --method 502 --timeout 60
world_fw_ctl 1 unplug >/dev/null
echo "session: $(world_fw_status 1 'd["cloud"]["published"]') messages published"
WORLD_FIRMWARE_DIR=$W/www/devices.zaptec.com/firmware
url=$(world_fw_release 9.9.9 0 "$size")
world_evcloud call --device "$id" --method 200 --payload "\"$url\"" --timeout 60
# The download ends in hal_reboot(), where callgrind writes the profile.
dumped() { ls "$pdir"/callgrind.fw.*.out* 2>/dev/null | while read -r f; do [ -s "$f" ] && echo "$f"; done | grep -q .; }
wait_for 900 dumped || { echo "the update did not reach the reboot" >&2; tail -20 "$W/log/evcharger-valgrind.log" >&2; exit 1; }
sleep 2
grep -h 'firmware: \(verifying\|rebooting\)\|slot . holds' "$W/log/evcharger-valgrind.log" | tail -3
kill -9 "$vpid" 2>/dev/null
out=$(ls -S "$pdir"/callgrind.fw.*.out* | head -1)
[ -s "$out" ] || { echo "no profile written" >&2; exit 1; }
echo "profile: $out"
callgrind_annotate "$out" 2>/dev/null | sed -n '/PROGRAM TOTALS/p'
callgrind_annotate --inclusive=no "$out" 2>/dev/null | sed -n '/^Ir/,$p' | head -30
callgrind_annotate --inclusive=yes "$out" 2>/dev/null | sed -n '/^Ir/,$p' | head -40
