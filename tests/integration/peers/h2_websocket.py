#!/usr/bin/env python3
"""A WebSocket client over HTTP/2 (RFC 8441) on Python's h2 (Debian's python3-h2 4.1), for the
proxy tests: over TLS (ALPN h2, certificate not checked) it checks the server's SETTINGS allow
extended CONNECT, opens a stream with :method CONNECT, :protocol websocket, then sends
--count masked text messages (RFC 6455 frames in DATA frames) and checks each echo, then a
close frame, and waits for the server's close and the end of the stream.

    h2_websocket.py --port P --path /ws [--count N] [--bytes B]

Prints "status 200", then "ok: N echoes", then "closed CODE"; exits 0, or 1 with
"h2_websocket: FAIL: ..." on stderr.
"""
import argparse
import os
import select
import socket
import ssl
import struct
import sys
import time

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings


def fail(why):
    sys.stderr.write(f"h2_websocket: FAIL: {why}\n")
    sys.exit(1)


def frame(opcode, payload):
    """A client frame: FIN, masked (RFC 6455 5.3)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def parse(buffer):
    """One server frame from the front of buffer: (opcode, payload, rest) or None."""
    if len(buffer) < 2:
        return None
    opcode, n = buffer[0] & 0x0F, buffer[1] & 0x7F
    at = 2
    if n == 126:
        if len(buffer) < 4:
            return None
        n, at = struct.unpack("!H", buffer[2:4])[0], 4
    elif n == 127:
        if len(buffer) < 10:
            return None
        n, at = struct.unpack("!Q", buffer[2:10])[0], 10
    if buffer[1] & 0x80:
        fail("the server masked a frame")
    if len(buffer) < at + n:
        return None
    return opcode, bytes(buffer[at:at + n]), buffer[at + n:]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/ws")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--bytes", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    sock = context.wrap_socket(socket.create_connection((args.host, args.port), timeout=10),
                               server_hostname="localhost")
    if sock.selected_alpn_protocol() != "h2":
        fail(f"ALPN chose {sock.selected_alpn_protocol()!r}")
    sock.settimeout(args.timeout)
    deadline = time.monotonic() + args.timeout

    config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())

    def events():
        if time.monotonic() > deadline:
            fail("timed out")
        data = sock.recv(1 << 16)
        if not data:
            fail("the server closed the connection")
        out = conn.receive_data(data)
        sock.sendall(conn.data_to_send())
        return out

    enabled = None
    while enabled is None:
        for event in events():
            if isinstance(event, h2.events.RemoteSettingsChanged):
                setting = event.changed_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
                enabled = bool(setting and setting.new_value == 1)
    if not enabled:
        fail("the server's SETTINGS do not enable extended CONNECT (RFC 8441 3)")

    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "CONNECT"), (":protocol", "websocket"),
                            (":scheme", "https"), (":path", args.path),
                            (":authority", f"{args.host}:{args.port}"),
                            ("sec-websocket-version", "13")])
    sock.sendall(conn.data_to_send())

    buffer = b""
    status = None
    messages = [bytes((i + k) % 26 + 97 for k in range(args.bytes)) for i in range(args.count)]
    echoed = 0
    sent = 0
    closed = None
    ended = False
    finished = False
    pending = b""  # frames not yet sent: the stream's flow-control window decides

    def flush():
        nonlocal pending
        while pending:
            n = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size,
                    len(pending))
            if n <= 0:
                break
            conn.send_data(sid, pending[:n])
            pending = pending[n:]
        sock.sendall(conn.data_to_send())

    while not ended:
        if status == 200 and sent < len(messages) and sent == echoed:
            pending += frame(0x1, messages[sent])
            sent += 1
        if status == 200 and echoed == len(messages) and closed is None and sent == echoed:
            pending += frame(0x8, struct.pack("!H", 1000) + b"bye")
            sent += 1
        flush()
        for event in events():
            if isinstance(event, h2.events.ResponseReceived):
                status = int(dict(event.headers)[":status"])
                print(f"status {status}", flush=True)
                if status != 200:
                    fail(f"the CONNECT was answered {status}")
            elif isinstance(event, h2.events.DataReceived):
                conn.acknowledge_received_data(event.flow_controlled_length, sid)
                buffer += event.data
                while (parsed := parse(buffer)) is not None:
                    opcode, payload, buffer = parsed
                    if opcode == 0x8:
                        closed = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 0
                    elif opcode == 0x1:
                        if payload != messages[echoed]:
                            fail(f"echo {echoed} differs")
                        echoed += 1
                sock.sendall(conn.data_to_send())
            elif isinstance(event, h2.events.StreamEnded):
                ended = True
            elif isinstance(event, h2.events.StreamReset):
                fail(f"the stream was reset ({event.error_code!r})")
        if closed is not None and not ended and not finished and not pending:
            finished = True  # the close handshake is over: our half of the stream ends
            conn.end_stream(sid)
            sock.sendall(conn.data_to_send())
    print(f"ok: {echoed} echoes")
    print(f"closed {closed}")
    sock.close()


if __name__ == "__main__":
    main()
