#!/usr/bin/env bash
# The README's run command: builds the release apps and runs the HTTPS demo (tlsreactor-hello
# over TLS on 127.0.0.1:8443 with a freshly generated development certificate) in the
# foreground. Extra arguments go to the server (see tlsreactor-hello --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake --preset release
# Only the demo's targets: a broken test must not block the demo.
cmake --build --preset release -j2 --target tlsreactor-hello example-https-get
cat <<'HELP'

HTTPS demo on https://127.0.0.1:8443/ (Ctrl-C drains and stops it). Try, from another shell:
  curl --cacert /tmp/tlsreactor-dev/ca.pem https://localhost:8443/      # verified against the dev CA
  curl -k https://127.0.0.1:8443/bytes/1048576 | wc -c                   # 1 MiB, streamed
  build/release/examples/example-https-get localhost:8443 / /tmp/tlsreactor-dev/ca.pem

HELP
exec build/release/apps/hello/tlsreactor-hello --tls --listen 127.0.0.1:8443 \
  --dev-cert-dir /tmp/tlsreactor-dev "$@"
