#!/usr/bin/env bash
# Smoke-runs one libFuzzer target: its seed corpus, then a few seconds of
# fuzzing.  New inputs go to a temporary directory; the repository is not
# touched.  The last line printed is "RESULT: 1 passed, 0 failed" or
# "RESULT: 0 passed, 1 failed" (the CI sums such lines).
#
#   fuzz/smoke.sh FUZZER CORPUS_DIR [DICT] [SECONDS]
#
# SECONDS defaults to 5 (FUZZ_SMOKE_SECONDS overrides both).  A missing DICT
# file is ignored.
set -u

bin=${1:-}
corpus=${2:-}
dict=${3:-}
secs=${FUZZ_SMOKE_SECONDS:-${4:-5}}

result() {
	if [ "$1" = pass ]; then
		echo "RESULT: 1 passed, 0 failed"
		exit 0
	fi
	echo "RESULT: 0 passed, 1 failed"
	exit 1
}

name=$(basename "${bin:-fuzzer}")
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
	echo "smoke: $name: fuzzer binary '$bin' missing or not executable"
	result fail
fi
if [ -z "$corpus" ] || [ ! -d "$corpus" ]; then
	echo "smoke: $name: seed corpus directory '$corpus' missing"
	result fail
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-smoke.XXXXXX") || result fail
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/corpus"

args=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
	-artifact_prefix="$tmp/")
if [ -n "$dict" ] && [ -f "$dict" ]; then
	args+=(-dict="$dict")
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

nseeds=$(find "$corpus" -type f | wc -l)
echo "smoke: $name: $nseeds seeds from $corpus, then ${secs}s of fuzzing"
"$bin" "${args[@]}" "$tmp/corpus" "$corpus" >"$tmp/log" 2>&1
rc=$?

artifacts=$(find "$tmp" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
	-o -name 'timeout-*' -o -name 'oom-*' -o -name 'slow-unit-*' \) | sort)
# Slow units are reported, not failures.
bad=$(printf '%s\n' "$artifacts" | grep -v '/slow-unit-' | grep -c . || true)

if [ "$rc" -eq 0 ] && [ "$bad" -eq 0 ] && grep -q 'Done [0-9]* runs' "$tmp/log"; then
	grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^Done ' "$tmp/log"
	echo "smoke: $name: ok, $(find "$tmp/corpus" -type f | wc -l) new inputs (discarded)"
	result pass
fi

echo "smoke: $name: FAILED (exit $rc); last lines of the libFuzzer log:"
tail -n 60 "$tmp/log"
for a in $artifacts; do
	echo "smoke: $name: artifact $(basename "$a") ($(wc -c <"$a") bytes):"
	od -A x -t x1z -v "$a" | head -n 40
done
result fail
