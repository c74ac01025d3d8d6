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

/** An event of a delivery that cannot be read or stored: kept in the inbox as received, reported, never applied. */
export interface UnreadableEvent {
  /** Index of the event in the envelope's `events` array. */
  position: number;
  problems: string[];
  /** The event's id and name, when they are text a column can hold. */
  eventId?: string;
  eventName?: string;
}

export interface MirrorEnvelope {
  accountId: number;
  /** The events that can be read, in delivery order. */
  events: MirrorEvent[];
  unreadable: UnreadableEvent[];
}

export type ParsedEnvelope = { ok: true; envelope: MirrorEnvelope } | { ok: false; problems: string[] };

/** One event of a delivery as read: applicable, or held with its problems. */
export type EventReading = { position: number; ok: true; event: MirrorEvent } | (UnreadableEvent & { ok: false });

/** The latest instant a JavaScript date can hold (ECMAScript: ±8.64e15 ms); beyond it there is no ISO-8601 form. */
const maxTimestamp = 8.64e15;
/** Ids are keys of indexed columns (PostgreSQL refuses index entries above ~2.7 kB); the catalog's ids are far shorter. */
const maxIdLength = 200;
/** Any other text of an event. */
const maxTextLength = 2000;
const idFields = new Set(['eventId', 'loId', 'loInstanceId']);

/** Data fields holding a time; the guide's other pages write times as epoch milliseconds. */
const timeFields = ['dateEnrolled', 'dateCompleted', 'dateStarted'] as const;

/** Epoch milliseconds from an ISO-8601 string, an epoch-ms number or a string of digits; undefined otherwise. */
export function parseTimestamp(value: unknown): number | undefined {
  let parsed: number;
  if (typeof value === 'number') parsed = Math.trunc(value);
  else if (typeof value !== 'string' || value.trim() === '') return undefined;
  else if (/^\d+$/.test(value.trim())) parsed = Number(value.trim());
  else parsed = Date.parse(value);
  return Number.isFinite(parsed) && parsed >= 0 && parsed <= maxTimestamp ? parsed : undefined;
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
    const time = typeof value === 'number' ? parseTimestamp(value) : undefined;
    // A number beyond any date stays a number, which the catalog's check then reports.
    if (time !== undefined) result[field] = new Date(time).toISOString();
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

/** A NUL (no PostgreSQL text holds it) or half of a surrogate pair (not Unicode). */
const brokenUnicode = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const unstorableCharacter = { test: (text: string) => text.includes('\u0000') || brokenUnicode.test(text) };

/**
 * What no column could hold, for both stores alike: text with a NUL or broken Unicode, over-long text, integers beyond
 * what JavaScript holds exactly (SQLite would keep 1e300 as a float, PostgreSQL refuses 2^63 in a BIGINT). Only the
 * fields the mirror reads are checked: unknown extra fields stay in the inbox and are never read.
 */
function storageProblems(fields: Record<string, unknown>, at: string, problems: string[]): void {
  for (const [key, value] of Object.entries(fields)) {
    if (typeof value === 'string') {
      if (unstorableCharacter.test(value)) problems.push(`${at}.${key} holds a NUL character or broken Unicode, which cannot be stored`);
      const limit = idFields.has(key) ? maxIdLength : maxTextLength;
      if (value.length > limit) problems.push(`${at}.${key} is ${value.length} characters long; at most ${limit} can be stored`);
    } else if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
      problems.push(`${at}.${key} is ${value}, beyond the whole numbers that can be stored exactly (±${Number.MAX_SAFE_INTEGER})`);
    }
  }
}

function textOrUndefined(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxIdLength || unstorableCharacter.test(value)) return undefined;
  return value;
}

/** Reads one event of a delivery; `position` is its index in the envelope's events. */
export function readEvent(raw: unknown, position: number): EventReading {
  const where = `events[${position}]`;
  if (!isRecord(raw)) return { position, ok: false, problems: [`${where} must be an object`] };
  const { eventId, eventName, eventInfo } = raw;
  const held = (problems: string[]): EventReading => {
    const id = textOrUndefined(eventId);
    const name = textOrUndefined(eventName);
    return { position, ok: false, problems, ...(id ? { eventId: id } : {}), ...(name ? { eventName: name } : {}) };
  };
  const timestamp = parseTimestamp(raw.timestamp);
  const problems: string[] = [];
  if (typeof eventId !== 'string' || eventId.length === 0) problems.push(`${where}.eventId must be a non-empty string`);
  if (typeof eventName !== 'string' || eventName.length === 0) problems.push(`${where}.eventName must be a string`);
  if (timestamp === undefined)
    problems.push(
      `${where}.timestamp must be an ISO-8601 time or epoch milliseconds between 1970 and ${new Date(maxTimestamp).toISOString()}`,
    );
  if (!isRecord(raw.data)) problems.push(`${where}.data must be an object`);
  storageProblems({ eventId, eventName, eventInfo }, where, problems);
  if (problems.length > 0) return held(problems);
  const data = normaliseData(raw.data as Record<string, unknown>);
  const name = eventName as string;
  const known = isEventName(name);
  if (known) storageProblems(knownFields(name, data), `${where}.data`, problems);
  if (problems.length > 0) return held(problems);
  if (known) {
    const checked = {
      eventId,
      eventName: name,
      timestamp: new Date(timestamp as number).toISOString(),
      eventInfo: typeof eventInfo === 'string' ? eventInfo : '',
      data: knownFields(name, data),
    };
    if (!isValid(name, checked)) return held(validateEvent(checked, where));
  }
  return {
    position,
    ok: true,
    event: {
      eventId: eventId as string,
      eventName: name,
      timestamp: timestamp as number,
      eventInfo: typeof eventInfo === 'string' ? eventInfo : '',
      data,
      known,
    },
  };
}

/** The envelope around the events: a positive `accountId` and a non-empty `events` array; the events are read one by one. */
export function readEnvelopeShape(body: unknown): { ok: true; accountId: number; events: unknown[] } | { ok: false; problems: string[] } {
  if (!isRecord(body)) return { ok: false, problems: ['the body must be a JSON object { accountId, events }'] };
  const problems: string[] = [];
  const accountId = typeof body.accountId === 'string' && /^\d+$/.test(body.accountId) ? Number(body.accountId) : body.accountId;
  if (typeof accountId !== 'number' || !Number.isSafeInteger(accountId) || accountId < 1)
    problems.push('accountId must be a positive integer');
  if (!Array.isArray(body.events) || body.events.length === 0) problems.push('events must be a non-empty array');
  return problems.length > 0 ? { ok: false, problems } : { ok: true, accountId: accountId as number, events: body.events as unknown[] };
}

/**
 * Checks and normalises a delivery body: ISO or epoch-ms timestamps, `learning_program` for `learningProgram`,
 * a missing `hasPassed` and unknown extra fields are accepted; an unknown event name is accepted (and reported
 * later). A wrong envelope is refused whole; an event that breaks the catalog, or holds what no column can, is
 * listed in `unreadable` with its problems and the others are read.
 */
export function parseEnvelope(body: unknown): ParsedEnvelope {
  const shape = readEnvelopeShape(body);
  if (!shape.ok) return shape;
  const events: MirrorEvent[] = [];
  const unreadable: UnreadableEvent[] = [];
  shape.events.forEach((raw, position) => {
    const reading = readEvent(raw, position);
    if (reading.ok) events.push(reading.event);
    else {
      const { ok: _ok, ...rest } = reading;
      unreadable.push(rest);
    }
  });
  return { ok: true, envelope: { accountId: shape.accountId, events, unreadable } };
}
