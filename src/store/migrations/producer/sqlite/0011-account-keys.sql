-- PostgreSQL keys every account's table by account_id first here (see its 0011), so accounts can be spread over
-- databases; a SQLite file is one database with nothing to spread, so its keys stay, with one unique index more:
-- (account_id, user_id, lo_instance_id) of enrollments, the key an enrollment's upsert names. The attempts log gets its
-- account's id as on PostgreSQL, filled from its webhook, so the code writing it is one (SQLite cannot add a NOT NULL
-- column without a default: every insert sets it).
ALTER TABLE delivery_attempts ADD COLUMN account_id INTEGER;
UPDATE delivery_attempts SET account_id = (SELECT account_id FROM webhooks WHERE webhooks.id = delivery_attempts.webhook_id);

CREATE UNIQUE INDEX enrollments_account_key ON enrollments (account_id, user_id, lo_instance_id);
DROP INDEX enrollments_account;
