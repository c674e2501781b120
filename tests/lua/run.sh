#!/bin/sh
# Runs the busted specs under Lua 5.4 and prints the RESULT line CI sums.
cd "$(dirname "$0")/../.."
out=$(busted --lua=lua5.4 -o TAP tests/lua 2>&1)
rc=$?
printf '%s\n' "$out"
ok=$(printf '%s\n' "$out" | grep -c '^ok ')
bad=$(printf '%s\n' "$out" | grep -c '^not ok ')
[ "$rc" -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
echo "RESULT: $ok passed, $bad failed"
[ "$bad" -eq 0 ]
