#!/bin/bash
# Runs tests/integration/net_knot against a knotd of its own:
#
#   run_knot.sh NET_KNOT_BINARY
#
# knotd serves the zones in this directory (templates) on 127.0.0.1, on the
# first free port of $MA_KNOT_PORTS (default 53531-53540, from the bottom
# up), as user nobody (when started as root) from a temporary directory
# under /tmp.  It is stopped by its PID when the script ends, on failure and
# on signals too.
# The last line of the output is net_knot's "RESULT: N passed, M failed".
set -u

bin=${1:?usage: run_knot.sh NET_KNOT_BINARY}
here=$(cd "$(dirname "$0")" && pwd)
range=${MA_KNOT_PORTS:-53531-53540}
knotd=/usr/sbin/knotd
knotc=/usr/sbin/knotc
dir=
kpid=

say() { echo "# $*"; }

cleanup() {
	[ -n "${tpid:-}" ] && kill "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null
	if [ -n "$kpid" ]; then
		kill "$kpid" 2>/dev/null
		for _ in $(seq 50); do
			kill -0 "$kpid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$kpid" 2>/dev/null
		wait "$kpid" 2>/dev/null
		kpid=
	fi
	[ -n "$dir" ] && rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

setup_failed() {
	say "setup failed: $*"
	[ -f "$dir/knotd.log" ] && sed 's/^/# knotd: /' "$dir/knotd.log"
	echo "RESULT: 0 passed, 1 failed"
	exit 1
}

if [ ! -x "$knotd" ] || ! command -v kdig >/dev/null; then
	say "knotd or kdig missing (Debian: knot, knot-dnsutils): skipped"
	echo "RESULT: 0 passed, 0 failed"
	exit 77
fi

dir=$(mktemp -d /tmp/mailauth-knot.XXXXXX) || setup_failed "mktemp"
mkdir "$dir/run" "$dir/db" "$dir/zones" || setup_failed "mkdir"
chmod 755 "$dir" "$dir/zones"
if [ "$(id -u)" = 0 ]; then
	user=nobody
	group=$(id -gn nobody) || setup_failed "no user nobody"
	chown "$user:$group" "$dir/run" "$dir/db"
	runas=(setpriv --reuid="$user" --regid="$group" --clear-groups --)
else
	user=$(id -un)
	runas=()
	say "not root: knotd runs as $user"
fi

big=$("$bin" --print-big-txt) || setup_failed "$bin --print-big-txt"
nonce=$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
for z in mailauth.test 2.0.192.in-addr.arpa 8.b.d.0.1.0.0.2.ip6.arpa; do
	sed -e "s|@BIGTXT@|$big|" -e "s|@NONCE@|$nonce|" "$here/$z.zone.in" > "$dir/zones/$z.zone" ||
		setup_failed "zone $z"
done
chmod 644 "$dir"/zones/*

# Pids listening on 127.0.0.1:$1 (UDP and TCP), one a line.
listeners() {
	{ ss -Hlnup "sport = :$1"; ss -Hlntp "sport = :$1"; } 2>/dev/null |
		grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}
port_busy() {
	{ ss -Hlnu "sport = :$1"; ss -Hlnt "sport = :$1"; } 2>/dev/null | grep -q .
}
have_ss=$(command -v ss)
[ -n "$have_ss" ] || say "ss (iproute2) missing: ports are not checked for other listeners"

lo=${range%-*}
hi=${range#*-}
port=
for p in $(seq "$lo" "$hi"); do
	port_busy "$p" && { say "port $p is in use, trying the next"; continue; }
	sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$p|g" "$here/knot.conf.in" > "$dir/knot.conf"
	chmod 644 "$dir/knot.conf"
	"$knotc" -c "$dir/knot.conf" conf-check > "$dir/conf-check.log" 2>&1 ||
		{ cat "$dir/conf-check.log"; setup_failed "knotc conf-check"; }
	"${runas[@]}" "$knotd" -c "$dir/knot.conf" > "$dir/knotd.log" 2>&1 &
	kpid=$!
	ready=
	end=$((SECONDS + 10))
	while [ "$SECONDS" -lt "$end" ]; do
		kill -0 "$kpid" 2>/dev/null || break
		got=$(kdig @127.0.0.1 -p "$p" +short +time=1 +retry=0 "nonce.mailauth.test" TXT 2>/dev/null)
		if [ "$got" = "\"$nonce\"" ]; then
			ready=1
			break
		fi
		sleep 0.1
	done
	# Our knotd, and only it, on that port (SO_REUSEPORT would let another
	# nobody-owned knotd share it).
	if [ -n "$ready" ] && { [ -z "$have_ss" ] || [ "$(listeners "$p")" = "$kpid" ]; }; then
		port=$p
		break
	fi
	say "knotd on port $p not usable (ready=${ready:-no}, listeners: $(listeners "$p" | tr '\n' ' '))"
	sed 's/^/# knotd: /' "$dir/knotd.log"
	kill "$kpid" 2>/dev/null
	wait "$kpid" 2>/dev/null
	kpid=
done
[ -n "$port" ] || setup_failed "no usable port in $range"
say "knotd pid $kpid as $(ps -o user= -p "$kpid") on 127.0.0.1@$port, directory $dir"

# Sanity, for the log: knotd's UDP answer to the big TXT is truncated (TC).
say "kdig +notcp +ignore +bufsize=1232 big.mailauth.test TXT:"
kdig @127.0.0.1 -p "$port" +notcp +ignore +bufsize=1232 +time=2 big.mailauth.test TXT 2>&1 |
	grep -E 'Flags|Received|WARNING' | sed 's/^/#   /'

"$bin" "$port" "$dir/run/knot.sock" > "$dir/out" 2>&1 &
# In the background so that a signal reaches the trap at once.
tpid=$!
wait "$tpid"
rc=$?
tpid=
[ "$rc" != 0 ] && sed 's/^/# knotd: /' "$dir/knotd.log"
nsan=$(grep -cE 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$dir/out")
[ "$nsan" -gt 0 ] && say "WARNING: $nsan sanitizer report(s) in the output of net_knot below"
cat "$dir/out"
case $(tail -n 1 "$dir/out") in
RESULT:*) ;;
*)
	say "net_knot ended without a RESULT line (exit status $rc)"
	echo "RESULT: 0 passed, 1 failed"
	[ "$rc" = 0 ] && rc=1
	;;
esac
exit "$rc"
