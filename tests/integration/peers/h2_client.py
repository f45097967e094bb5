#!/usr/bin/env python3
"""An HTTP/2 client on Python's h2 (Debian's python3-h2 4.1) for the proxy tests: many
requests as concurrent streams of one connection, over TLS (ALPN h2, certificate not checked)
or, with --plain, h2c with prior knowledge.

    h2_client.py --port P [--plain] [--count N] [--method M] [--path PATH] [--body-bytes B]
                 [--header NAME:VALUE ...] [--authority A] [--stall-after S]

N streams (default 1) each send METHOD PATH with the extra headers (sent as given, not checked
by h2, so a connection-specific one goes out too) and, with --body-bytes, a body of B bytes of
the pattern i % 251 (honouring the server's flow-control windows). At most the server's
SETTINGS_MAX_CONCURRENT_STREAMS are open at once. --stall-after S sends only the body's first S
bytes and then nothing more (no END_STREAM), for the server's body timeout. Prints one JSON object per stream, in stream
order:

    {"stream": 1, "status": 200, "headers": {...}, "trailers": {...}, "length": N,
     "sha256": "...", "pattern": true when the body is LENGTH bytes of the pattern,
     "reset": null | ERROR_CODE, "body": first 4 KiB as text}

then "h2_client: done N streams" and exits 0; exits 1 with "h2_client: FAIL: ..." on stderr
when the connection fails or the 60 s watchdog runs out.
"""
import argparse
import hashlib
import json
import sys
import time

from h2_peer import close_client, h2, open_client, pattern, pump


def pattern_sha256(size, known={}):
    if size not in known:
        known[size] = hashlib.sha256(pattern(size)).hexdigest()
    return known[size]


def fail(why):
    sys.stderr.write(f"h2_client: FAIL: {why}\n")
    sys.exit(1)


class Stream:
    def __init__(self, body):
        self.body = body
        self.sent = 0
        self.status = None
        self.headers = {}
        self.trailers = {}
        self.length = 0
        self.digest = hashlib.sha256()
        self.text = b""
        self.reset = None
        self.done = False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--plain", action="store_true")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--path", default="/")
    parser.add_argument("--authority", default=None)
    parser.add_argument("--body-bytes", type=int, default=None)
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--stall-after", type=int, default=None)
    args = parser.parse_args()

    sock, conn = open_client(args.host, args.port, args.plain, args.timeout, fail)
    authority = args.authority or f"{args.host}:{args.port}"
    extra = [tuple(h.split(":", 1)) for h in args.header]
    extra = [(n.strip().lower(), v.strip()) for n, v in extra]

    streams = {}
    waiting = args.count
    settings_seen = False
    outbuf = bytearray()
    deadline = time.monotonic() + args.timeout

    def open_streams():
        nonlocal waiting
        limit = conn.remote_settings.max_concurrent_streams
        while waiting > 0 and conn.open_outbound_streams < limit:
            sid = conn.get_next_available_stream_id()
            body = pattern(args.body_bytes) if args.body_bytes is not None else None
            headers = [(":method", args.method), (":scheme", "http" if args.plain else "https"),
                       (":authority", authority), (":path", args.path)]
            if body is not None:
                headers.append(("content-length", str(len(body))))
            headers += extra
            conn.send_headers(sid, headers, end_stream=body is None)
            streams[sid] = Stream(body)
            waiting -= 1

    def send_bodies():
        for sid, s in streams.items():
            if s.body is None or s.sent >= len(s.body) or s.done:
                continue
            limit = len(s.body) if args.stall_after is None else min(len(s.body), args.stall_after)
            while s.sent < limit:
                try:
                    window = conn.local_flow_control_window(sid)
                except h2.exceptions.StreamClosedError:
                    s.sent = len(s.body)
                    break
                n = min(window, conn.max_outbound_frame_size, limit - s.sent)
                if n <= 0:
                    break
                end = s.sent + n == len(s.body)
                conn.send_data(sid, s.body[s.sent:s.sent + n], end_stream=end)
                s.sent += n

    while True:
        if settings_seen:
            open_streams()
            send_bodies()
        outbuf += conn.data_to_send()
        if settings_seen and waiting == 0 and all(s.done for s in streams.values()) \
                and not outbuf:
            break
        if time.monotonic() > deadline:
            fail(f"timed out with {sum(not s.done for s in streams.values())} streams open, "
                 f"{waiting} not started")
        data = pump(sock, outbuf, fail)
        if data is None:
            continue
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RemoteSettingsChanged):
                settings_seen = True
            elif isinstance(event, h2.events.ResponseReceived):
                s = streams[event.stream_id]
                s.headers = dict(event.headers)
                s.status = int(s.headers.get(":status", "0"))
            elif isinstance(event, h2.events.InformationalResponseReceived):
                s = streams[event.stream_id]
                s.headers.setdefault("informational", []).append(dict(event.headers)[":status"])
            elif isinstance(event, h2.events.TrailersReceived):
                streams[event.stream_id].trailers = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived):
                s = streams[event.stream_id]
                s.length += len(event.data)
                s.digest.update(event.data)
                if len(s.text) < 4096:
                    s.text += event.data[:4096 - len(s.text)]
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                streams[event.stream_id].done = True
            elif isinstance(event, h2.events.StreamReset):
                s = streams[event.stream_id]
                s.reset = int(event.error_code)
                s.done = True
            elif isinstance(event, h2.events.ConnectionTerminated):
                # A graceful GOAWAY (a server draining) lets the streams it took finish.
                if event.error_code != 0 or waiting > 0:
                    fail(f"GOAWAY {event.error_code!r}: {event.additional_data!r}")

    for sid in sorted(streams):
        s = streams[sid]
        print(json.dumps({"stream": sid, "status": s.status, "headers": s.headers,
                          "trailers": s.trailers, "length": s.length,
                          "sha256": s.digest.hexdigest(),
                          "pattern": s.digest.hexdigest() == pattern_sha256(s.length),
                          "reset": s.reset,
                          "body": s.text.decode("latin-1")}))
    print(f"h2_client: done {len(streams)} streams")
    sys.stdout.flush()
    close_client(sock, conn)


if __name__ == "__main__":
    main()
