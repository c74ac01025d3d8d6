// The platform's domain as the rules see it: learning objects, instances, enrollments and users, read from their rows.
import type { Selectable } from 'kysely';
import type { LoType } from '../catalog/index.ts';
import type { EnrollmentsTable, LearningObjectsTable, LoInstancesTable, UsersTable } from '../store/schema.ts';

/**
 * Ids of accounts and users (and the whole numbers the API takes) run from 1 to this: fifteen digits, below both 2^53
 * (JavaScript's exact integers) and 2^63 (a BIGINT), so an id is exact everywhere and addressable by its URL.
 */
export const maxId = 999_999_999_999_999;

/** Job aids are learning objects too, but produce no events (SPEC §2.1). */
export type LoKind = LoType | 'jobAid';
export const loKinds: readonly LoKind[] = ['course', 'learningProgram', 'certification', 'jobAid'];
export type LoState = 'draft' | 'published' | 'retired' | 'deleted';
export type InstanceState = 'active' | 'suspended' | 'retired' | 'deleted';
export type EnrollmentState = 'ENROLLED' | 'WAITLISTED' | 'COMPLETED' | 'UNENROLLED';
/** Who acts: the learner's own actions are real-time events, everyone else's are `_BATCH` (SPEC §2.1). */
export type Actor = 'learner' | 'admin' | 'manager' | 'platform';
export const actors: readonly Actor[] = ['learner', 'admin', 'manager', 'platform'];
/** The UI or the migration workflow; migration emits only `_BATCH` LO and instance events. */
export type Via = 'ui' | 'migration';

export interface LearningObject {
  id: string;
  accountId: number;
  loType: LoKind;
  name: string;
  description: string;
  state: LoState;
  /** Child course ids of a learning program or certification. */
  children: string[];
  duration: number | null;
  createdAt: number;
  publishedAt: number | null;
  updatedAt: number;
}

export interface Instance {
  id: string;
  loId: string;
  accountId: number;
  name: string;
  seatLimit: number | null;
  waitlistLimit: number | null;
  selfPaced: boolean;
  isDefault: boolean;
  state: InstanceState;
  enrollmentCount: number;
  waitlistCount: number;
  enrollmentDeadline: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface Enrollment {
  accountId: number;
  userId: number;
  loInstanceId: string;
  loId: string;
  loType: LoType;
  enrollmentSource: string;
  state: EnrollmentState;
  parentInstanceId: string | null;
  progressPercent: number;
  hasPassed: boolean | null;
  dateEnrolled: number;
  dateStarted: number | null;
  dateCompleted: number | null;
  updatedAt: number;
}

export interface User {
  id: number;
  accountId: number;
  name: string;
  email: string;
  userUniqueId: string;
  userType: string;
  state: string;
  createdAt: number;
  updatedAt: number;
}

/** The LO type part of an LO or instance id (`course:1_2` → `course`). */
export function loTypeOf(id: string): LoKind {
  return id.slice(0, id.indexOf(':')) as LoKind;
}

export function toLearningObject(row: Selectable<LearningObjectsTable>): LearningObject {
  return {
    id: row.id,
    accountId: row.account_id,
    loType: row.lo_type as LoKind,
    name: row.name,
    description: row.description,
    state: row.state as LoState,
    children: JSON.parse(row.children) as string[],
    duration: row.duration,
    createdAt: row.created_at,
    publishedAt: row.published_at,
    updatedAt: row.updated_at,
  };
}

export function toInstance(row: Selectable<LoInstancesTable>): Instance {
  return {
    id: row.id,
    loId: row.lo_id,
    accountId: row.account_id,
    name: row.name,
    seatLimit: row.seat_limit,
    waitlistLimit: row.waitlist_limit,
    selfPaced: row.self_paced === 1,
    isDefault: row.is_default === 1,
    state: row.state as InstanceState,
    enrollmentCount: row.enrollment_count,
    waitlistCount: row.waitlist_count,
    enrollmentDeadline: row.enrollment_deadline,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toEnrollment(row: Selectable<EnrollmentsTable>): Enrollment {
  return {
    accountId: row.account_id,
    userId: row.user_id,
    loInstanceId: row.lo_instance_id,
    loId: row.lo_id,
    loType: row.lo_type as LoType,
    enrollmentSource: row.enrollment_source,
    state: row.state as EnrollmentState,
    parentInstanceId: row.parent_instance_id,
    progressPercent: row.progress_percent,
    hasPassed: row.has_passed === null ? null : row.has_passed === 1,
    dateEnrolled: row.date_enrolled,
    dateStarted: row.date_started,
    dateCompleted: row.date_completed,
    updatedAt: row.updated_at,
  };
}

export function toUser(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    email: row.email,
    userUniqueId: row.user_unique_id,
    userType: row.user_type,
    state: row.state,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
