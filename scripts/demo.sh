#!/usr/bin/env bash
# The README's run command: builds the release apps, then runs the HTTPS proxy demo in the
# foreground: tlsreactor-hello answers plain HTTP on 127.0.0.1:8081 and tlsreactor-proxy
# terminates TLS on 127.0.0.1:8443 (a development certificate generated at start) in front of
# it. Ctrl-C (or SIGTERM) drains and stops both. Extra arguments go to the proxy (see
# tlsreactor-proxy --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake --preset release
# Only the demo's targets: a broken test must not block the demo.
cmake --build --preset release -j2 --target tlsreactor-hello tlsreactor-proxy example-https-get
cat <<'HELP'

HTTPS proxy demo on https://127.0.0.1:8443/, in front of tlsreactor-hello on
http://127.0.0.1:8081/ (Ctrl-C drains and stops both). Try, from another shell:
  curl -k https://127.0.0.1:8443/
  curl --cacert /tmp/tlsreactor-dev/ca.pem https://localhost:8443/      # verified against the dev CA
  curl -k https://127.0.0.1:8443/bytes/1048576 | wc -c                   # 1 MiB, streamed
  build/release/examples/example-https-get localhost:8443 / /tmp/tlsreactor-dev/ca.pem

HELP

hello_pid=
proxy_pid=
exited_pid=
proxy_status=0
hello_status=0
# Stops what this script started, by PID (never one already reaped: its PID may be reused), the
# proxy first, so requests in flight can still reach the upstream while it drains.
stop() {
  trap - INT TERM
  finish "$proxy_pid" && proxy_status=$status
  finish "$hello_pid" && hello_status=$status
}
# Sets `status` to how the server with PID $1 ended, stopping it first if it still runs.
finish() {
  status=0
  [[ -n $1 ]] || return 0
  if [[ $1 == "${exited_pid:-}" ]]; then
    status=$exited_status
    return 0
  fi
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" || status=$?
}
trap 'stop' EXIT
stopping=0
trap 'stopping=1' INT TERM

# setsid: Ctrl-C reaches only this script, which then stops each server once, in order (a
# second signal would make a draining server quit at once).
setsid build/release/apps/hello/tlsreactor-hello --listen 127.0.0.1:8081 &
hello_pid=$!
setsid build/release/apps/proxy/tlsreactor-proxy --listen 127.0.0.1:8443 \
  --dev-cert-dir /tmp/tlsreactor-dev --upstream http://127.0.0.1:8081 "$@" &
proxy_pid=$!

# Returns when either server exits on its own (exited_pid says which) or a signal arrives.
exited_status=0
wait -n -p exited_pid "$hello_pid" "$proxy_pid" || exited_status=$?
stop
trap - EXIT
if ((stopping && proxy_status == 0 && hello_status == 0)); then
  exit 0
fi
echo "demo: stopped (proxy exit $proxy_status, hello exit $hello_status)" >&2
exit 1
