// Row types of the producer's tables (platform and delivery), as Kysely sees them. Times are epoch milliseconds.
import type { Generated } from 'kysely';

export type AccountStatus = 'ACTIVE' | 'TRIAL' | 'INACTIVE';

export interface AccountsTable {
  id: Generated<number>;
  name: string;
  status: AccountStatus;
  contact_email: string | null;
  /** SHA-256 of the account's bearer token (hex); the token itself is shown once and never stored. */
  token_hash: string;
  /** Highest sequence in the account's log; bumped under the row lock to keep the log gap-free. */
  last_seq: Generated<number>;
  /** Timestamp of the newest event the platform emitted, so an account's event timestamps strictly increase. */
  last_event_at: Generated<number>;
  created_at: number;
  updated_at: number;
}

export interface UsersTable {
  id: Generated<number>;
  account_id: number;
  name: string;
  email: string;
  user_unique_id: string;
  user_type: Generated<string>;
  state: Generated<string>;
  created_at: number;
  updated_at: number;
}

export interface LearningObjectsTable {
  num: Generated<number>;
  id: string;
  account_id: number;
  lo_type: string;
  name: string;
  description: Generated<string>;
  state: string;
  /** JSON array of child LO ids (learning programs and certifications). */
  children: Generated<string>;
  duration: number | null;
  created_at: number;
  published_at: number | null;
  updated_at: number;
  deleted_at: number | null;
}

export interface LoInstancesTable {
  num: Generated<number>;
  id: string;
  lo_id: string;
  account_id: number;
  name: string;
  seat_limit: number | null;
  waitlist_limit: number | null;
  self_paced: Generated<number>;
  is_default: Generated<number>;
  state: string;
  enrollment_count: Generated<number>;
  waitlist_count: Generated<number>;
  enrollment_deadline: number | null;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

export interface EnrollmentsTable {
  account_id: number;
  user_id: number;
  lo_instance_id: string;
  lo_id: string;
  lo_type: string;
  enrollment_source: string;
  state: string;
  parent_instance_id: string | null;
  progress_percent: Generated<number>;
  has_passed: number | null;
  date_enrolled: number;
  date_started: number | null;
  date_completed: number | null;
  updated_at: number;
}

export interface EventsTable {
  account_id: number;
  seq: number;
  event_id: string;
  event_name: string;
  timestamp: number;
  event_info: string;
  /** The event's `data` as JSON text. */
  data: string;
  created_at: number;
}

export interface ScheduledEventsTable {
  id: Generated<number>;
  account_id: number;
  due_at: number;
  event_id: string;
  event_name: string;
  timestamp: number;
  event_info: string;
  data: string;
}

export type WebhookState = 'enabled' | 'paused' | 'disabled';
export type WebhookAuthType = 'none' | 'basic' | 'signature';

export interface WebhooksTable {
  id: string;
  account_id: number;
  name: string;
  description: Generated<string>;
  url: string;
  /** JSON array of the chosen event names. */
  events: string;
  auth_type: WebhookAuthType;
  basic_username: string | null;
  /** Sealed with the secret key (see src/secrets), like `secret` and `previous_secret`. */
  basic_password: string | null;
  secret: string | null;
  previous_secret: string | null;
  /** 1 for a row written before secrets were sealed, until the next start seals it. */
  plaintext_secrets: Generated<number>;
  previous_secret_until: number | null;
  state: WebhookState;
  disabled_reason: string | null;
  /** Last account sequence acknowledged (or passed over because not chosen). */
  cursor: Generated<number>;
  /** Last delivery sequence number given out. */
  delivery_seq: Generated<number>;
  batch_id: string | null;
  /** JSON array of the account sequences in the batch in flight. */
  batch_seqs: string | null;
  batch_first_seq: number | null;
  batch_last_seq: number | null;
  batch_delivery_first: number | null;
  batch_delivery_last: number | null;
  batch_replay: Generated<number>;
  batch_attempts: Generated<number>;
  /** JSON array of the batches planned after the batch in flight (id, seqs, ranges, replay). */
  batch_plan: string | null;
  next_attempt_at: number | null;
  failing_since: number | null;
  last_reminder_at: number | null;
  replay_cursor: number | null;
  replay_until: number | null;
  lease_owner: string | null;
  lease_until: number | null;
  /** When the webhook last joined the queue of claimable webhooks (lease given back, or its retry's time): claims take the oldest first. */
  waiting_since: Generated<number>;
  lost_count: Generated<number>;
  /** JSON array of { firstSeq, lastSeq, count, at }. */
  lost_ranges: Generated<string>;
  created_at: number;
  updated_at: number;
}

export interface DeliveryAttemptsTable {
  id: Generated<number>;
  /** The webhook's account (migration 0011): every producer table is keyed by account_id first. */
  account_id: number;
  webhook_id: string;
  batch_id: string;
  kind: 'delivery' | 'replay' | 'test';
  first_seq: number | null;
  last_seq: number | null;
  delivery_first: number | null;
  delivery_last: number | null;
  event_count: number;
  attempt: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  outcome: 'acknowledged' | 'failed';
  cause: string | null;
  error: string | null;
  /** The start of the answer's body (at most 4 KiB); null when it was empty or there was no answer. */
  response_body: string | null;
  /** JSON object of the headers sent (basic auth credentials masked); null in rows older than migration 0005. */
  request_headers?: string | null;
  /** The body sent, cut at 64 KiB; `request_bytes` is its full size. Null where `request_seqs` stands for it. */
  request_body?: string | null;
  /** JSON array of the account sequences a delivery's body carried (migration 0008): the body is made from the log again. */
  request_seqs?: string | null;
  request_bytes?: number | null;
}

/** One row: the fingerprint of the key webhook secrets are sealed with. */
export interface SealingKeyTable {
  id: number;
  fingerprint: string;
  created_at: number;
}

/** The public read API's rate limit: one row per token with a window open (src/api/rate-limit.ts). */
export interface ApiRateWindowsTable {
  /** SHA-256 of the token (hex). */
  token_key: string;
  window_start: number;
  /** Requests counted in the window, refused ones included. */
  requests: number;
}

export interface ProducerSchema {
  accounts: AccountsTable;
  users: UsersTable;
  learning_objects: LearningObjectsTable;
  lo_instances: LoInstancesTable;
  enrollments: EnrollmentsTable;
  events: EventsTable;
  scheduled_events: ScheduledEventsTable;
  webhooks: WebhooksTable;
  delivery_attempts: DeliveryAttemptsTable;
  sealing_key: SealingKeyTable;
  api_rate_windows: ApiRateWindowsTable;
}
