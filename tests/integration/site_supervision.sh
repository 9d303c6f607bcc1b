#!/bin/bash
# site_supervision: evgated keeps dnsmasq running and the leases safe, in
# the test world with real DHCP clients (the chargers' busybox udhcpc).
#
# - kill -9 of dnsmasq: restarted; the leases go back into it at its start
#   (init), and a charger renews the same address;
# - evgated stopped and started again: dnsmasq stopped with it, the leases
#   intact (evgatectl chargers) and given back to the new dnsmasq;
# - a reservation change is a SIGHUP (same process), another change a
#   restart; a bad reload changes nothing and names file:line:column;
# - a stray DNS server on the LAN address: a clear error naming it, and
#   dnsmasq starts once it is gone;
# - evgated killed with -9: the dnsmasq it leaves behind is stopped by the
#   next evgated;
# - a dnsmasq.binary that is executable but cannot be run: the spawn's own
#   error in the status, and dnsmasq back with the right binary.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

WORLD_SITE=1
WORLD_CHARGER_ADDR=dhcp
WORLD_CHARGER_HOSTS=0
WORLD_DEVICE=none

N=2
if ! world_up $N; then
	not_ok "world up with DHCP from the gateway"
	exit 1
fi
ok "world up: $N chargers got addresses from the gateway's DHCP"

st() { world_site_status "$1"; }
dnsmasq_pid() { st 'd["dnsmasq"]["pid"]'; }
running_other_than() {	# running_other_than PID
	[ "$(st 'd["dnsmasq"]["running"]')" = True ] &&
	    [ "$(dnsmasq_pid)" != "$1" ]
}
lease_of() {	# lease_of ID FIELD: from evgatectl chargers --json
	json_get "$(world_ctl --json chargers)" \
	    "[c['$2'] for c in d['chargers'] if c['id'] == '$1'][0]"
}
obtained() {	# obtained I: how many leases charger I's udhcpc got so far
	grep -c "lease of $(world_ip "$1") obtained" \
	    "$W/log/udhcpc-$(world_id "$1").log"
}
id1=$(world_id 1) id2=$(world_id 2)

check_eq "dnsmasq is running" True "$(st 'd["dnsmasq"]["running"]')"
check_eq "two leases in use" 2 "$(st 'd["dhcp"]["leases"]')"
check_eq "the lease database holds both" 2 \
    "$(grep -c '^[0-9]' "$WORLD_SITE_STATE/leases")"

# --- kill -9 of dnsmasq ------------------------------------------------------

p1=$(dnsmasq_pid)
inits=$(st 'd["dhcp"]["inits"]')
kill -9 "$p1"
if wait_for 15 running_other_than "$p1"; then
	ok "dnsmasq restarted after kill -9 (pid $p1 -> $(dnsmasq_pid))"
else
	not_ok "dnsmasq restarted after kill -9" "$(tail -5 "$W/log/evgated.log")"
fi
check_eq "counted as a restart" 1 "$(st 'd["dnsmasq"]["restarts"]')"
check_eq "the exit is recorded" "signal 9" "$(st 'd["dnsmasq"]["last_exit"]')"
check_eq "its lease hook asked for the table again" $((inits + 1)) \
    "$(st 'd["dhcp"]["inits"]')"
check "and got both leases back" \
    grep -q "gave dnsmasq 2 leases at its start" "$W/log/evgated.log"
n=$(obtained 1)
kill -USR1 "$(world_pid "udhcpc-$id1")"	# renew now
# busybox udhcpc often misses the answer to its first, unicast renew (it
# closes the socket it sent from) and then broadcasts: allow for that.
renewed() { [ "$(obtained 1)" -gt "$n" ]; }
check "charger 1 renews its lease with the new dnsmasq" wait_for 45 renewed
check_eq "with the same address" "$(world_ip 1)" "$(world_charger_addr_of 1)"
check_eq "evgatectl chargers: charger 1's lease is active" \
    "active $(world_ip 1)" \
    "$(lease_of "$id1" lease) $(lease_of "$id1" address)"

# --- evgated restarted ---------------------------------------------------------

exp2=$(lease_of "$id2" expires)
world_stop evgated 10
check_eq "dnsmasq stops with evgated" 0 "$(world_gw_dnsmasqs)"
check "the leases are on disk" \
    grep -q "$(world_mac 2) $(world_ip 2) " "$WORLD_SITE_STATE/leases"
if world_gw_start; then
	ok "evgated started again"
else
	not_ok "evgated started again"
	exit 1
fi
check_eq "leases intact after the restart" \
    "active $(world_ip 1) active $(world_ip 2)" \
    "$(lease_of "$id1" lease) $(lease_of "$id1" address) $(lease_of "$id2" lease) $(lease_of "$id2" address)"
check_eq "charger 2's lease kept its expiry" "$exp2" "$(lease_of "$id2" expires)"
given_twice() {
	[ "$(grep -c 'gave dnsmasq 2 leases at its start' \
	    "$W/log/evgated.log")" -ge 2 ]
}
check "dnsmasq was given the leases again" wait_for 10 given_twice
check_eq "one dnsmasq in the gateway" 1 "$(world_gw_dnsmasqs)"

# --- reload: SIGHUP for reservations, restart for the rest --------------------

p1=$(dnsmasq_pid)
WORLD_SITE_EXTRA="ZAP000150 02:42:00:00:01:50 10.42.0.150"
check "reload with a new reservation" world_gw_reload
check_eq "dnsmasq re-read its reservations (SIGHUP)" 1 \
    "$(st 'd["dnsmasq"]["reservation_reloads"]')"
