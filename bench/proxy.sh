#!/usr/bin/env bash
# The proxy benchmark (not a test): tlsreactor-proxy against nginx `proxy_pass`, both
# terminating TLS in front of the same plain-HTTP upstream, loopback only, in one run that
# prints one table. Usage: bench/proxy.sh [SECONDS per run, default 10]
#
# Method
# - Upstream: tlsreactor-hello, one loop, plain HTTP, answering GET / with 22 bytes.
# - The two proxies, each started alone and stopped before the other starts, alternating
#   proxy, nginx, proxy, nginx, ... so a change in the machine's background load hits both:
#     tlsreactor-proxy --threads 1, access log off, upstream keep-alive pool (its default);
#     nginx, one worker, access_log off, `proxy_pass` to an `upstream` block with `keepalive
#     32`, proxy_http_version 1.1 and no Connection header to the upstream, the same
#     forwarding headers the proxy adds (X-Forwarded-For, X-Forwarded-Proto, Via), and no
#     request limit on keep-alive on either side.
#   Both present the same ECDSA P-256 certificate and key, and only TLS 1.3.
# - CPUs: each proxy is pinned to CPU 0, wrk and the upstream to CPU 1 (on a 2-core machine the
#   upstream has nowhere else to go; it is the same for both proxies). The proxy's CPU is then
#   not shared with the load generator.
# - Load: wrk -t1 -c50 --latency over TLS with keep-alive: 50 connections, so the handshakes
#   are a negligible part; a 2 s warm-up, then the measured run. Each proxy gets RUNS (5) runs; the
#   table shows medians, which a run disturbed by another process on the machine does not move.
# - Server CPU: utime + stime from /proc/PID/stat (for nginx summed over master and worker)
#   read before and after the measured run. "CPU/request" is that time over wrk's request
#   count; "req per core-s" is requests per second of CPU the proxy actually used, which is
#   what the throughput would be on a dedicated core, and is the least noisy figure when the
#   machine is shared.
# - Upstream connections: nginx's `keepalive 32` closes an idle connection the moment 32 others
#   are idle, so with 50 clients it reconnects for a part of its requests (strace: ~0.05-0.17
#   connects per request, by load); tlsreactor-proxy keeps an idle surplus until a 1 s sweep
#   finds it unused. NGINX_KEEPALIVE=64 gives nginx a pool above the client count: no
#   reconnects, the like-for-like figure for the forwarding path alone.
# - PROXY_BIN=PATH measures another build of tlsreactor-proxy (a before/after comparison).
# - Routing (a third table; ROUTES=0 skips it): the one-pool proxy, the proxy with a [[route]]
#   table of 100 hosts x 10 path prefixes, and nginx with the same 100 `server` blocks of 10
#   `location`s; each request matches one prefix, which both rewrite to / for the upstream.
# - WebSockets (a second table, skipped without node and node-ws): the same two proxies, nginx
#   with `proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header
#   Connection "upgrade";`, in front of a Node ws echo server (bench/ws_load.js serve, CPU 1).
#   The load (bench/ws_load.js load, CPU 1): 16 wss:// connections, each with 8 binary messages
#   in flight, for 64-byte and 16 KiB messages, WS_SECONDS (default: SECONDS) per run, RUNS runs
#   alternating as above. The figure is echoed messages per busy proxy-core second (each
#   message crosses the proxy twice); the load generator and the echo server, not the proxy,
#   bound the rate, so messages/s alone says little.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
RUNS=${RUNS:-5}
CONNECTIONS=50
WARMUP=2
NGINX_KEEPALIVE=${NGINX_KEEPALIVE:-32}

. bench/lib.sh
bench_build tlsreactor-hello tlsreactor-proxy
BIN=$BUILD/apps
bench_need_cpus 2
bench_setup

# --- the shared certificate and the upstream ---------------------------------------------------
make_cert ec "$WORK/cert.pem" "$WORK/key.pem"

start_app "$WORK/hello.log" taskset -c 1 "$BIN/hello/tlsreactor-hello" --listen 127.0.0.1:0 \
  --threads 1
UPSTREAM_PORT=$APP_PORT
curl -sf "http://127.0.0.1:$UPSTREAM_PORT/" >/dev/null

# --- the two proxies ---------------------------------------------------------------------------
# start_tlsreactor [UPSTREAM_PORT]: in front of the hello upstream unless another port is given.
start_tlsreactor() {
  start_tlsreactor_proxy "${1:-$UPSTREAM_PORT}"
}

