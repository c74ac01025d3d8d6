// Which events form a webhook's next batch: the next chosen events after its cursor, up to the batch size (pure).

export interface BatchPlan {
  /** Account sequences of the events to send, in order; empty when the range holds none of the chosen events. */
  seqs: number[];
  /** The account sequence range the batch covers: acknowledging it moves the cursor to `lastSeq`. */
  firstSeq: number;
  lastSeq: number;
}

/**
 * `chosen` are the chosen events read after `cursor` (in order, at most `batchMax`), `head` the account's last
 * sequence read before them. A full batch ends at its last event; a short one covers everything up to the head,
 * so events that were not chosen are passed over without a request.
 */
export function planBatch(cursor: number, head: number, chosen: readonly { seq: number }[], batchMax: number): BatchPlan | null {
  // A size below one would make an empty batch "full" and move the cursor over events never sent.
  if (!Number.isInteger(batchMax) || batchMax < 1) throw new RangeError(`a batch holds at least one event (batchMax ${batchMax})`);
  if (head <= cursor) return null;
  const seqs = chosen.map((event) => event.seq).filter((seq) => seq > cursor && seq <= head);
  const full = seqs.length >= batchMax;
  const taken = full ? seqs.slice(0, batchMax) : seqs;
  const last = taken[taken.length - 1];
  // A full batch ends at its last event, so the next chosen event (not taken) stays after it.
  return { seqs: taken, firstSeq: cursor + 1, lastSeq: full && last !== undefined ? last : head };
}

/**
 * Several batches in a row after `cursor` (as `planBatch` plans them one after another), at most `limit.batches`
 * of them and, past the first, at most `limit.events` events. `to` is how far they cover: past the last batch when
 * the rest up to the head holds no chosen events.
 */
export function planBatches(
  cursor: number,
  head: number,
  chosen: readonly { seq: number }[],
  batchMax: number,
  limit: { batches: number; events: number },
): { plans: BatchPlan[]; to: number } {
  const plans: BatchPlan[] = [];
  let to = cursor;
  let events = 0;
  while (plans.length < limit.batches && (plans.length === 0 || events < limit.events)) {
    const plan = planBatch(to, head, chosen, batchMax);
    if (!plan) break;
    to = plan.lastSeq;
    if (plan.seqs.length === 0) break;
    plans.push(plan);
    events += plan.seqs.length;
  }
  return { plans, to };
}
