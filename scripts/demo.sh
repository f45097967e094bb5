#!/usr/bin/env bash
# Builds the demo server (release preset, only its target: a broken test must not block the
# demo) and runs it in the foreground. Extra arguments go to the server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake --preset release
cmake --build --preset release -j2 --target tlsreactor-echo
exec build/release/apps/echo/tlsreactor-echo --listen 127.0.0.1:7000 "$@"
