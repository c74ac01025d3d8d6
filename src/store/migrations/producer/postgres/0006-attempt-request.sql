-- The request of each attempt, for the dashboard's deliveries view: the headers sent (basic auth masked) and the body
-- (cut at 64 KiB; request_bytes is its full size). The answer's start is in response_body (0005).
ALTER TABLE delivery_attempts ADD COLUMN request_headers TEXT;
ALTER TABLE delivery_attempts ADD COLUMN request_body TEXT;
ALTER TABLE delivery_attempts ADD COLUMN request_bytes INTEGER;