# measure NAME [PATH HOST [RESULTS]]: GET PATH (default /) with Host: HOST (default the address).
measure() {
  local name=$1 url="https://127.0.0.1:$SERVER_PORT${2:-/}" results=${4:-$WORK/results}
  local host=()
  [[ -n ${3:-} ]] && host=(-H "Host: $3")
  curl -sfk "${host[@]}" "$url" >/dev/null || {
    echo "bench: $name does not answer $url ${host[*]}" >&2
    exit 1
  }
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "${host[@]}" "$url" >/dev/null
  local before after out
  before=$(cpu_ticks "${SERVER_PIDS[@]}")
  out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "${host[@]}" "$url")
  after=$(cpu_ticks "${SERVER_PIDS[@]}")
  read -r rps p50 p99 total < <(parse_wrk <<<"$out")
  echo "$name $rps $p50 $p99 $total $((after - before))" >>"$results"
  printf '  %-16s run %d: %9.0f req/s  p50 %6.3f ms  p99 %6.3f ms  CPU %5.2f s\n' \
    "$name" "$run" "$rps" "$p50" "$p99" "$(awk "BEGIN { print $((after - before)) / $CLK_TCK }")"
}

echo
echo "bench: $RUNS x ${DURATION}s per proxy, wrk -t1 -c$CONNECTIONS, loopback, TLS 1.3," \
  "nginx upstream keepalive $NGINX_KEEPALIVE;" \
  "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$RUNS"); do
  start_tlsreactor
  measure tlsreactor-proxy
  stop "$SERVER_PID"
  start_proxy_nginx "$UPSTREAM_PORT" "$NGINX_KEEPALIVE"
  measure nginx
  # nginx's graceful stop is SIGQUIT; SIGTERM is its fast one, fine once the load has ended.
  stop "$SERVER_PID"
done

python3 - "$WORK/results" "$CLK_TCK" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99, total, ticks = line.split()
    rows.setdefault(name, []).append(
        (float(rps), float(p50), float(p99), int(total), int(ticks) / float(sys.argv[2])))
def med(name, i):
    return statistics.median(r[i] for r in rows[name])
def cpu_per_request_us(name):
    return statistics.median(r[4] / r[3] * 1e6 for r in rows[name])
def per_core_second(name):
    return statistics.median(r[3] / r[4] for r in rows[name])
figures = {n: (med(n, 0), med(n, 1), med(n, 2), cpu_per_request_us(n), per_core_second(n))
           for n in ("tlsreactor-proxy", "nginx")}
p, n = figures["tlsreactor-proxy"], figures["nginx"]
print()
print("| medians of %d runs | requests/s | p50 | p99 | server CPU/request | requests per busy server-core second |" % len(rows["nginx"]))
print("|---|---|---|---|---|---|")
for name, f in (("tlsreactor-proxy", p), ("nginx 1 worker", n)):
    print(f"| {name} | {f[0]:.0f} | {f[1]:.3f} ms | {f[2]:.3f} ms | {f[3]:.1f} us | {f[4]:.0f} |")
print(f"| proxy / nginx | {p[0] / n[0]:.2f} | {p[1] / n[1]:.2f} | {p[2] / n[2]:.2f} | {p[3] / n[3]:.2f} | {p[4] / n[4]:.2f} |")
EOF
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- Routing (ROUTES=0 skips) ---------------------------------------------------------------------
# The same load through a route table of 100 hosts x 10 path prefixes plus a default route
# ([[route]] tables; nginx: 100 `server` blocks of 10 `location`s and a default server), to the
# 58th host's 8th prefix, which both rewrite to / (`rewrite-prefix = "/"`; `proxy_pass
# http://hello/;`). Against the one-pool proxy in the same run: what matching a request costs.
if [[ ${ROUTES:-1} != 0 ]]; then
  ROUTE_HOST=h57.example.com
  ROUTE_PATH=/p7/
  write_route_table "$WORK/routes.toml"
  start_routed_nginx() {
    SERVER_PORT=$(free_port)
    local servers
    servers=$(
      python3 - "$SERVER_PORT" "$WORK" <<'EOF'
import sys
port, work = sys.argv[1], sys.argv[2]
forward = ('proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; '
           'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; '
           'proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header Via "1.1 nginx"; '
           'add_header Via "1.1 nginx";')
tls = (f"ssl_certificate {work}/cert.pem; ssl_certificate_key {work}/key.pem; "
       "ssl_protocols TLSv1.3;")
print(f"server {{ listen 127.0.0.1:{port} ssl default_server; {tls} "
      f"location / {{ proxy_pass http://hello; {forward} }} }}")
for h in range(100):
    locations = " ".join(f"location /p{p}/ {{ proxy_pass http://hello/; {forward} }}"
                         for p in range(10))
    print(f"server {{ listen 127.0.0.1:{port} ssl; server_name h{h}.example.com; {tls} "
          f"{locations} }}")
EOF
    )
    start_nginx "$WORK/nginx" 0 1 4096 "$SERVER_PORT" "
    keepalive_requests 1000000000;
    upstream hello {
      server 127.0.0.1:$UPSTREAM_PORT;
      keepalive $NGINX_KEEPALIVE;
      keepalive_requests 1000000000;
    }
    $servers"
  }
  echo
  echo "bench: routing, $RUNS x ${DURATION}s each: one pool, 1000 routes, nginx with 1000 locations"
  for run in $(seq "$RUNS"); do
    start_tlsreactor
    measure one-pool / "" "$WORK/route-results"
    stop "$SERVER_PID"
    start_tlsreactor_proxy "$UPSTREAM_PORT" --config "$WORK/routes.toml"
    measure routed "$ROUTE_PATH" "$ROUTE_HOST" "$WORK/route-results"
    stop "$SERVER_PID"
    start_routed_nginx
    measure nginx-routed "$ROUTE_PATH" "$ROUTE_HOST" "$WORK/route-results"
    stop "$SERVER_PID"
  done
  python3 - "$WORK/route-results" "$CLK_TCK" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, rps, p50, p99, total, ticks = line.split()
    rows.setdefault(name, []).append(
        (float(rps), float(p99), int(total) / (int(ticks) / float(sys.argv[2]))))
