# tests/integration/world.d/ntp.bash: the gateway's time service in the
# test world (doc/time.md).  evgated synchronises to no.pool.ntp.org (the
# chronyd servers in the internet namespace, found through the public DNS)
# and serves time on its LAN address, where the chargers' static NTP name
# leads.  Knobs, set before world_up:
#   WORLD_NTP           1 (default): an ntp section; 0: none
#   WORLD_NTP_SERVERS   the servers list (default: the pool name)
#   WORLD_NTP_POLL      "MIN MAX" poll interval, e.g. "16s 16s"
#   WORLD_NTP_HOLDOVER  e.g. 40s (default: the shipped 1h)
#   WORLD_NTP_RATE      rate_limit keys, e.g. "burst: 4, interval: 1s"
: "${WORLD_NTP:=1}"

world_yaml_ntp() {
	[ "$WORLD_NTP" = 1 ] || return 0
	echo "ntp:"
	echo "  servers: [${WORLD_NTP_SERVERS:-$WORLD_NTP_NAME}]"
	echo "  listen: [$WORLD_GW_LAN]"
	if [ -n "${WORLD_NTP_POLL:-}" ]; then
		echo "  poll: {min: ${WORLD_NTP_POLL% *}, max: ${WORLD_NTP_POLL#* }}"
	fi
	if [ -n "${WORLD_NTP_HOLDOVER:-}" ]; then
		echo "  holdover: $WORLD_NTP_HOLDOVER"
	fi
	if [ -n "${WORLD_NTP_RATE:-}" ]; then
		echo "  rate_limit: {$WORLD_NTP_RATE}"
	fi
	return 0
}
WORLD_GW_SECTIONS+=(world_yaml_ntp)
