#!/usr/bin/env bash
# What a route lookup costs a proxied request, in instructions (a profile, not a test):
# tlsreactor-proxy (plain HTTP, one loop, access log off) under `valgrind --tool=callgrind`, in
# front of tlsreactor-hello, driven by `wrk -t1 -c10` on loopback, twice: with one pool (GET /)
# and with bench/proxy.sh's table of 100 hosts x 10 path prefixes plus a default route (Host
# h57.example.com, GET /p7/, rewritten to / for the upstream, so the upstream does the same work).
# Usage: bench/route_ir.sh [SHORT_SECONDS LONG_SECONDS]   (default 3 and 9)
#
# Method (as bench/keepalive_ir.sh): after a warm-up, two wrk runs of different lengths, each
# its own callgrind dump; the difference of the dumps over the difference of their request
# counts is the cost of one request alone, without the 10 connects and closes. Prints Ir per
# request for both and their ratio, and the functions whose exclusive cost differs most.
set -euo pipefail
cd "$(dirname "$0")/.."
SHORT=${1:-3}
LONG=${2:-9}

. bench/lib.sh
bench_build tlsreactor-hello tlsreactor-proxy >/dev/null
bench_setup

write_route_table "$WORK/routes.toml"

start_app "$WORK/hello.log" "$BUILD/apps/hello/tlsreactor-hello" --listen 127.0.0.1:0 --threads 1 \
  --idle-timeout 0
UPSTREAM=127.0.0.1:$APP_PORT

# profile NAME PATH [proxy options...]: leaves NAME.short, NAME.long and NAME.requests in $WORK.
profile() {
  local name=$1 path=$2
  shift 2
  start_app "$WORK/$name.log" valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.%p" \
    "$BUILD/apps/proxy/tlsreactor-proxy" --plain --listen 127.0.0.1:0 --threads 1 \
    --idle-timeout 0 --access-log off --upstream "http://$UPSTREAM" "$@"
  local pid=$APP_PID port=$APP_PORT
  requests() {
    wrk -t1 -c10 -d"$1"s -H "Host: h57.example.com" "http://127.0.0.1:$port$path" |
      awk '/requests in/ { print $1 }'
  }
  dump() {
    callgrind_control --dump="$1" "$pid" >/dev/null
    for _ in $(seq 100); do
      if grep -qs "^desc: Trigger: .*$1" "$WORK/$name".[0-9]*; then break; fi
      sleep 0.1
    done
  }
  requests 2 >/dev/null
  dump warmup
  local short long
  short=$(requests "$SHORT")
  dump short
  long=$(requests "$LONG")
  dump long
  cp "$(grep -ls '^desc: Trigger: .*short' "$WORK/$name".[0-9]*)" "$WORK/$name.short"
  cp "$(grep -ls '^desc: Trigger: .*long' "$WORK/$name".[0-9]*)" "$WORK/$name.long"
  echo "$short $long" >"$WORK/$name.requests"
  stop "$pid"
}

profile one-pool /
profile routed /p7/ --config "$WORK/routes.toml"

python3 - "$WORK" <<'EOF'
import subprocess, sys
sys.path.insert(0, "bench")
from callgrind_text import parse
work = sys.argv[1]
def functions(path):
    return parse(subprocess.run(["callgrind_annotate", "--threshold=100", path],
                                capture_output=True, text=True).stdout.splitlines())
def per_request(name):
    short_n, long_n = map(int, open(f"{work}/{name}.requests").read().split())
    (st, sf), (lt, lf) = functions(f"{work}/{name}.short"), functions(f"{work}/{name}.long")
    n = long_n - short_n
    if n <= 0:
        sys.exit(f"route_ir: {name}: the long run made no more requests than the short")
    return (lt - st) / n, {k: (lf.get(k, 0) - sf.get(k, 0)) / n for k in set(sf) | set(lf)}
one, one_f = per_request("one-pool")
routed, routed_f = per_request("routed")
print(f"route_ir: one pool {one:,.0f} Ir/request, 1000 routes {routed:,.0f} Ir/request: "
      f"{routed - one:+,.0f} ({(routed / one - 1) * 100:+.1f} %)")
print("  exclusive Ir per request that differ most (one pool, routed, difference):")
rows = sorted(((routed_f.get(k, 0) - one_f.get(k, 0)), k) for k in set(one_f) | set(routed_f))
for d, k in sorted(rows, key=lambda r: -abs(r[0]))[:12]:
    print(f"  {one_f.get(k, 0):8,.0f} {routed_f.get(k, 0):8,.0f} {d:+7,.0f}  {k[:100]}")
EOF
