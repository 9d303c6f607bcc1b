#!/bin/bash
# pair_failover: a redundant pair of gateways (world.d/pair.bash: two
# evgated boxes, real keepalived VRRP on the PLC bridge, the lease sync
# over their own TLS link) and chargers running the firmware with their
# own DHCP clients.  The master's links are cut: the backup takes over;
# every charger keeps its address, renews it with the new master (never
# refused), is back on the hub with the first attempt after its back-off,
# and NTP never answers unsynchronised.  A charger that first appears
# while the old master is away gets its lease from the new one, and the
# old master knows it when it returns -- as backup, without interrupting
# anyone a second time.  The two boxes' fleet logs, merged, have every
# relayed connection exactly once.
#
# Timings (the takeover, each charger's way back) are measured and
# printed, never asserted (doc/performance.md has the figures).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

WORLD_SITE=1
WORLD_PAIR=1
WORLD_CHARGER_ADDR=evcharger	# the firmware's own DHCP client
WORLD_CHARGER_HOSTS=0		# names from the gateway's DNS
WORLD_DEVICE=evcharger
WORLD_SITE_LEASE_TIME=2m	# renewals (T1) every minute
WORLD_FW_TELEMETRY=10		# something to send: a lost link shows soon
WORLD_FW_KEEPALIVE=30
WORLD_NTP_RATE="burst: 64, interval: 100ms"	# the watcher polls fast
N=3
LATE=4				# reserved, appears while box a is away
WORLD_SITE_EXTRA="$(world_id $LATE) $(world_mac $LATE) $(world_ip $LATE)"

# Both boxes ship their fleet logs to one collector in the internet.
COLL_ADDR=203.0.113.30
WORLD_INET_DNS_EXTRA="address=/collector.test/$COLL_ADDR"
world_collector_start() {
	world_inet_addr "$COLL_ADDR" &&
	    make_cert "$W/pki" collector.test &&
	    chmod 644 "$W/pki/collector.test.key" || return 1
	world_spawn "$WNS_INET" collector python3 \
	    "$top/tests/collector/collector.py" --host "$COLL_ADDR" \
	    --port 9443 --cert "$W/pki/collector.test.pem" \
	    --key "$W/pki/collector.test.key" --out "$W/collector.ndjson" \
	    --batches "$W/collector.batches"
	wait_for 10 port_open "$WNS_INET" "$COLL_ADDR" 9443
}
WORLD_INET_HOOKS+=(world_collector_start)
cat >"$T/ship.yaml" <<EOF
ship:
  url: "https://collector.test:9443/ingest"
  ca_file: /WORLDPKI/ca.pem
  interval: 1s
EOF
WORLD_GW_YAML_FILES+=("$T/ship.yaml.w")

sed "s#/WORLDPKI#$W/pki#" "$T/ship.yaml" >"$T/ship.yaml.w"
if ! world_up $N; then
	not_ok "a pair of gateways and $N chargers up"
	tail -5 "$W"/log/keepalived-*.log 2>/dev/null | sed 's/^/# /'
	exit 1
fi
ok "a pair of gateways and $N chargers up, all on the hub"

py() { python3 -c "$@"; }
js() {	# js a|b COMMAND EXPR: a value of evgatectl --json COMMAND
	world_pair_ctl "$1" --json "$2" 2>/dev/null | py \
	    'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$3"
}
fw() { world_fw_status "$@"; }
now() { date +%s.%N; }
since() { py "print(f'{$(now) - $1:.1f}')"; }

# --- the pair as it started ----------------------------------------------

check_eq "box a is master (it holds $WORLD_GW_LAN)" a "$(world_pair_master)"
check_eq "box a's evgated is master" master "$(world_pair_role a)"
check_eq "box b's evgated is backup" backup "$(world_pair_role b)"
check_eq "box b's dnsmasq does not run" False \
    "$(js b status 'd["dnsmasq"]["running"]')"
check_eq "box b's relay has no listener" 0 "$(js b status 'd["relay"]["listeners"]')"
check_eq "the boxes' configurations agree" "True True" \
    "$(js a status 'd["pair"]["config"]["agree"]') $(js b status 'd["pair"]["config"]["agree"]')"
check "box a is healthy" world_pair_ctl a health -q
check "box b is healthy (a backup serving nothing)" world_pair_ctl b health -q

leases_of() {	# leases_of a|b: "ID ADDRESS" of every active lease
	world_pair_ctl "$1" --json chargers | py '
import json, sys
for c in json.load(sys.stdin)["chargers"]:
    if c["lease"] == "active":
        print(c["id"], c["address"])'
}
want=$(for i in $(seq 1 $N); do echo "$(world_id "$i") $(world_ip "$i")"; done)
b_synced() { [ "$(leases_of b)" = "$want" ]; }
if wait_for 20 b_synced; then
	ok "box b's lease table has every charger's lease (the sync)"
