# Sourced by the API and pages benchmarks: a fresh data directory ($D; for B=pg a fresh PostgreSQL
# database, $db) with 50 savings accounts of the owner, each with one balance a day for ten years
# (182,550 balance points), written straight into the table. Sets BIN, D, DB and db.
BIN="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/release/saldo"
D=$(mktemp -d)
DB=""
db=""
if [ "$B" = pg ]; then db=saldo_bench_$$; createdb -h 127.0.0.1 -U postgres $db; DB="--db postgres://postgres@127.0.0.1:5432/$db"; fi
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
