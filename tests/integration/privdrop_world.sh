#!/bin/bash
# privdrop_world: evgated started as root with daemon.user drops to that
# user before it serves anything, keeping only CAP_NET_BIND_SERVICE,
# CAP_NET_ADMIN and CAP_NET_RAW (ambient, so dnsmasq gets them), and still
# does everything: DHCP leases, steered DNS, the relay, the fleet log, a
# dnsmasq restart after kill -9, a reload that binds a new privileged port.
# This is the state systemd's User=evgate + AmbientCapabilities= gives the
# service (conf/evgated.service.in).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/world.sh"

USER_=evgate
if ! getent passwd "$USER_" >/dev/null; then
	# As conf/evgate.sysusers does on a real install.
	useradd --system --no-create-home --home-dir /var/lib/evgate \
	    --shell /usr/sbin/nologin "$USER_" || { not_ok "create user $USER_"; exit 1; }
	at_exit "userdel $USER_"
fi
uid=$(id -u "$USER_")

WORLD_SITE=1
WORLD_CHARGER_ADDR=dhcp
WORLD_CHARGER_HOSTS=0
# Every directory it writes to is new: privdrop creates them for the user.
WORLD_GW_SOCK=$W/gw/ctl/evgated.sock
WORLD_FLEETLOG_DIR=$W/gw/var/log
WORLD_SITE_STATE=$W/gw/var/state
WORLD_SITE_RUN=$W/gw/var/run
printf 'daemon:\n  user: %s\n' "$USER_" >"$T/daemon.yaml"
WORLD_GW_YAML_FILES+=("$T/daemon.yaml")
at_exit world_down

N=2
if ! world_up $N; then
	not_ok "world up with an unprivileged gateway" "$(tail -20 "$W/log/evgated.log" 2>/dev/null)"
	exit 1
fi
ok "world up: $N chargers got DHCP leases from an unprivileged gateway"

pid=$(world_pid evgated)
st() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
caps=0000000000003400	# net_bind_service (10), net_admin (12), net_raw (13)
check_eq "evgated runs as $USER_" "$uid $uid $uid $uid" "$(st "$pid" Uid | tr -s '\t' ' ')$(awk '$1=="Uid:" {print " "$3" "$4" "$5}' /proc/$pid/status)"
check_eq "evgated has only the three capabilities" "$caps $caps" "$(st "$pid" CapEff) $(st "$pid" CapPrm)"
check_eq "... ambient, for dnsmasq" "$caps" "$(st "$pid" CapAmb)"
check_eq "... and nothing else in its bounding set" "$caps" "$(st "$pid" CapBnd)"
check_eq "no_new_privs is set" 1 "$(st "$pid" NoNewPrivs)"
check "the log says so" grep -q "running as $USER_ (uid $uid) with cap_net_bind_service,cap_net_admin,cap_net_raw=eip" "$W/log/evgated.log"

dm=$(world_site_status 'd["dnsmasq"]["pid"]')
check_eq "dnsmasq runs as $USER_ too" "$uid" "$(st "$dm" Uid | cut -f1)"
check_eq "... with the capabilities it needs" "$caps" "$(st "$dm" CapEff)"
check_eq "the control socket belongs to $USER_" "$USER_" "$(stat -c %U "$WORLD_GW_SOCK")"
check_eq "the lease database belongs to $USER_" "$USER_" "$(stat -c %U "$WORLD_SITE_STATE/leases")"

# The relay works for a charger whose address came from the gateway.
world_mqtt 1 mosquitto_pub -q 1 -t "devices/$(world_id 1)/messages/events/" -m privdrop-hello
check "a charger publishes through the unprivileged relay" \
    wait_for 10 grep -rq privdrop-hello "$W/cloud/data"
check "the fleet log records it" \
    wait_for 10 bash -c "grep -q '\"sni\":\"$WORLD_HUB\"' $WORLD_FLEETLOG_DIR/*.jsonl"
check_eq "the fleet log belongs to $USER_" "$USER_" \
    "$(stat -c %U "$(ls "$WORLD_FLEETLOG_DIR"/*.jsonl | head -1)")"

# dnsmasq dies: the unprivileged evgated restarts it, and DHCP still works.
kill -9 "$dm"
restarted() { local p; p=$(world_site_status 'd["dnsmasq"]["pid"]') &&
	[ "$p" != "$dm" ] && [ "$(world_site_status 'd["dnsmasq"]["running"]')" = True ]; }
if wait_for 20 restarted; then
	ok "dnsmasq restarted by the unprivileged evgated"
else
	not_ok "dnsmasq restarted by the unprivileged evgated" "$(tail -5 "$W/log/evgated.log")"
fi
dm2=$(world_site_status 'd["dnsmasq"]["pid"]')
check_eq "the new dnsmasq runs as $USER_ with the same capabilities" \
    "$uid $caps" "$(st "$dm2" Uid | cut -f1) $(st "$dm2" CapEff)"
out=$(world_in 1 busybox udhcpc -i eth0 -n -q -t 5 -T 2 -s /bin/true 2>&1)
if grep -q "lease of $(world_ip 1) obtained" <<<"$out"; then
	ok "a charger gets its reserved lease from the restarted dnsmasq"
else
	not_ok "a charger gets its reserved lease from the restarted dnsmasq" "$out"
fi
out=$(world_in 1 dig +short +time=2 +tries=2 "@$WORLD_GW_LAN" "$WORLD_HUB" 2>&1)
check_eq "... and its DNS steers the hub to the gateway" "$WORLD_GW_LAN" "$out"

# A reload that binds a new privileged port (CAP_NET_BIND_SERVICE kept).
world_yaml_relay_993() {
	world_yaml_relay | sed "s/^  routes:\$/  routes:\n    - {port: 993, allow: [$WORLD_HUB]}/"
}
WORLD_GW_SECTIONS=("${WORLD_GW_SECTIONS[@]/#world_yaml_relay/world_yaml_relay_993}")
check "a reload adding port 993 succeeds" world_gw_reload
check "the relay listens on 993" port_open "$(world_ns 1)" "$WORLD_GW_LAN" 993
check_fails "root cannot be regained: evgated's saved uid is not 0" \
    grep -qE '^Uid:.*\b0\b' "/proc/$pid/status"

# A directory it must write to that exists and belongs to root: a clear
# error at start, before anything runs, not an obscure failure later.
mkdir -p "$T/rootdir/ctl"
printf 'control: {socket: %s}\ndaemon: {user: %s}\n' "$T/rootdir/ctl/e.sock" \
    "$USER_" >"$T/rootdir.yaml"
out=$(timeout 10 "$EVGATED" -c "$T/rootdir.yaml" 2>&1); rc=$?
check_eq "a root-owned socket directory stops the start (exit 1)" 1 "$rc"
if grep -q "$T/rootdir/ctl is not writable by uid $uid: chown it" <<<"$out"; then
	ok "... and the error names the directory and the fix"
else
	not_ok "... and the error names the directory and the fix" "$out"
fi
