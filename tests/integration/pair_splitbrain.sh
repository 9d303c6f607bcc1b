#!/bin/bash
# pair_splitbrain: the two boxes of a pair stop hearing each other -- the
# PLC bridge drops their VRRP adverts and the pair link is down -- while
# both still reach the chargers.  Both become master and both answer; with
# reservations they answer every charger the same (a charger's DHCP
# request gets one address whichever box answers), and a charger listed
# by MAC alone (a dynamic address) gets the same address from both while
# their tables agree.  When they hear each other again, the
# higher-priority box stays master, the other steps down, the chargers'
# ARP caches follow and the two lease tables are merged.
#
# Then the master dies (a power cut: every process killed, its links
# gone): the other takes over and the chargers come back; the dead box
# boots again as backup and learns what happened meanwhile.  Last, a
# switch-over: keepalived stopped on the master.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

WORLD_SITE=1
WORLD_PAIR=1
WORLD_CHARGER_ADDR=evcharger
WORLD_CHARGER_HOSTS=0
WORLD_DEVICE=evcharger
WORLD_FW_TELEMETRY=10
WORLD_FW_KEEPALIVE=30
N=2
R=3		# reserved at an address, appears in the split brain
D=4		# listed by MAC only: an address from the range
WORLD_SITE_EXTRA="$(world_id $R) $(world_mac $R) $(world_ip $R)
$(world_id $D) $(world_mac $D)"

if ! world_up $N; then
	not_ok "a pair of gateways and $N chargers up"
	tail -5 "$W"/log/keepalived-*.log 2>/dev/null | sed 's/^/# /'
	exit 1
fi
ok "a pair of gateways and $N chargers up"

py() { python3 -c "$@"; }
js() {
	world_pair_ctl "$1" --json "$2" 2>/dev/null | py \
	    'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$3"
}
fw() { world_fw_status "$@"; }
leases_of() {	# leases_of a|b: "ID MAC ADDRESS" of every active lease
	world_pair_ctl "$1" --json chargers | py '
import json, sys
for c in json.load(sys.stdin)["chargers"]:
    if c["lease"] == "active":
        print(c["id"], c["mac"], c["address"])'
}
# No address held by two MACs, in one table or across both.
one_mac_per_address() {
	{ leases_of a; leases_of b; } | sort -u | awk '
	    { if (($3 in mac) && mac[$3] != $2) bad = 1; mac[$3] = $2 }
	    END { exit bad }'
}
check_eq "box a is master" a "$(world_pair_master)"

# --- split brain -----------------------------------------------------------

world_pair_split
both() { [ "$(world_pair_master)" = "a b" ] &&
    [ "$(world_pair_role a)" = master ] && [ "$(world_pair_role b)" = master ]; }
check "both boxes are master (both hold the address, both evgated serve)" \
    wait_for 30 both
# The pair link has no FIN to see (its wire is cut): each box closes it
# after PAIR_DEAD_MS (6 s) of silence, which may be later than VRRP's
# three missed adverts (about 3.5 s) made both master.
peers_gone() {
	[ "$(js a status 'd["pair"]["peer"]["connected"]') $(js b status 'd["pair"]["peer"]["connected"]')" = "False False" ]
}
check "each box sees its peer gone (6 s of silence on the pair link)" \
    wait_for 15 peers_gone
check "box a stays healthy" world_pair_ctl a health -q
check "box b is healthy too (it cannot know)" world_pair_ctl b health -q

# A charger with a reservation asks for an address: whichever box
# answers first, it is the reserved one, and each box that answered has
# it under that address.
WORLD_CHARGER_ADDR=dhcp world_charger_add $R
check_eq "$(world_id $R) got its reserved address in the split brain" \
    "$(world_ip $R)" "$(world_charger_addr_of $R)"
# A charger listed by MAC alone: dnsmasq picks from the range, from a
# hash of the MAC, on both boxes alike.
WORLD_CHARGER_ADDR=dhcp world_charger_add $D
dyn=$(world_charger_addr_of $D)
diag "$(world_id $D) got $dyn"
check "$(world_id $D) got an address from the range" \
    py 'import ipaddress,sys; a=ipaddress.ip_address(sys.argv[1]); sys.exit(0 if ipaddress.ip_address("10.42.0.10") <= a <= ipaddress.ip_address("10.42.0.250") else 1)' "$dyn"
