#!/usr/bin/env python3
"""HTTPS clients (Python's ssl and http.client) that report which certificate a server presents,
for the SIGHUP reload tests.

    reload_peer.py subject --port P --ca CA_FILE [--sni NAME] [--path PATH] [--timeout T]
        One new connection: prints "subject: CN" (the server certificate's common name),
        then GETs PATH (default /) and prints "status: N" and "body: TEXT".

    reload_peer.py keepalive --port P --ca CA_FILE --go FILE [--path PATH] [--timeout T]
        Opens one connection and GETs PATH (default /) on it: prints "first: CN STATUS BODY".
        Then waits for FILE to exist (the test creates it after the reload), GETs PATH again on
        the SAME connection (it fails rather than reconnect) and prints "second: CN STATUS
        BODY" (BODY without its surrounding white space).

The chain is verified against CA_FILE (host names are not checked: the tests swap between
certificates for different names). Exits 0 on success; 1 with "reload_peer: FAIL: ..." on
stderr otherwise.
"""
import argparse
import http.client
import os
import socket
import ssl
import sys
import time


def fail(message):
    print(f"reload_peer: FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def context(args):
    ctx = ssl.create_default_context(cafile=args.ca)
    ctx.check_hostname = False
    return ctx


def common_name(sock):
    for rdn in sock.getpeercert().get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    fail("the server certificate has no common name")


def get(conn, path):
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, response.read().decode("utf-8", "replace")


def subject(args):
    try:
        raw = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout)
        # server_hostname None: no SNI, as from a client that connects to an IP address.
        tls = context(args).wrap_socket(raw, server_hostname=args.sni)
        print(f"subject: {common_name(tls)}", flush=True)
        tls.sendall(f"GET {args.path} HTTP/1.1\r\nHost: localhost\r\n"
                    "Connection: close\r\n\r\n".encode())
        response = http.client.HTTPResponse(tls)
        response.begin()
        body = response.read().decode("utf-8", "replace")
    except (OSError, ssl.SSLError, http.client.HTTPException) as e:
        fail(f"GET {args.path}: {e!r}")
    print(f"status: {response.status}", flush=True)
    print(f"body: {body.strip()}", flush=True)
    tls.close()


def keepalive(args):
    conn = http.client.HTTPSConnection("127.0.0.1", args.port, timeout=args.timeout,
                                       context=context(args))
    try:
        conn.connect()
        local = conn.sock.getsockname()
        status, body = get(conn, args.path)
        print(f"first: {common_name(conn.sock)} {status} {body.strip()}", flush=True)
        deadline = time.monotonic() + args.timeout
        while not os.path.exists(args.go):
            if time.monotonic() > deadline:
                fail(f"{args.go} did not appear within {args.timeout} s")
            time.sleep(0.05)
        if conn.sock is None or conn.sock.getsockname() != local:
            fail("the connection was not kept open")
        status, body = get(conn, args.path)
        if conn.sock is None or conn.sock.getsockname() != local:
            fail("the second request went over a new connection")
        print(f"second: {common_name(conn.sock)} {status} {body.strip()}", flush=True)
    except (OSError, ssl.SSLError, http.client.HTTPException) as e:
        fail(f"keep-alive request: {e!r}")
    conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["subject", "keepalive"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--sni")
    parser.add_argument("--path", default="/")
    parser.add_argument("--go")
    parser.add_argument("--timeout", type=float, default=20.0)
    args = parser.parse_args()
    if args.mode == "subject":
        subject(args)
    else:
        if not args.go:
            fail("keepalive needs --go FILE")
        keepalive(args)


if __name__ == "__main__":
    main()
