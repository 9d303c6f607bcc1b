#!/usr/bin/env python3
"""The soak's figures over time: a markdown table and an HTML page.

    soak_plot.py SAMPLES.csv WARMUP_S OUT.html [TITLE]

SAMPLES.csv is tests/bench/soak_lib.sh's: one sample per line while the
chargers come and go, and a last one after they have all gone.  The
table (stdout) compares, for each figure, the first and the last tenth of
the samples after the warm-up, and gives the least-squares slope per
hour over all of them: flat means the end is no higher than the start
beyond the noise of the load (see the verdict column).  "descriptors
besides connections and pipes" counts a connection as two sockets, so it
dips while connections are being set up (one socket); after the load it
must be what it was before (the caller checks that exactly).  The HTML page has one inline SVG chart per
figure, no scripts and no external assets.
"""
import csv
import html
import sys


def load(path):
    with open(path, newline="") as f:
        rows = [dict((k, float(v)) for k, v in r.items())
                for r in csv.DictReader(f)]
    if len(rows) < 3:
        sys.exit("soak_plot: fewer than 3 samples in %s" % path)
    for r in rows:
        # A connection holds at most two sockets, a pipe two descriptors.
        r["other_fds"] = r["fds"] - 2 * r["active"] - 2 * (
            r["pipes_in_use"] + r["pipes_pooled"])
        r["rss_mib"] = r["rss_kb"] / 1024
        # Older files have no anon_kb: the whole RSS stands in.
        r["anon_mib"] = r.get("anon_kb", r["rss_kb"]) / 1024
    prev = None
    for r in rows:
        r["cpu_pct"] = 0.0 if prev is None or r["t_s"] <= prev["t_s"] else \
            100 * (r["cpu_s"] - prev["cpu_s"]) / (r["t_s"] - prev["t_s"])
        prev = r
    rows[0]["cpu_pct"] = rows[1]["cpu_pct"] if len(rows) > 1 else 0
    return rows[:-1], rows[-1]


def slope_per_hour(pts):
    n = len(pts)
    if n < 2:
        return 0.0
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return 0.0
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx * 3600


# figure, label, unit, how to judge it: a tolerance (absolute) for
# "flat", or None for a figure that follows the load (connections and
# their descriptors, CPU): the chargers come and go at random.
FIGS = [
    ("anon_mib", "RSS anonymous: heap, stacks", "MiB", 0.5),
    ("rss_mib", "RSS, with the libraries' pages", "MiB", 1.0),
    ("pipes_pooled", "pipes in the pool", "", 0),
    ("pipes_in_use", "pipes in use", "", 16),
    ("cache", "resolver cache entries", "", 0),
    ("other_fds", "descriptors besides connections and pipes", "", 8),
    ("fds", "descriptors", "", None),
    ("active", "connections", "", None),
    ("cpu_pct", "CPU", "% of a core", None),
]


def verdict(first, last, tol):
    if tol is None:
        return "follows the load"
    return "flat" if last <= first * 1.05 + tol else "GROWING"


def table(rows, after, warmup):
    post = [r for r in rows if r["t_s"] >= warmup] or rows
    k = max(1, len(post) // 10)
    head, tail = post[:k], post[-k:]
    out = []
    out.append("| figure | after warm-up | at the end | min-max | slope per hour "
               "| after the load | verdict |")
    out.append("|---|---:|---:|---:|---:|---:|---|")
    for key, label, unit, tol in FIGS:
        first = sum(r[key] for r in head) / k
        last = sum(r[key] for r in tail) / k
        lo = min(r[key] for r in post)
        hi = max(r[key] for r in post)
        sl = slope_per_hour([(r["t_s"], r[key]) for r in post])
        fmt = "%.1f" if key in ("rss_mib", "anon_mib", "cpu_pct") else "%.0f"
        out.append("| %s%s | %s | %s | %s-%s | %+.2f | %s | %s |" % (
            label, " (%s)" % unit if unit else "", fmt % first, fmt % last,
            fmt % lo, fmt % hi, sl, fmt % after[key],
            verdict(first, last, tol)))
    return "\n".join(out), post


def chart(rows, after, key, label, unit, warmup):
    w, h, pad = 640, 180, 40
    xs = [r["t_s"] for r in rows] + [after["t_s"]]
    ys = [r[key] for r in rows] + [after[key]]
    x0, x1 = min(xs), max(xs) or 1
    y0, y1 = 0, max(ys) * 1.1 or 1
    def px(x):
        return pad + (x - x0) / ((x1 - x0) or 1) * (w - 2 * pad)
    def py(y):
        return h - pad / 2 - (y - y0) / ((y1 - y0) or 1) * (h - pad)
    pts = " ".join("%.1f,%.1f" % (px(x), py(y)) for x, y in zip(xs, ys))
    wx = px(min(max(warmup, x0), x1))
    return (
        '<h2>%s%s</h2>\n<svg width="%d" height="%d" viewBox="0 0 %d %d" '
        'role="img">\n<rect x="%d" y="0" width="%.1f" height="%d" '
        'fill="#eee"/>\n<polyline fill="none" stroke="#1f5fa8" '
        'stroke-width="1.5" points="%s"/>\n<text x="2" y="12" '
        'font-size="11">%g</text><text x="2" y="%d" font-size="11">0'
        '</text>\n<text x="%d" y="%d" font-size="11">%d s</text>'
        '<text x="%.1f" y="12" font-size="11">warm-up</text>\n</svg>\n' % (
            html.escape(label), " (%s)" % unit if unit else "", w, h, w, h,
            pad, wx - pad, h, pts, round(y1, 1), h - 4, w - pad - 30,
            h - 4, int(x1), pad + 2))


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: soak_plot.py SAMPLES.csv WARMUP_S OUT.html [TITLE]")
    rows, after = load(sys.argv[1])
    warmup = float(sys.argv[2])
    title = sys.argv[4] if len(sys.argv) > 4 else "evgated soak"
    md, _ = table(rows, after, warmup)
    print(md)
    with open(sys.argv[3], "w") as f:
        f.write("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                "<title>%s</title><style>body{font-family:sans-serif}"
                "table{border-collapse:collapse}td,th{border:1px solid #ccc;"
                "padding:2px 6px}</style></head><body>\n<h1>%s</h1>\n" % (
                    html.escape(title), html.escape(title)))
        f.write("<p>Shaded: the warm-up (%d s), left out of the table."
                "</p>\n<pre>%s</pre>\n" % (warmup, html.escape(md)))
        for key, label, unit, _ in FIGS:
            f.write(chart(rows, after, key, label, unit, warmup))
        f.write("</body></html>\n")


if __name__ == "__main__":
    main()
