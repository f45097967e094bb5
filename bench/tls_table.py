"""The table of bench/tls.sh, from the measurements it recorded.

Usage: tls_table.py RESULTS ROWS FLOOR RUNS PROBLEMS
  RESULTS   one JSON object a measured run: row, server (ours|nginx), cpu_s (the server's CPU
            seconds during the run) and the figures of the run's load generator
  ROWS      the rows in order, tab-separated: name, kind (handshake|keepalive|bulk|idle|skipped),
            and the floor key compared to (or, for skipped rows, why)
  FLOOR     bench-openssl-floor --json ({} without it)
  RUNS      runs per row and server
  PROBLEMS  failed checks found while measuring, one a line
Prints the markdown table (medians over runs of each figure; ratios ours/nginx; floor multiples
as costs over the floor's), then every failed check; exits 1 if there was any.
"""
import json
import statistics
import sys

results_path, rows_path, floor_path, runs, problems_path = sys.argv[1:]
runs = int(runs)
results = [json.loads(line) for line in open(results_path)]
rows = [line.rstrip("\n").split("\t") for line in open(rows_path)]
floor = json.load(open(floor_path))


def group(row, server):
    return [r for r in results if r["row"] == row and r["server"] == server]


def median(values):
    return statistics.median(values) if values else float("nan")


def fmt(value, unit=""):
    if value != value:  # NaN
        return "—"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2 if abs(value) >= 1 else 3
    return f"{value:,.{digits}f}{unit}"


def times(ratio):
    return f"{ratio:.2f}×" if ratio == ratio else "—"


lines = []
problems = open(problems_path).read().splitlines()


def line(workload, figure, ours, nginx, unit="", floor_value=None):
    """One figure: ours, nginx, their ratio, and (for a cost) multiples of the floor."""
    ratio = ours / nginx if nginx else float("nan")
    cells = [workload, figure, fmt(ours, unit), fmt(nginx, unit), times(ratio)]
    if floor_value:
        cells += [fmt(floor_value, unit), times(ours / floor_value), times(nginx / floor_value)]
    else:
        cells += ["", "", ""]
    lines.append(cells)


def text_line(workload, figure, ours, nginx):
    lines.append([workload, figure, ours, nginx, "", "", "", ""])


def per(numerator, denominator, scale=1.0):
    """numerator / denominator * scale, or None when the run could not measure it."""
    return numerator / denominator * scale if numerator is not None and denominator else None


def cpu(r):
    return r["cpu_s"] or None  # 0 ticks: too short to measure


def handshakes(r):
    return r["load"]["full"] + r["load"]["resumed"]


# Per kind of row: (figure, its value in one run, unit, floor key or None). Each figure is the
# median over the runs of its per-run value. Floor keys name bench-openssl-floor's JSON keys;
# "FLOOR" stands for the row's own key, "SOCKET" for its key over loopback TCP (--sockets),
# "per MB [KEY]" turns the row's (or KEY's) MB/s into a cost.
FIGURES = {
    "handshake": [
        ("handshakes per busy server-core second", lambda r: per(handshakes(r), cpu(r)), "", None),
        ("server CPU per handshake", lambda r: per(cpu(r), handshakes(r), 1e6), " µs", "FLOOR"),
        ("(floor over loopback TCP)", lambda r: per(cpu(r), handshakes(r), 1e6), " µs", "SOCKET"),
        ("raw handshakes/s (client-bound)", lambda r: r["load"]["rate"], "", None),
        ("p99 connect+handshake+GET", lambda r: r["load"]["p99_ms"], " ms", None),
        ("load client CPU per handshake",
         lambda r: per(r["load"]["client_cpu_s"], handshakes(r), 1e6), " µs", None),
    ],
    "keepalive": [
        ("requests per busy server-core second", lambda r: per(r["requests"], cpu(r)), "", None),
        ("server CPU per request", lambda r: per(cpu(r), r["requests"], 1e6), " µs", "FLOOR"),
        ("(floor over loopback TCP)", lambda r: per(cpu(r), r["requests"], 1e6), " µs", "SOCKET"),
        ("raw requests/s", lambda r: r["rate"], "", None),
        ("latency p50", lambda r: r["p50_ms"], " ms", None),
        ("latency p99", lambda r: r["p99_ms"], " ms", None),
    ],
    "bulk": [
        ("MB/s per busy server-core second", lambda r: per(r["bytes"] / 1e6, cpu(r)), "", None),
        ("server CPU per MB", lambda r: per(cpu(r), r["bytes"] / 1e6, 1e6), " µs", "per MB"),
        ("(floor over loopback TCP)", lambda r: per(cpu(r), r["bytes"] / 1e6, 1e6), " µs",
         "per MB SOCKET"),
        ("(the same, reading the file)", lambda r: per(cpu(r), r["bytes"] / 1e6, 1e6), " µs",
         "per MB socket_file16k_mbps"),
        ("raw MB/s (curl-bound)", lambda r: per(r["bytes"] / 1e6, r["seconds"]), "", None),
    ],
    "idle": [
        ("RSS per idle connection",
         lambda r: per(r["rss_after_kib"] - r["rss_before_kib"], r["ready"]), " KiB", "FLOOR"),
        ("(floor with the BIOs' buffers kept)",
         lambda r: per(r["rss_after_kib"] - r["rss_before_kib"], r["ready"]), " KiB",
         "idle_kib_bios_kept"),
        ("server RSS before", lambda r: r["rss_before_kib"] / 1024, " MiB", None),
        ("server RSS with the connections", lambda r: r["rss_after_kib"] / 1024, " MiB", None),
    ],
}


