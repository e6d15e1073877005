-- A booked row an import stored in place of a synced pending transaction keeps that pending's
-- provider id ('' when it had none): the bank's own booking of it, which may come days later,
-- under a new id and, for a card, for a changed amount, then takes its place instead of doubling.
ALTER TABLE transactions ADD COLUMN pending_of TEXT;
