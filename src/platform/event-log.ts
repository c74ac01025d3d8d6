// Each account's append-only event log with a gap-free sequence: the outbox every webhook's cursor reads.
import { randomUUID } from 'node:crypto';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { CatalogEvent } from '../catalog/index.ts';
import type { EventsTable, ProducerSchema } from '../store/schema.ts';

/** An event to append; `timestamp` in epoch milliseconds. */
export interface NewEvent {
  eventId: string;
  eventName: string;
  timestamp: number;
  eventInfo: string;
  data: Record<string, unknown>;
}

/** An event of the log, as `GET …/events` shows it and the dispatcher delivers it. */
export interface LogEvent extends CatalogEvent {
  seq: number;
}

/** An event as the platform emits it: a fresh UUID and a trace string that ties it to the action. */
export function newEvent(eventName: string, data: Record<string, unknown>, timestamp: number, trace: string): NewEvent {
  return { eventId: randomUUID(), eventName, timestamp, eventInfo: `${timestamp}-${trace}`, data };
}

export interface AppendOptions {
  /**
   * Make each event's timestamp later than every earlier one of the account (by a millisecond where two
   * actions share one), so a consumer ordering by timestamp sees the platform's order. Set for events the
   * platform emits as they happen; not for raw published events or late LEARNER_PROGRESS, which keep theirs.
   */
  strictlyIncreasingTimestamps?: boolean;
}

export interface AppendResult {
  /** Sequences given to the appended events, in order. */
  seqs: number[];
  /** Event ids already in the account's log, skipped (publishing is idempotent by eventId). */
  duplicates: string[];
}

/**
 * Appends events to an account's log inside the caller's transaction. The sequence comes from bumping
 * `accounts.last_seq`, which locks the account's row until commit: a later append of the same account
 * waits, so sequences become visible in order and a reader never passes over one that commits late.
 */
export async function appendEvents(
  trx: Transaction<ProducerSchema>,
  accountId: number,
  events: readonly NewEvent[],
  now: number,
  options: AppendOptions = {},
): Promise<AppendResult> {
  if (events.length === 0) return { seqs: [], duplicates: [] };
  const existing = await trx
    .selectFrom('events')
    .select('event_id')
    .where('account_id', '=', accountId)
    .where(
      'event_id',
      'in',
      events.map((event) => event.eventId),
    )
    .execute();
  const seen = new Set(existing.map((row) => row.event_id));
  const duplicates: string[] = [];
  const fresh: NewEvent[] = [];
  for (const event of events) {
    if (seen.has(event.eventId)) duplicates.push(event.eventId);
    else {
      seen.add(event.eventId);
      fresh.push(event);
    }
  }
  if (fresh.length === 0) return { seqs: [], duplicates };
  const head = await trx
    .updateTable('accounts')
    .set((eb) => ({ last_seq: eb('last_seq', '+', fresh.length) }))
    .where('id', '=', accountId)
    .returning(['last_seq', 'last_event_at'])
    .executeTakeFirstOrThrow();
  const first = head.last_seq - fresh.length + 1;
  let lastTimestamp = head.last_event_at;
  const timestamps = fresh.map((event) => {
    if (!options.strictlyIncreasingTimestamps) return event.timestamp;
    lastTimestamp = Math.max(event.timestamp, lastTimestamp + 1);
    return lastTimestamp;
  });
  if (options.strictlyIncreasingTimestamps) {
    await trx.updateTable('accounts').set({ last_event_at: lastTimestamp }).where('id', '=', accountId).execute();
  }
  const rows = fresh.map((event, index) => ({
    account_id: accountId,
    seq: first + index,
    event_id: event.eventId,
    event_name: event.eventName,
    timestamp: timestamps[index] ?? event.timestamp,
    event_info: event.eventInfo,
    data: JSON.stringify(event.data),
    created_at: now,
  }));
  // Stay well under both dialects' bound-parameter limits.
  for (let start = 0; start < rows.length; start += 500) {
    await trx
      .insertInto('events')
      .values(rows.slice(start, start + 500))
      .execute();
  }
  return { seqs: rows.map((row) => row.seq), duplicates };
}

export interface ReadEventsOptions {
  afterSeq: number;
  limit: number;
  /** Only these event names (a webhook's chosen events); all when absent. */
  eventNames?: readonly string[];
}

/** The account's events after a sequence, in order. */
export async function readEvents(db: Kysely<ProducerSchema>, accountId: number, options: ReadEventsOptions): Promise<LogEvent[]> {
  let query = db
    .selectFrom('events')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('seq', '>', options.afterSeq)
    .orderBy('seq')
    .limit(options.limit);
  if (options.eventNames) query = query.where('event_name', 'in', options.eventNames.length > 0 ? [...options.eventNames] : ['']);
  const rows = await query.execute();
  return rows.map(toLogEvent);
}

export function toLogEvent(row: Selectable<EventsTable>): LogEvent {
  return {
    seq: row.seq,
    eventId: row.event_id,
    eventName: row.event_name as LogEvent['eventName'],
    timestamp: new Date(row.timestamp).toISOString(),
    eventInfo: row.event_info,
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
}
