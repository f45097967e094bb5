#!/usr/bin/env python3
"""What systemd does around a service, played for the apps without systemd.

    systemd_peer.py notify --dir D [--abstract] -- APP ARGS...
        Binds an AF_UNIX datagram socket (D/notify, or with --abstract an abstract-namespace
        name given as "@name"), starts APP with NOTIFY_SOCKET naming it, then: waits for a
        datagram, sends SIGHUP, waits for two more, sends SIGTERM, waits for one more and for
        the app's exit. Prints each datagram as one line of its KEY=value items joined by " "
        (MAINPID shown as "app" when it is the app's pid, MONOTONIC_USEC as "now" when it is a
        CLOCK_MONOTONIC time not after our own reading), then "exit: CODE".
    systemd_peer.py listen-fds [--sockets N] [--serve K] -- APP ARGS...
        Binds N listening TCP sockets on 127.0.0.1 (ephemeral ports), connects a client to
        socket K (0-based) and sends "early\\n" before APP exists (the connection waits in the
        backlog), then starts APP with the sockets as fds 3, 4, ..., LISTEN_FDS=N,
        LISTEN_FDNAMES=s0:s1:..., and LISTEN_PID set to APP's own pid (sh -c 'LISTEN_PID=$$
        exec APP ...'). Every "{port0}", "{port1}", ... in APP ARGS becomes that socket's port.
        Prints "listening: LINE" (APP's first stdout line, its ports replaced by "{portK}"),
        then "early client: ANSWER" (what the early client read back), then sends SIGTERM and
        prints "exit: CODE".
Every wait is bounded (--timeout). Exits 0 on success; 1 with "systemd_peer: FAIL: ..." on
stderr otherwise (the app is killed then).
"""
import argparse
import os
import select
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



def listen_fds(args):
    command = list(args.command)

    sockets = []
    for _ in range(args.sockets):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for i, port in enumerate(ports):
        command = [word.replace(f"{{port{i}}}", str(port)) for word in command]

    # The kernel completes this connection into the backlog: nobody accepts it yet.
    early = socket.create_connection(("127.0.0.1", ports[args.serve]), timeout=args.timeout)
    early.sendall(b"early\n")

    fds = [s.fileno() for s in sockets]
    targets = list(range(3, 3 + len(fds)))

    def in_child():
        # Each socket to 3, 4, ... by way of copies out of that range, so none overwrites another.
        for i, fd in enumerate(fds):
            os.dup2(fd, 100 + i)
        for i, target in enumerate(targets):
            os.dup2(100 + i, target)

    env = dict(os.environ, LISTEN_FDS=str(len(fds)),
               LISTEN_FDNAMES=":".join(f"s{i}" for i in range(len(fds))))
    # The shell's $$ is the pid that exec keeps: the app's own.
    app = subprocess.Popen(["sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh"] + command, env=env,
                           stdout=subprocess.PIPE, text=True, preexec_fn=in_child,
                           pass_fds=sorted(set(targets + fds)))
    for s in sockets:
        s.close()  # the app holds them now

    ready, _, _ = select.select([app.stdout], [], [], args.timeout)
    if not ready:
        fail("no listening line", app)
    line = app.stdout.readline().rstrip("\n")
    for i, port in enumerate(ports):
        line = line.replace(f":{port} ", f":{{port{i}}} ")
    print(f"listening: {line}", flush=True)

    answer = b""
    try:
        while not answer.endswith(b"\n"):
            chunk = early.recv(4096)
            if not chunk:
                break
            answer += chunk
    except socket.timeout:
        fail("the early client got no answer", app)
    print(f"early client: {answer.decode().rstrip()}", flush=True)
    early.close()

    app.send_signal(signal.SIGTERM)
    wait_for_exit(app, args.timeout)



def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["notify", "listen-fds"])
    parser.add_argument("--dir")
    parser.add_argument("--abstract", action="store_true")
    parser.add_argument("--sockets", type=int, default=1)
    parser.add_argument("--serve", type=int, default=0)
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
    else:
        listen_fds(args)


if __name__ == "__main__":
    main()
