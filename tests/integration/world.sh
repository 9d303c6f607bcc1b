# tests/integration/world.sh: the test world, a whole car park on one
# machine (bash library; layout and how-to in doc/testworld.md).
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/world.sh"
#   world_up 3 || { not_ok "world up"; exit 1; }    # torn down at exit
#
# Namespaces (P = "$EVG_PREFIX-"), addresses as in the project's plan:
#   ${P}c1..${P}cN  chargers: eth0 02:42:00:00:00:NN, 10.42.0.(20+i)/24,
#                   default route via the gateway (which does not forward)
#   ${P}plc         bridge "plc" = the PLC segment; every port tc tbf 10mbit
#   ${P}gw          evgated: plc0 10.42.0.1/24, wan0 203.0.113.2/24,
#                   IP forwarding off
#   ${P}inet        the internet: eth0 203.0.113.1/24 and
#                   .10 mosquitto (zapcloud.azure-devices.net:8883)
#                   .20 nginx (api.zaptec.com, devices.zaptec.com,
#                       zapcloud-api.azurewebsites.net:443)
#                   .53 dnsmasq, the public DNS
#                   .123 chronyd, no.pool.ntp.org (-x: never sets the clock)
#                   evcloud serve (the cloud behind the hub)
#
# Everything the world makes is under $W (/tmp/evgate-world.$EVG_PREFIX),
# in the namespaces above and in /etc/netns/${P}*; world_down (registered
# with at_exit by world_up) removes all of it, and so does
# "scripts/world down -p PREFIX" after a killed run.
#
# Extension points: other parts of evgate plug in here without editing
# this file, from tests/integration/world.d/*.bash (sourced below, in
# name order) or from a test before world_up:
#   WORLD_GW_SECTIONS    functions whose stdout, concatenated, is
#                        evgated.yaml (add e.g. world_yaml_dhcp)
#   WORLD_GW_YAML_FILES  more YAML files appended to evgated.yaml
#   WORLD_CHARGER_ADDR   static (default) | dhcp | X with
#                        world_charger_addr_X I defined
#   WORLD_CHARGER_HOSTS  1 (default): the charger's /etc/hosts maps the
#                        cloud names to the gateway; 0 once the gateway's
#                        DNS steers them
#   WORLD_DEVICE         standin (default: "evcloud device") | none | X
#                        with world_device_start_X I defined (evcharger)
#   WORLD_INET_HOOKS     functions run after the cloud is up
#   WORLD_INET_DNS_EXTRA more lines for the internet's dnsmasq.conf (e.g.
#                        local-ttl=3600, log-queries); default none
#   WORLD_GW_PRE_HOOKS   functions run before every start of evgated
#   WORLD_GW_WRAPPER     words put before evgated's command line (an array,
#                        default empty; world.d/supervise.bash sets it)
#   WORLD_GW_HOOKS       functions run after evgated is up
#   WORLD_UP_HOOKS       functions run at the end of world_up
#   WORLD_DOWN_HOOKS     functions run first in world_down
#   WORLD_EXPORT_HOOKS   functions run by world_export DIR (each gets DIR)

: "${EVG_PREFIX:?source lib.sh first}"

WORLD_P="${EVG_PREFIX}-"
W=${WORLD_DIR:-/tmp/evgate-world.$EVG_PREFIX}
WNS_PLC=${WORLD_P}plc
WNS_GW=${WORLD_P}gw
WNS_INET=${WORLD_P}inet

EVCLOUD=$BUILD/tests/cloud/evcloud
IOTHUB_PLUGIN=$BUILD/tests/cloud/iothub_plugin.so

WORLD_HUB=zapcloud.azure-devices.net
WORLD_HTTPS_NAMES="api.zaptec.com devices.zaptec.com zapcloud-api.azurewebsites.net"
WORLD_NTP_NAME=no.pool.ntp.org
WORLD_GW_LAN=10.42.0.1
WORLD_GW_WAN=203.0.113.2
WORLD_INET_ADDR=203.0.113.1
WORLD_HUB_ADDR=203.0.113.10
WORLD_WEB_ADDR=203.0.113.20
WORLD_DNS_ADDR=203.0.113.53
WORLD_NTP_ADDRS=${WORLD_NTP_ADDRS:-203.0.113.123}
WORLD_API_VERSION=2021-04-12
WORLD_ADMIN=evcloud
WORLD_PLC_RATE=${WORLD_PLC_RATE:-10mbit}
WORLD_MAX_CHARGERS=200

: "${WORLD_CHARGER_ADDR:=static}"
: "${WORLD_CHARGER_HOSTS:=1}"
: "${WORLD_DEVICE:=standin}"
: "${WORLD_TELEMETRY:=30}"	# stand-in pulse interval, seconds
: "${WORLD_VERBOSE:=0}"
WORLD_GW_SECTIONS=(world_yaml_site world_yaml_wan world_yaml_relay
    world_yaml_control)
WORLD_GW_YAML_FILES=()
WORLD_INET_HOOKS=()
WORLD_GW_HOOKS=()
WORLD_UP_HOOKS=()
WORLD_DOWN_HOOKS=()
WORLD_GW_PRE_HOOKS=()
WORLD_GW_WRAPPER=()
: "${WORLD_INET_DNS_EXTRA:=}"
WORLD_EXPORT_HOOKS=(world_export_gateway world_export_cloud)
WORLD_N=0

