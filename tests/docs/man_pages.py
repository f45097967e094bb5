#!/usr/bin/env python3
"""Usage: man_pages.py MAN_DIR PROXY HELLO ECHO

Every man page lists exactly the options its program's --help lists (and tlsreactor.toml(5)
exactly the keys each program's config file accepts), read from the page as groff renders it,
not from its source; and groff renders each page without a warning (-ww)."""
import os
import re
import subprocess
import sys
from pathlib import Path

COMMAND_LINE_ONLY = {"config", "check", "help", "version"}


def help_options(binary):
    out = subprocess.run([binary, "--help"], check=True, capture_output=True, text=True).stdout
    return set(re.findall(r"^  --([a-z0-9-]+)", out, re.M))


def render(page):
    done = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-rLL=200n", str(page)],
                          capture_output=True, text=True, env={**os.environ, "LC_ALL": "C.UTF-8"})
    if done.returncode != 0 or done.stderr.strip():
        sys.exit(f"{page.name}: groff -ww: {done.stderr.strip() or done.returncode}")
    # Strip the overstrike/SGR formatting groff may emit, keeping the text.
    text = re.sub(r".\x08", "", done.stdout)
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def section(text, title):
    m = re.search(rf"^{re.escape(title)}\n(.*?)(?=^\S|\Z)", text, re.M | re.S)
    if not m:
        sys.exit(f"no section {title!r}")
    return m.group(1)


def compare(what, page_set, help_set):
    missing, extra = help_set - page_set, page_set - help_set
    if missing or extra:
        print(f"{what}: not on the page: {sorted(missing)}; not in --help: {sorted(extra)}")
        return False
    print(f"{what}: {len(page_set)} entries, the same as --help")
    return True


def main():
    man_dir = Path(sys.argv[1])
    binaries = dict(zip(["tlsreactor-proxy", "tlsreactor-hello", "tlsreactor-echo"], sys.argv[2:5]))
    pages = {"tlsreactor-proxy": "tlsreactor-proxy.8", "tlsreactor-hello": "tlsreactor-hello.1",
             "tlsreactor-echo": "tlsreactor-echo.1"}
    ok = True
    options = {program: help_options(binary) for program, binary in binaries.items()}
    for program, page in pages.items():
        text = section(render(man_dir / page), "OPTIONS")
        listed = set(re.findall(r"^ {7}--([a-z0-9-]+)", text, re.M))
        ok &= compare(page, listed, options[program])

    text = render(man_dir / "tlsreactor.toml.5")
    key = r"^ {7}([a-z0-9-]+) = "
    common = set(re.findall(key, section(text, "KEYS OF EVERY PROGRAM"), re.M))
    own_text = section(text, "KEYS OF ONE PROGRAM")
    for program in pages:
        m = re.search(rf"^ {{3}}{program}\n(.*?)(?=^ {{3}}\S|\Z)", own_text, re.M | re.S)
        own = set(re.findall(key, m.group(1), re.M)) if m else set()
        ok &= compare(f"tlsreactor.toml.5 [{program}]", common | own,
                      options[program] - COMMAND_LINE_ONLY)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
