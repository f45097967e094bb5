#!/usr/bin/env python3
"""Session ticket keys rotated at run time, seen from a real TLS client (Python's ssl).

The server was started with --ticket-key CURRENT,PREVIOUS (both holding key A) and this script
owns both files. It resumes across SIGHUP reloads:
  1. a full handshake gives session S1 (ticket under A);
  2. CURRENT := B, SIGHUP: S1 still resumes (A is still listed); the renewed ticket S2 is under B;
  3. PREVIOUS := D (A dropped), SIGHUP: S1 no longer resumes, S2 does.
Exits non-zero with a message when anything differs.
"""
import argparse
import os
import signal
import socket
import ssl
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--ca", required=True)
p.add_argument("--current", required=True)
p.add_argument("--previous", required=True)
p.add_argument("--server-pid", type=int, required=True)
p.add_argument("--tls12", action="store_true")
a = p.parse_args()

ctx = ssl.create_default_context(cafile=a.ca)
if a.tls12:
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2


def visit(session=None):
    """One echo round trip; returns (reused, the newest session)."""
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    s.sendall(b"ping\n")
    got = b""
    while not got.endswith(b"\n"):
        chunk = s.recv(100)
        if not chunk:
            sys.exit("connection closed before the echo")
        got += chunk
    # The TLS 1.3 ticket came after the handshake; it has been read along with the echo.
    reused, newest = s.session_reused, s.session
    s.unwrap()  # close_notify both ways keeps the session resumable
    s.close()
    return reused, newest


def reload(path, key):
    with open(path, "wb") as f:
        f.write(key)
    os.kill(a.server_pid, signal.SIGHUP)
    time.sleep(0.5)  # the server logs and swaps the keys on its loop


def expect(what, got, want):
    print(f"{what}: {'resumed' if got else 'full handshake'}")
    if got != want:
        sys.exit(f"{what}: expected {'resumption' if want else 'a full handshake'}")


reused, s1 = visit()
expect("first connection", reused, False)
reload(a.current, os.urandom(80))  # B encrypts now, A still decrypts
reused, s2 = visit(s1)
expect("ticket under the previous key", reused, True)
reload(a.previous, os.urandom(80))  # A is gone
reused, _ = visit(s1)
expect("ticket under a dropped key", reused, False)
reused, _ = visit(s2)
expect("ticket under the current key", reused, True)
print("rotation ok")
