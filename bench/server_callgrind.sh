#!/usr/bin/env bash
# Whole-server instructions per TLS handshake (a benchmark, not a test): tlsreactor-hello --tls
# under `valgrind --tool=callgrind`, next to OpenSSL's floor (bench-openssl-floor's server calls,
# the same certificate), with the difference broken down by where it is spent. Where
# bench/callgrind.sh counts tls::Engine alone, this counts everything the server process runs
# in user space per connection: accept, libuv, Stream, TlsTransport, the handler, malloc.
# Kernel work is not counted (see bench/server_cpu.sh and `strace -c -f` for that).
#
# Usage: bench/server_callgrind.sh full|resumed [N]     (N handshakes, default 300; ~1-2 min)
#        KEEP=DIR bench/server_callgrind.sh ...         keep the dumps in DIR (callgrind_annotate)
#        HELLO=PATH bench/server_callgrind.sh ...       profile another tlsreactor-hello binary
#                                                       (say, a copy built before a change)
#
# Method: a fresh ECDSA P-256 certificate (bench/lib.sh make_cert); hello with the bench's
# options; 20 handshakes to warm up, then `callgrind_control -z`, N handshakes by
# bench-tls-load --mode handshake --connections 1 (one at a time: the count holds exactly one
# connection per handshake; with --resume only the first is full, and is subtracted at the
# floor's full-minus-resumed difference), `callgrind_control -d`. Each handshake is the whole
# connection: TCP accept, handshake, GET / with Connection: close, response, close_notify both
# ways, close. The floor's figure is SSL_new + SSL_do_handshake + SSL_free (the ticket sent
# inside), so ours also holds the request, response and close_notify, which the floor has not;
# the breakdown shows them apart.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:?full or resumed}
N=${2:-300}
[[ $MODE == full || $MODE == resumed ]] || {
  echo "server_callgrind.sh: full or resumed, not $MODE" >&2
  exit 2
}
. bench/lib.sh
bench_build tlsreactor-hello bench-tls-load bench-openssl-floor >/dev/null
bench_setup
if [[ -n ${KEEP:-} ]]; then
  OUT=$KEEP
  mkdir -p "$OUT"
else
  OUT=$WORK
fi
make_cert ec "$WORK/ec.pem" "$WORK/ec.key"

valgrind --tool=callgrind --callgrind-out-file="$OUT/server.%p" \
  --log-file="$OUT/server.valgrind.log" "${HELLO:-$BUILD/apps/hello/tlsreactor-hello}" --tls \
  --listen 127.0.0.1:0 --cert "$WORK/ec.pem" --key "$WORK/ec.key" --idle-timeout 300 \
  --max-connections 0 >"$WORK/hello.log" 2>&1 &
APP_PID=$!
PIDS+=("$APP_PID")
# Valgrind starts slowly on a busy machine: up to a minute for the listening line.
for _ in $(seq 600); do
  grep -q 'listening on' "$WORK/hello.log" && break
  sleep 0.1
done
APP_PORT=$(listening_port "$WORK/hello.log")
RESUME=()
[[ $MODE == resumed ]] && RESUME=(--resume)
load() {
  "$BUILD/bench/bench-tls-load" --connect "127.0.0.1:$APP_PORT" --mode handshake \
    --connections 1 --duration 300 --json "${RESUME[@]}" --requests "$1"
}
load 20 >/dev/null
callgrind_control -z "$APP_PID" >/dev/null 2>&1
LOAD_JSON=$(load "$N")
callgrind_control -d "$APP_PID" >/dev/null 2>&1
stop "$APP_PID"

valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$OUT/floor.%p" \
  --log-file="$OUT/floor.valgrind.log" "$BUILD/bench/bench-openssl-floor" --handshakes 40 \
  --records 100 --reps 1 --idle 1 --cert "$WORK/ec.pem" --key "$WORK/ec.key" --json >/dev/null

python3 - "$OUT" "$MODE" "$LOAD_JSON" <<'PY'
import glob, json, re, subprocess, sys

out, mode, load = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if load["errors"]:
    sys.exit(f"server_callgrind.sh: {load['errors']} load errors")


def dump(pattern, trigger):
    for path in glob.glob(pattern):
        text = open(path, encoding="latin-1").read()
        if re.search(r"^desc: Trigger: " + trigger, text, re.M):
            return path
    sys.exit(f"server_callgrind.sh: no dump '{trigger}' in {pattern}")


def inclusive(path):
    """Inclusive Ir by function name (the last one seen wins; names are unique enough)."""
    text = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
                          capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) (?:\([ \d.]+%\)\s+)?(?:\*\s+)?\S*?:([^\s(]+)", line)
        if m:
            costs.setdefault(m.group(2), int(m.group(1).replace(",", "")))
    total = int(re.search(r"^(?:summary|totals): (\d+)", open(path, encoding="latin-1").read(),
                          re.M).group(1))
    return costs, total


server_costs, server_total = inclusive(dump(out + "/server.*", "dump"))
floor_full_costs, floor_full_total = inclusive(
    dump(out + "/floor.*", r"Client Request: floor full_handshake \d"))
floor_res_costs, floor_res_total = inclusive(
    dump(out + "/floor.*", r"Client Request: floor resumed_handshake \d"))
floor_full, floor_res = floor_full_total / 40, floor_res_total / 40
floor = floor_full if mode == "full" else floor_res
full, resumed = load["full"], load["resumed"]
count = full if mode == "full" else resumed
# With --resume the first handshake is full: it counts as a resumed one plus the floor's
# full-minus-resumed difference, which is taken out.
extra = 0 if mode == "full" else full * (floor_full - floor_res)


def per(name):
    return server_costs.get(name, 0) / (full + resumed)


ours = (server_total - extra) / (full + resumed)
floor_costs = floor_full_costs if mode == "full" else floor_res_costs
rows = [
    ("SSL_new", "SSL_new"),
    ("SSL_do_handshake", "SSL_do_handshake (the ticket inside)"),
    ("SSL_free", "SSL_free (the floor's resumed row frees untimed)"),
    ("SSL_read_ex", "SSL_read_ex (the request; not in the floor)"),
    ("SSL_write_ex", "SSL_write_ex (the response; not in the floor)"),
    ("SSL_shutdown", "SSL_shutdown (close_notify; not in the floor)"),
]
print(f"{mode} handshakes: {count} ({full} full, {resumed} resumed), one connection at a time")
print(f"{'Ir per handshake':50} {'server':>11} {'floor':>11} {'difference':>11}")
print(f"{'whole server process (user space)':50} {ours:>11,.0f} {floor:>11,.0f} "
      f"{ours - floor:>+11,.0f}  ({ours / floor:.3f} x floor)")
inside = 0
for name, label in rows:
    mine = per(name)
    if name == "SSL_do_handshake":
        mine -= extra / (full + resumed)
    theirs = floor_costs.get(name, 0) / 40
    inside += mine
    print(f"  {label:48} {mine:>11,.0f} {theirs:>11,.0f} {mine - theirs:>+11,.0f}")
    if name == "SSL_do_handshake":
        for key, what in [("tls::TicketKeys::on_ticket", "our ticket key callback"),
                          ("tls::Engine::on_message", "our message callback (PeerLimits)")]:
            print(f"    {'of which ' + what:46} {per(key):>11,.0f}")
outside = ours - inside
print(f"  {'outside OpenSSL calls: libuv, reactor, tls glue,':48} {outside:>11,.0f} {0:>11,.0f} "
      f"{outside:>+11,.0f}")
print("    hello's parsing and formatting, our allocations")
PY
