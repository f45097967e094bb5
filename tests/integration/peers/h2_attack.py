#!/usr/bin/env python3
"""HTTP/2 peer for the defence tests: attacks, stalls and careful clients, over plain TCP with
prior knowledge (h2c).

Attacks are written as raw frames (a 9-byte header and a payload), because Python's h2 state
machine refuses to send most of them; responses are parsed the same way, with hpack decoding
the HEADERS. The careful clients (download, drain) use h2 itself for its flow control.

Every command prints what it saw, one line per event, for the test to assert on:
  headers STREAM status=CODE     a response head
  rst STREAM CODE_NAME           RST_STREAM from the server
  goaway CODE_NAME last=ID       GOAWAY from the server
  data STREAM bytes=N            DATA received per stream (printed at the end)
  ping-acks N / settings-acks N  acknowledgements received (printed at the end)
  closed | reset | timeout       how the connection ended (EOF, ECONNRESET, --timeout)
Exit status 0 unless the peer itself failed (a server that misbehaves is the test's to judge).
"""
import argparse
import hashlib
import socket
import struct
import sys
import time

try:
    import h2.config
    import h2.connection
    import h2.events
    import hpack
except ImportError:  # pyenv's python3 on PATH lacks Debian's modules
    sys.path.append("/usr/lib/python3/dist-packages")
    import h2.config
    import h2.connection
    import h2.events
    import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    0, 1, 2, 3, 4, 6, 7, 8, 9)
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
INITIAL_WINDOW_SIZE = 0x4
CODES = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
         "SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
         "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY",
         "HTTP_1_1_REQUIRED"]


def hpack_length(n, first=0):
    """An HPACK string length (7-bit prefix, no Huffman), `first` or'ed into its first byte."""
    if n < 127:
        return bytes([first | n])
    out, n = [first | 127], n - 127
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def code_name(code):
    return CODES[code] if code < len(CODES) else str(code)


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(
        ">I", stream) + payload


def settings(*pairs):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def say(line):
    print(line, flush=True)


def receive(sock, deadline):
    """(bytes, None) as soon as some arrive before `deadline`, else (None, how it ended:
    "closed", "reset" or "timeout")."""
    left = deadline - time.monotonic()
    if left <= 0:
        return None, "timeout"
    sock.settimeout(left)
    try:
        chunk = sock.recv(65536)
    except socket.timeout:
        return None, "timeout"
    except ConnectionResetError:
        return None, "reset"
    return (chunk, None) if chunk else (None, "closed")


