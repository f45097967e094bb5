#!/usr/bin/env bash
# Idle-connection memory at scale (not a test): CONNECTIONS (default 100,000) concurrent idle TLS
# connections on ONE tlsreactor-hello loop, loopback only; prints the server's RSS before, with
# them, and per connection. Builds Release first.
#
# Usage: bench/idle.sh [CONNECTIONS]     (bounded: at most HOLD_SECONDS, default 300, of load)
#
# Method
# - hello: --threads 1 --max-connections 0 --idle-timeout 0, ECDSA P-256 certificate, pinned to
#   CPU 0. bench-tls-load --mode hold on CPU 1 opens the connections from SOURCE_IPS (5)
#   addresses 127.0.0.1.. (one address has only the ephemeral port range towards one port),
#   each does a TLS 1.3 handshake and one GET /, then all stay open and idle; the client prints
#   "ready N" when all N are. The server RSS is read from /proc (VmRSS) before (after one
#   request) and three seconds after ready: hello gives the OpenSSL record buffers of a
#   connection quiet for 1 s back, and the figure is meant for idle connections.
# - Both processes need one descriptor per connection: RLIMIT_NOFILE is raised for both with
#   prlimit. When that is not allowed (raising the hard limit needs CAP_SYS_RESOURCE), or the
#   port range or memory is too small, the output says so exactly and the run uses the most
#   connections the limits allow instead.
set -euo pipefail
cd "$(dirname "$0")/.."
WANTED=${1:-100000}
SOURCE_IPS=${SOURCE_IPS:-5}
HOLD_SECONDS=${HOLD_SECONDS:-300}
# Descriptors either process needs beyond one a connection (listeners, epoll, stdio, logs;
# bench-tls-load asks for connections + 160).
SPARE_FDS=200

. bench/lib.sh
bench_need_cpus 2
cmake --preset release >/dev/null
# Captured first: grep -q would stop reading early, and pipefail would count cmake's SIGPIPE.
available=$(cmake --build --preset release --target help 2>/dev/null || true)
if ! grep -q '^bench-tls-load:' <<<"$available"; then
  echo "idle: skipped, bench-tls-load is not in this tree"
  exit 0
fi
bench_build tlsreactor-hello bench-tls-load
HELLO=$BUILD/apps/hello/tlsreactor-hello
LOAD=$BUILD/bench/bench-tls-load
bench_setup

# --- what this machine allows -------------------------------------------------------------------
connections=$WANTED
limits=()
need_fds=$((WANTED + SPARE_FDS))
hard_fds=$(ulimit -Hn)
[[ $hard_fds == unlimited ]] && hard_fds=$need_fds
if ((hard_fds < need_fds)); then
  if prlimit --nofile="$need_fds:$need_fds" -- true 2>/dev/null; then
    hard_fds=$need_fds
  else
    capabilities=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
    limits+=("RLIMIT_NOFILE: $WANTED connections need $need_fds descriptors in the server (and as
  many in the client), but the hard limit is $hard_fds and raising it failed: raising a hard
  limit needs CAP_SYS_RESOURCE, which this process does not have (CapEff $capabilities,
  bit 24 clear), so one process cannot hold more than $((hard_fds - SPARE_FDS)) connections here")
    connections=$((hard_fds - SPARE_FDS))
  fi
