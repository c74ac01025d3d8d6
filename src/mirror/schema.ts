// Row types of the mirror's tables (the customer's database), as Kysely sees them. Times are epoch milliseconds.
import type { Generated } from 'kysely';

export interface InboxTable {
  id: Generated<number>;
  batch_id: string | null;
  account_id: number;
  seq_first: number | null;
  seq_last: number | null;
  replay: number;
  test: number;
  event_count: number;
  body: string;
  received_at: number;
  processed_at: number | null;
  /** Failed projection attempts so far. */
  attempts: Generated<number>;
  /** The error of the last failed attempt. */
  last_error: string | null;
  /** When the row was set aside after `--projection-attempts` failures; it is skipped until retried. */
  failed_at: number | null;
  /** Events of this row held (unreadable or unstorable) when it was last applied. */
  held: Generated<number>;
}

/** An event of an inbox row that could not be read or stored: kept in the row's body, never applied until read again. */
export interface HeldEventsTable {
  id: Generated<number>;
  inbox_id: number;
  /** Index of the event in the body's `events` array. */
  position: number;
  account_id: number;
  event_id: string | null;
  event_name: string | null;
  problems: string;
  held_at: number;
  resolved_at: number | null;
}

export interface ProcessedEventsTable {
  account_id: number;
  event_id: string;
  event_name: string;
  event_at: number;
  inbox_id: number;
}

export interface LearningObjectsTable {
  account_id: number;
  lo_id: string;
  lo_type: string;
  last_event_name: string | null;
  last_event_id: string | null;
  last_event_at: number | null;
  deleted_at: number | null;
  name: string | null;
  description: string | null;
  state: string | null;
  date_created: number | null;
  date_published: number | null;
  date_updated: number | null;
  duration: number | null;
  lo_format: string | null;
  enrollment_type: string | null;
  enriched_at: number | null;
}

export interface LoInstancesTable {
  account_id: number;
  lo_instance_id: string;
  lo_id: string;
  lo_type: string;
  last_event_name: string | null;
  last_event_id: string | null;
  last_event_at: number | null;
  deleted_at: number | null;
  name: string | null;
  state: string | null;
  is_default: number | null;
  seat_limit: number | null;
  waitlist_limit: number | null;
  enrollment_deadline: number | null;
  date_created: number | null;
  enriched_at: number | null;
}

export interface EnrollmentsTable {
  account_id: number;
  user_id: number;
  lo_instance_id: string;
  lo_id: string;
  lo_type: string;
  status: string;
  enrollment_source: string | null;
  status_event_id: string | null;
  status_at: number | null;
  enrolled_event_id: string | null;
  enrolled_at: number | null;
  date_enrolled: number | null;
  completed_event_id: string | null;
  completed_at: number | null;
  date_completed: number | null;
  has_passed: number | null;
  unenrolled_at: number | null;
  progress_percent: number;
  progress_frontier: string;
  progress_event_id: string | null;
  progress_at: number | null;
  date_started: number | null;
  last_event_at: number;
}

export interface MirrorUsersTable {
  account_id: number;
  user_id: number;
  name: string | null;
  email: string | null;
  user_unique_id: string | null;
  user_type: string | null;
  state: string | null;
  time_zone_code: string | null;
  enriched_at: number | null;
}

export interface CiStatsTable {
  account_id: number;
  lo_instance_id: string;
  waitlist_count: number;
  enrollment_count: number;
  seat_limit: number;
  stats_event_id: string;
  stats_at: number;
}

export interface AnomaliesTable {
  id: Generated<number>;
  account_id: number | null;
  kind: string;
  event_id: string | null;
  event_name: string | null;
  subject: string | null;
  detail: string;
  inbox_id: number | null;
  recorded_at: number;
}

export interface SequenceMarksTable {
  account_id: number;
  highest_seq: number;
}

export interface SequenceGapsTable {
  id: Generated<number>;
  account_id: number;
  first_missing: number;
  last_missing: number;
  opened_at: number;
  closed_at: number | null;
}

export interface EnrichmentQueueTable {
  account_id: number;
  kind: string;
  entity_id: string;
  requested_at: number;
  attempts: number;
  not_before: number;
}

export interface ApiCallsTable {
  id: Generated<number>;
  called_at: number;
}

export interface MirrorStateTable {
  key: string;
  value: number;
}

export interface NotificationRulesTable {
  id: Generated<number>;
  name: string;
  definition: string;
  created_at: number;
  updated_at: number;
}

export interface NotificationItemsTable {
  id: Generated<number>;
  rule_id: number;
  account_id: number;
  event_id: string;
  event_name: string;
  event_at: number;
  facts: string;
  message_id: number;
  recorded_at: number;
}

export interface NotificationMessagesTable {
  id: Generated<number>;
  rule_id: number;
  digest_key: string | null;
  sealed_at: number | null;
  item_count: number;
  state: 'pending' | 'sent' | 'failed' | 'cancelled';
  test: Generated<number>;
  created_at: number;
  next_attempt_at: number;
  attempts: Generated<number>;
  last_attempt_at: number | null;
  lease_token: string | null;
  lease_until: number | null;
  in_doubt: Generated<number>;
  channel: string;
  last_error: string | null;
  sent_at: number | null;
}

export interface NotificationChannelsTable {
  channel: string;
  failing_since: number | null;
  last_error: string | null;
  last_failure_at: number | null;
  last_success_at: number | null;
}

export interface MirrorSchema {
  inbox: InboxTable;
  processed_events: ProcessedEventsTable;
  held_events: HeldEventsTable;
  learning_objects: LearningObjectsTable;
  lo_instances: LoInstancesTable;
  enrollments: EnrollmentsTable;
  users: MirrorUsersTable;
  ci_stats: CiStatsTable;
  anomalies: AnomaliesTable;
  sequence_marks: SequenceMarksTable;
  sequence_gaps: SequenceGapsTable;
  enrichment_queue: EnrichmentQueueTable;
  api_calls: ApiCallsTable;
  mirror_state: MirrorStateTable;
  notification_rules: NotificationRulesTable;
  notification_items: NotificationItemsTable;
  notification_messages: NotificationMessagesTable;
  notification_channels: NotificationChannelsTable;
}
