#!/usr/bin/env python3
"""A TLS client from Python's ssl module (OpenSSL underneath, but not our code) for an echo server.

    tls_peer.py bulk --port P --ca CA_FILE --bytes N [--seed S] [--timeout T]
        Sends N seeded pseudo-random bytes while reading the echo at the same time (one
        non-blocking socket, no thread waits for the other), checks the echo byte for byte,
        then unwrap()s: sends close_notify and waits for the server's. Prints
        "ok: N bytes echoed byte-exact over TLSv1.x, close_notify answered ...".

    tls_peer.py truncate --port P --ca CA_FILE [--timeout T]
        Completes the handshake, sends one line, then shuts down the write side of the raw TCP
        socket with no close_notify (a truncation attack, or a peer that crashed). Reads what
        comes back until the server ends the connection and prints "echo: <what came back>" and
        "end: <how it ended>", where the end is "close_notify", "eof without close_notify",
        "reset" or "alert <OpenSSL's reason>" (say, "alert TLSV1_ALERT_DECODE_ERROR").

    tls_peer.py request-fin --port P --ca CA_FILE --path PATH [--touch FILE] [--timeout T]
        For an HTTP server: sends one complete "GET PATH" request, then shuts down the write
        side of the raw TCP socket with no close_notify (a client that half-closes after its
        request), then creates FILE if given (so an upstream holding the request releases it
        only after our FIN left). Reads until the server ends the connection and prints
        "status: <status line>", "body: <byte count> <sha256 hex>" and "end: <how it ended>".

    tls_peer.py get-close --port P --ca CA_FILE --bytes N [--connections C] [--timeout T]
        For tlsreactor-hello --tls: C times in turn, a new connection sends one
        "GET /bytes/N" with "Connection: close" and reads until the server ends the stream.
        Checks the response (status 200, Content-Length N, the body the pattern i % 251 byte
        for byte), that the server ended it with close_notify, and, after our own close_notify
        (unwrap), that the TCP connection ends with a FIN, not a reset. Prints "ok: C responses
        of N bytes intact, each ended by close_notify and FIN".

The server is verified against CA_FILE with host name checking for --server-name (default
localhost). Exits 0 on success; 1 with "tls_peer: FAIL: ..." on stderr otherwise.
"""
import argparse
import hashlib
import random
import selectors
import socket
import ssl
import sys
import time


def fail(message):
    print(f"tls_peer: FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def connect(args):
    context = ssl.create_default_context(cafile=args.ca)
    if args.tls_version:
        version = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[args.tls_version]
        context.minimum_version = context.maximum_version = version
    try:
        raw = socket.create_connection((args.host, args.port), timeout=args.timeout)
        return context.wrap_socket(raw, server_hostname=args.server_name)
    except (OSError, ssl.SSLError) as e:
        fail(f"connect and handshake with {args.host}:{args.port}: {e}")


def bulk(args):
    start = time.monotonic()
    deadline = start + args.timeout
    data = random.Random(args.seed).randbytes(args.bytes)
    tls = connect(args)
    tls.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(tls, selectors.EVENT_READ | selectors.EVENT_WRITE)
    chunk = 16 * 1024  # a retried SSL_write must repeat the same bytes: fixed-size slices
    sent = received = 0
    received_hash = hashlib.sha256()
    while received < len(data):
        if time.monotonic() > deadline:
            fail(f"timed out after {args.timeout} s: "
                 f"sent {sent}, received {received} of {len(data)} bytes")
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if sent < len(data) else 0)
        selector.modify(tls, events)
        selector.select(timeout=0.05)
        if sent < len(data):
            try:
                sent += tls.send(data[sent:sent + chunk])
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                pass
            except OSError as e:
                fail(f"send failed after {sent} bytes: {e}")
        # Decrypted records may wait inside the SSL object where select() cannot see them.
        while received < len(data):
            try:
                got = tls.recv(256 * 1024)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            except OSError as e:
                fail(f"recv failed after {received} bytes: {e}")
            if not got:
                fail(f"the server closed after {received} of {len(data)} echoed bytes")
            if got != data[received:received + len(got)]:
                fail(f"the echo differs from what was sent "
                     f"within bytes {received}..{received + len(got)}")
            received += len(got)
            received_hash.update(got)
    if received_hash.digest() != hashlib.sha256(data).digest():
        fail("SHA-256 of the echo differs from what was sent")
    selector.close()
    version = tls.version()
    # unwrap(): our close_notify, then a blocking wait (bounded) for the server's.
    tls.settimeout(max(1.0, deadline - time.monotonic()))
    try:
        tls.unwrap().close()
    except (OSError, ssl.SSLError) as e:
        fail(f"unwrap (close_notify exchange) failed: {e!r}")
    print(f"ok: {len(data)} bytes echoed byte-exact over {version}, close_notify answered "
          f"in {time.monotonic() - start:.2f} s", flush=True)


