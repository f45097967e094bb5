#!/usr/bin/env python3
"""WebSocket peers for the proxy tests, on Python's websockets library (asyncio API, 10.x).

    ws_peer.py serve [--cert FILE --key FILE]
        An upstream on an ephemeral loopback port (TLS with --cert/--key). Prints
        "ws_peer: listening on 127.0.0.1:PORT", then one line per event:
          "server: closed CODE"        a WebSocket ended with this close code (1006: no close frame)
          "server: blocked after N"    /flood: a send waited 2 s with N bytes sent before it
        Paths: /echo echoes every message; a text message "close-me CODE" makes the server close
        with CODE, "abort-me" makes it drop the TCP connection without a close frame.
        /flood sends 1 MiB messages (at most --flood-mib of them) until a send stalls.
        Plain HTTP answers, not WebSockets: /forbidden -> 403, /hello -> 200 "hello",
        /headers -> 200 with the request's Upgrade and Connection fields ("-" when absent).
    ws_peer.py client --url wss://... [--path /echo] SCENARIO...
        A client that does not verify the proxy's certificate, to PATH (default /echo). Scenarios (run in order, each on
        its own connection) print one line each:
          many:N        N small text messages, then their echoes in order -> "many: N in order"
          big:BYTES     one binary message of BYTES, echoed -> "big: BYTES echoed"
          fragments:K   one text message sent as K fragments -> "fragments: K echoed"
          ping          a ping answered by a pong -> "ping: pong"
          close:CODE    the client closes with CODE -> "close: CODE"
          server-close:CODE  the server closes with CODE -> "server-close: CODE"
          abort         the client drops TCP without a close frame -> "abort: done"
          server-abort  the server drops TCP -> "server-abort: CODE" (1006)
          wait          stays open, silent, until the other end closes -> "open" then
                        "wait: closed CODE"
          drain:FILE    "open"; once FILE exists one more echo -> "drain: during the drain",
                        then until the other end closes -> "drain: closed CODE"
    ws_peer.py stall --port P
        Over TLS to 127.0.0.1:P: sends a WebSocket handshake for /flood and never reads.
        Prints "stall: sent", then sleeps until killed.
    ws_peer.py early --port P
        Over TLS to 127.0.0.1:P: a WebSocket handshake for /echo and, in the same write before
        any answer, one masked text frame "early". Prints "early: STATUS" for the handshake's
        answer and "early: echoed TEXT" for the frame that comes back.
    ws_peer.py connect --port P --to HOST:PORT [--wait]
        Over TLS to 127.0.0.1:P: CONNECT HOST:PORT; prints "connect: STATUS". Then through the
        tunnel "GET /hello" with Connection: close, printing the response's first line, or with
        --wait sends nothing; either way reads until the tunnel ends: "connect: closed".
        With --plain the proxy is spoken to in cleartext; with --send N the client sends N bytes
        through the tunnel, then its FIN (a half-close), and prints what comes back until the end.
    ws_peer.py eof-server
        A TCP server (not WebSocket) on an ephemeral port, printing "ws_peer: listening on
        127.0.0.1:PORT": each connection is read until the peer's FIN, answered "got N" (the byte
        count), then closed.
    ws_peer.py http --port P REQUEST...
        Over TLS to 127.0.0.1:P, on ONE connection: each REQUEST ("GET /path" with optional
        "|Name: value" fields after it) is sent and its response read (http.client); prints
        "STATUS BODY" per response, then "reused" if all went over the one connection.
Exits 0 on success; 1 with "ws_peer: FAIL: ..." on stderr otherwise.
"""
import argparse
import asyncio
import http
import http.client
import logging
import os
import socket
import ssl
import sys

try:
    import websockets
except ImportError:
    # Debian's python3-websockets (scripts/bootstrap.sh) lives in the system Python's
    # dist-packages; a python3 from elsewhere on PATH (pyenv) does not look there by itself.
    sys.path.append("/usr/lib/python3/dist-packages")
    import websockets

from websockets.exceptions import ConnectionClosed


def fail(message):
    print("ws_peer: FAIL: " + message, file=sys.stderr, flush=True)
    sys.exit(1)


def say(line):
    print(line, flush=True)


# ---------------------------------------------------------------------------------- server


