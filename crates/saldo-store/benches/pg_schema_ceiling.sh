#!/usr/bin/env bash
# The ceiling PostgreSQL itself sets for saldo's schema: ROWS transaction rows (time-ordered ids,
# 256 accounts, as the engine writes them) inserted by the server from a temporary table into the
# migrated `transactions` table, with its indexes and foreign key — no client, no network, no
# parsing. Compare with `cargo bench -p saldo-store --bench commit` (the engine's write path) and
# with ../shared/bench/limits (the raw rate for a one-index table).
#
# usage: crates/saldo-store/benches/pg_schema_ceiling.sh     env: ROWS=200000 PGURL=postgres://postgres@127.0.0.1:5432
set -euo pipefail
cd "$(dirname "$0")/../migrations/postgres"
ROWS=${ROWS:-200000}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=saldo_ceiling_$$
psql "$PGURL/postgres" -qc "CREATE DATABASE $DB"
trap 'psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
cat 0*.sql | psql "$PGURL/$DB" -q -v ON_ERROR_STOP=1
ms=$(psql "$PGURL/$DB" -q -v ON_ERROR_STOP=1 <<SQL | awk '/^Time:/{t=$2} END{print t}'
INSERT INTO users VALUES ('00000000-0000-0000-0000-000000000001', 'ceiling', 'EUR', now());
INSERT INTO accounts (id, user_id, name, kind, currency, tracked, origin, created_at)
  SELECT ('00000000-0000-0000-0001-' || lpad(to_hex(g), 12, '0'))::uuid, '00000000-0000-0000-0000-000000000001',
         'Account ' || g, 'cash', 'EUR', true, 'manual', now()
  FROM generate_series(1, 256) g;
CREATE TEMP TABLE src AS
  SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0'))::uuid AS id,
         ('00000000-0000-0000-0001-' || lpad(to_hex(1 + g % 256), 12, '0'))::uuid AS account_id,
         'booked'::text AS status, date '2026-01-05' AS booking_date, date '2026-01-05' AS value_date,
         -(g % 9000) - 100 AS amount_minor, 'EUR'::text AS currency, 'Card purchase ' || g AS description,
         NULL::text AS counterparty, 'tx-' || g AS provider_id, md5(g::text) AS fingerprint
  FROM generate_series(1, $ROWS) g;
CHECKPOINT;
\timing on
INSERT INTO transactions SELECT * FROM src ON CONFLICT DO NOTHING;
SQL
)
awk -v rows="$ROWS" -v ms="$ms" 'BEGIN { printf "postgres schema ceiling: %d rows in %.0f ms = %.0f rows/s\n", rows, ms, rows / ms * 1000 }'
