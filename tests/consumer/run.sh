#!/usr/bin/env bash
# Usage: run.sh BUILD_DIR — installs BUILD_DIR into a scratch prefix, then builds and runs
# tests/consumer against it, through CMake's package and through pkg-config.
#        run.sh --installed PREFIX — the same against a prefix installed already (the Debian
# packages unpacked into a scratch root: tests/package/run.sh).
# CXX/CXXFLAGS/LDFLAGS (set by CTest from the parent build) reach both builds, so a sanitizer
# build links its sanitized library with the same runtime.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tlsreactor-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

step() { printf '== %s\n' "$*"; }

if [[ ${1:-} == --installed ]]; then
  prefix=$(cd "${2:?usage: run.sh --installed PREFIX}" && pwd)
else
  build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
  prefix=$tmp/prefix
  step install
  cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
fi

step "find_package(tlsreactor)"
cmake -S "$here" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Debug
cmake --build "$tmp/build"
"$tmp/build/consumer"

step pkg-config
pc=$(find "$prefix" -name tlsreactor.pc -print -quit)
[[ -n $pc ]] || { echo "tlsreactor.pc not installed"; exit 1; }
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
flags=$(pkg-config --cflags --libs tlsreactor)
echo "$flags"
# The .pc must point into the scratch prefix, wherever it was installed (it gets there through
# ${pcfiledir}/.., so compare directories, not strings).
incdir=$(pkg-config --variable=includedir tlsreactor)
[[ $incdir -ef $prefix/include && $flags == *"-I$incdir/tlsreactor"* ]] ||
  { echo "Cflags do not reach $prefix/include/tlsreactor"; exit 1; }
[[ $flags == *-ltlsreactor_reactor* ]] || { echo "no -ltlsreactor_reactor"; exit 1; }
# The library is static, so libuv comes from Requires.private: link with --static.
# shellcheck disable=SC2046,SC2086
${CXX:-c++} -std=c++20 ${CXXFLAGS:-} "$here/main.cpp" -o "$tmp/consumer-pc" ${LDFLAGS:-} \
  $(pkg-config --cflags --libs --static tlsreactor)
"$tmp/consumer-pc"
step ok
