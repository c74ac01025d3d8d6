// Writes verified, parsed deliveries durably into the inbox; the 202 goes out only after their commit.
import type { Insertable, Kysely, Transaction } from 'kysely';
import { parseSequenceRange } from '../catalog/index.ts';
import type { Database } from '../store/database.ts';
import { StagedGroups } from '../store/group-commit.ts';
import type { InboxTable, MirrorSchema } from './schema.ts';

export interface IncomingBatch {
  batchId?: string;
  accountId: number;
  eventCount: number;
  /** The raw body, exactly as received. */
  body: string;
  sequence?: string;
  replay: boolean;
  test: boolean;
}

export type StoreResult = { stored: true; inboxId: number } | { stored: false; duplicateOf: number };

/** Why a `learnhook-sequence` header given with a batch is ignored for gap tracking; undefined when it is absent or valid. */
export function sequenceProblem(batch: IncomingBatch): string | undefined {
  if (batch.sequence === undefined || parseSequenceRange(batch.sequence) !== undefined) return undefined;
  const shown = batch.sequence.length > 100 ? `${batch.sequence.slice(0, 100)}…` : batch.sequence;
  return `learnhook-sequence ${JSON.stringify(shown)} is not a range first-last of whole numbers from 1 to ${Number.MAX_SAFE_INTEGER}; the batch is stored and applied, but not counted for gaps`;
}

function inboxRow(batch: IncomingBatch, now: number): Insertable<InboxTable> {
  const range = parseSequenceRange(batch.sequence);
  return {
    batch_id: batch.batchId ?? null,
    account_id: batch.accountId,
    seq_first: range?.first ?? null,
    seq_last: range?.last ?? null,
    replay: batch.replay ? 1 : 0,
    test: batch.test ? 1 : 0,
    event_count: batch.eventCount,
    body: batch.body,
    received_at: now,
    processed_at: null,
  };
}

type Staged = { batch: IncomingBatch; now: number };

/**
 * Inserts the batches that carry a batch id in one multi-row statement, the first of each id only; returns the inbox
 * id of each batch id it inserted. A batch id already in the inbox is left as it is.
 */
async function insertWithIds(db: Kysely<MirrorSchema>, items: readonly Staged[]): Promise<Map<string, number>> {
  const firstOfId = new Map<string, Staged>();
  for (const item of items) if (!firstOfId.has(item.batch.batchId as string)) firstOfId.set(item.batch.batchId as string, item);
  const inserted = new Map<string, number>();
  if (firstOfId.size === 0) return inserted;
  const rows = await db
    .insertInto('inbox')
    .values([...firstOfId.values()].map((item) => inboxRow(item.batch, item.now)))
    .onConflict((conflict) => conflict.column('batch_id').doNothing())
    .returning(['id', 'batch_id'])
    .execute();
  for (const row of rows) inserted.set(row.batch_id as string, row.id);
  return inserted;
}

/** The result of each batch with an id: stored (the first of its id that the insert stored), or a duplicate, known once `duplicatesOf` ran. */
function resultsWithIds(group: readonly Staged[], inserted: ReadonlyMap<string, number>): Array<StoreResult | undefined> {
  const claimed = new Set<string>();
  return group.map(({ batch }) => {
    const id = batch.batchId === undefined ? undefined : inserted.get(batch.batchId);
    if (id === undefined || claimed.has(batch.batchId as string)) return undefined;
    claimed.add(batch.batchId as string);
    return { stored: true, inboxId: id };
  });
}

/** Records each batch with an id that was not stored as a `duplicate_batch` anomaly; fills in its result. */
async function recordDuplicates(trx: Transaction<MirrorSchema>, group: readonly Staged[], results: Array<StoreResult | undefined>) {
  const duplicates = group.flatMap((item, index) =>
    results[index] === undefined && item.batch.batchId !== undefined ? [{ ...item, index }] : [],
  );
  if (duplicates.length === 0) return;
  const known = await trx
    .selectFrom('inbox')
    .select(['id', 'batch_id'])
    .where('batch_id', 'in', [...new Set(duplicates.map((item) => item.batch.batchId as string))])
    .execute();
  const existing = new Map(known.map((row) => [row.batch_id as string, row.id]));
  await trx
    .insertInto('anomalies')
    .values(
      duplicates.map(({ batch, now }) => {
        const inboxId = existing.get(batch.batchId as string) as number;
        return {
          account_id: batch.accountId,
          kind: 'duplicate_batch',
          event_id: null,
          event_name: null,
          subject: batch.batchId ?? null,
          detail: `batch ${batch.batchId} was received before (inbox row ${inboxId}); not stored again`,
          inbox_id: inboxId,
          recorded_at: now,
        };
      }),
    )
    .execute();
  for (const item of duplicates) results[item.index] = { stored: false, duplicateOf: existing.get(item.batch.batchId as string) as number };
}

