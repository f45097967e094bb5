"""What else ran on the machine during a benchmark.

Usage: python3 bench/cpu_sampler.py OUT ROOT_PID

Samples utime + stime of every process in /proc once a second, leaving out ROOT_PID (the
benchmark script), its descendants and itself, until SIGTERM; then writes to OUT one line: the
CPU the other processes used, as a mean in % of one CPU, and the five busiest by name. A process
that starts and ends between two samples is missed, so the figure is a lower bound.
"""

import os
import signal
import sys
import time

out, root = sys.argv[1], sys.argv[2]
me = str(os.getpid())
tck = os.sysconf("SC_CLK_TCK")
began = time.monotonic()
began_ticks = float(open("/proc/uptime").read().split()[0]) * tck
base, last, names = {}, {}, {}
stopping = False


def on_term(*_):
    global stopping
    stopping = True


def read_all():
    """pid -> (name, ppid, utime + stime, start time in ticks after boot)."""
    stats = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            text = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue  # ended since listdir
        name = text[text.index("(") + 1 : text.rindex(")")]
        f = text[text.rindex(")") + 2 :].split()
        stats[pid] = (name, f[1], int(f[11]) + int(f[12]), int(f[19]))
    return stats


def ours(pid, stats):
    while pid in stats and pid not in ("0", "1"):
        if pid in (root, me):
            return True
        pid = stats[pid][1]
    return False


def sample():
    stats = read_all()
    for pid, (name, _, ticks, start) in stats.items():
        if ours(pid, stats):
            continue
        # A process born after the sampler started counts from zero.
        base.setdefault(pid, ticks if start < began_ticks else 0)
        last[pid] = ticks
        names[pid] = name


signal.signal(signal.SIGTERM, on_term)
while not stopping:
    sample()
    time.sleep(1)
sample()
seconds = time.monotonic() - began
by_name = {}
for pid, ticks in last.items():
    share = (ticks - base[pid]) / tck / seconds * 100
    by_name[names[pid]] = by_name.get(names[pid], 0) + share
busiest = sorted(by_name.items(), key=lambda item: -item[1])[:5]
with open(out, "w") as f:
    listed = ", ".join(f"{name} {share:.0f}%" for name, share in busiest if share >= 1)
    f.write(f"{sum(by_name.values()):.0f}% of a CPU on average over {seconds:.0f} s ({listed})\n")
