#!/bin/bash
# fw_standalone: evcharger against real servers, without the test world.
#
# One namespace "srv" holds a bridge (the charger segment, 10.77.0.1/24)
# with dnsmasq (DHCP with 2-minute leases + DNS answering the cloud and NTP
# names), chronyd -x serving time (local stratum 1, never setting the
# clock) and mosquitto with TLS from a test CA, the test cloud's IoT-hub
# plugin (tests/cloud/iothub_plugin.c: per-device $iothub topics, SAS
# token checks) and a password file made by evprovision, plus a plain
# admin listener on the namespace's loopback.  Chargers c1 (password) and
# c2 (SAS token from a device key) run evcharger with their RTC a month
# wrong; c3 is pointed at a listener whose certificate is for another
# name and must never connect; c4 is not known to the hub at first, is
# refused, keeps trying, and gets in once its entry is added.
#
# Checked: leases (and a unicast renewal at T1), SNTP sets the clock,
# TLS + password and SAS logins, telemetry, direct methods 501/502/507
# with their 200/400 replies, reconnect after the broker was down,
# hostname verification, retrying after an authentication failure.  DNS fallbacks are namespace-local (10.77.0.1) only.
. "$(dirname "$0")/lib.sh"

EVCHARGER=$BUILD/charger-fw/evcharger
EVPROVISION=$BUILD/charger-fw/evprovision
PLUGIN=$BUILD/tests/cloud/iothub_plugin.so
HUB=zapcloud.azure-devices.net
SRV=${EVG_PREFIX}-fwsrv
NS1=${EVG_PREFIX}-fwc1
NS2=${EVG_PREFIX}-fwc2
NS3=${EVG_PREFIX}-fwc3
ALL="1 2 3 4"

for f in "$EVCHARGER" "$EVPROVISION" "$PLUGIN"; do
	[ -x "$f" ] || { not_ok "built: $f"; exit 1; }
done

# --- the segment -------------------------------------------------------
netns_add "$SRV" || { not_ok "netns"; exit 1; }
ip -n "$SRV" link add br0 type bridge
ip -n "$SRV" addr add 10.77.0.1/24 dev br0
ip -n "$SRV" link set br0 up
for i in $ALL; do
	ns=${EVG_PREFIX}-fwc$i
	netns_add "$ns"
	ip link add "fw${EVG_PREFIX}c$i" type veth peer name eth0 netns "$ns"
	ip link set "fw${EVG_PREFIX}c$i" netns "$SRV"
	ip -n "$SRV" link set "fw${EVG_PREFIX}c$i" master br0 up
	ip -n "$ns" link set eth0 address "02:77:00:00:00:0$i" up
done

# --- PKI and identities ------------------------------------------------
make_ca "$T/pki" && make_cert "$T/pki" "$HUB" && make_cert "$T/pki" evil.example ||
	{ not_ok "test CA"; exit 1; }
