#!/usr/bin/env bash
# Runs check.mjs (the example purchasing board, driven in Debian's headless Chromium) against a
# `stockgraph serve --demo` on a throw-away SQLite database. With SCREENSHOTS=dir it also
# refreshes the README's screenshots there (e.g. SCREENSHOTS=assets/screenshots).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$1"
browser="$(command -v chromium || true)"
if [ -z "$browser" ]; then
  echo "installing Debian's chromium for the example-app check"
  # A fresh machine has no package lists yet: without them apt finds no chromium.
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  browser="$(command -v chromium)"
fi
if [ -n "${SCREENSHOTS:-}" ]; then
  mkdir -p "$SCREENSHOTS"
  SCREENSHOTS="$(cd "$SCREENSHOTS" && pwd)"
  export SCREENSHOTS
fi
work="$(mktemp -d)"
modules="${STOCKGRAPH_NPM_CACHE:-/var/tmp/stockgraph-example-check}"
mkdir -p "$modules"
cp "$here/package.json" "$modules/"
(cd "$modules" && npm install --no-audit --no-fund --silent >/dev/null)
cp "$here/check.mjs" "$modules/"
DATABASE_URL="sqlite://$work/demo.db" "$bin" serve --demo --port 0 >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 60); do grep -q "serving GraphiQL" "$work/serve.log" 2>/dev/null && break; sleep 0.5; done
base="$(grep -o 'http://[^ ]*' "$work/serve.log" | head -1 | sed 's#/graphql$##')"
grep -q 'Bearer ' "$work/serve.log" || { echo "serve --demo printed no demo token"; cat "$work/serve.log"; exit 1; }
[ -n "$base" ] || { cat "$work/serve.log"; exit 1; }
node "$modules/check.mjs" "$base" "$browser"
