// A webhook's queue of batches as its row keeps it: the batch in flight in the `batch_*` columns, the planned ones after it in `batch_plan`.
import { noBatchInFlight, type WebhookRow } from '../webhooks/webhooks.ts';
import type { BatchEvent } from './build-delivery.ts';

export interface Batch {
  id: string;
  seqs: number[];
  firstSeq: number;
  lastSeq: number;
  deliveryFirst: number;
  deliveryLast: number;
  replay: boolean;
  attempts: number;
}

/** A batch waiting to be sent. */
export interface QueuedBatch {
  batch: Batch;
  /** Its events when planned here; null for a batch read back from the database (they are read when it is sent). */
  events: BatchEvent[] | null;
  /** Whether the database holds it: only then may it be sent, so a crash re-sends it with the same id. */
  durable: boolean;
  /** Planned by this loop and never sent, so it may be planned again differently (a filter change, a replay). */
  droppable: boolean;
}

/** How a planned batch is kept in `batch_plan`. */
type PlannedBatch = Omit<Batch, 'attempts'>;

/** The batch in flight and the batches planned after it, as the row holds them. */
export function queueOf(row: WebhookRow): QueuedBatch[] {
  if (row.batch_id === null || row.batch_seqs === null || row.batch_first_seq === null || row.batch_last_seq === null) return [];
  const inFlight: Batch = {
    id: row.batch_id,
    seqs: JSON.parse(row.batch_seqs) as number[],
    firstSeq: row.batch_first_seq,
    lastSeq: row.batch_last_seq,
    deliveryFirst: row.batch_delivery_first ?? 0,
    deliveryLast: row.batch_delivery_last ?? 0,
    replay: row.batch_replay === 1,
    attempts: row.batch_attempts,
  };
  const planned = row.batch_plan === null ? [] : (JSON.parse(row.batch_plan) as PlannedBatch[]);
  return [inFlight, ...planned.map((batch) => ({ ...batch, attempts: 0 }))].map((batch) => ({
    batch,
    events: null,
    durable: true,
    droppable: false,
  }));
}

/** The columns of the batch in flight and the plan after it. */
export function queueColumns(queue: readonly QueuedBatch[]) {
  const [first, ...rest] = queue;
  if (!first) return noBatchInFlight;
  const batch = first.batch;
  return {
    batch_id: batch.id,
    batch_seqs: JSON.stringify(batch.seqs),
    batch_first_seq: batch.firstSeq,
    batch_last_seq: batch.lastSeq,
    batch_delivery_first: batch.deliveryFirst,
    batch_delivery_last: batch.deliveryLast,
    batch_replay: batch.replay ? 1 : 0,
    batch_attempts: batch.attempts,
    batch_plan: rest.length > 0 ? JSON.stringify(rest.map(({ batch: { attempts: _, ...planned } }) => planned)) : null,
  };
}