fi
read -r low high </proc/sys/net/ipv4/ip_local_port_range
ports=$((high - low + 1))
if ((connections > ports * SOURCE_IPS)); then
  limits+=("ports: $SOURCE_IPS source addresses x $ports ephemeral ports ($low-$high) is fewer than
  $connections connections to one server port")
  connections=$((ports * SOURCE_IPS))
fi
nr_open=$(cat /proc/sys/fs/nr_open)
if ((connections + SPARE_FDS > nr_open)); then
  limits+=("fs.nr_open is $nr_open, below $((connections + SPARE_FDS)) descriptors")
  connections=$((nr_open - SPARE_FDS))
fi
# Generous: ~40 KiB a connection for both ends together, TCP buffers of idle sockets included.
available_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
if ((connections * 40 > available_kib)); then
  limits+=("memory: $((available_kib / 1024)) MiB available, about 40 KiB a connection needed")
  connections=$((available_kib / 40))
fi
fds=$((connections + SPARE_FDS))
((fds > hard_fds)) && fds=$hard_fds

echo
echo "idle: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  other processes using CPU (over 1 s): $(busy_processes)"
if ((${#limits[@]} > 0)); then
  echo "idle: this machine cannot reach $WANTED connections on one loop:"
  for limit in "${limits[@]}"; do echo "  - $limit"; done
  echo "idle: running with $connections connections instead"
fi

# --- the run ------------------------------------------------------------------------------------
make_cert ec "$WORK/cert.pem" "$WORK/key.pem"
start_app "$WORK/hello.log" prlimit --nofile="$fds:$fds" -- taskset -c 0 "$HELLO" --tls \
  --listen 127.0.0.1:0 --threads 1 --cert "$WORK/cert.pem" --key "$WORK/key.pem" \
  --max-connections 0 --idle-timeout 0
SERVER_PID=$APP_PID
SERVER_PORT=$APP_PORT
curl -sfk -o /dev/null "https://127.0.0.1:$SERVER_PORT/"
before=$(rss_kib "$SERVER_PID")

start_cpu_sampler "$WORK/others.txt"
started=$(date +%s.%N)
timeout -k 5 $((HOLD_SECONDS + 10)) prlimit --nofile="$fds:$fds" -- taskset -c 1 "$LOAD" \
  --connect "127.0.0.1:$SERVER_PORT" --mode hold --connections "$connections" --path / --tls13 \
  --source-ips "$SOURCE_IPS" --duration "$HOLD_SECONDS" --json >"$WORK/hold.out" 2>"$WORK/hold.err" &
HOLD_PID=$!
PIDS+=("$HOLD_PID")
n=$(wait_ready "$WORK/hold.out" "$HOLD_PID")
if [[ -z $n ]]; then
  wait "$HOLD_PID" || true
  echo "idle: the client ended before all $connections connections were ready:" >&2
  tail -n 20 "$WORK/hold.out" "$WORK/hold.err" >&2
  echo "idle: server RSS now $(($(rss_kib "$SERVER_PID") / 1024)) MiB" >&2
  exit 1
fi
seconds=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $started }")
# hello gives an idle connection's OpenSSL record buffers back after 1 s without traffic
# (tls::TransportOptions::release_buffers_after, on a 100 ms wheel tick), and the heap's free
# pages to the system at most a second later (Loop::trim_memory_soon): wait that out, so the
# figure is the memory of connections that are idle, not of ones that just answered.
sleep 3
after=$(rss_kib "$SERVER_PID")
client=$(rss_kib "$(pgrep -P "$HOLD_PID")") # timeout's child: prlimit and taskset exec
server_cpu=$(cpu_ticks "$SERVER_PID")
stop "$HOLD_PID"
stop "$SAMPLER_PID"

echo "idle: $n idle TLS connections on one loop ($SOURCE_IPS source addresses), ready in $seconds s"
awk -v before="$before" -v after="$after" -v n="$n" -v cpu="$server_cpu" -v tck="$CLK_TCK" \
  -v client="$client" 'BEGIN {
  printf "  server RSS before      %8.1f MiB\n", before / 1024
  printf "  server RSS with them   %8.1f MiB\n", after / 1024
  printf "  per connection         %8.2f KiB  ((with - before) / %d)\n", (after - before) / n, n
  printf "  server CPU in total    %8.2f s    (client RSS %.1f MiB)\n", cpu / tck, client / 1024
}'
echo "  client: $(tr -d '\n' <"$WORK/hold.out" | sed 's/^ready [0-9]*//')"
echo "  other processes meanwhile: $(cat "$WORK/others.txt")"
