#!/usr/bin/env bash
# The TLS server benchmark (not a test): tlsreactor-hello against nginx, loopback only, one
# command that builds Release and prints one table. This is the project's one bench command.
#
# Usage: bench/tls.sh            (6-7 minutes; DURATION=5 s per measured run, RUNS=3)
#        DURATION=S RUNS=N BULK_MIB=M IDLE_CONNECTIONS=C bench/tls.sh    a shorter or longer run
#        ONLY=REGEX bench/tls.sh                   only the rows whose name matches
#        BENCH_BUILD_DIR=DIR bench/tls.sh          use the binaries in DIR, build nothing (the
#                                                  smoke test, tests/bench/tls_sh_smoke.py)
#        FLOOR_ARGS="..." bench/tls.sh             options for bench-openssl-floor (counts)
#
# Rows (each: both servers, RUNS runs, medians; servers alternate ours, nginx, nginx, ours, ...)
#   full handshake ECDSA P-256, full handshake RSA-2048, resumed handshake (TLS 1.3 ticket):
#       bench-tls-load --mode handshake (a new connection, handshake and GET / each); its JSON
#       says how many handshakes were full and how many resumed, and the table prints that
#       check, because load tools resume silently
#   keep-alive GET / : wrk -t1 -c100 --latency (and a 1 s warm-up)
#   bulk: one connection, curl downloads a BULK_MIB MiB static file (hello --root DIR serves it
#       as /files/PATH, nginx from the same directory), TLS 1.3 TLS_AES_256_GCM_SHA384
#   idle RSS: bench-tls-load --mode hold opens 5,000 connections, each handshaked and one
#       request answered, and holds them idle; (server RSS 3 s later - RSS before) / 5,000 (hello
#       gives a connection's OpenSSL record buffers back after 1 s without traffic)
#   then keep-alive and full ECDSA again with 2 loops: hello --threads 2, nginx
#       worker_processes 2, servers on CPUs 0-1 and the client sharing them
#   floor: bench-openssl-floor --sockets --json (client and server SSL objects over memory BIOs in
#       one process, no sockets); each figure of ours and nginx's is printed as a multiple of it.
#       The same over a loopback TCP connection (its rows "(floor over loopback TCP)") adds the
#       fewest socket calls a server can make: what carrying TLS over TCP costs on this kernel
# Rows whose tool is not built in this tree are printed as skipped, with the reason.
# Checks (printed as CHECK FAILED, and the exit status is 1): both servers look the same to an
# `openssl s_client` (protocol, cipher, group, tickets per handshake, body length); full rows
# made no resumed handshakes, the resumed row no full ones but the first of each connection
# slot (before any ticket arrived); no load errors; bulk negotiated AES-256-GCM; every held
# connection was established.
#
# Method
# - Same certificate and key for both servers (generated per run: ECDSA P-256, RSA-2048), same
#   bodies (GET / answers "hello from tlsreactor\n"), TLS 1.2 and 1.3 allowed (the load uses
#   1.3), the same TLS 1.2 ciphers and groups, session tickets on with one ticket per handshake
#   (ours by default, nginx by `ssl_conf_command NumTickets 1`), keep-alive without a request
#   limit, access log off, nginx with one worker.
# - CPUs: servers pinned to CPU 0, load generators to CPU 1 (2-loop rows: both on CPUs 0-1).
# - Server CPU: utime + stime from /proc/PID/stat before and after each measured run (nginx:
#   master + workers). "per busy server-core second" = operations / server CPU seconds: the
#   rate on a dedicated core, the figure to compare, since on 2 cores the client is often the
#   bound. Raw rates are printed too. MB = 10^6 bytes, KiB = 1024 bytes.
# shellcheck disable=SC2317 # the measure_KIND functions are called by name from run_row
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
RUNS=${RUNS:-3}
BULK_MIB=${BULK_MIB:-1024}
ONLY=${ONLY:-.}
WARMUP=1
HANDSHAKE_CONNECTIONS=16
KEEPALIVE_CONNECTIONS=100
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-5000}
read -r -a FLOOR_ARGS <<<"${FLOOR_ARGS:-}"
# Every load generator runs under `timeout`, so no step can hang the benchmark.
TIMEOUT=$((DURATION + 60))
STARTED=$(date +%s)

. bench/lib.sh
bench_need_cpus 2

if [[ -n ${BENCH_BUILD_DIR:-} ]]; then
  BUILD=$(realpath "$BENCH_BUILD_DIR")
