#!/usr/bin/env bash
# The regression metric (not a test): instructions per TLS operation through tls::Engine, counted
# by callgrind, which is deterministic where timings on a shared machine are not; next to them
# the same count for plain OpenSSL (bench-openssl-floor's server calls), the floor.
# Usage: bench/callgrind.sh [bench-engine-workload options, e.g. --handshakes 40 --messages 1000]
#
# Builds Release, runs bench-engine-workload and then bench-openssl-floor (small counts) under
# `valgrind --tool=callgrind --collect-atstart=no` and prints one table, instructions (Ir) per
# operation:
# - server engine: collection inside the server tls::Engine's calls only (construction, feed,
#   advance with the echoing sink, peek_output/consume_output, destruction);
# - OpenSSL floor: collection inside the server SSL's calls only in bench-openssl-floor (SSL_new,
#   SSL_do_handshake, SSL_read_ex, SSL_write_ex, SSL_free over memory BIOs); its echo row is
#   the floor's small pair (80-byte request, 100-byte response);
# - engine/floor: what the engine costs over OpenSSL's own work, as a ratio;
# - both engines: client and server engines together (the 16 KiB record row has no client
#   work: nobody reads the records).
# Each phase is its own callgrind dump (see the two programs), so a figure is one dump's Ir over
# the operations in it. Runs agree to well under 1 %; a change that moves a row by more than
# that did something. Takes about a minute.
# KEEP=DIR keeps the dumps in DIR for a profile of one phase, e.g.
#   KEEP=/tmp/cg bench/callgrind.sh && grep -l 'server record_16k' /tmp/cg/workload.* |
#     xargs callgrind_annotate --inclusive=no --threshold=100
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target bench-engine-workload bench-openssl-floor >/dev/null
BIN=$PWD/build/release/bench

if [[ -n ${KEEP:-} ]]; then
  out=$KEEP
  mkdir -p "$out"
  rm -f "$out"/workload.* "$out"/floor.*
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

# $1: the dump files' prefix; the rest: the program and its arguments.
run() {
  local name=$1
  shift
  valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$out/$name.%p" \
    --log-file="$out/$name.log" "$@" >"$out/$name.stdout" ||
    {
      cat "$out/$name.log" "$out/$name.stdout" >&2
      exit 1
    }
}
run workload "$BIN/bench-engine-workload" "$@"
run floor "$BIN/bench-openssl-floor" --handshakes 40 --records 1000 --reps 1 --idle 1 --json

# Each dump names its trigger ("desc: Trigger: Client Request: server full_handshake 40") and
# its total Ir ("summary: N", or "totals: N").
python3 - "$out" <<'PY'
import glob, re, sys

rows = {}
for path in glob.glob(sys.argv[1] + "/workload.*") + glob.glob(sys.argv[1] + "/floor.*"):
    text = open(path, encoding="latin-1").read()
    trigger = re.search(r"^desc: Trigger: Client Request: (\w+) (\w+) (\d+)$", text, re.M)
    total = re.search(r"^(?:totals|summary): (\d+)", text, re.M)
    if trigger and total:
        scope, phase, count = trigger.group(1), trigger.group(2), int(trigger.group(3))
        rows[(scope, phase)] = (int(total.group(1)), count)

# (label, workload phase, floor phase)
table = [
    ("full handshake (ECDSA P-256, x25519)", "full_handshake", "full_handshake"),
    ("resumed handshake (ticket, psk_dhe_ke)", "resumed_handshake", "resumed_handshake"),
    ("echo round trip (64 bytes each way)", "echo_round_trip", "small_pair"),
    ("16 KiB record written by the server", "record_16k", "record_16k"),
]
wanted = [(s, w) for _, w, _ in table for s in ("server", "both")]
wanted += [("floor", f) for _, _, f in table]
missing = [" ".join(key) for key in wanted if key not in rows]
if missing:
    sys.exit("callgrind.sh: dumps missing: " + ", ".join(missing))


def per_op(key):
    total, count = rows[key]
    return total / count


print("operation                              | count | server engine Ir/op |"
      " OpenSSL floor Ir/op | engine/floor | both engines Ir/op")
print("---------------------------------------|------:|--------------------:|"
      "--------------------:|-------------:|-------------------:")
sums = {"server": 0, "both": 0}
for label, phase, floor_phase in table:
    server = per_op(("server", phase))
    floor = per_op(("floor", floor_phase))
    for scope in sums:
        sums[scope] += rows[(scope, phase)][0]
    print(f"{label:<38} | {rows[('server', phase)][1]:>5} | {server:>19,.0f} | {floor:>19,.0f}"
          f" | {server / floor:>12.2f} | {per_op(('both', phase)):>18,.0f}")
if ("floor", "full_handshake_rsa") in rows:
    print(f"{'full handshake RSA-2048 (floor only)':<38} |       | {'':>19} |"
          f" {per_op(('floor', 'full_handshake_rsa')):>19,.0f} |              |")
print(f"{'total Ir (the four workload phases)':<38} |       | {sums['server']:>19,} |"
      f" {'':>19} | {'':>12} | {sums['both']:>18,}")
PY