chmod 644 "$T"/pki/*.key
: >"$T/passwd"
: >"$T/sas_keys"
for i in $ALL; do
	id=ZAP00010$i
	case $i in
	2) out=$T/sas_keys args=--sas ;;
	4) out=$T/c4.entry args= ;;	# the hub learns it later
	*) out=$T/passwd args= ;;
	esac
	if ! "$EVPROVISION" -d "$T/c$i" -i "$id" --hub "$HUB" $args >>"$out" 2>"$T/prov$i.log"; then
		not_ok "evprovision $id" "$(cat "$T/prov$i.log")"
		exit 1
	fi
done
ADMIN_PW=$(openssl rand -hex 12)
mosquitto_passwd -b "$T/passwd" evcloud "$ADMIN_PW"
check "evprovision made two password-file entries" \
	test "$(grep -c "^$HUB/ZAP00010[13]/?api-version=2021-04-12:"'[$]7[$]101[$]' "$T/passwd")" = 2
check "evprovision --sas made a device key" \
	grep -qE '^ZAP000102 [A-Za-z0-9+/]{43}=$' "$T/sas_keys"
check_fails "evprovision refuses to overwrite an identity" \
	"$EVPROVISION" -d "$T/c1" -i ZAP000199

# --- servers -----------------------------------------------------------
bg_ns "$SRV" "$T/dnsmasq.log" dnsmasq -k --conf-file=/dev/null -u root \
	--interface=br0 --bind-interfaces --except-interface=lo \
	--dhcp-range=10.77.0.50,10.77.0.99,255.255.255.0,2m \
	--dhcp-option=option:router,10.77.0.1 \
	--dhcp-option=option:dns-server,10.77.0.1 \
	--dhcp-option=option:ntp-server,10.77.0.1 \
	--dhcp-leasefile="$T/leases" --dhcp-authoritative \
	--no-resolv --no-hosts --log-dhcp --log-facility=- \
	--address=/$HUB/10.77.0.1 --address=/no.pool.ntp.org/10.77.0.1 \
	--address=/#/ >/dev/null

cat >"$T/chrony.conf" <<EOF
pidfile $T/chronyd.pid
cmdport 0
bindcmdaddress /
local stratum 1
allow all
EOF
bg_ns "$SRV" "$T/chronyd.log" chronyd -x -d -u root -f "$T/chrony.conf" >/dev/null

cat >"$T/acl" <<EOF
user evcloud
topic read devices/+/messages/events/#
topic read hub/#
topic write hub-to/#
pattern write devices/%c/messages/events/#
pattern read devices/%c/messages/devicebound/#
pattern write \$iothub/#
EOF
cat >"$T/mosquitto.conf" <<EOF
per_listener_settings false
allow_anonymous false
password_file $T/passwd
acl_file $T/acl
plugin $PLUGIN
plugin_opt_hub $HUB
plugin_opt_admin evcloud
plugin_opt_sas_keys $T/sas_keys
persistence false
user root
log_dest stderr
log_type all

listener 1883 127.0.0.1
max_qos 1

listener 8883 10.77.0.1
cafile $T/pki/ca.pem
certfile $T/pki/$HUB.pem
keyfile $T/pki/$HUB.key
tls_version tlsv1.2
max_qos 1

listener 8885 10.77.0.1
cafile $T/pki/ca.pem
certfile $T/pki/evil.example.pem
keyfile $T/pki/evil.example.key
tls_version tlsv1.2
max_qos 1
EOF
BROKER_RUNS=0
start_broker() {	# each run its own log: mosquitto.1.log, mosquitto.2.log
	BROKER_RUNS=$((BROKER_RUNS + 1))
	MOSQ_PID=$(bg_ns "$SRV" "$T/mosquitto.$BROKER_RUNS.log" mosquitto -c "$T/mosquitto.conf")
}
start_broker
wait_for 10 port_open "$SRV" 127.0.0.1 1883 || { not_ok "mosquitto up" "$(tail "$T/mosquitto.1.log")"; exit 1; }

# --- chargers ----------------------------------------------------------
for i in $ALL; do
	cat >"$T/c$i.yaml" <<EOF
interface: eth0
network: dhcp
state_dir: $T/c$i
cloud:
  host: $HUB
  port: $( [ $i = 3 ] && echo 8885 || echo 8883 )
  ca_file: $T/pki/ca.pem
  auth: $( [ $i = 2 ] && echo sas || echo password )
  keepalive: 60
dns:
  fallback: [10.77.0.1]
  timeout_ms: 1000
ntp:
  server: no.pool.ntp.org
telemetry:
  meter_interval: 5
  pulse_idle: 20
  pulse_charging: 10
control:
  socket: $T/c$i.sock
log:
  level: debug
simulation:
  rtc_offset: -2592000
EOF
done
check "evcharger -n accepts the configuration" "$EVCHARGER" -n -c "$T/c1.yaml"
printf 'cloud:\n  keepalive: 5000\n' >"$T/bad.yaml"
out=$("$EVCHARGER" -n -c "$T/bad.yaml" 2>&1)
check_eq "a bad configuration names file:line:column" \
	"evcharger: $T/bad.yaml:2:14: cloud.keepalive: 5000 is out of range 30..1177" "$out"

CPID=()
for i in $ALL; do
	CPID[$i]=$(bg_ns "${EVG_PREFIX}-fwc$i" "$T/c$i.log" "$EVCHARGER" -c "$T/c$i.yaml")
done

ctl() { "$EVCHARGER" --ctl "$T/c$1.sock" "${@:2}"; }
status() { ctl "$1" status 2>/dev/null; }
field() { json_get "$(status "$1")" "$2" 2>/dev/null; }
is() { [ "$(field "$1" "$2")" = "$3" ]; }
# at_least I EXPR N: the status field is a number >= N (for wait_for).
at_least() { local v; v=$(field "$1" "$2"); [ -n "$v" ] && [ "$v" -ge "$3" ]; }
requests() { grep -c "DHCPREQUEST(br0) $1 $2" "$T/dnsmasq.log"; }
renewed() { [ "$(requests "$1" "$2")" -ge 2 ]; }

for i in 1 2; do
	if wait_for 30 is $i 'd["dhcp"]["state"]' bound; then
		addr=$(field $i 'd["dhcp"]["address"]')
		ok "c$i got a lease ($addr)"
		check "c$i: the address is on eth0" \
			in_ns "${EVG_PREFIX}-fwc$i" ip -4 addr show dev eth0 to "$addr"
	else
		not_ok "c$i got a lease" "$(status $i)" "$(tail -5 "$T/c$i.log")"
	fi
	if wait_for 40 is $i 'd["time"]["synced"]' True; then
		ok "c$i synchronised its clock by SNTP"
		wall=$(field $i 'd["time"]["wall"]')
		skew=$(( $(date -u +%s) - $(date -u -d "$wall" +%s) ))
		check "c$i: its clock moved from a month off to the right time (skew ${skew}s)" \
			test "${skew#-}" -le 5
	else
		not_ok "c$i synchronised its clock" "$(status $i)"
	fi
	if wait_for 40 is $i 'd["cloud"]["connected"]' True; then
		ok "c$i connected to the hub over TLS ($( [ $i = 2 ] && echo SAS token || echo password ))"
	else
		not_ok "c$i connected to the hub" "$(status $i)" "$(grep cloud "$T/c$i.log" | tail -5)"
	fi
done

# Telemetry goes up (the pulse every 20 s, state on connect).
sub() {	# sub TOPIC COUNT SECONDS: messages, one per line (-v)
	in_ns "$SRV" mosquitto_sub -h 127.0.0.1 -p 1883 -u evcloud -P "$ADMIN_PW" \
	    -t "$1" -v -C "$2" -W "$3" 2>/dev/null
}
pub() {
	in_ns "$SRV" mosquitto_pub -h 127.0.0.1 -p 1883 -u evcloud -P "$ADMIN_PW" \
	    -t "$1" -m "$2"
}

out=$(sub 'devices/ZAP000101/messages/events/#' 1 40)
case "$out" in
*'"Observations":['*'"Type":6}') ok "c1 telemetry arrives as observations" ;;
*) not_ok "c1 telemetry arrives as observations" "$out" ;;
esac
case "$out" in
*'messages/events/$.mid='[rt][0-9]*-[0-9]*'&$.ct=application%2Fjson&$.ce=utf-8 '*)
	ok "telemetry carries the property bag, with the message's id" ;;
*) not_ok "telemetry carries the property bag, with the message's id" "$out" ;;
esac

# method ID NAME PAYLOAD RID: the reply topic and payload.
method() {
	local id=$1 name=$2 payload=$3 rid=$4 out
	sub "hub/$id/methods/res/+/?\$rid=$rid" 1 15 >"$T/reply.$rid" &
	local spid=$!
	sleep 0.5
	pub "hub-to/$id/methods/POST/$name/?\$rid=$rid" "$payload"
	wait "$spid"
	cat "$T/reply.$rid"
}

out=$(method ZAP000101 501 '["16","3"]' 1)
case "$out" in
*'/res/400/'*) ok "501 without a car is refused with 400" ;;
*) not_ok "501 without a car is refused with 400" "$out" ;;
esac
check "plug in c1's car" ctl 1 plug
wait_for 5 is 1 'd["charger"]["mode"]' 2
sub 'devices/ZAP000101/messages/events/#' 3 20 >"$T/start.tel" &
tpid=$!
sleep 0.5
out=$(method ZAP000101 501 '["16","3"]' 2)
case "$out" in
*'/res/200/'*) ok "501 starts charging (200)" ;;
*) not_ok "501 starts charging (200)" "$out" "$(tail -5 "$T/c1.log")" ;;
esac
check "c1 is charging at 16 A on 3 phases" is 1 '(d["charger"]["mode"], d["charger"]["current"], d["charger"]["phases"])' "(3, 16, 3)"
wait "$tpid"
check "the state change went up (710 = 3)" grep -q '"Value":"3","ObservationId":710' "$T/start.tel"
check "c2 did not see c1's method" is 2 'd["cloud"]["methods"]' 0
sleep 2
check "energy flows" test "$(field 1 'int(d["charger"]["session_wh"] > 0)')" = 1
out=$(method ZAP000101 502 '' 3)
case "$out" in
*'/res/200/'*) ok "502 stops charging (200)" ;;
*) not_ok "502 stops charging (200)" "$out" ;;
esac
check "c1 is back to requesting" is 1 'd["charger"]["mode"]' 2
out=$(method ZAP000101 502 '' 4)
case "$out" in
*'/res/400/'*) ok "502 when not charging is refused with 400" ;;
*) not_ok "502 when not charging is refused with 400" "$out" ;;
esac
out=$(method ZAP000101 507 '' 5)
case "$out" in
*'/res/400/'*'not paused'*) ok "507 when not paused is refused with 400" ;;
*) not_ok "507 when not paused is refused with 400" "$out" ;;
esac
out=$(method ZAP000102 1 '' 6)
case "$out" in
*'/res/200/'*) ok "c2 answers a ping" ;;
*) not_ok "c2 answers a ping" "$out" ;;
esac

# The broker goes away for a while; both come back by themselves.
c1=$(field 1 'd["cloud"]["connects"]')
c2=$(field 2 'd["cloud"]["connects"]')
kill "$MOSQ_PID"
wait_for 10 is 1 'd["cloud"]["connected"]' False &&
	ok "c1 noticed the broker is gone" || not_ok "c1 noticed the broker is gone" "$(status 1)"
check "while the hub is down telemetry queues" wait_for 30 at_least 1 'd["cloud"]["queued"]' 1
sleep 15
start_broker
for i in 1 2; do
	before=$c1
	[ "$i" = 2 ] && before=$c2
	if wait_for 120 at_least $i 'd["cloud"]["connects"]' $((before + 1)); then
		ok "c$i reconnected after the broker came back"
	else
		not_ok "c$i reconnected after the broker came back" "$(status $i)"
	fi
done
check "c1's queued telemetry was sent" wait_for 10 is 1 'd["cloud"]["queued"]' 0
diag "c1 back-off: $(grep 'next attempt' "$T/c1.log" | sed 's/.*next attempt in //' | tr '\n' ';')"

# Hostname verification: a valid CA signature for another name is refused.
check "c3 synchronised its clock" wait_for 30 is 3 'd["time"]["synced"]' True
if wait_for 30 at_least 3 'd["cloud"]["failures"]' 1; then
	ok "c3 refuses a certificate for another name"
	check "c3 never connected" is 3 'd["cloud"]["connects"]' 0
else
	not_ok "c3 refuses a certificate for another name" "$(status 3)"
fi
check "mosquitto saw c3's TLS fail" wait_for 60 grep -q "OpenSSL Error\|SSL routines\|tlsv1 alert\|protocol error" "$T"/mosquitto.*.log

# Authentication: c4 is refused (CONNACK "not authorised") and keeps
# trying; once the hub knows it, it gets in without any help.
if wait_for 60 at_least 4 'd["cloud"]["failures"]' 1; then
	# The charger sees the refusal as the CONNACK, or -- when the
	# broker's close overtakes its read under load -- as a broken pipe
	# right after CONNECT; the broker's log says which it was.
	err4=$(field 4 'd["cloud"]["last_error"]')
	if [ "$(field 4 'd["cloud"]["connects"]')" = 0 ] &&
	    { [[ $err4 == CONNACK* ]] ||
	    grep -q "disconnected, not authorised" "$T"/mosquitto.*.log; }; then
		ok "c4, unknown to the hub, is refused at CONNECT"
	else
		not_ok "c4, unknown to the hub, is refused at CONNECT" "$(status 4)"
	fi
else
	not_ok "c4 is refused" "$(status 4)"
fi
cat "$T/c4.entry" >>"$T/passwd"
kill -HUP "$MOSQ_PID"
if wait_for 150 is 4 'd["cloud"]["connected"]' True; then
	ok "c4 kept trying and got in once the hub knew it ($(field 4 'd["cloud"]["attempts"]') attempts)"
else
	not_ok "c4 got in once the hub knew it" "$(status 4)"
fi
# Its repeated TLS handshakes with the same broker resumed the session.
check "c4's later handshakes resumed the TLS session" \
	at_least 4 'd["cloud"]["tls_resumed"]' 1

# DHCP renewal at T1 (60 s of a 2-minute lease): a second REQUEST.
a1=$(field 1 'd["dhcp"]["address"]')
if wait_for 90 renewed "$a1" 02:77:00:00:00:01; then
	ok "c1 renewed its lease"
else
	not_ok "c1 renewed its lease" "$(grep -i 'dhcp' "$T/dnsmasq.log" | tail -8)"
fi
check "c1 is still bound after renewing" wait_for 5 is 1 'd["dhcp"]["state"]' bound

# Unplug: the session summary (723) goes up.
sub 'devices/ZAP000101/messages/events/#' 2 20 >"$T/unplug.tel" &
tpid=$!
sleep 0.5
check "unplug c1's car" ctl 1 unplug
wait "$tpid"
check "the completed session went up (723)" grep -q '"ObservationId":723' "$T/unplug.tel"
check "c1 is disconnected (mode 1)" is 1 'd["charger"]["mode"]' 1

# A clean stop: SIGTERM ends each one with its "stopping" line and no
# sanitizer report (ASan checks for leaks at exit).
for i in $ALL; do
	kill -TERM "${CPID[$i]}"
done
for i in $ALL; do
	if wait_for 20 bash -c "! kill -0 ${CPID[$i]} 2>/dev/null"; then
		check "c$i stopped on SIGTERM" grep -q 'signal 15: stopping' "$T/c$i.log"
	else
		not_ok "c$i stopped on SIGTERM"
	fi
	check "c$i has no sanitizer report" bash -c "! grep -q 'Sanitizer' '$T/c$i.log'"
done
