-- The batches planned after the batch in flight (a JSON array), persisted before any of them is sent, so a restart
-- re-sends each with its old id and events; acknowledgements of a stream of batches are recorded after they are sent.
ALTER TABLE webhooks ADD COLUMN batch_plan TEXT;
