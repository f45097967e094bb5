#!/usr/bin/env python3
"""Sends POST PATH with "Expect: 100-continue" and waits for the interim 100 before sending
the body, as a careful client does; then reads the final response with http.client.

Prints "expected: LENGTH SHA256" of the body it sends, "interim: STATUS LINE" (or "interim: none" when the final response came first),
"response: STATUS", "body: REPR". Exits 0 whenever it could talk to the server; the test
judges the output.
"""
import argparse
import hashlib
import socket
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/digest")
    ap.add_argument("--size", type=int, default=100000)
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()
    body = bytes(i % 251 for i in range(args.size))
    print(f"expected: {len(body)} {hashlib.sha256(body).hexdigest()}", flush=True)
    sock = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout)
    sock.sendall(
        (f"POST {args.path} HTTP/1.1\r\nHost: test\r\nContent-Length: {len(body)}\r\n"
         "Expect: 100-continue\r\n\r\n").encode())
    reader = sock.makefile("rb")
    line = reader.readline().decode("latin-1").rstrip("\r\n")
    if line.startswith("HTTP/1.1 100"):
        while reader.readline() not in (b"\r\n", b""):
            pass
        print(f"interim: {line}", flush=True)
        sock.sendall(body)
        status_line = reader.readline().decode("latin-1").rstrip("\r\n")
    else:
        print("interim: none", flush=True)
        status_line = line
    print(f"response: {status_line}", flush=True)
    length = 0
    while (header := reader.readline()) not in (b"\r\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    print(f"body: {reader.read(length)!r}", flush=True)
    sock.close()


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        print(f"expect_peer: FAIL: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
