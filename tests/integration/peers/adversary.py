#!/usr/bin/env python3
"""Hostile TLS clients for tlsreactor's servers, over loopback, each bounded in count and time.

Every subcommand ends with one line "adversary: ok ..." (exit 0) or "adversary: FAIL ..."
(exit 1), after a normal client checked that the server still serves (GET / over TLS answers
"hello from tlsreactor"):

  garbage     N connections that send random bytes instead of a ClientHello: each must be
              closed by the server (alert, FIN or RST); --within is only a hang guard
  dribble     a real ClientHello sent one byte at a time, then the handshake and a GET
  slowloris   N connections that send 3 bytes of a record header and nothing more, while a
              normal client is served; all must be closed by the server (--within is only a
              hang guard). With --witness, a TLS connection opened after them that asks for
              nothing must still be open when the last of them is closed: run the server with
              an idle timeout longer than its handshake timeout but shorter than the default
              handshake timeout, and this shows which timeout closed them, by order of events
  resets      N connections that start downloading a large body and reset (RST) mid-transfer
  never-read  one connection asks for a huge body and never reads, for --hold seconds
  many        N concurrent TLS connections: all handshake, then each sends a request and
              reads the answer, then all close (the requests wait for all to be open, or for
              the first to fail; --within is only a hang guard)
  hold        N idle TCP connections held open for --hold seconds (they may be shed: prints
              "adversary: shed K", those the server closed meanwhile), then one normal client
              that must be served once they are gone
  normal      just the normal client
  records     against an echo server: application records of exactly 16 KiB of plaintext
              echo back byte-exact; a record header announcing 16 KiB + 1 of plaintext, and
              one announcing 64 KiB, each get a record_overflow alert and a close

With --echo the normal client is an echo exchange instead of a GET (tlsreactor-echo --tls).
"""
import argparse
import asyncio
import os
import random
import resource
import socket
import ssl
import struct
import sys
import time

HELLO = b"hello from tlsreactor\n"
ARGS = None  # the parsed command line


def finish(ok, message):
    print(f"adversary: {'ok' if ok else 'FAIL'} {message}", flush=True)
    sys.exit(0 if ok else 1)


