#!/usr/bin/env bash
# The async-offload benchmark: Release build, then the inline/offload table (loopback only,
# about 2 x (1 + SECONDS) seconds). Usage: bench/offload.sh [SECONDS per mode]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake --preset release >/dev/null
cmake --build --preset release -j2 --target bench-offload-latency
exec build/release/bench/bench-offload-latency "$@"