# Both boxes hear the broadcast and both answer: each has the lease.
# udhcpc takes the first ACK; the other box's dnsmasq may still be busy
# (its ping of a new address lasts up to 3 s) and each dnsmasq hands its
# lease to its evgated through the dhcp-script, a process of its own: a
# box's table may show the lease a moment after the charger has its
# address (370 ms here on a quiet machine, more under load).
lease_on() {	# lease_on a|b I ADDRESS: box a|b has charger I at ADDRESS
	[ "$(leases_of "$1" | awk -v id="$(world_id "$2")" '$1 == id {print $3}')" = "$3" ]
}
for b in a b; do
	if wait_for 10 lease_on $b $D "$dyn"; then
		ok "box $b gave $(world_id $D) the same address"
	else
		not_ok "box $b gave $(world_id $D) the same address" \
		    "expected: $dyn" "box $b: $(leases_of $b | tr '\n' ';')"
	fi
	if wait_for 10 lease_on $b $R "$(world_ip $R)"; then
		ok "box $b gave $(world_id $R) its reserved address"
	else
		not_ok "box $b gave $(world_id $R) its reserved address" \
		    "expected: $(world_ip $R)" "box $b: $(leases_of $b | tr '\n' ';')"
	fi
done
check "no address is held by two MACs, on either box or across them" \
    one_mac_per_address

# --- they hear each other again --------------------------------------------

world_pair_join
one_master() { [ "$(world_pair_master)" = a ] &&
    [ "$(world_pair_role b)" = backup ]; }
check "box a (priority 150) stays master, box b steps down" \
    wait_for 30 one_master
merged() {
	[ "$(js a status 'd["pair"]["peer"]["connected"]')" = True ] &&
	    [ "$(js a status 'd["pair"]["sync"]["lag_changes"]')" = 0 ] &&
	    [ "$(js b status 'd["pair"]["sync"]["lag_changes"]')" = 0 ]
}
check "the pair link is back and both lags are 0" wait_for 30 merged
same_tables() { [ "$(leases_of a)" = "$(leases_of b)" ]; }
if wait_for 20 same_tables; then
	ok "the two lease tables are the same again"
else
	not_ok "the two lease tables are the same again" \
	    "a: $(leases_of a)" "b: $(leases_of b)"
fi
check "still no address held by two MACs" one_mac_per_address
all_on_hub() {
	local i
	for i in $(seq 1 $N); do
		[ "$(fw "$i" 'd["cloud"]["connected"]')" = True ] || return 1
	done
}
check "every charger is on the hub (through box a)" wait_for 120 all_on_hub
check_eq "box b relays nothing" 0 "$(js b status 'd["relay"]["active"]')"

# --- a power cut on the master ---------------------------------------------

declare -A before
for i in $(seq 1 $N); do before[$i]=$(fw "$i" 'd["cloud"]["connects"]'); done
t0=$(date +%s.%N)
world_pair_kill a
b_master() { [ "$(world_pair_role b)" = master ]; }
check "box b takes over from the dead box a" wait_for 30 b_master
diag "takeover: box b's evgated master $(py '
import datetime, sys
t0 = float(sys.argv[1]); out = "?"
for line in open(sys.argv[2], errors="replace"):
    if "role: master" in line:
        t = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
        t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
        if t > t0:
            out = "%.1f" % (t - t0); break
print(out)' "$t0" "$W/log/evgated-b.log") s after the power cut"
back() {
	local i
	for i in $(seq 1 $N); do
		[ "$(fw "$i" 'd["cloud"]["connected"] and d["cloud"]["connects"] > '"${before[$i]}")" = True ] ||
		    return 1
	done
}
check "every charger is back on the hub through box b" wait_for 150 back
for i in $(seq 1 $N); do
	check_eq "$(world_id "$i") kept its address" "$(world_ip "$i")" \
	    "$(fw "$i" 'd["dhcp"]["address"]')"
done
check_eq "no DHCPNAK" "0 0" "$(fw 1 'd["dhcp"]["naks"]') $(fw 2 'd["dhcp"]["naks"]')"

# Box a boots again: backup, and it knows every lease.
world_pair_start a
a_back() { [ "$(world_pair_role a)" = backup ] &&
    [ "$(js a status 'd["pair"]["peer"]["connected"]')" = True ]; }
check "box a boots again as backup and links up with box b" wait_for 40 a_back
check_eq "box b is still master" b "$(world_pair_master)"
check "box a knows every lease again" wait_for 20 same_tables
check "evgatectl pair on box a names the peer and the failover" \
    grep -q "gw-b .*(master), connected" <<<"$(world_pair_ctl a pair)"

# --- a switch-over: keepalived stopped on the master ----------------------

# It sends priority 0 and removes the address; the backup takes over at
# once.  Its notify script may die before it reads STOP: evgated follows
# the address itself within seconds.
world_stop keepalived-b 10
a_master() { [ "$(world_pair_role a)" = master ] && [ "$(world_pair_master)" = a ]; }
check "keepalived stopped on box b: box a takes over" wait_for 15 a_master
b_backup() { [ "$(world_pair_role b)" = backup ]; }
check "box b's evgated follows: backup" wait_for 15 b_backup
check_eq "box b's dnsmasq stopped" False "$(js b status 'd["dnsmasq"]["running"]')"

world_down
check_eq "nothing of the world is left" "" "$(world_leftovers)"
