#!/usr/bin/env bash
# Runs check.mjs (the example purchasing board, driven in Debian's headless Chromium) against a
# `stockgraph serve --demo` on a throw-away SQLite database. With SCREENSHOTS=dir it also
# refreshes the README's screenshots there (e.g. SCREENSHOTS=assets/screenshots).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib/demo.sh"
ensure_chromium
if [ -n "${SCREENSHOTS:-}" ]; then
  mkdir -p "$SCREENSHOTS"
  SCREENSHOTS="$(cd "$SCREENSHOTS" && pwd)"
  export SCREENSHOTS
fi
install_check "$here" check.mjs /var/tmp/stockgraph-example-check
start_demo "$1"
node "$modules/check.mjs" "$base" "$browser"
