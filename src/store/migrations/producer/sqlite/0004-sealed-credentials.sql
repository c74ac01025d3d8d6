-- Credentials leave plaintext: account tokens become SHA-256 hashes here; webhook passwords and signing secrets are
-- sealed (AES-256-GCM) by the next serve or worker start, which holds the key, so rows written before are marked.
-- learnhook_sha256 is registered on every SQLite connection learnhook opens.
ALTER TABLE accounts RENAME COLUMN token TO token_hash;
UPDATE accounts SET token_hash = learnhook_sha256(token_hash);

ALTER TABLE webhooks ADD COLUMN plaintext_secrets INTEGER NOT NULL DEFAULT 0;
UPDATE webhooks SET plaintext_secrets = 1 WHERE basic_password IS NOT NULL OR secret IS NOT NULL OR previous_secret IS NOT NULL;

-- The fingerprint of the key the secrets are sealed with: a process started with another key is refused.
CREATE TABLE sealing_key (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  fingerprint TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
