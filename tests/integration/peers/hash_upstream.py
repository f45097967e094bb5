#!/usr/bin/env python3
"""An HTTP/1.1 upstream for the proxy tests, on python3's http.server, that hashes bodies.

  POST/PUT  reads the body as it arrives (Content-Length or chunked), never keeping it whole,
            and answers "sha256 HEX bytes N connection C request R"
  GET       answers "connection C request R"

C numbers the TCP connections this server accepted (1, 2, ...) and R the requests on one
connection, so a test can count the proxy's upstream connections. Prints "listening on PORT"
once it accepts, then serves until it is killed.
"""
import argparse
import hashlib
import http.server
import itertools
import sys

CONNECTIONS = itertools.count(1)
READ_SIZE = 1 << 20


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.connection_number = next(CONNECTIONS)
        self.requests = 0

    def log_message(self, format, *args):
        pass  # one line per request would be noise in a test transcript

    def answer(self, text):
        body = (text + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def counted(self):
        self.requests += 1
        return f"connection {self.connection_number} request {self.requests}"

    def do_GET(self):
        self.answer(self.counted())

    def do_POST(self):
        digest = hashlib.sha256()
        size = 0
        for piece in self.body():
            digest.update(piece)
            size += len(piece)
        self.answer(f"sha256 {digest.hexdigest()} bytes {size} {self.counted()}")

    do_PUT = do_POST

    def body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            yield from self.chunked_body()
            return
        left = int(self.headers.get("Content-Length", "0"))
        while left > 0:
            piece = self.rfile.read(min(left, READ_SIZE))
            if not piece:
                raise ConnectionError(f"body ended {left} bytes early")
            left -= len(piece)
            yield piece

    def chunked_body(self):
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            while size > 0:
                piece = self.rfile.read(min(size, READ_SIZE))
                if not piece:
                    raise ConnectionError("chunk ended early")
                size -= len(piece)
                yield piece
            self.rfile.readline()  # the CRLF after the chunk


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
