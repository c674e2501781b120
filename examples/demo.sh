#!/bin/sh
# The main job on embedded defaults: SPF checks of a few envelopes against
# the bundled example zone (no network).  Installs what it needs first.
set -eu
cd "$(dirname "$0")/.."
tests/setup.sh demo build
export LUA_PATH="$PWD/lua/?.lua;$PWD/lua/?/init.lua;;"
export LUA_CPATH="$PWD/build/lua/?.so;;"
ma="build/lua/bin/mailauth"

echo "== mailauth spf on examples/zone.json =="
grep -v '^#' examples/envelopes.tsv | while IFS='	' read -r ip helo from what; do
  out=$("$ma" spf --ip "$ip" --helo "$helo" --mail-from "$from" --dns examples/zone.json \
        --receiver mx.demo.example)
  printf '\n# %s\n$ mailauth spf --ip %s --helo %s --mail-from "%s" --dns examples/zone.json\n%s\n' \
    "$what" "$ip" "$helo" "$from" "$out"
done
