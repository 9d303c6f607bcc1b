#!/usr/bin/env python3
"""pair_tool: watchers for the pair tests (tests/integration/pair_*.sh).
They run in a charger's namespace and record what a charger would see
across a failover.  Output is one line of JSON.

  pair_tool.py ntpwatch ADDR STOPFILE [INTERVAL]
      an NTP request to ADDR every INTERVAL s (default 0.3) until STOPFILE
      exists: how many were answered, how many answers were not
      synchronised (LI 3 or stratum 0), the longest time without an
      answer and when it was
"""
import json
import os
import socket
import struct
import sys
import time


def ntp_once(s, addr, timeout):
    """One request; None when unanswered, else (li, stratum)."""
    cookie = os.urandom(8)
    s.settimeout(timeout)
    s.sendto(bytes([(4 << 3) | 3]) + bytes(39) + cookie, (addr, 123))
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            d = s.recv(2048)
        except (socket.timeout, OSError):
            return None
        # only the answer to this request (its origin is our cookie)
        if len(d) >= 48 and d[24:32] == cookie:
            return d[0] >> 6, d[1]


def ntpwatch(addr, stop, interval=0.3):
    res = {"probes": 0, "answered": 0, "unsync": 0, "unsync_at": [],
           "max_gap_s": 0.0, "gap_from": None, "last_ok": None}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    last_ok = time.time()
    while not os.path.exists(stop):
        t = time.time()
        r = ntp_once(s, addr, interval)
        res["probes"] += 1
        if r is not None:
            li, stratum = r
            if li == 3 or stratum == 0:
                res["unsync"] += 1
                if len(res["unsync_at"]) < 10:
                    res["unsync_at"].append(round(t, 3))
            else:
                res["answered"] += 1
                gap = t - last_ok
                if gap > res["max_gap_s"]:
                    res["max_gap_s"] = round(gap, 3)
                    res["gap_from"] = round(last_ok, 3)
                last_ok = t
                res["last_ok"] = round(t, 3)
        rest = interval - (time.time() - t)
        if rest > 0:
            time.sleep(rest)
    return res


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "ntpwatch":
        iv = float(sys.argv[4]) if len(sys.argv) > 4 else 0.3
        print(json.dumps(ntpwatch(sys.argv[2], sys.argv[3], iv)))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
