// Reads a delivery body tolerantly (the guide's variants) into events with epoch-ms timestamps and normalised ids.
import type { TObject, TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { dataSchemas, eventSchemas, isEventName, validateEvent } from '../catalog/index.ts';

/** One event as the mirror works with it: timestamp in epoch milliseconds, `learning_program` spelled `learningProgram`. */
export interface MirrorEvent {
  eventId: string;
  eventName: string;
  /** Epoch milliseconds. */
  timestamp: number;
  eventInfo: string;
  data: Record<string, unknown>;
  /** False for a name outside the catalog: stored and reported, never applied. */
  known: boolean;
}

export interface MirrorEnvelope {
  accountId: number;
  events: MirrorEvent[];
}

export type ParsedEnvelope = { ok: true; envelope: MirrorEnvelope } | { ok: false; problems: string[] };

/** Data fields holding a time; the guide's other pages write times as epoch milliseconds. */
const timeFields = ['dateEnrolled', 'dateCompleted', 'dateStarted'] as const;

/** Epoch milliseconds from an ISO-8601 string, an epoch-ms number or a string of digits; undefined otherwise. */
export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.trunc(value) : undefined;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? undefined : parsed;
}

function normaliseLoType(value: unknown): unknown {
  return value === 'learning_program' ? 'learningProgram' : value;
}

function normaliseLoId(value: unknown): unknown {
  return typeof value === 'string' && value.startsWith('learning_program:')
    ? `learningProgram:${value.slice('learning_program:'.length)}`
    : value;
}

function normaliseData(data: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...data };
  if ('loType' in result) result.loType = normaliseLoType(result.loType);
  if ('loId' in result) result.loId = normaliseLoId(result.loId);
  if ('loInstanceId' in result) result.loInstanceId = normaliseLoId(result.loInstanceId);
  for (const field of timeFields) {
    const value = result[field];
    if (typeof value === 'number') result[field] = new Date(value).toISOString();
  }
  return result;
}

const knownKeys = new Map<string, readonly string[]>(
  Object.entries(dataSchemas).map(([name, schema]) => [name, Object.keys((schema as TObject).properties ?? {})]),
);

/** The data fields the catalog knows for an event; unknown extra fields are kept in the inbox but not checked. */
function knownFields(eventName: string, data: Record<string, unknown>): Record<string, unknown> {
  const keys = knownKeys.get(eventName);
  if (!keys) return data;
  const known: Record<string, unknown> = {};
  for (const key of keys) if (key in data) known[key] = data[key];
  return known;
}

const checkers = new Map<string, TypeCheck<TSchema>>();

/** Whether an event is valid, by the compiled check (listing the problems is much slower, so only done on failure). */
function isValid(eventName: string, event: unknown): boolean {
  let checker = checkers.get(eventName);
  if (!checker) {
    const schema = eventSchemas[eventName];
    if (!schema) return false;
    checker = TypeCompiler.Compile(schema);
    checkers.set(eventName, checker);
  }
  return checker.Check(event);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseEvent(raw: unknown, where: string, problems: string[]): MirrorEvent | undefined {
  if (!isRecord(raw)) {
    problems.push(`${where} must be an object`);
    return undefined;
  }
  const { eventId, eventName, eventInfo } = raw;
  const timestamp = parseTimestamp(raw.timestamp);
  const start = problems.length;
  if (typeof eventId !== 'string' || eventId.length === 0 || eventId.length > 200)
    problems.push(`${where}.eventId must be a non-empty string`);
  if (typeof eventName !== 'string' || eventName.length === 0) problems.push(`${where}.eventName must be a string`);
  if (timestamp === undefined) problems.push(`${where}.timestamp must be an ISO-8601 time or epoch milliseconds`);
  if (!isRecord(raw.data)) problems.push(`${where}.data must be an object`);
  if (problems.length > start) return undefined;
  const data = normaliseData(raw.data as Record<string, unknown>);
  const name = eventName as string;
  const known = isEventName(name);
  if (known) {
    const checked = {
      eventId,
      eventName: name,
      timestamp: new Date(timestamp as number).toISOString(),
      eventInfo: typeof eventInfo === 'string' ? eventInfo : '',
      data: knownFields(name, data),
    };
    const eventProblems = isValid(name, checked) ? [] : validateEvent(checked, where);
    if (eventProblems.length > 0) {
      problems.push(...eventProblems);
      return undefined;
    }
  }
  return {
    eventId: eventId as string,
    eventName: name,
    timestamp: timestamp as number,
    eventInfo: typeof eventInfo === 'string' ? eventInfo : '',
    data,
    known,
  };
}

/**
 * Checks and normalises a delivery body: ISO or epoch-ms timestamps, `learning_program` for `learningProgram`,
 * a missing `hasPassed` and unknown extra fields are accepted; an unknown event name is accepted (and reported
 * later); anything else wrong is a problem that rejects the whole body.
 */
export function parseEnvelope(body: unknown): ParsedEnvelope {
  if (!isRecord(body)) return { ok: false, problems: ['the body must be a JSON object { accountId, events }'] };
  const problems: string[] = [];
  const accountId = typeof body.accountId === 'string' && /^\d+$/.test(body.accountId) ? Number(body.accountId) : body.accountId;
  if (typeof accountId !== 'number' || !Number.isSafeInteger(accountId) || accountId < 1)
    problems.push('accountId must be a positive integer');
  if (!Array.isArray(body.events) || body.events.length === 0) problems.push('events must be a non-empty array');
  if (problems.length > 0) return { ok: false, problems };
  const events: MirrorEvent[] = [];
  (body.events as unknown[]).forEach((raw, index) => {
    if (problems.length >= 10) return;
    const event = parseEvent(raw, `events[${index}]`, problems);
    if (event) events.push(event);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, envelope: { accountId: accountId as number, events } };
}
