#!/bin/sh
# DKIM benchmark driver: the crypto floor, mailauth, libopendkim and dkimpy
# over the DKIM half of the shared corpus, one core, in one run; then
# mailauth signing against its floor, and the peak memory of verifying a
# 50 MB message from a file.  See bench/README.md.
#
#   bench/run-dkim.sh [CORPUS]          (default /tmp/corpus)
#
# Environment: BUILD (default /tmp/build-bench), CPU (core to pin to,
# default 1), ROUNDS (minimum interleaved verify rounds, default 9),
# SECONDS_MIN (minimum timed verify seconds in all, default 4), SIGN_ROUNDS
# (default 5), PY_SECONDS (dkimpy timed seconds, default 3), SHOW
# (disagreements listed on stderr per implementation, default 0), SHARED
# (the shared/ tree, default ../shared next to the source).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
corpus=${1:-/tmp/corpus}
build=${BUILD:-/tmp/build-bench}
cpu=${CPU:-1}
shared=${SHARED:-$src/../shared}
py=/usr/bin/python3

if [ ! -f "$corpus/dkim/dns.json" ] || [ ! -f "$corpus/dkim/expected.json" ]; then
	echo "generating the DKIM corpus in $corpus (seed 1, about a minute) ..." >&2
	"$py" "$shared/bench/make_corpus.py" --out "$corpus" --seed 1 --only dkim >/dev/null
fi

if [ ! -f "$build/build.ninja" ]; then
	(cd "$src" && meson setup "$build" -Dbuildtype=release) >/dev/null
fi
ninja -j2 -C "$build" bench/dkim_bench >/dev/null

pin="taskset -c $cpu"
command -v taskset >/dev/null 2>&1 || pin=""

# dkim_bench exits 1 on a disagreement, a bad signature or the memory limit; print its lines anyway.
rc=0
c_out=$($pin "$build/bench/dkim_bench" -r "${ROUNDS:-9}" -t "${SECONDS_MIN:-4}" -R "${SIGN_ROUNDS:-5}" \
    -d "${SHOW:-0}" "$corpus") || rc=$?
rate() {
	printf '%s\n' "$c_out" | awk -v w="$1" '$1 == w { for (i = 2; i <= NF; i++) if ($i == "msgs/s") print $(i - 1) }'
}
py_out=$($pin "$py" "$here/dkimpy_bench.py" --seconds "${PY_SECONDS:-3}" --show "${SHOW:-0}" \
    --floor "$(rate floor)" --ref "$(rate libopendkim)" "$corpus")

printf '%s\n' "$c_out" | sed -n '1,3p'
printf '%s\n' "$py_out"
printf '%s\n' "$c_out" | sed -n '4,$p'
exit $rc
