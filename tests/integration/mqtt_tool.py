#!/usr/bin/env python3
"""mqtt_tool: a scripted MQTT 3.1.1 client over TLS for the hub-rule tests.

mosquitto_pub/_sub/_rr cannot do what some tests need: stay connected
without ever sending PINGREQ (the hub's 1.5 x keep-alive rule), publish a
twin GET and wait on the wildcard response filter in one connection
(mosquitto_rr refuses wildcard response topics), or show SUBACK codes,
PUBACKs and the moment the server closes.  This is a plain socket + ssl
client that writes the packets of MQTT 3.1.1 (OASIS standard, sections
3.1-3.14) itself and prints one line per event:

  CONNACK <rc>            SUBACK <code> ...       PUBACK <mid>
  MSG <topic> <payload>   CLOSED <seconds since connect>

usage: mqtt_tool.py -h HOST -p PORT --cafile CA -i ID -u USER -P PASS
                    [-k KEEPALIVE] [--clean] [--no-ping] STEP...
steps: sub FILTER QOS | unsub FILTER | pub TOPIC PAYLOAD QOS RETAIN(0|1)
       | wait SECONDS | expect SUBSTRING SECONDS | idle SECONDS
  wait    print messages for SECONDS
  expect  print messages until one whose topic contains SUBSTRING (exit 1
          if none within SECONDS)
  idle    like wait, but exits 0 with CLOSED as soon as the server closes
Exit: 0 done, 1 expect failed, 2 CONNECT refused, 3 closed unexpectedly.
"""
import argparse
import select
import socket
import ssl
import struct
import sys
import time


def enc_len(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def enc_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


class Closed(Exception):
    pass


class Client:
    def __init__(self, a):
        self.a = a
        self.buf = b""
        self.mid = 0
        raw = socket.create_connection((a.host, a.port), timeout=30)
        ctx = ssl.create_default_context(cafile=a.cafile)
        self.s = ctx.wrap_socket(raw, server_hostname=a.sni or a.host)
        self.s.setblocking(False)
        self.t0 = time.monotonic()
        self.last_tx = self.t0

    def send(self, ptype, body):
        pkt = bytes([ptype]) + enc_len(len(body)) + body
        self.s.setblocking(True)
        self.s.sendall(pkt)
        self.s.setblocking(False)
        self.last_tx = time.monotonic()

    def read_packet(self, deadline):
        """One packet (type byte, body), or None at the deadline."""
        while True:
            p = self.parse()
            if p is not None:
                return p
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if self.s.pending() == 0:
                r, _, _ = select.select([self.s], [], [], min(left, 0.2))
                if not r:
                    self.maybe_ping()
                    continue
            try:
                d = self.s.recv(65536)
            except (ssl.SSLWantReadError, BlockingIOError):
                continue
            except (ConnectionError, ssl.SSLError, OSError):
                raise Closed()
            if not d:
                raise Closed()
            self.buf += d

    def parse(self):
        if len(self.buf) < 2:
            return None
        n, mult, i = 0, 1, 1
        while True:
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            n += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        if len(self.buf) < i + n:
            return None
        p = (self.buf[0], self.buf[i:i + n])
        self.buf = self.buf[i + n:]
        return p

    def maybe_ping(self):
        ka = self.a.keepalive
        if self.a.no_ping or ka == 0:
            return
        if time.monotonic() - self.last_tx > ka * 0.5:
            self.send(0xC0, b"")

    def handle(self, ptype, body):
        """Print what arrived; answer a QoS 1 PUBLISH with PUBACK."""
        kind = ptype >> 4
        if kind == 3:
            tl = struct.unpack("!H", body[:2])[0]
            topic = body[2:2 + tl].decode(errors="replace")
            rest = body[2 + tl:]
            qos = (ptype >> 1) & 3
            if qos:
                mid = rest[:2]
                rest = rest[2:]
                self.send(0x40, mid)
            print("MSG %s %s" % (topic, rest.decode(errors="replace")),
                  flush=True)
            return topic
        if kind == 9:
            print("SUBACK " + " ".join(str(c) for c in body[2:]), flush=True)
        elif kind == 4:
            print("PUBACK %d" % struct.unpack("!H", body[:2])[0], flush=True)
        return None

    def next_mid(self):
        self.mid = self.mid % 65535 + 1
        return self.mid


def main():
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("-h", dest="host", required=True)
    ap.add_argument("-p", dest="port", type=int, default=8883)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--sni")
    ap.add_argument("-i", dest="id", required=True)
    ap.add_argument("-u", dest="user", required=True)
    ap.add_argument("-P", dest="password", required=True)
    ap.add_argument("-k", dest="keepalive", type=int, default=60)
    ap.add_argument("--clean", action="store_true")
    ap.add_argument("--no-ping", action="store_true")
    ap.add_argument("steps", nargs=argparse.REMAINDER)
    a = ap.parse_args()

    c = Client(a)
    flags = 0xC0 | (0x02 if a.clean else 0)
    body = (enc_str("MQTT") + bytes([4, flags]) +
            struct.pack("!H", a.keepalive) + enc_str(a.id) +
            enc_str(a.user) + enc_str(a.password))
    c.send(0x10, body)
    try:
        p = c.read_packet(time.monotonic() + 30)
    except Closed:
        print("CLOSED %.1f" % (time.monotonic() - c.t0), flush=True)
        return 2
    if p is None or p[0] >> 4 != 2:
        print("no CONNACK", flush=True)
        return 2
    print("CONNACK %d" % p[1][1], flush=True)
    if p[1][1] != 0:
        return 2

    steps = list(a.steps)
    try:
        while steps:
            op = steps.pop(0)
            if op == "sub":
                f, q = steps.pop(0), int(steps.pop(0))
                c.send(0x82, struct.pack("!H", c.next_mid()) + enc_str(f) +
                       bytes([q]))
                deadline = time.monotonic() + 30
                while True:
                    p = c.read_packet(deadline)
                    if p is None:
                        print("no SUBACK", flush=True)
                        return 3
                    c.handle(*p)
                    if p[0] >> 4 == 9:
                        break
            elif op == "unsub":
                f = steps.pop(0)
                c.send(0xA2, struct.pack("!H", c.next_mid()) + enc_str(f))
            elif op == "pub":
                t, m = steps.pop(0), steps.pop(0)
                q, r = int(steps.pop(0)), int(steps.pop(0))
                body = enc_str(t)
                if q:
                    body += struct.pack("!H", c.next_mid())
                c.send(0x30 | (q << 1) | r, body + m.encode())
            elif op in ("wait", "idle"):
                deadline = time.monotonic() + float(steps.pop(0))
                while True:
                    p = c.read_packet(deadline)
                    if p is None:
                        break
                    c.handle(*p)
            elif op == "expect":
                want, secs = steps.pop(0), float(steps.pop(0))
                deadline = time.monotonic() + secs
                while True:
                    p = c.read_packet(deadline)
                    if p is None:
                        print("expected %s: nothing" % want, flush=True)
                        return 1
                    t = c.handle(*p)
                    if t is not None and want in t:
                        break
            else:
                print("unknown step %s" % op, file=sys.stderr)
                return 2
    except Closed:
        print("CLOSED %.1f" % (time.monotonic() - c.t0), flush=True)
        return 0 if op == "idle" else 3
    c.send(0xE0, b"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
