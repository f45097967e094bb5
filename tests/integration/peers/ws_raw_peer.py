#!/usr/bin/env python3
"""A WebSocket client made of a raw socket, for what library clients refuse to send: the
Autobahn-style protocol cases an echo server must handle, frame by frame.

    ws_raw_peer.py CASE --port P [--ca CA_FILE] [--chop]

Does the opening handshake by hand (GET /ws, checking the 101 and Sec-WebSocket-Accept), sends
the case's frames (with --chop one byte per write, so every frame arrives split), then prints
one line per frame the server sends until it ends the connection:
    text PAYLOAD | binary LENGTH | pong PAYLOAD | close [CODE [REASON]]
and then "eof" (the server closed the TCP connection) or "reset". CASE is one of CASES below.

    ws_raw_peer.py handshake-version-8 / handshake-bad-key --port P
        Print "status N" and, when sent, "version V" (Sec-WebSocket-Version) of the refusal.

    ws_raw_peer.py never-read --port P --server-pid PID [--bytes N]
        Sends N bytes of 1 KiB binary messages without reading anything until the sends stop
        making progress, prints "stalled after S bytes" and the server's VmRSS before and then
        ("rss-before KiB", "rss-stalled KiB"), then reads every echo (checking each) while
        sending the rest, and prints "ok: all N bytes echoed".

The server is verified against CA_FILE for localhost. Exits 0, or 1 with "ws_raw_peer: FAIL:
..." on stderr.
"""
import argparse
import base64
import hashlib
import os
import socket
import ssl
import struct
import sys
import threading
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
FIN = 0x80


