-- Webhooks with their cursor into the account's log, the batch in flight, retry state and lease; and the attempts log.
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  url TEXT NOT NULL,
  -- JSON array of the chosen event names.
  events TEXT NOT NULL,
  auth_type TEXT NOT NULL CHECK (auth_type IN ('none', 'basic', 'signature')),
  basic_username TEXT,
  basic_password TEXT,
  secret TEXT,
  previous_secret TEXT,
  previous_secret_until INTEGER,
  -- enabled, paused (by its owner) or disabled (by learnhook: failing too long, or 410 Gone).
  state TEXT NOT NULL CHECK (state IN ('enabled', 'paused', 'disabled')),
  disabled_reason TEXT,
  -- Last account sequence acknowledged (or passed over because not chosen).
  cursor INTEGER NOT NULL DEFAULT 0,
  -- Last delivery sequence number given out: the n-th event ever delivered to this webhook carries n.
  delivery_seq INTEGER NOT NULL DEFAULT 0,
  -- The batch in flight, persisted before its first attempt so a restart re-sends it unchanged.
  batch_id TEXT,
  batch_seqs TEXT,
  batch_first_seq INTEGER,
  batch_last_seq INTEGER,
  batch_delivery_first INTEGER,
  batch_delivery_last INTEGER,
  batch_replay INTEGER NOT NULL DEFAULT 0,
  batch_attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER,
  failing_since INTEGER,
  last_reminder_at INTEGER,
  -- A replay re-delivers the account sequences (replay_cursor, replay_until] before new events.
  replay_cursor INTEGER,
  replay_until INTEGER,
  lease_owner TEXT,
  lease_until INTEGER,
  lost_count INTEGER NOT NULL DEFAULT 0,
  -- JSON array of { firstSeq, lastSeq, count, at } ranges lost to retention.
  lost_ranges TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX webhooks_account ON webhooks (account_id);

CREATE TABLE delivery_attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  batch_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('delivery', 'replay', 'test')),
  first_seq INTEGER,
  last_seq INTEGER,
  delivery_first INTEGER,
  delivery_last INTEGER,
  event_count INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  status_code INTEGER,
  outcome TEXT NOT NULL CHECK (outcome IN ('acknowledged', 'failed')),
  cause TEXT,
  error TEXT
);
CREATE INDEX delivery_attempts_webhook ON delivery_attempts (webhook_id, id);
CREATE INDEX delivery_attempts_started ON delivery_attempts (started_at);
