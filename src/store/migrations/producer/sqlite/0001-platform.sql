-- The learning platform's domain and each account's event log (the outbox the dispatcher reads).
CREATE TABLE accounts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ACTIVE', 'TRIAL', 'INACTIVE')),
  contact_email TEXT,
  token TEXT NOT NULL UNIQUE,
  last_seq INTEGER NOT NULL DEFAULT 0,
  -- Timestamp of the newest event the platform emitted: its events' timestamps strictly increase per account.
  last_event_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  email TEXT NOT NULL,
  user_unique_id TEXT NOT NULL,
  user_type TEXT NOT NULL DEFAULT 'Internal',
  state TEXT NOT NULL DEFAULT 'ACTIVE',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (account_id, email)
);

CREATE TABLE learning_objects (
  num INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  lo_type TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  children TEXT NOT NULL DEFAULT '[]',
  duration INTEGER,
  created_at INTEGER NOT NULL,
  published_at INTEGER,
  updated_at INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE INDEX learning_objects_account ON learning_objects (account_id, num);

CREATE TABLE lo_instances (
  num INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  lo_id TEXT NOT NULL REFERENCES learning_objects(id),
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  seat_limit INTEGER,
  waitlist_limit INTEGER,
  self_paced INTEGER NOT NULL DEFAULT 0,
  is_default INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL,
  enrollment_count INTEGER NOT NULL DEFAULT 0,
  waitlist_count INTEGER NOT NULL DEFAULT 0,
  enrollment_deadline INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  deleted_at INTEGER
);
CREATE INDEX lo_instances_lo ON lo_instances (lo_id);

CREATE TABLE enrollments (
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  user_id INTEGER NOT NULL REFERENCES users(id),
  lo_instance_id TEXT NOT NULL REFERENCES lo_instances(id),
  lo_id TEXT NOT NULL,
  lo_type TEXT NOT NULL,
  enrollment_source TEXT NOT NULL,
  state TEXT NOT NULL,
  parent_instance_id TEXT,
  progress_percent INTEGER NOT NULL DEFAULT 0,
  has_passed INTEGER,
  date_enrolled INTEGER NOT NULL,
  date_started INTEGER,
  date_completed INTEGER,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, lo_instance_id)
);
CREATE INDEX enrollments_account ON enrollments (account_id);

-- The account's log: a gap-free sequence per account, assigned under the accounts row lock.
CREATE TABLE events (
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  seq INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  event_name TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  event_info TEXT NOT NULL,
  data TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, seq),
  UNIQUE (account_id, event_id)
);
CREATE INDEX events_created ON events (created_at);

-- Events held back until they are due (LEARNER_PROGRESS after its aggregation delay).
CREATE TABLE scheduled_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  due_at INTEGER NOT NULL,
  event_id TEXT NOT NULL UNIQUE,
  event_name TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  event_info TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX scheduled_events_due ON scheduled_events (due_at);

-- Numbers start where PostgreSQL's identities start, so ids look alike on both stores.
INSERT INTO sqlite_sequence (name, seq) VALUES ('accounts', 1000), ('users', 1000), ('learning_objects', 1000000), ('lo_instances', 1000000);
