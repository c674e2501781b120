#!/bin/sh
# The whole test suite: installs what it needs, builds with AddressSanitizer
# and UndefinedBehaviorSanitizer, runs every suite, builds the fuzz targets
# with clang and runs their smoke tests, then prints "N passed, N failed"
# counting every test case.
set -u
cd "$(dirname "$0")/.."
root=$PWD
tests/setup.sh test build-test -Db_sanitize=address,undefined -Db_lundef=false || exit 1

status=0
meson test -C build-test --num-processes 2 --print-errorlogs \
  --suite unit --suite lua --suite conformance --suite integration || status=1

if CC=clang-14 tests/setup.sh test build-fuzz -Dfuzz=true -Dbuildtype=debugoptimized; then
  meson test -C build-fuzz --num-processes 2 --print-errorlogs --suite fuzz-smoke || status=1
else
  echo "fuzz build failed"
  status=1
fi

lua5.4 "$root/tests/summary.lua" build-test/meson-logs/testlog.json build-fuzz/meson-logs/testlog.json
rc=$?
[ $status -eq 0 ] && [ $rc -eq 0 ]