else
  # The load client and the floor are built when this tree has them.
  targets=(tlsreactor-hello)
  cmake --preset release >/dev/null
  available=$(cmake --build --preset release --target help 2>/dev/null || true)
  for t in bench-tls-load bench-openssl-floor; do
    grep -q "^$t:" <<<"$available" && targets+=("$t")
  done
  bench_build "${targets[@]}"
fi
HELLO=$BUILD/apps/hello/tlsreactor-hello
LOAD=$BUILD/bench/bench-tls-load
FLOOR=$BUILD/bench/bench-openssl-floor
[[ -x $LOAD ]] || LOAD=""
[[ -x $FLOOR ]] || FLOOR=""

bench_setup
RESULTS=$WORK/results.jsonl
ROWS=$WORK/rows.tsv
PROBLEMS=$WORK/problems.txt
: >"$RESULTS"
: >"$ROWS"
: >"$PROBLEMS"
declare -A profile

make_cert ec "$WORK/ec.pem" "$WORK/ec.key"
make_cert rsa "$WORK/rsa.pem" "$WORK/rsa.key"
mkdir -p "$WORK/root"
dd if=/dev/zero of="$WORK/root/bulk.bin" bs=1M count="$BULK_MIB" status=none
cat "$WORK/root/bulk.bin" >/dev/null # into the page cache before either server reads it

# Our TLS 1.2 defaults (tls/Context.cpp), given to nginx too.
TLS12_CIPHERS=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305
TLS_GROUPS=X25519:P-256:X448:P-384:P-521

# start_server ours|nginx ec|rsa LOOPS: sets SERVER_PID, SERVER_PIDS, SERVER_PORT.
start_server() {
  local which=$1 key=$2 loops=$3 cpus=0
  ((loops > 1)) && cpus=0-$((loops - 1))
  if [[ $which == ours ]]; then
    start_app "$WORK/hello.log" taskset -c "$cpus" "$HELLO" --tls --listen 127.0.0.1:0 \
      --threads "$loops" --cert "$WORK/$key.pem" --key "$WORK/$key.key" --root "$WORK/root" \
      --idle-timeout 300 --max-connections 0
    SERVER_PID=$APP_PID
    SERVER_PIDS=("$SERVER_PID")
    SERVER_PORT=$APP_PORT
    wait_https "https://127.0.0.1:$SERVER_PORT/" "$WORK/hello.log"
    return
  fi
  SERVER_PORT=$(free_port)
  # Twice the idle row's count: nginx closes idle keep-alive connections once fewer than 1/16
  # of worker_connections are free. It allocates them all at start (in its "RSS before").
  local connections=$((2 * IDLE_CONNECTIONS > 1024 ? 2 * IDLE_CONNECTIONS : 1024))
  start_nginx "$WORK/nginx" "$cpus" "$loops" "$connections" "$SERVER_PORT" "
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  server {
    listen 127.0.0.1:$SERVER_PORT ssl reuseport;
    ssl_certificate $WORK/$key.pem;
    ssl_certificate_key $WORK/$key.key;
    # nginx 1.22's default lacks TLS 1.3.
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers $TLS12_CIPHERS;
    ssl_ecdh_curve $TLS_GROUPS;
    ssl_session_tickets on;
    ssl_conf_command NumTickets 1;
    location = / {
      default_type text/plain;
      return 200 \"hello from tlsreactor\n\";
    }
    location /files/ {
      alias $WORK/root/;
      default_type application/octet-stream;
    }
  }"
}

# What a TLS 1.3 client gets from the server on PORT: protocol, cipher, key exchange group,
# session tickets per handshake, and the length of GET /'s body.
tls_profile() {
  printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
    timeout 10 openssl s_client -connect "127.0.0.1:$1" -tls1_3 -msg -ign_eof 2>&1 |
    tr -d '\r' | awk '
      /Cipher is/ { protocol = $2; cipher = $5 }
      /^Server Temp Key:/ { group = $4 }
      /NewSessionTicket/ { tickets++ }
      /^Content-Length:/ { body = $2 }
      END { printf "%s %s %s %d ticket(s) a handshake, GET / body %s bytes\n",
                   protocol, cipher, group, tickets, body }'
}

