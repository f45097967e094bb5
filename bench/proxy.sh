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
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
RUNS=${RUNS:-5}
CONNECTIONS=50
WARMUP=2

scripts/bootstrap.sh
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target tlsreactor-hello tlsreactor-proxy
BIN=$PWD/build/release/apps

if (($(nproc) < 2)); then
  echo "bench: needs 2 CPUs (the proxy on one, wrk on the other)" >&2
  exit 1
fi

WORK=$(mktemp -d /tmp/tlsreactor-bench-XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Waits for "PROGRAM: listening on HOST:PORT ..." in $1 and prints the port.
listening_port() {
  local log=$1 line
  for _ in $(seq 100); do
    line=$(grep -m1 -o 'listening on [^ ]*' "$log" || true)
    if [[ -n $line ]]; then
      echo "${line##*:}"
      return
    fi
    sleep 0.1
  done
  echo "bench: nothing listening; $log says:" >&2
  cat "$log" >&2
  exit 1
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# utime + stime, in clock ticks, of the given PIDs.
cpu_ticks() {
  local total=0 pid fields
  for pid in "$@"; do
    # The command name (field 2) may hold spaces; the fields after its ')' are fixed.
    fields=$(sed 's/^.*) //' "/proc/$pid/stat")
    read -r -a f <<<"$fields"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}

stop() {
  local pid kept=()
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  for pid in "${PIDS[@]}"; do [[ $pid == "$1" ]] || kept+=("$pid"); done
  PIDS=("${kept[@]}")
}

# --- the shared certificate and the upstream ---------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

taskset -c 1 "$BIN/hello/tlsreactor-hello" --listen 127.0.0.1:0 --threads 1 \
  >"$WORK/hello.log" 2>&1 &
PIDS+=($!)
UPSTREAM_PORT=$(listening_port "$WORK/hello.log")
curl -sf "http://127.0.0.1:$UPSTREAM_PORT/" >/dev/null

# --- the two proxies ---------------------------------------------------------------------------
start_tlsreactor() {
  taskset -c 0 "$BIN/proxy/tlsreactor-proxy" --listen 127.0.0.1:0 --threads 1 \
    --cert "$WORK/cert.pem" --key "$WORK/key.pem" --access-log off \
    --upstream "http://127.0.0.1:$UPSTREAM_PORT" >"$WORK/proxy.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  SERVER_PIDS=("$SERVER_PID")
  SERVER_PORT=$(listening_port "$WORK/proxy.log")
}

start_nginx() {
  local dir=$WORK/nginx
  mkdir -p "$dir"
  SERVER_PORT=$(free_port)
  # As root the worker would run as "nobody", who cannot enter the 0700 work directory.
  local user=""
  ((EUID == 0)) && user="user root;"
  cat >"$dir/nginx.conf" <<EOF
$user
worker_processes 1;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_requests 1000000000;
  upstream hello {
    server 127.0.0.1:$UPSTREAM_PORT;
    keepalive 32;
    keepalive_requests 1000000000;
  }
  server {
    listen 127.0.0.1:$SERVER_PORT ssl;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.3;
    location / {
      proxy_pass http://hello;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header Via "1.1 nginx";
      add_header Via "1.1 nginx";
    }
  }
}
EOF
  taskset -c 0 nginx -e stderr -p "$dir" -c nginx.conf \
    -g "daemon off; pid $dir/nginx.pid; error_log stderr;" >"$WORK/nginx.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 100); do
    curl -sfk "https://127.0.0.1:$SERVER_PORT/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  # The master and its one worker (a child by PID, not found by name).
  mapfile -t SERVER_PIDS < <(echo "$SERVER_PID"; pgrep -P "$SERVER_PID")
}

# Prints "RPS P50_MS P99_MS REQUESTS" from wrk's output on stdin.
parse_wrk() {
  python3 -c '
import re, sys
text = sys.stdin.read()
def ms(v):
    n, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
rps = re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)
p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
total = re.search(r"(\d+) requests in", text).group(1)
bad = re.search(r"Non-2xx or 3xx responses: \d+", text)
if bad:
    sys.exit("bench: " + bad.group(0))
for errors in re.findall(r"Socket errors: .*", text):
    print("bench: wrk:", errors, file=sys.stderr)
print(rps, p50, p99, total)
'
}

measure() {
  local name=$1 url="https://127.0.0.1:$SERVER_PORT/"
  curl -sfk "$url" >/dev/null || {
    echo "bench: $name does not answer $url" >&2
    exit 1
  }
  taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "$url" >/dev/null
  local before after out
  before=$(cpu_ticks "${SERVER_PIDS[@]}")
  out=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url")
  after=$(cpu_ticks "${SERVER_PIDS[@]}")
  read -r rps p50 p99 total < <(parse_wrk <<<"$out")
  echo "$name $rps $p50 $p99 $total $((after - before))" >>"$WORK/results"
  printf '  %-16s run %d: %9.0f req/s  p50 %6.3f ms  p99 %6.3f ms  CPU %5.2f s\n' \
    "$name" "$run" "$rps" "$p50" "$p99" "$(awk "BEGIN { print $((after - before)) / $(getconf CLK_TCK) }")"
}

echo
echo "bench: $RUNS x ${DURATION}s per proxy, wrk -t1 -c$CONNECTIONS, loopback, TLS 1.3;" \
  "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$RUNS"); do
  start_tlsreactor
  measure tlsreactor-proxy
  stop "$SERVER_PID"
  start_nginx
  measure nginx
  # nginx's graceful stop is SIGQUIT; SIGTERM is its fast one, fine once the load has ended.
  stop "$SERVER_PID"
done

python3 - "$WORK/results" "$(getconf CLK_TCK)" <<'EOF'
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
