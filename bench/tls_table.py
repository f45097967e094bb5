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
    """One figure: medians of ours and nginx, their ratio, and (for a cost) multiples of the floor."""
    ratio = ours / nginx if nginx else float("nan")
    cells = [workload, figure, fmt(ours, unit), fmt(nginx, unit), times(ratio)]
    if floor_value:
        cells += [fmt(floor_value, unit), times(ours / floor_value), times(nginx / floor_value)]
    else:
        cells += ["", "", ""]
    lines.append(cells)


def text_line(workload, figure, ours, nginx):
    lines.append([workload, figure, ours, nginx, "", "", "", ""])


def handshake(row, floor_key):
    want_resumed = floor_key == "resumed_us"
    per = {}
    for server in ("ours", "nginx"):
        rs = group(row, server)
        ops = [r["load"]["full"] + r["load"]["resumed"] for r in rs]
        per[server] = {
            "per_core": median([o / r["cpu_s"] for o, r in zip(ops, rs) if r["cpu_s"]]),
            "us": median([r["cpu_s"] / o * 1e6 for o, r in zip(ops, rs) if o and r["cpu_s"]]),
            "rate": median([r["load"]["rate"] for r in rs]),
            "p99": median([r["load"]["p99_ms"] for r in rs]),
            "client_us": median([r["load"]["client_cpu_s"] / o * 1e6 for o, r in zip(ops, rs) if o]),
            "check": "%s of %s resumed, %s errors" % (
                f'{sum(r["load"]["resumed"] for r in rs):,}',
                f'{sum(r["load"]["requests"] for r in rs):,}',
                f'{sum(r["load"]["errors"] for r in rs):,}'),
        }
        for r in rs:
            load = r["load"]
            if want_resumed and load["resumed"] < 0.95 * load["requests"]:
                problems.append(f"{row}, {server}: only {load['resumed']} of {load['requests']} resumed")
            if not want_resumed and load["resumed"]:
                problems.append(f"{row}, {server}: {load['resumed']} handshakes resumed")
            if load["errors"]:
                problems.append(f"{row}, {server}: {load['errors']} errors")
    o, n = per["ours"], per["nginx"]
    line(row, "handshakes per busy server-core second", o["per_core"], n["per_core"])
    line("", "server CPU per handshake", o["us"], n["us"], " µs", floor.get(floor_key))
    line("", "raw handshakes/s (client-bound)", o["rate"], n["rate"])
    line("", "p99 connect+handshake+GET", o["p99"], n["p99"], " ms")
    line("", "load client CPU per handshake", o["client_us"], n["client_us"], " µs")
    text_line("", "check: resumed handshakes", o["check"], n["check"])


def keepalive(row, floor_key):
    per = {}
    for server in ("ours", "nginx"):
        rs = group(row, server)
        per[server] = {
            "per_core": median([r["requests"] / r["cpu_s"] for r in rs if r["cpu_s"]]),
            "us": median([r["cpu_s"] / r["requests"] * 1e6 for r in rs if r["cpu_s"]]),
            "rate": median([r["rate"] for r in rs]),
            "p50": median([r["p50_ms"] for r in rs]),
            "p99": median([r["p99_ms"] for r in rs]),
        }
    o, n = per["ours"], per["nginx"]
    line(row, "requests per busy server-core second", o["per_core"], n["per_core"])
    line("", "server CPU per request", o["us"], n["us"], " µs", floor.get(floor_key))
    line("", "raw requests/s", o["rate"], n["rate"])
    line("", "latency p50", o["p50"], n["p50"], " ms")
    line("", "latency p99", o["p99"], n["p99"], " ms")


def bulk(row, floor_key):
    per = {}
    for server in ("ours", "nginx"):
        rs = group(row, server)
        for r in rs:
            if r["cipher"] != "TLS_AES_256_GCM_SHA384":
                problems.append(f"{row}, {server}: cipher {r['cipher']!r}")
        per[server] = {
            "per_core": median([r["bytes"] / 1e6 / r["cpu_s"] for r in rs if r["cpu_s"]]),
            "us_per_mb": median([r["cpu_s"] * 1e6 / (r["bytes"] / 1e6) for r in rs if r["cpu_s"]]),
            "rate": median([r["bytes"] / 1e6 / r["seconds"] for r in rs]),
        }
    o, n = per["ours"], per["nginx"]
    floor_us_per_mb = 1e6 / floor["record16k_mbps"] if floor.get("record16k_mbps") else None
    line(row, "MB/s per busy server-core second", o["per_core"], n["per_core"])
    line("", "server CPU per MB", o["us_per_mb"], n["us_per_mb"], " µs", floor_us_per_mb)
    line("", "raw MB/s (curl-bound)", o["rate"], n["rate"])


def idle(row, floor_key):
    per = {}
    for server in ("ours", "nginx"):
        rs = group(row, server)
        for r in rs:
            if r["ready"] != r["load"].get("connections") or r["load"].get("errors"):
                problems.append(f"{row}, {server}: ready {r['ready']}, load says {r['load']}")
        per[server] = {
            "kib": median([(r["rss_after_kib"] - r["rss_before_kib"]) / r["ready"] for r in rs]),
            "before": median([r["rss_before_kib"] / 1024 for r in rs]),
            "after": median([r["rss_after_kib"] / 1024 for r in rs]),
        }
    o, n = per["ours"], per["nginx"]
    line(row, "RSS per idle connection", o["kib"], n["kib"], " KiB",
         floor.get(floor_key))
    if floor.get(floor_key):
        text_line("", "over the floor (target: at most +1 KiB)",
                  f'{o["kib"] - floor[floor_key]:+.1f} KiB', f'{n["kib"] - floor[floor_key]:+.1f} KiB')
    if floor.get("idle_kib_bios_kept"):
        line("", "(floor with the BIOs' buffers kept)", o["kib"], n["kib"], " KiB",
             floor["idle_kib_bios_kept"])
    line("", "server RSS before", o["before"], n["before"], " MiB")
    line("", "server RSS with the connections", o["after"], n["after"], " MiB")


SHOW = {"handshake": handshake, "keepalive": keepalive, "bulk": bulk, "idle": idle}
for row, kind, detail in rows:
    for r in results:
        if r["row"] == row and kind != "idle" and r["cpu_s"] == 0:
            problems.append(f"{row}, {r['server']}: no server CPU measured (0 clock ticks); "
                            "the run is too short")
    if kind == "skipped":
        text_line(row, "skipped: " + detail, "", "")
    else:
        SHOW[kind](row, detail)

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
          ", ".join(f"{k} {v}" for k, v in floor.items()))
    print("  the keep-alive floor is one small record pair (no HTTP, no sockets); the bulk floor is")
    print("  16 KiB records; floor multiples are costs (CPU or memory) over the floor's.")
if any(kind == "idle" for _, kind, _ in rows):
    print("idle row: nginx allocates all its worker_connections structures at start, so they are in")
    print("  its RSS before, not in its per-connection figure; ours allocate per connection.")
for p in problems:
    print("CHECK FAILED:", p)
sys.exit(1 if problems else 0)
