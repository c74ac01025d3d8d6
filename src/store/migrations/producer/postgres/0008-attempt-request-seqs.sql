-- The request body of a delivery or replay attempt is a pure function of the log (the envelope of the events it
-- carried, as stored), so the attempts log keeps the account sequences of those events and the body is made again
-- when the log is read; request_body stays for test deliveries, whose sample event is not in the log.
ALTER TABLE delivery_attempts ADD COLUMN request_seqs TEXT;
