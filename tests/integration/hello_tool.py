#!/usr/bin/env python3
"""hello_tool: hostile and odd TLS clients for the relay's attack tests.

Each mode connects to HOST:PORT and does one thing a well-behaved charger
never does; it prints one line saying what happened to the connection
("closed", "open", "timeout") so the shell test can assert on it.

  hello_tool.py dribble HOST PORT SNI SECONDS   hello one byte per second
  hello_tool.py ipsni HOST PORT                 SNI is an IP literal
  hello_tool.py oversize HOST PORT              a hello larger than 16 KiB
  hello_tool.py garbage HOST PORT               a TLS record of noise
  hello_tool.py split HOST PORT SNI             hello in 3 TLS records and
                                                many TCP segments, then
                                                a real handshake (prints the
                                                server certificate's CN)
  hello_tool.py halfopen HOST PORT N SRCNET     N connections from N source
                                                addresses that send nothing;
                                                holds them until stdin closes
  hello_tool.py many HOST PORT N SNI            N connections from one source
                                                sending a hello each; prints
                                                how many stayed open
  hello_tool.py halfopen_from HOST PORT K FIRST COUNT
                                                K connections from each of
                                                COUNT consecutive IPv4
                                                addresses from FIRST (which
                                                the caller has configured),
                                                sending nothing; holds them
                                                until stdin closes
"""
import ipaddress
import select
import socket
import ssl
import struct
import sys
import time


def client_hello(sni):
    """The ClientHello OpenSSL would send for sni, as raw bytes."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def fate(s, wait=5.0):
    """Wait for the relay to act: 'closed' when it hangs up."""
    s.settimeout(wait)
    try:
        data = s.recv(1)
        return "closed" if data == b"" else "open"
    except socket.timeout:
        return "open"
    except OSError:
        return "closed"


def connect(host, port, src=None):
    s = socket.socket()
    if src:
        s.bind((src, 0))
    s.connect((host, port))
    return s


def main(argv):
    mode, host, port = argv[1], argv[2], int(argv[3])
    if mode == "dribble":
        hello = client_hello(argv[4])
        s = connect(host, port)
        deadline = time.time() + float(argv[5])
        try:
            for b in hello:
                if time.time() > deadline:
                    break
                s.send(bytes([b]))
                r, _, _ = select.select([s], [], [], 1.0)
                if r and s.recv(1) == b"":
                    print("closed")
                    return
        except OSError:
            print("closed")
            return
        print(fate(s, 1.0))
    elif mode == "ipsni":
        # Same length as the IP literal, then patched in place.
        name, ip = "abcdefghij", "127.0.0.10"
        hello = client_hello(name).replace(name.encode(), ip.encode())
        s = connect(host, port)
        s.sendall(hello)
        print(fate(s))
    elif mode == "oversize":
        body = b"\x01" + struct.pack(">I", 40000)[1:] + b"\x03\x03" + b"\0" * 17000
        s = connect(host, port)
        try:
            for i in range(0, len(body), 1000):
                chunk = body[i:i + 1000]
                s.sendall(b"\x16\x03\x01" + struct.pack(">H", len(chunk)) + chunk)
        except OSError:
            pass
        print(fate(s))
    elif mode == "garbage":
        s = connect(host, port)
        s.sendall(b"\x16\x03\x01\x00\x40" + bytes(range(64)))
        print(fate(s))
    elif mode == "split":
        sni = argv[4]
        hello = client_hello(sni)
        # Re-frame the handshake message into 3 records, sent in small
        # TCP segments with pauses, then finish the handshake with TLS.
        msg = hello[5:]
        s = connect(host, port)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cuts = [0, len(msg) // 3, 2 * len(msg) // 3, len(msg)]
        wire = b""
        for a, b in zip(cuts, cuts[1:]):
            wire += b"\x16\x03\x01" + struct.pack(">H", b - a) + msg[a:b]
        for i in range(0, len(wire), 7):
            s.send(wire[i:i + 7])
            time.sleep(0.002)
        # Feed the server's reply to a TLS object that sent this very
        # hello: the relay must have forwarded it byte for byte.
        s.settimeout(5)
        reply = b""
        try:
            while len(reply) < 5 or len(reply) < 5 + struct.unpack(">H", reply[3:5])[0]:
                d = s.recv(65536)
                if not d:
                    break
                reply += d
        except socket.timeout:
            pass
        print("server-hello" if reply[:1] == b"\x16" and reply[5:6] == b"\x02"
              else "no-server-hello")
    elif mode == "halfopen":
        n, net = int(argv[4]), argv[5]          # net like 127.1
        socks = []
        for i in range(n):
            src = "%s.%d.%d" % (net, i // 250, i % 250 + 1)
            socks.append(connect(host, port, src))
        print("holding %d" % len(socks), flush=True)
        sys.stdin.read()
        closed = sum(1 for s in socks if fate(s, 0.01) == "closed")
        print("closed %d" % closed)
    elif mode == "halfopen_from":
        k, first, count = int(argv[4]), argv[5], int(argv[6])
        base = ipaddress.IPv4Address(first)
        socks = []
        for a in range(count):
            src = str(base + a)
            for _ in range(k):
                socks.append(connect(host, port, src))
        print("holding %d" % len(socks), flush=True)
        sys.stdin.read()
        closed = sum(1 for s in socks if fate(s, 0.01) == "closed")
        print("closed %d" % closed)
    elif mode == "many":
        n, sni = int(argv[4]), argv[5]
        hello = client_hello(sni)
        socks = []
        for i in range(n):
            s = connect(host, port)
            s.sendall(hello)
            socks.append(s)
        time.sleep(1.5)
        print("open %d" % sum(1 for s in socks if fate(s, 0.05) == "open"))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main(sys.argv)
