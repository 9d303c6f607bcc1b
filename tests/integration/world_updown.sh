#!/bin/bash
# world_updown: the test world comes up as planned and goes away without a
# trace, also when the run that made it was killed (scripts/world down).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

# Every world process that is still alive (a zombie waiting to be reaped
# is gone for this purpose: it holds nothing but its pid).
alive() {
	local pid st out=""
	for pid in "$@"; do
		st=$(ps -o stat= -p "$pid" 2>/dev/null) || continue
		case "$st" in Z*) continue ;; esac
		out="$out $pid"
	done
	echo "${out# }"
}

world_pids() { cat "$W"/run/*.pid 2>/dev/null; }

if ! world_up 2; then
	not_ok "world up with 2 chargers"
	exit 1
fi
ok "world up with 2 chargers"

check_eq "namespaces plc, gw, inet and one per charger" \
    "${WORLD_P}c1 ${WORLD_P}c2 ${WORLD_P}gw ${WORLD_P}inet ${WORLD_P}plc" \
    "$(world_namespaces | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "IP forwarding is off in the gateway" "0 0" \
    "$(in_ns "$WNS_GW" sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding | tr '\n' ' ' | sed 's/ $//')"
check_eq "charger 2 has its MAC and address" "02:42:00:00:00:02 10.42.0.22" \
    "$(ip -n "$(world_ns 2)" -o link show eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p') $(world_charger_addr_of 2)"
check "every bridge port is shaped with tbf at 10 Mbit/s" bash -c "
	for p in gw c1 c2; do
		tc -n $WNS_PLC qdisc show dev \$p | grep -q 'tbf.*rate 10Mbit' || exit 1
	done"
check_eq "the gateway's WAN and LAN addresses" "10.42.0.1/24 203.0.113.2/24" \
    "$(ip -n "$WNS_GW" -4 -o addr show | awk '$2 != "lo" {print $4}' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "a charger's only routes: its LAN, and a default via the gateway" \
    "10.42.0.0/24 dev eth0 proto kernel scope link src 10.42.0.21|default via 10.42.0.1 dev eth0" \
    "$(ip -n "$(world_ns 1)" -4 route show | sed 's/ *$//' | sort | paste -sd'|')"
check "evgated runs with the generated configuration (wan.resolvers = the public DNS)" \
    bash -c "ip netns exec '$WNS_GW' '$EVGATED' --check-config -c '$WORLD_GW_CONF' &&
	grep -q '\"203.0.113.53\"' '$WORLD_GW_CONF' &&
	tr '\\0' ' ' </proc/\$(cat '$W/run/evgated.pid')/cmdline | grep -q '^$EVGATED '"
check "the gateway answers on its control socket" world_ctl status
check_eq "both stand-in devices are connected through the relay (evgatectl)" \
    "10.42.0.21 10.42.0.22" \
    "$(world_ctl --json connections | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(sorted(c["client"].rsplit(":", 1)[0] for c in d["connections"]
    if c["port"] == 8883 and c["state"] == "splice")))')"

pids=$(world_pids)
dir=$W
world_down
check_eq "after world_down: no namespaces, /etc/netns entries or files" "" \
    "$(world_leftovers)"
check_eq "after world_down: none of its processes is alive" "" \
    "$(alive $pids)"
check "world_down twice is harmless" world_down
[ -e "$dir" ] && not_ok "world directory $dir remains"

# Up again under the same prefix: nothing of the first one is in the way.
if world_up 1; then ok "world up again with the same prefix"; else
	not_ok "world up again with the same prefix"; fi
pids=$(world_pids)
world_down
check_eq "down again: nothing left" "" "$(world_leftovers)$(alive $pids)"

# A run that is killed (-9: no trap runs) leaves its world behind;
# scripts/world down finds it by prefix and removes all of it.
kp="${EVG_PREFIX:0:7}k"
ready=$(mktemp /tmp/evgate-world-ready.XXXXXX)
rm -f "$ready"
EVG_PREFIX=$kp setsid bash -c ". '$top/tests/integration/lib.sh'
	. '$top/tests/integration/world.sh'
	echo \"\$T\" >'$ready.t'
	world_up 1 && cat \"\$W\"/run/*.pid >'$ready.pids' && touch '$ready'
	sleep 120" >/dev/null 2>&1 &
victim=$!
at_exit "kill -9 $victim; EVG_PREFIX=$kp '$top/scripts/world' down -p $kp"
if wait_for 60 test -e "$ready"; then
	ok "a second world ($kp) came up in another process"
else
	not_ok "a second world ($kp) came up in another process"
fi
kill -9 "$victim"
wait "$victim" 2>/dev/null
kpids=$(cat "$ready.pids" 2>/dev/null)
check "the killed run left its world behind" \
    test -n "$(ip netns list | grep "^$kp-gw")"
check "scripts/world down -p $kp removes it" "$top/scripts/world" down -p "$kp"
check_eq "nothing of the killed run's world is left" "" \
    "$(EVG_PREFIX=$kp bash -c ". '$top/tests/integration/lib.sh'; . '$top/tests/integration/world.sh'; world_leftovers; rmdir \"\$T\"; trap - EXIT")$(alive $kpids)"
rm -rf "$(cat "$ready.t" 2>/dev/null)" "$ready" "$ready.t" "$ready.pids"
