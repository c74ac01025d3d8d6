-- Events of a delivery that cannot be read or stored (they break the catalog, or hold a value a column cannot): the
-- delivery is acknowledged and its other events applied; each such event stays in its inbox row as received, is
-- listed here with its problems and never applied, until `learnhook mirror retry-failed` has the row read again.
CREATE TABLE held_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  inbox_id BIGINT NOT NULL,
  -- Index of the event in the body's events array.
  position INTEGER NOT NULL,
  account_id BIGINT NOT NULL,
  event_id TEXT,
  event_name TEXT,
  problems TEXT NOT NULL,
  held_at BIGINT NOT NULL,
  -- When a later reading applied it (or found it applied before); NULL while it is held.
  resolved_at BIGINT,
  UNIQUE (inbox_id, position)
);
CREATE INDEX held_events_unresolved ON held_events (inbox_id) WHERE resolved_at IS NULL;
-- How many events of the row are held: a row read again after retry-failed resolves those it can now read.
ALTER TABLE inbox ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
