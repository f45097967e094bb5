#!/usr/bin/env python3
"""An HTTP/1.1 client peer for tlsreactor-hello, built on python3's socket and http.client.

  exchange     sends raw request bytes in one write, parses the responses with http.client and
               reports each one, then whether the server closed the connection
  echo         POSTs --bytes deterministic pseudo-random bytes to /echo with http.client (a
               generator body, so chunked, or with --length a Content-Length body), reading the
               response on another thread as it arrives, and prints the status, the response's
               framing and the length and SHA-256 of what was sent and what came back
  verify-file  checks that a downloaded file is N bytes of the /bytes/N pattern (byte i = i % 251)
  stream       sends one request (plain or, with --tls, TLS without verification) and reads the
               response as fast as it can until the server closes or the peer is killed;
               prints "streaming" once --report bytes have arrived

exchange prints, per response: "response K: STATUS REASON", one "header NAME: VALUE" line per
header (name in lower case), "body-length: N", "body-pattern: ok|no" and, for short bodies,
"body: REPR"; then "end: closed|open|reset|extra REPR". It exits 0 whenever it could talk to
the server; the test judges the transcript. verify-file exits 0 with "ok: ..." or 1 with a
"FAIL: ..." line on stderr naming the first wrong offset.
"""
import argparse
import hashlib
import http.client
import io
import os
import socket
import ssl
import random
import sys
import threading
import time

PERIOD = 251
PATTERN = bytes(range(PERIOD))


