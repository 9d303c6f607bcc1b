#!/bin/bash
# ntp_sync: the gateway's time service in the test world, against real
# chronyd servers.  no.pool.ntp.org is three chronyd (203.0.113.123-125,
# "local stratum 1", -x) plus a liar 10 s ahead at .126: evgated must
# synchronise to the majority and call the liar a falseticker.  Chargers
# then ask the gateway with chronyd -Q and ntpdig (real clients) and get a
# synchronised stratum-2 server within a few milliseconds of the upstream.  A
# flood from one charger is cut by the rate limit while another charger
# is still answered; malformed requests are dropped and counted by reason.
# Finally the upstream is cut off: the gateway holds over, and when the
# holdover expires it answers LI=3, stratum 0 (decoded from the reply);
# with the upstream back it is synchronised again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

TOOL="python3 $(dirname "$0")/ntp_tool.py"
LIAR=203.0.113.126
WORLD_NTP_ADDRS="203.0.113.123 203.0.113.124 203.0.113.125"
WORLD_NTP_SERVERS="$WORLD_NTP_NAME, $LIAR"
WORLD_NTP_POLL="16s 16s"
WORLD_NTP_HOLDOVER=40s
WORLD_DEVICE=none

start_liar() {
	world_inet_addr "$LIAR" || return 1
	bg_ns "$WNS_INET" "$W/log/liar.log" $TOOL liar "$LIAR" 10 >/dev/null
}
WORLD_INET_HOOKS+=(start_liar)

if ! world_up 2; then
	not_ok "world up with time service"
	exit 1
fi
ok "world up with time service"
C1=$(world_ns 1)
C2=$(world_ns 2)

timejson() { world_ctl --json time; }
jget() { json_get "$(timejson)" "$1"; }
synced() { [ "$(jget 'd["sync"]')" = True ]; }
state_is() { [ "$(jget 'd["state"]')" = "$1" ]; }
# query NS: the gateway's answer to one request, decoded
query() { in_ns "$1" $TOOL query "$WORLD_GW_LAN"; }
# server_state ADDRESS: the state evgatectl shows for that upstream
server_state() {
	jget "[s['state'] for s in d['servers'] if s['address'] == '$1:123'][0]"
}

if wait_for 30 synced; then
	ok "evgated synchronises to the pool (chronyd)"
else
	not_ok "evgated synchronises to the pool (chronyd)" "$(world_ctl time)"
fi
check_eq "four upstream servers: three from the name, the liar" 4 \
    "$(jget 'len(d["servers"])')"
check_eq "a chronyd server is selected" "203.0.113.12" \
    "$(jget 'd["selected"][:12]')"
check_eq "we serve stratum 2 (upstream 1 + 1)" 2 "$(jget 'd["stratum"]')"
liar_out() { [ "$(server_state "$LIAR")" = falseticker ]; }
if wait_for 30 liar_out; then
	ok "the liar (10 s ahead) is outvoted: falseticker"
else
	not_ok "the liar (10 s ahead) is outvoted: falseticker" "$(world_ctl time)"
fi
check_eq "the three chronyd agree (selected or candidate)" \
    "candidate selected" \
    "$(jget "' '.join(sorted(set(s['state'] for s in d['servers'] if s['address'] != '$LIAR:123')))")"
check "the served offset is the system clock's (same kernel), not the liar's" \
    python3 -c "import sys; sys.exit(abs($(jget 'd["offset_s"]')) > 0.005)"
check "evgatectl time prints the table" bash -c \
    "world_ctl() { '$EVGATECTL' -s '$WORLD_GW_SOCK' \"\$@\"; }; world_ctl time |
    grep -q '^state *synchronised to' && world_ctl time | grep -q 'falseticker'"
check_eq "status has an ntp section: synchronised" True \
    "$(json_get "$(world_ctl --json status)" 'd["ntp"]["sync"]')"

# --- real clients on the chargers -----------------------------------------

# chronyd -Q: client-only, sets nothing, prints "System clock wrong by X".
out=$(in_ns "$C1" timeout 30 chronyd -Q -f /dev/null \
    "server $WORLD_NTP_NAME iburst maxsamples 3" 2>&1)
off=$(sed -n 's/.*System clock wrong by \([-0-9.]*\) seconds.*/\1/p' <<<"$out")
# Same kernel clock everywhere: the truth is 0.  Allow for a loaded
# machine and the 10 Mbit/s PLC shaping (asymmetric queueing).
if [ -n "$off" ] && python3 -c "import sys; sys.exit(abs($off) > 0.005)"; then
	ok "chronyd -Q on charger 1 accepts the gateway, offset $off s"
else
	not_ok "chronyd -Q on charger 1 accepts the gateway within 5 ms" "$out"
fi
# ntpdig takes one sample and states its error: the offset must lie
# within it (plus 1 ms), and the error must be small.
out=$(in_ns "$C2" timeout 20 ntpdig "$WORLD_NTP_NAME" 2>&1)
if grep -q " $WORLD_GW_LAN s2 no-leap" <<<"$out" &&
    python3 -c "import sys; o, e = float('$(awk '{print $4}' <<<"$out")'), float('$(awk '{print $6}' <<<"$out")'); sys.exit(not (abs(o) <= e + 0.001 and e < 0.05))"; then
	ok "ntpdig on charger 2: stratum 2, no-leap, offset within its error"
