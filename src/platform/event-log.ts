// Each account's append-only event log with a gap-free sequence: the outbox every webhook's cursor reads.
import { randomUUID } from 'node:crypto';
import { type Insertable, type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { CatalogEvent } from '../catalog/index.ts';
import type { DatabaseCapabilities } from '../store/database.ts';
import { rowInsert } from '../store/row-insert.ts';
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
  /** The events' ids were just made (randomUUID), so the log is not searched for them (publishing is idempotent by eventId otherwise). */
  freshIds?: boolean;
}

export interface AppendResult {
  /** Sequences given to the appended events, in order. */
  seqs: number[];
  /** The appended events' ids, in the order of `seqs`. */
  eventIds: string[];
  /** Event ids already in the account's log, skipped (publishing is idempotent by eventId). */
  duplicates: string[];
}

/** Where an account's log ends: read, and moved, only under the account's row lock. */
export interface LogHead {
  lastSeq: number;
  /** The newest timestamp the platform gave an event of the account (see strictlyIncreasingTimestamps). */
  lastEventAt: number;
}

/** Events to append to one account's log; `result` is filled in when they are written. */
export interface StagedAppend {
  accountId: number;
  events: readonly NewEvent[];
  now: number;
  options: AppendOptions;
  result: AppendResult;
}

export function stagedAppend(accountId: number, events: readonly NewEvent[], now: number, options: AppendOptions = {}): StagedAppend {
  return { accountId, events, now, options, result: { seqs: [], eventIds: [], duplicates: [] } };
}

// Bound parameters per statement stay well under both dialects' limits (SQLite 32,766; PostgreSQL 65,535).
const rowsPerInsert = 500;
const insertEvents = rowInsert<Insertable<EventsTable>>(
  'events',
  ['account_id', 'seq', 'event_id', 'event_name', 'timestamp', 'event_info', 'data', 'created_at'],
  rowsPerInsert,
);
const pairsPerLookup = 1000;
const headsPerUpdate = 200;

/** `items` in slices of at most `size`, for statements whose bound parameters must stay under the stores' limits. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size));
  return result;
}

/** The `account:eventId` pairs the log holds already among the appends that are not marked freshIds. */
async function knownEventIds(trx: Transaction<ProducerSchema>, appends: readonly StagedAppend[]): Promise<Set<string>> {
  const pairs = new Map<string, [number, string]>();
  for (const append of appends) {
    if (append.options.freshIds) continue;
    for (const event of append.events) pairs.set(`${append.accountId}:${event.eventId}`, [append.accountId, event.eventId]);
  }
  const known = new Set<string>();
  // Joined to the (account, eventId) pairs as a VALUES list: one index probe each. Accounts × ids (two IN lists) grew
  // with the square of a group on SQLite; a row-value IN list became one OR branch per pair on PostgreSQL, planned
  // for every partition (raw publishing 0.7x). VALUES names its columns column1, column2 on both dialects. CROSS JOIN
  // keeps the pairs as SQLite's outer loop: with a plain join and ~1,000 pairs it chose to scan the whole log instead.
  for (const chunk of chunks([...pairs.values()], pairsPerLookup)) {
    const values = sql.join(chunk.map(([accountId, eventId]) => sql`(cast(${accountId} as bigint), ${eventId})`));
    const { rows } = await sql<{ account_id: number; event_id: string }>`
      select events.account_id, events.event_id
      from (values ${values}) as wanted
      cross join events
      where events.account_id = wanted.column1 and events.event_id = wanted.column2`.execute(trx);
    for (const row of rows) known.add(`${row.account_id}:${row.event_id}`);
  }
  return known;
}

/**
 * Writes appends to their accounts' logs, in the given order, in the caller's transaction, which must hold every
 * named account's row lock (so `heads` are current, and a later append of the same account waits for this commit:
 * sequences become visible in order and a reader never passes over one that commits late). Each append's `result`
 * is filled in; the heads are moved in `heads` and in the accounts' rows. Events of all the appends go in multi-row
 * inserts, so a group of requests costs a few statements, not a few per request.
 */
