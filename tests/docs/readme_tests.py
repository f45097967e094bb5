#!/usr/bin/env python3
"""Fails when the README or a page under docs/ names a test (`engine.…`, `tls.…`, `unit.…`,
`reactor.…`, `integration.…`) that no TEST_CASE under tests/ declares.

The conformance table promises that each SSL_get_error result and SSL_write rule is produced by
a named test; this keeps the promise checkable. A name ending in "..." matches by prefix.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
pages = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
declared = set()
for source in (root / "tests").rglob("*.cpp"):
    # A long name may be split into adjacent string literals: join them as the compiler does.
    for literals in re.findall(r'TEST_CASE\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)', source.read_text()):
        declared.add("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', literals)))
declared = {name.replace('\\"', '"') for name in declared}

# CMake lists split on ';': doctest_discover_tests would cut such a name into tests that
# match nothing and "pass" without running.
bad = sorted(d for d in declared if ";" in d)
for name in bad:
    print(f"a test name contains ';' and would never run under CTest: {name}", file=sys.stderr)

named = []  # (page, test name)
for page in pages:
    text = page.read_text()
    # A name may wrap across lines of the page: a line break reads as the space it replaced.
    named += [(page.relative_to(root), re.sub(r"\s*\n\s*", " ", n))
              for n in re.findall(r"`(?:engine|tls|unit|reactor|integration)\.([^`]+)`", text)
              if n != "*"]
if not any(str(page).startswith("docs/") for page, _ in named):
    sys.exit("docs/ names no tests")
missing = []
for page, name in named:
    if name.endswith("..."):
        prefix = name[:-3].rstrip()
        ok = any(d.startswith(prefix) for d in declared)
    else:
        ok = name in declared
    if not ok:
        missing.append((page, name))
for page, name in missing:
    print(f"{page} names a test that does not exist: {name}", file=sys.stderr)
print(f"{len(named) - len(missing)} of {len(named)} tests named in README.md and docs/ exist")
sys.exit(1 if missing or bad else 0)
