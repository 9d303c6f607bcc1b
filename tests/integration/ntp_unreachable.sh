#!/bin/bash
# ntp_unreachable: the upstream NTP servers are cut off before evgated
# starts.  The gateway must never hand out a time it has not checked: it
# answers every request with LI=3 (alarm) and stratum 0 ("INIT"), which
# real clients (ntpdig, chronyd -Q) refuse; evgatectl says why.  When the
# upstream becomes reachable, it synchronises and answers normally.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

TOOL="python3 $(dirname "$0")/ntp_tool.py"
WORLD_NTP_POLL="16s 16s"
WORLD_NTP_HOLDOVER=40s
WORLD_DEVICE=none

# Before the gateway starts: the internet drops NTP (no ICMP either).
cut_ntp() {
	ip netns exec "$WNS_INET" nft -f - <<'EOF'
table inet ntpcut {
	chain in {
		type filter hook input priority 0; policy accept;
		udp dport 123 drop
	}
}
EOF
}
WORLD_INET_HOOKS+=(cut_ntp)

if ! world_up 1; then
	not_ok "world up with the upstream NTP cut off"
	exit 1
fi
ok "world up with the upstream NTP cut off"
C1=$(world_ns 1)
jget() { json_get "$(world_ctl --json time)" "$1"; }
unreachable() {
	[ "$(jget 'd["servers"][0]["state"]')" = unreachable ]
}

# The burst (4 queries, 2 s apart) goes unanswered.
if wait_for 20 unreachable; then
	ok "the upstream server is shown unreachable"
else
	not_ok "the upstream server is shown unreachable" "$(world_ctl time)"
fi
check_eq "never synchronised: state unsynchronised, stratum 0" \
    "unsynchronised False 0" \
    "$(jget '"%s %s %d" % (d["state"], d["sync"], d["stratum"])')"
r=$(in_ns "$C1" $TOOL query "$WORLD_GW_LAN")
check_eq "a request is answered with LI=3, stratum 0, INIT, reference time 0" \
    "True 3 0 INIT True" \
    "$(json_get "$r" '"%s %d %d %s %s" % (d["answered"], d["li"], d["stratum"], d["refid_text"], d["ref_zero"])')"
check_eq "... still a proper reply: mode 4, origin echoed, 16 s dispersion" \
    "4 True 16.0" \
    "$(json_get "$r" '"%d %s %s" % (d["mode"], d["org_ok"], d["root_disp"])')"
out=$(in_ns "$C1" timeout 20 ntpdig "$WORLD_NTP_NAME" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && grep -q "stratum 0" <<<"$out"; then
	ok "ntpdig refuses the answer (stratum 0) and fails"
else
	not_ok "ntpdig refuses the answer (stratum 0) and fails" "rc $rc" "$out"
fi
out=$(in_ns "$C1" timeout 20 chronyd -Q -t 8 -f /dev/null \
    "server $WORLD_NTP_NAME iburst maxsamples 2" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && ! grep -q "System clock wrong by" <<<"$out"; then
	ok "chronyd -Q finds no usable time at the gateway"
else
	not_ok "chronyd -Q finds no usable time at the gateway" "rc $rc" "$out"
fi
check_eq "counted as unsynchronised replies, none synchronised" True \
    "$(jget 'd["server"]["unsync_replies"] >= 3 and d["server"]["replies"] == 0')"
check "evgatectl time explains it" bash -c \
    "'$EVGATECTL' -s '$WORLD_GW_SOCK' time | grep -q 'answering LI=3 (alarm), stratum 0'"

ip netns exec "$WNS_INET" nft delete table inet ntpcut
synced() { [ "$(jget 'd["sync"]')" = True ]; }
if wait_for 60 synced; then
	ok "upstream reachable: synchronised"
else
	not_ok "upstream reachable: synchronised" "$(world_ctl time)"
fi
r=$(in_ns "$C1" $TOOL query "$WORLD_GW_LAN")
check_eq "and now answering LI 0, stratum 2" "0 2" \
    "$(json_get "$r" '"%d %d" % (d["li"], d["stratum"])')"
out=$(in_ns "$C1" timeout 20 ntpdig "$WORLD_NTP_NAME" 2>&1)
check "ntpdig accepts it" grep -q " $WORLD_GW_LAN s2 no-leap" <<<"$out"