export async function writeAppends(
  trx: Transaction<ProducerSchema>,
  appends: readonly StagedAppend[],
  heads: Map<number, LogHead>,
  { writesInWith = false }: Partial<Pick<DatabaseCapabilities, 'writesInWith'>> = {},
): Promise<void> {
  const known = await knownEventIds(trx, appends);
  const rows: Insertable<EventsTable>[] = [];
  const moved = new Set<number>();
  for (const append of appends) {
    const head = heads.get(append.accountId);
    if (!head) throw new Error(`account ${append.accountId} was not locked before appending to its log`);
    for (const event of append.events) {
      const key = `${append.accountId}:${event.eventId}`;
      if (!append.options.freshIds) {
        if (known.has(key)) {
          append.result.duplicates.push(event.eventId);
          continue;
        }
        known.add(key);
      }
      head.lastSeq += 1;
      let timestamp = event.timestamp;
      if (append.options.strictlyIncreasingTimestamps) {
        timestamp = Math.max(event.timestamp, head.lastEventAt + 1);
        head.lastEventAt = timestamp;
      }
      append.result.seqs.push(head.lastSeq);
      append.result.eventIds.push(event.eventId);
      moved.add(append.accountId);
      rows.push({
        account_id: append.accountId,
        seq: head.lastSeq,
        event_id: event.eventId,
        event_name: event.eventName,
        timestamp,
        event_info: event.eventInfo,
        data: JSON.stringify(event.data),
        created_at: append.now,
      });
    }
  }
  const inserts = chunks(rows, rowsPerInsert);
  const last = writesInWith ? inserts.pop() : undefined;
  for (const chunk of inserts) await insertEvents(trx, chunk);
  for (const [index, ids] of chunks([...moved], headsPerUpdate).entries()) {
    // One statement for every account of the group; CAST, since PostgreSQL would read untyped CASE values as text.
    const caseOf = (pick: (head: LogHead) => number) =>
      sql<number>`case id ${sql.join(
        ids.map((id) => sql`when ${id} then cast(${pick(heads.get(id) as LogHead)} as bigint)`),
        sql` `,
      )} end`;
    // Where a statement can carry another write (PostgreSQL), the last insert rides with the first heads' update:
    // one round trip fewer for every group, in the same transaction and as atomic.
    const carried = index === 0 && last ? trx.with('appended', (db) => db.insertInto('events').values(last).returning('seq')) : trx;
    await carried
      .updateTable('accounts')
      .set({ last_seq: caseOf((head) => head.lastSeq), last_event_at: caseOf((head) => head.lastEventAt) })
      .where('id', 'in', ids)
      .execute();
  }
}

/** Appends events to one account's log in the caller's transaction: locks the account's row, then as writeAppends. */
export async function appendEvents(
  trx: Transaction<ProducerSchema>,
  accountId: number,
  events: readonly NewEvent[],
  now: number,
  options: AppendOptions = {},
): Promise<AppendResult> {
  const append = stagedAppend(accountId, events, now, options);
  if (events.length === 0) return append.result;
  // An update that changes nothing takes the row lock on both dialects, and returns the head under it.
  const head = await trx
    .updateTable('accounts')
    .set((eb) => ({ last_seq: eb.ref('last_seq') }))
    .where('id', '=', accountId)
    .returning(['last_seq', 'last_event_at'])
    .executeTakeFirstOrThrow();
  await writeAppends(trx, [append], new Map([[accountId, { lastSeq: head.last_seq, lastEventAt: head.last_event_at }]]));
  return append.result;
}

/** The last sequence of an account's log (undefined: no such account). */
export async function logHead(db: Kysely<ProducerSchema>, accountId: number): Promise<number | undefined> {
  const account = await db.selectFrom('accounts').select('last_seq').where('id', '=', accountId).executeTakeFirst();
  return account?.last_seq;
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
