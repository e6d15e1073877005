-- The CSV layout last used for an account's statement files: the next import of that bank's export
-- needs no questions. `profile` is the layout as JSON (saldo_import::csv::CsvProfile).
CREATE TABLE csv_profiles (
    account_id BLOB PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    profile TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
