// Row types of the producer's tables (platform and delivery), as Kysely sees them. Times are epoch milliseconds.
import type { Generated } from 'kysely';

export type AccountStatus = 'ACTIVE' | 'TRIAL' | 'INACTIVE';

export interface AccountsTable {
  id: Generated<number>;
  name: string;
  status: AccountStatus;
  contact_email: string | null;
  token: string;
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

export interface ProducerSchema {
  accounts: AccountsTable;
  users: UsersTable;
  learning_objects: LearningObjectsTable;
  lo_instances: LoInstancesTable;
  enrollments: EnrollmentsTable;
  events: EventsTable;
  scheduled_events: ScheduledEventsTable;
}
