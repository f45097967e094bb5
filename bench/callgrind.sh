#!/usr/bin/env bash
# The regression metric (not a test): instructions per TLS operation through tls::Engine, counted
# by callgrind, which is deterministic where timings on a shared machine are not.
# Usage: bench/callgrind.sh [bench-engine-workload options, e.g. --handshakes 40 --messages 1000]
#
# Builds Release (bench-engine-workload), runs it once under
# `valgrind --tool=callgrind --collect-atstart=no` and prints one table: instructions (Ir) per
# operation with collection inside the server engine's calls only, and over both engines (the
# client too; the 16 KiB record row has no client work: nobody reads the records). Each phase
# is its own callgrind dump (see bench/engine_workload.cpp), so the figures are Ir per dump over
# the operations in it. Two runs agree to well under 1 %; a change that moves a row by more
# than that did something. The run takes about a minute.
# KEEP=DIR keeps the dumps in DIR for a profile of one phase, e.g.
#   KEEP=/tmp/cg bench/callgrind.sh && grep -l 'server record_16k' /tmp/cg/cg.out.* |
#     xargs callgrind_annotate --inclusive=no --threshold=100
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target bench-engine-workload >/dev/null
BIN=$PWD/build/release/bench/bench-engine-workload

if [[ -n ${KEEP:-} ]]; then
  out=$KEEP
  mkdir -p "$out"
  rm -f "$out"/cg.out*
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out/cg.out" \
  --log-file="$out/valgrind.log" "$BIN" "$@" >"$out/stdout" ||
  {
    cat "$out/valgrind.log" "$out/stdout" >&2
    exit 1
  }

# Each dump file names its trigger ("desc: Trigger: Client Request: server full_handshake 40")
# and its total Ir ("totals: N", or "summary: N" without totals).
python3 - "$out" <<'EOF'
import glob, re, sys

rows = {}
for path in glob.glob(sys.argv[1] + "/cg.out*"):
    text = open(path).read()
    trigger = re.search(r"^desc: Trigger: Client Request: (\w+) (\w+) (\d+)$", text, re.M)
    if not trigger:
        continue
    total = re.search(r"^(?:totals|summary): (\d+)", text, re.M)
    scope, phase, count = trigger.group(1), trigger.group(2), int(trigger.group(3))
    rows.setdefault(phase, {})[scope] = (int(total.group(1)) if total else 0, count)

names = [
    ("full_handshake", "full handshake (ECDSA P-256, x25519)"),
    ("resumed_handshake", "resumed handshake (ticket, psk_dhe_ke)"),
    ("echo_round_trip", "echo round trip (64 bytes each way)"),
    ("record_16k", "16 KiB record written by the server"),
]
if any(phase not in rows or len(rows[phase]) != 2 for phase, _ in names):
    sys.exit("callgrind.sh: a phase's dump is missing")
print("operation                              | count | server engine Ir/op | both engines Ir/op")
print("---------------------------------------|------:|--------------------:|-------------------:")
totals = {"server": 0, "both": 0}
for phase, label in names:
    (server, count), (both, _) = rows[phase]["server"], rows[phase]["both"]
    totals["server"] += server
    totals["both"] += both
    print(f"{label:<38} | {count:>5} | {server / count:>19,.0f} | {both / count:>18,.0f}")
print(f"{'total (all operations above)':<38} |       | {totals['server']:>19,} | {totals['both']:>18,}")
EOF
