#!/usr/bin/env python3
"""A WebSocket client from Python's websockets library (asyncio API; Debian's 10.4) for an echo
server's /ws: plain (ws://) or, with --ca, TLS (wss://) verified against CA_FILE for localhost.

    ws_client.py many --port P --count N        N small text messages, sent while the echoes are
                                                read; checks each echo, in order
    ws_client.py big --port P --bytes N         one binary message of N seeded random bytes
    ws_client.py fragmented --port P --parts K  a text and a binary message sent in K fragments
                                                each; each must come back whole
    ws_client.py ping --port P                  a ping with a payload; waits for its pong
    ws_client.py close --port P --code C --reason R
                                                closes with C and R; prints the code and reason
                                                of the server's answering close
    ws_client.py wait-close --port P            prints "open", then waits for the server to
                                                close and prints its code and reason
    ws_client.py too-big --port P --bytes N     sends N bytes in one message; prints the code
                                                the server closed with
    ws_client.py abort --port P                 one echo, then the TCP connection is dropped
                                                with no close frame

Prints "ok: ..." or "closed CODE REASON" lines; exits 0, or 1 with "ws_client: FAIL: ..." on
stderr.
"""
import argparse
import asyncio
import random
import ssl
import sys

try:
    import websockets
except ImportError:
    # Debian's python3-websockets (scripts/bootstrap.sh) lives in the system Python's
    # dist-packages; a python3 from elsewhere on PATH (pyenv) does not look there by itself.
    sys.path.append("/usr/lib/python3/dist-packages")
    import websockets


def fail(message):
    print(f"ws_client: FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def connect(args, **options):
    scheme = "wss" if args.ca else "ws"
    context = ssl.create_default_context(cafile=args.ca) if args.ca else None
    # max_size=None: the 16 MiB echo must not be refused by the client itself.
    return websockets.connect(f"{scheme}://localhost:{args.port}/ws", ssl=context,
                              max_size=None, open_timeout=args.timeout,
                              close_timeout=args.timeout, **options)


async def many(args):
    async with connect(args) as ws:
        async def sender():
            for i in range(args.count):
                await ws.send(f"message {i}")
        task = asyncio.create_task(sender())
        for i in range(args.count):
            echo = await ws.recv()
            if echo != f"message {i}":
                fail(f"echo {i} was {echo!r}")
        await task
    print(f"ok: {args.count} messages echoed in order")


async def big(args):
    data = random.Random(7).randbytes(args.bytes)
    async with connect(args) as ws:
        await ws.send(data)
        echo = await ws.recv()
        if echo != data:
            fail(f"echo of {len(data)} bytes differs ({len(echo)} bytes back)")
    print(f"ok: one message of {args.bytes} bytes echoed")


async def fragmented(args):
    text = [f"part {i};" for i in range(args.parts)]
    binary = [bytes([i % 256]) * 1000 for i in range(args.parts)]
    async with connect(args) as ws:
        await ws.send(text)  # an iterable is sent as one fragmented message
        await ws.send(binary)
        if await ws.recv() != "".join(text):
            fail("the fragmented text came back different")
        if await ws.recv() != b"".join(binary):
            fail("the fragmented binary came back different")
    print(f"ok: a text and a binary message of {args.parts} fragments echoed whole")


async def ping(args):
    async with connect(args) as ws:
        waiter = await ws.ping(b"ping payload")
        await asyncio.wait_for(waiter, args.timeout)
    print("ok: pong")


async def close(args):
    ws = await connect(args)
    await ws.close(code=args.code, reason=args.reason)
    print(f"closed {ws.close_code} {ws.close_reason}")


async def wait_close(args):
    async with connect(args) as ws:
        print("open", flush=True)
        await asyncio.wait_for(ws.wait_closed(), args.timeout)
        print(f"closed {ws.close_code} {ws.close_reason}")


async def too_big(args):
    async with connect(args) as ws:
        try:
            await ws.send(bytes(args.bytes))
            await ws.recv()
            fail("the server echoed a message over its limit")
        except websockets.ConnectionClosed:
            pass
        print(f"closed {ws.close_code} {ws.close_reason}")


async def abort(args):
    ws = await connect(args)
    await ws.send("before the drop")
    if await ws.recv() != "before the drop":
        fail("no echo before the drop")
    ws.transport.abort()
    print("ok: dropped after one echo")


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["many", "big", "fragmented", "ping", "close",
                                         "wait-close", "too-big", "abort"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca")
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--bytes", type=int, default=1 << 20)
    parser.add_argument("--parts", type=int, default=5)
    parser.add_argument("--code", type=int, default=1000)
    parser.add_argument("--reason", default="")
    parser.add_argument("--timeout", type=float, default=40)
    args = parser.parse_args()
    modes = {"many": many, "big": big, "fragmented": fragmented, "ping": ping, "close": close,
             "wait-close": wait_close, "too-big": too_big, "abort": abort}
    try:
        await asyncio.wait_for(modes[args.mode](args), args.timeout + 10)
    except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as e:
        fail(f"{args.mode}: {type(e).__name__}: {e}")


asyncio.run(main())
