-- The account log (events, by created_at) and the attempts log (delivery_attempts, by started_at) become tables
-- range-partitioned by time, so retention drops a partition wholly out of retention instead of deleting its rows one by
-- one (src/store/log-partitions.ts). Housekeeping creates the partitions for times to come, a seventh of the
-- retention setting wide each; the DEFAULT partition takes any row no partition covers (the existing rows, copied into
-- it here, those logged before the first partition's time, a clock far off), so an insert never fails, and retention
-- deletes its expired rows one by one as before.
-- A key of a partitioned table must hold the partition column: (account_id, seq) and (account_id, event_id) stay unique
-- because an account's sequences and event ids are only given out under its row lock (accounts.last_seq), not by index.
ALTER TABLE events RENAME TO events_unpartitioned;
ALTER TABLE events_unpartitioned RENAME CONSTRAINT events_pkey TO events_unpartitioned_pkey;
ALTER TABLE events_unpartitioned RENAME CONSTRAINT events_account_id_event_id_key TO events_unpartitioned_event_id_key;
ALTER INDEX events_created RENAME TO events_unpartitioned_created;

CREATE TABLE events (
  account_id BIGINT NOT NULL REFERENCES accounts(id),
  seq BIGINT NOT NULL,
  event_id TEXT NOT NULL,
  event_name TEXT NOT NULL,
  timestamp BIGINT NOT NULL,
  event_info TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (account_id, seq, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX events_event_id ON events (account_id, event_id);
CREATE INDEX events_created ON events (created_at);
CREATE TABLE events_default PARTITION OF events DEFAULT;
INSERT INTO events SELECT * FROM events_unpartitioned;
DROP TABLE events_unpartitioned;

ALTER TABLE delivery_attempts RENAME TO delivery_attempts_unpartitioned;
ALTER TABLE delivery_attempts_unpartitioned RENAME CONSTRAINT delivery_attempts_pkey TO delivery_attempts_unpartitioned_pkey;
ALTER INDEX delivery_attempts_webhook RENAME TO delivery_attempts_unpartitioned_webhook;
ALTER INDEX delivery_attempts_started RENAME TO delivery_attempts_unpartitioned_started;

-- The ids go on from the old table's (a plain sequence: PostgreSQL 15 has no identity column on a partitioned table).
CREATE SEQUENCE delivery_attempts_ids;
SELECT setval('delivery_attempts_ids', COALESCE((SELECT max(id) FROM delivery_attempts_unpartitioned), 0) + 1, false);
CREATE TABLE delivery_attempts (
  id BIGINT NOT NULL DEFAULT nextval('delivery_attempts_ids'),
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
  error TEXT,
  response_body TEXT,
  request_headers TEXT,
  request_body TEXT,
  request_bytes INTEGER,
  request_seqs TEXT,
  PRIMARY KEY (id, started_at)
) PARTITION BY RANGE (started_at);
ALTER SEQUENCE delivery_attempts_ids OWNED BY delivery_attempts.id;
CREATE INDEX delivery_attempts_webhook ON delivery_attempts (webhook_id, id);
CREATE INDEX delivery_attempts_started ON delivery_attempts (started_at);
CREATE TABLE delivery_attempts_default PARTITION OF delivery_attempts DEFAULT;
INSERT INTO delivery_attempts SELECT * FROM delivery_attempts_unpartitioned;
DROP TABLE delivery_attempts_unpartitioned;
