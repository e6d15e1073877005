-- The sync engine: consents and sync state on connections, discovered items, sync runs,
-- notifications and institution health.

ALTER TABLE connections ADD COLUMN connector TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN consent_id TEXT;
ALTER TABLE connections ADD COLUMN consent_granted_at TIMESTAMPTZ;
ALTER TABLE connections ADD COLUMN consent_valid_until TIMESTAMPTZ;
ALTER TABLE connections ADD COLUMN consent_scope TEXT;
ALTER TABLE connections ADD COLUMN consent_max_history_days BIGINT;
ALTER TABLE connections ADD COLUMN consent_accesses_per_day BIGINT;
ALTER TABLE connections ADD COLUMN lease_owner TEXT;
ALTER TABLE connections ADD COLUMN lease_until TIMESTAMPTZ;
ALTER TABLE connections ADD COLUMN episode_kind TEXT;
ALTER TABLE connections ADD COLUMN episode_code TEXT;
ALTER TABLE connections ADD COLUMN episode_detail TEXT;
ALTER TABLE connections ADD COLUMN episode_retry_at TIMESTAMPTZ;
ALTER TABLE connections ADD COLUMN episode_since TIMESTAMPTZ;
ALTER TABLE connections ADD COLUMN episode_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN episode_announced BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE connections ADD COLUMN episode_escalated BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE connections ADD COLUMN partial BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE connections ADD COLUMN last_attempt_at TIMESTAMPTZ;
ALTER TABLE connections ADD COLUMN last_success_at TIMESTAMPTZ;
ALTER TABLE connections ADD COLUMN next_sync_at TIMESTAMPTZ;
ALTER TABLE connections ADD COLUMN budget_day DATE;
ALTER TABLE connections ADD COLUMN budget_used BIGINT NOT NULL DEFAULT 0;
CREATE INDEX connections_due ON connections (next_sync_at);
ALTER TABLE institutions ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'redirect';
ALTER TABLE institutions ADD COLUMN max_history_days BIGINT;
ALTER TABLE institutions ADD COLUMN max_consent_days BIGINT;
ALTER TABLE institutions ADD COLUMN accesses_per_day BIGINT;
ALTER TABLE institutions ADD COLUMN description TEXT NOT NULL DEFAULT '';

CREATE TABLE items (
    id UUID PRIMARY KEY,
    connection_id UUID NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    identity_key TEXT NOT NULL,
    provider_item_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    iban TEXT,
    masked_number TEXT,
    currency TEXT NOT NULL,
    current_value_minor BIGINT,
    decision TEXT NOT NULL CHECK (decision IN ('offered', 'tracked', 'ignored')),
    account_id UUID REFERENCES accounts (id) ON DELETE SET NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    vanished_at TIMESTAMPTZ,
    -- The last day a fetch of this item succeeded: its next fetch starts a few days before.
    synced_through DATE,
    UNIQUE (connection_id, identity_key)
);

CREATE TABLE sync_runs (
    id UUID PRIMARY KEY,
    connection_id UUID NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    institution_id UUID NOT NULL,
    trigger TEXT NOT NULL,
    worker TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'partial', 'failed')),
    failure_kind TEXT,
    failure_code TEXT,
    failure_detail TEXT,
    transactions_new BIGINT NOT NULL,
    pending_replaced BIGINT NOT NULL,
    balance_points BIGINT NOT NULL,
    holdings BIGINT NOT NULL
);
CREATE INDEX sync_runs_connection ON sync_runs (connection_id, finished_at);
CREATE INDEX sync_runs_institution ON sync_runs (institution_id, finished_at);

CREATE TABLE notifications (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connection_id UUID REFERENCES connections (id) ON DELETE SET NULL,
    institution_id UUID,
    kind TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    key TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    read_at TIMESTAMPTZ,
    UNIQUE (user_id, key)
);

CREATE TABLE institution_health (
    institution_id UUID PRIMARY KEY REFERENCES institutions (id) ON DELETE CASCADE,
    degraded_since TIMESTAMPTZ,
    next_probe_at TIMESTAMPTZ,
    probes BIGINT NOT NULL DEFAULT 0,
    announced BOOLEAN NOT NULL DEFAULT FALSE
);
