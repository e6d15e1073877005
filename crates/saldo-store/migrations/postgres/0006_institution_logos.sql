-- The institution's logo (an https URL from the provider's catalog), shown next to its name.
ALTER TABLE institutions ADD COLUMN logo_url TEXT;
