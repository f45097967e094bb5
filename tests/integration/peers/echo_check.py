#!/usr/bin/env python3
"""Checks an echo server byte for byte.

Each client connection sends seeded pseudo-random bytes while reading the echo at the same
time (a server that echoes must not need us to stop sending before it can answer), then
half-closes with shutdown(SHUT_WR), reads until EOF, and compares the SHA-256 of what it sent
with what came back. Many clients run at once from one selector loop.

Exit status 0 and one "ok: ..." line on success; 1 and a "FAIL: ..." line on stderr otherwise.
"""
import argparse
import hashlib
import random
import selectors
import socket
import sys
import time


def fail(message):
    print(f"echo_check: FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


class Client:
    def __init__(self, index, sock, data):
        self.index = index
        self.sock = sock
        self.data = data
        self.sent = 0
        self.received = 0
        self.received_hash = hashlib.sha256()
        self.events = 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--bytes", type=int, required=True, help="bytes sent by each client")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=256 * 1024, help="largest single send")
    ap.add_argument("--duration", type=float, default=0.0,
                    help="spread each client's sending evenly over this many seconds")
    ap.add_argument("--announce-first-echo", action="store_true",
                    help='print "first-echo" as soon as any echoed byte arrives')
    ap.add_argument("--timeout", type=float, default=45.0, help="give up after this many seconds")
    args = ap.parse_args()

    start = time.monotonic()
    deadline = start + args.timeout
    selector = selectors.DefaultSelector()
    clients = []
    for index in range(args.clients):
        # Distinct data per client, so a server that crosses streams cannot pass.
        data = random.Random(args.seed * 1_000_003 + index).randbytes(args.bytes)
        try:
            sock = socket.create_connection((args.host, args.port), timeout=5)
        except OSError as e:
            fail(f"client {index}: connect to {args.host}:{args.port}: {e}")
        sock.setblocking(False)
        clients.append(Client(index, sock, data))

    announced = False
    open_clients = set(clients)
    while open_clients:
        now = time.monotonic()
        if now > deadline:
            c = min(open_clients, key=lambda c: c.index)
            fail(f"timed out after {args.timeout} s with {len(open_clients)} client(s) unfinished; "
                 f"client {c.index} sent {c.sent} and received {c.received} of {args.bytes} bytes")
        # Paced clients may send only their share of the bytes so far.
        share = 1.0 if args.duration <= 0 else min(1.0, (now - start) / args.duration)
        allowed = int(args.bytes * share)
        for c in open_clients:
            wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.sent < allowed else 0)
            if wanted != c.events:
                if c.events:
                    selector.modify(c.sock, wanted, c)
                else:
                    selector.register(c.sock, wanted, c)
                c.events = wanted

        for key, mask in selector.select(timeout=0.02):
            c = key.data
            if mask & selectors.EVENT_WRITE and c.sent < allowed:
                end = min(c.sent + args.chunk, allowed)
                try:
                    c.sent += c.sock.send(memoryview(c.data)[c.sent:end])
                except BlockingIOError:
                    pass
                except OSError as e:
                    fail(f"client {c.index}: send failed after {c.sent} bytes: {e}")
                if c.sent == args.bytes:
                    c.sock.shutdown(socket.SHUT_WR)
            if mask & selectors.EVENT_READ:
                try:
                    chunk = c.sock.recv(256 * 1024)
                except BlockingIOError:
                    continue
                except OSError as e:
                    fail(f"client {c.index}: recv failed after {c.received} bytes: {e}")
                if not chunk:
                    finish(c, args.bytes)
                    selector.unregister(c.sock)
                    c.sock.close()
                    open_clients.discard(c)
                    continue
                expected = c.data[c.received:c.received + len(chunk)]
                if chunk != expected:
                    offset = c.received + next(i for i in range(len(chunk))
                                               if i >= len(expected) or chunk[i] != expected[i])
                    fail(f"client {c.index}: echoed data differs from sent data at byte {offset}")
                c.received += len(chunk)
                c.received_hash.update(chunk)
                if args.announce_first_echo and not announced:
                    print("first-echo", flush=True)
                    announced = True

    elapsed = time.monotonic() - start
    print(f"ok: {args.clients} client(s) x {args.bytes} bytes echoed byte-exact in {elapsed:.2f} s",
          flush=True)


def finish(c, total):
    if c.sent != total:
        fail(f"client {c.index}: EOF from the server after we sent only {c.sent} of {total} bytes")
    if c.received != total:
        fail(f"client {c.index}: EOF after {c.received} of {total} echoed bytes")
    sent_digest = hashlib.sha256(c.data).hexdigest()
    received_digest = c.received_hash.hexdigest()
    if sent_digest != received_digest:
        fail(f"client {c.index}: SHA-256 sent {sent_digest} != received {received_digest}")


if __name__ == "__main__":
    main()
