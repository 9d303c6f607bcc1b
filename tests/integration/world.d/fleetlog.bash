# tests/integration/world.d/fleetlog.bash: the fleet log in the test world
# (doc/fleet-log.md).  Sourced by world.sh.
#
#   WORLD_FLEETLOG=1   (default) add log and metrics sections to
#                      evgated.yaml: the log in $W/gw/log, synced every
#                      500 ms; Prometheus metrics on 127.0.0.1:9310 inside
#                      the gateway's namespace.  0: the world without them.
#
# world_export then also writes, from the gateway's log: fleet-log.csv and
# fleet-log.jsonl (every event since the world came up), fleet-report.html
# and fleet-report.txt (per charger per day: time online, data, refusals,
# leases) and metrics.txt (one scrape).

: "${WORLD_FLEETLOG:=1}"

WORLD_FLEETLOG_DIR=$W/gw/log

world_yaml_fleetlog() {
	cat <<EOF
log:
  dir: $WORLD_FLEETLOG_DIR
  fsync_interval: 500ms
metrics:
  listen: "127.0.0.1:9310"
EOF
}

# When the world came up: the report's window starts there.
world_fleetlog_mark() {
	date -u +%Y-%m-%dT%H:%M:%SZ >"$W/gw/fleetlog.start"
}

world_export_fleetlog() {
	local d=$1 from

	[ -d "$WORLD_FLEETLOG_DIR" ] || return 0
	from=$(cat "$W/gw/fleetlog.start" 2>/dev/null || echo -1d)
	world_ctl export --dir "$WORLD_FLEETLOG_DIR" --format csv \
	    -o "$d/fleet-log.csv" 2>>"$d/fleet-log.errors"
	world_ctl export --dir "$WORLD_FLEETLOG_DIR" --format jsonl \
	    -o "$d/fleet-log.jsonl" 2>>"$d/fleet-log.errors"
	world_ctl report --dir "$WORLD_FLEETLOG_DIR" --from "$from" \
	    --format html -o "$d/fleet-report.html" 2>>"$d/fleet-log.errors"
	world_ctl report --dir "$WORLD_FLEETLOG_DIR" --from "$from" \
	    >"$d/fleet-report.txt" 2>>"$d/fleet-log.errors"
	ip netns exec "$WNS_GW" curl -sS -m 5 http://127.0.0.1:9310/metrics \
	    >"$d/metrics.txt" 2>>"$d/fleet-log.errors"
	[ -s "$d/fleet-log.errors" ] || rm -f "$d/fleet-log.errors"
	return 0
}

if [ "$WORLD_FLEETLOG" = 1 ]; then
	WORLD_GW_SECTIONS+=(world_yaml_fleetlog)
	WORLD_GW_HOOKS+=(world_fleetlog_mark)
	WORLD_EXPORT_HOOKS+=(world_export_fleetlog)
fi
