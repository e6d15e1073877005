-- The sync engine: consents and sync state on connections, discovered items, sync runs,
-- notifications and institution health.

ALTER TABLE connections ADD COLUMN connector TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN consent_id TEXT;
ALTER TABLE connections ADD COLUMN consent_granted_at TEXT;
ALTER TABLE connections ADD COLUMN consent_valid_until TEXT;
ALTER TABLE connections ADD COLUMN consent_scope TEXT;
ALTER TABLE connections ADD COLUMN consent_max_history_days INTEGER;
ALTER TABLE connections ADD COLUMN consent_accesses_per_day INTEGER;
ALTER TABLE connections ADD COLUMN lease_owner TEXT;
ALTER TABLE connections ADD COLUMN lease_until TEXT;
ALTER TABLE connections ADD COLUMN episode_kind TEXT;
ALTER TABLE connections ADD COLUMN episode_code TEXT;
ALTER TABLE connections ADD COLUMN episode_detail TEXT;
ALTER TABLE connections ADD COLUMN episode_retry_at TEXT;
ALTER TABLE connections ADD COLUMN episode_since TEXT;
ALTER TABLE connections ADD COLUMN episode_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN episode_announced INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN episode_escalated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN partial INTEGER NOT NULL DEFAULT 0;
ALTER TABLE connections ADD COLUMN last_attempt_at TEXT;
ALTER TABLE connections ADD COLUMN last_success_at TEXT;
ALTER TABLE connections ADD COLUMN next_sync_at TEXT;
ALTER TABLE connections ADD COLUMN budget_day TEXT;
ALTER TABLE connections ADD COLUMN budget_used INTEGER NOT NULL DEFAULT 0;
CREATE INDEX connections_due ON connections (next_sync_at);
ALTER TABLE institutions ADD COLUMN auth_method TEXT NOT NULL DEFAULT 'redirect';
ALTER TABLE institutions ADD COLUMN max_history_days INTEGER;
ALTER TABLE institutions ADD COLUMN max_consent_days INTEGER;
ALTER TABLE institutions ADD COLUMN accesses_per_day INTEGER;
ALTER TABLE institutions ADD COLUMN description TEXT NOT NULL DEFAULT '';

CREATE TABLE items (
    id BLOB PRIMARY KEY,
    connection_id BLOB NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    identity_key TEXT NOT NULL,
    provider_item_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    iban TEXT,
    masked_number TEXT,
    currency TEXT NOT NULL,
    current_value_minor INTEGER,
    decision TEXT NOT NULL CHECK (decision IN ('offered', 'tracked', 'ignored')),
    account_id BLOB REFERENCES accounts (id) ON DELETE SET NULL,
    first_seen_at TEXT NOT NULL,
    vanished_at TEXT,
    -- The last day a fetch of this item succeeded: its next fetch starts a few days before.
    synced_through TEXT,
    UNIQUE (connection_id, identity_key)
);

CREATE TABLE sync_runs (
    id BLOB PRIMARY KEY,
    connection_id BLOB NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    institution_id BLOB NOT NULL,
    trigger TEXT NOT NULL,
    worker TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'partial', 'failed')),
    failure_kind TEXT,
    failure_code TEXT,
    failure_detail TEXT,
    transactions_new INTEGER NOT NULL,
    pending_replaced INTEGER NOT NULL,
    balance_points INTEGER NOT NULL,
    holdings INTEGER NOT NULL
);
CREATE INDEX sync_runs_connection ON sync_runs (connection_id, finished_at);
CREATE INDEX sync_runs_institution ON sync_runs (institution_id, finished_at);

CREATE TABLE notifications (
    id BLOB PRIMARY KEY,
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connection_id BLOB REFERENCES connections (id) ON DELETE SET NULL,
    institution_id BLOB,
    kind TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    read_at TEXT,
    UNIQUE (user_id, key)
);

CREATE TABLE institution_health (
    institution_id BLOB PRIMARY KEY REFERENCES institutions (id) ON DELETE CASCADE,
    degraded_since TEXT,
    next_probe_at TEXT,
    probes INTEGER NOT NULL DEFAULT 0,
    announced INTEGER NOT NULL DEFAULT 0
);
