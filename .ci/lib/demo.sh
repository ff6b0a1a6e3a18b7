# Shared by the browser and protocol checks (.ci/*/run.sh): source it, then call the functions.
# Each check runs a Node script from its own folder against a `stockgraph serve --demo` on a
# throw-away SQLite database.

# Sets $browser to Debian's headless Chromium, installing it when missing.
ensure_chromium() {
  browser="$(command -v chromium || true)"
  if [ -z "$browser" ]; then
    echo "installing Debian's chromium for the browser checks"
    # A fresh machine has no package lists yet: without them apt finds no chromium.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    browser="$(command -v chromium)"
  fi
}

# install_check DIR SCRIPT CACHE: installs DIR/package.json's modules into CACHE (or
# $STOCKGRAPH_NPM_CACHE), copies DIR/SCRIPT beside them and sets $modules to that folder.
install_check() {
  modules="${STOCKGRAPH_NPM_CACHE:-$3}"
  mkdir -p "$modules"
  cp "$1/package.json" "$modules/"
  (cd "$modules" && npm install --no-audit --no-fund --silent >/dev/null)
  cp "$1/$2" "$modules/"
}

# start_demo BIN: starts `BIN serve --demo` on a throw-away database, stops it on exit, and sets
# $base (http://host:port) and $token (the demo admin token) once it serves.
start_demo() {
  work="$(mktemp -d)"
  DATABASE_URL="sqlite://$work/demo.db" "$1" serve --demo --port 0 >"$work/serve.log" 2>&1 &
  server=$!
  trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 1 60); do grep -q "serving GraphiQL" "$work/serve.log" 2>/dev/null && break; sleep 0.5; done
  base="$(grep -o 'http://[^ ]*' "$work/serve.log" | head -1 | sed 's#/graphql$##')"
  token="$(grep -o 'Bearer .*' "$work/serve.log" | head -1 | cut -d' ' -f2)"
  [ -n "$base" ] && [ -n "$token" ] || { echo "serve --demo did not start"; cat "$work/serve.log"; exit 1; }
}
