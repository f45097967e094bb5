#!/usr/bin/env python3
"""Opens idle TLS connections to an HTTPS server and holds them (a benchmark helper, not a test).

Each connection completes a TLS handshake, sends one keep-alive `GET /`, reads the whole
response, then stays open and silent. Connections are opened one after another in stages; after
each stage the script prints "held N" and waits for a line on stdin before the next, so a caller
can read the server's memory at each count. After the last stage it waits for stdin to close.

usage: idle_hold.py PORT N1 [N2 ...]    (cumulative counts, e.g. 1000 5000)
"""
import socket
import ssl
import sys


def one(context, port):
    raw = socket.create_connection(("127.0.0.1", port))
    conn = context.wrap_socket(raw, server_hostname="localhost")
    conn.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise RuntimeError("closed before the response head")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            raise RuntimeError("closed inside the response body")
        body += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("unexpected response: %r" % head[:40])
    return conn


def main():
    port = int(sys.argv[1])
    stages = [int(n) for n in sys.argv[2:]]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    held = []
    for target in stages:
        while len(held) < target:
            held.append(one(context, port))
        print("held %d" % len(held), flush=True)
        if sys.stdin.readline() == "":
            break
    sys.stdin.read()
    for conn in held:
        conn.close()


if __name__ == "__main__":
    main()
