// Splits a batch a receiver refused as too large (413) into two halves that keep its order and its delivery sequence range (pure).
import { batchId } from './batch-id.ts';
import type { Batch } from './batch-queue.ts';
import type { BatchEvent } from './build-delivery.ts';

/**
 * The two halves of a batch of two or more events, in order: together they cover its account range and its
 * delivery sequence range with no gap, and each is a new batch with its own content-derived id (its attempts start
 * at zero). `events` are the batch's events, in order.
 */
export function splitBatch(webhookId: string, batch: Batch, events: readonly Pick<BatchEvent, 'eventId'>[]): [Batch, Batch] {
  if (batch.seqs.length < 2 || events.length !== batch.seqs.length) throw new RangeError('only a batch of two or more events can be split');
  const half = Math.ceil(batch.seqs.length / 2);
  const firstSeqs = batch.seqs.slice(0, half);
  const lastFirstSeq = firstSeqs[firstSeqs.length - 1] ?? batch.firstSeq;
  const part = (seqs: number[], from: number, firstSeq: number, lastSeq: number, deliveryFirst: number): Batch => ({
    id: batchId(webhookId, {
      deliveryFirst,
      replay: batch.replay,
      eventIds: events.slice(from, from + seqs.length).map((event) => event.eventId),
    }),
    seqs,
    firstSeq,
    lastSeq,
    deliveryFirst,
    deliveryLast: deliveryFirst + seqs.length - 1,
    replay: batch.replay,
    attempts: 0,
  });
  return [
    part(firstSeqs, 0, batch.firstSeq, lastFirstSeq, batch.deliveryFirst),
    part(batch.seqs.slice(half), half, lastFirstSeq + 1, batch.lastSeq, batch.deliveryFirst + half),
  ];
}
