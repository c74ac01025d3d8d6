-- Every account's table is keyed by account_id first, so accounts can be spread over several databases (a router by
-- account id) or over a distributed PostgreSQL (Citus: each table distributed by account_id, co-located with
-- accounts by id): each key, unique constraint and foreign key between an account's tables carries account_id.
-- Lookups by an id alone (a worker's claims and writes by webhook id, an instance read inside an action, the read API's
-- users and learning objects by id) keep a plain index on that id. Identity columns still hand out the ids.
-- api_rate_windows (per API token) and sealing_key (one row per deployment) are not an account's and stay as they are
-- (docs/deployment.md, "Past one database").

-- The foreign keys between an account's tables go first: they hold the single-id keys they reference.
ALTER TABLE enrollments DROP CONSTRAINT enrollments_user_id_fkey;
ALTER TABLE enrollments DROP CONSTRAINT enrollments_lo_instance_id_fkey;
ALTER TABLE lo_instances DROP CONSTRAINT lo_instances_lo_id_fkey;
-- (0010 made the attempts log's while the old table still held the plain name.)
ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_webhook_id_fkey1;

-- accounts is distributed by its own id; a token is looked up by its hash alone, which stays unique by being 192
-- random bits (Citus refuses a unique key without the distribution column).
ALTER TABLE accounts DROP CONSTRAINT accounts_token_key;
CREATE INDEX accounts_token ON accounts (token_hash);

ALTER TABLE users DROP CONSTRAINT users_pkey;
ALTER TABLE users ADD PRIMARY KEY (account_id, id);
CREATE INDEX users_id ON users (id);

ALTER TABLE learning_objects DROP CONSTRAINT learning_objects_pkey;
ALTER TABLE learning_objects DROP CONSTRAINT learning_objects_id_key;
ALTER TABLE learning_objects ADD PRIMARY KEY (account_id, num);
ALTER TABLE learning_objects ADD CONSTRAINT learning_objects_account_id_id_key UNIQUE (account_id, id);
DROP INDEX learning_objects_account;
CREATE INDEX learning_objects_id ON learning_objects (id);

ALTER TABLE lo_instances DROP CONSTRAINT lo_instances_pkey;
ALTER TABLE lo_instances DROP CONSTRAINT lo_instances_id_key;
ALTER TABLE lo_instances ADD PRIMARY KEY (account_id, num);
ALTER TABLE lo_instances ADD CONSTRAINT lo_instances_account_id_id_key UNIQUE (account_id, id);
ALTER TABLE lo_instances ADD FOREIGN KEY (account_id, lo_id) REFERENCES learning_objects (account_id, id);
CREATE INDEX lo_instances_id ON lo_instances (id);

ALTER TABLE enrollments DROP CONSTRAINT enrollments_pkey;
ALTER TABLE enrollments ADD PRIMARY KEY (account_id, user_id, lo_instance_id);
ALTER TABLE enrollments ADD FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id);
ALTER TABLE enrollments ADD FOREIGN KEY (account_id, lo_instance_id) REFERENCES lo_instances (account_id, id);
DROP INDEX enrollments_account;

ALTER TABLE scheduled_events DROP CONSTRAINT scheduled_events_pkey;
ALTER TABLE scheduled_events DROP CONSTRAINT scheduled_events_event_id_key;
ALTER TABLE scheduled_events ADD PRIMARY KEY (account_id, id);
ALTER TABLE scheduled_events ADD CONSTRAINT scheduled_events_account_id_event_id_key UNIQUE (account_id, event_id);

ALTER TABLE webhooks DROP CONSTRAINT webhooks_pkey;
ALTER TABLE webhooks ADD PRIMARY KEY (account_id, id);
DROP INDEX webhooks_account;
CREATE INDEX webhooks_id ON webhooks (id);

-- The attempts log reached its account only through its webhook: it gets the account's id, filled from the webhook.
ALTER TABLE delivery_attempts ADD COLUMN account_id BIGINT;
UPDATE delivery_attempts SET account_id = webhooks.account_id FROM webhooks WHERE webhooks.id = delivery_attempts.webhook_id;
ALTER TABLE delivery_attempts ALTER COLUMN account_id SET NOT NULL;
ALTER TABLE delivery_attempts DROP CONSTRAINT delivery_attempts_pkey;
ALTER TABLE delivery_attempts ADD PRIMARY KEY (account_id, id, started_at);
ALTER TABLE delivery_attempts ADD FOREIGN KEY (account_id, webhook_id) REFERENCES webhooks (account_id, id) ON DELETE CASCADE;