world_log() {	# progress, only when asked (scripts/world, scripts/demo)
	[ "$WORLD_VERBOSE" = 1 ] && echo "world: $*" >&2
	return 0
}

world_err() { echo "world: $*" >&2; }

# --- names and numbers ---------------------------------------------------

world_id() { printf 'ZAP000%03d\n' $((100 + $1)); }	# 1 -> ZAP000101
world_ns() { echo "${WORLD_P}c$1"; }
world_ip() { echo "10.42.0.$((20 + $1))"; }
world_mac() { printf '02:42:00:00:%02x:%02x\n' $(($1 >> 8)) $(($1 & 255)); }
world_user() { echo "$WORLD_HUB/$1/?api-version=$WORLD_API_VERSION"; }
world_secret_file() { echo "$W/devices/$1.secret"; }

# Every namespace of this world that exists now (also a half-made one).
world_namespaces() {
	ip netns list 2>/dev/null | awk '{print $1}' |
	    grep -E "^${WORLD_P}(plc|gw|gw2|inet|c[0-9]+)\$"
}

# --- processes -----------------------------------------------------------

# world_spawn NS NAME command...: start in the background inside NS, in
# its own session (so it outlives "scripts/world up"); stdout and stderr
# to $W/log/NAME.log, pid in $W/run/NAME.pid.
world_spawn() {
	local ns=$1 name=$2 pid
	shift 2
	ip netns exec "$ns" setsid "$@" >>"$W/log/$name.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$W/run/$name.pid"
	world_log "started $name (pid $pid) in $ns"
}

# world_alive PID: the process exists and is not a zombie (a child of this
# shell that has exited but not been reaped yet).
world_alive() {
	local st
	# The state follows the command name, which is in parentheses.
	st=$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

world_pid() {	# world_pid NAME: pid of a running world process, or fail
	local pid
	pid=$(cat "$W/run/$1.pid" 2>/dev/null) || return 1
	world_alive "$pid" && echo "$pid"
}

world_stop() {	# world_stop NAME [SECONDS]: SIGTERM, then SIGKILL
	local pid i
	pid=$(world_pid "$1") || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < ${2:-5} * 10; i++)); do
		world_alive "$pid" || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	rm -f "$W/run/$1.pid"
	return 0
}

world_udp_bound() {	# world_udp_bound NS ADDR PORT
	[ -n "$(ip netns exec "$1" ss -Hlun "src $2:$3" 2>/dev/null)" ]
}

# --- the network -----------------------------------------------------------

world_netns_add() {
	ip netns add "$1" || return 1
	ip -n "$1" link set lo up
	# A namespace starts from the host's IPv4 settings: never inherit
	# forwarding from a host that routes.
	ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=0 \
	    net.ipv6.conf.all.forwarding=0 >/dev/null
}

world_shape() {	# world_shape PORT: egress of a bridge port at the PLC rate
	tc -n "$WNS_PLC" qdisc replace dev "$1" root tbf rate "$WORLD_PLC_RATE" \
	    burst 32kbit latency 100ms
}

world_net_up() {
	local a
	world_netns_add "$WNS_PLC" && world_netns_add "$WNS_GW" &&
	    world_netns_add "$WNS_INET" || return 1
	ip -n "$WNS_PLC" link add plc type bridge stp_state 0 forward_delay 0 &&
	ip -n "$WNS_PLC" link set plc up || return 1

	# gateway LAN side: plc0 <-> bridge port "gw"
	ip link add plc0 netns "$WNS_GW" type veth peer name gw \
	    netns "$WNS_PLC" || return 1
	ip -n "$WNS_PLC" link set gw master plc up &&
	world_shape gw &&
	ip -n "$WNS_GW" addr add "$WORLD_GW_LAN/24" dev plc0 &&
	ip -n "$WNS_GW" link set plc0 up || return 1

	# gateway WAN side: wan0 <-> the internet's eth0
	ip link add wan0 netns "$WNS_GW" type veth peer name eth0 \
	    netns "$WNS_INET" || return 1
	ip -n "$WNS_GW" addr add "$WORLD_GW_WAN/24" dev wan0 &&
	ip -n "$WNS_GW" link set wan0 up &&
	ip -n "$WNS_INET" addr add "$WORLD_INET_ADDR/24" dev eth0 &&
	ip -n "$WNS_INET" link set eth0 up || return 1
	for a in $WORLD_HUB_ADDR $WORLD_WEB_ADDR $WORLD_DNS_ADDR \
	    $WORLD_NTP_ADDRS; do
		world_inet_addr "$a" || return 1
	done

	# The gateway resolves through the public DNS only; the internet
	# knows its own names (so nothing here ever asks the host's
	# resolver).
	mkdir -p "/etc/netns/$WNS_GW" "/etc/netns/$WNS_INET"
	echo "nameserver $WORLD_DNS_ADDR" >"/etc/netns/$WNS_GW/resolv.conf"
	printf '127.0.0.1 localhost\n%s %s\n' "$WORLD_HUB_ADDR" "$WORLD_HUB" \
	    >"/etc/netns/$WNS_INET/hosts"
	echo "nameserver $WORLD_DNS_ADDR" >"/etc/netns/$WNS_INET/resolv.conf"
	world_log "network: $WNS_PLC, $WNS_GW, $WNS_INET"
}

world_inet_addr() {	# world_inet_addr ADDR: one more internet address
	ip -n "$WNS_INET" addr replace "$1/32" dev eth0
}

