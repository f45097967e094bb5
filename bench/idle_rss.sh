#!/usr/bin/env bash
# Memory per idle TLS connection of tlsreactor-hello (a benchmark, not a test).
# usage: bench/idle_rss.sh [N1 N2]   (default 1000 5000; needs the release build of hello)
#
# The server starts alone (TLS, the development ECDSA P-256 certificate, no idle timeout); a
# python3 client (bench/idle_hold.py) opens N1, then N2 connections, each of which handshakes
# (TLS 1.3), makes one keep-alive `GET /`, reads the response and stays open. The server's
# VmRSS is read from /proc at start, at N1 and at N2. Printed: KiB per connection from start to
# N2 (includes one-time costs such as the first connection's allocations), and the slope
# between N1 and N2 (the marginal cost of one more idle connection: the figure to compare with
# OpenSSL's idle SSL floor).
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${1:-1000}
N2=${2:-5000}
HELLO=${HELLO:-build/release/apps/hello/tlsreactor-hello}
WORK=$(mktemp -d /tmp/tlsreactor-idle-XXXXXX)
SERVER=
cleanup() {
  if [[ -n $SERVER ]]; then
    kill -TERM "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$HELLO" --tls --listen 127.0.0.1:0 --idle-timeout 0 --max-connections 0 \
  --dev-cert-dir "$WORK" >"$WORK/log" 2>&1 &
SERVER=$!
PORT=
for _ in $(seq 100); do
  PORT=$(grep -m1 -o 'listening on [^ ]*' "$WORK/log" | sed 's/.*://' || true)
  [[ -n $PORT ]] && break
  sleep 0.1
done
[[ -n $PORT ]] || { cat "$WORK/log" >&2; exit 1; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER/status"; }

START=$(rss_kib)
coproc HOLD { exec python3 bench/idle_hold.py "$PORT" "$N1" "$N2"; }
read -r _ _ <&"${HOLD[0]}"
AT1=$(rss_kib)
echo >&"${HOLD[1]}"
read -r _ _ <&"${HOLD[0]}"
AT2=$(rss_kib)
exec {HOLD_IN}>&"${HOLD[1]}"-
exec {HOLD_IN}>&-
wait "$HOLD_PID" || true

awk -v s="$START" -v a="$AT1" -v b="$AT2" -v n1="$N1" -v n2="$N2" 'BEGIN {
  printf "VmRSS: start %d KiB, %d idle: %d KiB, %d idle: %d KiB\n", s, n1, a, n2, b
  printf "per connection, start to %d: %.2f KiB; slope %d..%d: %.2f KiB\n",
         n2, (b - s) / n2, n1, n2, (b - a) / (n2 - n1)
}'
