"""callgrind_annotate's text as numbers, for the bench scripts that subtract two dumps
(bench/keepalive_ir.sh, bench/route_ir.sh)."""
import re


def parse(lines):
    """(PROGRAM TOTALS, {function: Ir}) from callgrind_annotate's output lines. A function's
    name keeps its object's base name ("SSL_do_handshake  [libssl.so.3]") when the line has one;
    the same name from several files adds up."""
    total, fns = 0, {}
    for line in lines:
        m = re.match(r'\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+PROGRAM TOTALS', line)
        if m:
            total = int(m.group(1).replace(',', ''))
            continue
        # "  1,234 (12.3%)  FILE:FUNCTION [OBJECT]"; a file name has no ':', a function may.
        m = re.match(r'\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\*?\s*[^:]*:(.+?)(?: \[(.*)\])?$', line)
        if m:
            name = m.group(2) + (f"  [{m.group(3).split('/')[-1]}]" if m.group(3) else "")
            fns[name] = fns.get(name, 0) + int(m.group(1).replace(',', ''))
    return total, fns
