#!/bin/sh
# Pipeline benchmark driver: mailauth.check (SPF + DKIM + DMARC + site policy
# + Authentication-Results) against mailauth's DKIM verification alone, the
# same pipeline in C (bench/check_floor), npm mailauth's authenticate() and
# Debian's authheaders (dkimpy + pyspf), one core, over the shared corpus's
# messages.  See bench/README.md.
#
#   bench/run-check.sh [CORPUS]          (default /tmp/corpus)
#
# Environment: BUILD (default /tmp/build-bench), CPU (core to pin to,
# default 1), REPEAT (rounds of [check_floor, check_bench.lua, npm
# mailauth], default 3; the medians are printed), ROUNDS
# (least interleaved dkim/check rounds per mailauth run, default 9),
# SECONDS_MIN (least timed seconds per mailauth run, default 3), NODE_SECONDS
# (default 3), NODE_ROUNDS (default 3), PY_SECONDS (default 3; 0 skips
# authheaders), NPM_DIR (where npm mailauth is installed when missing,
# default /tmp/mailauth-npm), SHOW (disagreements listed on stderr, default
# 0), SHARED (the shared/ tree, default ../shared next to the source).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
corpus=${1:-/tmp/corpus}
build=${BUILD:-/tmp/build-bench}
cpu=${CPU:-1}
shared=${SHARED:-$src/../shared}
npm_dir=${NPM_DIR:-/tmp/mailauth-npm}
repeat=${REPEAT:-3}
show=${SHOW:-0}
py=/usr/bin/python3

if [ ! -f "$corpus/dkim/expected.json" ] || [ ! -f "$corpus/spf/dns.json" ]; then
	echo "generating the corpus in $corpus (seed 1, a few minutes) ..." >&2
	"$py" "$shared/bench/make_corpus.py" --out "$corpus" --seed 1 >/dev/null
fi
# The pipeline's zone and envelopes (deterministic; about a second).
"$py" "$here/check_zone.py" --corpus "$corpus" --out "$corpus/check"

if [ ! -f "$build/build.ninja" ]; then
	(cd "$src" && meson setup "$build" -Dbuildtype=release) >/dev/null
fi
ninja -j2 -C "$build" lua/mailauth/core.so bench/check_floor >/dev/null

if [ ! -f "$npm_dir/node_modules/mailauth/package.json" ]; then
	echo "installing npm mailauth in $npm_dir ..." >&2
	mkdir -p "$npm_dir"
	[ -f "$npm_dir/package.json" ] || echo '{"private": true}' >"$npm_dir/package.json"
	(cd "$npm_dir" && npm install --no-audit --no-fund --loglevel=error mailauth >/dev/null)
fi

pin="taskset -c $cpu"
command -v taskset >/dev/null 2>&1 || pin=""

export LUA_PATH="$src/lua/?.lua;$src/lua/?/init.lua;;"
export LUA_CPATH="$build/lua/?.so;;"

