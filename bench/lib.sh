# shellcheck shell=bash
# shellcheck disable=SC2034 # CLK_TCK, BUILD, APP_PORT, SERVER_PIDS... are for the sourcing script
# Shell helpers shared by the benchmark scripts (bench/proxy.sh, bench/h2.sh, bench/tls.sh,
# bench/idle.sh).
# Source it from a script that has done `set -euo pipefail` and `cd` to the repository root:
#   . bench/lib.sh
# It defines functions only; bench_setup creates the work directory and the EXIT trap that
# ends every process the script started (by PID, from the PIDS array).

CLK_TCK=$(getconf CLK_TCK)

# Installs missing Debian packages, then builds the given targets in Release. Sets BUILD.
bench_build() {
  scripts/bootstrap.sh
  cmake --preset release >/dev/null
  cmake --build --preset release -j2 --target "$@"
  BUILD=$PWD/build/release
}

bench_need_cpus() {
  if (($(nproc) < $1)); then
    echo "bench: needs $1 CPUs (servers on CPU 0, load generators on CPU 1)" >&2
    exit 1
  fi
}

# Makes WORK (a private temporary directory) and the cleanup trap. Processes started in the
# background are appended to PIDS; `stop` removes them again.
bench_setup() {
  WORK=$(mktemp -d /tmp/tlsreactor-bench-XXXXXX)
  PIDS=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}

# Sends SIGTERM to one PID we started and waits for it to exit.
stop() {
  local pid kept=()
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  for pid in "${PIDS[@]}"; do [[ $pid == "$1" ]] || kept+=("$pid"); done
  PIDS=("${kept[@]}")
}

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

# Starts a server in the background that logs "listening on HOST:PORT" (our apps do):
#   start_app LOG COMMAND...      sets APP_PID and APP_PORT
start_app() {
  local log=$1
  shift
  # Emptied here, not only by the child's redirection: the child may not have run yet when
  # listening_port reads the log, which would find the previous server's port.
  : >"$log"
  "$@" >"$log" 2>&1 &
  APP_PID=$!
  PIDS+=("$APP_PID")
  APP_PORT=$(listening_port "$log")
}

# Waits until bench-tls-load --mode hold (PID, stdout in FILE) prints "ready N", or ends; prints
# N, or nothing if it ended first.
wait_ready() {
  local file=$1 pid=$2 line=""
  while [[ -z $line ]] && kill -0 "$pid" 2>/dev/null; do
    sleep 0.2
    line=$(grep -m1 '^ready ' "$file" || true)
  done
  [[ -n $line ]] || line=$(grep -m1 '^ready ' "$file" || true)
  echo "${line#ready }"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# utime + stime, in clock ticks (CLK_TCK a second), of the given PIDs, all their threads.
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

# Resident set size, in KiB, summed over the given PIDs.
rss_kib() {
  local total=0 pid kib
  for pid in "$@"; do
    kib=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
    total=$((total + kib))
  done
  echo "$total"
}

# A self-signed certificate for localhost and 127.0.0.1: make_cert ec|rsa CERT KEY.
make_cert() {
  local key_options
  case $1 in
    ec) key_options=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
    rsa) key_options=(-newkey rsa:2048) ;;
    *) echo "make_cert: ec or rsa, not $1" >&2 && exit 1 ;;
  esac
  openssl req -x509 "${key_options[@]}" -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$3" -out "$2" 2>/dev/null
}

# Waits until URL answers over HTTPS (any certificate), for up to 20 s; on failure prints LOG.
#   wait_https URL LOG
wait_https() {
  for _ in $(seq 200); do
    curl -sfk -o /dev/null "$1" 2>/dev/null && return
    sleep 0.1
  done
  echo "bench: $1 does not answer; $2 says:" >&2
  tail -20 "$2" >&2
  exit 1
}