# --- chargers --------------------------------------------------------------

# world_charger_add I: namespace, link, address, names, identity, device.
world_charger_add() {
	local i=$1 ns id
	ns=$(world_ns "$i")
	id=$(world_id "$i")
	world_netns_add "$ns" || return 1
	ip link add eth0 netns "$ns" address "$(world_mac "$i")" type veth \
	    peer name "c$i" netns "$WNS_PLC" || return 1
	ip -n "$WNS_PLC" link set "c$i" master plc up && world_shape "c$i" &&
	    ip -n "$ns" link set eth0 up || return 1
	mkdir -p "/etc/netns/$ns"
	echo "nameserver $WORLD_GW_LAN" >"/etc/netns/$ns/resolv.conf"
	if [ "$WORLD_CHARGER_HOSTS" = 1 ]; then
		printf '127.0.0.1 localhost\n%s %s %s %s\n' "$WORLD_GW_LAN" \
		    "$WORLD_HUB" "$WORLD_HTTPS_NAMES" "$WORLD_NTP_NAME" \
		    >"/etc/netns/$ns/hosts"
	else
		echo "127.0.0.1 localhost" >"/etc/netns/$ns/hosts"
	fi
	world_charger_addr "$i" || { world_err "$id: no address"; return 1; }
	printf '%s %s %s %s\n' "$i" "$id" "$(world_mac "$i")" "$ns" \
	    >>"$W/chargers"
}

world_charger_addr() {	# world_charger_addr I: the hook
	"world_charger_addr_$WORLD_CHARGER_ADDR" "$1"
}

world_charger_addr_static() {
	local ns
	ns=$(world_ns "$1")
	ip -n "$ns" addr add "$(world_ip "$1")/24" dev eth0 &&
	# Chargers believe in a router, as a DHCP client would; the gateway
	# does not forward, so the relay is still the only way out.
	ip -n "$ns" route add default via "$WORLD_GW_LAN"
}

# DHCP from the gateway's dnsmasq (once evgated supervises it): busybox
# udhcpc in the foreground, renewing; the script applies what it got.
world_charger_addr_dhcp() {
	local i=$1 ns id
	ns=$(world_ns "$i")
	id=$(world_id "$i")
	world_udhcpc_script
	world_spawn "$ns" "udhcpc-$id" busybox udhcpc -f -i eth0 -t 20 -T 1 \
	    -x "hostname:$id" -s "$W/bin/udhcpc.script"
	wait_for 25 world_charger_has_addr "$i"
}

world_charger_has_addr() {	# world_charger_has_addr I
	ip -n "$(world_ns "$1")" -4 -o addr show dev eth0 | grep -q inet
}

world_charger_addr_of() {	# world_charger_addr_of I: its IPv4 address
	ip -n "$(world_ns "$1")" -4 -o addr show dev eth0 |
	    awk '{sub("/.*", "", $4); print $4; exit}'
}

world_udhcpc_script() {
	[ -x "$W/bin/udhcpc.script" ] && return 0
	mkdir -p "$W/bin"
	cat >"$W/bin/udhcpc.script" <<'EOF'
#!/bin/sh
# busybox udhcpc event script for the test world's chargers.
case "$1" in
deconfig)
	ip -4 addr flush dev "$interface"
	;;
bound|renew)
	# Replace, never flush and add: between the two the interface had
	# no address and no default route, and a packet sent at that moment
	# (every renewal, every minute) failed with "Network is unreachable"
	# -- the flaky upstream-ntp-gone check of issue 19.  An address of an
	# earlier, different lease goes after the new one is in place.
	ip addr replace "$ip/${mask:-$subnet}" dev "$interface"
	for a in $(ip -4 -o addr show dev "$interface" | awk '{print $4}'); do
		[ "${a%/*}" = "$ip" ] || ip addr del "$a" dev "$interface"
	done
	for r in $router; do
		ip route replace default via "$r" dev "$interface"
		break
	done
	# /etc/resolv.conf is the namespace's /etc/netns/NS/resolv.conf.
	if [ -n "$dns" ]; then
		for d in $dns; do echo "nameserver $d"; done >/etc/resolv.conf
	fi
	;;
esac
exit 0
EOF
	chmod 755 "$W/bin/udhcpc.script"
}

# --- devices: what runs on a charger ---------------------------------------

world_device_start() {	# world_device_start I: the hook
	"world_device_start_$WORLD_DEVICE" "$1"
}

world_device_start_none() { return 0; }

# The stand-in: "evcloud device", a real TLS MQTT device client reaching
# the hub through the relay (the namespace resolves the hub name to the
# gateway).
world_device_start_standin() {
	local i=$1 id
	id=$(world_id "$i")
	rm -f "$W/run/$id.ready"
	world_spawn "$(world_ns "$i")" "device-$id" "$EVCLOUD" device \
	    --id "$id" --cafile "$W/pki/ca.pem" \
	    --password-file "$(world_secret_file "$id")" \
	    --telemetry "$WORLD_TELEMETRY" --ready-file "$W/run/$id.ready"
}

# world_device_ready I: the device says it is connected and subscribed.
# A device kind without a ready file defines world_device_ready_X.
world_device_ready() {
	if declare -F "world_device_ready_$WORLD_DEVICE" >/dev/null; then
		"world_device_ready_$WORLD_DEVICE" "$1"
	elif [ "$WORLD_DEVICE" = none ]; then
		return 0
	else
		[ -e "$W/run/$(world_id "$1").ready" ]
	fi
}

