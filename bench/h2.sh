#!/usr/bin/env bash
# The HTTP/2 benchmark (not a test), loopback only, in one run that prints two tables:
# tlsreactor-hello --tls against nginx (`listen ... ssl http2`, a `return 200` of the same
# 22-byte body), and tlsreactor-proxy against nginx `proxy_pass` (both HTTP/2 to the client,
# HTTP/1.1 with keep-alive to the same upstream). Usage: bench/h2.sh [REQUESTS per run, default
# 200000]; H2_PARTS="server proxy" (the default) picks the tables.
#
# Method
# - Servers, each started alone and stopped before the other starts, alternating hello, nginx,
#   hello, nginx, ... (RUNS, default 3, each) so a change in the machine's background load hits
#   both: tlsreactor-hello --threads 1; nginx with one worker, access_log off,
#   keepalive_requests high enough that no connection is sent away mid-run. The same ECDSA P-256
#   certificate, TLS 1.3 only, ALPN h2.
# - CPUs: the server on CPU 0, h2load on CPU 1.
# - Load: h2load -c 100 -m 10 -n REQUESTS (100 connections, 10 streams in flight on each) for
#   GET /, after a warm-up of REQUESTS/10. Every run must end with all requests 2xx.
# - Figures: requests per busy server-core second (h2load's request count over utime + stime of
#   the server's processes from /proc/PID/stat, read around the measured run: what the rate
#   would be on a dedicated core, the least noisy figure on a shared machine), h2load's req/s,
#   and the p99 of the request times in h2load's --log-file. The table shows medians.
# - Through a proxy: the upstream is tlsreactor-hello, plain HTTP, one loop, on CPU 1 with
#   h2load (as in bench/proxy.sh; the same for both proxies). tlsreactor-proxy --threads 1 and
#   nginx (one worker, bench/lib.sh's start_proxy_nginx with `listen ... ssl http2`) on CPU 0,
#   alternating. -c 100 -m 10 keeps up to 1,000 requests in flight, each on an upstream
#   connection of its own, so both keep KEEPALIVE (default 1000) idle upstream connections
#   (tlsreactor-proxy --upstream-keepalive, nginx `keepalive`): after the warm-up neither
#   reconnects, and the figure is the forwarding path's. "Busy proxy-core second" counts only
#   the proxy's CPU, not the upstream's.
# - HELLO_BIN=PATH / PROXY_BIN=PATH measure another build of the server hello / the proxy (a
#   before/after comparison); the upstream is always this tree's release build.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
RUNS=${RUNS:-3}
CONNECTIONS=100
STREAMS=10
PARTS=${H2_PARTS:-server proxy}
KEEPALIVE=${KEEPALIVE:-1000}

. bench/lib.sh
bench_build tlsreactor-hello tlsreactor-proxy
BIN=$BUILD/apps
bench_need_cpus 2
bench_setup
make_cert ec "$WORK/cert.pem" "$WORK/key.pem"
BODY="hello from tlsreactor\n"

start_hello() {
  start_app "$WORK/hello.log" taskset -c 0 "${HELLO_BIN:-$BIN/hello/tlsreactor-hello}" --tls \
    --cert "$WORK/cert.pem" --key "$WORK/key.pem" --listen 127.0.0.1:0 --threads 1 \
    --idle-timeout 0
  SERVER_PID=$APP_PID
  SERVER_PORT=$APP_PORT
  SERVER_PIDS=("$APP_PID")
}

start_h2_nginx() {
  SERVER_PORT=$(free_port)
  start_nginx "$WORK/nginx" 0 1 1024 "$SERVER_PORT" "
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$SERVER_PORT ssl http2;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.3;
    location / {
      default_type text/plain;
      return 200 \"$BODY\";
    }
  }"
}

