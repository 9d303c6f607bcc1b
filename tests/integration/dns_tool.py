#!/usr/bin/env python3
"""A DNS server for tests: per-name answers, TTLs, CNAMEs, delays, drops.

    dns_tool.py ADDR PORT ZONE.json LOG

ZONE.json maps names (lower case, no final dot) to what to answer:

    {"cloud.test": {"A": ["10.9.0.10"], "AAAA": ["::ffff:10.0.0.1"],
                    "ttl": 60, "ttl_a": 0, "ttl_aaaa": 3600,
                    "cname": "edge.test", "cname_ttl": 2,
                    "delay_ms": 0, "drop": false, "rcode": 0}}

A name not in the zone is NXDOMAIN.  "cname" answers the CNAME first and
then the records under the target's name.  The file is read again for
every query, so a test can change answers while the server runs.  Every
question is appended to LOG as "NAME TYPE" (TYPE is A, AAAA or a number),
in the case it was asked.  Questions are echoed exactly, as a real server
does, so a resolver's 0x20 check passes.
"""
import json
import socket
import struct
import sys
import threading
import time

TYPES = {1: "A", 28: "AAAA"}


def read_question(msg):
    off = 12
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            off += 1
            break
        labels.append(msg[off + 1:off + 1 + n].decode("latin1"))
        off += 1 + n
    qtype, qclass = struct.unpack(">HH", msg[off:off + 4])
    return ".".join(labels), qtype, off + 4


def wire_name(name):
    out = b""
    for label in name.split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def rr(owner, rtype, ttl, data):
    return wire_name(owner) + struct.pack(">HHIH", rtype, 1, ttl,
                                          len(data)) + data


def answer(msg, zone):
    qid, flags = struct.unpack(">HH", msg[:4])
    qname, qtype, qend = read_question(msg)
    entry = zone.get(qname.lower().rstrip("."))
    question = msg[12:qend]
    if entry is None:
        hdr = struct.pack(">HHHHHH", qid, 0x8183, 1, 0, 0, 0)
        return hdr + question, None
    records = []
    owner = qname
    if entry.get("cname"):
        records.append(rr(owner, 5, entry.get("cname_ttl", 300),
                          wire_name(entry["cname"])))
        owner = entry["cname"]
    if qtype == 1:
        for a in entry.get("A", []):
            records.append(rr(owner, 1, entry.get("ttl_a",
                              entry.get("ttl", 60)),
                              socket.inet_pton(socket.AF_INET, a)))
    elif qtype == 28:
        for a in entry.get("AAAA", []):
            records.append(rr(owner, 28, entry.get("ttl_aaaa",
                              entry.get("ttl", 60)),
                              socket.inet_pton(socket.AF_INET6, a)))
    rcode = entry.get("rcode", 0)
    hdr = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, len(records), 0, 0)
    return hdr + question + b"".join(records), entry


def main():
    addr, port, zone_path, log_path = sys.argv[1:5]
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((addr, int(port)))
    log = open(log_path, "a", buffering=1)
    while True:
        msg, peer = s.recvfrom(4096)
        try:
            with open(zone_path) as f:
                zone = json.load(f)
            qname, qtype, _ = read_question(msg)
            log.write("%s %s\n" % (qname, TYPES.get(qtype, qtype)))
            reply, entry = answer(msg, zone)
        except Exception as e:  # a broken query: no answer, as servers do
            log.write("# %s\n" % e)
            continue
        if entry is not None and entry.get("drop"):
            continue
        delay = (entry or {}).get("delay_ms", 0) / 1000.0
        if delay:
            threading.Timer(delay, s.sendto, (reply, peer)).start()
        else:
            s.sendto(reply, peer)


if __name__ == "__main__":
    main()