# Appends one JSON object to the results: record ROW SERVER TICKS KEY=VALUE... (numbers or JSON).
record() {
  local row=$1 server=$2 ticks=$3
  shift 3
  python3 - "$row" "$server" "$(awk "BEGIN { print $ticks / $CLK_TCK }")" "$@" >>"$RESULTS" <<'EOF'
import json, sys
row, server, cpu_s, *pairs = sys.argv[1:]
out = {"row": row, "server": server, "cpu_s": float(cpu_s)}
for pair in pairs:
    key, value = pair.split("=", 1)
    out[key] = json.loads(value)
print(json.dumps(out))
EOF
}

# --- the measurements: measure_KIND ROW SERVER CLIENT_CPUS [ARGS] --------------------------------
measure_handshake() {
  local row=$1 server=$2 client_cpus=$3 before after out
  shift 3
  local load=(timeout -k 5 "$TIMEOUT" taskset -c "$client_cpus" "$LOAD" --connect
    "127.0.0.1:$SERVER_PORT" --mode handshake --connections "$HANDSHAKE_CONNECTIONS" --path /
    --tls13 --json "$@")
  # Bounded by time, and by a count no run reaches at the handshake rates here.
  "${load[@]}" --duration "$WARMUP" --requests 1000000 >/dev/null
  before=$(cpu_ticks "${SERVER_PIDS[@]}")
  out=$("${load[@]}" --duration "$DURATION" --requests 1000000)
  after=$(cpu_ticks "${SERVER_PIDS[@]}")
  record "$row" "$server" $((after - before)) "load=$out" "connections=$HANDSHAKE_CONNECTIONS"
}

measure_keepalive() {
  local row=$1 server=$2 client_cpus=$3 url="https://127.0.0.1:$SERVER_PORT/" before after out
  local wrk=(timeout -k 5 "$TIMEOUT" taskset -c "$client_cpus" wrk -t1 -c"$KEEPALIVE_CONNECTIONS")
  "${wrk[@]}" -d"${WARMUP}s" "$url" >/dev/null
  before=$(cpu_ticks "${SERVER_PIDS[@]}")
  out=$("${wrk[@]}" -d"${DURATION}s" --latency "$url")
  after=$(cpu_ticks "${SERVER_PIDS[@]}")
  read -r rps p50 p99 total < <(parse_wrk <<<"$out")
  record "$row" "$server" $((after - before)) "rate=$rps" "p50_ms=$p50" "p99_ms=$p99" \
    "requests=$total"
}

measure_bulk() {
  local row=$1 server=$2 client_cpus=$3 before after out
  local url="https://127.0.0.1:$SERVER_PORT/files/bulk.bin"
  before=$(cpu_ticks "${SERVER_PIDS[@]}")
  out=$(timeout -k 5 "$TIMEOUT" taskset -c "$client_cpus" curl -sSfk -v --http1.1 --tlsv1.3 \
    --tls13-ciphers TLS_AES_256_GCM_SHA384 -o /dev/null -w '\ntransfer %{size_download} %{time_total}\n' \
    "$url" 2>&1)
  after=$(cpu_ticks "${SERVER_PIDS[@]}")
  local cipher bytes seconds
  cipher=$(grep -o 'SSL connection using [^ ]* / [^ ]*' <<<"$out" | awk '{ print $6 }')
  read -r _ bytes seconds < <(grep '^transfer ' <<<"$out")
  record "$row" "$server" $((after - before)) "bytes=$bytes" "seconds=$seconds" \
    "cipher=\"$cipher\""
}

measure_idle() {
  local row=$1 server=$2 client_cpus=$3 before after hold_pid ready
  curl -sfk -o /dev/null "https://127.0.0.1:$SERVER_PORT/"
  before=$(rss_kib "${SERVER_PIDS[@]}")
  timeout -k 5 "$TIMEOUT" taskset -c "$client_cpus" "$LOAD" --connect "127.0.0.1:$SERVER_PORT" \
    --mode hold --connections "$IDLE_CONNECTIONS" --path / --tls13 --duration "$TIMEOUT" \
    --json >"$WORK/hold.out" 2>"$WORK/hold.err" &
  hold_pid=$!
  PIDS+=("$hold_pid")
  ready=$(wait_ready "$WORK/hold.out" "$hold_pid")
  # hello gives an idle connection's OpenSSL record buffers back after 1 s without traffic
  # (tls::TransportOptions::release_buffers_after, on a 100 ms wheel tick), and the heap's free
  # pages to the system at most a second later (Loop::trim_memory_soon): wait that out (nginx
  # releases them at once), so the figure is the memory of idle connections.
  sleep 3
  after=$(rss_kib "${SERVER_PIDS[@]}")
  stop "$hold_pid"
  if [[ -z $ready ]]; then
    echo "bench: $row, $server: the hold client never printed ready:" >&2
    cat "$WORK/hold.out" "$WORK/hold.err" >&2
    exit 1
  fi
  record "$row" "$server" 0 "rss_before_kib=$before" "rss_after_kib=$after" \
    "ready=$ready" "load=$(grep -v '^ready ' "$WORK/hold.out")"
}

