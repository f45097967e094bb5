#!/usr/bin/env python3
"""Connects, then stays silent and waits for the server to end the connection.

Prints "connected" once the connection is up (after a one-byte round trip with --ping, which
proves the server accepted it), then "ok: eof after S s" or "ok: reset after S s". Exits 1 with a
"FAIL: ..." line on stderr if the server ends it the wrong way, too early, or not in time.
"""
import argparse
import socket
import sys
import time


def fail(message):
    print(f"idle_peer: FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ping", action="store_true", help="exchange one echoed byte first")
    ap.add_argument("--expect", choices=["eof", "reset", "either"], default="eof")
    ap.add_argument("--min-seconds", type=float, default=0.0, help="an earlier end is a failure")
    ap.add_argument("--max-seconds", type=float, required=True,
                    help="hang guard: no end after this long is a failure")
    args = ap.parse_args()

    try:
        sock = socket.create_connection((args.host, args.port), timeout=5)
    except OSError as e:
        fail(f"connect to {args.host}:{args.port}: {e}")
    if args.ping:
        sock.sendall(b"x")
        if sock.recv(1) != b"x":
            fail("the one-byte ping did not come back")
    print("connected", flush=True)

    start = time.monotonic()
    sock.settimeout(args.max_seconds)
    try:
        data = sock.recv(1)
    except socket.timeout:
        fail(f"the server did not end the connection within {args.max_seconds} s")
    except ConnectionResetError:
        outcome = "reset"
    else:
        if data:
            fail(f"the server sent {data!r} to a silent peer")
        outcome = "eof"
    elapsed = time.monotonic() - start

    if args.expect != "either" and outcome != args.expect:
        fail(f"expected {args.expect}, got {outcome} after {elapsed:.3f} s")
    if elapsed < args.min_seconds:
        fail(f"{outcome} after {elapsed:.3f} s, sooner than the {args.min_seconds} s minimum")
    print(f"ok: {outcome} after {elapsed:.3f} s", flush=True)


if __name__ == "__main__":
    main()