# --- identities ------------------------------------------------------------

# world_provision ID SECRET: the hub accepts device ID with SECRET (a
# password_file entry, hashed by mosquitto_passwd; a running broker
# re-reads it), and the secret is kept in $W/devices/ID.secret for the
# device to use.
world_provision() {
	local id=$1 secret=$2 pw=$W/cloud/passwd
	mkdir -p "$W/devices"
	# The broker re-reads the file when it gets SIGHUP, at a moment of its
	# choosing: it must never see it half written (it would drop every
	# client missing from it), so edit a copy and rename.
	(umask 077 && echo "$secret" >"$(world_secret_file "$id")") &&
	cp -p "$pw" "$pw.new" &&
	mosquitto_passwd -b "$pw.new" "$(world_user "$id")" "$secret" &&
	mv "$pw.new" "$pw" || { world_err "provision $id failed"; return 1; }
	world_reload_hub
}

# Every charger's identity, made in production (before the hub starts, so
# that it needs no reload: mosquitto 2.0.11 forgets listener settings
# such as max_qos when it reloads).
world_identities() {
	local i
	for ((i = 1; i <= WORLD_N; i++)); do
		world_provision "$(world_id "$i")" "$(openssl rand -hex 16)" ||
		    return 1
	done
}

# world_provision_sas ID KEY: the hub accepts SharedAccessSignature
# tokens made with KEY (base64) for device ID, as real hubs do (checked
# by the iothub plugin: resource, signature, expiry); the key is kept in
# $W/devices/ID.key.
world_provision_sas() {
	local id=$1 key=$2
	mkdir -p "$W/devices"
	(umask 077 && echo "$key" >"$W/devices/$id.key") || return 1
	# Rewritten in place: the file keeps the owner and mode mosquitto
	# needs to read it.
	{ grep -v "^$id " "$W/cloud/sas-keys"; echo "$id $key"; } \
	    >"$W/cloud/sas-keys.new" &&
	cat "$W/cloud/sas-keys.new" >"$W/cloud/sas-keys" &&
	rm -f "$W/cloud/sas-keys.new"
}

# world_sas_token ID KEY EXPIRY: a SAS token as a device makes it (EXPIRY
# in Unix seconds), on stdout.
world_sas_token() {
	python3 - "$WORLD_HUB" "$1" "$2" "$3" <<'PY'
import base64, hashlib, hmac, sys, urllib.parse
hub, dev, key, se = sys.argv[1:5]
sr = urllib.parse.quote(f"{hub}/devices/{dev}", safe="")
sig = base64.b64encode(hmac.new(base64.b64decode(key),
    f"{sr}\n{se}".encode(), hashlib.sha256).digest()).decode()
print(f"SharedAccessSignature sr={sr}&sig={urllib.parse.quote(sig, safe='')}&se={se}")
PY
}

# world_hub_throttle ID reported|connect COUNT|*|0: the hub refuses device
# ID's next COUNT reported-property PATCHes (429) or CONNECTs ("*": all,
# 0: none again).  Read by the iothub plugin whenever the file changes.
world_hub_throttle() {
	local id=$1 what=$2 n=$3
	{ grep -v "^$id $what " "$W/cloud/throttle"; echo "$id $what $n"; } \
	    >"$W/cloud/throttle.new" &&
	cat "$W/cloud/throttle.new" >"$W/cloud/throttle" &&
	rm -f "$W/cloud/throttle.new"
}

world_reload_hub() {
	local pid
	pid=$(world_pid mosquitto) || return 0
	kill -HUP "$pid"
}

# --- the cloud stand-in ----------------------------------------------------