# run_row ROW KIND KEY LOOPS FLOOR_KEY [ARGS]: RUNS runs of both servers, alternating; the rows
# file tells the table which rows there are, what kind, and which floor figure they compare to.
run_row() {
  local row=$1 kind=$2 key=$3 loops=$4 floor_key=$5 client_cpus=1 run server order
  shift 5
  [[ $row =~ $ONLY ]] || return 0
  if [[ $kind == handshake || $kind == idle ]] && [[ -z $LOAD ]]; then
    printf '%s\t%s\t%s\n' "$row" skipped "bench-tls-load not built" >>"$ROWS"
    echo "  $row: skipped (bench-tls-load not built)"
    return
  fi
  printf '%s\t%s\t%s\n' "$row" "$kind" "$floor_key" >>"$ROWS"
  ((loops > 1)) && client_cpus=0-$((loops - 1))
  for run in $(seq "$RUNS"); do
    order=(ours nginx)
    ((run % 2 == 0)) && order=(nginx ours)
    for server in "${order[@]}"; do
      start_server "$server" "$key" "$loops"
      "measure_$kind" "$row" "$server" "$client_cpus" "$@"
      # nginx's graceful stop is SIGQUIT; SIGTERM is its fast one, fine once the load has ended.
      stop "$SERVER_PID"
    done
    echo "  $row: run $run done"
  done
}

echo
echo "bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),"
echo "  $(nginx -v 2>&1 | cut -d' ' -f3), $(openssl version | cut -d' ' -f1-2), tlsreactor $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "  $RUNS runs x ${DURATION}s, loopback; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  other processes using CPU (over 1 s, before): $(busy_processes)"
start_cpu_sampler "$WORK/others.txt"

for server in ours nginx; do
  start_server "$server" ec 1
  profile[$server]=$(tls_profile "$SERVER_PORT")
  stop "$SERVER_PID"
done
echo "  as a TLS 1.3 client sees them: ours: ${profile[ours]}"
echo "                                nginx: ${profile[nginx]}"
if [[ ${profile[ours]} != "${profile[nginx]}" ]]; then
  echo "the servers' TLS settings differ: ours: ${profile[ours]}; nginx: ${profile[nginx]}" \
    >>"$PROBLEMS"
fi

run_row "full handshake ECDSA P-256" handshake ec 1 full_ecdsa_us
run_row "full handshake RSA-2048" handshake rsa 1 full_rsa_us
run_row "resumed handshake (TLS 1.3 ticket)" handshake ec 1 resumed_us --resume
run_row "keep-alive GET / (wrk -t1 -c$KEEPALIVE_CONNECTIONS)" keepalive ec 1 small_pair_us
run_row "bulk download, 1 connection, AES-256-GCM, $BULK_MIB MiB" bulk ec 1 record16k_mbps
run_row "RSS per idle TLS connection ($IDLE_CONNECTIONS)" idle ec 1 idle_kib_bios_released
run_row "2 loops: keep-alive GET / (wrk -t1 -c$KEEPALIVE_CONNECTIONS)" keepalive ec 2 small_pair_us
run_row "2 loops: full handshake ECDSA P-256" handshake ec 2 full_ecdsa_us

stop "$SAMPLER_PID"
echo "  other processes during the rows: $(cat "$WORK/others.txt")"
FLOOR_JSON=$WORK/floor.json
if [[ -n $FLOOR ]]; then
  timeout -k 5 300 taskset -c 0 "$FLOOR" "${FLOOR_ARGS[@]}" --sockets --json >"$FLOOR_JSON"
else
  echo '{}' >"$FLOOR_JSON"
fi

status=0
python3 bench/tls_table.py "$RESULTS" "$ROWS" "$FLOOR_JSON" "$RUNS" "$PROBLEMS" || status=$?
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); wall time $(($(date +%s) - STARTED)) s"
exit "$status"
