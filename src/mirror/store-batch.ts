// Writes verified, parsed deliveries durably into the inbox; the 202 goes out only after their commit.
import type { Transaction } from 'kysely';
import { parseSequenceRange } from '../catalog/index.ts';
import type { Database } from '../store/database.ts';
import type { MirrorSchema } from './schema.ts';

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

/** Inserts one batch in the caller's transaction; a batch id already in the inbox is recorded as a duplicate batch instead. */
async function insertBatch(trx: Transaction<MirrorSchema>, batch: IncomingBatch, now: number): Promise<StoreResult> {
  const range = parseSequenceRange(batch.sequence);
  const inserted = await trx
    .insertInto('inbox')
    .values({
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
    })
    .onConflict((conflict) => conflict.column('batch_id').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (inserted) return { stored: true, inboxId: inserted.id };
  const existing = await trx
    .selectFrom('inbox')
    .select('id')
    .where('batch_id', '=', batch.batchId ?? '')
    .executeTakeFirstOrThrow();
  await trx
    .insertInto('anomalies')
    .values({
      account_id: batch.accountId,
      kind: 'duplicate_batch',
      event_id: null,
      event_name: null,
      subject: batch.batchId ?? null,
      detail: `batch ${batch.batchId} was received before (inbox row ${existing.id}); not stored again`,
      inbox_id: existing.id,
      recorded_at: now,
    })
    .execute();
  return { stored: false, duplicateOf: existing.id };
}

/** Stores one batch in its own transaction. */
export async function storeBatch(database: Database<MirrorSchema>, batch: IncomingBatch, now: number): Promise<StoreResult> {
  return database.db.transaction().execute((trx) => insertBatch(trx, batch, now));
}

interface Pending {
  batch: IncomingBatch;
  now: number;
  resolve: (result: StoreResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for the receiver: batches that arrive while a commit is under way are written together in the
 * next transaction, so a burst costs one commit per group instead of one per request. Nothing is answered
 * before its group has committed; a failed commit fails the whole group (each sender retries). One webhook
 * never has two batches in flight, so groups committing side by side never reorder one account's batches.
 */
export class InboxWriter {
  #pending: Pending[] = [];
  #scheduled = false;
  #inFlight = 0;

  constructor(
    private readonly database: Database<MirrorSchema>,
    /** SQLite has one writer; PostgreSQL commits several groups at once, each waiting on its own flush to disk. */
    private readonly maxConcurrent = database.dialect === 'postgres' ? 4 : 1,
    private readonly maxGroup = 200,
  ) {}

  write(batch: IncomingBatch, now: number): Promise<StoreResult> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ batch, now, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.maxConcurrent || this.#pending.length === 0) return;
    this.#scheduled = true;
    // SQLite commits synchronously, so nothing would gather during a commit: wait one turn of the event
    // loop, in which the other requests already read are verified and join the group.
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    const group = this.#pending.splice(0, this.maxGroup);
    if (group.length === 0) return;
    this.#inFlight++;
    this.#schedule();
    try {
      const results = await this.database.db.transaction().execute(async (trx) => {
        const stored: StoreResult[] = [];
        for (const item of group) stored.push(await insertBatch(trx, item.batch, item.now));
        return stored;
      });
      group.forEach((item, index) => {
        item.resolve(results[index] as StoreResult);
      });
    } catch (error) {
      for (const item of group) item.reject(error);
    } finally {
      this.#inFlight--;
      this.#schedule();
    }
  }
}
