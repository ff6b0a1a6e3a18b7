#!/usr/bin/env bash
# Runs check.mjs against a `stockgraph serve --demo` on a throw-away SQLite database, in Debian's
# headless Chromium (installed here when missing).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib/demo.sh"
ensure_chromium
install_check "$here" check.mjs /var/tmp/stockgraph-graphiql-check
start_demo "$1"
node "$modules/check.mjs" "$base" "$token" "$browser"
