#!/usr/bin/env python3
"""Fails when a code block the README marks with <!-- example:PATH --> differs from PATH.

The examples are compiled by the build; this keeps the README's copy of them honest.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
readme = (root / "README.md").read_text()
blocks = re.findall(r"<!-- example:(\S+) -->\n```\w*\n(.*?)```", readme, re.S)
if not blocks:
    sys.exit("README.md has no <!-- example:PATH --> blocks")
failed = False
for path, text in blocks:
    source = (root / path).read_text()
    if source != text:
        print(f"README.md's copy of {path} differs from the file", file=sys.stderr)
        failed = True
    else:
        print(f"README.md's copy of {path} matches")
sys.exit(1 if failed else 0)
