#!/usr/bin/env python3
"""A small HTTPS log collector for the shipping tests.

It takes what Vector's http_server, Fluent Bit's http input or Logstash's
http input take: POSTs of NDJSON (application/x-ndjson), optionally with
Content-Encoding: gzip.  Every batch is checked the way a strict pipeline
would (gzip really is gzip when it says so, every line is a JSON object)
and recorded:

  --out FILE      every event line received, appended (NDJSON)
  --batches FILE  one JSON line per request: encoding, sizes, seq range,
                  headers of interest, and the status answered

Options for tests: --token T (401 without "Authorization: Bearer T"),
--require-gzip (415 without gzip), --fail N (answer 503 to the first N
requests), --max-lines N (413 for larger batches).  SIGTERM stops it after
the request in hand, so "the collector went down" never cuts a request
half-recorded; --port-file tells the port it bound (--port 0).
"""
import argparse
import gzip
import json
import os
import signal
import ssl
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca", help="require a client certificate")
    ap.add_argument("--out", required=True)
    ap.add_argument("--batches", required=True)
    ap.add_argument("--token")
    ap.add_argument("--require-gzip", action="store_true")
    ap.add_argument("--fail", type=int, default=0)
    ap.add_argument("--max-lines", type=int, default=0)
    args = ap.parse_args()
    state = {"stop": False, "fail": args.fail}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 2     # an idle keep-alive connection ends soon

        def log_message(self, fmt, *a):
            sys.stderr.write("collector: " + (fmt % a) + "\n")

        def answer(self, code, note, rec):
            body = json.dumps({"ok": code == 200, "note": note}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if state["stop"]:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)
            rec["status"] = code
            rec["note"] = note
            with open(args.batches, "a") as f:
                f.write(json.dumps(rec) + "\n")

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(n)
            enc = self.headers.get("Content-Encoding", "")
            rec = {"path": self.path, "bytes": len(raw), "encoding": enc,
                   "content_type": self.headers.get("Content-Type", ""),
                   "site": self.headers.get("X-Evgate-Site", ""),
                   "box": self.headers.get("X-Evgate-Box", ""),
                   "seq_header": self.headers.get("X-Evgate-Seq", ""),
                   "user_agent": self.headers.get("User-Agent", "")}
            if args.token is not None and \
                    self.headers.get("Authorization", "") != \
                    "Bearer " + args.token:
                return self.answer(401, "bad or no token", rec)
            if args.require_gzip and enc != "gzip":
                return self.answer(415, "gzip required", rec)
            if state["fail"] > 0:
                state["fail"] -= 1
                return self.answer(503, "told to fail", rec)
            try:
                data = gzip.decompress(raw) if enc == "gzip" else raw
                lines = data.decode("utf-8").split("\n")
                if lines[-1] != "":
                    raise ValueError("the body does not end with a newline")
                events = [json.loads(l) for l in lines[:-1]]
                if not all(isinstance(e, dict) for e in events):
                    raise ValueError("a line is not a JSON object")
            except Exception as e:  # a strict pipeline rejects the batch
                return self.answer(400, "bad batch: %s" % e, rec)
            if args.max_lines and len(events) > args.max_lines:
                return self.answer(413, "too many lines", rec)
            rec["lines"] = len(events)
            rec["raw_bytes"] = len(data)
            seqs = [e.get("seq") for e in events]
            rec["first"], rec["last"] = (seqs[0], seqs[-1]) if seqs \
                else (None, None)
            with open(args.out, "a") as f:
                f.write(data.decode("utf-8"))
            self.answer(200, "stored", rec)

    srv = HTTPServer((args.host, args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(args.client_ca)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.timeout = 0.2

    def stop(*_):
        state["stop"] = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        os.rename(args.port_file + ".tmp", args.port_file)
    while not state["stop"]:
        srv.handle_request()
    srv.server_close()


if __name__ == "__main__":
    main()
