-- Authorisations under way in a browser: the provider sends the user back to /callback/{connector}
-- with `state`, which finds the authorisation here (any process of a deployment can finish it).
CREATE TABLE pending_authorizations (
    state TEXT PRIMARY KEY,
    purpose TEXT NOT NULL,
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connection_id BLOB NOT NULL,
    institution_id BLOB NOT NULL REFERENCES institutions (id) ON DELETE CASCADE,
    user_key TEXT NOT NULL,
    redirect_url TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX pending_authorizations_expiry ON pending_authorizations (expires_at);

-- Every sync replaces an account's pending transactions: find them without walking its history.
CREATE INDEX transactions_pending ON transactions (account_id) WHERE status = 'pending';