world_pki() {
	local n
	make_ca "$W/pki" && make_cert "$W/pki" "$WORLD_HUB" || return 1
	for n in $WORLD_HTTPS_NAMES; do
		make_cert "$W/pki" "$n" || return 1
	done
	rm -f "$W"/pki/*.csr
	# mosquitto reads its key after dropping to its own user.
	if getent group mosquitto >/dev/null; then
		chgrp mosquitto "$W/pki/$WORLD_HUB.key" && \
		    chmod 640 "$W/pki/$WORLD_HUB.key"
	else
		chmod 644 "$W/pki/$WORLD_HUB.key"
	fi
}

world_hub_config() {
	local grp=root
	getent group mosquitto >/dev/null && grp=mosquitto
	mkdir -p "$W/cloud/data"
	: >"$W/cloud/passwd"
	chgrp "$grp" "$W/cloud/passwd" && chmod 640 "$W/cloud/passwd"
	(umask 077 && openssl rand -hex 16 >"$W/cloud/admin.secret")
	mosquitto_passwd -b "$W/cloud/passwd" "$WORLD_ADMIN" \
	    "$(cat "$W/cloud/admin.secret")" || return 1
	cat >"$W/cloud/acl" <<EOF
# The cloud (evcloud): what devices send, and the plugin's two topic trees.
user $WORLD_ADMIN
topic read devices/+/messages/events/#
topic write devices/+/messages/devicebound/#
topic read hub/#
topic write hub-to/#
topic readwrite evcloud/#

# Every device: its own topics only (%c = client id, which the iothub
# plugin binds to the username).  It may publish to \$iothub/# (the plugin
# rewrites that to hub/<id>/...) but reads nothing there through a
# subscription: the plugin delivers its \$iothub messages to it alone.
pattern write devices/%c/messages/events/#
pattern read devices/%c/messages/devicebound/#
pattern write \$iothub/#
EOF
	chgrp "$grp" "$W/cloud/acl" && chmod 640 "$W/cloud/acl"
	: >"$W/cloud/sas-keys"
	chgrp "$grp" "$W/cloud/sas-keys" && chmod 640 "$W/cloud/sas-keys"
	: >"$W/cloud/throttle"
	chgrp "$grp" "$W/cloud/throttle" && chmod 640 "$W/cloud/throttle"

	# TLS 1.2 at most, as the hub's classic endpoint: mosquitto's own
	# tls_version is only a minimum, so cap it through OpenSSL's
	# configuration (MaxProtocol), which libssl applies to every context.
	cat >"$W/cloud/openssl-tls12.cnf" <<EOF
openssl_conf = evgate_cloud
[evgate_cloud]
ssl_conf = evgate_ssl
[evgate_ssl]
system_default = evgate_tls
[evgate_tls]
MinProtocol = TLSv1.2
MaxProtocol = TLSv1.2
CipherString = DEFAULT:@SECLEVEL=2
EOF
	cat >"$W/cloud/mosquitto.conf" <<EOF
# The stand-in IoT hub (see doc/testworld.md).
per_listener_settings false
allow_anonymous false
password_file $W/cloud/passwd
acl_file $W/cloud/acl
plugin $IOTHUB_PLUGIN
plugin_opt_hub $WORLD_HUB
plugin_opt_admin $WORLD_ADMIN
plugin_opt_sas_keys $W/cloud/sas-keys
plugin_opt_throttle $W/cloud/throttle
# 256 KiB messages, as the hub, plus room for the topic and header
max_packet_size 266240
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
log_type subscribe
log_timestamp_format %Y-%m-%dT%H:%M:%S

listener 8883 $WORLD_HUB_ADDR
cafile $W/pki/ca.pem
certfile $W/pki/$WORLD_HUB.pem
keyfile $W/pki/$WORLD_HUB.key
tls_version tlsv1.2
# A listener setting: given before any "listener" it would make mosquitto
# open a default listener on 1883 and not apply here.
max_qos 1
EOF
}

world_hub_start() {
	world_spawn "$WNS_INET" mosquitto env \
	    OPENSSL_CONF="$W/cloud/openssl-tls12.cnf" \
	    mosquitto -c "$W/cloud/mosquitto.conf"
	wait_for 10 port_open "$WNS_INET" "$WORLD_HUB_ADDR" 8883 ||
	    { world_err "mosquitto did not start"; tail -5 "$W/log/mosquitto.log" >&2; return 1; }
}

world_web_start() {
	local n d=$W/inet/nginx
	mkdir -p "$d" "$W/www"
	for n in $WORLD_HTTPS_NAMES; do mkdir -p "$W/www/$n"; done
	# The firmware directory (later: signed images from charger-fw).
	WORLD_FIRMWARE_DIR=$W/www/devices.zaptec.com/firmware
	mkdir -p "$WORLD_FIRMWARE_DIR"
	head -c 1048576 /dev/urandom >"$WORLD_FIRMWARE_DIR/test-image.bin"
	echo "evgate test world: $n" >"$W/www/api.zaptec.com/index.html"
	chmod -R a+rX "$W/www"
	{
		cat <<EOF
# The cloud's HTTPS hosts (see doc/testworld.md).
daemon off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log notice;
events { worker_connections 1024; }
http {
	access_log $d/access.log;
	client_body_temp_path $d/body;
	proxy_temp_path $d/proxy;
	fastcgi_temp_path $d/fastcgi;
	uwsgi_temp_path $d/uwsgi;
	scgi_temp_path $d/scgi;
	default_type application/octet-stream;
	types { text/html html; application/json json; text/plain txt; }
	ssl_protocols TLSv1.2 TLSv1.3;
EOF
		for n in $WORLD_HTTPS_NAMES; do
			cat <<EOF
	server {
		listen $WORLD_WEB_ADDR:443 ssl;
		server_name $n;
		ssl_certificate $W/pki/$n.pem;
		ssl_certificate_key $W/pki/$n.key;
		root $W/www/$n;
	}
EOF
		done
		echo "}"
	} >"$W/inet/nginx.conf"
	world_spawn "$WNS_INET" nginx nginx -e "$d/error.log" \
	    -c "$W/inet/nginx.conf" -p "$d"
	wait_for 10 port_open "$WNS_INET" "$WORLD_WEB_ADDR" 443 ||
	    { world_err "nginx did not start"; tail -5 "$d/error.log" >&2; return 1; }
}

world_dns_start() {
	local n a
	{
		cat <<EOF
# The internet's public DNS: it knows the cloud and NTP names, nothing else.
no-resolv
no-hosts
listen-address=$WORLD_DNS_ADDR
bind-interfaces
port=53
pid-file=$W/inet/dnsmasq.pid
EOF
		# Real cloud names have a TTL; dnsmasq's own records have 0
		# unless told (the gateway honours 0: "do not keep").
		case "$WORLD_INET_DNS_EXTRA" in
		*local-ttl=*) ;;
		*) echo "local-ttl=60" ;;
		esac
		cat <<EOF
address=/$WORLD_HUB/$WORLD_HUB_ADDR
local=/$WORLD_HUB/
EOF
		for n in $WORLD_HTTPS_NAMES; do
			printf 'address=/%s/%s\nlocal=/%s/\n' "$n" \
			    "$WORLD_WEB_ADDR" "$n"
		done
		for a in $WORLD_NTP_ADDRS; do
			printf 'address=/%s/%s\n' "$WORLD_NTP_NAME" "$a"
		done
		printf 'local=/%s/\naddress=/#/\n' "$WORLD_NTP_NAME"
		[ -z "$WORLD_INET_DNS_EXTRA" ] || echo "$WORLD_INET_DNS_EXTRA"
	} >"$W/inet/dnsmasq.conf"
	world_spawn "$WNS_INET" dnsmasq dnsmasq -k -C "$W/inet/dnsmasq.conf"
	wait_for 10 world_udp_bound "$WNS_INET" "$WORLD_DNS_ADDR" 53 ||
	    { world_err "dnsmasq did not start"; return 1; }
}

# world_ntp_start ADDR: chronyd serving time at ADDR.  -x: it never sets
# the machine's clock; "local stratum 1": it serves without an upstream.
world_ntp_start() {
	local a=$1 d=$W/inet/chrony-$1
	mkdir -p "$d"
	# chronyd insists that its socket directory is its own.
	getent passwd _chrony >/dev/null && chown _chrony: "$d"
	chmod 750 "$d"
	cat >"$d/chrony.conf" <<EOF
# $WORLD_NTP_NAME in the test world; never touches the clock (-x).
local stratum 1
allow all
bindaddress $a
port 123
cmdport 0
bindcmdaddress $d/chronyd.sock
pidfile $d/chronyd.pid
driftfile $d/drift
EOF
	world_spawn "$WNS_INET" "chronyd-$a" chronyd -x -d -f "$d/chrony.conf"
	wait_for 10 world_udp_bound "$WNS_INET" "$a" 123 ||
	    { world_err "chronyd at $a did not start"; return 1; }
}

world_evcloud() {	# world_evcloud COMMAND args...: in the internet
	ip netns exec "$WNS_INET" "$EVCLOUD" "$@" --cafile "$W/pki/ca.pem" \
	    --password-file "$W/cloud/admin.secret" --dir "$W/cloud/data"
}

world_cloud_start() {
	rm -f "$W/run/evcloud.ready"
	world_spawn "$WNS_INET" evcloud "$EVCLOUD" serve --dir "$W/cloud/data" \
	    --cafile "$W/pki/ca.pem" --password-file "$W/cloud/admin.secret" \
	    --ready-file "$W/run/evcloud.ready"
	wait_for 15 test -e "$W/run/evcloud.ready" ||
	    { world_err "evcloud serve did not start"; tail -5 "$W/log/evcloud.log" >&2; return 1; }
}

world_inet_up() {
	local a f
	world_pki || { world_err "test CA failed"; return 1; }
	world_hub_config && world_identities || return 1
	world_dns_start && world_web_start && world_hub_start || return 1
	for a in $WORLD_NTP_ADDRS; do world_ntp_start "$a" || return 1; done
	world_cloud_start || return 1
	for f in "${WORLD_INET_HOOKS[@]}"; do "$f" || return 1; done
	world_log "cloud: hub, web, dns, ntp ($WORLD_NTP_ADDRS), evcloud"
}

# --- the gateway -------------------------------------------------------------

WORLD_GW_SOCK=$W/gw/evgated.sock
WORLD_GW_CONF=$W/gw/evgated.yaml

world_yaml_site() {
	printf 'site:\n  name: "evgate test world %s"\n' "$EVG_PREFIX"
}

world_yaml_wan() {
	printf 'wan:\n  resolvers: ["%s"]\n' "$WORLD_DNS_ADDR"
}

world_yaml_relay() {
	local n list=""
	for n in $WORLD_HTTPS_NAMES; do list="$list${list:+, }$n"; done
	cat <<EOF
relay:
  listen: $WORLD_GW_LAN
  routes:
    - port: 8883
      allow: [$WORLD_HUB]
    - port: 443
      allow: [$list]
  timeouts:
    drain: 2s
EOF
}

world_yaml_control() {
	printf 'control:\n  socket: %s\n' "$WORLD_GW_SOCK"
}

world_gw_config() {	# the generated evgated.yaml, on stdout
	local f
	echo "# evgated.yaml generated by tests/integration/world.sh"
	for f in "${WORLD_GW_SECTIONS[@]}"; do
		"$f" || { world_err "YAML section $f failed"; return 1; }
	done
	for f in "${WORLD_GW_YAML_FILES[@]}"; do
		cat "$f" || return 1
	done
}

world_gw_write_config() {
	mkdir -p "$W/gw"
	world_gw_config >"$WORLD_GW_CONF.tmp" &&
	    mv "$WORLD_GW_CONF.tmp" "$WORLD_GW_CONF"
}

world_ctl() {	# world_ctl args...: evgatectl against the world's gateway
	"$EVGATECTL" -s "$WORLD_GW_SOCK" "$@"
}

world_gw_start() {
	local f
	world_gw_write_config || return 1
	# In the gateway's namespace: the check looks at its interfaces.
	# WORLD_GW_CHECK=0: a test that starts evgated on a box the check
	# refuses on purpose (a stray DNS server) to see the daemon cope.
	if [ "${WORLD_GW_CHECK:-1}" = 1 ]; then
		ip netns exec "$WNS_GW" "$EVGATED" --check-config \
		    -c "$WORLD_GW_CONF" >"$W/log/check.log" 2>&1 ||
		    { world_err "evgated rejects $WORLD_GW_CONF:"; cat "$W/log/check.log" >&2; return 1; }
	fi
	for f in "${WORLD_GW_PRE_HOOKS[@]}"; do "$f" || return 1; done
	world_spawn "$WNS_GW" evgated "${WORLD_GW_WRAPPER[@]}" "$EVGATED" \
	    -c "$WORLD_GW_CONF"
	wait_for 10 world_ctl status ||
	    { world_err "evgated did not start"; tail -5 "$W/log/evgated.log" >&2; return 1; }
	for f in "${WORLD_GW_HOOKS[@]}"; do "$f" || return 1; done
}

world_gw_reload() {	# rewrite evgated.yaml and reload
	world_gw_write_config && world_ctl reload
}

world_gw_dnsmasqs() {	# dnsmasq main processes in the gateway's namespace
	local pid n=0
	for pid in $(ip netns pids "$WNS_GW"); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dnsmasq ] || continue
		# not dnsmasq's own helper (its child)
		[ "$(cat "/proc/$(awk '{print $4}' "/proc/$pid/stat")/comm" \
		    2>/dev/null)" = dnsmasq ] && continue
		n=$((n + 1))
	done
	echo "$n"
}

# --- the whole world ---------------------------------------------------------

world_check_tools() {
	local f
	for f in "$EVGATED" "$EVGATECTL" "$EVCLOUD" "$IOTHUB_PLUGIN"; do
		[ -e "$f" ] && continue
		world_err "$f is missing: build first (make in $BUILD)"
		return 1
	done
	for f in mosquitto mosquitto_passwd nginx dnsmasq chronyd openssl tc; do
		command -v "$f" >/dev/null && continue
		world_err "$f is not installed: run scripts/setup"
		return 1
	done
	[ "$(id -u)" = 0 ] || { world_err "needs root (network namespaces)"; return 1; }
}

# world_up N: N chargers and everything around them, running.  Fails (and
# says why on stderr) if any part does not come up; world_down, registered
# with at_exit, cleans up either way.
world_up() {
	local n=${1:-3} i f
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] ||
	    [ "$n" -gt "$WORLD_MAX_CHARGERS" ]; then
		world_err "number of chargers must be 1..$WORLD_MAX_CHARGERS"
		return 1
	fi
	world_check_tools || return 1
	at_exit world_down
	if [ -n "$(world_namespaces)" ] || [ -e "$W" ]; then
		world_err "a world with prefix $EVG_PREFIX exists; removing it"
		world_down
	fi
	WORLD_N=$n
	mkdir -p "$W"/{log,run,gw,inet,cloud,devices} && chmod 755 "$W" ||
	    return 1
	: >"$W/chargers"
	world_write_env started
	world_net_up || { world_err "network set-up failed"; return 1; }
	world_inet_up || return 1
	world_gw_start || return 1
	for ((i = 1; i <= n; i++)); do
		world_charger_add "$i" || return 1
	done
	world_log "chargers: $n ($(world_id 1)..$(world_id "$n")), addresses: $WORLD_CHARGER_ADDR"
	for ((i = 1; i <= n; i++)); do
		world_device_start "$i" || return 1
	done
	if ! wait_for 30 world_devices_ready; then
		world_err "devices not connected: $(world_devices_unready)"
		return 1
	fi
	for f in "${WORLD_UP_HOOKS[@]}"; do "$f" || return 1; done
	world_write_env up
	world_log "up: $n chargers, devices: $WORLD_DEVICE, files in $W"
}

world_devices_ready() {
	local i
	for ((i = 1; i <= WORLD_N; i++)); do
		world_device_ready "$i" || return 1
	done
}

world_devices_unready() {
	local i out=""
	for ((i = 1; i <= WORLD_N; i++)); do
		world_device_ready "$i" || out="$out $(world_id "$i")"
	done
	echo "${out# }"
}

# $W/world.env: what scripts/world status and other shells need to know.
world_write_env() {
	cat >"$W/world.env.tmp" <<EOF
WORLD_STATE=$1
EVG_PREFIX=$EVG_PREFIX
WORLD_N=$WORLD_N
WORLD_DEVICE=$WORLD_DEVICE
WORLD_CHARGER_ADDR=$WORLD_CHARGER_ADDR
EVGATE_BUILD=$BUILD
W=$W
WORLD_STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
	mv "$W/world.env.tmp" "$W/world.env"
}

# world_load: in a new shell, pick up a world made by "scripts/world up".
world_load() {
	[ -r "$W/world.env" ] || return 1
	WORLD_N=$(sed -n 's/^WORLD_N=//p' "$W/world.env")
	WORLD_DEVICE=$(sed -n 's/^WORLD_DEVICE=//p' "$W/world.env")
	WORLD_CHARGER_ADDR=$(sed -n 's/^WORLD_CHARGER_ADDR=//p' "$W/world.env")
}

# world_down: stop everything and remove every trace; safe to run twice,
# and on a world half made or left by a killed run.
world_down() {
	local f ns pid i left
	for f in "${WORLD_DOWN_HOOKS[@]}"; do "$f" >/dev/null 2>&1; done
	# The gateway first and gracefully: it drains its connections.
	[ -d "$W/run" ] && world_stop evgated 5
	for ns in $(world_namespaces); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -TERM "$pid" 2>/dev/null
		done
	done
	for ((i = 0; i < 30; i++)); do
		left=0
		for ns in $(world_namespaces); do
			[ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && left=1
		done
		[ "$left" = 0 ] && break
		sleep 0.1
	done
	for ns in $(world_namespaces); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	for ns in /etc/netns/"${WORLD_P}"*; do
		[ -e "$ns" ] || continue
		[[ ${ns#/etc/netns/} =~ ^${WORLD_P}(plc|gw|gw2|inet|c[0-9]+)$ ]] &&
		    rm -rf "$ns"
	done
	if [ "${KEEP:-0}" = 1 ] && [ -d "$W" ]; then
		echo "# kept $W" >&2
	else
		rm -rf "$W"
	fi
	WORLD_N=0
	return 0
}

# world_leftovers: what of this world still exists (empty when clean).
world_leftovers() {
	world_namespaces | sed 's/^/namespace /'
	ls -d /etc/netns/"${WORLD_P}"* 2>/dev/null | sed 's/^/file /'
	[ -e "$W" ] && echo "directory $W"
	return 0
}

# --- what tests and the demo use ----------------------------------------------

world_in() {	# world_in I command...: run inside charger I's namespace
	local ns
	ns=$(world_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

# world_mqtt_args I: the mosquitto_pub/mosquitto_sub options that make a
# client device I: TLS with the world's CA, the hub name (resolved to the
# gateway in the charger's namespace), its id, username and secret.
world_mqtt_args() {
	local id
	id=$(world_id "$1")
	printf '%s\n' -h "$WORLD_HUB" -p 8883 --cafile "$W/pki/ca.pem" \
	    -V mqttv311 -i "$id" -u "$(world_user "$id")" \
	    -P "$(cat "$(world_secret_file "$id")")"
}

# world_mqtt I TOOL args...: mosquitto_pub/_sub/_rr as device I, from its
# charger namespace, through the relay.
world_mqtt() {
	local i=$1 tool=$2 args
	shift 2
	mapfile -t args < <(world_mqtt_args "$i")
	world_in "$i" "$tool" "${args[@]}" "$@"
}

# world_mqtt_tool I [options] STEP...: tests/integration/mqtt_tool.py as
# device I (TLS, CA, id, username, secret) from its charger namespace,
# through the relay: SUBACK codes, PUBACKs, a client that never pings.
world_mqtt_tool() {
	local i=$1 id
	shift
	id=$(world_id "$i")
	world_in "$i" python3 "$(dirname "${BASH_SOURCE[0]}")/mqtt_tool.py" \
	    -h "$WORLD_HUB" -p 8883 --cafile "$W/pki/ca.pem" -i "$id" \
	    -u "$(world_user "$id")" -P "$(cat "$(world_secret_file "$id")")" \
	    "$@"
}

world_status() {	# a human summary of the world
	local i id addr f pid dev
	if [ ! -r "$W/world.env" ]; then
		echo "no world with prefix $EVG_PREFIX"
		return 1
	fi
	world_load
	echo "world $EVG_PREFIX: $WORLD_N chargers, devices: $WORLD_DEVICE," \
	    "files in $W"
	echo "namespaces: $(world_namespaces | tr '\n' ' ')"
	for f in evgated mosquitto nginx dnsmasq evcloud; do
		if pid=$(world_pid "$f"); then
			echo "  $f: running (pid $pid)"
		else
			echo "  $f: NOT running"
		fi
	done
	for ((i = 1; i <= WORLD_N; i++)); do
		id=$(world_id "$i")
		addr=$(world_charger_addr_of "$i" 2>/dev/null)
		# The stand-in runs as device-ID, the firmware as evcharger-ID.
		dev=none
		if world_pid "device-$id" >/dev/null; then dev="stand-in running"
		elif world_pid "evcharger-$id" >/dev/null; then dev="evcharger running"
		elif [ -e "$W/run/device-$id.pid" ] ||
		    [ -e "$W/run/evcharger-$id.pid" ]; then dev=stopped
		fi
		echo "  $id $(world_ns "$i") ${addr:-no address} device: $dev"
	done
}

# world_export DIR: everything the world can tell about itself, as files.
world_export() {
	local d=$1 f
	mkdir -p "$d" || return 1
	for f in "${WORLD_EXPORT_HOOKS[@]}"; do "$f" "$d"; done
}

world_export_gateway() {
	world_ctl --json status >"$1/evgated-status.json" 2>"$1/errors.txt"
	world_ctl --json connections >"$1/evgated-connections.json" \
	    2>>"$1/errors.txt"
	cp "$WORLD_GW_CONF" "$1/evgated.yaml" 2>/dev/null
	[ -s "$1/errors.txt" ] || rm -f "$1/errors.txt"
	return 0
}

world_export_cloud() {
	mkdir -p "$1/cloud"
	cp "$W"/cloud/data/*.json* "$1/cloud/" 2>/dev/null
	return 0
}

# world_detach: for scripts that bring a world up and leave it running
# (scripts/world up): drop lib.sh's exit-time clean-up and its temp dir.
world_detach() {
	trap - EXIT INT TERM
	rmdir "$T" 2>/dev/null
	at_exit() { :; }
}

# Extensions from other parts of evgate (see the top of this file).
for _world_ext in "$(dirname "${BASH_SOURCE[0]}")"/world.d/*.bash; do
	[ -e "$_world_ext" ] || continue
	# shellcheck disable=SC1090
	. "$_world_ext"
done
unset _world_ext