def context(args):
    ctx = ssl.create_default_context(cafile=args.ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def get(args, path="/", timeout=15.0):
    """One normal HTTPS request; returns the body or raises."""
    with socket.create_connection((args.host, args.port), timeout=timeout) as raw:
        with context(args).wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected response {head[:80]!r}")
    return body


def echo_exchange(args, payload, timeout=15.0):
    """Sends `payload` over TLS to an echo server in one write; returns what came back."""
    with socket.create_connection((args.host, args.port), timeout=timeout) as raw:
        with context(args).wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(payload)
            data = b""
            while len(data) < len(payload):
                chunk = tls.recv(65536)
                if not chunk:
                    break
                data += chunk
    return data


def still_serves(args):
    try:
        if args.echo:
            back = echo_exchange(args, b"still there?")
            return None if back == b"still there?" else f"a normal echo client got {back!r}"
        body = get(args)
    except Exception as e:  # noqa: BLE001 - any failure is the finding
        return f"a normal client was not served afterwards: {e!r}"
    return None if body == HELLO else f"a normal client got {body!r}"


RECORD_OVERFLOW = 22  # the alert description


def alert_then_close(header, body_size, within):
    """Sends a plaintext handshake record header announcing more than a record may carry, and
    `body_size` bytes of it; returns the alert description the server sent (None if none)
    and whether it then closed."""
    with socket.create_connection(("127.0.0.1", ARGS.port), timeout=10) as s:
        try:
            s.sendall(header + bytes(body_size))
        except (ConnectionResetError, BrokenPipeError):
            pass
        data = b""
        deadline = time.monotonic() + within
        closed = False
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                closed = True
                break
            except socket.timeout:
                break
            if not chunk:
                closed = True
                break
            data += chunk
    alert = data[6] if len(data) >= 7 and data[0] == 0x15 else None
    return alert, closed


def cmd_normal(args):
    problem = still_serves(args)
    finish(problem is None, problem or "a normal client was served")


def cmd_records(args):
    problems = []
    # At the limit: Python's ssl writes at most 16 KiB of plaintext per record, so each
    # 16384-byte slice of the payload is one full record, and the echo must be exact.
    payload = bytes(random.Random(args.seed).getrandbits(8) for _ in range(16384 * 4))
    back = echo_exchange(args, payload)
    if back != payload:
        problems.append(f"4 full-size records: {len(back)} bytes back, "
                        f"{'equal' if back == payload else 'different'}")
    # Over it: 2^14 + 1 bytes in a plaintext record, then a length field of 0xffff.
    for length, sent in ((16385, 16385), (0xFFFF, 100)):
        header = bytes([0x16, 0x03, 0x01, length >> 8, length & 0xFF])
        alert, closed = alert_then_close(header, sent, args.within)
        if alert != RECORD_OVERFLOW or not closed:
            problems.append(f"a record announcing {length} bytes: alert {alert}, "
                            f"{'closed' if closed else 'left open'}")
    problem = still_serves(args)
    if problem:
        problems.append(problem)
    finish(not problems, "; ".join(problems) if problems else
           "full-size records echoed exactly, oversized ones refused with record_overflow; still serving")


def closed_by_server(sock, deadline):
    """Reads until the server closes (EOF or reset); False if the deadline passes first."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def closed_now(sock):
    """Whether the server has already closed `sock` (EOF or reset), without waiting."""
    sock.setblocking(False)
    try:
        return not sock.recv(65536)
    except BlockingIOError:
        return False
    except OSError:
        return True


def cmd_garbage(args):
    rng = random.Random(args.seed)
    socks = []
    for i in range(args.count):
        s = socket.create_connection((args.host, args.port), timeout=10)
        size = rng.randint(1, 4096)
        payload = bytes(rng.getrandbits(8) for _ in range(size))
        if i % 2 == 0:  # half of them look like a handshake record at first glance
            payload = b"\x16\x03\x01" + payload
        try:
            s.sendall(payload)
        except (ConnectionResetError, BrokenPipeError):
            pass
        socks.append(s)
    # Records that claim more bytes than were sent wait for the handshake timeout.
    deadline = time.monotonic() + args.within
    open_after = sum(0 if closed_by_server(s, deadline) else 1 for s in socks)
    for s in socks:
        s.close()
    problem = still_serves(args)
    finish(open_after == 0 and problem is None,
           f"{args.count} garbage connections, {open_after} left open; {problem or 'still serving'}")


def cmd_dribble(args):
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context(args).wrap_bio(incoming, outgoing, server_hostname="localhost")
    with socket.create_connection((args.host, args.port), timeout=20) as s:
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = outgoing.read()
        for i in range(len(hello)):
            s.sendall(hello[i:i + 1])
            time.sleep(args.gap)
        while True:  # the rest of the handshake at normal speed
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if data := outgoing.read():
                    s.sendall(data)
                chunk = s.recv(65536)
                if not chunk:
                    finish(False, "server closed during the dribbled handshake")
                incoming.write(chunk)
        if data := outgoing.read():
            s.sendall(data)
        tls.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        s.sendall(outgoing.read())
        response = b""
        while True:
            try:
                data = tls.read(65536)
                if not data:  # close_notify
                    break
                response += data
                continue
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                break
            chunk = s.recv(65536)
            if not chunk:
                break
            incoming.write(chunk)
    ok = response.endswith(HELLO)
    finish(ok, f"ClientHello of {len(hello)} bytes dribbled, response {'ok' if ok else repr(response[:80])}")


def idle_witness(args):
    """A TLS connection, handshake done, that asks for nothing: only the idle timeout ends it."""
    raw = socket.create_connection((args.host, args.port), timeout=10)
    return context(args).wrap_socket(raw, server_hostname="localhost")


def still_open(tls):
    """Whether the server has not ended `tls` yet; reads what it sent (session tickets)
    without waiting."""
    tls.setblocking(False)
    try:
        while True:
            if not tls.recv(65536):
                return False
    except (ssl.SSLWantReadError, BlockingIOError):
        return True
    except (ssl.SSLError, OSError):
        return False


def cmd_slowloris(args):
    socks = []
    for _ in range(args.count):
        s = socket.create_connection((args.host, args.port), timeout=10)
        s.sendall(b"\x16\x03\x01")
        socks.append(s)
    witness = idle_witness(args) if args.witness else None  # its idle time starts after them
    served = still_serves(args)  # while they all hang
    deadline = time.monotonic() + args.within
    open_after = sum(0 if closed_by_server(s, deadline) else 1 for s in socks)
    witness_ok = witness is None or still_open(witness)
    for s in socks:
        s.close()
    if witness is not None:
        witness.close()
    finish(served is None and open_after == 0 and witness_ok,
           f"{args.count} slow handshakes, {open_after} still open; "
           f"{served or 'a normal client was served meanwhile'}"
           + ("" if witness is None else
              "; the idle witness was " + ("still open after them" if witness_ok else
                                           "closed first: they outlived the idle timeout")))


def cmd_resets(args):
    ctx = context(args)
    for _ in range(args.count):
        raw = socket.create_connection((args.host, args.port), timeout=10)
        tls = ctx.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(f"GET /bytes/{args.bytes} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        tls.recv(16384)
        tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        tls.close()  # RST, mid-body
    problem = still_serves(args)
    finish(problem is None, f"{args.count} resets mid-transfer; {problem or 'still serving'}")


def cmd_never_read(args):
    raw = socket.create_connection((args.host, args.port), timeout=10)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    tls = context(args).wrap_socket(raw, server_hostname="localhost")
    tls.sendall(b"GET /bytes/1099511627776 HTTP/1.1\r\nHost: localhost\r\n\r\n")
    print("adversary: holding", flush=True)  # the test samples the server while we hold
    time.sleep(args.hold)
    problem = still_serves(args)
    tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    tls.close()
    finish(problem is None, f"held a never-reading connection {args.hold}s; {problem or 'still serving'}")


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))


async def one_exchange(args, ctx, opened, all_open, go, handshaking):
    # At most --in-flight handshakes at a time: the connections pile up concurrently, but
    # the server is not asked to finish thousands of handshakes within its handshake timeout.
    async with handshaking:
        reader, writer = await asyncio.open_connection(args.host, args.port, ssl=ctx,
                                                       server_hostname="localhost")
    opened.append(1)
    if len(opened) == args.count:
        all_open.set()
    await go.wait()
    writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    await writer.drain()
    data = await reader.read()
    writer.close()
    try:
        await writer.wait_closed()
    except (ssl.SSLError, ConnectionError):
        pass
    return data.endswith(HELLO)


async def many(args):
    """Events decide, not a clock: the requests go once every connection has handshaked (all
    open at once), or as soon as one exchange ended before that (it failed: the verdict says
    how many were open). Whoever runs this bounds it (the test's process watchdog; --within
    is only a last hang guard here)."""
    ctx = context(args)
    opened, all_open, go = [], asyncio.Event(), asyncio.Event()
    handshaking = asyncio.Semaphore(args.in_flight)
    tasks = [asyncio.create_task(one_exchange(args, ctx, opened, all_open, go, handshaking))
             for _ in range(args.count)]
    waiter = asyncio.create_task(all_open.wait())
    await asyncio.wait([waiter, *tasks], timeout=args.within,
                       return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    concurrent = len(opened)
    go.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    good = sum(1 for r in results if r is True)
    failures = {}
    for r in results:
        if r is not True:
            key = repr(r)[:120]
            failures[key] = failures.get(key, 0) + 1
    for key, n in sorted(failures.items(), key=lambda kv: -kv[1])[:5]:
        print(f"adversary: {n} x {key}", flush=True)
    return concurrent, good


def cmd_many(args):
    raise_fd_limit(args.count + 64)
    concurrent, good = asyncio.run(many(args))
    problem = still_serves(args)
    finish(concurrent == args.count and good == args.count and problem is None,
           f"{concurrent} of {args.count} handshaked at once, {good} answered; "
           f"{problem or 'still serving'}")


def cmd_hold(args):
    raise_fd_limit(args.count + 64)
    socks = []
    for _ in range(args.count):
        try:
            s = socket.create_connection((args.host, args.port), timeout=2)
            socks.append(s)
        except OSError:
            pass
    print(f"adversary: holding {len(socks)}", flush=True)
    time.sleep(args.hold)
    shed = sum(1 for s in socks if closed_now(s))
    print(f"adversary: shed {shed}", flush=True)  # closed by the server while we held them
    for s in socks:
        s.close()
    # The server frees their descriptors as it notices the closes: served again once it has
    # (a bounded number of tries, not a fixed pause that might be too short).
    for _ in range(100):
        problem = still_serves(args)
        if problem is None:
            break
        time.sleep(0.1)
    finish(problem is None, f"held {len(socks)} connections for {args.hold}s; "
           f"{problem or 'served once they were gone'}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["garbage", "dribble", "slowloris", "resets", "never-read", "many", "hold",
                                        "records", "normal"])
    p.add_argument("--echo", action="store_true", help="the server is an echo server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", required=True, help="the CA that signed the server's certificate")
    p.add_argument("--count", type=int, default=50)
    p.add_argument("--within", type=float, default=60.0,
                   help="hang guard: seconds to wait for the server's reaction before failing")
    p.add_argument("--witness", action="store_true", help="slowloris: hold an idle TLS witness")
    p.add_argument("--hold", type=float, default=3.0)
    p.add_argument("--gap", type=float, default=0.002, help="seconds between dribbled bytes")
    p.add_argument("--bytes", type=int, default=64 << 20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--in-flight", type=int, default=100, help="many: handshakes at once")
    args = p.parse_args()
    global ARGS
    ARGS = args
    globals()["cmd_" + args.command.replace("-", "_")](args)


if __name__ == "__main__":
    main()
