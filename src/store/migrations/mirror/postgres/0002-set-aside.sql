-- Poison-row escape: an inbox row whose projection keeps failing is set aside (failed_at) after a few attempts, so the
-- rows behind it go on being applied; nothing is deleted, and `learnhook mirror retry-failed` puts it back in line.
ALTER TABLE inbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inbox ADD COLUMN last_error TEXT;
ALTER TABLE inbox ADD COLUMN failed_at BIGINT;
DROP INDEX inbox_pending;
CREATE INDEX inbox_pending ON inbox (id) WHERE processed_at IS NULL AND failed_at IS NULL;
CREATE INDEX inbox_set_aside ON inbox (id) WHERE failed_at IS NOT NULL;
