#!/bin/bash
# MTA-STS end-to-end tests against real HTTPS servers on 127.0.0.1:
#
#   run_mtasts.sh PART MANIFEST_DIR
#
# PART is discovery (the manifest's 24 discovery cases), hostile
# (misbehaving servers and DNS, the policy cache) or cli (mailauth mta-sts).
# MANIFEST_DIR is shared/conformance/mta-sts, read in place.
#
# In a temporary directory under /tmp: setup.lua makes two test CAs, the
# certificates and policy bodies and nginx's configuration; then
#   - badhttps.py (the misbehaving server, ports picked by the kernel), and
#   - Debian's nginx (/usr/sbin/nginx) with that configuration only (its own
#     prefix, pid file and error log in the directory; two free high ports;
#     as root its workers run as nobody)
# are started, waited for (an HTTPS probe through badhttps.py's client), and
# stopped by their PIDs when the script ends, on failure and on signals
# too.  The Lua script of the part runs with the environment described in
# common.lua (MTASTS_*); its last line is "RESULT: N passed, M failed".
#
# LUA_PATH, LUA_CPATH, MAILAUTH_CLI and, in a sanitizer build, LD_PRELOAD
# come from meson (tests/meson.build, lua_env); LD_PRELOAD is kept for the
# Lua scripts only, not for nginx, openssl or python.
set -u

part=${1:?usage: run_mtasts.sh discovery|hostile|cli MANIFEST_DIR}
mdir=${2:?usage: run_mtasts.sh discovery|hostile|cli MANIFEST_DIR}
here=$(cd "$(dirname "$0")" && pwd)
nginx=/usr/sbin/nginx
python=/usr/bin/python3
lua_preload=${LD_PRELOAD:-}
unset LD_PRELOAD
dir=
npid=
ppid_=
tpid=

say() { echo "# $*"; }

stop() { # PID: SIGTERM, up to 5 s, then SIGKILL
	kill "$1" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

cleanup() {
	[ -n "$tpid" ] && kill "$tpid" 2>/dev/null && wait "$tpid" 2>/dev/null
	[ -n "$npid" ] && stop "$npid"
	npid=
	[ -n "$ppid_" ] && stop "$ppid_"
	ppid_=
	if [ -n "$dir" ]; then
		if [ -n "${MTASTS_KEEP:-}" ]; then say "kept $dir"; else rm -rf "$dir"; fi
	fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

setup_failed() {
	say "setup failed: $*"
	[ -n "$dir" ] && [ -f "$dir/nginx-error.log" ] && tail -n 20 "$dir/nginx-error.log" | sed 's/^/# nginx: /'
	[ -n "$dir" ] && [ -f "$dir/badhttps.err" ] && sed 's/^/# badhttps: /' "$dir/badhttps.err"
	echo "RESULT: 0 passed, 1 failed"
	exit 1
}

case $part in discovery|hostile|cli) ;; *) setup_failed "unknown part '$part'" ;; esac
[ -x "$nginx" ] || setup_failed "$nginx missing (Debian: nginx)"
[ -x "$python" ] || setup_failed "$python missing (Debian: python3)"
command -v openssl >/dev/null || setup_failed "openssl missing (Debian: openssl)"
[ -r "$mdir/manifest.json" ] || setup_failed "no $mdir/manifest.json"

dir=$(mktemp -d /tmp/mailauth-mtasts.XXXXXX) || setup_failed "mktemp"
chmod 755 "$dir"
lua5.4 "$here/setup.lua" "$dir" "$mdir" || setup_failed "setup.lua"
chmod -R a+rX "$dir/www"

# badhttps.py first: it binds its own ports and says which.
"$python" "$here/badhttps.py" serve --ready "$dir/badhttps.ports" --certs "$dir/certs" \
	--key "$dir/pki/leaf.key" --log "$dir/badhttps.log" 2> "$dir/badhttps.err" &
ppid_=$!
for _ in $(seq 100); do
	[ -f "$dir/badhttps.ports" ] && break
	kill -0 "$ppid_" 2>/dev/null || setup_failed "badhttps.py exited"
	sleep 0.1