check_eq "and is the same process" "$p1" "$(dnsmasq_pid)"
check "the reservation is in dnsmasq's hosts file" \
    grep -qx "02:42:00:00:01:50,10.42.0.150" "$WORLD_SITE_RUN/dhcp-hosts"

WORLD_SITE_STEER="$WORLD_NTP_NAME extra.example"
check "reload with one more steered name" world_gw_reload
if wait_for 10 running_other_than "$p1"; then
	ok "dnsmasq restarted for the new configuration"
else
	not_ok "dnsmasq restarted for the new configuration"
fi
check_eq "the new name is steered" "$WORLD_GW_LAN" \
    "$(world_in 1 dig +short +time=2 @"$WORLD_GW_LAN" extra.example A)"

p1=$(dnsmasq_pid)
cp "$WORLD_GW_CONF" "$T/good.yaml"
sed -i 's/^  range: .*/  range: 10.42.0.1-10.42.0.250/' "$WORLD_GW_CONF"
line=$(grep -n '^  range:' "$WORLD_GW_CONF" | cut -d: -f1)
out=$(world_ctl reload 2>&1)
check_eq "a bad reload is refused with file:line:column" \
    "evgatectl: $WORLD_GW_CONF:$line:10: dhcp.range: the range contains the gateway's own address $WORLD_GW_LAN" \
    "$out"
check_eq "and leaves dnsmasq alone" "$p1" "$(dnsmasq_pid)"
cp "$T/good.yaml" "$WORLD_GW_CONF"

# --- a stray DNS server on the LAN address -------------------------------------

world_stop evgated 10
stray=$(bg_ns "$WNS_GW" "$T/stray.log" dnsmasq -k -C /dev/null --port=53 \
    --listen-address="$WORLD_GW_LAN" --bind-interfaces --no-resolv \
    --no-hosts --pid-file= --user=nobody)
wait_for 5 world_udp_bound "$WNS_GW" "$WORLD_GW_LAN" 53
# --check-config (and so the unit's ExecStartPre) refuses such a box,
# naming the program; started anyway, evgated names it and retries.
out=$(ip netns exec "$WNS_GW" "$EVGATED" --check-config -c "$WORLD_GW_CONF" 2>&1)
check_eq "--check-config refuses a box where another program holds port 53" \
    1 "$?"
check "... naming it, at the dns section" grep -qE \
    ":[0-9]+:[0-9]+: dns: port 53 \((TCP|UDP)\) on $WORLD_GW_LAN, for dnsmasq's DNS, is in use by dnsmasq \(pid $stray\)" <<<"$out"
WORLD_GW_CHECK=0 world_gw_start ||
    { not_ok "evgated starts beside a stray dnsmasq"; exit 1; }
waiting() { [ "$(st 'd["dnsmasq"]["state"]')" = waiting ]; }
check "dnsmasq waits while the port is taken" wait_for 5 waiting
err=$(st 'd["dnsmasq"]["last_error"]')
diag "status says: $err"
check "the error says the port is in use, by whom" \
    grep -q "UDP port 53 on $WORLD_GW_LAN is already in use (pid $stray, dnsmasq)" <<<"$err"
kill "$stray"
if wait_for 20 running_other_than 0; then
	ok "dnsmasq starts once the stray one is gone"
else
	not_ok "dnsmasq starts once the stray one is gone" "$(st 'd["dnsmasq"]')"
fi

# --- evgated killed: the next one stops the orphan ------------------------------

orphan=$(dnsmasq_pid)
kill -9 "$(world_pid evgated)"
sleep 0.5
check "the orphaned dnsmasq still runs" kill -0 "$orphan"
world_gw_start || { not_ok "evgated starts after a kill -9"; exit 1; }
if wait_for 10 running_other_than "$orphan"; then
	ok "the new evgated runs its own dnsmasq"
else
	not_ok "the new evgated runs its own dnsmasq" "$(st 'd["dnsmasq"]')"
fi
check_fails "the orphan is gone" kill -0 "$orphan"
check "and it said so" grep -q "stopping pid $orphan, left running by a previous evgated" \
    "$W/log/evgated.log"
check_eq "one dnsmasq in the gateway" 1 "$(world_gw_dnsmasqs)"
check_eq "leases intact" "active active" \
    "$(lease_of "$id1" lease) $(lease_of "$id2" lease)"

# --- a binary that cannot be run ------------------------------------------------

# Executable (so --check-config and the reload take it) but no program:
# posix_spawn reports exec's error itself, no child exits 127.
printf '\001\002not a program\n' >"$T/notexec"
chmod 755 "$T/notexec"
cp "$WORLD_GW_CONF" "$T/good.yaml"
sed -i "s|^dnsmasq:\$|dnsmasq:\n  binary: $T/notexec|" "$WORLD_GW_CONF"
check "reload with a dnsmasq binary that cannot be run" world_ctl reload
check "dnsmasq waits, not running" wait_for 10 waiting
err=$(st 'd["dnsmasq"]["last_error"]')
diag "status says: $err"
check "the error names the binary and exec's reason" \
    grep -q "cannot run $T/notexec: Exec format error" <<<"$err"
cp "$T/good.yaml" "$WORLD_GW_CONF"
check "reload with the right binary" world_ctl reload
if wait_for 20 running_other_than 0; then
	ok "dnsmasq runs again"
else
	not_ok "dnsmasq runs again" "$(st 'd["dnsmasq"]')"
fi
check_eq "one dnsmasq in the gateway" 1 "$(world_gw_dnsmasqs)"
