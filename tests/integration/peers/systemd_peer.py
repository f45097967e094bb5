#!/usr/bin/env python3
"""What systemd does around a service, played for the apps without systemd.

    systemd_peer.py notify --dir D [--abstract] -- APP ARGS...
        Binds an AF_UNIX datagram socket (D/notify, or with --abstract an abstract-namespace
        name given as "@name"), starts APP with NOTIFY_SOCKET naming it, then: waits for a
        datagram, sends SIGHUP, waits for two more, sends SIGTERM, waits for one more and for
        the app's exit. Prints each datagram as one line of its KEY=value items joined by " "
        (MAINPID shown as "app" when it is the app's pid, MONOTONIC_USEC as "now" when it is a
        CLOCK_MONOTONIC time not after our own reading), then "exit: CODE".
Every wait is bounded (--timeout). Exits 0 on success; 1 with "systemd_peer: FAIL: ..." on
stderr otherwise (the app is killed then).
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import time


def fail(message, app=None):
    if app is not None and app.poll() is None:
        app.kill()
    print(f"systemd_peer: FAIL: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def wait_for_exit(app, timeout):
    try:
        code = app.wait(timeout)
    except subprocess.TimeoutExpired:
        fail("the app did not exit", app)
    print(f"exit: {code}", flush=True)


def shown(datagram, app):
    items = []
    for item in datagram.decode().split("\n"):
        key, _, value = item.partition("=")
        if key == "MAINPID" and value == str(app.pid):
            value = "app"
        elif key == "MONOTONIC_USEC" and value.isdigit():
            if int(value) <= time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000:
                value = "now"
        items.append(f"{key}={value}")
    return " ".join(items)


def notify(args):
    command = list(args.command)

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if args.abstract:
        name = f"tlsreactor-notify-{os.getpid()}"
        listener.bind("\0" + name)
        address = "@" + name
    else:
        address = os.path.join(args.dir, "notify")
        listener.bind(address)
    listener.settimeout(args.timeout)

    env = dict(os.environ, NOTIFY_SOCKET=address)
    app = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)

    def expect(count):
        for _ in range(count):
            try:
                datagram = listener.recv(4096)
            except socket.timeout:
                fail("no datagram in time", app)
            print(shown(datagram, app), flush=True)

    expect(1)
    app.send_signal(signal.SIGHUP)
    expect(2)
    app.send_signal(signal.SIGTERM)
    expect(1)
    wait_for_exit(app, args.timeout)



def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["notify"])
    parser.add_argument("--dir")
    parser.add_argument("--abstract", action="store_true")
    parser.add_argument("--timeout", type=float, default=30)
    # Everything after "--" is the app's command line, taken as is.
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.command = argv[split + 1:]
    if not args.command:
        fail("no app command after --")
    if args.mode == "notify":
        if not args.dir:
            fail("notify needs --dir")
        notify(args)


if __name__ == "__main__":
    main()
