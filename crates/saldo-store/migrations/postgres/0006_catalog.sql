-- The institution's logo (an https URL from the provider's catalog), shown next to its name.
ALTER TABLE institutions ADD COLUMN logo_url TEXT;
-- When each connector's institution list was last read from its provider: the catalog is a cache
-- that every saldo process shares, refreshed once a day rather than by each process.
CREATE TABLE catalog_refreshes (
    connector TEXT PRIMARY KEY,
    refreshed_at TIMESTAMPTZ NOT NULL
);
-- What a connector asked to be handed back when the provider's redirect completes an authorisation
-- (a Berlin Group bank's consent id, minted after the redirect URI was sent).
ALTER TABLE pending_authorizations ADD COLUMN resume TEXT;
-- A callback takes an authorisation once (taken_at) and records how completing it went, so the
-- command line that began it can tell the user.
ALTER TABLE pending_authorizations ADD COLUMN taken_at TIMESTAMPTZ;
ALTER TABLE pending_authorizations ADD COLUMN finished_at TIMESTAMPTZ;
ALTER TABLE pending_authorizations ADD COLUMN error TEXT;
