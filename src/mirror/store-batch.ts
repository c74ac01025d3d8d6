// Writes a verified, parsed delivery durably into the inbox; the 202 goes out only after this commit.
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

/** Inserts the batch; a batch id already in the inbox is not stored again and is recorded as a duplicate batch. */
export async function storeBatch(database: Database<MirrorSchema>, batch: IncomingBatch, now: number): Promise<StoreResult> {
  const range = parseSequenceRange(batch.sequence);
  const inserted = await database.db
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
  const existing = await database.db
    .selectFrom('inbox')
    .select('id')
    .where('batch_id', '=', batch.batchId ?? '')
    .executeTakeFirstOrThrow();
  await database.db
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
