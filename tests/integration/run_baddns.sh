#!/bin/bash
# Runs tests/integration/net_baddns against tests/tools/baddns.py:
#
#   run_baddns.sh NET_BADDNS_BINARY BADDNS_PY
#
# The server gets one UDP port per mode on 127.0.0.1, from $MA_BADDNS_PORTS
# (default 53531-53540, taken from the top down), and is stopped by its PID
# when the script ends, on failure and on signals too.  The last line of the output is net_baddns's
# "RESULT: N passed, M failed".
set -u

bin=${1:?usage: run_baddns.sh NET_BADDNS_BINARY BADDNS_PY}
py=${2:?usage: run_baddns.sh NET_BADDNS_BINARY BADDNS_PY}
range=${MA_BADDNS_PORTS:-53531-53540}
python=/usr/bin/python3
dir=
spid=

say() { echo "# $*"; }

cleanup() {
	[ -n "${tpid:-}" ] && kill "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null
	if [ -n "$spid" ]; then
		kill "$spid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$spid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
		spid=
	fi
	[ -n "$dir" ] && rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

setup_failed() {
	say "setup failed: $*"
	[ -f "$dir/baddns.log" ] && sed 's/^/# baddns: /' "$dir/baddns.log"
	echo "RESULT: 0 passed, 1 failed"
	exit 1
}

[ -x "$python" ] || setup_failed "$python missing"
dir=$(mktemp -d /tmp/mailauth-baddns.XXXXXX) || setup_failed "mktemp"

"$python" "$py" --ready "$dir/ready" --ports "$range" --delay-ms 200 \
	silent delay servfail refused garbage 2> "$dir/baddns.log" &
spid=$!
for _ in $(seq 100); do
	[ -f "$dir/ready" ] && break
	kill -0 "$spid" 2>/dev/null || setup_failed "baddns.py exited"
	sleep 0.1
done
[ -f "$dir/ready" ] || setup_failed "baddns.py not ready after 10 s"

args=()
while read -r mode port; do
	# Only our server on that port.
	pids=$(ss -Hlnup "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
	[ -z "$pids" ] || [ "$pids" = "$spid" ] || setup_failed "port $port shared with pid(s) $pids"
	args+=("$mode=$port")
done < "$dir/ready"
say "baddns.py pid $spid: ${args[*]}"

"$bin" "${args[@]}" > "$dir/out" 2>&1 &
# In the background so that a signal reaches the trap at once.
tpid=$!
wait "$tpid"
rc=$?
tpid=
# Stop the server first so that its log (query counts) is complete.
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
spid=
sed 's/^/# baddns: /' "$dir/baddns.log"
nsan=$(grep -cE 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$dir/out")
[ "$nsan" -gt 0 ] && say "WARNING: $nsan sanitizer report(s) in the output of net_baddns below"
cat "$dir/out"
case $(tail -n 1 "$dir/out") in
RESULT:*) ;;
*)
	say "net_baddns ended without a RESULT line (exit status $rc)"
	echo "RESULT: 0 passed, 1 failed"
	[ "$rc" = 0 ] && rc=1
	;;
esac
exit "$rc"
