// Writes verified, parsed deliveries durably into the inbox; the 202 goes out only after their commit.
import type { Insertable, Transaction } from 'kysely';
import { parseSequenceRange } from '../catalog/index.ts';
import type { Database } from '../store/database.ts';
import { GroupCommit, type GroupFrame } from '../store/group-commit.ts';
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

/**
 * Inserts a group of batches in the caller's transaction: those with a batch id in one multi-row statement (one
 * statement instead of one per batch is most of the receiver's saving under load), those without one by one; the
 * batches of a group come from different webhooks, so their order among themselves does not matter. A batch id already in the inbox, or earlier in the same group, is recorded as a duplicate batch.
 */
async function insertGroup(
  trx: Transaction<MirrorSchema>,
  group: ReadonlyArray<{ batch: IncomingBatch; now: number }>,
): Promise<StoreResult[]> {
  const results: Array<StoreResult | undefined> = new Array(group.length);
  const withId = group.flatMap((item, index) => (item.batch.batchId === undefined ? [] : [{ ...item, index }]));
  const firstOfId = new Map<string, (typeof withId)[number]>();
  for (const item of withId) if (!firstOfId.has(item.batch.batchId as string)) firstOfId.set(item.batch.batchId as string, item);
  const inserted = new Map<string, number>();
  if (firstOfId.size > 0) {
    const rows = await trx
      .insertInto('inbox')
      .values([...firstOfId.values()].map((item) => inboxRow(item.batch, item.now)))
      .onConflict((conflict) => conflict.column('batch_id').doNothing())
      .returning(['id', 'batch_id'])
      .execute();
    for (const row of rows) inserted.set(row.batch_id as string, row.id);
  }
  for (const [index, item] of group.entries()) {
    if (item.batch.batchId !== undefined) continue;
    const row = await trx.insertInto('inbox').values(inboxRow(item.batch, item.now)).returning('id').executeTakeFirstOrThrow();
    results[index] = { stored: true, inboxId: row.id };
  }
  const duplicates: typeof withId = [];
  for (const item of withId) {
    const id = inserted.get(item.batch.batchId as string);
    if (id !== undefined && firstOfId.get(item.batch.batchId as string) === item) results[item.index] = { stored: true, inboxId: id };
    else duplicates.push(item);
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
  if (duplicates.length > 0) {
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
    for (const item of duplicates)
      results[item.index] = { stored: false, duplicateOf: existing.get(item.batch.batchId as string) as number };
  }
  return results as StoreResult[];
}

/** Stores one batch in its own transaction. */
export async function storeBatch(database: Database<MirrorSchema>, batch: IncomingBatch, now: number): Promise<StoreResult> {
  const [result] = await database.db.transaction().execute((trx) => insertGroup(trx, [{ batch, now }]));
  return result as StoreResult;
}

/** The deliveries of one group, staged by each caller's write and inserted together when the group closes. */
type StagedBatches = Array<{ batch: IncomingBatch; now: number; result?: StoreResult }>;

const inboxFrame: GroupFrame<MirrorSchema, StagedBatches> = {
  open: async () => [],
  async close(trx, staged) {
    const results = await insertGroup(trx, staged);
    for (const [index, item] of staged.entries()) item.result = results[index];
  },
};

/**
 * Group commit for the receiver (the store's GroupCommit): deliveries that arrive while a commit is under way are
 * inserted together in the next transaction, so a burst costs one commit per group instead of one per request.
 * Nothing is answered before its group has committed; when a group fails, each of its deliveries is tried again in a
 * transaction of its own, so one that cannot be stored fails alone. One webhook never has two batches in flight, so
 * groups committing side by side never reorder one account's batches.
 */
export class InboxWriter {
  readonly #commits: GroupCommit<MirrorSchema, StagedBatches>;

  constructor(database: Database<MirrorSchema>) {
    // SQLite has one writer; PostgreSQL commits several groups at once, each waiting on its own flush to disk.
    this.#commits = new GroupCommit(database.db, {
      groupsInFlight: database.concurrentWrites ? 4 : 1,
      maxGroupSize: 200,
      frame: inboxFrame,
      stagedWrites: true,
    });
  }

  /** Resolves once the delivery is durably stored (or known to be stored already), never before. */
  async write(batch: IncomingBatch, now: number): Promise<StoreResult> {
    const staged = await this.#commits.run(async (_trx, group) => {
      const item = { batch, now } as StagedBatches[number];
      group.push(item);
      return item;
    });
    return staged.result as StoreResult;
  }
}
