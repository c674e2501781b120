#!/bin/sh
# SPF benchmark driver: mailauth, libspf2 and pyspf over the shared corpus,
# one core, in one run.  See bench/README.md.
#
#   bench/run-spf.sh [CORPUS]          (default /tmp/corpus)
#
# Environment: BUILD (default /tmp/build-bench), CPU (core to pin to,
# default 1), SECONDS_MIN (timed seconds per implementation, default 2),
# SHOW (disagreements listed on stderr per implementation, default 0),
# SHARED (the shared/ tree, default ../shared next to the source).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
corpus=${1:-/tmp/corpus}
build=${BUILD:-/tmp/build-bench}
cpu=${CPU:-1}
secs=${SECONDS_MIN:-2}
shared=${SHARED:-$src/../shared}
py=/usr/bin/python3

if [ ! -f "$corpus/spf/dns.json" ] || [ ! -f "$corpus/spf/queries.json" ]; then
	echo "generating the SPF corpus in $corpus (seed 1) ..." >&2
	"$py" "$shared/bench/make_corpus.py" --out "$corpus" --seed 1 --only spf >/dev/null
fi

if [ ! -f "$build/build.ninja" ]; then
	(cd "$src" && meson setup "$build" -Dbuildtype=release) >/dev/null
fi
ninja -j2 -C "$build" bench/spf_bench >/dev/null

pin="taskset -c $cpu"
command -v taskset >/dev/null 2>&1 || pin=""

c_out=$($pin "$build/bench/spf_bench" -t "$secs" -d "${SHOW:-0}" "$corpus")
ref=$(printf '%s\n' "$c_out" | awk '$1 == "libspf2" { print $4 }')
py_out=$($pin "$py" "$here/pyspf_bench.py" --seconds "$secs" --show "${SHOW:-0}" --ref "${ref:-0}" "$corpus")

printf '%s\n%s\n' "$c_out" "$py_out"
