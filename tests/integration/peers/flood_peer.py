#!/usr/bin/env python3
"""Sends to an echo server as fast as it can and never reads a byte.

With --first and --unit it floods a request/response server instead: --first is sent once (say,
a request for an endless response), then --unit (say, one small request) again and again.

With a tiny receive buffer the echo cannot go anywhere, so a server with backpressure must stop
reading from us: our sends stall. Prints "stuck after N bytes" once no byte could be sent for
--stall-seconds, then holds the connection open (without reading) until killed or until
--hold-seconds pass. Exits 1 if every byte went through: the server buffered without bound.
"""
import argparse
import os
import select
import socket
import sys
import time


def fail(message):
    print(f"flood_peer: FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bytes", type=int, default=64 * 1024 * 1024)
    ap.add_argument("--stall-seconds", type=float, default=1.0)
    ap.add_argument("--hold-seconds", type=float, default=60.0)
    ap.add_argument("--first", default="", help="sent once, before the flood")
    ap.add_argument("--unit", default="", help="what the flood repeats (default: a byte ramp)")
    args = ap.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Set before connect so the advertised window starts small.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        sock.connect((args.host, args.port))
    except OSError as e:
        fail(f"connect to {args.host}:{args.port}: {e}")
    sock.setblocking(False)

    unit = os.fsencode(args.unit) or bytes(range(256))
    chunk = unit * max(1, 65536 // len(unit))
    pending = os.fsencode(args.first)  # what is left of the last chunk: units stay whole
    sent = 0
    last_progress = time.monotonic()
    while sent < args.bytes:
        _, writable, _ = select.select([], [sock], [], 0.1)
        if writable:
            try:
                pending = pending or chunk
                n = sock.send(pending[:args.bytes - sent])
                pending = pending[n:]
                sent += n
                last_progress = time.monotonic()
            except BlockingIOError:
                pass
            except OSError as e:
                fail(f"send failed after {sent} bytes: {e}")
        if time.monotonic() - last_progress >= args.stall_seconds:
            print(f"stuck after {sent} bytes", flush=True)
            time.sleep(args.hold_seconds)
            fail(f"nobody ended this peer within {args.hold_seconds} s")
    fail(f"all {sent} bytes went through without the server ever pushing back")


if __name__ == "__main__":
    main()