measure() {
  local name=$1 url="https://127.0.0.1:$SERVER_PORT/"
  [[ $(curl -sk --http2 -w '%{http_version}' -o /dev/null "$url") == 2 ]] || {
    echo "bench: $name does not answer $url over HTTP/2" >&2
    exit 1
  }
  taskset -c 1 h2load -c"$CONNECTIONS" -m"$STREAMS" -n$((N / 10)) "$url" >/dev/null
  local before after out
  # h2load appends to its --log-file: without this each run's p99 would be taken over every
  # earlier run's requests too (the first figures of this bench were, the servers' mixed).
  rm -f "$WORK/h2load.log"
  before=$(cpu_ticks "${SERVER_PIDS[@]}")
  out=$(taskset -c 1 h2load -c"$CONNECTIONS" -m"$STREAMS" -n"$N" --log-file="$WORK/h2load.log" \
    "$url")
  after=$(cpu_ticks "${SERVER_PIDS[@]}")
  if ! grep -q "status codes: $N 2xx" <<<"$out"; then
    echo "bench: $name: not every request got a 2xx" >&2
    echo "$out" >&2
    exit 1
  fi
  local rps p99
  rps=$(awk '/^finished in/ { print $4 }' <<<"$out")
  # --log-file: start time, status, request time in microseconds, tab-separated.
  p99=$(sort -n -k3,3 "$WORK/h2load.log" | awk '{ t[NR] = $3 } END { print t[int(NR * 0.99)] / 1000 }')
  echo "$name $rps $p99 $N $((after - before))" >>"$WORK/results"
  printf '  %-16s run %d: %9.0f req/s  p99 %7.3f ms  CPU %5.2f s\n' \
    "$name" "$run" "$rps" "$p99" "$(awk "BEGIN { print $((after - before)) / $CLK_TCK }")"
}

echo
echo "bench: $RUNS x h2load -c$CONNECTIONS -m$STREAMS -n$N per server, loopback, TLS 1.3, h2;" \
  "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ " $PARTS " == *" server "* ]]; then
  for run in $(seq "$RUNS"); do
    start_hello
    measure tlsreactor-hello
    stop "$SERVER_PID"
    start_h2_nginx
    measure nginx
    stop "$SERVER_PID"
  done
fi
if [[ " $PARTS " == *" proxy "* ]]; then
  start_app "$WORK/upstream.log" taskset -c 1 "$BIN/hello/tlsreactor-hello" \
    --listen 127.0.0.1:0 --threads 1 --idle-timeout 0
  UPSTREAM_PID=$APP_PID
  UPSTREAM_PORT=$APP_PORT
  for run in $(seq "$RUNS"); do
    start_tlsreactor_proxy "$UPSTREAM_PORT" --upstream-keepalive "$KEEPALIVE" --idle-timeout 0
    measure tlsreactor-proxy
    stop "$SERVER_PID"
    start_proxy_nginx "$UPSTREAM_PORT" "$KEEPALIVE" http2
    measure nginx-proxy
    stop "$SERVER_PID"
  done
  stop "$UPSTREAM_PID"
fi

python3 - "$WORK/results" "$CLK_TCK" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rps, p99, total, ticks = line.split()
    rows.setdefault(name, []).append((float(rps), float(p99), int(total) / (int(ticks) / float(sys.argv[2]))))
f = {n: [statistics.median(r[i] for r in rows[n]) for i in range(3)] for n in rows}
for ours, theirs, label, ratio in (("tlsreactor-hello", "nginx", "nginx 1 worker", "hello / nginx"),
                                   ("tlsreactor-proxy", "nginx-proxy", "nginx 1 worker proxy_pass",
                                    "proxy / nginx")):
    if ours not in f:
        continue
    h, n = f[ours], f[theirs]
    print()
    print("| h2load -c 100 -m 10, medians of %d runs | requests per busy server-core second | requests/s | p99 |" % len(rows[theirs]))
    print("|---|---|---|---|")
    for name, v in ((ours, h), (label, n)):
        print(f"| {name} | {v[2]:.0f} | {v[0]:.0f} | {v[1]:.2f} ms |")
    print(f"| {ratio} | {h[2] / n[2]:.2f} | {h[0] / n[0]:.2f} | {h[1] / n[1]:.2f} |")
EOF
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
