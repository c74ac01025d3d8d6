// What a rule can see of an applied event: its data, and the mirror's record before and after it (the mirror's decisions).
import type { TObject } from '@sinclair/typebox';
import { dataSchemas, eventDefinition } from '../../catalog/index.ts';
import type { MirrorEvent } from '../parse-envelope.ts';
import type { CiStatsTable, EnrollmentsTable } from '../schema.ts';

/** The record fields a rule can compare, per event family (`previous.X` before the event, `record.X` after it). */
const recordFields: Record<string, readonly string[]> = {
  ciStats: ['enrollmentCount', 'seatLimit', 'waitlistCount', 'seatsAvailable'],
  enrollment: ['status', 'progressPercent', 'hasPassed'],
  completion: ['status', 'progressPercent', 'hasPassed'],
  unenrollment: ['status', 'progressPercent', 'hasPassed'],
  progress: ['status', 'progressPercent', 'hasPassed'],
};

/** Fields computed from an event's data, besides the catalog's. */
const derivedFields: Record<string, readonly string[]> = { ciStats: ['seatsAvailable'] };

export type RecordFacts = Record<string, string | number | boolean | null>;

/** The facts of one matched event, stored with its notification item. */
export interface EventFacts {
  eventName: string;
  eventId: string;
  /** Epoch milliseconds. */
  timestamp: number;
  data: Record<string, unknown>;
  previous: RecordFacts | null;
  record: RecordFacts | null;
}

/** The fields a condition may name for an event: `eventName`, its data fields, `previous.*` and `record.*`. */
export function conditionFieldsOf(eventName: string): Set<string> {
  const definition = eventDefinition(eventName);
  const schema = dataSchemas[eventName] as TObject | undefined;
  const fields = new Set<string>(['eventName', ...Object.keys(schema?.properties ?? {})]);
  if (!definition) return fields;
  for (const field of derivedFields[definition.family] ?? []) fields.add(field);
  for (const field of recordFields[definition.family] ?? []) {
    fields.add(`previous.${field}`);
    fields.add(`record.${field}`);
  }
  return fields;
}

/** Which mirror record an event's rule needs before and after it, if any. */
export function recordKind(eventName: string): 'ciStats' | 'enrollment' | undefined {
  const family = eventDefinition(eventName)?.family;
  if (family === 'ciStats') return 'ciStats';
  if (family === 'enrollment' || family === 'completion' || family === 'unenrollment' || family === 'progress') return 'enrollment';
  return undefined;
}

const seatsAvailable = (seatLimit: number, enrollmentCount: number) => Math.max(0, seatLimit - enrollmentCount);

export function ciStatsFacts(row: CiStatsTable | undefined): RecordFacts | null {
  if (!row) return null;
  const enrollmentCount = Number(row.enrollment_count);
  const seatLimit = Number(row.seat_limit);
  return {
    enrollmentCount,
    seatLimit,
    waitlistCount: Number(row.waitlist_count),
    seatsAvailable: seatsAvailable(seatLimit, enrollmentCount),
  };
}

export function enrollmentFacts(row: EnrollmentsTable | undefined): RecordFacts | null {
  if (!row) return null;
  return {
    status: row.status,
    progressPercent: Number(row.progress_percent),
    hasPassed: row.has_passed === null ? null : Boolean(row.has_passed),
  };
}

/** The facts a condition is evaluated on: data fields at the top level, with `previous` and `record` beside them. */
export function eventFacts(event: MirrorEvent, previous: RecordFacts | null, record: RecordFacts | null): EventFacts {
  const data: Record<string, unknown> = { ...event.data };
  if (eventDefinition(event.eventName)?.family === 'ciStats') {
    data.seatsAvailable = seatsAvailable(Number(data.seatLimit), Number(data.enrollmentCount));
  }
  return { eventName: event.eventName, eventId: event.eventId, timestamp: event.timestamp, data, previous, record };
}

/** The object a condition reads: `hasPassed`, `eventName`, `previous.status`… */
export function conditionInput(facts: EventFacts): Record<string, unknown> {
  return { ...facts.data, eventName: facts.eventName, previous: facts.previous, record: facts.record };
}

/** The learning object an event is about; CI_STATS names only the instance, whose id starts with its LO's id. */
export function loIdOf(data: Record<string, unknown>): string | undefined {
  if (typeof data.loId === 'string') return data.loId;
  if (typeof data.loInstanceId === 'string') return data.loInstanceId.replace(/_\d+$/, '');
  return undefined;
}

export function loTypeOf(data: Record<string, unknown>): string | undefined {
  if (typeof data.loType === 'string') return data.loType;
  return loIdOf(data)?.split(':')[0];
}