med = {n: [statistics.median(r[i] for r in rows[n]) for i in range(3)] for n in rows}
print()
print("| routing, medians of %d runs | requests/s | p99 | requests per busy server-core second |"
      % len(rows["routed"]))
print("|---|---|---|---|")
for name, label in (("one-pool", "tlsreactor-proxy, one pool"),
                    ("routed", "tlsreactor-proxy, 1000 routes"),
                    ("nginx-routed", "nginx 1 worker, 1000 locations")):
    f = med[name]
    print(f"| {label} | {f[0]:.0f} | {f[1]:.3f} ms | {f[2]:.0f} |")
r, o, n = med["routed"], med["one-pool"], med["nginx-routed"]
print(f"| routed / one pool | {r[0] / o[0]:.2f} | | {r[2] / o[2]:.2f} |")
print(f"| routed / nginx routed | {r[0] / n[0]:.2f} | | {r[2] / n[2]:.2f} |")
EOF
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

# --- WebSockets ----------------------------------------------------------------------------------
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}
if ! node -e "require('ws')" 2>/dev/null; then
  echo "bench: no node ws module: the WebSocket table is skipped"
  exit 0
fi
WS_SECONDS=${WS_SECONDS:-$DURATION}
start_app "$WORK/ws-echo.log" taskset -c 1 node bench/ws_load.js serve
WS_UPSTREAM_PORT=$APP_PORT

start_ws_nginx() {
  SERVER_PORT=$(free_port)
  start_nginx "$WORK/nginx" 0 1 1024 "$SERVER_PORT" "
  server {
    listen 127.0.0.1:$SERVER_PORT ssl;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.3;
    location = / { return 200 ok; }
    location / {
      proxy_pass http://127.0.0.1:$WS_UPSTREAM_PORT;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \"upgrade\";
      proxy_read_timeout 3600s;
    }
  }"
}

measure_ws() {
  local name=$1 size=$2 before after out
  before=$(cpu_ticks "${SERVER_PIDS[@]}")
  out=$(taskset -c 1 node bench/ws_load.js load "wss://127.0.0.1:$SERVER_PORT/ws" "$size" \
    "$WS_SECONDS" 16 8)
  after=$(cpu_ticks "${SERVER_PIDS[@]}")
  local messages=${out##* }
  echo "$name $size $messages $((after - before))" >>"$WORK/ws-results"
  printf '  %-16s %5d B run %d: %9.0f messages/s  CPU %5.2f s\n' "$name" "$size" "$run" \
    "$(awk "BEGIN { print $messages / $WS_SECONDS }")" \
    "$(awk "BEGIN { print $((after - before)) / $CLK_TCK }")"
}

echo
echo "bench: WebSockets, $RUNS x ${WS_SECONDS}s per proxy and size, 16 connections x 8 in flight"
for size in 64 16384; do
  for run in $(seq "$RUNS"); do
    start_tlsreactor "$WS_UPSTREAM_PORT"
    measure_ws tlsreactor-proxy "$size"
    stop "$SERVER_PID"
    start_ws_nginx
    measure_ws nginx "$size"
    stop "$SERVER_PID"
  done
done

python3 - "$WORK/ws-results" "$CLK_TCK" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, size, messages, ticks = line.split()
    seconds = int(ticks) / float(sys.argv[2])
    rows.setdefault((name, int(size)), []).append(int(messages) / seconds if seconds else 0.0)
print()
print("| WebSocket echo, medians | 64 B messages per busy proxy-core second | 16 KiB messages per busy proxy-core second |")
print("|---|---|---|")
figures = {}
for name, label in (("tlsreactor-proxy", "tlsreactor-proxy"), ("nginx", "nginx 1 worker")):
    figures[name] = [statistics.median(rows[(name, size)]) for size in (64, 16384)]
    print(f"| {label} | {figures[name][0]:.0f} | {figures[name][1]:.0f} |")
p, n = figures["tlsreactor-proxy"], figures["nginx"]
print(f"| proxy / nginx | {p[0] / n[0]:.2f} | {p[1] / n[1]:.2f} |")
EOF
