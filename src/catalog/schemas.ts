// TypeBox schemas of each event's `data`, of an event and of the delivery envelope (SPEC §2.2), and their validation.
import { FormatRegistry, type Static, type TSchema, Type } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { type EventFamily, eventDefinition, eventDefinitions, type LoType, loTypes } from './events.ts';

const loTypePattern = loTypes.join('|');

/** The longest id, string or trace the catalog accepts: real ones are far shorter, and one event stays bounded. */
export const maxIdLength = 128;
export const maxEventInfoLength = 512;

export const LoId = Type.String({
  pattern: `^(${loTypePattern}):\\d+$`,
  maxLength: maxIdLength,
  description: 'Learning object id, `<loType>:<number>`.',
  examples: ['course:12345678'],
});
export const LoInstanceId = Type.String({
  pattern: `^(${loTypePattern}):\\d+_\\d+$`,
  maxLength: maxIdLength,
  description: 'Instance id, `<loId>_<number>`.',
  examples: ['course:12345678_14448475'],
});
/** Whole numbers of the catalog stay exact in JavaScript (and fit a BIGINT column). */
const maxWhole = Number.MAX_SAFE_INTEGER;
const count = () => Type.Integer({ minimum: 0, maximum: maxWhole });
export const UserId = Type.Integer({ minimum: 1, maximum: maxWhole, description: "The learner's integer id." });

const isoTimeShape = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z$/;

/** Days in a month (1–12) of the proleptic Gregorian calendar. */
function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Whether a text is an ISO-8601 UTC time of a day that exists (`2026-13-45T99:99:99Z` has the shape, not the date).
 * Checked by arithmetic, without a Date: it runs twice for every event published.
 */
export function isRealUtcTime(text: string): boolean {
  const parts = isoTimeShape.exec(text);
  if (!parts) return false;
  const year = Number(parts[1]);
  const month = Number(parts[2]);
  const day = Number(parts[3]);
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysIn(year, month) &&
    Number(parts[4]) < 24 &&
    Number(parts[5]) < 60 &&
    Number(parts[6]) < 60
  );
}

// The catalog's times are checked as dates, not only as shapes, wherever its schemas are checked with TypeBox.
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', isRealUtcTime);

export const IsoTime = Type.String({
  maxLength: 32,
  pattern: isoTimeShape.source,
  format: 'date-time',
  description: 'ISO-8601 time in UTC, of a day that exists.',
});
export const EnrollmentSource = Type.String({
  pattern: '^[A-Z_]+$',
  maxLength: 64,
  description: 'How the enrollment came about: SELF_ENROLL, ADMIN_ENROLL, MANAGER_ENROLL, AUTO_ENROLL.',
});

function loTypeSchema(allowed: readonly LoType[]) {
  return Type.Union(allowed.map((loType) => Type.Literal(loType)));
}

const strict = { additionalProperties: false } as const;

/** The `data` schema for an event family; `loType` narrows enrollment families to their LO type. */
function dataSchema(family: EventFamily, loType: LoType | undefined): TSchema {
  const enrollmentLoType = loTypeSchema(loType ? [loType] : loTypes);
  const enrollmentCore = {
    userId: UserId,
    loId: LoId,
    loInstanceId: LoInstanceId,
    loType: enrollmentLoType,
    enrollmentSource: EnrollmentSource,
  };
  switch (family) {
    case 'ciStats':
      return Type.Object(
        {
          loInstanceId: LoInstanceId,
          waitlistCount: count(),
          enrollmentCount: count(),
          seatLimit: count(),
        },
        strict,
      );
    case 'enrollment':
      return Type.Object({ ...enrollmentCore, dateEnrolled: IsoTime }, strict);
    case 'completion':
      return Type.Object({ ...enrollmentCore, dateCompleted: IsoTime, hasPassed: Type.Optional(Type.Boolean()) }, strict);
    case 'unenrollment':
      return Type.Object(enrollmentCore, strict);
    case 'progress':
      return Type.Object(
        {
          loId: LoId,
          loType: loTypeSchema(loTypes),
          userId: UserId,
          loInstanceId: LoInstanceId,
          dateStarted: IsoTime,
          progressPercent: Type.Integer({ minimum: 0, maximum: 100 }),
        },
        strict,
      );
    case 'learningObject':
      return Type.Object({ loId: LoId, loType: loTypeSchema(loTypes) }, strict);
    case 'loInstance':
      return Type.Object({ loInstanceId: LoInstanceId, loId: LoId, loType: loTypeSchema(['course', 'learningProgram']) }, strict);
  }
}

