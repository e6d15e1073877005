#!/bin/bash
# The API's throughput and latency for a household of 50 accounts with 10 years of daily balances
# (182,550 balance points), wrk at 32 connections, beside /healthz (no credentials, no database)
# and /api/v1/me (the token check and a read of the user: the cost of signing a request in).
# usage: scripts/bench-api.sh sqlite|pg   (wrk and a release build needed: cargo build --release -p saldo)
set -eu
B=$1
. "$(dirname "$0")/bench-household.sh"
TOKEN=$($BIN --data-dir $D $DB token create bench --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
$BIN --data-dir $D $DB serve --listen 127.0.0.1:18098 > /dev/null 2>&1 &
SERVER=$!
sleep 2
for path in /healthz /api/v1/me /api/v1/accounts /api/v1/networth; do
  echo "== $B $path"
  wrk -t2 -c32 -d15s --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:18098$path" | grep -E "50%|99%|Requests/sec|Non-2xx"
done
kill $SERVER; wait $SERVER 2>/dev/null || true
[ "$B" = pg ] && dropdb -h 127.0.0.1 -U postgres $db
rm -rf $D
