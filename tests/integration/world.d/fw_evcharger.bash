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
#   WORLD_FW_AUTH                   sas (default: a device key, SAS tokens,
#                                   as on a real hub) or password
#   WORLD_FW_SAS_TTL                token life, s (default 3600)
#   WORLD_FW_CLOUD_EXTRA            more lines for the cloud: section (each
#                                   indented two spaces), e.g. backoff_cap
#   WORLD_FW_EXTRA                  more YAML appended to every evcharger.yaml
#                                   (with a firmware: section of its own, the
#                                   world's release key below is left out)
#
# The world has a firmware release key (Ed25519, key id "world-release",
# $W/keys/world-release.{key,pub}, made at the first charger's start) that
# every charger trusts, so that an image signed with it can be rolled out:
# world_fw_release (scripts/world release) signs one into the web server's
# firmware directory.
#
# The charger's DNS fallback is the gateway (10.42.0.1): a charger in the
# world never sends a query anywhere else.  Its identity is the one the
# world provisioned: with SAS (the default) a device key made at its first
# start ($W/devices/ID.key, given to the hub with world_provision_sas), else
# the password ($W/devices/ID.secret); either is written into its
# credential store with evprovision.  The password stays provisioned for
# the tests' plain clients (world_mqtt) either way.  Files: $W/devices/ID/ (state, evcharger.yaml,
# ctl.sock); log: $W/log/evcharger-ID.log.

: "${WORLD_FW_TELEMETRY:=600}"
: "${WORLD_FW_METER:=60}"
: "${WORLD_FW_KEEPALIVE:=300}"
: "${WORLD_FW_RTC_OFFSET:=-2592000}"
: "${WORLD_FW_EXTRA:=}"
: "${WORLD_FW_AUTH:=sas}"
: "${WORLD_FW_SAS_TTL:=3600}"
: "${WORLD_FW_CLOUD_EXTRA:=}"
EVCHARGER=$BUILD/charger-fw/evcharger
EVPROVISION=$BUILD/charger-fw/evprovision
EVFWSIGN=$BUILD/charger-fw/tools/evfw-sign
WORLD_FW_KEY_ID=world-release

# The YAML that makes a charger trust the world's release key (made once).
world_fw_keys_yaml() {
	local pub
	case "$WORLD_FW_EXTRA" in *firmware:*) return 0 ;; esac
	if [ ! -s "$W/keys/$WORLD_FW_KEY_ID.pub" ]; then
		mkdir -p "$W/keys"
		"$EVFWSIGN" keygen --key-id "$WORLD_FW_KEY_ID" --out "$W/keys" \
		    >"$W/keys/$WORLD_FW_KEY_ID.txt" || return 1
	fi
	pub=$(sed -n 's/^public_key: //p' "$W/keys/$WORLD_FW_KEY_ID.txt")
	[ -n "$pub" ] || return 1
	printf 'firmware:\n  keys:\n    - {id: %s, key: "%s"}\n' \
	    "$WORLD_FW_KEY_ID" "$pub"
}

# world_fw_release VERSION [SECURITY_VERSION [SIZE]]: a random image of SIZE
# (default 1M) signed with the world's release key, in the web server's
# firmware directory; prints its manifest URL.
world_fw_release() {
	local v=$1 sv=${2:-0} size=${3:-1M} f
	f=$WORLD_FIRMWARE_DIR/evcharger-$v.bin
	[ -s "$W/keys/$WORLD_FW_KEY_ID.key" ] ||
	    { world_err "no release key: start a world with evcharger chargers"; return 1; }
	head -c "$size" /dev/urandom >"$f" &&
	    "$EVFWSIGN" sign --key "$W/keys/$WORLD_FW_KEY_ID.key" \
	    --key-id "$WORLD_FW_KEY_ID" --product evcharger-sim --version "$v" \
	    --security-version "$sv" --expires 30d "$f" >/dev/null || return 1
	chmod a+r "$WORLD_FIRMWARE_DIR"/*
	echo "https://devices.zaptec.com/firmware/evcharger-$v.manifest"
}

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
	local i=$1 id dir net secret
	id=$(world_id "$i")
	dir=$(world_fw_dir "$i")
	[ -x "$EVCHARGER" ] && [ -x "$EVPROVISION" ] ||
	    { world_err "evcharger is not built"; return 1; }
	mkdir -p "$dir"
	if [ ! -e "$dir/state/credentials" ]; then
		if [ "$WORLD_FW_AUTH" = sas ]; then
			secret=$(openssl rand -base64 32)
			world_provision_sas "$id" "$secret" || return 1
		else
			secret=$(cat "$(world_secret_file "$id")")
		fi
		"$EVPROVISION" -d "$dir/state" -i "$id" --hub "$WORLD_HUB" \
		    --secret "$secret" >/dev/null \
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
  auth: $WORLD_FW_AUTH
  sas_ttl: $WORLD_FW_SAS_TTL
  keepalive: $WORLD_FW_KEEPALIVE
$WORLD_FW_CLOUD_EXTRA
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
$(world_fw_keys_yaml)
$WORLD_FW_EXTRA
EOY
	world_spawn "$(world_ns "$i")" "evcharger-$id" "$EVCHARGER" \
	    -c "$dir/evcharger.yaml"
}

# Ready: connected to the hub (through the relay).
world_device_ready_evcharger() {
	[ "$(world_fw_status "$1" 'd["cloud"]["connected"]' 2>/dev/null)" = True ]
}