else
	not_ok "ntpdig on charger 2: stratum 2, no-leap, offset within its error" "$out"
fi
r=$(query "$C1")
check_eq "the reply's header: LI 0, v4, mode 4, stratum 2, origin echoed" \
    "0 4 4 2 True" \
    "$(json_get "$r" '" ".join(str(d[k]) for k in ("li","vn","mode","stratum","org_ok"))')"
check_eq "refid is the selected upstream's address, reference time set" \
    "$(jget 'd["selected"].split(":")[0]') False" \
    "$(json_get "$r" '"%s %s" % (d["refid_ip"], d["ref_zero"])')"

# --- a flood, and a neighbour ---------------------------------------------

before=$(timejson)
f=$(in_ns "$C1" $TOOL flood "$WORLD_GW_LAN" 3000)
after=$(timejson)
answered=$(json_get "$f" 'd["answered"]')
check "a flood of 3000 from charger 1 gets at most the burst answered ($answered)" \
    test "$answered" -le 20
check "the flooder is told to slow down (RATE kiss-o'-death)" \
    test "$(json_get "$f" 'd["kod"]')" -ge 1
dropped=$(( $(json_get "$after" 'd["server"]["drops"]["rate_limited"]') -
    $(json_get "$before" 'd["server"]["drops"]["rate_limited"]') ))
arrived=$(( $(json_get "$after" 'd["server"]["requests"]') -
    $(json_get "$before" 'd["server"]["requests"]') ))
# The 10 Mbit/s PLC shaping may lose some of the flood on the way.
check "the gateway drops and counts the flood ($dropped of $arrived rate_limited)" \
    test "$arrived" -ge 1000 -a "$dropped" -ge $((arrived - 20))
r=$(query "$C2")
check_eq "charger 2 is answered during the flood: LI 0, stratum 2" "0 2" \
    "$(json_get "$r" '"%d %d" % (d["li"], d["stratum"])')"

# --- malformed requests -----------------------------------------------------

before=$(timejson)
in_ns "$C2" $TOOL malformed "$WORLD_GW_LAN" >/dev/null
wait_for 5 bash -c "[ \$($EVGATECTL -s $WORLD_GW_SOCK --json time |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[\"server\"][\"dropped\"])') -ge \
    $(( $(json_get "$before" 'd["server"]["dropped"]') + 8 )) ]"
after=$(timejson)
delta() { echo $(( $(json_get "$after" "d['server']['drops']['$1']") -
    $(json_get "$before" "d['server']['drops']['$1']") )); }
check_eq "malformed requests dropped by reason (short, bad_version, bad_mode, bad_length, auth)" \
    "1 2 3 1 1" "$(delta short) $(delta bad_version) $(delta bad_mode) $(delta bad_length) $(delta auth)"
check_eq "none of them was answered" \
    "$(json_get "$before" 'd["server"]["replies"] + d["server"]["unsync_replies"]')" \
    "$(json_get "$after" 'd["server"]["replies"] + d["server"]["unsync_replies"]')"

# --- upstream lost: holdover, then LI=3 ------------------------------------

in_ns "$WNS_INET" nft -f - <<'EOF'
table inet ntpcut {
	chain in {
		type filter hook input priority 0; policy accept;
		udp dport 123 drop
	}
}
EOF
at_exit "ip netns exec $WNS_INET nft delete table inet ntpcut"
r=$(query "$C1")
check_eq "upstream just cut off: still serving synchronised (holdover)" "0 2" \
    "$(json_get "$r" '"%d %d" % (d["li"], d["stratum"])')"
if wait_for 90 state_is unsynchronised; then
	ok "holdover (40 s) expires: unsynchronised"
else
	not_ok "holdover (40 s) expires: unsynchronised" "$(world_ctl time)"
fi
r=$(query "$C1")
check_eq "after holdover the reply is LI=3, stratum 0, INIT, no reference time" \
    "3 0 INIT True True" \
    "$(json_get "$r" '"%d %d %s %s %s" % (d["li"], d["stratum"], d["refid_text"], d["ref_zero"], d["org_ok"])')"
out=$(in_ns "$C2" timeout 20 ntpdig "$WORLD_NTP_NAME" 2>&1)
check "ntpdig refuses the unsynchronised gateway" \
    grep -q "stratum 0" <<<"$out"
check "the time event was logged" grep -q "time: unsynchronised: no good upstream sample for 40s" \
    "$W/log/evgated.log"

in_ns "$WNS_INET" nft delete table inet ntpcut
if wait_for 60 synced; then
	ok "upstream back: synchronised again"
else
	not_ok "upstream back: synchronised again" "$(world_ctl time)"
fi
r=$(query "$C1")
check_eq "and answering LI 0, stratum 2" "0 2" \
    "$(json_get "$r" '"%d %d" % (d["li"], d["stratum"])')"
