#!/usr/bin/env python3
"""An HTTP/1.1 upstream for the proxy tests, on python3's http.server (keep-alive, one thread
per connection). It prints "upstream_peer: listening on 127.0.0.1:PORT" once ready and serves:

  GET  /headers         the request line and headers it received, one "NAME: VALUE" per line
  POST /digest          reads the body (Content-Length or chunked) and answers
                        "LENGTH SHA256HEX"; headers say how the body was framed (X-Framing)
  GET  /chunked?n=N&size=S   N chunks of S bytes of the pattern i % 251, chunked
  GET  /eof?size=S      S pattern bytes without a length, then closes (HTTP/1.0-style)
  GET  /slow?delay=SEC  prints "received PATH" on stdout, waits, then answers "slow"
  GET  /until?file=F    prints "received PATH" on stdout, waits until file F exists (at most
                        60 s), then answers "released" (a request held in flight for as long
                        as the test needs, without guessing a delay)
  GET  /connections     how many connections it accepted so far
  GET  /open            how many connections are open now (this one included)
  GET  /name            the --name it was started with
  GET  /ws              a WebSocket handshake (101), then prints "upgraded /ws" on stdout and
                        holds the connection until the client closes it
  GET  /status/CODE     an empty response with that status (204, 304; 304 keeps a length)
  GET  /early-hints     a 103 interim response, then 200 "final"
  GET  /truncated       promises 100000 bytes, sends 1000, closes
  GET  /drop-next       answers "armed"; the next request on this connection gets no answer,
                        only the connection's close (a keep-alive close racing a request)
  HEAD any of the above the GET's headers, no body
"""
import argparse
import base64
import hashlib
import http.server
import os
import socketserver
import sys
import threading
import time
import urllib.parse

PATTERN = bytes(range(251))


def pattern(size, start=0):
    phase = start % 251
    return (PATTERN[phase:] + PATTERN * (size // 251 + 2))[:size]


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.value = 0

    def add(self, delta=1):
        with self.lock:
            self.value += delta


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "upstream_peer"

    def setup(self):
        super().setup()
        self.server.accepted.add()
        self.server.open.add()

    def finish(self):
        self.server.open.add(-1)
        super().finish()

    def log_message(self, fmt, *args):  # keep stderr for failures
        pass

    # One line per call, whole: print() writes the text and the newline apart, and lines from
    # requests held concurrently would run into each other.
    say_lock = threading.Lock()

    def say(self, line):
        with Handler.say_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def reply(self, status, body=b"", headers=(), length=True):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            digest, total = hashlib.sha256(), 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return digest, total, "chunked"
                remaining = size
                while remaining:
                    data = self.rfile.read(min(remaining, 1 << 16))
                    digest.update(data)
                    remaining -= len(data)
                total += size
                self.rfile.readline()
        length = int(self.headers.get("Content-Length", "0"))
        digest, remaining = hashlib.sha256(), length
        while remaining:
            data = self.rfile.read(min(remaining, 1 << 16))
            if not data:
                break
            digest.update(data)
            remaining -= len(data)
        return digest, length, f"length {length}"

    def dropped(self):
        if getattr(self, "drop_next", False):
            self.close_connection = True
            return True
        return False

    def do_POST(self):
        if self.dropped():
            return
        digest, total, framing = self.read_body()
        self.reply(200, f"{total} {digest.hexdigest()}\n".encode(), [("X-Framing", framing)])

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if self.dropped():
            return
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        path = url.path
        if path == "/headers":
            lines = [f"{self.command} {self.path} {self.request_version}"]
            lines += [f"{name}: {value}" for name, value in self.headers.items()]
            self.reply(200, ("\n".join(lines) + "\n").encode(), [("Content-Type", "text/plain")])
        elif path == "/ws":
            # RFC 6455's handshake, then the connection is held (its bytes read and dropped)
            # until the client goes: a long-lived tunnel through the proxy.
            key = self.headers.get("Sec-WebSocket-Key", "")
            accept = base64.b64encode(hashlib.sha1(
                (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.end_headers()
            self.wfile.flush()
            print(f"upgraded {self.path}", flush=True)
            while self.rfile.read(1):
                pass
            self.close_connection = True
        elif path == "/chunked":
            n, size = int(query.get("n", "3")), int(query.get("size", "1000"))
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command == "HEAD":
                return
            for i in range(n):
                self.wfile.write(b"%x\r\n" % size + pattern(size, i * size) + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\nX-Trailer: done\r\n\r\n")
        elif path == "/eof":
            size = int(query.get("size", "1000"))
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(pattern(size))
            self.close_connection = True
        elif path == "/slow":
            self.say(f"received {self.path}")  # tests wait for this line
            time.sleep(float(query.get("delay", "1")))
            self.reply(200, b"slow\n")
        elif path == "/until":
            self.say(f"received {self.path}")  # tests wait for this line
            deadline = time.monotonic() + 60
            while not os.path.exists(query["file"]) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.reply(200, b"released\n")
        elif path == "/early-hints":
            self.send_response(103)
            self.send_header("Link", "</style.css>; rel=preload")
            self.end_headers()
            self.reply(200, b"final\n")
        elif path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(pattern(1000))
            self.close_connection = True
        elif path == "/drop-next":
            self.drop_next = True
            self.reply(200, b"armed\n")
        elif path == "/connections":
            self.reply(200, f"{self.server.accepted.value}\n".encode())
        elif path == "/open":
            self.reply(200, f"{self.server.open.value}\n".encode())
        elif path == "/name":
            self.reply(200, f"{self.server.name}\n".encode())
        elif path.startswith("/status/"):
            code = int(path[len("/status/"):])
            headers = [("Content-Length", "1234")] if code == 304 else []
            self.reply(code, b"", headers, length=False)
        else:
            self.reply(404, b"no such endpoint\n")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The streams of one HTTP/2 client connect up to 100 upstream connections at once; the
    # default backlog of 5 would have the kernel reset some of them.
    request_queue_size = 128


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--name", default="upstream")
    ap.add_argument("--lifetime", type=float, default=120.0, help="exit after this long")
    args = ap.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    server.accepted = Counter()
    server.open = Counter()
    server.name = args.name
    threading.Timer(args.lifetime, server.shutdown).start()
    print(f"upstream_peer: listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
