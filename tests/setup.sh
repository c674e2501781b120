#!/bin/sh
# Installs the Debian 12 packages mailauth needs (only when one is missing)
# and builds it.  Usage: tests/setup.sh [demo|test] [BUILD_DIR] [meson options...]
set -eu
cd "$(dirname "$0")/.."
what=${1:-demo}
[ $# -gt 0 ] && shift
dir=${1:-build}
[ $# -gt 0 ] && shift

pkgs="gcc libc6-dev pkg-config meson ninja-build lua5.4 liblua5.4-dev lua-cjson
      libc-ares-dev libjansson-dev libssl-dev libpsl-dev publicsuffix libcurl4-openssl-dev
      zlib1g-dev ca-certificates"
if [ "$what" = test ]; then
  pkgs="$pkgs lua-busted knot knot-dnsutils clang-14 libclang-rt-14-dev python3 libspf2-dev
        python3-dkim python3-spf libopendkim-dev nginx openssl"
fi

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "Installing Debian packages:$missing"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # Packages such as nginx and knot start system services when installed;
  # the tests run their own instances on 127.0.0.1, so none is started here.
  norc=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    norc=1
  fi
  rc=0
  # shellcheck disable=SC2086
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null || rc=$?
  [ -n "$norc" ] && $sudo rm -f /usr/sbin/policy-rc.d
  [ $rc -eq 0 ] || exit $rc
fi

if [ -f "$dir/build.ninja" ]; then
  meson setup --reconfigure "$dir" "$@" >/dev/null
else
  meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir" -j2 >/dev/null
