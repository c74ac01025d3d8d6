// The mirror's pure, convergent reducer: each table row is a function of the SET of events seen, whatever their order.
import { eventDefinition } from '../catalog/index.ts';
import type { MirrorEvent } from './parse-envelope.ts';
import type { CiStatsTable, EnrollmentsTable, LearningObjectsTable, LoInstancesTable } from './schema.ts';

export type EnrollmentRow = EnrollmentsTable;
export type LearningObjectRow = LearningObjectsTable;
export type LoInstanceRow = LoInstancesTable;
export type CiStatsRow = CiStatsTable;

export type EnrollmentStatus = 'ENROLLED' | 'COMPLETED' | 'UNENROLLED';

/** What the arrival order made visible; recorded as an anomaly, never part of the tables' state. */
export interface Observation {
  kind: 'ignored_by_rule' | 'out_of_order';
  detail: string;
}

export interface Reduction<Row> {
  row: Row;
  observations: Observation[];
}

/** A progress event kept because a later unenrollment could still make it the period's highest. */
export interface ProgressMark {
  at: number;
  id: string;
  percent: number;
}

/** Events are ordered by timestamp, ties broken by eventId, so "latest" never depends on arrival. */
function isLater(at: number, id: string, thanAt: number | null, thanId: string | null): boolean {
  if (thanAt === null) return true;
  return at > thanAt || (at === thanAt && id > (thanId ?? ''));
}

const iso = (ms: number) => new Date(ms).toISOString();

function timeOf(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed;
}

/**
 * The progress events of the current enrollment period that are not dominated (a later event with at least
 * the same percentage). Keeping only these is enough: filtering by period start and taking the frontier commute.
 * Sorted by time; percentages then fall, so the first one holds the period's highest.
 */
