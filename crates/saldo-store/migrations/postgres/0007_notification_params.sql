-- What a notification says, as data (JSON, by kind): front ends render it when they show it.
-- `message` keeps the plain text too, and is all that rows from before this migration have.
ALTER TABLE notifications ADD COLUMN params TEXT;
