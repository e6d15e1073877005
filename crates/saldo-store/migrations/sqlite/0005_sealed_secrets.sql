-- What a connector needs to use a consent later (SimpleFIN's access URL, a refresh token), sealed
-- by saldo's `secrets` module: an AEAD ciphertext under a master key kept outside the database.
ALTER TABLE connections ADD COLUMN consent_secret TEXT;