export function progressFrontier(marks: readonly ProgressMark[], periodStart: number | null): ProgressMark[] {
  const inPeriod = marks.filter((mark) => periodStart === null || mark.at > periodStart);
  const sorted = [...inPeriod].sort((a, b) => (a.at !== b.at ? a.at - b.at : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const kept: ProgressMark[] = [];
  let bestLater = -1;
  for (let index = sorted.length - 1; index >= 0; index--) {
    const mark = sorted[index] as ProgressMark;
    if (mark.percent > bestLater) {
      kept.unshift(mark);
      bestLater = mark.percent;
    }
  }
  return kept;
}

function readFrontier(row: EnrollmentRow): ProgressMark[] {
  return JSON.parse(row.progress_frontier) as ProgressMark[];
}

/** Status and percentage from the record's facts: the guide's three rules, made order-independent. */
function derive(row: EnrollmentRow, frontier: readonly ProgressMark[]): Pick<EnrollmentRow, 'status' | 'progress_percent'> {
  const completedInPeriod = row.completed_at !== null && (row.unenrolled_at === null || row.completed_at > row.unenrolled_at);
  // Rule 2: a completion of the current period means 100 %, whatever progress says.
  const progress_percent = completedInPeriod ? 100 : (frontier[0]?.percent ?? 0);
  let status: EnrollmentStatus = 'ENROLLED';
  if (row.status_event_id === null || row.status_event_id === row.enrolled_event_id) status = 'ENROLLED';
  else if (row.status_event_id === row.completed_event_id) status = 'COMPLETED';
  // Progress after the latest unenrollment implies a new enrollment (rule 1).
  else status = frontier.length > 0 ? 'ENROLLED' : 'UNENROLLED';
  return { status, progress_percent };
}

/** The enrollment-family events: enrollment, completion, unenrollment (each with `_BATCH`) and LEARNER_PROGRESS. */
export function isEnrollmentEvent(eventName: string): boolean {
  const family = eventDefinition(eventName)?.family;
  return family === 'enrollment' || family === 'completion' || family === 'unenrollment' || family === 'progress';
}

export function emptyEnrollment(accountId: number, event: MirrorEvent): EnrollmentRow {
  return {
    account_id: accountId,
    user_id: Number(event.data.userId),
    lo_instance_id: String(event.data.loInstanceId),
    lo_id: String(event.data.loId),
    lo_type: String(event.data.loType),
    status: 'ENROLLED',
    enrollment_source: null,
    status_event_id: null,
    status_at: null,
    enrolled_event_id: null,
    enrolled_at: null,
    date_enrolled: null,
    completed_event_id: null,
    completed_at: null,
    date_completed: null,
    has_passed: null,
    unenrolled_at: null,
    progress_percent: 0,
    progress_frontier: '[]',
    progress_event_id: null,
    progress_at: null,
    date_started: null,
    last_event_at: event.timestamp,
  };
}

/** Applies one enrollment-family event to its record (key: account, userId, loInstanceId). */
export function reduceEnrollment(current: EnrollmentRow | undefined, accountId: number, event: MirrorEvent): Reduction<EnrollmentRow> {
  const family = eventDefinition(event.eventName)?.family;
  const before = current ?? emptyEnrollment(accountId, event);
  const row: EnrollmentRow = { ...before };
  let frontier = readFrontier(before);
  const observations: Observation[] = [];
  const at = event.timestamp;
  const id = event.eventId;
  const completedInPeriod = before.completed_at !== null && (before.unenrolled_at === null || before.completed_at > before.unenrolled_at);

  const claimStatus = () => {
    if (!isLater(at, id, row.status_at, row.status_event_id)) return false;
    row.status_at = at;
    row.status_event_id = id;
    row.enrollment_source = typeof event.data.enrollmentSource === 'string' ? event.data.enrollmentSource : null;
    return true;
  };
  const olderThanStatus = (): Observation => ({
    kind: 'ignored_by_rule',
    detail: `rule 3: older than the record's latest status event (${iso(row.status_at ?? 0)})`,
  });

  switch (family) {
    case 'enrollment': {
      if (current && frontier.some((mark) => mark.at >= at)) {
        observations.push({
          kind: 'ignored_by_rule',
          detail: `rule 1: progress arrived before this enrollment; it keeps the progress and only records dateEnrolled`,
        });
      }
      if (isLater(at, id, row.enrolled_at, row.enrolled_event_id)) {
        row.enrolled_at = at;
        row.enrolled_event_id = id;
        row.date_enrolled = timeOf(event.data.dateEnrolled);
      }
      if (!claimStatus() && observations.length === 0) observations.push(olderThanStatus());
      break;
    }
    case 'completion': {
      if (isLater(at, id, row.completed_at, row.completed_event_id)) {
        row.completed_at = at;
        row.completed_event_id = id;
        row.date_completed = timeOf(event.data.dateCompleted);
        row.has_passed = typeof event.data.hasPassed === 'boolean' ? Number(event.data.hasPassed) : null;
      }
      if (!claimStatus()) observations.push(olderThanStatus());
      break;
    }
    case 'unenrollment': {
      if (row.unenrolled_at === null || at > row.unenrolled_at) {
        row.unenrolled_at = at;
        frontier = progressFrontier(frontier, at);
      }
      if (!claimStatus()) observations.push(olderThanStatus());
      break;
    }
    case 'progress': {
      const inPeriod = row.unenrolled_at === null || at > row.unenrolled_at;
      if (completedInPeriod && inPeriod) {
        observations.push({ kind: 'ignored_by_rule', detail: 'rule 2: progress after a completion; completion implies 100 %' });
      }
      frontier = progressFrontier([...frontier, { at, id, percent: Number(event.data.progressPercent) }], row.unenrolled_at);
      if (isLater(at, id, row.progress_at, row.progress_event_id)) {
        row.progress_at = at;
        row.progress_event_id = id;
        row.date_started = timeOf(event.data.dateStarted);
      }
      break;
    }
    default:
      throw new Error(`${event.eventName} is not an enrollment-family event`);
  }
  if (current && at < before.last_event_at && observations.length === 0) {
    observations.push({
      kind: 'out_of_order',
      detail: `timestamp ${iso(at)} is older than the record's latest event (${iso(before.last_event_at)})`,
    });
  }
  row.last_event_at = Math.max(before.last_event_at, at);
  row.progress_frontier = JSON.stringify(frontier);
  Object.assign(row, derive(row, frontier));
  return { row, observations };
}

export function emptyLearningObject(accountId: number, loId: string, loType: string): LearningObjectRow {
  return {
    account_id: accountId,
    lo_id: loId,
    lo_type: loType,
    last_event_name: null,
    last_event_id: null,
    last_event_at: null,
    deleted_at: null,
    name: null,
    description: null,
    state: null,
    date_created: null,
    date_published: null,
    date_updated: null,
    duration: null,
    lo_format: null,
    enrollment_type: null,
    enriched_at: null,
  };
}

export function emptyLoInstance(accountId: number, loInstanceId: string, loId: string, loType: string): LoInstanceRow {
  return {
    account_id: accountId,
    lo_instance_id: loInstanceId,
    lo_id: loId,
    lo_type: loType,
    last_event_name: null,
    last_event_id: null,
    last_event_at: null,
    deleted_at: null,
    name: null,
    state: null,
    is_default: null,
    seat_limit: null,
    waitlist_limit: null,
    enrollment_deadline: null,
    date_created: null,
    enriched_at: null,
  };
}

const deletions = new Set(['LEARNING_OBJECT_DELETION', 'LEARNING_OBJECT_INSTANCE_DELETION']);

/**
 * Last writer wins by timestamp for the latest event; a deletion leaves a tombstone (`deleted_at`, the latest
 * deletion time) that a later modification does not lift: the platform never revives a deleted LO or instance.
 */
function reduceEntity<Row extends LearningObjectRow | LoInstanceRow>(current: Row, event: MirrorEvent): Reduction<Row> {
  const row: Row = { ...current };
  const observations: Observation[] = [];
  const at = event.timestamp;
  if (deletions.has(event.eventName)) {
    row.deleted_at = Math.max(row.deleted_at ?? at, at);
  } else if (current.deleted_at !== null && at > current.deleted_at) {
    observations.push({ kind: 'ignored_by_rule', detail: `modified after its deletion (${iso(current.deleted_at)}); the tombstone stays` });
  }
  if (isLater(at, event.eventId, row.last_event_at, row.last_event_id)) {
    row.last_event_at = at;
    row.last_event_id = event.eventId;
    row.last_event_name = event.eventName;
  } else if (observations.length === 0) {
    observations.push({
      kind: 'out_of_order',
      detail: `rule 3: older than the latest event applied (${iso(current.last_event_at ?? 0)}); not applied`,
    });
  }
  return { row, observations };
}

export function reduceLearningObject(
  current: LearningObjectRow | undefined,
  accountId: number,
  event: MirrorEvent,
): Reduction<LearningObjectRow> {
  const base = current ?? emptyLearningObject(accountId, String(event.data.loId), String(event.data.loType));
  return reduceEntity(base, event);
}

export function reduceLoInstance(current: LoInstanceRow | undefined, accountId: number, event: MirrorEvent): Reduction<LoInstanceRow> {
  const base = current ?? emptyLoInstance(accountId, String(event.data.loInstanceId), String(event.data.loId), String(event.data.loType));
  return reduceEntity(base, event);
}

/** CI_STATS: the latest counts by timestamp win. */
export function reduceCiStats(current: CiStatsRow | undefined, accountId: number, event: MirrorEvent): Reduction<CiStatsRow> {
  if (current && !isLater(event.timestamp, event.eventId, current.stats_at, current.stats_event_id)) {
    return {
      row: current,
      observations: [{ kind: 'out_of_order', detail: `rule 3: older than the counts shown (${iso(current.stats_at)}); not applied` }],
    };
  }
  return {
    row: {
      account_id: accountId,
      lo_instance_id: String(event.data.loInstanceId),
      waitlist_count: Number(event.data.waitlistCount),
      enrollment_count: Number(event.data.enrollmentCount),
      seat_limit: Number(event.data.seatLimit),
      stats_event_id: event.eventId,
      stats_at: event.timestamp,
    },
    observations: [],
  };
}
