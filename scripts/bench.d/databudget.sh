#!/bin/bash
# scripts/bench.d/databudget.sh: what one charger costs in data, beside the
# vendor's ~3 MB per day and ~5 MB per charging session.
#
# tests/bench/world_budget.sh brings up the test world with one evcharger
# (the real firmware, behind evgated, its MQTT link through the relay) and
# measures from the relay's own per-charger accounting, and beside it at
# IP level (an nftables counter on the charger's MQTT connection): the
# connect, one keepalive round, one telemetry message, and a session's
# start and stop.  This piece then
# computes an idle day and a 4-hour charging session from the intervals
# the firmware ships with (fwconfig_defaults() in charger-fw/core/fwconfig.c:
# keepalive, idle and charging pulses, meter interval, data-usage report,
# SAS token life), and prints them beside the vendor's figures.
. "${BENCH_LIB:-$(dirname "$0")/../../tests/bench/lib.sh}"

N=$BENCH_RUNS
VENDOR_DAY=3000000
VENDOR_SESSION=5000000
SESSION_S=$((4 * 3600))
failed=0

echo "## Charger data budget: one evcharger in the test world (median of $N)"
echo
for f in "$BENCH_TOP/tests/integration/world.d/fw_evcharger.bash" \
    "$BENCH_BUILD/charger-fw/evcharger" "$BENCH_BUILD/charger-fw/evprovision" \
    "$BENCH_BUILD/tests/cloud/evcloud"; do
	if [ ! -e "$f" ]; then
		echo "Not measured: $f is missing (the test world's evcharger device)."
		echo
		exit 0
	fi
done

# The firmware's shipped intervals, from its defaults.
fwdef() {		# fwdef FIELD: "c->FIELD = VALUE;" in fwconfig_defaults()
	sed -n '/^fwconfig_defaults(/,/^}/p' "$BENCH_TOP/charger-fw/core/fwconfig.c" |
	    sed -n "s/^[[:space:]]*c->$1 = \\(.*\\);/\\1/p" | head -1 |
	    awk '{ v = 1; n = split($0, f, "*"); for (i = 1; i <= n; i++) v *= f[i] + 0; print v }'
}
KA_S=$(fwdef cloud.keepalive_s)
PULSE_IDLE=$(fwdef charger.pulse_idle_s)
PULSE_CHG=$(fwdef charger.pulse_charging_s)
METER=$(fwdef charger.meter_interval_s)
USAGE=$(fwdef data_usage_s)
SAS=$(fwdef cloud.sas_ttl_s)
for v in KA_S PULSE_IDLE PULSE_CHG METER USAGE SAS; do
	if [ -z "${!v}" ] || [ "${!v}" = 0 ]; then
		echo "Not computed: cannot read $v from fwconfig_defaults()."
		echo
		exit 1
	fi
done

for ((r = 1; r <= N; r++)); do
	say "databudget: run $r/$N (test world, one evcharger)"
	if ! EVGATE_BUILD=$BENCH_BUILD EVG_PREFIX="evd$(($$ % 10000))$r" \
	    bash "$BENCH_TOP/tests/bench/world_budget.sh" "$BT/budget.$r" \
	    >"$BT/world.$r.log" 2>&1; then
		say "databudget run $r failed:"
		grep -E '^not ok|^#' "$BT/world.$r.log" | tail -15 >&2
		failed=1
		continue
	fi
	while read -r k v; do
		record budget evcharger "$r" "$k" "$v"
	done <"$BT/budget.$r"
done

m() { median budget evcharger "$1"; }
if [ -z "$(m keepalive)" ]; then
	echo "Not measured: every run failed (see the progress output)."
	echo
	exit 1
fi

# day / session from the per-event costs; _wire: at IP level.
calc() {		# calc SUFFIX ("" or "_wire"): "day session"
	awk -v c="$(m connect$1)" -v k="$(m keepalive$1)" -v msg="$(m message$1)" \
	    -v ss="$(m startstop$1)" -v ka="$KA_S" -v pi="$PULSE_IDLE" \
	    -v pc="$PULSE_CHG" -v me="$METER" -v us="$USAGE" -v sas="$SAS" \
	    -v sess="$SESSION_S" 'BEGIN {
		day = 86400 / ka * k + (86400 / pi + 86400 / us) * msg + 86400 / sas * c
		s = ss + (sess / me + sess / pc + sess / us) * msg
		printf "%.0f %.0f\n", day, s
	    }'
}
read -r day session <<<"$(calc "")"
read -r wday wsession <<<"$(calc _wire)"
kb() { awk -v b="$1" 'BEGIN { printf "%.1f kB", b / 1000 }'; }
b() { fmt "$1" 0; }

echo "The relay's own accounting (TLS payload both ways, as \`evgatectl chargers\` reports it) and, beside it, the same MQTT connection at IP level (an nftables counter in the charger's namespace: IP and TCP headers, ACKs; what a metered link bills).  Keepalive measured at 30 s, the firmware's minimum (a round's size does not depend on the interval); messages while charging with the meter every 5 s."
echo
echo "| per event | relay, bytes | IP level, bytes | (runs, relay) |"
echo "|---|---:|---:|---:|"
echo "| connect (TCP, TLS, MQTT CONNECT, subscriptions, twin, the reports sent on connect) | $(b "$(m connect)") | $(b "$(m connect_wire)") | $(spread budget evcharger connect) |"
echo "| boot to connected, every frame on eth0 (DHCP, ARP, DNS, NTP, the connect) | | $(b "$(m boot_eth0)") | |"
echo "| one keepalive round (PINGREQ + PINGRESP) | $(b "$(m keepalive)") | $(b "$(m keepalive_wire)") | $(spread budget evcharger keepalive) |"
echo "| one telemetry message (QoS 1: PUBLISH + PUBACK) | $(b "$(m message)") | $(b "$(m message_wire)") | $(spread budget evcharger message) |"
echo "| start and stop of a session (methods 501/502, state changes, session record) | $(b "$(m startstop)") | $(b "$(m startstop_wire)") | $(spread budget evcharger startstop) |"
echo
echo "Computed with the firmware's shipped intervals: keepalive ${KA_S} s, pulse ${PULSE_IDLE} s idle and ${PULSE_CHG} s charging, meter every ${METER} s while charging, data-usage report every ${USAGE} s, a reconnect every $((SAS / 86400)) days (SAS token life).  Keepalives are counted as if no message ever replaced one (an upper bound).  Not included: DHCP renewals, DNS and NTP, which never pass the relay."
echo
echo "| budget | relay | IP level | vendor | evgate/vendor (IP level) |"
echo "|---|---:|---:|---:|---:|"
echo "| idle day: $((86400 / KA_S)) keepalives, $((86400 / PULSE_IDLE + 86400 / USAGE)) messages, 1/$((SAS / 86400)) reconnect | $(kb "$day") | $(kb "$wday") | ~3 MB | $(ratio "$wday" "$VENDOR_DAY") |"
echo "| 4-hour session: $((SESSION_S / METER + SESSION_S / PULSE_CHG + SESSION_S / USAGE)) messages + start/stop | $(kb "$session") | $(kb "$wsession") | ~5 MB | $(ratio "$wsession" "$VENDOR_SESSION") |"
echo
exit "$failed"
