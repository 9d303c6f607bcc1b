#!/bin/bash
# log_crash: the fleet log through a kill -9 and a torn tail, with real
# relayed traffic.  Topology: loopback.sh (one private namespace; evgated
# relays to nginx and mosquitto through dnsmasq).
#
#  1. HTTPS requests and refused connections through the relay; once the
#     log says all of it is committed, three connections are opened and
#     held (keep-alive HTTPS), more traffic starts and evgated is killed
#     with SIGKILL in the middle of it.
#  2. After a restart the export holds every connection of the first
#     phase and every event up to the committed seq read just before the
#     kill, with no gap; seq goes on after the last event on disk.  Each
#     held connection has one end record, reason gateway-restart, with
#     the bytes the relay had counted (the checkpoint, checkpoint.h); no
#     connection has two, also after a second kill -9 right after the
#     restart.
#  3. A torn last line (a power cut in the middle of a batch) is cut on
#     start and never breaks the export; report and CSV work.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/loopback.sh"

LOG=$T/log
write_conf "$T/evgated.yaml"
cat >>"$T/evgated.yaml" <<EOF
log: {dir: $LOG, fsync_interval: 200ms, segment_mb: 1, checkpoint_interval: 1s}
EOF
start_evgated || { not_ok "evgated started" "$(tail -20 "$T/evgated.log")"; exit 1; }
ok "evgated started with a fleet log"

logst() { json_get "$(status)" "d['log']['$1']"; }
settled() {	# every event emitted so far is committed, nothing in flight
	local s
	s=$(status) || return 1
	[ "$(json_get "$s" "d['relay']['active']")" = 0 ] &&
	[ "$(json_get "$s" "d['log']['queued']")" = 0 ] &&
	[ "$(json_get "$s" "d['log']['committed_seq']")" = \
	  "$(( $(json_get "$s" "d['log']['next_seq']") - 1 ))" ]
}
export_jsonl() { ctl "$SOCK" export --dir "$LOG" --format jsonl "$@"; }

# --- phase 1: traffic, all of it committed ------------------------------
n1=0
for i in $(seq 1 15); do
	out=$(in_ns "$NS" curl -sS -m 10 --cacert "$CA" "https://$API/hello.txt" 2>&1)
	[ "$out" = "hello from the cloud" ] && n1=$((n1 + 1))
done
check_eq "15 HTTPS requests relayed" 15 "$n1"
for i in 1 2 3; do
	in_ns "$NS" curl -sS -m 5 -k "https://evil.example.com/" >/dev/null 2>&1
done
wait_for 10 settled || not_ok "the log caught up" "$(status)"
phase1=$(logst committed_seq)
conns1=$(export_jsonl --type connection | wc -l)
check_eq "every relayed request is a connection event" 15 "$conns1"
refs1=$(export_jsonl --type refusal | python3 -c '
import json, sys
print(sum(1 for l in sys.stdin if json.loads(l).get("sni") == "evil.example.com"
          and json.loads(l).get("reason") == "not-allowed"))')
check_eq "every refused connection is a refusal event" 3 "$refs1"

# --- phase 2: kill -9 with connections held and in the middle of traffic ---
# Three keep-alive HTTPS connections, held open after one request each.
cat >"$T/hold.py" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[1])
held = []
for i in range(3):
    t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", 443)),
                        server_hostname=sys.argv[2])
    t.sendall(b"GET /hello.txt HTTP/1.1\r\nHost: %s\r\n\r\n" % sys.argv[2].encode())
    data = b""
    while b"hello from the cloud" not in data:
        data += t.recv(4096)
    held.append(t)
print("held", len(held), flush=True)
time.sleep(600)
PY
coproc HOLD { in_ns "$NS" python3 "$T/hold.py" "$CA" "$API" 2>&1; }
at_exit "kill $HOLD_PID"
line=""
read -r -t 30 line <&"${HOLD[0]}"
check_eq "three connections held open through the relay" "held 3" "$line"
# What the relay counts for them, then a checkpoint written after that.
ctl "$SOCK" --json connections | python3 -c '
import json, sys
for c in json.load(sys.stdin)["connections"]:
    if c["state"] == "splice" and c["sni"] == sys.argv[1]:
        print(c["id"], c["bytes_up"], c["bytes_down"])' "$API" >"$T/held.txt"
check_eq "the relay lists them" 3 "$(wc -l <"$T/held.txt")"
saves0=$(json_get "$(status)" "d['checkpoint']['saves']")
saved_after() { [ "$(json_get "$(status)" "d['checkpoint']['saves']")" -gt "$((saves0 + 1))" ]; }
check "a checkpoint is written after that (every second here)" wait_for 10 saved_after
check "the checkpoint holds them" test \
    "$(json_get "$(status)" "d['checkpoint']['connections']")" -ge 3
(
	for i in $(seq 1 200); do
		in_ns "$NS" curl -sS -m 5 --cacert "$CA" "https://$API/hello.txt" \
		    >/dev/null 2>&1
	done
) &
traffic=$!
at_exit "kill $traffic"
committed_past() { [ "$(logst committed_seq)" -gt "$1" ]; }
wait_for 20 committed_past "$((phase1 + 10))" || not_ok "traffic reaches the log"
committed=$(logst committed_seq)
kill -9 "$EVG_PID"
wait "$EVG_PID" 2>/dev/null
kill "$traffic" 2>/dev/null
wait "$traffic" 2>/dev/null
diag "killed at committed seq $committed (phase 1 ended at $phase1)"
check "the killed run left its checkpoint" \
    bash -c "ls '$LOG' | grep -q '^checkpoint-.*\.jsonl\$'"

