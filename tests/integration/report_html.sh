#!/bin/bash
# report_html: the HTML report, rendered by a real browser (Debian's
# chromium, headless), shows time: a charger x day heatmap where a
# five-day outage is five red cells, days before a charger was first seen
# as "no data" (not 0 %), a never-online charger said so, devices without
# a reservation in their own section, refusals by reason, a legend and the
# site's name.  The structure is checked on the DOM chromium renders.
. "$(dirname "$0")/lib.sh"

command -v chromium >/dev/null ||
    { not_ok "chromium is installed (scripts/setup installs it)"; exit 1; }
L=$T/log
mkdir -p "$L"
# Ten days of November.  ZAP000001: online but for the 3rd to the 7th.
# ZAP000002: first seen on the 5th at 08:00, online from then on.
# ZAP000003: leases only, never online.  A rogue MAC and a rogue client.
cat >"$L/events-20261101T000000Z-000000000001.jsonl" <<'J'
{"seq":1,"ts":"2026-11-01T00:00:00Z","type":"lease","action":"add","charger":"ZAP000003","mac":"02:42:00:00:00:03"}
{"seq":2,"ts":"2026-11-02T10:00:00Z","type":"refusal","kind":"dhcp","mac":"02:42:00:00:ff:01","reason":"unknown MAC"}
{"seq":3,"ts":"2026-11-02T11:00:00Z","type":"refusal","kind":"dhcp","mac":"02:42:00:00:ff:01","reason":"unknown MAC"}
{"seq":4,"ts":"2026-11-03T00:00:00Z","type":"connection","charger":"ZAP000001","client":"10.42.0.21:40000","sni":"zapcloud.azure-devices.net","port":8883,"start":"2026-11-01T00:00:00Z","duration_s":172800.0,"bytes_up":1000,"bytes_down":2000,"reason":"upstream-reset"}
{"seq":5,"ts":"2026-11-04T12:00:00Z","type":"refusal","client":"10.42.0.99:40000","sni":"evil.example","port":443,"reason":"not-allowed"}
{"seq":6,"ts":"2026-11-05T08:00:00Z","type":"lease","action":"add","charger":"ZAP000002","mac":"02:42:00:00:00:02"}
{"seq":7,"ts":"2026-11-11T00:00:00Z","type":"connection","charger":"ZAP000002","client":"10.42.0.22:40000","sni":"zapcloud.azure-devices.net","port":8883,"start":"2026-11-05T08:00:00Z","duration_s":511200.0,"bytes_up":1000,"bytes_down":2000,"reason":"idle"}
{"seq":8,"ts":"2026-11-11T00:00:00Z","type":"connection","charger":"ZAP000001","client":"10.42.0.21:40001","sni":"zapcloud.azure-devices.net","port":8883,"start":"2026-11-08T00:00:00Z","duration_s":259200.0,"bytes_up":1000,"bytes_down":2000,"reason":"idle"}
J
printf 'site: {name: "P-hus <Sentrum>"}\nlog: {dir: %s}\n' "$L" >"$T/evgated.yaml"
check "evgatectl report --format html" "$EVGATECTL" -s "$T/none.sock" \
    -c "$T/evgated.yaml" report --from 2026-11-01 --to 2026-11-10 \
    --no-live --format html -o "$T/report.html"

# The browser: as this machine's notes say, without background networking
# (the machine has no network), in a fresh profile.
browse() {
	chromium --headless --no-sandbox --disable-gpu --disable-quic \
	    --disable-background-networking --disable-component-update \
	    --disable-sync --no-first-run --user-data-dir="$(mktemp -d "$T/prof.XXXXXX")" \
	    "$@" "file://$T/report.html" 2>>"$T/chromium.log"
}
browse --dump-dom >"$T/dom.html"
check "chromium rendered the page" grep -q '</html>' "$T/dom.html"
browse --screenshot="$T/report.png" --window-size=1100,1600 >/dev/null
check "chromium took a screenshot" test -s "$T/report.png"
[ -n "${REPORT_PNG:-}" ] && cp "$T/report.png" "$REPORT_PNG"

# The structure, from the rendered DOM.
python3 - "$T/dom.html" >"$T/facts" <<'PY'
import sys
from html.parser import HTMLParser

class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.tables = []; s.stack = []; s.row = None
        s.h1 = ""; s.in_h1 = False; s.legend = 0; s.text = []
    def handle_starttag(s, tag, a):
        a = dict(a)
        if tag == "h1": s.in_h1 = True
        if tag == "table": s.tables.append((a.get("class", ""), [])); s.stack.append(tag)
        if tag == "tr" and s.tables: s.row = []; s.tables[-1][1].append(s.row)
        if tag in ("td", "th") and s.row is not None:
            s.row.append([a.get("class", ""), a.get("data-day", ""), ""])
        if tag == "li": s.legend += 1
    def handle_endtag(s, tag):
        if tag == "h1": s.in_h1 = False
    def handle_data(s, d):
        if s.in_h1: s.h1 += d
        if s.row: s.row[-1][2] += d

p = P(); p.feed(open(sys.argv[1]).read())
print("h1", p.h1)
print("legend", p.legend)
heat = [t for c, t in p.tables if c == "heatmap"]
print("heatmaps", len(heat))
for rows in heat:
    for r in rows[1:]:
        name = r[0][2].strip()
        print("row", name.replace(" ", "_"), " ".join(c[0] for c in r[1:]))
for c, rows in p.tables:
    if c == "reasons":
        for r in rows[1:]:
            print("reason", r[0][2].replace(" ", "_"), r[1][2])
PY
f() { sed -n "s/^$1 //p" "$T/facts"; }
check_eq "the page's title names the site (escaped)" "Fleet report: P-hus <Sentrum>" "$(f h1)"
check_eq "two heatmaps: chargers, and devices without a reservation" 2 "$(f heatmaps)"
check_eq "ZAP000001: the five days of its outage are red, the rest green" \
    "h4 h4 h0 h0 h0 h0 h0 h4 h4 h4" "$(f row | sed -n 's/^ZAP000001 //p')"
check_eq "ZAP000002: no data before it was first seen, then online" \
    "nodata nodata nodata nodata h2 h4 h4 h4 h4 h4" \
    "$(f row | sed -n 's/^ZAP000002 //p')"
check_eq "ZAP000003: said never online, red from its first lease" \
    "h0 h0 h0 h0 h0 h0 h0 h0 h0 h0" \
    "$(f row | sed -n 's/^ZAP000003_never_online //p')"
check_eq "devices without a reservation: the rogue MAC, by MAC, idle" \
    "nodata idle idle idle idle idle idle idle idle idle" \
    "$(f row | sed -n 's/^02:42:00:00:ff:01 //p')"
check_eq "... and the rogue client, by address" \
    "nodata nodata nodata idle idle idle idle idle idle idle" \
    "$(f row | sed -n 's/^10.42.0.99:40000 //p')"
check_eq "refusals by reason" "dhcp:_unknown_MAC=2 relay:_not-allowed=1" \
    "$(f reason | tr ' ' '=' | tr '\n' ' ' | sed 's/ $//')"
check_eq "a legend for every colour" 7 "$(f legend)"