# Starts nginx in the foreground, pinned to CPUS, WORKERS worker processes of at most
# CONNECTIONS connections each, from a configuration whose http block holds HTTP_BLOCK (server
# blocks and settings); access_log is off and the temporary paths are in DIR. The server must
# answer https://127.0.0.1:PORT/. The file descriptor limit is inherited.
#   start_nginx DIR CPUS WORKERS CONNECTIONS PORT HTTP_BLOCK
# Sets SERVER_PID (the master) and SERVER_PIDS (the master and its WORKERS workers).
start_nginx() {
  local dir=$1 cpus=$2 workers=$3 connections=$4 port=$5 http_block=$6
  mkdir -p "$dir"
  # As root the workers would run as "nobody", who cannot enter the 0700 work directory.
  local user=""
  ((EUID == 0)) && user="user root;"
  cat >"$dir/nginx.conf" <<EOF
$user
worker_processes $workers;
events { worker_connections $connections; }
http {
  access_log off;
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
$http_block
}
EOF
  taskset -c "$cpus" nginx -e stderr -p "$dir" -c nginx.conf \
    -g "daemon off; pid $dir/nginx.pid; error_log stderr;" >"$dir/nginx.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  wait_https "https://127.0.0.1:$port/" "$dir/nginx.log"
  # The master and its workers (children by PID, not found by name).
  for _ in $(seq 100); do
    mapfile -t SERVER_PIDS < <(
      echo "$SERVER_PID"
      pgrep -P "$SERVER_PID"
    )
    ((${#SERVER_PIDS[@]} == workers + 1)) && return
    sleep 0.1
  done
  echo "bench: nginx has ${#SERVER_PIDS[@]} processes, not 1 + $workers" >&2
  exit 1
}

# Prints "RPS P50_MS P99_MS REQUESTS" from the output of `wrk --latency` on stdin; fails on
# non-2xx responses, reports socket errors on stderr.
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

# The processes using at least 5% of a CPU over the next second, as "name N%, ...": what else
# ran on the machine while a benchmark did.
busy_processes() {
  top -b -n 2 -d 1 -w 200 |
    awk '/^top -/ { i++ } i == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 5 { printf "%s %s%%, ", $12, $9 }'
}

# What else ran on the machine: bench/cpu_sampler.py samples /proc every second, leaving out this
# script and its descendants, until stopped by PID (it is in PIDS); then writes to FILE one line
# with the mean CPU the other processes used and the busiest of them.
#   start_cpu_sampler FILE      sets SAMPLER_PID; `stop "$SAMPLER_PID"` ends it and writes FILE
start_cpu_sampler() {
  python3 bench/cpu_sampler.py "$1" "$$" &
  SAMPLER_PID=$!
  PIDS+=("$SAMPLER_PID")
}

# tlsreactor-proxy (PROXY_BIN, else the release build's) on CPU 0, one thread, access log off,
# TLS with $WORK/cert.pem and key.pem, in front of the plain-HTTP upstream on UPSTREAM_PORT, with
# any further OPTIONs. Sets SERVER_PID, SERVER_PIDS and SERVER_PORT.
#   start_tlsreactor_proxy UPSTREAM_PORT [OPTION...]
start_tlsreactor_proxy() {
  local upstream=$1
  shift
  start_app "$WORK/proxy.log" taskset -c 0 "${PROXY_BIN:-$BUILD/apps/proxy/tlsreactor-proxy}" \
    --listen 127.0.0.1:0 --threads 1 --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
    --access-log off --upstream "http://127.0.0.1:$upstream" "$@"
  SERVER_PID=$APP_PID
  SERVER_PIDS=("$SERVER_PID")
  SERVER_PORT=$APP_PORT
}

# The nginx that tlsreactor-proxy is compared with: one worker on CPU 0, TLS 1.3 with the same
# certificate, `listen ... ssl` plus LISTEN_FLAGS (say http2), `proxy_pass` over HTTP/1.1 to an
# `upstream` block on UPSTREAM_PORT with `keepalive KEEPALIVE` idle connections, no request limit
# on keep-alive on either side, and the forwarding headers the proxy adds (X-Forwarded-For,
# X-Forwarded-Proto, Via). Sets SERVER_PID, SERVER_PIDS and SERVER_PORT.
#   start_proxy_nginx UPSTREAM_PORT KEEPALIVE [LISTEN_FLAGS]
start_proxy_nginx() {
  SERVER_PORT=$(free_port)
  start_nginx "$WORK/nginx" 0 1 4096 "$SERVER_PORT" "
  keepalive_requests 1000000000;
  upstream hello {
    server 127.0.0.1:$1;
    keepalive $2;
    keepalive_requests 1000000000;
  }
  server {
    listen 127.0.0.1:$SERVER_PORT ssl ${3:-};
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.3;
    location / {
      proxy_pass http://hello;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header Via \"1.1 nginx\";
      add_header Via \"1.1 nginx\";
    }
  }"
}

# The routing benchmarks' table (bench/proxy.sh, bench/route_ir.sh) into FILE: 100 hosts
# h0..h99.example.com x 10 path prefixes /p0/../p9/, each to the group "default" (the
# --upstreams) with the prefix rewritten to /, plus a default route for any other host.
write_route_table() {
  python3 - "$1" <<'EOF'
import sys
with open(sys.argv[1], "w") as out:
    for h in range(100):
        for p in range(10):
            out.write(f'[[route]]\nhost = "h{h}.example.com"\npath = "/p{p}/"\n'
                      f'group = "default"\nrewrite-prefix = "/"\n\n')
    out.write('[[route]]\ngroup = "default"\n')
EOF
}
