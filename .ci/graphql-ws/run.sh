#!/usr/bin/env bash
# Runs interop.mjs against a `stockgraph serve --demo` on a throw-away SQLite database.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib/demo.sh"
install_check "$here" interop.mjs /var/tmp/stockgraph-graphql-ws
start_demo "$1"
node "$modules/interop.mjs" "$base" "$token"