def fail(message):
    print(f"ws_raw_peer: FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def frame(opcode, payload=b"", fin=True, rsv=0, masked=True):
    """One client frame: masked (unless told otherwise), shortest length form."""
    head = bytes([(FIN if fin else 0) | rsv | opcode])
    mask_bit = 0x80 if masked else 0
    n = len(payload)
    if n < 126:
        head += bytes([mask_bit | n])
    elif n <= 0xFFFF:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    mask = (key * (n // 4 + 1))[:n]
    return head + key + (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(
        n, "big")


def close_frame(code, reason=b""):
    return frame(CLOSE, struct.pack("!H", code) + reason)


KOSME = "κόσμε".encode()
CASES = {
    # Echo of a text and a binary message, then a clean close started by us.
    "echo": [frame(TEXT, b"Hello, WebSocket"), frame(BINARY, bytes(300)),
             close_frame(1000, b"done")],
    # A message in three fragments with a ping and a pong between them (Autobahn 5.x).
    "fragments-with-ping": [frame(TEXT, b"frag", fin=False), frame(PING, b"p"),
                            frame(PONG, b"unsolicited"), frame(CONT, b"m", fin=False),
                            frame(CONT, b"ent"), close_frame(1000)],
    # Valid UTF-8 sent one byte per fragment: characters cut everywhere (Autobahn 6.2).
    "utf8-one-byte-fragments": [frame(TEXT, KOSME[:1], fin=False)]
    + [frame(CONT, KOSME[i:i + 1], fin=False) for i in range(1, len(KOSME) - 1)]
    + [frame(CONT, KOSME[-1:]), close_frame(1000)],
    # A surrogate (U+D800) in a text message (Autobahn 6.x): 1007.
    "invalid-utf8": [frame(TEXT, KOSME + b"\xed\xa0\x80edited")],
    # The invalid byte in the second fragment.
    "invalid-utf8-fragment": [frame(TEXT, b"valid start", fin=False),
                              frame(CONT, b"\xf4\x90\x80\x80", fin=True)],
    "invalid-utf8-close-reason": [close_frame(1000, b"\xc0\x80")],
    "empty-close": [frame(CLOSE)],
    "unmasked": [frame(TEXT, b"not masked", masked=False)],
    "reserved-bits": [frame(TEXT, b"rsv", rsv=0x40)],
    "reserved-opcode": [frame(0x3)],
    "ping-126-bytes": [frame(PING, bytes(126))],
    "fragmented-ping": [frame(PING, b"p", fin=False)],
    "continuation-first": [frame(CONT, b"nothing to continue")],
    "close-1-byte": [frame(CLOSE, b"\x03")],
}
for code in (1000, 1001, 1003, 1007, 1011, 3000, 4999, 999, 1004, 1005, 1006, 1016, 2999, 5000):
    CASES[f"close-{code}"] = [close_frame(code)]


def connect(args):
    raw = socket.create_connection(("127.0.0.1", args.port), timeout=args.timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not args.ca:
        return raw
    context = ssl.create_default_context(cafile=args.ca)
    return context.wrap_socket(raw, server_hostname="localhost")


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            fail(f"the server closed during the handshake: {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), fields, rest


def handshake(sock, version="13", key=None):
    key = key or base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: {version}\r\n\r\n").encode())
    return key, read_head(sock)


def open_websocket(args):
    sock = connect(args)
    key, (status, fields, rest) = handshake(sock)
    accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    if status != 101 or fields.get("sec-websocket-accept") != accept:
        fail(f"handshake answered {status} with {fields}")
    return sock, rest


class Reader:
    """Parses the server's frames; they must be unmasked and carry no reserved bits."""

    def __init__(self, sock, rest=b""):
        self.sock, self.buffer, self.ended = sock, rest, None

    def fill(self, n):
        while len(self.buffer) < n:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                self.ended = "reset"
                return False
            if not chunk:
                self.ended = "eof"
                return False
            self.buffer += chunk
        return True

    def next(self):
        if not self.fill(2):
            return None
        b0, b1 = self.buffer[0], self.buffer[1]
        if b1 & 0x80 or b0 & 0x70:
            fail(f"server frame with mask or reserved bits: {self.buffer[:2].hex()}")
        n, at = b1 & 0x7F, 2
        if n == 126:
            if not self.fill(4):
                return None
            n, at = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif n == 127:
            if not self.fill(10):
                return None
            n, at = struct.unpack("!Q", self.buffer[2:10])[0], 10
        if not self.fill(at + n):
            return None
        payload = self.buffer[at:at + n]
        self.buffer = self.buffer[at + n:]
        return b0 & 0x0F, bool(b0 & FIN), payload


def describe(opcode, payload):
    if opcode == TEXT:
        return "text " + payload.decode()
    if opcode == BINARY:
        return f"binary {len(payload)}"
    if opcode == PONG:
        return "pong " + payload.decode()
    if opcode == CLOSE:
        if not payload:
            return "close"
        code = struct.unpack("!H", payload[:2])[0]
        return f"close {code} {payload[2:].decode()}".rstrip()
    return f"opcode {opcode}"


def run_case(args):
    sock, rest = open_websocket(args)
    data = b"".join(CASES[args.case])
    try:
        if args.chop:
            for i in range(len(data)):
                sock.sendall(data[i:i + 1])
        else:
            sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may fail the connection before the rest arrives
    reader = Reader(sock, rest)
    while (got := reader.next()) is not None:
        opcode, fin, payload = got
        if not fin:
            fail("the server fragmented a message")
        print(describe(opcode, payload), flush=True)
    print(reader.ended, flush=True)


def refused_handshake(args):
    sock = connect(args)
    if args.case == "handshake-version-8":
        _, (status, fields, _) = handshake(sock, version="8")
    else:
        _, (status, fields, _) = handshake(sock, key="c2hvcnQ=")  # 5 bytes, not 16
    print(f"status {status}")
    if "sec-websocket-version" in fields:
        print(f"version {fields['sec-websocket-version']}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    fail("no VmRSS")


def never_read(args):
    sock, rest = open_websocket(args)
    unit = 1024
    count = args.bytes // unit
    messages = [i.to_bytes(4, "big") * (unit // 4) for i in range(count)]
    sent = [0]

    def send_all():
        try:
            for m in messages:
                sock.sendall(frame(BINARY, m))
                sent[0] += 1
        except OSError as e:
            sent.append(e)

    print(f"rss-before {rss_kib(args.server_pid)}", flush=True)
    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    # Stalled: no message went out for a second (a hang guard, not a measurement: the check
    # is on how much went out and on the server's memory, not on any time).
    last, still = -1, 0
    while sender.is_alive() and still < 10:
        time.sleep(0.1)
        still = still + 1 if sent[0] == last else 0
        last = sent[0]
    if not sender.is_alive():
        fail(f"the server read all {count} messages without our reading any echo")
    print(f"stalled after {sent[0] * unit} bytes", flush=True)
    print(f"rss-stalled {rss_kib(args.server_pid)}", flush=True)
    reader = Reader(sock, rest)
    for i in range(count):
        got = reader.next()
        if got is None:
            fail(f"the connection ended ({reader.ended}) after {i} echoes")
        if got != (BINARY, True, messages[i]):
            fail(f"echo {i} differs")
    sender.join()
    if len(sent) > 1:
        fail(f"sending failed: {sent[1]}")
    print(f"ok: all {count * unit} bytes echoed", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=sorted(CASES) + ["handshake-version-8",
                                                         "handshake-bad-key", "never-read"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca")
    parser.add_argument("--chop", action="store_true")
    parser.add_argument("--server-pid", type=int)
    parser.add_argument("--bytes", type=int, default=64 << 20)
    parser.add_argument("--timeout", type=float, default=40)
    args = parser.parse_args()
    if args.case.startswith("handshake-"):
        refused_handshake(args)
    elif args.case == "never-read":
        never_read(args)
    else:
        run_case(args)


main()
