-- The mirror's own database: the durable inbox, the projected tables (a public contract) and the monitors.
CREATE TABLE inbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  -- The webhook-id header: the same on every retry of one batch.
  batch_id TEXT UNIQUE,
  account_id BIGINT NOT NULL,
  seq_first BIGINT,
  seq_last BIGINT,
  replay INTEGER NOT NULL DEFAULT 0,
  test INTEGER NOT NULL DEFAULT 0,
  event_count INTEGER NOT NULL,
  body TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  processed_at BIGINT
);
CREATE INDEX inbox_pending ON inbox (id) WHERE processed_at IS NULL;

CREATE TABLE processed_events (
  account_id BIGINT NOT NULL,
  event_id TEXT NOT NULL,
  event_name TEXT NOT NULL,
  event_at BIGINT NOT NULL,
  inbox_id BIGINT NOT NULL,
  PRIMARY KEY (account_id, event_id)
);

CREATE TABLE learning_objects (
  account_id BIGINT NOT NULL,
  lo_id TEXT NOT NULL,
  lo_type TEXT NOT NULL,
  last_event_name TEXT,
  last_event_id TEXT,
  last_event_at BIGINT,
  deleted_at BIGINT,
  name TEXT,
  description TEXT,
  state TEXT,
  date_created BIGINT,
  date_published BIGINT,
  date_updated BIGINT,
  duration BIGINT,
  lo_format TEXT,
  enrollment_type TEXT,
  enriched_at BIGINT,
  PRIMARY KEY (account_id, lo_id)
);

CREATE TABLE lo_instances (
  account_id BIGINT NOT NULL,
  lo_instance_id TEXT NOT NULL,
  lo_id TEXT NOT NULL,
  lo_type TEXT NOT NULL,
  last_event_name TEXT,
  last_event_id TEXT,
  last_event_at BIGINT,
  deleted_at BIGINT,
  name TEXT,
  state TEXT,
  is_default INTEGER,
  seat_limit BIGINT,
  waitlist_limit BIGINT,
  enrollment_deadline BIGINT,
  date_created BIGINT,
  enriched_at BIGINT,
  PRIMARY KEY (account_id, lo_instance_id)
);
CREATE INDEX lo_instances_lo ON lo_instances (account_id, lo_id);

CREATE TABLE enrollments (
  account_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  lo_instance_id TEXT NOT NULL,
  lo_id TEXT NOT NULL,
  lo_type TEXT NOT NULL,
  status TEXT NOT NULL,
  enrollment_source TEXT,
  status_event_id TEXT,
  status_at BIGINT,
  enrolled_event_id TEXT,
  enrolled_at BIGINT,
  date_enrolled BIGINT,
  completed_event_id TEXT,
  completed_at BIGINT,
  date_completed BIGINT,
  has_passed INTEGER,
  unenrolled_at BIGINT,
  progress_percent INTEGER NOT NULL,
  progress_frontier TEXT NOT NULL,
  progress_event_id TEXT,
  progress_at BIGINT,
  date_started BIGINT,
  last_event_at BIGINT NOT NULL,
  PRIMARY KEY (account_id, user_id, lo_instance_id)
);

CREATE TABLE users (
  account_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  name TEXT,
  email TEXT,
  user_unique_id TEXT,
  user_type TEXT,
  state TEXT,
  time_zone_code TEXT,
  enriched_at BIGINT,
  PRIMARY KEY (account_id, user_id)
);

CREATE TABLE ci_stats (
  account_id BIGINT NOT NULL,
  lo_instance_id TEXT NOT NULL,
  waitlist_count BIGINT NOT NULL,
  enrollment_count BIGINT NOT NULL,
  seat_limit BIGINT NOT NULL,
  stats_event_id TEXT NOT NULL,
  stats_at BIGINT NOT NULL,
  PRIMARY KEY (account_id, lo_instance_id)
);

CREATE TABLE anomalies (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id BIGINT,
  kind TEXT NOT NULL,
  event_id TEXT,
  event_name TEXT,
  subject TEXT,
  detail TEXT NOT NULL,
  inbox_id BIGINT,
  recorded_at BIGINT NOT NULL
);
CREATE INDEX anomalies_kind ON anomalies (kind);

CREATE TABLE sequence_marks (
  account_id BIGINT PRIMARY KEY,
  highest_seq BIGINT NOT NULL
);

CREATE TABLE sequence_gaps (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id BIGINT NOT NULL,
  first_missing BIGINT NOT NULL,
  last_missing BIGINT NOT NULL,
  opened_at BIGINT NOT NULL,
  closed_at BIGINT
);

CREATE TABLE enrichment_queue (
  account_id BIGINT NOT NULL,
  kind TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  requested_at BIGINT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  not_before BIGINT NOT NULL,
  PRIMARY KEY (account_id, kind, entity_id)
);

-- Calls made to the public read API, shared by every mirror process on this database (the rate budget).
CREATE TABLE api_calls (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  called_at BIGINT NOT NULL
);
CREATE INDEX api_calls_time ON api_calls (called_at);

CREATE TABLE mirror_state (
  key TEXT PRIMARY KEY,
  value BIGINT NOT NULL
);