/**
 * Inserts a group of batches in the caller's transaction: those with a batch id in one multi-row statement, those
 * without one by one; the batches of a group come from different webhooks, so their order among themselves does not
 * matter. A batch id already in the inbox, or earlier in the same group, is recorded as a duplicate batch.
 */
async function insertGroup(trx: Transaction<MirrorSchema>, group: readonly Staged[]): Promise<StoreResult[]> {
  const results = resultsWithIds(
    group,
    await insertWithIds(
      trx,
      group.filter((item) => item.batch.batchId !== undefined),
    ),
  );
  for (const [index, item] of group.entries()) {
    if (item.batch.batchId !== undefined) continue;
    const row = await trx.insertInto('inbox').values(inboxRow(item.batch, item.now)).returning('id').executeTakeFirstOrThrow();
    results[index] = { stored: true, inboxId: row.id };
  }
  const badSequences = group.flatMap((item, index) => {
    const result = results[index];
    const detail = sequenceProblem(item.batch);
    return result?.stored && detail ? [{ item, inboxId: result.inboxId, detail }] : [];
  });
  if (badSequences.length > 0) {
    await trx
      .insertInto('anomalies')
      .values(
        badSequences.map(({ item, inboxId, detail }) => ({
          account_id: item.batch.accountId,
          kind: 'bad_sequence',
          event_id: null,
          event_name: null,
          subject: item.batch.batchId ?? null,
          detail,
          inbox_id: inboxId,
          recorded_at: item.now,
        })),
      )
      .execute();
  }
  await recordDuplicates(trx, group, results);
  return results as StoreResult[];
}

/**
 * Writes a group of deliveries. The usual group (each with its batch id, none with an anomaly to record beside it) is
 * one statement, atomic and durable by itself, run outside a transaction: no BEGIN and COMMIT around it. Duplicates it
 * finds are then recorded in a transaction of their own; should that fail, the group is written again delivery by
 * delivery and the deliveries it stored are answered as duplicates of their own rows (still stored once, and
 * acknowledged). Any other group is written in one transaction.
 */
async function writeGroup(database: Database<MirrorSchema>, group: readonly Staged[]): Promise<StoreResult[]> {
  if (!group.every((item) => item.batch.batchId !== undefined && sequenceProblem(item.batch) === undefined))
    return database.db.transaction().execute((trx) => insertGroup(trx, group));
  const results = resultsWithIds(group, await insertWithIds(database.db, group));
  if (results.includes(undefined)) await database.db.transaction().execute((trx) => recordDuplicates(trx, group, results));
  return results as StoreResult[];
}

/** Stores one batch in its own transaction. */
export async function storeBatch(database: Database<MirrorSchema>, batch: IncomingBatch, now: number): Promise<StoreResult> {
  const [result] = await database.db.transaction().execute((trx) => insertGroup(trx, [{ batch, now }]));
  return result as StoreResult;
}

/**
 * Group commit for the receiver: deliveries that arrive while a group is being written are written together next, so
 * a burst costs one commit per group instead of one per request. Nothing is answered before its group has committed;
 * when a group fails, each of its deliveries is written again on its own, so one that cannot be stored fails alone.
 * One webhook never has two batches in flight, so groups committing side by side never reorder one account's batches.
 */
export class InboxWriter {
  readonly #groups: StagedGroups<Staged, StoreResult>;

  constructor(database: Database<MirrorSchema>) {
    // SQLite has one writer; PostgreSQL commits several groups at once, each waiting on its own flush to disk.
    this.#groups = new StagedGroups({
      groupsInFlight: database.concurrentWrites ? 4 : 1,
      maxGroupSize: 200,
      write: (group) => writeGroup(database, group),
    });
  }

  /** Resolves once the delivery is durably stored (or known to be stored already), never before. */
  write(batch: IncomingBatch, now: number): Promise<StoreResult> {
    return this.#groups.add({ batch, now });
  }
}
