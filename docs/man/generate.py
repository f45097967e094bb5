#!/usr/bin/env python3
"""Writes a man page from its hand-written prose (docs/man/*.in) and the option table the built
app prints with --help, so the page's option list cannot drift from the binary's.

  generate.py app  SOURCE OUT VERSION BINARY
      a program's page: SOURCE's @OPTIONS@ line becomes one entry per option of BINARY --help.
  generate.py toml SOURCE OUT VERSION BINARY...
      the config file's page: @KEYS@ becomes the keys every app accepts, @APP_KEYS@ each app's
      own; the command-line-only options are left out (ConfigFile refuses them as keys).
"""
import re
import subprocess
import sys
from dataclasses import dataclass

# The options apps::Args adds or refuses in a config file (apps/common/ConfigFile.cpp).
COMMAND_LINE_ONLY = {"config", "check", "help", "version"}
HELP_COLUMN = 30  # where Args::print_help starts an option's help text


@dataclass
class Option:
    name: str
    value: str
    help: str
    default: str
    repeatable: bool


def run_help(binary):
    return subprocess.run([binary, "--help"], check=True, capture_output=True, text=True).stdout


def parse_help(text):
    """The program name, its summary and its options, from Args::print_help's layout."""
    lines = text.splitlines()
    program = re.match(r"usage: (\S+)", lines[0]).group(1)
    start = lines.index("options:")
    summary = " ".join(line.strip() for line in lines[1:start] if line.strip())
    options, current = [], None
    for line in lines[start + 1:]:
        if line.startswith("  --"):
            left, rest = line[:HELP_COLUMN], line[HELP_COLUMN:]
            if len(line) <= HELP_COLUMN or not left.endswith(" "):
                left, rest = line, ""  # a long name: its help starts on the next line
            name, _, value = left.strip()[2:].partition(" ")
            current = [name, value.strip(), rest.strip()]
            options.append(current)
        elif line.startswith(" " * HELP_COLUMN) and current:
            current[2] = (current[2] + " " + line.strip()).strip()
        elif line.strip():
            sys.exit(f"generate.py: cannot read this --help line of {program}: {line!r}")
    parsed = []
    for name, value, help_text in options:
        default = ""
        m = re.search(r" ?\(default: (.*)\)$", help_text)
        if m:
            default, help_text = m.group(1), help_text[: m.start()]
        repeatable = help_text.endswith("(repeatable)")
        if repeatable:
            help_text = help_text[: -len("(repeatable)")].rstrip()
        parsed.append(Option(name, value, help_text, default, repeatable))
    return program, summary, parsed


def roff(text):
    """Plain text made safe for roff: backslashes and hyphens escaped."""
    return text.replace("\\", "\\e").replace("-", "\\-")


def sentence(text):
    text = text.strip()
    return text if not text or text.endswith(".") else text + "."


def option_entry(o, as_key=False):
    if as_key:
        head = f"\\fB{roff(o.name)}\\fR"
        if not o.value:
            kind = "true or false (a flag)"
        elif o.repeatable:
            kind = f"an array of {o.value} (or one)"
        else:
            kind = o.value
        head += f" = \\fI{roff(kind)}\\fR"
    else:
        head = f"\\fB\\-\\-{roff(o.name)}\\fR" + (f" \\fI{roff(o.value)}\\fR" if o.value else "")
    body = roff(sentence(o.help[:1].upper() + o.help[1:]))
    extras = []
    if o.repeatable:
        extras.append("May be given more than once; every value counts, in order." if not as_key
                      else "An array; a command-line " + roff("--" + o.name) + " replaces it whole.")
    if o.default:
        extras.append("Default: \\fB" + roff(o.default) + "\\fR.")
    return "\n".join([".TP", head, body] + extras)


def fill(source, replacements, version):
    # The source's own comments are notes for whoever edits it, not part of the page.
    with open(source, encoding="utf-8") as f:
        text = "".join(line for line in f if not line.startswith('.\\"'))
    text = text.replace("@VERSION@", version)
    for marker, value in replacements.items():
        if f"\n{marker}\n" not in text:
            sys.exit(f"generate.py: {source} has no {marker} line")
        text = text.replace(f"\n{marker}\n", "\n" + value + "\n")
    leftover = re.findall(r"@[A-Z_]+@", text)
    if leftover:
        sys.exit(f"generate.py: {source}: unknown markers {leftover}")
    return text


def main(argv):
    if len(argv) < 6 or argv[1] not in ("app", "toml"):
        sys.exit(__doc__)
    kind, source, out, version, binaries = argv[1], argv[2], argv[3], argv[4], argv[5:]
    if kind == "app":
        _, _, options = parse_help(run_help(binaries[0]))
        text = fill(source, {"@OPTIONS@": "\n".join(option_entry(o) for o in options)}, version)
    else:
        apps = [parse_help(run_help(b)) for b in binaries]
        keyed = [(p, [o for o in opts if o.name not in COMMAND_LINE_ONLY]) for p, _, opts in apps]
        common = [o for o in keyed[0][1]
                  if all(any(x.name == o.name for x in opts) for _, opts in keyed[1:])]
        common_names = {o.name for o in common}
        shared = []
        for o in common:
            defaults = {x.default for _, opts in keyed for x in opts if x.name == o.name}
            if len(defaults) > 1:  # e.g. --listen: each app has its own port
                o = Option(o.name, o.value, o.help + "; the default differs by program, see "
                           "its page", "", o.repeatable)
            shared.append(option_entry(o, as_key=True))
        per_app = []
        for program, opts in keyed:
            own = [o for o in opts if o.name not in common_names]
            per_app.append(f".SS {program}")
            per_app.append("\n".join(option_entry(o, as_key=True) for o in own) if own
                           else "No keys of its own.")
        text = fill(source, {"@KEYS@": "\n".join(shared), "@APP_KEYS@": "\n".join(per_app)},
                    version)
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main(sys.argv)