def read_to_end(tls, deadline, timeout_message):
    """Reads until the server ends the stream; returns (bytes, how it ended): "close_notify",
    "eof without close_notify", "reset", "alert <OpenSSL's reason>" or "error ...". Fails
    with timeout_message(bytes so far) at the deadline."""
    received = bytearray()
    while True:
        tls.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            got = tls.recv(65536)
            if not got:
                return bytes(received), "close_notify"
            received += got
        except ssl.SSLEOFError:
            return bytes(received), "eof without close_notify"
        except ConnectionResetError:
            return bytes(received), "reset"
        except socket.timeout:
            fail(timeout_message(bytes(received)))
        except ssl.SSLError as e:
            return bytes(received), (f"alert {e.reason}" if "ALERT" in (e.reason or "")
                              else f"error {e!r}")
        except OSError as e:
            return bytes(received), f"error {e!r}"


def truncate(args):
    tls = connect(args)
    line = b"truncated after this line\n"
    try:
        tls.sendall(line)
    except OSError as e:
        fail(f"send: {e}")
    # The write side of the TCP socket itself: a FIN with no close_notify before it.
    socket.socket.shutdown(tls, socket.SHUT_WR)
    echoed, end = read_to_end(
        tls, time.monotonic() + args.timeout,
        lambda received: f"the server kept the connection open for {args.timeout} s after our "
                         f"FIN (echo so far: {received!r})")
    tls.close()
    print(f"echo: {echoed.decode(errors='replace').rstrip()}", flush=True)
    print(f"end: {end}", flush=True)


def request_fin(args):
    tls = connect(args)
    try:
        tls.sendall(f"GET {args.path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    except OSError as e:
        fail(f"send: {e}")
    socket.socket.shutdown(tls, socket.SHUT_WR)
    if args.touch:
        open(args.touch, "w").close()
    received, end = read_to_end(
        tls, time.monotonic() + args.timeout,
        lambda received: f"no end within {args.timeout} s after our FIN ({len(received)} bytes)")
    tls.close()
    head, _, body = received.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n")[0].decode(errors="replace")
    print(f"status: {status_line}", flush=True)
    print(f"body: {len(body)} {hashlib.sha256(body).hexdigest()}", flush=True)
    print(f"end: {end}", flush=True)


def get_close_once(args, index):
    tls = connect(args)
    request = (f"GET /bytes/{args.bytes} HTTP/1.1\r\nHost: localhost\r\n"
               "Connection: close\r\n\r\n").encode()
    try:
        tls.sendall(request)
    except OSError as e:
        fail(f"connection {index}: send: {e}")
    deadline = time.monotonic() + args.timeout
    received, end = read_to_end(
        tls, deadline,
        lambda received: f"connection {index}: no end after {args.timeout} s "
                         f"({len(received)} bytes)")
    if end != "close_notify":
        fail(f"connection {index}: the response ended with {end} after {len(received)} bytes")
    head, sep, body = received.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/1.1 200 "):
        fail(f"connection {index}: not a 200 response: {received[:200]!r}")
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if headers.get(b"content-length") != str(args.bytes).encode():
        fail(f"connection {index}: Content-Length {headers.get(b'content-length')!r}")
    if headers.get(b"connection") != b"close":
        fail(f"connection {index}: Connection {headers.get(b'connection')!r}")
    expected = (bytes(range(251)) * (args.bytes // 251 + 1))[: args.bytes]
    if body != expected:
        fail(f"connection {index}: body of {len(body)} bytes differs from the pattern")
    # Our close_notify; then what the TCP connection does: a FIN reads as b"".
    try:
        raw = tls.unwrap()
        raw.settimeout(max(0.1, deadline - time.monotonic()))
        tail = raw.recv(1)
    except ConnectionResetError:
        fail(f"connection {index}: the TCP connection was reset after close_notify")
    except (OSError, ssl.SSLError) as e:
        fail(f"connection {index}: after close_notify: {e!r}")
    if tail:
        fail(f"connection {index}: bytes after close_notify: {tail!r}")
    raw.close()


def get_close(args):
    for index in range(args.connections):
        get_close_once(args, index)
    print(f"ok: {args.connections} responses of {args.bytes} bytes intact, each ended by "
          "close_notify and FIN", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["bulk", "truncate", "get-close", "request-fin"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True, help="CA file that must verify the server")
    ap.add_argument("--server-name", default="localhost")
    ap.add_argument("--tls-version", choices=["1.2", "1.3"], help="only this version")
    ap.add_argument("--bytes", type=int, default=1 << 20)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--connections", type=int, default=1, help="get-close: connections in turn")
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--path", default="/", help="request-fin: the request's target")
    ap.add_argument("--touch", help="request-fin: a file to create after our FIN")
    args = ap.parse_args()
    {"bulk": bulk, "truncate": truncate, "get-close": get_close,
     "request-fin": request_fin}[args.mode](args)


if __name__ == "__main__":
    main()
