#!/usr/bin/env python3
"""bench-tls-load against the hello app: the counts it reports are the counts that happened.

Not a benchmark and no timing: every check is about counts (full vs resumed handshakes, errors,
held connections) or refusals. usage: tls_load_smoke.py BENCH_TLS_LOAD HELLO_BIN
"""
import json
import re
import signal
import subprocess
import sys
import tempfile

from checks import check, finish

load, hello_bin = sys.argv[1], sys.argv[2]


def run(*args, timeout=60):
    done = subprocess.run([load, *args], capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


with tempfile.TemporaryDirectory() as certs:
    hello = subprocess.Popen(
        [hello_bin, "--tls", "--listen", "127.0.0.1:0", "--dev-cert-dir", certs,
         "--idle-timeout", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        match = re.search(r"listening on (127\.0\.0\.1:\d+)", hello.stdout.readline())
        if not match:
            sys.exit("hello did not say where it listens")
        target = match.group(1)

        code, out, err = run("--connect", target, "--requests", "20", "--connections", "4", "--json")
        result = json.loads(out)
        check(code == 0, f"handshake mode exits 0 ({code}, {err})")
        check(set(result) == {"requests", "full", "resumed", "errors", "seconds", "rate", "p50_ms",
                              "p99_ms", "client_cpu_s"}, f"handshake JSON keys: {sorted(result)}")
        check((result["requests"], result["full"], result["resumed"], result["errors"]) ==
              (20, 20, 0, 0), f"without --resume every handshake is full: {result}")

        # One connection at a time: only the first has no ticket to offer.
        code, out, err = run("--connect", target, "--requests", "20", "--connections", "1",
                             "--resume", "--json")
        result = json.loads(out)
        check((result["requests"], result["full"], result["resumed"]) == (20, 1, 19),
              f"with --resume all but the first connection resume: {result}")
        check("warning" not in err, f"no resumption warning: {err}")

        code, out, err = run("--connect", target, "--requests", "5", "--ca", f"{certs}/ca.pem",
                             "--tls12", "--json")
        result = json.loads(out)
        check((result["requests"], result["full"], result["errors"]) == (5, 5, 0),
              f"TLS 1.2 with the CA verified: {result} {err}")

        code, out, err = run("--connect", target, "--requests", "3", "--path", "/no-such-path")
        check(code == 1 and "HTTP status 404" in err, f"all requests failing exits 1: {code} {err}")

        hold = subprocess.Popen([load, "--connect", target, "--mode", "hold", "--connections", "20",
                                 "--source-ips", "2", "--duration", "60", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        check(hold.stdout.readline().strip() == "ready 20", "hold mode prints 'ready 20'")
        hold.send_signal(signal.SIGTERM)
        out, err = hold.communicate(timeout=30)
        check(hold.returncode == 0, f"hold mode exits 0 on SIGTERM ({hold.returncode}, {err})")
        check(json.loads(out) | {"seconds_to_ready": 0} ==
              {"connections": 20, "errors": 0, "seconds_to_ready": 0}, f"hold JSON: {out}")
    finally:
        hello.send_signal(signal.SIGTERM)
        try:
            hello.wait(timeout=20)
        except subprocess.TimeoutExpired:
            hello.kill()
            hello.wait()

for outside in ("10.1.2.3:443", "[2001:db8::1]:443", "example.com:443"):
    code, out, err = run("--connect", outside, "--requests", "1")
    check(code == 2 and "loopback" in err, f"{outside} is refused: {code} {err}")

finish()
