#!/bin/bash
# export_cli: evgatectl export as an operator meets it -- a typo in --type
# or --charger is an error, not an empty file; a segment it cannot read
# fails the export instead of being left out; CSV cells that a
# spreadsheet would run as formulas are written as text.
. "$(dirname "$0")/lib.sh"

L=$T/log
mkdir -p "$L"
chmod 755 "$L"
cat >"$L/events-20261125T000000Z-000000000001.jsonl" <<'J'
{"seq":1,"ts":"2026-11-25T00:00:01Z","type":"lease","action":"add","charger":"ZAP000101","mac":"02:42:00:00:00:01","address":"10.42.0.21"}
{"seq":2,"ts":"2026-11-25T01:00:00Z","type":"refusal","client":"10.42.0.99:40000","sni":"=HYPERLINK(\"http://evil.example\")","port":443,"reason":"not-allowed"}
J
cat >"$L/events-20261126T000000Z-000000000003.jsonl" <<'J'
{"seq":3,"ts":"2026-11-26T02:00:00Z","type":"connection","charger":"ZAP000101","client":"10.42.0.21:40001","sni":"zapcloud.azure-devices.net","port":8883,"duration_s":60.0,"bytes_up":10,"bytes_down":20,"reason":"done"}
J
chmod 644 "$L"/*.jsonl
x() { "$EVGATECTL" -s "$T/none.sock" export --dir "$L" "$@"; }

out=$(x --type lease --format jsonl 2>&1)
check_eq "--type lease exports the lease" 1 "$(grep -c '"type":"lease"' <<<"$out")"
out=$(x --type leases 2>&1); rc=$?
check_eq "an unknown --type exits 2" 2 "$rc"
check "... and says which types there are" grep -q 'unknown --type "leases": the types are lease, connection' <<<"$out"
x --type log >/dev/null 2>&1; rc=$?
check_eq "--type log (the fleet log's own events) is a type" 0 "$rc"
out=$(x --charger ZAP000101 --format jsonl 2>&1); rc=$?
check_eq "--charger of a charger in the log exits 0" 0 "$rc"
check_eq "... with its two events" 2 "$(grep -c '"charger":"ZAP000101"' <<<"$out")"
out=$(x --charger ZAP00010 2>&1); rc=$?
check_eq "a --charger that matches nothing (a typo) exits 1" 1 "$rc"
check "... and says so" grep -q 'no event of --charger "ZAP00010"' <<<"$out"

csv=$(x --type refusal 2>/dev/null)
check "a cell that would be a formula is text (leading ')" \
    grep -qF "\"'=HYPERLINK(\"\"http://evil.example\"\")\"" <<<"$csv"

# A segment the operator cannot read: an error naming it, exit 1.
chmod 600 "$L/events-20261126T000000Z-000000000003.jsonl"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$EVGATECTL" -s "$T/none.sock" export --dir "$L" 2>&1); rc=$?
check_eq "an unreadable segment fails the export (exit 1)" 1 "$rc"
check "... naming the segment" grep -q \
    "events-20261126T000000Z-000000000003.jsonl: Permission denied (the export is incomplete)" <<<"$out"
