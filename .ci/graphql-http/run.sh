#!/usr/bin/env bash
# Runs audit.mjs (the graphql-http audit suite) against a `stockgraph serve --demo` on a
# throw-away SQLite database.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$1"
work="$(mktemp -d)"
modules="${STOCKGRAPH_NPM_CACHE:-/var/tmp/stockgraph-graphql-http}"
mkdir -p "$modules"
cp "$here/package.json" "$modules/"
(cd "$modules" && npm install --no-audit --no-fund --silent >/dev/null)
cp "$here/audit.mjs" "$modules/"
DATABASE_URL="sqlite://$work/demo.db" "$bin" serve --demo --port 0 >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 60); do grep -q "serving GraphiQL" "$work/serve.log" 2>/dev/null && break; sleep 0.5; done
base="$(grep -o 'http://[^ ]*' "$work/serve.log" | head -1 | sed 's#/graphql$##')"
token="$(grep -o 'Bearer .*' "$work/serve.log" | head -1 | cut -d' ' -f2)"
[ -n "$base" ] && [ -n "$token" ] || { cat "$work/serve.log"; exit 1; }
node "$modules/audit.mjs" "$base" "$token"
