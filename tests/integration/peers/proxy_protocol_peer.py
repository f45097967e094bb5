#!/usr/bin/env python3
"""A client behind a (pretend) load balancer: sends a PROXY protocol header, then speaks TLS
with Python's ssl module to a server that answers each connection with the client address it
sees, as one line.

    proxy_protocol_peer.py --port P --ca CA_FILE [--source-ip IP] [--header v1|v2|none]
                           [--claim ADDR:PORT] [--expect line|refused] [--hold]
                           [--request PATH]

--source-ip binds the client socket first (127.0.0.2 is a different loopback source).
--claim is the client address the header announces ("203.0.113.7:51234", "[2001:db8::7]:5000").
With --expect line (the default) the handshake must succeed; prints "peer: <the line>".
With --request PATH the server is an HTTPS proxy instead: after the handshake the client GETs
PATH (Connection: close) and prints "status: N", then the response body as it came.
With --hold it then waits, up to --timeout, until the server ends the connection (prints
"held until: <how it ended>"); the test may also kill it meanwhile.
With --expect refused the server must end the connection during the handshake; prints
"refused: <what the client saw>".
With --plain there is no TLS: the header and "hello\n" go out in one send (or, with
--dribble, one byte per send); prints "peer: <line>" and "echo: <what came back after it>".
With --expect closed nothing is sent after connecting (not even a header) and the server must
end the connection; prints "closed".
Exits 0 when the expectation held, 1 with "proxy_protocol_peer: FAIL: ..." on stderr otherwise.
"""
import argparse
import http.client
import ipaddress
import socket
import ssl
import struct
import sys
import time

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def fail(message):
    print(f"proxy_protocol_peer: FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def split_claim(claim):
    host, _, port = claim.rpartition(":")
    return ipaddress.ip_address(host.strip("[]")), int(port)


def header(kind, claim, destination):
    source_ip, source_port = split_claim(claim)
    dest_ip, dest_port = destination
    dest_ip = ipaddress.ip_address(dest_ip)
    if source_ip.version != dest_ip.version:  # an IPv6 claim towards our IPv4 listener
        dest_ip = ipaddress.ip_address("::1") if source_ip.version == 6 else dest_ip
    if kind == "v1":
        family = "TCP4" if source_ip.version == 4 else "TCP6"
        return f"PROXY {family} {source_ip} {dest_ip} {source_port} {dest_port}\r\n".encode()
    family = 0x11 if source_ip.version == 4 else 0x21
    block = source_ip.packed + dest_ip.packed + struct.pack("!HH", source_port, dest_port)
    # One NOOP TLV, so that the server must skip TLVs to find the TLS bytes.
    block += b"\x04\x00\x02xy"
    return V2_SIGNATURE + bytes([0x21, family]) + struct.pack("!H", len(block)) + block


def plain(raw, data, dribble):
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if dribble:
        for i in range(len(data)):
            raw.sendall(data[i : i + 1])
            time.sleep(0.002)  # pacing only, so the bytes travel in separate segments
    else:
        raw.sendall(data)
    received = b""
    while received.count(b"\n") < 2:
        chunk = raw.recv(256)
        if not chunk:
            fail(f"the server closed after {received!r}")
        received += chunk
    line, echo = received.decode().split("\n")[:2]
    print(f"peer: {line}", flush=True)
    print(f"echo: {echo}", flush=True)
    raw.close()


def request(tls, path):
    tls.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    response = http.client.HTTPResponse(tls)
    response.begin()
    body = response.read().decode("utf-8", "replace")
    print(f"status: {response.status}", flush=True)
    print(body, end="" if body.endswith("\n") else "\n", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--source-ip", default="127.0.0.1")
    parser.add_argument("--header", choices=["v1", "v2", "none"], default="v2")
    parser.add_argument("--claim", default="203.0.113.7:51234")
    parser.add_argument("--expect", choices=["line", "refused", "closed"], default="line")
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--dribble", action="store_true")
    parser.add_argument("--hold", action="store_true")
    parser.add_argument("--request")
    parser.add_argument("--timeout", type=float, default=20)
    args = parser.parse_args()

    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.settimeout(args.timeout)
    raw.bind((args.source_ip, 0))
    try:
        raw.connect(("127.0.0.1", args.port))
    except OSError as e:
        fail(f"connect from {args.source_ip}: {e}")
    if args.expect == "closed":
        try:
            ended = raw.recv(1)
        except ConnectionResetError:
            ended = b""
        if ended:
            fail(f"the server sent {ended!r} instead of closing")
        print("closed", flush=True)
        return
    preamble = b"" if args.header == "none" else header(args.header, args.claim, raw.getpeername())
    if args.plain:
        plain(raw, preamble + b"hello\n", args.dribble)
        return
    raw.sendall(preamble)
    context = ssl.create_default_context(cafile=args.ca)
    try:
        tls = context.wrap_socket(raw, server_hostname="localhost")
        if args.request is not None and args.expect == "line":
            request(tls, args.request)
            tls.close()
            return
        line = b""
        while not line.endswith(b"\n"):
            chunk = tls.recv(256)
            if not chunk:
                break
            line += chunk
    except (OSError, ssl.SSLError, http.client.HTTPException) as e:
        if args.expect == "refused":
            print(f"refused: {e}", flush=True)
            return
        fail(f"handshake or read: {e}")
    if args.expect == "refused":
        fail(f"the server answered {line!r} instead of refusing")
    if not line.endswith(b"\n"):
        fail(f"the server closed after {line!r}")
    print(f"peer: {line.decode().strip()}", flush=True)
    if args.hold:
        try:
            ended = "eof" if tls.recv(256) == b"" else "data"
        except (OSError, ssl.SSLError) as e:
            ended = str(e)
        print(f"held until: {ended}", flush=True)
    tls.close()


if __name__ == "__main__":
    main()