else
	not_ok "box b's lease table has every charger's lease (the sync)" \
	    "$(leases_of b)"
fi
check_eq "the sync's lag is 0 on box a" 0 "$(js a status 'd["pair"]["sync"]["lag_changes"]')"

declare -A before_connects
for i in $(seq 1 $N); do
	before_connects[$i]=$(fw "$i" 'd["cloud"]["connects"]')
done

# NTP from a charger's place, across everything that follows.
STOP=$T/ntpwatch.stop
world_in 1 python3 "$(dirname "$0")/pair_tool.py" ntpwatch "$WORLD_GW_LAN" \
    "$STOP" 0.3 >"$T/ntpwatch.json" 2>&1 &
NTPW=$!
at_exit "touch $STOP"
sleep 2

# --- failover: box a's links are cut -------------------------------------

t0=$(now)
world_pair_cut a
b_master() { [ "$(world_pair_role b)" = master ]; }
if wait_for 30 b_master; then
	ok "box b took over"
else
	not_ok "box b took over" "$(tail -5 "$W/log/keepalived-b.log")"
fi
# From the logs: keepalived's (whole seconds) and evgated's (ms).
took=$(py '
import datetime, sys
t0 = float(sys.argv[1])
for line in open(sys.argv[2], errors="replace"):
    if "role: master" in line:
        t = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
        t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
        if t > t0:
            print("%.1f" % (t - t0)); break
' "$t0" "$W/log/evgated-b.log")
diag "takeover: box b's evgated master ${took:-?} s after the cut;" \
    "keepalived: $(grep -h "Entering MASTER" "$W/log/keepalived-b.log" | tail -1)"
check_eq "box b holds the virtual address, box a not" b "$(world_pair_master)"
b_dnsmasq() { [ "$(js b status 'd["dnsmasq"]["running"]')" = True ]; }
check "box b's dnsmasq runs" wait_for 10 b_dnsmasq
check_eq "box a's evgated went to fault (keepalived: its LAN is down)" \
    fault "$(world_pair_role a)"
check_eq "box b's status says when the failover was" True \
    "$(js b status 'd["pair"]["last_failover"] is not None')"

# Every charger back on the hub.
back() {
	local i
	for i in $(seq 1 $N); do
		[ "$(fw "$i" 'd["cloud"]["connected"] and d["cloud"]["connects"] > '"${before_connects[$i]}")" = True ] ||
		    return 1
	done
}
if wait_for 150 back; then
	ok "every charger is back on the hub through box b"
else
	not_ok "every charger is back on the hub through box b" \
	    "$(for i in $(seq 1 $N); do fw "$i" 'd["cloud"]'; done)"
fi

# Each charger's way back, from its own log: when it saw the link go,
# the back-off it chose, when it was connected again -- and that the
# first attempt after the back-off was the one that worked.
report=$(py '
import datetime, re, sys
t0 = float(sys.argv[1]); n = int(sys.argv[2]); logs = sys.argv[3:]
def ts(line):
    t = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()
rows = []
for i, f in enumerate(logs, 1):
    lost = back = backoff = None; failed = 0
    for line in open(f, errors="replace"):
        if len(line) < 24 or line[4] != "-":
            continue
        t = ts(line)
        if t < t0:
            continue
        if "cloud: connection lost" in line and lost is None:
            lost = t
        m = re.search(r"cloud: next attempt in ([0-9.]+) s", line)
        if m and backoff is None:
            backoff = float(m.group(1))
        if "cloud: connecting to" in line and "failed" in line:
            failed += 1
        if "cloud: connected to" in line and back is None:
            back = t
    rows.append((i, lost, backoff, back, failed))
ok = all(r[3] is not None for r in rows)
for i, lost, backoff, back, failed in rows:
    print("charger %d: lost after %s s, back-off %s s, back on the hub "
          "%s s after the cut, %d failed attempts" % (i,
          "-" if lost is None else "%.1f" % (lost - t0),
          "-" if backoff is None else "%.1f" % backoff,
          "-" if back is None else "%.1f" % (back - t0), failed))
backs = sorted(r[3] - t0 for r in rows if r[3] is not None)
if backs:
    print("back on the hub after the cut (s): min %.1f, median %.1f, "
          "max %.1f" % (backs[0], backs[len(backs) // 2], backs[-1]))
print("FAILED_ATTEMPTS %d" % sum(r[4] for r in rows))
' "$t0" "$N" $(for i in $(seq 1 $N); do echo "$W/log/evcharger-$(world_id "$i").log"; done))
while IFS= read -r line; do
	case "$line" in FAILED_ATTEMPTS*) ;; *) diag "$line" ;; esac
done <<<"$report"
check_eq "every charger's first attempt after its back-off reached the hub" \
    "FAILED_ATTEMPTS 0" "$(grep FAILED_ATTEMPTS <<<"$report")"

# The same address all along, and renewed with the new master.
for i in $(seq 1 $N); do
	check_eq "$(world_id "$i") kept its address" "$(world_ip "$i")" \
	    "$(fw "$i" 'd["dhcp"]["address"]')"
done
# A charger that appears while box a is away.
WORLD_CHARGER_ADDR=dhcp world_charger_add $LATE
check_eq "$(world_id $LATE) got its reserved address from box b" \
    "$(world_ip $LATE)" "$(world_charger_addr_of $LATE)"

# --- box a comes back ---------------------------------------------------

declare -A mid_connects
for i in $(seq 1 $N); do
	mid_connects[$i]=$(fw "$i" 'd["cloud"]["connects"]')
done
world_pair_heal a
a_back() {
	[ "$(world_pair_role a)" = backup ] &&
	    [ "$(js a status 'd["pair"]["peer"]["connected"]')" = True ]
}
check "box a is back as backup, linked to box b" wait_for 30 a_back
a_knows_late() {
	leases_of a | grep -qx "$(world_id $LATE) $(world_ip $LATE)"
}
check "box a knows the lease box b gave while it was away" \
    wait_for 20 a_knows_late
sleep 8		# keepalived's adverts: box a must stay backup (nopreempt)
check_eq "box b is still master" b "$(world_pair_master)"
check_eq "box a's evgated is still backup" backup "$(world_pair_role a)"
second=0
for i in $(seq 1 $N); do
	[ "$(fw "$i" 'd["cloud"]["connected"]')" = True ] &&
	    [ "$(fw "$i" 'd["cloud"]["connects"]')" = "${mid_connects[$i]}" ] ||
	    second=$((second + 1))
done
check_eq "no charger was interrupted a second time" 0 "$second"
lag0() { [ "$(js a status 'd["pair"]["sync"]["lag_changes"]')" = 0 ] &&
    [ "$(js b status 'd["pair"]["sync"]["lag_changes"]')" = 0 ]; }
check "the sync's lag is back to 0 on both boxes" wait_for 20 lag0
check_eq "the configurations still agree" "True True" \
    "$(js a status 'd["pair"]["config"]["agree"]') $(js b status 'd["pair"]["config"]["agree"]')"

# --- NTP, all along -------------------------------------------------------

touch "$STOP"
wait "$NTPW"
ntp=$(cat "$T/ntpwatch.json")
diag "NTP seen from $(world_id 1): $ntp"
check_eq "NTP never answered unsynchronised (LI 3, stratum 0)" 0 \
    "$(py 'import json,sys; print(json.loads(sys.argv[1])["unsync"])' "$ntp")"
check_eq "NTP answered (synchronised) again after the takeover" True \
    "$(py 'import json,sys; d=json.loads(sys.argv[1]); print((d["last_ok"] or 0) > float(sys.argv[2]))' "$ntp" "$t0")"
diag "longest time without an NTP answer: $(py 'import json,sys; print(json.loads(sys.argv[1])["max_gap_s"])' "$ntp") s"

# --- the fleet logs of both boxes, merged ---------------------------------

sleep 1		# the last batch synced
"$EVGATECTL" export --dir "$(world_pair_log a)" --dir "$(world_pair_log b)" \
    --format jsonl -o "$T/merged.jsonl" 2>"$T/merged.err"
check_eq "the merged export reports no gap" "" "$(grep -i missing "$T/merged.err")"
world_pair_ctl b --json connections >"$T/live.json"
counts=$(py '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
keys = [(e.get("box"), e["seq"]) for e in ev]
dup = len(keys) - len(set(keys))
conns = [e for e in ev if e["type"] == "connection" and e.get("port") == 8883]
ids = [(e.get("box"), e.get("conn")) for e in conns]
live = json.load(open(sys.argv[2]))["connections"]
per = {}
for e in conns:
    per[e.get("charger")] = per.get(e.get("charger"), 0) + 1
for c in live:
    if c.get("port") == 8883:
        per[c.get("charger")] = per.get(c.get("charger"), 0) + 1
print("dup", dup, len(ids) - len(set(ids)))
print("ended_on_a", sum(1 for e in conns if e.get("box") == "gw-a"))
print("live_on_b", sum(1 for c in live if c.get("port") == 8883))
for k in sorted(per, key=str):
    print("charger", k, per[k])
roles = [(e["box"], e["role"]) for e in ev if e["type"] == "role"]
print("roles", " ".join("%s:%s" % r for r in roles))
' "$T/merged.jsonl" "$T/live.json")
diag "$(grep '^roles' <<<"$counts")"
check_eq "the merged export has no event twice" "dup 0 0" "$(grep '^dup' <<<"$counts")"
# Box a closed (and logged) what it relayed when it went to fault; box
# b's are still open: "evgatectl connections", not the log, has them.
check_eq "box a logged the connections it relayed, ended at the cut" \
    "ended_on_a $N" "$(grep '^ended_on_a' <<<"$counts")"
check_eq "box b relays every charger now" "live_on_b $N" \
    "$(grep '^live_on_b' <<<"$counts")"
for i in $(seq 1 $N); do
	id=$(world_id "$i")
	check_eq "every connection of $id once (the firmware's own count)" \
	    "$(fw "$i" 'd["cloud"]["connects"]')" \
	    "$(awk -v id="$id" '$1 == "charger" && $2 == id {print $3}' <<<"$counts")"
done
check_eq "box a's log has its failover to fault, box b's its takeover" \
    "yes yes" "$(grep -q 'gw-a:fault' <<<"$counts" && echo yes) $(grep -q 'gw-b:master' <<<"$counts" && echo yes)"

# Renewals: a lease of 2 minutes is renewed after one; by now each
# charger has renewed with box b (box a, back as backup, answers nothing).
renewed_by_b() {	# every charger's lease renewed after the takeover
	world_pair_ctl b --json chargers | py '
import datetime, json, sys
t = float(sys.argv[1]); ids = sys.argv[2:]; got = 0
for c in json.load(sys.stdin)["chargers"]:
    if c["id"] not in ids or c["lease"] != "active" or not c["expires"]:
        continue
    e = datetime.datetime.strptime(c["expires"][:19], "%Y-%m-%dT%H:%M:%S")
    e = e.replace(tzinfo=datetime.timezone.utc).timestamp()
    # a lease of 2 min that box b gave after the takeover
    if e > t + 120:
        got += 1
sys.exit(0 if got == len(ids) else 1)' "$t0" \
	    $(for i in $(seq 1 $N); do world_id "$i"; done)
}
if wait_for 150 renewed_by_b; then
	ok "every charger renewed its lease with box b"
else
	not_ok "every charger renewed its lease with box b" \
	    "$(world_pair_ctl b chargers)"
fi
naks=0
for i in $(seq 1 $N); do
	naks=$((naks + $(fw "$i" 'd["dhcp"]["naks"]')))
done
check_eq "no charger was refused a renewal (DHCPNAK)" 0 "$naks"
for i in $(seq 1 $N); do
	check_eq "$(world_id "$i") still has its address after renewing" \
	    "$(world_ip "$i")" "$(fw "$i" 'd["dhcp"]["address"]')"
done

# Shipping: both boxes to one collector, each batch and event naming its
# box.
shipped() {
	python3 -c '
import json, sys
boxes = {}
for l in open(sys.argv[1]):
    b = json.loads(l)
    if b.get("status") == 200:
        boxes[b["box"]] = boxes.get(b["box"], 0) + 1
sys.exit(0 if "gw-a" in boxes and "gw-b" in boxes else 1)' \
	    "$W/collector.batches" 2>/dev/null
}
check "both boxes shipped their logs to the collector" wait_for 30 shipped
check "every batch names its box (X-Evgate-Box) and every event in it too" \
    python3 -c '
import json, sys
batches = [json.loads(l) for l in open(sys.argv[1])]
events = [json.loads(l) for l in open(sys.argv[2])]
assert all(b["box"] in ("gw-a", "gw-b") for b in batches if b.get("status") == 200), "a batch without its box"
assert events and all(e.get("box") in ("gw-a", "gw-b") for e in events), "an event without its box"
' "$W/collector.batches" "$W/collector.ndjson"

# Metrics say the same.
m=$(ip netns exec "$WNS_GW2" curl -sS -m 5 http://127.0.0.1:9310/metrics)
check "metrics: box b's role is master" grep -q 'evgate_pair_role{role="master"} 1' <<<"$m"
check "metrics: the peer is connected" grep -q '^evgate_pair_peer_connected 1' <<<"$m"
check "metrics: the lease sync's lag" grep -q '^evgate_pair_sync_lag_changes 0' <<<"$m"

world_down
check_eq "nothing of the world is left (both boxes, keepalived)" "" \
    "$(world_leftovers; pgrep -f "$W/gw" | head -3)"
