-- Webhooks with their cursor into the account's log, the batch in flight, retry state and lease; and the attempts log.
CREATE TABLE webhooks (
  id TEXT PRIMARY KEY,
  account_id BIGINT NOT NULL REFERENCES accounts(id),
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
  previous_secret_until BIGINT,
  -- enabled, paused (by its owner) or disabled (by learnhook: failing too long, or 410 Gone).
  state TEXT NOT NULL CHECK (state IN ('enabled', 'paused', 'disabled')),
  disabled_reason TEXT,
  -- Last account sequence acknowledged (or passed over because not chosen).
  cursor BIGINT NOT NULL DEFAULT 0,
  -- Last delivery sequence number given out: the n-th event ever delivered to this webhook carries n.
  delivery_seq BIGINT NOT NULL DEFAULT 0,
  -- The batch in flight, persisted before its first attempt so a restart re-sends it unchanged.
  batch_id TEXT,
  batch_seqs TEXT,
  batch_first_seq BIGINT,
  batch_last_seq BIGINT,
  batch_delivery_first BIGINT,
  batch_delivery_last BIGINT,
  batch_replay BIGINT NOT NULL DEFAULT 0,
  batch_attempts BIGINT NOT NULL DEFAULT 0,
  next_attempt_at BIGINT,
  failing_since BIGINT,
  last_reminder_at BIGINT,
  -- A replay re-delivers the account sequences (replay_cursor, replay_until] before new events.
  replay_cursor BIGINT,
  replay_until BIGINT,
  lease_owner TEXT,
  lease_until BIGINT,
  lost_count BIGINT NOT NULL DEFAULT 0,
  -- JSON array of { firstSeq, lastSeq, count, at } ranges lost to retention.
  lost_ranges TEXT NOT NULL DEFAULT '[]',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX webhooks_account ON webhooks (account_id);

CREATE TABLE delivery_attempts (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  batch_id TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('delivery', 'replay', 'test')),
  first_seq BIGINT,
  last_seq BIGINT,
  delivery_first BIGINT,
  delivery_last BIGINT,
  event_count BIGINT NOT NULL,
  attempt BIGINT NOT NULL,
  started_at BIGINT NOT NULL,
  duration_ms BIGINT NOT NULL,
  status_code BIGINT,
  outcome TEXT NOT NULL CHECK (outcome IN ('acknowledged', 'failed')),
  cause TEXT,
  error TEXT
);
CREATE INDEX delivery_attempts_webhook ON delivery_attempts (webhook_id, id);
CREATE INDEX delivery_attempts_started ON delivery_attempts (started_at);
