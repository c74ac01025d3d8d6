-- The public read API's rate limit, counted for the whole cluster: one row per token (by its SHA-256), holding the
-- start of its current window and the requests made in it (refused ones included; those above the limit were refused).
CREATE TABLE api_rate_windows (
  token_key TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  requests INTEGER NOT NULL
);