class Raw:
    """A hand-driven HTTP/2 client connection."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.deadline = time.monotonic() + timeout
        self.buf = b""
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.data = {}
        self.ping_acks = 0
        self.settings_acks = 0
        self.end = None
        self.goaway = None

    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def request(self, stream, path, method="GET", end_stream=True):
        block = self.encoder.encode([(":method", method), (":scheme", "http"),
                                     (":authority", "127.0.0.1"), (":path", path)])
        return frame(HEADERS, END_HEADERS | (END_STREAM if end_stream else 0), stream, block)

    def read_frame(self):
        """The next frame as (kind, flags, stream, payload), or None once the connection ended
        (self.end says how)."""
        while len(self.buf) < 9 or len(self.buf) < 9 + int.from_bytes(self.buf[:3], "big"):
            chunk, self.end = receive(self.sock, self.deadline)
            if chunk is None:
                return None
            self.buf += chunk
        length = int.from_bytes(self.buf[:3], "big")
        kind, flags = self.buf[3], self.buf[4]
        stream = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
        payload = self.buf[9:9 + length]
        self.buf = self.buf[9 + length:]
        return kind, flags, stream, payload

    def next_event(self, answer_pings=False):
        """Reads frames until one worth reporting; prints it and returns (kind, stream), or
        None at the end of the connection."""
        while True:
            f = self.read_frame()
            if f is None:
                return None
            kind, flags, stream, payload = f
            if kind == HEADERS:
                fields = dict(self.decoder.decode(payload))
                say(f"headers {stream} status={fields.get(':status', '?')}")
                if flags & END_STREAM:
                    say(f"end {stream}")
                return kind, stream
            if kind == DATA:
                self.data[stream] = self.data.get(stream, 0) + len(payload)
                if flags & END_STREAM:
                    say(f"end {stream}")
                    return kind, stream
            elif kind == RST_STREAM:
                say(f"rst {stream} {code_name(struct.unpack('>I', payload)[0])}")
                return kind, stream
            elif kind == GOAWAY:
                last, code = struct.unpack(">II", payload[:8])
                self.goaway = (code, last & 0x7FFFFFFF)
                say(f"goaway {code_name(code)} last={last & 0x7FFFFFFF}")
                return kind, stream
            elif kind == SETTINGS:
                if flags & ACK:
                    self.settings_acks += 1
                else:
                    self.send(frame(SETTINGS, ACK, 0))
            elif kind == PING and flags & ACK:
                self.ping_acks += 1

    def ack_settings(self):
        """Acknowledges the server's SETTINGS and waits for the ACK of ours: nghttp2 holds the
        client to its limits from then on."""
        while self.settings_acks == 0:
            f = self.read_frame()
            if f is None:
                return
            kind, flags, _, _ = f
            if kind == SETTINGS and flags & ACK:
                self.settings_acks += 1
            elif kind == SETTINGS:
                self.send(frame(SETTINGS, ACK, 0))

    def until(self, kind, stream=None):
        """Reads until a frame of `kind` (on `stream`) was reported; False if the connection
        ended first."""
        while True:
            event = self.next_event()
            if event is None:
                return False
            if event[0] == kind and (stream is None or event[1] == stream):
                return True

    def finish(self):
        """Reads until the connection ends, then prints the totals and how it ended."""
        while self.next_event() is not None:
            pass
        self.report()

    def report(self):
        for stream, n in sorted(self.data.items()):
            say(f"data {stream} bytes={n}")
        say(f"ping-acks {self.ping_acks}")
        say(f"settings-acks {self.settings_acks}")
        say(self.end or "open")


def open_raw(args, *pairs):
    conn = Raw(args.port, args.timeout)
    conn.send(PREFACE + settings(*pairs))
    return conn


# ---- attacks ----

def cmd_concurrent(args):
    """--count streams that never get an answer (GET /never), all in one write; once the last
    is refused, stream 1 cancelled and GET /hello on the next stream. --ack: the streams only
    after the server's SETTINGS were acknowledged both ways, then read to the end."""
    conn = open_raw(args)
    if args.ack:
        conn.ack_settings()
    burst = b"".join(conn.request(2 * i + 1, "/never") for i in range(args.count))
    conn.send(burst)
    last = 2 * args.count - 1
    if not args.ack:
        if conn.until(RST_STREAM, last):
            # The limit holds once the SETTINGS are acknowledged: one held stream is cancelled
            # to make room for the next request.
            conn.send(frame(RST_STREAM, 0, 1, struct.pack(">I", 8)) +
                      conn.request(last + 2, "/hello"))
            conn.until(DATA, last + 2)
        conn.report()
        return
    conn.finish()


def cmd_rapid_reset(args):
    """--count streams opened (GET /hello) and cancelled at once, all in one write."""
    conn = open_raw(args)
    burst = b"".join(
        conn.request(2 * i + 1, "/hello") + frame(RST_STREAM, 0, 2 * i + 1, struct.pack(">I", 8))
        for i in range(args.count))
    conn.send(burst)
    conn.finish()


def cmd_continuation_flood(args):
    """A HEADERS without END_HEADERS, then --count CONTINUATIONs: empty ones, or (--fill) each
    full of header fields, a block that never ends."""
    conn = open_raw(args)
    head = conn.encoder.encode([(":method", "GET"), (":scheme", "http"),
                                (":authority", "127.0.0.1"), (":path", "/hello")])
    payload = b""
    if args.fill:
        # Literal fields without indexing, 16,000 bytes of them per frame.
        field = b"\x00" + hpack_length(6) + b"x-fill" + hpack_length(254) + b"a" * 254
        payload = field * (16000 // len(field))
    burst = frame(HEADERS, END_STREAM, 1, head)
    burst += b"".join(frame(CONTINUATION, 0, 1, payload) for _ in range(args.count))
    conn.send(burst)
    conn.finish()


def cmd_hpack_bomb(args):
    """One field of 4,000 bytes put in the dynamic table, then referenced --count times by its
    one-byte index in the same header block; then GET /hello on the next stream."""
    conn = open_raw(args)
    value = b"b" * 4000
    block = conn.encoder.encode([(":method", "GET"), (":scheme", "http"),
                                 (":authority", "127.0.0.1"), (":path", "/hello")])
    # Literal with incremental indexing, new name (0x40).
    block += b"\x40" + hpack_length(6) + b"x-bomb" + hpack_length(len(value)) + value
    # The new entry is index 62 of the table; earlier entries the encoder added sit after it.
    refs = bytes([0x80 | 62]) * args.count
    block += refs
    frames = b""
    first = True
    while block or first:
        piece, block = block[:16384], block[16384:]
        kind = HEADERS if first else CONTINUATION
        flags = (END_STREAM if first else 0) | (0 if block else END_HEADERS)
        frames += frame(kind, flags, 1, piece)
        first = False
    conn.send(frames)
    conn.until(HEADERS, 1)
    # The connection goes on, its HPACK state in step: a fresh encoder refers to no entry of
    # the dynamic table (ours does not know of x-bomb).
    conn.encoder = hpack.Encoder()
    conn.send(conn.request(3, "/hello"))
    conn.until(DATA, 3)
    conn.report()


def cmd_flood(args):
    """--count frames of --kind that ask for nothing, all in one write."""
    conn = open_raw(args)
    burst = b""
    if args.kind == "settings":
        one = settings((INITIAL_WINDOW_SIZE, 65535))
        burst = one * args.count
    elif args.kind == "ping":
        burst = b"".join(frame(PING, 0, 0, struct.pack(">Q", i)) for i in range(args.count))
    elif args.kind == "window-update":
        burst = frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1)) * args.count
    elif args.kind == "priority":
        # PRIORITY for idle streams far apart: each names a new one.
        burst = b"".join(frame(PRIORITY, 0, 2 * i + 1001, struct.pack(">IB", 0, 15))
                         for i in range(args.count))
    elif args.kind == "empty-data":
        burst = conn.request(1, "/echo", method="POST", end_stream=False)
        burst += frame(DATA, 0, 1) * args.count
    conn.send(burst)
    conn.finish()


