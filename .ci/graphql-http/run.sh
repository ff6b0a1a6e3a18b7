#!/usr/bin/env bash
# Runs audit.mjs (the graphql-http audit suite) against a `stockgraph serve --demo` on a
# throw-away SQLite database.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib/demo.sh"
install_check "$here" audit.mjs /var/tmp/stockgraph-graphql-http
start_demo "$1"
node "$modules/audit.mjs" "$base" "$token"