seqs=$(export_jsonl | python3 -c '
import json, sys
print(" ".join(str(json.loads(l)["seq"]) for l in sys.stdin))')
check "export after the kill: seq 1..$committed all there, in order" \
    python3 -c '
import sys
s = [int(x) for x in sys.argv[2].split()]
c = int(sys.argv[1])
assert s == sorted(s), "not in order"
assert len(s) == len(set(s)), "duplicates"
assert s[:c] == list(range(1, c + 1)), "gap before the committed seq"
' "$committed" "$seqs"
check_eq "every phase-1 connection survived the kill" 15 \
    "$(export_jsonl --type connection --to now | python3 -c '
import json, sys
print(sum(1 for l in sys.stdin if json.loads(l)["seq"] <= '"$phase1"'))')"
last=$(echo "$seqs" | awk '{print $NF}')

# --- phase 3: restart; then a torn tail --------------------------------------
rm -f "$SOCK"	# left behind by the kill: start_evgated waits for a new one
start_evgated && wait_for 10 status || not_ok "evgated restarted"
recovered=$(json_get "$(status)" "d['checkpoint']['recovered']")
diag "the restart closed $recovered connections as gateway-restart"
# The end records of the connections open at the kill come first, then
# the daemon's own "started" event.
check_eq "seq goes on after the last event on disk" \
    "$((last + recovered + 2))" "$(logst next_seq)"
kill "$HOLD_PID" 2>/dev/null

# Every held connection: one end record, with the bytes the relay counted.
restart_records() {
	export_jsonl --type connection | python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    if e.get("reason") == "gateway-restart":
        print(e["conn"], e["bytes_up"], e["bytes_down"], e["duration_s"])'
}
check "each held connection has one gateway-restart record with its bytes" \
    python3 -c '
import sys
held = [l.split() for l in open(sys.argv[1])]
got = {}
for l in sys.argv[2].splitlines():
    c, up, down, dur = l.split()
    assert c not in got, "two records for #" + c
    got[c] = (up, down, float(dur))
for c, up, down in held:
    assert c in got, "no record for #" + c
    assert got[c][:2] == (up, down), "#%s: %s, relay said %s" % (c, got[c], (up, down))
    assert got[c][2] > 0, "#%s: no duration" % c
' "$T/held.txt" "$(restart_records)"
no_twice() {	# no connection of any run has two end records
	export_jsonl --type connection | python3 -c '
import json, sys, collections
n = collections.Counter((e["conn"], e["start"]) for e in map(json.loads, sys.stdin))
dup = [k for k, v in n.items() if v > 1]
assert not dup, "twice: %s" % dup
print(sum(n.values()))'
}
check "no connection has two end records" no_twice
check "the checkpoint file of the killed run is gone" \
    bash -c "! ls '$LOG' | grep -q '^checkpoint-'"
# Killed again right after that start: its recovery is not done twice.
nrec=$(restart_records | wc -l)
kill -9 "$EVG_PID"
wait "$EVG_PID" 2>/dev/null
rm -f "$SOCK"
start_evgated && wait_for 10 status || not_ok "evgated restarted after a second kill"
check_eq "a second kill -9 adds no end record" "$nrec" "$(restart_records | wc -l)"
check_eq "... and recovers nothing" 0 \
    "$(json_get "$(status)" "d['checkpoint']['recovered']")"
check "still no connection with two end records" no_twice
ctl "$SOCK" reload >/dev/null
wait_for 10 settled
kill "$EVG_PID"
wait "$EVG_PID" 2>/dev/null
newest=$(ls "$LOG"/events-*.jsonl | sort -t- -k3 | tail -1)
# A power cut in the middle of a batch: a line without its end.
printf '{"seq":%d,"ts":"2026-11-25T08:00:00.000Z","type":"connect' \
    "$(( $(tail -1 "$newest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seq"])') + 1 ))" >>"$newest"
out=$(export_jsonl 2>&1 >/dev/null)
check "a torn tail never breaks the export (skipped, counted)" \
    grep -q "skipped 1 torn or malformed line" <<<"$out"
rm -f "$SOCK"
start_evgated && wait_for 10 status || not_ok "evgated restarted after a torn tail"
check "the torn tail was cut on start" test "$(logst recovered_bytes)" -gt 0
check "the newest segment ends with a newline again" \
    test "$(tail -c1 "$newest" | od -An -c | tr -d ' ')" = '\n'
check "no bad lines left" bash -c "! $EVGATECTL -s $SOCK export --dir $LOG --format jsonl 2>&1 >/dev/null | grep -q skipped"

# --- what an operator gets out of it -------------------------------------------
ctl "$SOCK" export --dir "$LOG" --from -1h --format csv >"$T/export.csv"
check_eq "CSV export has the fixed header" \
    "ts,seq,type,charger,client,sni,port,upstream,start,duration_s,bytes_up,bytes_down,reason,box,detail" \
    "$(head -1 "$T/export.csv" | tr -d '\r')"
check "CSV export parses as RFC 4180 with a row per event" python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert all(len(r) == 15 for r in rows), "ragged rows"
assert sum(1 for r in rows if r[2] == "connection" and r[5] == "api.zaptec.com") >= 15
' "$T/export.csv"
ctl "$SOCK" report --format html -o "$T/report.html"
check "HTML report: one page with SVG charts, no external assets" python3 -c '
import sys, re
h = open(sys.argv[1]).read()
assert h.startswith("<!DOCTYPE html>") and "<svg" in h and "127.0.0.1" in h
assert not re.search(r"<script|src=|href=|url\(", h)
' "$T/report.html"
check "text report lists the client and its connections" \
    bash -c "$EVGATECTL -s $SOCK report | grep -q '^127.0.0.1 '"
