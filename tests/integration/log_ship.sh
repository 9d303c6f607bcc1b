#!/bin/bash
# log_ship: shipping the fleet log to an HTTPS collector that goes down
# and comes back, and through a restart of evgated: the collector must end
# up with every event exactly once (no gap, no duplicate by seq), gzip'd
# NDJSON with the bearer token.  The collector is tests/collector/
# collector.py (python3 http.server + ssl, strict about gzip and NDJSON).
# Topology: loopback.sh (one private namespace).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/loopback.sh"

COLLECTOR=$top/tests/collector/collector.py
make_cert "$T/pki" collector.test || { not_ok "collector certificate"; exit 1; }
chmod 644 "$T/pki/collector.test.key"
echo "127.0.0.1 collector.test" >>"/etc/netns/$NS/hosts"
echo "t0ken-$$" >"$T/token"

start_collector() {
	bg_ns "$NS" "$T/collector.log" python3 "$COLLECTOR" --host 127.0.0.1 \
	    --port 9443 --cert "$T/pki/collector.test.pem" \
	    --key "$T/pki/collector.test.key" --out "$T/received.ndjson" \
	    --batches "$T/batches.ndjson" --token "t0ken-$$" --require-gzip \
	    "$@"
}
COLL_PID=$(start_collector)
wait_for 10 port_open "$NS" 127.0.0.1 9443 || { not_ok "collector started" "$(cat "$T/collector.log")"; exit 1; }

write_conf "$T/evgated.yaml"
cat >>"$T/evgated.yaml" <<EOF
log: {dir: $T/log, fsync_interval: 100ms}
ship:
  url: "https://collector.test:9443/ingest"
  ca_file: $CA
  bearer_token_file: $T/token
  batch: 7
  interval: 500ms
EOF
start_evgated || { not_ok "evgated started" "$(tail -20 "$T/evgated.log")"; exit 1; }

shipst() { json_get "$(status)" "d['ship']['$1']"; }
caught_up() {
	local s
	s=$(status) || return 1
	[ "$(json_get "$s" "d['ship']['acked_seq']")" = \
	  "$(json_get "$s" "d['log']['committed_seq']")" ] &&
	[ "$(json_get "$s" "d['log']['queued']")" = 0 ]
}
refusals() {	# refusals N: N connections that are not TLS, refused
	local i
	for i in $(seq 1 "$1"); do
		in_ns "$NS" bash -c 'exec 3<>/dev/tcp/127.0.0.1/443;
		    printf "GET / HTTP/1.0\r\n\r\n" >&3; cat <&3 >/dev/null' 2>/dev/null
	done
}
exactly_once() {	# every seq 1..committed exactly once at the collector
	python3 - "$T/received.ndjson" "$1" <<'EOF'
import json, sys
seqs = [json.loads(l)["seq"] for l in open(sys.argv[1])]
n = int(sys.argv[2])
dup = len(seqs) - len(set(seqs))
gap = sorted(set(range(1, n + 1)) - set(seqs))
assert not dup, "%d duplicates" % dup
assert not gap, "missing: %s" % gap[:20]
assert max(seqs) == n, "beyond committed: %d" % max(seqs)
EOF
}

# --- up ------------------------------------------------------------------------
refusals 30
check "shipped while the collector is up" wait_for 20 caught_up
n=$(json_get "$(status)" "d['log']['committed_seq']")
check "the collector has seq 1..$n exactly once" exactly_once "$n"
check "batches are gzip'd NDJSON with the token, site and seq range" python3 -c '
import json, sys
b = [json.loads(l) for l in open(sys.argv[1])]
ok = [x for x in b if x["status"] == 200]
assert ok and all(x["encoding"] == "gzip" and x["content_type"] == "application/x-ndjson"
                  and x["site"] == "loopback test" for x in ok), b
assert all(x["seq_header"] == "%d-%d" % (x["first"], x["last"]) for x in ok)
assert max(x["lines"] for x in ok) <= 7
' "$T/batches.ndjson"

# --- down, and back ------------------------------------------------------------
kill "$COLL_PID"
wait_for 10 bash -c "! kill -0 $COLL_PID 2>/dev/null"
refusals 30
failing() { [ "$(shipst failures_in_row)" -ge 2 ]; }
check "the collector is down: failures counted, retried" wait_for 30 failing
check_eq "status: not healthy" False "$(shipst healthy)"
check "status: lag while down" test "$(shipst lag)" -gt 0
COLL_PID=$(start_collector)
check "after the outage the backlog is shipped" wait_for 60 caught_up
n=$(json_get "$(status)" "d['log']['committed_seq']")
check "no gap, no duplicate after the outage (seq 1..$n)" exactly_once "$n"

# --- a collector that fails, then a restart of evgated ---------------------------
kill "$COLL_PID"
wait_for 10 bash -c "! kill -0 $COLL_PID 2>/dev/null"
COLL_PID=$(start_collector --fail 3)
refusals 10
check "503s are retried" wait_for 60 caught_up
n=$(json_get "$(status)" "d['ship']['acked_seq']")
kill "$EVG_PID"
wait "$EVG_PID" 2>/dev/null
rm -f "$SOCK"
check_eq "the cursor is on disk" "{\"acked_seq\":$n}" "$(cat "$T/log/ship.cursor")"
start_evgated && wait_for 10 status || not_ok "evgated restarted"
refusals 10
check "shipping resumes after a restart" wait_for 60 caught_up
n=$(json_get "$(status)" "d['log']['committed_seq']")
check "no gap, no duplicate across the restart (seq 1..$n)" exactly_once "$n"
check_eq "the collector never saw a bad batch" 0 \
    "$(grep -c '"status": 400' "$T/batches.ndjson")"
