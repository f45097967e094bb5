#!/usr/bin/env bash
# Installs the Debian packages the build, tests and demos need. Idempotent: when everything is
# present it touches neither apt nor the network.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev libssl-dev doctest-dev node-llhttp libtomlplusplus-dev libnghttp2-dev libwslay-dev
  # Test peers and tools (tests/integration talks to programs nobody here wrote).
  openssl python3 socat netcat-openbsd curl gnutls-bin procps nginx-light
  # Fuzzing (scripts/fuzz.sh): clang 14 and its libFuzzer runtime.
  clang-14 libclang-rt-14-dev
  # The admin listener's /metrics is checked with the Prometheus client's own text parser.
  python3-prometheus-client
  # WebSocket peers: Python's websockets and Node's ws as clients of hello's /ws
  # (WebSocketTests.cpp) and through the proxy (ProxyWebSocketTests.cpp), websockets also as
  # the proxy's upstream.
  python3-websockets nodejs node-ws
  # The TLS defaults are judged by a scanner (tests/integration/ScannerTests.cpp).
  testssl.sh
  # HTTP/2 peers: curl speaks it; h2load and nghttp come from nghttp2-client.
  nghttp2-client
  # Hand-made HTTP/2 frames: the attacks and stalls of peers/h2_attack.py, the proxy's
  # peers/h2_client.py (Python's h2 and hpack).
  python3-h2
  # The proxy benchmark (bench/proxy.sh): the load generator; taskset is in util-linux.
  wrk util-linux
  # Instructions per operation (bench/callgrind.sh): callgrind and its client-request header.
  valgrind
  # The API reference (the `docs` target, test docs.api) from the public headers.
  doxygen
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  # `dpkg-query -W` alone also matches removed-but-configured packages; ask for the state.
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "bootstrap: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "bootstrap: installing ${missing[*]}"
"${sudo[@]}" apt-get update
# env, because sudo does not pass DEBIAN_FRONTEND through.
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
