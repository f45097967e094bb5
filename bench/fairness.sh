#!/usr/bin/env bash
# The fairness benchmark (not a test): how an established TLS connection is served while about
# 1,000 full handshakes are in flight against the same server loop, with the handshake budget
# off (--handshakes-per-turn 0) and at the app's default, side by side. Loopback only, about
# 3 x (SECONDS + 3) seconds. Usage: bench/fairness.sh [SECONDS per mode, default 20]
# (BUDGETS="0 4 8 default control" compares other --handshakes-per-turn values.)
#
# Method
# - Server: tlsreactor-hello --tls, one loop, pinned to CPU 0, a generated ECDSA P-256
#   certificate, TLS 1.3. (The hello app rather than echo because the load client speaks
#   HTTP: each of its connections is a full handshake and one GET.)
# - Probe: bench-tls-rtt, one keep-alive TLS connection made before the load starts: GET /,
#   wait for the whole response, 2 ms pause, repeat, for SECONDS. A round trip longer than the
#   pause also counts for the requests a steady sender would have sent meanwhile (coordinated
#   omission), so a stall weighs its length.
# - Load: bench-tls-load --connections 1000 (new connection per request, no resumption: every
#   handshake is full), started 0.5 s after the probe, for SECONDS + 1.
# - CPUs: the server on CPU 0, the load client on CPU 1 (which it saturates), the probe on
#   CPU 0 next to the server at a slightly higher priority when allowed: a probe sharing the
#   load client's core measures that core's scheduling (p50 10 ms, p99 0.9 s here), not the
#   server. The probe needs ~2% of a core.
# - Figures: the probe's round trip p50/p99/max in ms (target: p99 < 20 ms with the budget on),
#   and the load's completed handshakes per second. The last row is a control: the same load
#   against a second server on CPU 0 while the probe's server has nothing else to do; its p99
#   is the noise floor of the machine (other processes on CPU 0), not of the server.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-20}
CONNECTIONS=${CONNECTIONS:-1000}
BUDGETS=${BUDGETS:-0 default control}

source bench/lib.sh
bench_build tlsreactor-hello bench-tls-load bench-tls-rtt
bench_need_cpus 2
# Server and client each hold one descriptor per connection.
ulimit -n "$(ulimit -Hn)"
bench_setup

# Prints the JSON field $2 of the file $1.
field() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# Starts tlsreactor-hello on CPU 0 with the extra flags $2...; logs to $WORK/server-$1.log,
# its generated CA is $WORK/pki-$1/ca.pem. Sets SERVER (its PID) and PORT.
start_server() {
  local log=$WORK/server-$1.log pki=$WORK/pki-$1
  shift
  start_app "$log" taskset -c 0 "$BUILD/apps/hello/tlsreactor-hello" --tls --listen 127.0.0.1:0 \
    --dev-cert-dir "$pki" "$@"
  SERVER=$APP_PID
  PORT=$APP_PORT
}

# One mode: $1 is a --handshakes-per-turn value, "default", or "control" (the probe's server is
# left alone and the load goes to a second server on the same CPU: what the machine itself
# does to the probe).
run_mode() {
  local name=$1 budget=${1/default/} probe_port load_port servers=()
  if [[ $name == control ]]; then
    start_server "$name" && probe_port=$PORT && servers+=("$SERVER")
    start_server "$name-load" && load_port=$PORT && servers+=("$SERVER")
  else
    local flags=()
    [[ -n $budget ]] && flags+=(--handshakes-per-turn "$budget")
    start_server "$name" "${flags[@]}" && probe_port=$PORT load_port=$PORT && servers+=("$SERVER")
  fi
  # The probe first, so its connection is established before the burst.
  # (nice only warns when it may not raise the priority, and runs the probe anyway.)
  taskset -c 0 nice -n -5 "$BUILD/bench/bench-tls-rtt" --connect "localhost:$probe_port" \
    --ca "$WORK/pki-$name/ca.pem" --duration "$DURATION" --json >"$WORK/rtt-$name.json" \
    2>"$WORK/rtt-$name.err" &
  local probe=$!
  sleep 0.5
  taskset -c 1 "$BUILD/bench/bench-tls-load" --connect "127.0.0.1:$load_port" \
    --connections "$CONNECTIONS" --requests 100000000 --duration "$((DURATION + 1))" --json \
    >"$WORK/load-$name.json" 2>"$WORK/load-$name.err" &
  local load=$!
  wait "$probe" || { echo "bench: the probe failed ($name):" >&2; cat "$WORK/rtt-$name.err" >&2; exit 1; }
  wait "$load" || { echo "bench: the load client failed ($name):" >&2; cat "$WORK/load-$name.err" >&2; exit 1; }
  local server
  for server in "${servers[@]}"; do stop "$server"; done
  local rtt_json=$WORK/rtt-$name.json load_json=$WORK/load-$name.json label=$name
  [[ $name == default ]] && label=$(default_budget)
  [[ $name == control ]] && label="control (idle server)"
  printf '%-22s %9.2f %9.2f %9.2f %9s %12.0f %8s\n' "$label" \
    "$(field "$rtt_json" p50_ms)" "$(field "$rtt_json" p99_ms)" "$(field "$rtt_json" max_ms)" "$(field "$rtt_json" samples)" \
    "$(field "$load_json" rate)" "$(field "$load_json" errors)"
}

default_budget() {
  "$BUILD/apps/hello/tlsreactor-hello" --help | grep -A1 -- '--handshakes-per-turn' |
    grep -o 'default: [0-9]*' | sed 's/default: \(.*\)/\1 (default)/'
}

echo "fairness: one established TLS connection's round trips while $CONNECTIONS full handshakes are"
echo "in flight against the same loop ($DURATION s per mode; server and probe on CPU 0, load on CPU 1)"
printf '%-22s %9s %9s %9s %9s %12s %8s\n' "handshakes-per-turn" "p50 ms" "p99 ms" "max ms" \
  "samples" "handshakes/s" "errors"
for budget in $BUDGETS; do run_mode "$budget"; done
