#!/usr/bin/env bash
# Whole-server instructions per keep-alive request (a profile, not a test): tlsreactor-hello
# --tls under `valgrind --tool=callgrind`, driven by `wrk -t1 -c10 GET /` on loopback.
# Usage: bench/keepalive_ir.sh [SHORT_SECONDS LONG_SECONDS]   (default 3 and 9)
#
# Method: after a warm-up run, two wrk runs of different lengths, each its own callgrind dump
# (callgrind_control --dump between them). Both make the same 10 handshakes and closes, so the
# difference of the two dumps over the difference of their request counts is the cost of a
# request alone: Ir per request, and the inclusive Ir per request of the functions that matter
# (the top of `callgrind_annotate --inclusive=yes` over that difference). Counts depend on
# valgrind's CPU model; compare them only with other runs of this script.
# KEEP=DIR keeps the two dumps (short.out, long.out) for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
SHORT=${1:-3}
LONG=${2:-9}

. bench/lib.sh
bench_build tlsreactor-hello >/dev/null
bench_setup

start_app "$WORK/hello.log" valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.%p" \
  "$BUILD/apps/hello/tlsreactor-hello" --tls --listen 127.0.0.1:0 --threads 1 \
  --idle-timeout 0 --dev-cert-dir "$WORK"
url="https://127.0.0.1:$APP_PORT/"
requests() { wrk -t1 -c10 -d"$1"s "$url" | awk '/requests in/ { print $1 }'; }
dump() {
  callgrind_control --dump="$1" "$APP_PID" >/dev/null
  # The dump is written by the server's next loop turn; the newest file is the one just asked.
  for _ in $(seq 100); do
    if grep -qs "^desc: Trigger: .*$1" "$WORK"/cg.*; then break; fi
    sleep 0.1
  done
}

requests 2 >/dev/null # warm-up: the loop's and OpenSSL's first-use allocations
dump warmup
short=$(requests "$SHORT")
dump short
long=$(requests "$LONG")
dump long
short_file=$(grep -ls '^desc: Trigger: .*short' "$WORK"/cg.*)
long_file=$(grep -ls '^desc: Trigger: .*long' "$WORK"/cg.*)
if [[ -n ${KEEP:-} ]]; then
  mkdir -p "$KEEP"
  cp "$short_file" "$KEEP/short.out"
  cp "$long_file" "$KEEP/long.out"
  echo "$short $long" >"$KEEP/requests"
fi

annotate() { callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null; }
python3 - "$short" "$long" <(annotate "$short_file") <(annotate "$long_file") <<'EOF'
import sys
sys.path.insert(0, "bench")
from callgrind_text import parse as parse_lines
short_n, long_n = int(sys.argv[1]), int(sys.argv[2])
def parse(path):
    return parse_lines(open(path))
(st, sf), (lt, lf) = parse(sys.argv[3]), parse(sys.argv[4])
n = long_n - short_n
if n <= 0:
    sys.exit(f"keepalive_ir: the long run made no more requests ({long_n}) than the short ({short_n})")
print(f"keepalive_ir: {short_n} and {long_n} requests; {(lt - st) / n:,.0f} Ir per request")
# wrk reconnects after a timeout (a loaded machine): then the runs' handshakes differ and the
# difference is off by their cost.
handshakes = (lf.get("SSL_do_handshake  [libssl.so.3]", 0) - sf.get("SSL_do_handshake  [libssl.so.3]", 0)) / n
if abs(handshakes) > 20:
    print(f"keepalive_ir: WARNING the two runs made different handshakes ({handshakes:+,.0f} Ir per "
          "request in SSL_do_handshake): run again on a quieter machine")
print("  inclusive Ir per request (functions over 2 % of a request):")
rows = sorted(((lf.get(k, 0) - sf.get(k, 0)) / n, k) for k in set(lf) | set(sf))
for ir, name in reversed(rows):
    if ir >= 0.02 * (lt - st) / n:
        print(f"  {ir:10,.0f}  {name[:110]}")
EOF
