#!/usr/bin/env python3
"""CONNECT streams (RFC 9113 8.5) over one HTTP/2 connection, on Python's h2 (Debian's
python3-h2 4.1), for the proxy's forward mode over HTTP/2. TLS with ALPN h2 (certificate not
checked) to 127.0.0.1:PORT.

    h2_connect.py --port P [--tunnel MODE,HOST:PORT[,BYTES] ...] [--get PATH ...]

Every --tunnel and --get is one stream, all opened at once on the one connection:
    echo   sends BYTES of the pattern i % 251 through the tunnel, then END_STREAM (its
           half-close), and reads until the tunnel's END_STREAM;
    http   sends "GET /headers HTTP/1.1" with Connection: close, END_STREAM, reads until END_STREAM;
    late   reads until the tunnel's END_STREAM first (the destination's FIN), then sends BYTES of
           the pattern and END_STREAM;
    open   sends nothing, not even END_STREAM (done when the proxy ends or resets the stream).
--get PATH is a normal GET beside them. Prints one JSON object per stream in the order given:

    {"stream": ID, "kind": "echo", "status": 200, "length": N, "pattern": true when the bytes
     received are N bytes of the pattern, "first_line": "...", "reset": null | CODE}

then "h2_connect: done", exit 0; exit 1 with "h2_connect: FAIL: ..." when the connection
fails or the 60 s watchdog runs out.
"""
import argparse
import json
import sys
import time

from h2_peer import close_client, h2, open_client, pattern, pump


def fail(why):
    sys.stderr.write(f"h2_connect: FAIL: {why}\n")
    sys.exit(1)


class Stream:
    def __init__(self, kind, authority, size):
        self.kind = kind
        self.authority = authority
        self.body = b""
        if kind == "echo" or kind == "late":
            self.body = pattern(size)
        elif kind == "http":
            self.body = f"GET /headers HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n".encode()
        self.sent = 0
        self.end_sent = kind == "get" or kind == "open"
        self.status = None
        self.received = bytearray()
        self.ended = False
        self.reset = None

    def may_send(self):
        if self.end_sent or self.reset is not None or self.status is None:
            return False
        if self.status != 200:
            return False
        return self.kind != "late" or self.ended

    def done(self):
        if self.reset is not None:
            return True
        if self.status is not None and self.status != 200:
            return self.ended
        return self.ended and self.end_sent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tunnel", action="append", default=[])
    parser.add_argument("--get", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()

    sock, conn = open_client("127.0.0.1", args.port, False, args.timeout, fail)

    streams = {}
    order = []
    for spec in args.tunnel:
        parts = spec.split(",")
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "CONNECT"), (":authority", parts[1])])
        streams[sid] = Stream(parts[0], parts[1], int(parts[2]) if len(parts) > 2 else 0)
        order.append(sid)
    for path in args.get:
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"),
                                (":authority", f"127.0.0.1:{args.port}"), (":path", path)],
                          end_stream=True)
        streams[sid] = Stream("get", path, 0)
        order.append(sid)

    def send_bodies():
        for sid, s in streams.items():
            while s.may_send():
                left = len(s.body) - s.sent
                if left == 0:
                    conn.end_stream(sid)
                    s.end_sent = True
                    break
                try:
                    window = conn.local_flow_control_window(sid)
                except h2.exceptions.StreamClosedError:
                    s.end_sent = True
                    break
                n = min(window, conn.max_outbound_frame_size, left)
                if n <= 0:
                    break
                conn.send_data(sid, s.body[s.sent:s.sent + n])
                s.sent += n

    outbuf = bytearray()
    deadline = time.monotonic() + args.timeout
    while True:
        send_bodies()
        outbuf += conn.data_to_send()
        if all(s.done() for s in streams.values()) and not outbuf:
            break
        if time.monotonic() > deadline:
            fail("timed out: " + ", ".join(f"{sid}: status {s.status} sent {s.sent} received "
                                           f"{len(s.received)} ended {s.ended}"
                                           for sid, s in streams.items()))
        data = pump(sock, outbuf, fail)
        if data is None:
            continue
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                streams[event.stream_id].status = int(dict(event.headers)[":status"])
            elif isinstance(event, h2.events.DataReceived):
                streams[event.stream_id].received += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                streams[event.stream_id].ended = True
            elif isinstance(event, h2.events.StreamReset):
                streams[event.stream_id].reset = int(event.error_code)
            elif isinstance(event, h2.events.ConnectionTerminated):
                fail(f"GOAWAY {event.error_code!r}: {event.additional_data!r}")

    for sid in order:
        s = streams[sid]
        got = bytes(s.received)
        print(json.dumps({"stream": sid, "kind": s.kind, "status": s.status, "length": len(got),
                          "pattern": got == pattern(len(got)),
                          "first_line": got.split(b"\r\n")[0][:80].decode("latin-1"),
                          "reset": s.reset}))
    print("h2_connect: done")
    sys.stdout.flush()
    close_client(sock, conn)


if __name__ == "__main__":
    main()
