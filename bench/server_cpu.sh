#!/usr/bin/env bash
# Server CPU per operation of tlsreactor-hello over TLS (a benchmark, not a test): hello pinned
# to CPU 0, the client to CPU 1; utime + stime of the server from /proc/PID/stat around the
# measured run, divided by the operations the client reports.
# usage: bench/server_cpu.sh keepalive [SECONDS]   wrk -t1 -c100 keep-alive GET / (default 10 s)
#        bench/server_cpu.sh bulk [MB]              one curl download of an MB-sized file
#        bench/server_cpu.sh handshakes [N]         N full TLS 1.3 handshakes, one at a time
#                                                   (openssl s_time -new, no resumption)
# Prints one line: operations, server CPU seconds, CPU per operation. Needs the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:?keepalive, bulk or handshakes}
ARG=${2:-}
HELLO=${HELLO:-build/release/apps/hello/tlsreactor-hello}
WORK=$(mktemp -d /tmp/tlsreactor-cpu-XXXXXX)
SERVER=
cleanup() {
  if [[ -n $SERVER ]]; then
    kill -TERM "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir "$WORK/root"
if [[ $MODE == bulk ]]; then
  head -c "$((${ARG:-1024} * 1024 * 1024))" /dev/urandom >"$WORK/root/big"
fi
taskset -c 0 "$HELLO" --tls --listen 127.0.0.1:0 --idle-timeout 0 --root "$WORK/root" \
  --dev-cert-dir "$WORK" >"$WORK/log" 2>&1 &
SERVER=$!
PORT=
for _ in $(seq 100); do
  PORT=$(grep -m1 -o 'listening on [^ ]*' "$WORK/log" | sed 's/.*://' || true)
  [[ -n $PORT ]] && break
  sleep 0.1
done
[[ -n $PORT ]] || { cat "$WORK/log" >&2; exit 1; }

# utime and stime in clock ticks (fields 14 and 15; the command name may hold spaces).
ticks() { sed 's/^.*) //' "/proc/$SERVER/stat" | awk '{print $12, $13}'; }
HZ=$(getconf CLK_TCK)

BEFORE=$(ticks)
case $MODE in
  keepalive)
    OPS=$(taskset -c 1 wrk -t1 -c100 -d"${ARG:-10}"s "https://127.0.0.1:$PORT/" |
      awk '/requests in/ {print $1}')
    UNIT=request
    ;;
  bulk)
    taskset -c 1 curl -sk --tls13-ciphers TLS_AES_256_GCM_SHA384 -o /dev/null \
      "https://127.0.0.1:$PORT/files/big"
    OPS=${ARG:-1024}
    UNIT=MB
    ;;
  handshakes)
    N=${ARG:-2000}
    for _ in $(seq "$N"); do echo; done | taskset -c 1 python3 -c '
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
port = int(sys.argv[1])
n = 0
for _ in sys.stdin:
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port))) as s:
        s.do_handshake()
        n += 1
' "$PORT"
    OPS=$N
    UNIT=handshake
    ;;
  *)
    echo "unknown mode $MODE" >&2
    exit 2
    ;;
esac
AFTER=$(ticks)
awk -v b="$BEFORE" -v a="$AFTER" -v hz="$HZ" -v ops="$OPS" -v unit="$UNIT" 'BEGIN {
  split(b, b2, " "); split(a, a2, " ")
  user = (a2[1] - b2[1]) / hz; sys = (a2[2] - b2[2]) / hz; cpu = user + sys
  printf "%s: %d %ss, server CPU %.2f s (user %.2f, sys %.2f), %.2f us per %s\n", unit, ops,
         unit, cpu, user, sys, cpu * 1e6 / ops, unit
}'
