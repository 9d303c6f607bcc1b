# tests/integration/world.d/site.bash: the gateway's site services in the
# test world -- DHCP leases and steered DNS from evgated's dnsmasq
# (doc/site-services.md).  Sourced by world.sh.
#
#   WORLD_SITE=1             add lan, dhcp, dns and dnsmasq sections to
#                            evgated.yaml (default 0: the world as before).
#                            With WORLD_CHARGER_ADDR=dhcp the chargers get
#                            their addresses from the gateway, and with
#                            WORLD_CHARGER_HOSTS=0 their names from its DNS.
#   WORLD_SITE_LEASE_TIME    dhcp.lease_time (default 1h)
#   WORLD_SITE_KNOWN_ONLY    dhcp.known_only (default true)
#   WORLD_SITE_EXTRA         more reservations, one "ID MAC [ADDRESS]" a line
#   WORLD_SITE_STEER         dns.steer, space-separated (default: the NTP name)
#   WORLD_SITE_PASS          dns.pass_through, space-separated (default none)
#
# Every charger i is reserved at its planned address 10.42.0.(20+i).  The
# gateway keeps dnsmasq's files in $W/gw/run and the leases in
# $W/gw/state; the hook is a copy of the build's evgate-dhcp-hook in
# $W/bin.

: "${WORLD_SITE:=0}"
: "${WORLD_SITE_LEASE_TIME:=1h}"
: "${WORLD_SITE_KNOWN_ONLY:=true}"
: "${WORLD_SITE_EXTRA:=}"
: "${WORLD_SITE_STEER:=$WORLD_NTP_NAME}"
: "${WORLD_SITE_PASS:=}"

WORLD_SITE_STATE=$W/gw/state
WORLD_SITE_RUN=$W/gw/run

world_site_list() {	# "a b c" -> "[a, b, c]"
	local n out=""
	for n in $1; do out="$out${out:+, }\"$n\""; done
	echo "[$out]"
}

world_yaml_site_services() {
	local i id mac addr
	[ "$WORLD_SITE" = 1 ] || return 0
	# dnsmasq runs the hook as its unprivileged user, who may not be
	# able to reach the build directory (a clone under /root): a copy.
	mkdir -p "$W/bin" &&
	    install -m 0755 "$BUILD/gateway/evgate-dhcp-hook" "$W/bin/" || return 1
	cat <<EOF
lan:
  interface: plc0
  address: $WORLD_GW_LAN/24
dhcp:
  range: 10.42.0.10-10.42.0.250
  lease_time: $WORLD_SITE_LEASE_TIME
  known_only: $WORLD_SITE_KNOWN_ONLY
  chargers:
EOF
	for ((i = 1; i <= WORLD_N; i++)); do
		printf '    - {id: %s, mac: "%s", address: %s}\n' \
		    "$(world_id "$i")" "$(world_mac "$i")" "$(world_ip "$i")"
	done
	while read -r id mac addr; do
		[ -n "$id" ] || continue
		printf '    - {id: %s, mac: "%s"%s}\n' "$id" "$mac" \
		    "${addr:+, address: $addr}"
	done <<<"$WORLD_SITE_EXTRA"
	[ "$WORLD_N" -gt 0 ] || [ -n "$WORLD_SITE_EXTRA" ] ||
	    echo "    []"
	cat <<EOF
dns:
  steer: $(world_site_list "$WORLD_SITE_STEER")
  pass_through: $(world_site_list "$WORLD_SITE_PASS")
dnsmasq:
  state_dir: $WORLD_SITE_STATE
  run_dir: $WORLD_SITE_RUN
  hook: $W/bin/evgate-dhcp-hook
EOF
}

# world_site_status EXPR: a value from evgated's status, e.g.
# world_site_status 'd["dnsmasq"]["pid"]'
world_site_status() {
	local s
	s=$(world_ctl --json status 2>/dev/null) || return 1
	json_get "$s" "$1"
}

world_export_site() {
	[ "$WORLD_SITE" = 1 ] || return 0
	world_ctl --json chargers >"$1/evgated-chargers.json" 2>/dev/null
	cp "$WORLD_SITE_STATE/leases" "$1/leases" 2>/dev/null
	return 0
}

WORLD_GW_SECTIONS+=(world_yaml_site_services)
WORLD_EXPORT_HOOKS+=(world_export_site)
