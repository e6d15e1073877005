-- What a sync found beside new rows: stored pending transactions that a window covering their
-- date no longer returned, and bookings under an id the account already holds for another
-- booking (stored under their content fingerprint).
ALTER TABLE sync_runs ADD COLUMN pending_vanished INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN reused_ids INTEGER NOT NULL DEFAULT 0;


-- The holder's name, where a provider gives it apart from the account's own names.
ALTER TABLE items ADD COLUMN owner_name TEXT;
