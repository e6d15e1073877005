#!/bin/bash
# The web app's pages for a household of 50 accounts with 10 years of daily balances (182,550
# balance points), signed in with a session cookie: the dashboard and an account page, one
# connection at a time (how long a page takes the server) and 32 at a time (throughput) beside
# /healthz in the same run, while another process forces syncs of sandbox connections in a loop.
# usage: scripts/bench-pages.sh sqlite|pg   (wrk and a release build: cargo build --release -p saldo)
# QUIET=1 leaves the syncs out, for comparison.
set -eu
B=$1
. "$(dirname "$0")/bench-household.sh"
# Connections whose syncs run during the measurement (no daily limit at these sandbox banks).
C1=$($BIN --data-dir $D $DB connect sandbox-broker --yes --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["connection_id"])')
C2=$($BIN --data-dir $D $DB connect sandbox-maintenance --yes --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["connection_id"])')
ACCOUNT=$($BIN --data-dir $D $DB account list --json | python3 -c 'import json, sys; print([a["id"] for a in json.load(sys.stdin) if a["name"] == "Account 1"][0])')
$BIN --data-dir $D $DB serve --listen 127.0.0.1:18099 > /dev/null 2>&1 &
SERVER=$!
sleep 2
COOKIE=$(curl -s -i -H 'content-type: application/json' -d '{"email":"bench@example.org","password":"a long bench password"}' \
  http://127.0.0.1:18099/api/v1/auth/login | grep -i '^set-cookie:' | sed 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/')
if [ "${QUIET:-0}" = 1 ]; then sleep 1000000 & else
( while true; do $BIN --data-dir $D $DB sync --connection $C1 > /dev/null 2>&1; $BIN --data-dir $D $DB sync --connection $C2 > /dev/null 2>&1; done ) &
fi
SYNCS=$!
for path in / "/accounts/$ACCOUNT"; do
  echo "== $B $path, one connection"
  wrk -t1 -c1 -d10s --latency -H "Cookie: $COOKIE" "http://127.0.0.1:18099$path" | grep -E "50%|99%|Requests/sec|Non-2xx"
done
for path in /healthz / "/accounts/$ACCOUNT"; do
  echo "== $B $path, 32 connections"
  wrk -t2 -c32 -d15s --latency -H "Cookie: $COOKIE" "http://127.0.0.1:18099$path" | grep -E "50%|99%|Requests/sec|Non-2xx"
done
kill $SYNCS; wait $SYNCS 2>/dev/null || true
kill $SERVER; wait $SERVER 2>/dev/null || true
[ "$B" = pg ] && dropdb -h 127.0.0.1 -U postgres $db
rm -rf $D