async def echo(ws):
    try:
        async for message in ws:
            if isinstance(message, str) and message.startswith("close-me "):
                await ws.close(int(message.split()[1]), "server closes")
                break
            if message == "abort-me":
                ws.transport.abort()
                break
            await ws.send(message)
    except ConnectionClosed:
        pass
    await ws.wait_closed()
    say("server: closed %d" % ws.close_code)


async def flood(ws, limit_mib):
    chunk = b"x" * (1 << 20)
    sent = 0
    for _ in range(limit_mib):
        try:
            await asyncio.wait_for(ws.send(chunk), timeout=2)
        except asyncio.TimeoutError:
            say("server: blocked after %d" % sent)
            break
        except ConnectionClosed:
            break
        sent += len(chunk)
    else:
        say("server: never blocked, sent %d" % sent)
    ws.transport.abort()


def http_answer(status, body):
    from websockets.datastructures import Headers

    data = body.encode()
    fields = Headers([("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return http.HTTPStatus(status), fields, data


def make_process_request():
    async def process_request(path, headers):
        if path == "/forbidden":
            return http_answer(403, "forbidden")
        if path == "/hello":
            return http_answer(200, "hello")
        if path == "/headers":
            return http_answer(
                200,
                "upgrade=%s connection=%s" % (headers.get("Upgrade", "-"), headers.get("Connection", "-")),
            )
        return None

    return process_request


async def serve(args):
    logging.basicConfig(level=logging.WARNING)  # the library's errors, on stderr
    context = None
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)

    async def handler(ws, path):
        if path == "/flood":
            await flood(ws, args.flood_mib)
        else:
            await echo(ws)

    server = await websockets.serve(
        handler,
        "127.0.0.1",
        0,
        ssl=context,
        max_size=None,
        process_request=make_process_request(),
        ping_interval=None,
        compression=None,
    )
    port = server.sockets[0].getsockname()[1]
    say("ws_peer: listening on 127.0.0.1:%d" % port)
    await asyncio.Future()  # until killed


# ---------------------------------------------------------------------------------- client


def insecure_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def connect(url):
    return await websockets.connect(
        url,
        ssl=insecure_context() if url.startswith("wss:") else None,
        max_size=None,
        ping_interval=None,
        compression=None,
        close_timeout=20,
    )


async def scenario(url, step, path="/echo"):
    name, _, arg = step.partition(":")
    ws = await connect(url + path)
    if name == "many":
        n = int(arg)
        for i in range(n):
            await ws.send("message %d" % i)
        for i in range(n):
            got = await ws.recv()
            if got != "message %d" % i:
                fail("many: echo %d was %r" % (i, got[:40]))
        await ws.close()
        say("many: %d in order" % n)
    elif name == "big":
        size = int(arg)
        data = os.urandom(size)
        await ws.send(data)
        got = await ws.recv()
        if got != data:
            fail("big: the echo differs (%d bytes back)" % len(got))
        await ws.close()
        say("big: %d echoed" % size)
    elif name == "fragments":
        k = int(arg)
        parts = ["part %d;" % i for i in range(k)]
        await ws.send(iter(parts))  # an iterable is sent as one fragmented message
        got = await ws.recv()
        if got != "".join(parts):
            fail("fragments: the echo differs: %r" % got[:80])
        await ws.close()
        say("fragments: %d echoed" % k)
    elif name == "ping":
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, timeout=30)
        await ws.close()
        say("ping: pong")
    elif name == "close":
        await ws.close(int(arg), "client closes")
        say("close: %d" % ws.close_code)
    elif name == "server-close":
        await ws.send("close-me %s" % arg)
        await ws.wait_closed()
        say("server-close: %d" % ws.close_code)
    elif name == "abort":
        await ws.send("hello")
        await ws.recv()
        ws.transport.abort()
        say("abort: done")
    elif name == "server-abort":
        await ws.send("abort-me")
        await ws.wait_closed()
        say("server-abort: %d" % ws.close_code)
    elif name == "wait":
        await ws.send("still here")
        await ws.recv()
        say("open")
        await ws.wait_closed()
        say("wait: closed %d" % ws.close_code)
    elif name == "drain":
        # Open until the file `arg` appears (the test made the proxy drain), then one more echo
        # (the tunnel still relays), then until the proxy ends it.
        await ws.send("before")
        await ws.recv()
        say("open")
        while not os.path.exists(arg):
            await asyncio.sleep(0.05)
        await ws.send("during the drain")
        say("drain: %s" % await ws.recv())
        await ws.wait_closed()
        say("drain: closed %d" % ws.close_code)
    else:
        fail("unknown scenario " + step)


async def client(args):
    for step in args.scenarios:
        await asyncio.wait_for(scenario(args.url, step, args.path), timeout=args.timeout)


# ------------------------------------------------------------------------- raw TLS clients


def tls_socket(port):
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    return insecure_context().wrap_socket(raw)


def stall(args):
    sock = tls_socket(args.port)
    sock.sendall(
        b"GET /flood HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    say("stall: sent")
    while True:
        asyncio.run(asyncio.sleep(3600))


def early_frame(args):
    sock = tls_socket(args.port)
    mask = b"\x01\x02\x03\x04"
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(b"early"))
    sock.sendall(
        b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        + b"\x81\x85" + mask + payload
    )
    data = b""
    while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < 7:
        more = sock.recv(4096)
        if not more:
            fail("early: closed after %r" % data)
        data += more
    head, _, frame = data.partition(b"\r\n\r\n")
    say("early: %s" % head.split(b" ")[1].decode())
    if frame[0] != 0x81 or frame[1] != 5:
        fail("early: unexpected frame %r" % frame[:10])
    say("early: echoed %s" % frame[2:7].decode())


def connect_tunnel(args):
    if args.plain:
        sock = socket.create_connection(("127.0.0.1", args.port), timeout=30)
    else:
        sock = tls_socket(args.port)
    sock.settimeout(60)
    sock.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (args.to, args.to)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        more = sock.recv(4096)
        if not more:
            fail("connect: closed before the answer")
        head += more
    head, _, rest = head.partition(b"\r\n\r\n")
    say("connect: %s" % head.split(b" ")[1].decode())
    if args.send is not None:
        sock.sendall(b"y" * args.send)
        sock.shutdown(socket.SHUT_WR)  # the FIN; the answer must still come back
    elif not args.wait:
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    inner = rest
    try:
        while True:
            more = sock.recv(65536)
            if not more:
                break
            inner += more
    except (ssl.SSLError, ConnectionResetError):
        pass
    if args.send is not None:
        say("reply: " + inner.decode())
    elif not args.wait:
        say(inner.split(b"\r\n")[0].decode())
    say("connect: closed")


def eof_server():
    import socketserver

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            total = 0
            while True:
                more = self.request.recv(65536)
                if not more:
                    break
                total += len(more)
            self.request.sendall(b"got %d" % total)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    say("ws_peer: listening on 127.0.0.1:%d" % server.server_address[1])
    server.serve_forever()


def http_requests(args):
    sock = tls_socket(args.port)
    connections = set()
    for spec in args.requests:
        line, *fields = spec.split("|")
        method, path = line.split(" ", 1)
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)
        head += "".join(f + "\r\n" for f in fields) + "\r\n"
        sock.sendall(head.encode())
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        body = response.read().decode()
        say("%d %s" % (response.status, body))
        connections.add(id(sock))
        if response.will_close:
            break
    else:
        say("reused")


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--cert")
    s.add_argument("--key")
    s.add_argument("--flood-mib", type=int, default=512)
    c = sub.add_parser("client")
    c.add_argument("--url", required=True)
    c.add_argument("--path", default="/echo", help="the WebSocket's path on the server")
    c.add_argument("--timeout", type=float, default=60)
    c.add_argument("scenarios", nargs="+")
    st = sub.add_parser("stall")
    st.add_argument("--port", type=int, required=True)
    t = sub.add_parser("connect")
    t.add_argument("--port", type=int, required=True)
    t.add_argument("--to", required=True)
    t.add_argument("--wait", action="store_true")
    t.add_argument("--plain", action="store_true")
    t.add_argument("--send", type=int)
    sub.add_parser("eof-server")
    e = sub.add_parser("early")
    e.add_argument("--port", type=int, required=True)
    h = sub.add_parser("http")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("requests", nargs="+")
    args = parser.parse_args()
    try:
        if args.command == "serve":
            asyncio.run(serve(args))
        elif args.command == "client":
            asyncio.run(client(args))
        elif args.command == "stall":
            stall(args)
        elif args.command == "connect":
            connect_tunnel(args)
        elif args.command == "early":
            early_frame(args)
        elif args.command == "eof-server":
            eof_server()
        else:
            http_requests(args)
    except (asyncio.TimeoutError, OSError, ConnectionClosed, websockets.InvalidStatusCode) as e:
        fail("%s: %s" % (type(e).__name__, e))


if __name__ == "__main__":
    main()