# ---- stalls ----

def cmd_stall_stream(args):
    """GET --path and never a WINDOW_UPDATE; --window: the SETTINGS_INITIAL_WINDOW_SIZE
    offered (0: not a byte of body can move)."""
    conn = open_raw(args, (INITIAL_WINDOW_SIZE, args.window))
    conn.send(conn.request(1, args.path))
    conn.until(RST_STREAM, 1)
    # Prove the connection still serves: another request on it, answered whole.
    conn.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1 << 20)))
    conn.send(settings((INITIAL_WINDOW_SIZE, 65535)))
    conn.send(conn.request(3, "/hello"))
    conn.until(DATA, 3)
    conn.report()


def cmd_stall_connection(args):
    """Two big GETs with stream windows wide open and the connection's window never opened
    past its first 65,535 bytes."""
    conn = open_raw(args, (INITIAL_WINDOW_SIZE, (1 << 31) - 1))
    conn.send(conn.request(1, args.path) + conn.request(3, args.path))
    conn.finish()


def cmd_no_read(args):
    """A big GET with every window wide open, then never a read of the socket."""
    conn = open_raw(args, (INITIAL_WINDOW_SIZE, (1 << 31) - 1))
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    conn.send(conn.request(1, args.path) +
              frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", (1 << 31) - 1 - 65535)))
    say("sent")
    time.sleep(args.timeout)


# ---- careful clients on h2 ----

def pattern(offset, n):
    """n bytes of the test server's body pattern (i % 251) from `offset` on."""
    block = bytes(i % 251 for i in range(251)) * (n // 251 + 2)
    start = offset % 251
    return block[start:start + n]


class Careful:
    """An h2 client connection that opens windows only as told (h2 takes a GOAWAY as the end
    of the connection, so the drain client is a Raw one)."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.deadline = time.monotonic() + timeout
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.h2.initiate_connection()
        self.flush()
        self.received = {}
        self.hashes = {}
        self.ended = set()
        self.reset = {}
        self.end = None

    def flush(self):
        out = self.h2.data_to_send()
        if out:
            try:
                self.sock.sendall(out)
            except (BrokenPipeError, ConnectionResetError):
                pass

    def get(self, path):
        stream = self.h2.get_next_available_stream_id()
        self.h2.send_headers(stream, [(":method", "GET"), (":scheme", "http"),
                                      (":authority", "127.0.0.1"), (":path", path)],
                             end_stream=True)
        self.flush()
        self.received[stream] = 0
        self.hashes[stream] = hashlib.sha256()
        return stream

    def pump(self, ack=lambda stream: True):
        """Reads once and handles the events; `ack(stream)` says whether DATA of that stream
        opens its window again. False once the connection ended."""
        chunk, self.end = receive(self.sock, self.deadline)
        if chunk is None:
            return False
        for event in self.h2.receive_data(chunk):
            if isinstance(event, h2.events.DataReceived):
                s = event.stream_id
                self.hashes[s].update(event.data)
                self.received[s] += len(event.data)
                if ack(s):
                    self.h2.acknowledge_received_data(event.flow_controlled_length, s)
            elif isinstance(event, h2.events.StreamEnded):
                self.ended.add(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.reset[event.stream_id] = code_name(event.error_code)
            elif isinstance(event, h2.events.ConnectionTerminated):
                say(f"goaway {code_name(event.error_code)} last={event.last_stream_id}")
        self.flush()
        return True

    def verdict(self, stream, size):
        """"stream S complete ok" when all `size` bytes came and match the pattern."""
        if stream in self.reset:
            return f"stream {stream} reset {self.reset[stream]}"
        if stream not in self.ended:
            return f"stream {stream} unfinished bytes={self.received[stream]}"
        expected = hashlib.sha256()
        for at in range(0, size, 1 << 20):
            expected.update(pattern(at, min(1 << 20, size - at)))
        same = self.received[stream] == size and self.hashes[stream].digest() == expected.digest()
        return f"stream {stream} complete {'ok' if same else 'CORRUPT'} bytes={self.received[stream]}"


def cmd_three_downloads(args):
    """Three GET /bytes/SIZE on one connection; the middle one is reset once it has --cut bytes;
    the other two are hashed against the pattern."""
    conn = Careful(args.port, args.timeout)
    streams = [conn.get(f"/bytes/{args.size}") for _ in range(3)]
    victim = streams[1]
    cut = False
    while not all(s in conn.ended or s in conn.reset for s in (streams[0], streams[2])):
        if not cut and conn.received[victim] >= args.cut:
            conn.h2.reset_stream(victim, 8)  # CANCEL
            conn.flush()
            cut = True
            say(f"cancelled {victim} at {conn.received[victim]}")
        if not conn.pump(ack=lambda s: not (cut and s == victim)):
            break
    for s in (streams[0], streams[2]):
        say(conn.verdict(s, args.size))
    say(conn.end or "open")


def cmd_drain(args):
    """GET /bytes/SIZE and no WINDOW_UPDATE, so the download stops after its first window;
    "waiting" once bytes came. On the server's GOAWAY: a new GET /hello, then every window
    opened wide, and the download read to its end and checked against the pattern. --hold:
    nothing is sent after the GOAWAY, the window stays shut until the server gives up."""
    conn = open_raw(args)
    conn.send(conn.request(1, f"/bytes/{args.size}"))
    got = hashlib.sha256()
    received = 0
    late_status = "none"
    late_reset = "none"
    said = False
    ended = False
    while True:
        f = conn.read_frame()
        if f is None:
            break
        kind, flags, stream, payload = f
        if kind == DATA and stream == 1:
            got.update(payload)
            received += len(payload)
            ended = ended or bool(flags & END_STREAM)
            if not said:
                said = True
                say("waiting")
        elif kind == HEADERS:
            status = dict(conn.decoder.decode(payload)).get(":status", "?")
            if stream != 1:
                late_status = status
        elif kind == RST_STREAM:
            reason = code_name(struct.unpack(">I", payload)[0])
            if stream == 1:
                say(f"rst 1 {reason}")
            else:
                late_reset = reason
        elif kind == GOAWAY:
            last, code = struct.unpack(">II", payload[:8])
            say(f"goaway {code_name(code)} last={last & 0x7FFFFFFF}")
            if args.hold:
                continue
            block = hpack.Encoder().encode([(":method", "GET"), (":scheme", "http"),
                                            (":authority", "127.0.0.1"), (":path", "/hello")])
            wide = struct.pack(">I", (1 << 31) - 1 - 65535)
            conn.send(frame(HEADERS, END_HEADERS | END_STREAM, 3, block) +
                      frame(WINDOW_UPDATE, 0, 0, wide) + frame(WINDOW_UPDATE, 0, 1, wide))
        elif kind == SETTINGS and not flags & ACK:
            conn.send(frame(SETTINGS, ACK, 0))
    expected = hashlib.sha256()
    for at in range(0, args.size, 1 << 20):
        expected.update(pattern(at, min(1 << 20, args.size - at)))
    same = ended and received == args.size and got.digest() == expected.digest()
    say(f"stream 1 {'complete ok' if same else 'BAD'} bytes={received}")
    if not args.hold:
        say(f"late stream 3 status={late_status} reset={late_reset}")
    say(conn.end or "open")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--ack", action="store_true")
    p.add_argument("--fill", action="store_true")
    p.add_argument("--hold", action="store_true")
    p.add_argument("--kind", default="ping")
    p.add_argument("--path", default="/bytes/67108864")
    p.add_argument("--window", type=int, default=0)
    p.add_argument("--size", type=int, default=8 << 20)
    p.add_argument("--cut", type=int, default=1 << 20)
    args = p.parse_args()
    commands = {
        "concurrent": cmd_concurrent, "rapid-reset": cmd_rapid_reset,
        "continuation-flood": cmd_continuation_flood, "hpack-bomb": cmd_hpack_bomb,
        "flood": cmd_flood, "stall-stream": cmd_stall_stream,
        "stall-connection": cmd_stall_connection, "no-read": cmd_no_read,
        "three-downloads": cmd_three_downloads, "drain": cmd_drain,
    }
    commands[args.command.replace("_", "-")](args)


if __name__ == "__main__":
    main()
