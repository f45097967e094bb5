#!/usr/bin/env bash
# The project's test command: ASan+UBSan build, every test. Extra arguments go to ctest
# (e.g. scripts/test.sh -R install).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
cmake --preset asan
cmake --build --preset asan -j2
ctest --preset asan "$@"
