-- Fair claiming: workers claim due webhooks longest-waiting first, the same order on both stores. waiting_since is when
-- a webhook last joined the queue: its lease given back (or, when a retry is scheduled, the retry's time). A webhook
-- that had its turn goes behind every one waiting, so none starves when more are due than the workers' slots.
ALTER TABLE webhooks ADD COLUMN waiting_since BIGINT NOT NULL DEFAULT 0;
CREATE INDEX webhooks_waiting ON webhooks (waiting_since, id) WHERE state = 'enabled';
