# tests/integration/world.d/fw_evcharger.bash: evcharger, the charger
# firmware, as the test world's device (doc/evcharger.8).  Sourced by
# world.sh.
#
#   WORLD_DEVICE=evcharger          each charger namespace runs evcharger
#   WORLD_CHARGER_ADDR=evcharger    its own DHCP client takes the address
#                                   (needs WORLD_SITE=1: the gateway's DHCP);
#                                   with static/dhcp the link is configured
#                                   already and evcharger uses network: static
#   WORLD_FW_TELEMETRY              pulse_idle seconds (default 600)
#   WORLD_FW_METER                  meter_interval seconds (default 60)
#   WORLD_FW_KEEPALIVE              MQTT keepalive seconds (default 300)
#   WORLD_FW_RTC_OFFSET             first-boot RTC error, s (default -2592000:
#                                   a month slow, so SNTP has to set it)
#   WORLD_FW_EXTRA                  more YAML appended to every evcharger.yaml
#
# The charger's DNS fallback is the gateway (10.42.0.1): a charger in the
# world never sends a query anywhere else.  Its identity is the one the
# world provisioned ($W/devices/ID.secret), written into its credential
# store with evprovision.  Files: $W/devices/ID/ (state, evcharger.yaml,
# ctl.sock); log: $W/log/evcharger-ID.log.

: "${WORLD_FW_TELEMETRY:=600}"
: "${WORLD_FW_METER:=60}"
: "${WORLD_FW_KEEPALIVE:=300}"
: "${WORLD_FW_RTC_OFFSET:=-2592000}"
: "${WORLD_FW_EXTRA:=}"
EVCHARGER=$BUILD/charger-fw/evcharger
EVPROVISION=$BUILD/charger-fw/evprovision

# The firmware's own DHCP client gets the address: nothing to do here.
world_charger_addr_evcharger() { return 0; }

world_fw_dir() { echo "$W/devices/$(world_id "$1")"; }
world_fw_sock() { echo "$(world_fw_dir "$1")/ctl.sock"; }

# world_fw_ctl I COMMAND...: the charger's control socket (status, plug,
# unplug, car-full, set-power W, reboot).
world_fw_ctl() {
	local i=$1
	shift
	"$EVCHARGER" --ctl "$(world_fw_sock "$i")" "$@"
}

# world_fw_status I EXPR: a value of its status, e.g. 'd["cloud"]["connected"]'.
world_fw_status() {
	local s
	s=$(world_fw_ctl "$1" status 2>/dev/null) || return 1
	python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' \
	    "$2" <<<"$s"
}

world_device_start_evcharger() {
	local i=$1 id dir net
	id=$(world_id "$i")
	dir=$(world_fw_dir "$i")
	[ -x "$EVCHARGER" ] && [ -x "$EVPROVISION" ] ||
	    { world_err "evcharger is not built"; return 1; }
	mkdir -p "$dir"
	if [ ! -e "$dir/state/credentials" ]; then
		"$EVPROVISION" -d "$dir/state" -i "$id" --hub "$WORLD_HUB" \
		    --secret "$(cat "$(world_secret_file "$id")")" >/dev/null \
		    2>>"$W/log/evcharger-$id.log" ||
		    { world_err "evprovision $id failed"; return 1; }
	fi
	net=static
	[ "$WORLD_CHARGER_ADDR" = evcharger ] && net=dhcp
	cat >"$dir/evcharger.yaml" <<EOY
# $id in the test world (tests/integration/world.d/fw_evcharger.bash)
interface: eth0
network: $net
state_dir: $dir/state
cloud:
  host: $WORLD_HUB
  port: 8883
  ca_file: $W/pki/ca.pem
  auth: password
  keepalive: $WORLD_FW_KEEPALIVE
dns:
  fallback: [$WORLD_GW_LAN]
  timeout_ms: 1000
ntp:
  server: $WORLD_NTP_NAME
telemetry:
  meter_interval: $WORLD_FW_METER
  pulse_idle: $WORLD_FW_TELEMETRY
  pulse_charging: $(( WORLD_FW_TELEMETRY < 180 ? WORLD_FW_TELEMETRY : 180 ))
control:
  socket: $dir/ctl.sock
log:
  level: ${WORLD_FW_LOG_LEVEL:-info}
simulation:
  rtc_offset: $WORLD_FW_RTC_OFFSET
$WORLD_FW_EXTRA
EOY
	world_spawn "$(world_ns "$i")" "evcharger-$id" "$EVCHARGER" \
	    -c "$dir/evcharger.yaml"
}

# Ready: connected to the hub (through the relay).
world_device_ready_evcharger() {
	[ "$(world_fw_status "$1" 'd["cloud"]["connected"]' 2>/dev/null)" = True ]
}
