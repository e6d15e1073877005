-- When an account closed (its item vanished at the bank, or its connection was removed): it
-- counts in net worth up to that day and not after, its history kept. Accounts closed before
-- this was kept are taken to have closed at their last balance.
ALTER TABLE accounts ADD COLUMN closed_at TEXT;
UPDATE accounts SET closed_at = (SELECT MAX(b.observed_at) FROM balance_points b WHERE b.account_id = accounts.id)
WHERE closed;
UPDATE accounts SET closed_at = created_at WHERE closed AND closed_at IS NULL;
