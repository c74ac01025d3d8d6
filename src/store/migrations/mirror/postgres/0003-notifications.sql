-- Notification rules (managed with `learnhook mirror rules …` or /rules), and the outbox their matches go through.
CREATE TABLE notification_rules (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  -- The validated rule as JSON (see docs/notifications.md); read back by the projector and the sender.
  definition TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

-- One row per (rule, event) that matched, written in the transaction that applied the event: never twice, never lost.
CREATE TABLE notification_items (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  rule_id BIGINT NOT NULL,
  account_id BIGINT NOT NULL,
  event_id TEXT NOT NULL,
  event_name TEXT NOT NULL,
  event_at BIGINT NOT NULL,
  -- The event's data and the mirror's record before and after it (JSON), for the template.
  facts TEXT NOT NULL,
  message_id BIGINT NOT NULL,
  recorded_at BIGINT NOT NULL,
  UNIQUE (rule_id, account_id, event_id)
);
CREATE INDEX notification_items_message ON notification_items (message_id);

-- The outbox: one message per match, or one per digest window. Sent by a worker holding a lease (lease_token).
CREATE TABLE notification_messages (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  rule_id BIGINT NOT NULL,
  -- Set for a digest: rule, group and window; items join it until it is sealed (when its send starts).
  digest_key TEXT,
  sealed_at BIGINT,
  item_count INTEGER NOT NULL,
  -- pending, sent, failed (gave up after --notify-give-up) or cancelled (its rule was removed).
  state TEXT NOT NULL,
  test INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  next_attempt_at BIGINT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_attempt_at BIGINT,
  lease_token TEXT,
  lease_until BIGINT,
  -- Sends started again after a worker died mid-send: each may have reached the recipient twice (same Message-ID).
  in_doubt INTEGER NOT NULL DEFAULT 0,
  channel TEXT NOT NULL,
  last_error TEXT,
  sent_at BIGINT
);
CREATE UNIQUE INDEX notification_messages_open_digest ON notification_messages (digest_key) WHERE sealed_at IS NULL;
CREATE INDEX notification_messages_due ON notification_messages (next_attempt_at) WHERE state = 'pending';
CREATE INDEX notification_messages_rule ON notification_messages (rule_id, id);

-- Health of each channel (an SMTP server, a chat webhook URL), from the last attempt: a dead channel shows in /status.
CREATE TABLE notification_channels (
  channel TEXT PRIMARY KEY,
  failing_since BIGINT,
  last_error TEXT,
  last_failure_at BIGINT,
  last_success_at BIGINT
);
