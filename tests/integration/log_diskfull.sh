#!/bin/bash
# log_diskfull: the fleet log on a full disk.  The log lives on a small
# tmpfs that the test fills up: relaying must go on, events wait in the
# bounded queue and then are counted as dropped, "disk-full" shows in the
# status, and when space comes back the log writes again and records what
# it lost.  Topology: loopback.sh (one private namespace).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/loopback.sh"

FULL=$T/full
mkdir -p "$FULL"
mount -t tmpfs -o size=512k evgate-test "$FULL" || { not_ok "mount a tmpfs"; exit 1; }
at_exit "umount -l '$FULL'"
LOG=$FULL/log
write_conf "$T/evgated.yaml"
cat >>"$T/evgated.yaml" <<EOF
log: {dir: $LOG, fsync_interval: 100ms, segment_mb: 1, max_mb: 1, queue_max: 20}
EOF
start_evgated || { not_ok "evgated started" "$(tail -20 "$T/evgated.log")"; exit 1; }

logst() { json_get "$(status)" "d['log']['$1']"; }
request() { in_ns "$NS" curl -sS -m 10 --cacert "$CA" "https://$API/hello.txt" 2>&1; }
state_is() { [ "$(logst state)" = "$1" ]; }

check_eq "a request before the disk fills" "hello from the cloud" "$(request)"
wait_for 10 bash -c "[ \"\$(ls $LOG)\" ]"
before=$(logst committed_seq)

# Fill the file system to the last block.
dd if=/dev/zero of="$FULL/filler" bs=4k >/dev/null 2>&1
diag "tmpfs: $(df -k "$FULL" | tail -1)"

ok_n=0
for i in $(seq 1 40); do
	[ "$(request)" = "hello from the cloud" ] && ok_n=$((ok_n + 1))
done
check_eq "relaying goes on with the disk full (40 of 40)" 40 "$ok_n"
check "the log says disk-full" wait_for 10 state_is disk-full
st=$(status)
dropped=$(json_get "$st" "d['log']['dropped']")
check "events beyond the queue are counted as dropped" test "$dropped" -gt 0
check_eq "the queue holds at most queue_max events" 20 \
    "$(json_get "$st" "d['log']['queued']")"
check "the status says why" grep -q "No space left on device" \
    <<<"$(json_get "$st" "d['log']['last_error']")"
check "what was committed stays committed" test \
    "$(json_get "$st" "d['log']['committed_seq']")" -ge "$before"

# Space again: the queue goes to disk and the loss is on record.
rm -f "$FULL/filler"
check "the log writes again by itself" wait_for 20 state_is ok
check_eq "the queue drained" 0 "$(logst queued)"
wait_for 10 bash -c "$EVGATECTL -s $SOCK export --dir $LOG --format jsonl --type log | grep -q dropped"
rec=$(ctl "$SOCK" export --dir "$LOG" --format jsonl --type log)
check_eq "a log event records how many were dropped and why" \
    "resumed $dropped disk-full" "$(json_get "$rec" "d['state'] + ' ' + str(d['dropped']) + ' ' + d['reason']")"
check "the segments hold no torn or broken line" \
    bash -c "! $EVGATECTL -s $SOCK export --dir $LOG --format jsonl 2>&1 >/dev/null | grep -q skipped"
check "seqs on disk are whole: 1..N, no gap (drops take no seq)" python3 -c '
import json, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, text=True).stdout
s = [json.loads(l)["seq"] for l in out.splitlines()]
assert s == list(range(1, len(s) + 1)), s
' "$EVGATECTL" -s "$SOCK" export --dir "$LOG" --format jsonl
check_eq "and relaying never stopped" "hello from the cloud" "$(request)"
