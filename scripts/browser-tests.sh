#!/usr/bin/env bash
# The web app's journeys in a real browser: Debian's Chromium (installed with apt-get when it is
# missing; never a browser download), driven by playwright-core from npm (installed into
# tests/browser/node_modules from its lock file), against real `saldo serve` processes on SQLite
# and PostgreSQL. Each page is checked with axe-core and screenshotted at 1280 and 390 px wide
# under target/screenshots/.
# Usage: scripts/browser-tests.sh [journey file…]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  echo "scripts/browser-tests.sh: installing Debian's chromium (apt-get install -y chromium)"
  if ! apt-get install -y chromium >/dev/null; then
    apt-get update >/dev/null && apt-get install -y chromium >/dev/null
  fi
fi
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/axe-core ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo build --locked --quiet -p saldo
export SALDO_BIN=$PWD/target/debug/saldo
rm -rf target/screenshots
cd tests/browser
if [ "$#" -eq 0 ]; then
  set -- journeys/
fi
node --test --test-concurrency=1 --test-reporter=spec "$@"