field() {	# field WORD-BEFORE LINE: the word before "$1" in the line
	printf '%s\n' "$2" | awk -v w="$1" '{ for (i = 2; i <= NF; i++) if ($i == w) { print $(i - 1); exit } }'
}
median() {
	tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

rc=0
dkim_rates="" check_rates="" cost="" node_rates="" node_ratio="" c_dkim="" c_check="" c_cost=""
i=0
while [ "$i" -lt "$repeat" ]; do
	i=$((i + 1))
	fout=$($pin "$build/bench/check_floor" -r "${ROUNDS:-9}" -t 2 "$corpus") || rc=1
	fdline=$(printf '%s\n' "$fout" | grep '^c-dkim')
	fcline=$(printf '%s\n' "$fout" | grep '^c-check')
	c_dkim="$c_dkim $(field msgs/s "$fdline")"
	c_check="$c_check $(field msgs/s "$fcline")"
	c_cost="$c_cost $(field the "$fcline" | tr -d x)"
	out=$($pin lua5.4 "$here/check_bench.lua" -r "${ROUNDS:-9}" -t "${SECONDS_MIN:-3}" -d "$show" "$corpus") || rc=1
	dline=$(printf '%s\n' "$out" | grep '^mailauth-dkim')
	cline=$(printf '%s\n' "$out" | grep '^mailauth-check')
	crate=$(field msgs/s "$cline")
	dkim_rates="$dkim_rates $(field msgs/s "$dline")"
	check_rates="$check_rates $crate"
	cost="$cost $(field "DKIM" "$cline" | tr -d x)"
	nline=$(NODE_PATH="$npm_dir/node_modules" $pin node "$here/peer_mailauth_npm.js" --seconds "${NODE_SECONDS:-3}" \
	    --rounds "${NODE_ROUNDS:-3}" --show "$show" --ref "$crate" "$corpus")
	nrate=$(field msgs/s "$nline")
	node_rates="$node_rates $nrate"
	node_ratio="$node_ratio $(awk -v c="$crate" -v n="$nrate" 'BEGIN { printf "%.3f", c / n }')"
	printf '%s\n%s\n%s\n%s\n%s\n' "$fdline" "$fcline" "$dline" "$cline" "$nline" >&2
done

m_dkim=$(echo "$dkim_rates" | median)
m_check=$(echo "$check_rates" | median)
m_cost=$(echo "$cost" | median)
m_node=$(echo "$node_rates" | median)
m_nratio=$(echo "$node_ratio" | median)
m_cdkim=$(echo "$c_dkim" | median)
m_ccheck=$(echo "$c_check" | median)
m_ccost=$(echo "$c_cost" | median)

py_line=""
if [ "${PY_SECONDS:-3}" != 0 ]; then
	py_line=$($pin "$py" "$here/peer_authheaders.py" --seconds "${PY_SECONDS:-3}" --show "$show" --ref "$m_check" "$corpus")
fi

agree() { printf '%s\n' "$1" | sed -n 's/^[^ ]* *\([0-9]*\/[0-9]*\) agree\( ([^)]*)\)\{0,1\}.*/\1 agree\2/p'; }
printf '%-15s %-58s %8.0f msgs/s\n' mailauth-dkim "$(agree "$dline")" "$m_dkim"
printf '%-15s %-58s %8.0f msgs/s  %.2fx the DKIM cost\n' mailauth-check "$(agree "$cline")" "$m_check" "$m_cost"
printf '%-15s %-58s %8.0f msgs/s\n' c-dkim "$(agree "$fdline")" "$m_cdkim"
printf '%-15s %-58s %8.0f msgs/s  %.2fx the DKIM cost (core/ without Lua)\n' c-check "$(agree "$fcline")" "$m_ccheck" "$m_ccost"
printf '%-15s %-58s %8.0f msgs/s  mailauth %.1fx faster\n' npm-mailauth "$(agree "$nline")" "$m_node" "$m_nratio"
fastest=npm-mailauth fast_ratio=$m_nratio
if [ -n "$py_line" ]; then
	prate=$(field msgs/s "$py_line")
	pratio=$(awk -v c="$m_check" -v p="$prate" 'BEGIN { printf "%.3f", c / p }')
	printf '%-15s %-58s %8.1f msgs/s  mailauth %.1fx faster\n' authheaders "$(agree "$py_line")" "$prate" "$pratio"
	if awk -v a="$pratio" -v b="$fast_ratio" 'BEGIN { exit !(a < b) }'; then fastest=authheaders fast_ratio=$pratio; fi
fi
awk -v c="$m_cost" -v r="$fast_ratio" -v f="$fastest" 'BEGIN {
	printf "targets         pipeline <= 1.30x DKIM: %s (%.2fx); >= 5x the fastest peer (%s): %s (%.1fx)\n",
	    (c <= 1.30 ? "met" : "MISSED"), c, f, (r >= 5 ? "met" : "MISSED"), r }'
exit $rc
