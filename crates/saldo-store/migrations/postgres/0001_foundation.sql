-- saldo's foundation schema for PostgreSQL; the same tables as the SQLite migration of the same name.
CREATE TABLE users (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    base_currency TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE institutions (
    id UUID PRIMARY KEY,
    connector TEXT NOT NULL,
    provider_institution_id TEXT NOT NULL,
    name TEXT NOT NULL,
    country TEXT,
    bic TEXT,
    UNIQUE (connector, provider_institution_id)
);

CREATE TABLE connections (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    institution_id UUID NOT NULL REFERENCES institutions (id),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX connections_user ON connections (user_id);

CREATE TABLE accounts (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    tracked BOOLEAN NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('connection', 'import', 'manual')),
    connection_id UUID REFERENCES connections (id) ON DELETE SET NULL,
    closed BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX accounts_user ON accounts (user_id);
CREATE INDEX accounts_connection ON accounts (connection_id);

CREATE TABLE account_aliases (
    id BIGSERIAL PRIMARY KEY,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    provider_account_id TEXT,
    iban TEXT,
    masked_number TEXT,
    currency TEXT NOT NULL,
    name TEXT
);
CREATE INDEX account_aliases_account ON account_aliases (account_id);
CREATE INDEX account_aliases_iban ON account_aliases (iban);

CREATE TABLE balance_points (
    id BIGSERIAL PRIMARY KEY,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    as_of DATE NOT NULL,
    observed_at TIMESTAMPTZ NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    source TEXT NOT NULL,
    UNIQUE (account_id, as_of, observed_at)
);

CREATE TABLE holdings (
    id BIGSERIAL PRIMARY KEY,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    instrument_key TEXT NOT NULL,
    isin TEXT,
    ticker TEXT,
    name TEXT NOT NULL,
    quantity TEXT NOT NULL,
    unit_price TEXT,
    market_value_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    as_of DATE NOT NULL,
    UNIQUE (account_id, instrument_key, as_of)
);

CREATE TABLE transactions (
    id UUID PRIMARY KEY,
    account_id UUID NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'booked')),
    booking_date DATE NOT NULL,
    value_date DATE,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    description TEXT NOT NULL,
    counterparty TEXT,
    provider_id TEXT,
    fingerprint TEXT NOT NULL
);
CREATE UNIQUE INDEX transactions_provider_id ON transactions (account_id, provider_id) WHERE provider_id IS NOT NULL;
CREATE UNIQUE INDEX transactions_fingerprint ON transactions (account_id, fingerprint) WHERE provider_id IS NULL;
CREATE INDEX transactions_account_date ON transactions (account_id, booking_date);

CREATE TABLE fx_rates (
    currency TEXT NOT NULL,
    date DATE NOT NULL,
    per_eur TEXT NOT NULL,
    PRIMARY KEY (currency, date)
);
