-- The start of each answer's body (up to 4 KiB), so the attempts log shows why a receiver refused a delivery.
ALTER TABLE delivery_attempts ADD COLUMN response_body TEXT;