def floor_value(key, row_key):
    if key and key.endswith("SOCKET"):
        key, row_key = key.removesuffix("SOCKET").strip() or "FLOOR", "socket_" + row_key
    if key == "FLOOR":
        return floor.get(row_key)
    if key and key.startswith("per MB"):
        name = key.removeprefix("per MB").strip() or row_key
        return 1e6 / floor[name] if floor.get(name) else None
    return floor.get(key) if key else None


def check_runs(row, kind, server, rs):
    """Appends to problems what makes a run of this row not what it claims to be."""
    for r in rs:
        if kind != "idle" and not r["cpu_s"]:
            problems.append(f"{row}, {server}: no server CPU measured (0 clock ticks); "
                            "the run is too short")
        if kind == "handshake":
            load = r["load"]
            # Each of the client's connection slots starts before any ticket has arrived.
            if row.startswith("resumed") and load["full"] > r["connections"]:
                problems.append(f"{row}, {server}: {load['full']} full handshakes, more than the "
                                f"{r['connections']} before the first tickets")
            if not row.startswith("resumed") and load["resumed"]:
                problems.append(f"{row}, {server}: {load['resumed']} handshakes resumed")
            if load["errors"]:
                problems.append(f"{row}, {server}: {load['errors']} errors")
        if kind == "bulk" and r["cipher"] != "TLS_AES_256_GCM_SHA384":
            problems.append(f"{row}, {server}: cipher {r['cipher']!r}")
        if kind == "idle" and (r["ready"] != r["load"].get("connections") or r["load"].get("errors")):
            problems.append(f"{row}, {server}: ready {r['ready']}, load says {r['load']}")


def show(row, kind, row_floor_key):
    runs_of = {server: group(row, server) for server in ("ours", "nginx")}
    for server, rs in runs_of.items():
        check_runs(row, kind, server, rs)
    for i, (figure, value, unit, key) in enumerate(FIGURES[kind]):
        o, n = (median([v for v in map(value, rs) if v is not None]) for rs in runs_of.values())
        line(row if i == 0 else "", figure, o, n, unit, floor_value(key, row_floor_key))
        if kind == "idle" and i == 0 and floor.get(row_floor_key):
            text_line("", "over the floor (target: at most +1 KiB)",
                      f"{o - floor[row_floor_key]:+.1f} KiB", f"{n - floor[row_floor_key]:+.1f} KiB")
    if kind == "handshake":
        counts = {}
        for server, rs in runs_of.items():
            total = {k: sum(r["load"][k] for r in rs) for k in ("resumed", "requests", "errors")}
            counts[server] = (f"{total['resumed']:,} of {total['requests']:,} resumed, "
                              f"{total['errors']:,} errors")
        text_line("", "check: resumed handshakes", counts["ours"], counts["nginx"])


for row, kind, detail in rows:
    if kind == "skipped":
        text_line(row, "skipped: " + detail, "", "")
    else:
        show(row, kind, detail)

header = ["workload", "figure", "ours", "nginx", "ours/nginx", "floor", "ours/floor", "nginx/floor"]
print()
print(f"Medians of {runs} runs. Servers on CPU 0, clients on CPU 1 (2-loop rows: servers and client share CPUs 0-1).")
print("| " + " | ".join(header) + " |")
print("|" + "---|" * len(header))
for cells in lines:
    print("| " + " | ".join(cells) + " |")
print()
if not floor:
    print("floor: skipped, bench-openssl-floor is not built in this tree")
else:
    print("floor: bench-openssl-floor (OpenSSL alone, memory BIOs, one process): " +
          ", ".join(f"{k} {v}" for k, v in floor.items() if not k.startswith("socket_")))
    print("  the keep-alive floor is one small record pair (no HTTP, no sockets); the bulk floor is")
    print("  16 KiB records; floor multiples are costs (CPU or memory) over the floor's.")
    if any(k.startswith("socket_") for k in floor):
        print("floor over loopback TCP (--sockets): the same calls with the ciphertext on a TCP")
        print("  connection: + accept4, one read() and one write() per flight or request, close;")
        print("  no epoll, no HTTP, and the peer is the same thread (nothing to wake on another")
        print("  CPU); file16k: each 256 KiB of plaintext first pread() from a 64 MiB file in the")
        print("  page cache: " + ", ".join(f"{k} {v}" for k, v in floor.items() if k.startswith("socket_")))
if any(kind == "idle" for _, kind, _ in rows):
    print("idle row: nginx allocates all its worker_connections structures at start, so they are in")
    print("  its RSS before, not in its per-connection figure; ours allocate per connection.")
for p in problems:
    print("CHECK FAILED:", p)
sys.exit(1 if problems else 0)
