#!/usr/bin/env python3
"""Drives an interactive command-line program (openssl s_client, gnutls-cli) through its stdin.

    interact.py [--timeout SECONDS] STEP... -- COMMAND [ARG...]

Starts COMMAND with piped stdin, stdout and stderr, then runs the steps in order:

    send:TEXT    writes TEXT and a newline to the program's stdin (not an error when the
                 program has exited: the steps that wait for its answer fail instead)
    line:TEXT    waits for a stdout line that is exactly TEXT
    out:REGEX    waits until the program's stdout matches REGEX (multi-line mode)
    err:REGEX    the same on stderr
    close        closes the program's stdin (end of file)
    exit:CODE    waits for the program to exit with CODE ("exit:any" takes any code)
    sleep:SECS   waits SECS seconds

Each wait on stdout or stderr starts where the previous match on that stream ended, so two
steps "line:x" need two lines "x". Everything must happen within --timeout seconds in all.
A program still running after the last step is killed.

Prints "interact: ok" or "interact: FAIL: <which step and why>", then "exit: CODE" (or
"exit: killed"), then the program's stdout and stderr after the lines "--- stdout ---" and
"--- stderr ---". Exits 0 when every step happened, 1 otherwise.
"""
import re
import subprocess
import sys
import threading
import time


class Captured:
    """One output stream of the child, read by a thread, matched from a cursor."""

    def __init__(self, stream, changed):
        self.text = ""
        self.cursor = 0
        self.closed = False
        self._changed = changed
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream):
        while True:
            chunk = stream.read1(65536)
            with self._changed:
                if not chunk:
                    self.closed = True
                    self._changed.notify_all()
                    return
                self.text += chunk.decode("utf-8", errors="replace")
                self._changed.notify_all()

    def join(self, timeout):
        self._thread.join(timeout)


def main():
    argv = sys.argv[1:]
    timeout = 20.0
    if argv[:1] == ["--timeout"]:
        timeout = float(argv[1])
        argv = argv[2:]
    if "--" not in argv:
        print("usage: interact.py [--timeout SECONDS] STEP... -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    split = argv.index("--")
    steps, command = argv[:split], argv[split + 1:]
    deadline = time.monotonic() + timeout

    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    changed = threading.Condition()
    streams = {"out": Captured(child.stdout, changed), "err": Captured(child.stderr, changed)}

    def wait_for(stream, pattern):
        with changed:
            while True:
                m = pattern.search(stream.text, stream.cursor)
                if m:
                    stream.cursor = m.end()
                    return None
                if stream.closed:
                    return "the stream ended first"
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timed out"
                changed.wait(left)

    verdict = "ok"
    for index, step in enumerate(steps, 1):
        kind, _, arg = step.partition(":")
        problem = None
        if kind == "send":
            try:
                child.stdin.write(arg.encode() + b"\n")
                child.stdin.flush()
            except OSError:
                pass  # it exited (a refused handshake): the steps that wait for an answer fail
        elif kind == "line":
            problem = wait_for(streams["out"], re.compile("^" + re.escape(arg) + "$", re.M))
        elif kind in ("out", "err"):
            problem = wait_for(streams[kind], re.compile(arg, re.M))
        elif kind == "close":
            try:
                child.stdin.close()
            except OSError:
                pass
        elif kind == "exit":
            try:
                code = child.wait(max(0.0, deadline - time.monotonic()))
                if arg != "any" and code != int(arg):
                    problem = f"exited with {code}"
            except subprocess.TimeoutExpired:
                problem = "still running at the deadline"
        elif kind == "sleep":
            time.sleep(min(float(arg), max(0.0, deadline - time.monotonic())))
        else:
            problem = "unknown step"
        if problem:
            elapsed = timeout - (deadline - time.monotonic())
            verdict = f"FAIL: step {index} ({step!r}) after {elapsed:.1f} s: {problem}"
            break

    if child.poll() is None:
        child.kill()
        child.wait()
        exit_text = "killed"
    else:
        exit_text = str(child.returncode)
    for stream in streams.values():
        stream.join(5)
    print(f"interact: {verdict}")
    print(f"exit: {exit_text}")
    print("--- stdout ---")
    print(streams["out"].text, end="" if streams["out"].text.endswith("\n") else "\n")
    print("--- stderr ---")
    print(streams["err"].text, end="" if streams["err"].text.endswith("\n") else "\n", flush=True)
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
