#!/bin/bash
# log_metrics: the Prometheus endpoint scraped with curl while traffic
# runs through the relay: counters move with the traffic, gauges follow
# the connections, the text is valid exposition format 0.0.4.
# Topology: loopback.sh (one private namespace).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/loopback.sh"

write_conf "$T/evgated.yaml"
cat >>"$T/evgated.yaml" <<EOF
log: {dir: $T/log, fsync_interval: 100ms}
metrics: {listen: "127.0.0.1:9310"}
EOF
start_evgated || { not_ok "evgated started" "$(tail -20 "$T/evgated.log")"; exit 1; }
wait_for 10 port_open "$NS" 127.0.0.1 9310 || not_ok "metrics listening"

scrape() { in_ns "$NS" curl -sS -m 5 http://127.0.0.1:9310/metrics; }
metric() {	# metric TEXT 'name{labels}' -> value (0 when absent)
	awk -v m="$2" '$1 == m {print $2; f=1} END {if (!f) print 0}' <<<"$1"
}

m0=$(scrape)
check "exposition format 0.0.4: every sample has HELP and TYPE" python3 -c '
import re, sys
seen, typed = set(), {}
for line in sys.stdin.read().splitlines():
    if line.startswith("# HELP "):
        seen.add(line.split()[2]); continue
    if line.startswith("# TYPE "):
        _, _, n, t = line.split(); assert t in ("counter", "gauge"); typed[n] = t; continue
    m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\]|\\\\.)*\"(?:,[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\]|\\\\.)*\")*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)", line)
    assert m, "bad line: " + line
    assert m.group(1) in seen and m.group(1) in typed, "no HELP/TYPE: " + line
    if typed[m.group(1)] == "counter": assert m.group(1).endswith("_total"), line
' <<<"$m0"
# Prometheus' own linter (Debian's prometheus package): names, units,
# counters, HELP texts.
lint=$(promtool check metrics <<<"$m0" 2>&1)
check_eq "promtool check metrics finds nothing" "" "$lint"
check_eq "the start time is exported" 1 \
    "$(awk '$1 == "evgate_start_time_seconds" && $2 > 1700000000 {print 1}' <<<"$m0")"
check_eq "the last successful reload is exported" 1 \
    "$(awk '$1 == "evgate_config_last_reload_success_timestamp_seconds" && $2 > 1700000000 {print 1}' <<<"$m0")"
check_eq "every fleet log state has a sample, the current one 1" \
    "ok=1 disk-full=0 error=0 off=0" \
    "$(for st in ok disk-full error off; do printf '%s=%s ' $st "$(metric "$m0" "evgate_log_state{state=\"$st\"}")"; done | sed 's/ $//')"
check_eq "content type" "text/plain; version=0.0.4; charset=utf-8" \
    "$(in_ns "$NS" curl -sS -o /dev/null -w '%{content_type}' http://127.0.0.1:9310/metrics)"
check_eq "other paths: 404" 404 \
    "$(in_ns "$NS" curl -sS -o /dev/null -w '%{http_code}' http://127.0.0.1:9310/)"

# Traffic: 10 relayed HTTPS requests, 4 refusals, one long MQTT session.
for i in $(seq 1 10); do
	in_ns "$NS" curl -sS -m 10 --cacert "$CA" "https://$API/fw.bin" -o /dev/null
done
for i in 1 2 3 4; do
	in_ns "$NS" curl -sS -m 5 -k "https://evil.example.com/" >/dev/null 2>&1
done
ip netns exec "$NS" mosquitto_sub -h "$HUB" -p 8883 --cafile "$CA" \
    -u ZAP000123 -P s3cret -i m1 -t 'devices/ZAP000123/#' >/dev/null 2>&1 &
at_exit "kill $!"
splicing() { [ "$(metric "$(scrape)" 'evgate_relay_connections{state="splice"}')" -ge 1 ]; }
wait_for 10 splicing
# Events are committed in batches (log.fsync_interval): wait for the batch
# holding the traffic's 14 events rather than racing it.
committed14() {
	[ $(( $(metric "$(scrape)" evgate_log_committed_seq) -
	    $(metric "$m0" evgate_log_committed_seq) )) -ge 14 ]
}
wait_for 10 committed14
m1=$(scrape)

d() { echo $(( $(metric "$m1" "$1") - $(metric "$m0" "$1") )); }
check_eq "accepted counter moved with the traffic" 15 "$(d evgate_relay_accepted_total)"
check_eq "relayed counter moved" 11 "$(d evgate_relay_relayed_total)"
check_eq "refusals by reason" 4 "$(d 'evgate_relay_refused_total{reason="not-allowed"}')"
check "bytes down: ten firmware downloads" test \
    "$(d 'evgate_relay_bytes_total{direction="down"}')" -ge 3000000
check "bytes up moved" test "$(d 'evgate_relay_bytes_total{direction="up"}')" -gt 0
check_eq "the MQTT session is an open connection (gauge)" 1 \
    "$(metric "$m1" 'evgate_relay_connections{state="splice"}')"
check "events counter moved" test "$(d evgate_events_total)" -ge 14
check_eq "fleet log state ok" 1 "$(metric "$m1" 'evgate_log_state{state="ok"}')"
check "fleet log committed seq moved" test "$(d evgate_log_committed_seq)" -ge 14
check_eq "no log drops" 0 "$(metric "$m1" evgate_log_dropped_events_total)"
check "scrapes are counted" test "$(d evgate_metrics_scrapes_total)" -ge 1