def fail(message):
    print(f"http_peer: FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def pattern_mismatch(data, start=0):
    """The offset of the first byte of `data` (starting at pattern offset `start`) that is not
    the pattern, or None."""
    phase = start % PERIOD
    expected = (PATTERN[phase:] + PATTERN * (len(data) // PERIOD + 1))[: len(data)]
    if data == expected:
        return None
    return next(i for i, (a, b) in enumerate(zip(data, expected)) if a != b)


class SharedReader(io.BufferedReader):
    """One buffered reader for every response on the connection (so bytes of a pipelined
    response read ahead are not lost) that http.client cannot close when a response ends."""

    def close(self):
        pass


class SocketWithReader:
    """What http.client.HTTPResponse needs of a socket: makefile()."""

    def __init__(self, reader):
        self.reader = reader

    def makefile(self, *args, **kwargs):
        return self.reader


def exchange(args):
    request = os.fsencode(args.send)
    sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    sock.sendall(request)
    if args.half_close:
        sock.shutdown(socket.SHUT_WR)
    reader = SharedReader(socket.SocketIO(sock, "rb"), 256 * 1024)
    for index, method in enumerate(args.expect or ["GET"], start=1):
        response = http.client.HTTPResponse(SocketWithReader(reader), method=method)
        try:
            response.begin()
            body = response.read()
        except (http.client.HTTPException, OSError) as e:
            print(f"response {index}: none ({type(e).__name__}: {e})", flush=True)
            break
        print(f"response {index}: {response.status} {response.reason}")
        for name, value in response.getheaders():
            print(f"header {name.lower()}: {value}")
        print(f"body-length: {len(body)}")
        print(f"body-pattern: {'ok' if pattern_mismatch(body) is None else 'no'}")
        if len(body) <= 256:
            print(f"body: {body!r}")
        sys.stdout.flush()

    sock.settimeout(args.close_wait)
    try:
        extra = reader.read1(65536)
        print("end: closed" if not extra else f"end: extra {extra[:200]!r}")
    except socket.timeout:
        print("end: open")
    except ConnectionResetError:
        print("end: reset")
    sock.close()


def echo(args):
    data = random.Random(args.seed).randbytes(args.bytes)
    conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
    conn.connect()
    failure = []

    def send():
        try:
            if args.length:
                conn.request("POST", "/echo", body=data)
                return
            # Pieces of uneven sizes, so chunks do not line up with the server's reads.
            rng = random.Random(args.seed + 1)

            def pieces():
                offset = 0
                while offset < len(data):
                    size = rng.randint(1, 200_000)
                    yield data[offset:offset + size]
                    offset += size

            conn.request("POST", "/echo", body=pieces(), encode_chunked=True)
        except OSError as e:
            failure.append(e)

    # The echo comes back while the body goes out: a client that only read after sending would
    # deadlock with any server that applies backpressure once both directions' buffers fill.
    sender = threading.Thread(target=send)
    sender.start()
    response = http.client.HTTPResponse(conn.sock, method="POST")
    response.begin()
    body = response.read()
    sender.join()
    if failure:
        fail(f"sending the body: {failure[0]}")
    framing = ("chunked" if response.getheader("Transfer-Encoding") == "chunked"
               else f"length {response.getheader('Content-Length')}")
    print(f"status {response.status}")
    print(f"framing {framing}")
    print(f"sent {len(data)} sha256 {hashlib.sha256(data).hexdigest()}")
    print(f"received {len(body)} sha256 {hashlib.sha256(body).hexdigest()}", flush=True)
    conn.close()


def stream(args):
    sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        sock = context.wrap_socket(sock)
    sock.sendall(os.fsencode(args.send))
    buffer = bytearray(1 << 20)
    received = 0
    reported = False
    while n := sock.recv_into(buffer):
        received += n
        if not reported and received >= args.report:
            print("streaming", flush=True)
            reported = True
    print(f"closed after {received} bytes", flush=True)


def verify_file(args):
    size = os.path.getsize(args.file)
    if size != args.bytes:
        fail(f"{args.file} has {size} bytes, expected {args.bytes}")
    offset = 0
    with open(args.file, "rb") as f:
        while chunk := f.read(1 << 20):
            bad = pattern_mismatch(chunk, offset)
            if bad is not None:
                fail(f"byte {offset + bad} is {chunk[bad]}, expected {(offset + bad) % PERIOD}")
            offset += len(chunk)
    print(f"ok: {offset} bytes match the pattern", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("exchange")
    ex.add_argument("--host", default="127.0.0.1")
    ex.add_argument("--port", type=int, required=True)
    ex.add_argument("--send", required=True, help="raw request bytes, sent in one write")
    ex.add_argument("--expect", action="append", metavar="METHOD",
                    help="one per expected response, its request's method (default: one GET)")
    ex.add_argument("--half-close", action="store_true", help="shutdown(SHUT_WR) after sending")
    ex.add_argument("--close-wait", type=float, default=2.0,
                    help="after the responses, wait this long for the server to close")
    ex.add_argument("--timeout", type=float, default=30.0, help="bound on every socket call")
    ec = sub.add_parser("echo")
    ec.add_argument("--host", default="127.0.0.1")
    ec.add_argument("--port", type=int, required=True)
    ec.add_argument("--bytes", type=int, required=True)
    ec.add_argument("--length", action="store_true", help="Content-Length instead of chunked")
    ec.add_argument("--seed", type=int, default=1)
    ec.add_argument("--timeout", type=float, default=60.0, help="bound on every socket call")
    vf = sub.add_parser("verify-file")
    vf.add_argument("--file", required=True)
    vf.add_argument("--bytes", type=int, required=True)
    st = sub.add_parser("stream")
    st.add_argument("--host", default="127.0.0.1")
    st.add_argument("--port", type=int, required=True)
    st.add_argument("--tls", action="store_true")
    st.add_argument("--send", required=True, help="raw request bytes, sent in one write")
    st.add_argument("--report", type=int, default=1 << 20, help="say so after this many bytes")
    st.add_argument("--timeout", type=float, default=30.0, help="bound on every socket call")
    args = ap.parse_args()
    start = time.monotonic()
    try:
        if args.command == "exchange":
            exchange(args)
        elif args.command == "stream":
            stream(args)
        elif args.command == "echo":
            echo(args)
        else:
            verify_file(args)
    except OSError as e:
        fail(f"{type(e).__name__}: {e} after {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()
