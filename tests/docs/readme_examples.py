#!/usr/bin/env python3
"""Fails when a code block the README (or a page under docs/) marks with <!-- example:PATH -->
differs from PATH.

The examples are compiled by the build; this keeps the pages' copies of them honest.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1])
pattern = r"<!-- example:(\S+) -->\n```\w*\n(.*?)```"
if not re.search(pattern, (root / "README.md").read_text(), re.S):
    sys.exit("README.md has no <!-- example:PATH --> blocks")
failed = False
for page in [root / "README.md"] + sorted((root / "docs").glob("*.md")):
    name = page.relative_to(root)
    for path, text in re.findall(pattern, page.read_text(), re.S):
        source = (root / path).read_text()
        if source != text:
            print(f"{name}'s copy of {path} differs from the file", file=sys.stderr)
            failed = True
        else:
            print(f"{name}'s copy of {path} matches")
sys.exit(1 if failed else 0)
