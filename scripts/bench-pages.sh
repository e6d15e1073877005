#!/bin/bash
# The web app's pages for a household of 50 accounts with 10 years of daily balances (182,550
# balance points), signed in with a session cookie: the dashboard and an account page, one
# connection at a time (how long a page takes the server) and 32 at a time (throughput) beside
# /healthz in the same run, while another process forces syncs of sandbox connections in a loop.
# usage: scripts/bench-pages.sh sqlite|pg   (wrk and a release build: cargo build --release -p saldo)
# QUIET=1 leaves the syncs out, for comparison.
set -eu
B=$1
BIN="$(cd "$(dirname "$0")/.." && pwd)/target/release/saldo"
D=$(mktemp -d)
DB=""
if [ "$B" = pg ]; then db=saldo_pages_$$; createdb -h 127.0.0.1 -U postgres $db; DB="--db postgres://postgres@127.0.0.1:5432/$db"; fi
export HOME=$D
echo "a long bench password" | $BIN --data-dir $D $DB user add bench@example.org --owner --password-stdin > /dev/null
for i in $(seq 1 50); do $BIN --data-dir $D $DB account add --name "Account $i" --kind savings --currency EUR > /dev/null; done
FILL_SQLITE="WITH RECURSIVE days(d) AS (SELECT '2016-12-08' UNION ALL SELECT date(d, '+1 day') FROM days WHERE d < '2026-12-07')
INSERT INTO balance_points (account_id, as_of, observed_at, amount_minor, currency, source)
SELECT a.id, d, d || 'T00:00:00+00:00', 100000 + abs(random() % 10000000), 'EUR', 'manual' FROM accounts a, days;"
FILL_PG="INSERT INTO balance_points (account_id, as_of, observed_at, amount_minor, currency, source)
SELECT a.id, d::date, d, 100000 + (random() * 10000000)::bigint, 'EUR', 'manual'
FROM accounts a, generate_series('2016-12-08'::timestamptz, '2026-12-07', interval '1 day') d;"
if [ "$B" = pg ]; then psql -q "postgres://postgres@127.0.0.1:5432/$db" -c "$FILL_PG"
else python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()" "$D/saldo.db" "$FILL_SQLITE"; fi
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
