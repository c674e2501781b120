#!/bin/sh
# The main job on embedded defaults, against the bundled example zone (no
# network): SPF checks of a few envelopes, then the whole pipeline
# (SPF, DKIM, DMARC, site policy, Authentication-Results) on bundled
# messages under two example rule sets, the posture audit of the example
# domain, and the records its publish rules compute.  Installs what it needs
# first.
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

# The messages were signed on 2025-11-24; --now keeps their t= believable.
echo
echo "== mailauth check on examples/messages, with rules/strict.lua and rules/cautious.lua =="
grep -v '^#' examples/messages.tsv | while IFS='	' read -r file ip helo from what; do
  for rules in rules/strict.lua rules/cautious.lua; do
    printf '\n# %s (%s)\n$ mailauth check --ip %s --helo %s --mail-from %s --rules %s < examples/messages/%s\n' \
      "$what" "$(basename "$rules" .lua) site" "$ip" "$helo" "$from" "$rules" "$file"
    "$ma" check --ip "$ip" --helo "$helo" --mail-from "$from" --dns examples/zone.json \
      --rules "$rules" --authserv-id mx.demo.example --now 1764000100 < "examples/messages/$file"
  done
done

echo
echo "== mailauth audit of the example domain (exit status 1 would mean a critical finding) =="
echo '$ mailauth audit example.org --selector demo2048 --selector demoed'
"$ma" audit example.org --dns examples/zone.json --selector demo2048 --selector demoed || true

echo
echo "== mailauth publish: the records rules/publish.lua computes for example.org (the Knot module's input) =="
echo '$ mailauth publish --rules rules/publish.lua --dns examples/zone.json'
"$ma" publish --rules rules/publish.lua --dns examples/zone.json
