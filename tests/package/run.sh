#!/usr/bin/env bash
# Usage: run.sh BUILD_DIR — builds the Debian packages of BUILD_DIR with cpack, checks what
# each one holds (dpkg -c) and declares (conffiles, dependencies), unpacks both into a scratch
# root (dpkg -x, nothing touches the system) and builds tests/consumer against that root, then
# runs the unpacked proxy on the unpacked example configuration (--check).
set -euo pipefail
build=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tlsreactor-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

step() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }

step cpack
(cd "$build" && cpack -G DEB -B "$tmp/out") >"$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log"; exit 1; }
runtime=$(find "$tmp/out" -maxdepth 1 -name 'tlsreactor_*.deb' -print -quit)
dev=$(find "$tmp/out" -maxdepth 1 -name 'libtlsreactor-dev_*.deb' -print -quit)
[[ -n $runtime && -n $dev ]] || { ls -l "$tmp/out"; fail "expected tlsreactor_*.deb and libtlsreactor-dev_*.deb"; }

# `dpkg -c` lists ./usr/bin/x; each expected path is an extended regex matched against the
# whole of one line (the library directory may be lib or lib/<multiarch>).
expect_files() {
  local deb=$1
  shift
  dpkg -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$tmp/list"
  for want in "$@"; do
    grep -qxE -- "$want" "$tmp/list" || { cat "$tmp/list"; fail "$(basename "$deb") lacks $want"; }
  done
  echo "$(basename "$deb"): $# expected files present"
}

step "dpkg -c tlsreactor"
runtime_files=(/usr/bin/tlsreactor-proxy /usr/bin/tlsreactor-hello /usr/bin/tlsreactor-echo
  /usr/share/man/man8/tlsreactor-proxy.8.gz /usr/share/man/man1/tlsreactor-hello.1.gz
  /usr/share/man/man1/tlsreactor-echo.1.gz /usr/share/man/man5/tlsreactor.toml.5.gz
  /etc/tlsreactor/proxy.toml)
# The systemd units join the package with the unit files themselves (apps/proxy/systemd).
for unit in "$source_dir"/apps/proxy/systemd/*.service "$source_dir"/apps/proxy/systemd/*.socket; do
  [[ -e $unit ]] && runtime_files+=("/usr/lib/systemd/system/$(basename "$unit")")
done
expect_files "$runtime" "${runtime_files[@]}"
dpkg-deb -f "$runtime" Package | grep -qx tlsreactor || fail "runtime package is not named tlsreactor"
dpkg-deb -I "$runtime" conffiles | grep -qx /etc/tlsreactor/proxy.toml ||
  fail "/etc/tlsreactor/proxy.toml is not a conffile"
depends=$(dpkg-deb -f "$runtime" Depends)
echo "Depends: $depends"
for lib in libuv1 libssl3; do
  [[ $depends == *"$lib"* ]] || fail "tlsreactor does not depend on $lib"
done

step "dpkg -c libtlsreactor-dev"
expect_files "$dev" /usr/include/tlsreactor/reactor/Loop.hpp /usr/include/tlsreactor/tls/Context.hpp \
  '/usr/lib/(.+/)?libtlsreactor_reactor\.a' '/usr/lib/(.+/)?libtlsreactor_tls\.a' \
  '/usr/lib/(.+/)?cmake/tlsreactor/tlsreactorConfig\.cmake' '/usr/lib/(.+/)?pkgconfig/tlsreactor\.pc'
if dpkg -c "$dev" | grep -q -e '/bin/' -e '/etc/'; then fail "libtlsreactor-dev holds programs or /etc files"; fi
[[ $(dpkg-deb -f "$dev" Depends) == *libuv1-dev*libssl-dev* ]] || fail "libtlsreactor-dev misses its -dev dependencies"

step "dpkg -x into a scratch root"
root=$tmp/root
dpkg -x "$runtime" "$root"
dpkg -x "$dev" "$root"
"$root/usr/bin/tlsreactor-proxy" --version
zcat "$root/usr/share/man/man8/tlsreactor-proxy.8.gz" | groff -man -Tutf8 -ww >/dev/null 2>"$tmp/groff.log"
[[ ! -s $tmp/groff.log ]] || { cat "$tmp/groff.log"; fail "the packaged tlsreactor-proxy(8) does not render cleanly"; }
"$root/usr/bin/tlsreactor-proxy" --config "$root/etc/tlsreactor/proxy.toml" --check \
  --dev-cert-dir "$tmp/dev-cert"

step "tests/consumer against the unpacked packages"
bash "$source_dir/tests/consumer/run.sh" --installed "$root/usr"

step ok
