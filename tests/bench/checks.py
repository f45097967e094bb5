"""Soft checks for the bench smoke tests: every failed check is reported, not only the first, so
one run of a slow script shows everything that is wrong with it."""
import sys

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def finish():
    if failures:
        sys.exit(f"{len(failures)} failure(s)")
    sys.exit(0)
