#!/bin/bash
# fw_dhcp: the firmware's DHCP client against the gateway's dnsmasq, on
# the PLC segment of the world:
#   - after a restart it asks for the lease it kept (INIT-REBOOT: a
#     REQUEST, no DISCOVER) and checks the address with ARP first;
#   - an address another host already uses is found by the ARP probe
#     (RFC 5227), DECLINEd and never configured; the charger takes the
#     next address the gateway offers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

WORLD_SITE=1
WORLD_CHARGER_ADDR=evcharger
WORLD_CHARGER_HOSTS=0
WORLD_DEVICE=evcharger
WORLD_FW_LOG_LEVEL=debug
if ! world_up 2; then
	not_ok "world up with 2 evcharger chargers"
	exit 1
fi
ok "world up with 2 evcharger chargers"
ID2=$(world_id 2)
IP2=$(world_ip 2)
NS2=$(world_ns 2)
LOG2=$W/log/evcharger-$ID2.log
st() { world_fw_status "$@"; }
is() { [ "$(st "$1" "$2")" = "$3" ]; }
has_ip2() { ip -n "$NS2" -4 -o addr show dev eth0 | grep -q " $IP2/"; }

check_eq "$ID2 is bound to its reserved address" "bound $IP2" \
    "$(st 2 'd["dhcp"]["state"]') $(st 2 'd["dhcp"]["address"]')"
check "... after checking it with ARP probes first" \
    grep -q 'dhcp: requesting -> probing' "$LOG2"

# --- a restart: INIT-REBOOT with the kept lease --------------------------------
world_stop "evcharger-$ID2"
ip -n "$NS2" -4 addr flush dev eth0
mark=$(wc -l <"$LOG2")
world_device_start 2
if wait_for 60 is 2 'd["dhcp"]["state"]' bound; then
	ok "after a restart $ID2 is bound again"
else
	not_ok "after a restart $ID2 is bound again" "$(tail -5 "$LOG2")"
fi
since() { tail -n +"$((mark + 1))" "$LOG2"; }
check "... by asking for its kept lease (INIT-REBOOT), probed with ARP" \
    bash -c "$(declare -f since); mark=$mark LOG2=$LOG2; since | grep -q 'init-reboot -> rebooting' &&
	since | grep -q 'rebooting -> probing' && since | grep -q 'probing -> bound'"
check_fails "... without a DISCOVER" \
    bash -c "tail -n +$((mark + 1)) '$LOG2' | grep -q 'dhcp: .* -> selecting'"
check_eq "... the same address" "$IP2" "$(st 2 'd["dhcp"]["address"]')"

# --- an address in use: ARP probe, DECLINE ----------------------------------
# A third namespace on the segment squats on charger 2's address.
world_charger_add 3 || not_ok "the squatter's namespace"
ip -n "$(world_ns 3)" addr add "$IP2/24" dev eth0
world_stop "evcharger-$ID2"
ip -n "$NS2" -4 addr flush dev eth0
mark=$(wc -l <"$LOG2")
world_device_start 2
if wait_for 60 bash -c "[ \"\$(\"$EVCHARGER\" --ctl '$(world_fw_sock 2)' status 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[\"dhcp\"][\"declines\"])')\" -ge 1 ]"; then
	ok "$ID2 found its address in use by another host (ARP) and declined it"
else
	not_ok "$ID2 found its address in use and declined it" "$(tail -8 "$LOG2")"
fi
check "... its log names the host that has it" \
    grep -q "dhcp: $IP2 is in use by 02:42:00:00:00:03: declined" "$LOG2"
# dnsmasq does not offer a declined address again for a while; the
# charger takes the one it offers instead, checked the same way.
if wait_for 180 is 2 'd["dhcp"]["state"]' bound; then
	ok "$ID2 takes the next address the gateway offers ($(st 2 'd["dhcp"]["address"]'))"
else
	not_ok "$ID2 takes the next address the gateway offers" "$(tail -8 "$LOG2")"
fi
addr=$(st 2 'd["dhcp"]["address"]')
check "... configured on its interface" \
    bash -c "ip -n '$NS2' -4 -o addr show dev eth0 | grep -q ' $addr/'"
check_fails "... never the one in use" has_ip2
check_fails "... which it was never bound to since its restart" \
    bash -c "tail -n +$((mark + 1)) '$LOG2' | grep -q 'dhcp: bound to $IP2 '"
check "... and it reaches the hub again" \
    wait_for 120 is 2 'd["cloud"]["connected"]' True
check "$ID2: no sanitizer report" bash -c "! grep -q Sanitizer '$LOG2'"
