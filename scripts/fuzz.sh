#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang 14, ASan+UBSan: the `fuzz` preset) and runs each for a
# bounded time, starting from the checked-in seeds in tests/fuzz/corpus/NAME. New inputs go to
# build/fuzz/corpus/NAME (kept between runs), crashes to build/fuzz/crashes/NAME/.
#
#   scripts/fuzz.sh                    every harness, 60 s each (what CI runs)
#   scripts/fuzz.sh 3600               every harness, an hour each
#   scripts/fuzz.sh 600 http-request   one harness
#
# A crash: copy its file into tests/fuzz/regressions/NAME/ and fix the bug; the regular test
# suite then replays it for ever (ctest -R fuzz.replay).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
harnesses=("$@")
[[ ${#harnesses[@]} -gt 0 ]] || harnesses=(engine-server engine-client engine-records http-request proxy-header
  config-file ws-session hello-request)

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)" --target "${harnesses[@]/#/fuzz-}"

status=0
for name in "${harnesses[@]}"; do
  work=build/fuzz/corpus/$name
  crashes=build/fuzz/crashes/$name
  mkdir -p "$work" "$crashes"
  echo "== fuzz-$name for ${seconds}s"
  # -timeout: an input taking over 10 s is a hang; -rss_limit_mb: a leak or a runaway buffer.
  if ! "build/fuzz/tests/fuzz/fuzz-$name" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" \
      "$work" "tests/fuzz/corpus/$name" 2>"build/fuzz/$name.log"; then
    echo "fuzz-$name FAILED: see build/fuzz/$name.log and $crashes/"
    tail -40 "build/fuzz/$name.log"
    status=1
  fi
  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "build/fuzz/$name.log" || true
done
exit $status