/** One event of the log, as delivered (without the account, which the envelope carries). */
function eventSchema(name: string, data: TSchema): TSchema {
  return Type.Object(
    {
      eventId: Type.String({
        minLength: 1,
        maxLength: maxIdLength,
        description: 'Unique id of the event (a UUID when the platform makes it).',
      }),
      eventName: Type.Literal(name),
      timestamp: IsoTime,
      eventInfo: Type.String({ maxLength: maxEventInfoLength, description: 'Opaque trace string of the producer; never interpret it.' }),
      data,
    },
    { ...strict, $id: name, title: name },
  );
}

export const dataSchemas: Readonly<Record<string, TSchema>> = Object.fromEntries(
  eventDefinitions.map((definition) => [definition.name, dataSchema(definition.family, definition.loType)]),
);

export const eventSchemas: Readonly<Record<string, TSchema>> = Object.fromEntries(
  eventDefinitions.map((definition) => [definition.name, eventSchema(definition.name, dataSchemas[definition.name] as TSchema)]),
);

/** Any catalog event; `eventName` tells which. */
export const CatalogEvent = Type.Object(
  {
    eventId: Type.String({ minLength: 1, maxLength: maxIdLength }),
    eventName: Type.Union(eventDefinitions.map((definition) => Type.Literal(definition.name))),
    timestamp: IsoTime,
    eventInfo: Type.String({ maxLength: maxEventInfoLength }),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { $id: 'CatalogEvent' },
);
export type CatalogEvent = Static<typeof CatalogEvent>;

/** The request body of every delivery: one account, one or more of its events in sequence order. */
export const Envelope = Type.Object(
  {
    accountId: Type.Integer({ minimum: 1 }),
    events: Type.Array(CatalogEvent, { minItems: 1 }),
  },
  { $id: 'Envelope', title: 'Webhook delivery envelope' },
);
export type Envelope = Static<typeof Envelope>;

const compiled = new Map<string, TypeCheck<TSchema>>();
function checkerFor(name: string): TypeCheck<TSchema> | undefined {
  let checker = compiled.get(name);
  if (!checker) {
    const schema = eventSchemas[name];
    if (!schema) return undefined;
    checker = TypeCompiler.Compile(schema);
    compiled.set(name, checker);
  }
  return checker;
}

/**
 * Checks one event against the catalog; returns the problems in plain words (empty when valid).
 * `where` prefixes each problem, e.g. `events[2]`.
 */
export function validateEvent(event: unknown, where = 'event'): string[] {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return [`${where} must be an object`];
  const name = (event as { eventName?: unknown }).eventName;
  if (typeof name !== 'string') return [`${where}.eventName must be a string naming a catalog event`];
  const checker = eventDefinition(name) ? checkerFor(name) : undefined;
  if (!checker) return [`${where}.eventName "${name}" is not an event of the catalog`];
  // The compiled check is fast; the error walk that names each problem runs only for an invalid event.
  if (checker.Check(event)) return [];
  const problems: string[] = [];
  for (const error of checker.Errors(event)) {
    const at = `${where}${error.path.replaceAll('/', '.')}`;
    problems.push(`${at}: ${error.message}`);
    if (problems.length >= 10) break;
  }
  return problems;
}
