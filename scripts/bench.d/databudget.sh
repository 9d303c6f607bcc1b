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
	local v
	v=$(sed -n '/^fwconfig_defaults(/,/^}/p' "$BENCH_TOP/charger-fw/core/fwconfig.c" |
	    sed -n "s/^[[:space:]]*c->$1 = \\(.*\\);/\\1/p" | head -1)
	# a constant of the core's headers (FWCONFIG_KEEPALIVE_MAX)
	if [[ "$v" =~ ^[A-Z_][A-Z0-9_]*$ ]]; then
		v=$(sed -n "s/^#define[[:space:]]*$v[[:space:]]*\\([0-9]*\\).*/\\1/p" \
		    "$BENCH_TOP"/charger-fw/core/*.h | head -1)
	fi
	echo "$v" |
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
#   idle day: idle pulses (each when nothing else went for PULSE_IDLE s),
#     the PINGREQs that fall between two pulses (none when the pulse is
#     the shorter), data-usage reports, and SAS renewals (at 80 % of a
#     token's life; the measured renewal, or a connect if not measured)
#   session: its start and stop, meter values every METER s, charging
#     pulses only if they are shorter than the meter interval, and the
#     data-usage reports that fall in it
calc() {		# calc SUFFIX ("" or "_wire"): "day session pings pulses renewals"
	local ren
	ren=$(m renewal$1)
	[ -n "$ren" ] || ren=$(m connect$1)
	awk -v c="$ren" -v k="$(m keepalive$1)" -v pu="$(m pulse$1)" \
	    -v use="$(m usage$1)" -v msg="$(m message$1)" \
	    -v ss="$(m startstop$1)" -v ka="$KA_S" -v pi="$PULSE_IDLE" \
	    -v pc="$PULSE_CHG" -v me="$METER" -v us="$USAGE" -v sas="$SAS" \
	    -v sess="$SESSION_S" 'BEGIN {
		pulses = 86400 / pi
		pings = pulses * int((pi - 1) / ka)
		renewals = 86400 / (0.8 * sas)
		day = pings * k + pulses * pu + 86400 / us * use + renewals * c
		s = ss + sess / me * msg + sess / us * use
		if (pc < me)
			s += sess / pc * pu
		printf "%.0f %.0f %.0f %.0f %.2f\n", day, s, pings, pulses, renewals
	    }'
}
read -r day session pings pulses renewals <<<"$(calc "")"
read -r wday wsession _ <<<"$(calc _wire)"
kb() { awk -v b="$1" 'BEGIN { printf "%.1f kB", b / 1000 }'; }
b() { fmt "$1" 0; }
# SNTP: one 48-byte NTP packet each way (76 bytes with IP and UDP) at the
# client's synchronised poll interval (SNTP_SYNCED_POLL_MS).
SNTP_MS=$(sed -n 's/^#define SNTP_SYNCED_POLL_MS[[:space:]]*\([0-9]*\).*/\1/p' \
    "$BENCH_TOP/charger-fw/core/sntp.h")
ntp_day=$(awk -v ms="${SNTP_MS:-1024000}" 'BEGIN { printf "%.0f", 86400000 / ms * 2 * 76 }')

echo "The relay's own accounting (TLS payload both ways, as \`evgatectl chargers\` reports it) and, beside it, the same MQTT connection at IP level (an nftables counter in the charger's namespace: IP and TCP headers, ACKs; what a metered link bills).  Keepalive measured at 30 s, the firmware's minimum (a round's size does not depend on the interval); messages while charging with the meter every 5 s; the renewal with a 900-s token."
echo
echo "| per event | relay, bytes | IP level, bytes | (runs, relay) |"
echo "|---|---:|---:|---:|"
echo "| connect (TCP, TLS, MQTT CONNECT, subscriptions, twin, the reports sent on connect) | $(b "$(m connect)") | $(b "$(m connect_wire)") | $(spread budget evcharger connect) |"
echo "| boot to connected, every frame on eth0 (DHCP, ARP, DNS, NTP, the connect) | | $(b "$(m boot_eth0)") | |"
echo "| one keepalive round (PINGREQ + PINGRESP) | $(b "$(m keepalive)") | $(b "$(m keepalive_wire)") | $(spread budget evcharger keepalive) |"
echo "| one idle pulse (observation -1, PUBLISH + PUBACK) | $(b "$(m pulse)") | $(b "$(m pulse_wire)") | $(spread budget evcharger pulse) |"
echo "| one data-usage report (822) | $(b "$(m usage)") | $(b "$(m usage_wire)") | $(spread budget evcharger usage) |"
echo "| one telemetry message while charging (QoS 1: PUBLISH + PUBACK) | $(b "$(m message)") | $(b "$(m message_wire)") | $(spread budget evcharger message) |"
echo "| start and stop of a session (methods 501/502, state changes, session record) | $(b "$(m startstop)") | $(b "$(m startstop_wire)") | $(spread budget evcharger startstop) |"
echo "| SAS token renewal (the old link's close, a new link: TLS $( [ "$(m renewal_resumed)" ] && [ "$(m renewal_resumed)" != 0 ] && echo resumed || echo "not resumed"), CONNECT, subscriptions, twin, reports) | $(b "$(m renewal)") | $(b "$(m renewal_wire)") | $(spread budget evcharger renewal) |"
echo
echo "Computed with the firmware's shipped intervals (\`fwconfig_defaults()\`): keepalive ${KA_S} s, idle pulse ${PULSE_IDLE} s and charging pulse ${PULSE_CHG} s (each only when nothing else was sent for that long), meter every ${METER} s while charging, data-usage report every ${USAGE} s, SAS token life ${SAS} s (renewed at 80 %).  Goals (issue 17): an idle day at or under 100 kB and a 4-hour session at or under 150 kB at IP level."
echo
echo "| budget | relay | IP level | goal | vendor | evgate/vendor (IP level) |"
echo "|---|---:|---:|---:|---:|---:|"
echo "| idle day: $pings keepalives, $pulses pulses, $((86400 / USAGE)) data-usage reports, $renewals renewals | $(kb "$day") | $(kb "$wday") | 100 kB | ~3 MB | $(ratio "$wday" "$VENDOR_DAY") |"
echo "| 4-hour session: start/stop, $((SESSION_S / METER)) meter messages$( [ "$PULSE_CHG" -lt "$METER" ] && echo ", $((SESSION_S / PULSE_CHG)) pulses") | $(kb "$session") | $(kb "$wsession") | 150 kB | ~5 MB | $(ratio "$wsession" "$VENDOR_SESSION") |"
echo
# The core's stack budget (issue 17): no function above 4 KB (the core is
# built with -Wstack-usage=4096, an error in CI); here the largest frames,
# from the same -O2 build with -fstack-usage (the library rebuilt once).
if make -C "$BENCH_BUILD" -B charger-fw/libfw.a CFLAGS="-O2 -g -fstack-usage" \
    >"$BT/stack.log" 2>&1; then
	echo "### The firmware core's largest stack frames (-O2, gcc -fstack-usage)"
	echo
	echo "The budget: 4,096 bytes for any function of \`charger-fw/core/\` (\`-Wstack-usage=4096\`), no object over 1 KB on the stack; an RTOS task has 4-8 KB."
	echo
	echo "| function | file | bytes | kind |"
	echo "|---|---|---:|---|"
	cat "$BENCH_BUILD"/charger-fw/core/*.su 2>/dev/null |
	    awk -F'\t' '{ n = split($1, p, ":"); f = p[1]; sub(/.*\//, "", f);
		print $2 "\t" p[n] "\t" f "\t" $3 }' | sort -t"$(printf '\t')" -k1,1nr | head -10 |
	    awk -F'\t' '{ printf "| `%s` | %s | %d | %s |\n", $2, $3, $1, $4 }'
	echo
else
	say "stack frames: the -fstack-usage build failed (see $BT/stack.log)"
	failed=1
fi

echo "Besides the hub link, a charger's idle day on the wire has its time and address: SNTP every $(( ${SNTP_MS:-1024000} / 1000 )) s once synchronised, $(kb "$ntp_day") at IP level; DHCP renewals at half the site's lease time (48 a day at evgated's default one-hour lease; a longer \`dhcp.lease_time\` makes them fewer); a DNS lookup per (re)connect."
echo
exit "$failed"