done
[ -f "$dir/badhttps.ports" ] || setup_failed "badhttps.py not ready after 10 s"
while read -r kind port; do
	export "MTASTS_PY_$(echo "$kind" | tr a-z A-Z)=$port"
done < "$dir/badhttps.ports"

# nginx: two free ports (the kernel's choice), checked after the start: only
# our nginx (its master and workers) listens there; another try otherwise.
if [ "$(id -u)" = 0 ]; then
	user="user nobody $(id -gn nobody);"
else
	user=""
fi
listeners() {
	ss -Hlntp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}
ours() { # every listener on port $1 is $npid or a child of it
	local p
	for p in $(listeners "$1"); do
		[ "$p" = "$npid" ] || [ "$(ps -o ppid= -p "$p" | tr -d ' ')" = "$npid" ] || return 1
	done
	[ -n "$(listeners "$1")" ]
}
port=
for try in 1 2 3 4 5; do
	read -r p h <<< "$("$python" "$here/badhttps.py" freeports 2)"
	[ -n "$p" ] && [ -n "$h" ] || setup_failed "no free ports"
	sed -e "s|@PORT@|$p|g" -e "s|@HPORT@|$h|g" -e "s|@USER@|$user|" "$dir/nginx.conf.in" > "$dir/nginx.conf"
	"$nginx" -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" 2> "$dir/nginx-t.log" ||
		{ cat "$dir/nginx-t.log"; setup_failed "nginx -t"; }
	"$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx-error.log" -g "daemon off;" 2>> "$dir/nginx-error.log" &
	npid=$!
	ready=
	for _ in $(seq 100); do
		kill -0 "$npid" 2>/dev/null || break
		if "$python" "$here/badhttps.py" probe --port "$p" --host mta-sts.ready.hostile.test \
			--ca "$dir/pki/good/ca.pem" 2>/dev/null &&
		   "$python" "$here/badhttps.py" probe --port "$h" --host mta-sts.ready.hostile.test \
			--ca "$dir/pki/good/ca.pem" 2>/dev/null; then
			ready=1
			break
		fi
		sleep 0.1
	done
	if [ -n "$ready" ] && ours "$p" && ours "$h"; then
		port=$p
		break
	fi
	say "nginx on ports $p/$h not usable (try $try, ready=${ready:-no})"
	stop "$npid"
	npid=
done
[ -n "$port" ] || setup_failed "nginx did not start"
say "nginx pid $npid on 127.0.0.1:$p and :$h; badhttps.py pid $ppid_:" $(tr '\n' ' ' < "$dir/badhttps.ports")
say "directory $dir"

export MTASTS_DIR="$dir" MTASTS_MANIFEST="$mdir" MTASTS_PORT="$p" MTASTS_HPORT="$h" \
	MTASTS_CA="$dir/pki/good/ca.pem" MTASTS_ROGUE_CA="$dir/pki/rogue/ca.pem" \
	MTASTS_ACCESS_LOG="$dir/access.log" MTASTS_PY_LOG="$dir/badhttps.log"

if [ -n "$lua_preload" ]; then
	LD_PRELOAD="$lua_preload" lua5.4 "$here/$part.lua" > "$dir/out" 2>&1 &
else
	lua5.4 "$here/$part.lua" > "$dir/out" 2>&1 &
fi
# In the background so that a signal reaches the trap at once.
tpid=$!
wait "$tpid"
rc=$?
tpid=
nsan=$(grep -cE 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$dir/out")
[ "$nsan" -gt 0 ] && say "WARNING: $nsan sanitizer report(s) in the output below"
cat "$dir/out"
if [ "$rc" != 0 ] || [ -n "${MTASTS_VERBOSE:-}" ]; then
	grep -E '\[(emerg|alert|crit|error)\]' "$dir/nginx-error.log" | tail -n 20 | sed 's/^/# nginx: /'
	[ -n "${MTASTS_VERBOSE:-}" ] && sed 's/^/# badhttps: /' "$dir/badhttps.log"
fi
case $(tail -n 1 "$dir/out") in
RESULT:*) ;;
*)
	say "$part.lua ended without a RESULT line (exit status $rc)"
	echo "RESULT: 0 passed, 1 failed"
	[ "$rc" = 0 ] && rc=1
	;;
esac
exit "$rc"
