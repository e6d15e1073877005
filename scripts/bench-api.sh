#!/bin/bash
# The API's throughput and latency for a household of 50 accounts with 10 years of daily balances
# (182,550 balance points), wrk at 32 connections, beside /healthz (no credentials, no database)
# and /api/v1/me (the token check and a read of the user: the cost of signing a request in).
# usage: scripts/bench-api.sh sqlite|pg   (wrk and a release build needed: cargo build --release -p saldo)
set -eu
B=$1
BIN="$(cd "$(dirname "$0")/.." && pwd)/target/release/saldo"
D=$(mktemp -d)
DB=""
if [ "$B" = pg ]; then db=saldo_api_$$; createdb -h 127.0.0.1 -U postgres $db; DB="--db postgres://postgres@127.0.0.1:5432/$db"; fi
export HOME=$D
for i in $(seq 1 50); do $BIN --data-dir $D $DB account add --name "Account $i" --kind savings --currency EUR > /dev/null; done
# Bench data straight into the table: one balance a day for ten years, per account.
FILL_SQLITE="WITH RECURSIVE days(d) AS (SELECT '2016-12-08' UNION ALL SELECT date(d, '+1 day') FROM days WHERE d < '2026-12-07')
INSERT INTO balance_points (account_id, as_of, observed_at, amount_minor, currency, source)
SELECT a.id, d, d || 'T00:00:00+00:00', 100000 + abs(random() % 10000000), 'EUR', 'manual' FROM accounts a, days;"
FILL_PG="INSERT INTO balance_points (account_id, as_of, observed_at, amount_minor, currency, source)
SELECT a.id, d::date, d, 100000 + (random() * 10000000)::bigint, 'EUR', 'manual'
FROM accounts a, generate_series('2016-12-08'::timestamptz, '2026-12-07', interval '1 day') d;"
if [ "$B" = pg ]; then psql -q "postgres://postgres@127.0.0.1:5432/$db" -c "$FILL_PG"
else python3 -c "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()" "$D/saldo.db" "$FILL_SQLITE"; fi
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
