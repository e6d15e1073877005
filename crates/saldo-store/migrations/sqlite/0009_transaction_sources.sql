-- Where each transaction came from: a sync, or a statement file of one format. Ids and texts of
-- one source say nothing about another's, so rows of two sources are matched by content alone.
-- Rows stored before this are told apart by their ids where they can be: a provider's id is a
-- sync's; the rest stay unknown.
ALTER TABLE transactions ADD COLUMN source TEXT;
UPDATE transactions SET source = 'sync' WHERE provider_id IS NOT NULL AND provider_id NOT LIKE 'file:%';
