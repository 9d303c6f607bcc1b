#!/usr/bin/env python3
"""ntp_tool: a tiny NTP client and misbehaving peers for the integration
tests (tests/integration/ntp_*.sh).  It reads the header fields that
ntpdig and chronyd -Q do not print (leap indicator, stratum, reference id,
reference time), floods, sends malformed packets, and plays a lying
server.  Output is one line of JSON.

  ntp_tool.py query ADDR [PORT]          one request; the reply decoded
  ntp_tool.py flood ADDR COUNT [PPS]     COUNT requests as fast as we can,
                                         or at PPS requests a second
  ntp_tool.py malformed ADDR             one of each broken request
  ntp_tool.py liar ADDR OFFSET           serve time OFFSET seconds off
"""
import json
import os
import socket
import struct
import sys
import time

NTP_EPOCH = 2208988800


def ts(t):
    t += NTP_EPOCH
    return struct.pack("!II", int(t) & 0xffffffff, int((t % 1) * 2**32))


def ts_val(b):
    s, f = struct.unpack("!II", b)
    return s + f / 2**32


def request(version=4, mode=3, cookie=None):
    cookie = cookie or os.urandom(8)
    return bytes([(version << 3) | mode]) + bytes(39) + cookie, cookie


def decode(d, cookie, t1, t4):
    li, vn, mode = d[0] >> 6, (d[0] >> 3) & 7, d[0] & 7
    stratum, poll, prec = d[1], struct.unpack("b", d[2:3])[0], \
        struct.unpack("b", d[3:4])[0]
    rdel, rdisp = struct.unpack("!II", d[4:12])
    refid = d[12:16]
    ref, org, rec, xmt = (d[16:24], d[24:32], d[32:40], d[40:48])
    out = {"li": li, "vn": vn, "mode": mode, "stratum": stratum,
           "poll": poll, "precision": prec,
           "root_delay": rdel / 65536, "root_disp": rdisp / 65536,
           "refid_ip": ".".join(str(x) for x in refid),
           "refid_text": refid.rstrip(b"\0").decode("ascii", "replace"),
           "ref_zero": ref == bytes(8), "org_ok": org == cookie}
    if rec != bytes(8) and xmt != bytes(8):
        t2, t3 = ts_val(rec) - NTP_EPOCH, ts_val(xmt) - NTP_EPOCH
        out["offset"] = ((t2 - t1) + (t3 - t4)) / 2
        out["delay"] = (t4 - t1) - (t3 - t2)
    return out


def query(addr, port=123, timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    req, cookie = request()
    t1 = time.time()
    s.sendto(req, (addr, port))
    try:
        d, _ = s.recvfrom(2048)
    except socket.timeout:
        return {"answered": False}
    t4 = time.time()
    out = decode(d, cookie, t1, t4)
    out["answered"] = True
    out["length"] = len(d)
    return out


def drain(s, res):
    while True:
        try:
            d = s.recv(2048)
        except (BlockingIOError, socket.timeout):
            return
        if len(d) >= 48 and d[1] == 0 and d[12:16] == b"RATE":
            res["kod"] += 1
        else:
            res["answered"] += 1


def flood(addr, count, pps=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.setblocking(False)
    res = {"sent": 0, "answered": 0, "kod": 0}
    t0 = time.time()
    for i in range(count):
        try:
            s.sendto(request()[0], (addr, 123))
            res["sent"] += 1
        except BlockingIOError:
            time.sleep(0.001)
        if i % 64 == 0:
            drain(s, res)
            if pps:
                ahead = t0 + (i + 1) / pps - time.time()
                if ahead > 0:
                    time.sleep(ahead)
    s.settimeout(1.0)
    time.sleep(0.5)
    drain(s, res)
    res["seconds"] = round(time.time() - t0, 3)
    return res


def malformed(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    good, _ = request()
    kinds = {
        "short": good[:47],
        "bad_version": request(version=5)[0],
        "bad_version0": request(version=0)[0],
        "bad_mode_control": request(mode=6)[0],  # ntpq, the amplifier
        "bad_mode_private": request(mode=7)[0],  # ntpdc monlist
        "bad_mode_server": request(mode=4)[0],
        "bad_length": good + bytes(7),
        "auth": good + struct.pack("!I", 1) + bytes(20),
    }
    for b in kinds.values():
        s.sendto(b, (addr, 123))
    return {"sent": len(kinds), "kinds": sorted(kinds)}


def liar(addr, offset):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 123))
    while True:
        d, peer = s.recvfrom(2048)
        now = time.time() + offset
        if len(d) < 48 or d[0] & 7 != 3:
            continue
        hdr = struct.pack("!BBbbII4s", (4 << 3) | 4, 1, d[2], -20,
                          0, 64, b"LIAR")
        s.sendto(hdr + ts(now - 16) + d[40:48] + ts(now) +
                 ts(time.time() + offset), peer)


def main():
    cmd = sys.argv[1]
    if cmd == "query":
        port = int(sys.argv[3]) if len(sys.argv) > 3 else 123
        print(json.dumps(query(sys.argv[2], port)))
    elif cmd == "flood":
        pps = int(sys.argv[4]) if len(sys.argv) > 4 else 0
        print(json.dumps(flood(sys.argv[2], int(sys.argv[3]), pps)))
    elif cmd == "malformed":
        print(json.dumps(malformed(sys.argv[2])))
    elif cmd == "liar":
        liar(sys.argv[2], float(sys.argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
