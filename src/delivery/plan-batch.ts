// Which events form a webhook's next batch: the next chosen events after its cursor, up to the batch size in events and in bytes (pure).

export interface BatchPlan {
  /** Account sequences of the events to send, in order; empty when the range holds none of the chosen events. */
  seqs: number[];
  /** The account sequence range the batch covers: acknowledging it moves the cursor to `lastSeq`. */
  firstSeq: number;
  lastSeq: number;
}

/** How large a batch may be: at most `events` events, and a body of at most `bytes` unless it holds one event. */
export interface BatchSize {
  events: number;
  bytes: number;
  /** Bytes of the envelope around the events (`{"accountId":…,"events":[` and `]}`). */
  envelopeBytes: number;
}

/** A chosen event; `bytes` is its size in the body (0 when sizes do not matter). */
export interface ChosenEvent {
  seq: number;
  bytes?: number;
}

function sizeOf(size: number | BatchSize): BatchSize {
  return typeof size === 'number' ? { events: size, bytes: Number.POSITIVE_INFINITY, envelopeBytes: 0 } : size;
}

/**
 * `chosen` are the chosen events read after `cursor` (in order), `head` the account's last sequence read before
 * them, `size` the most events (a number) or a `BatchSize`. A full batch (no room for the next chosen event, by
 * count or by bytes) ends at its last event; a short one covers everything up to the head, so events that were not
 * chosen are passed over without a request. A batch always takes at least one event: one larger than the byte cap
 * goes alone.
 */
export function planBatch(cursor: number, head: number, chosen: readonly ChosenEvent[], size: number | BatchSize): BatchPlan | null {
  const { events: batchMax, bytes: maxBytes, envelopeBytes } = sizeOf(size);
  // A size below one would make an empty batch "full" and move the cursor over events never sent.
  if (!Number.isInteger(batchMax) || batchMax < 1) throw new RangeError(`a batch holds at least one event (batchMax ${batchMax})`);
  if (head <= cursor) return null;
  const inRange = chosen.filter((event) => event.seq > cursor && event.seq <= head);
  const taken: number[] = [];
  let bytes = envelopeBytes;
  for (const event of inRange) {
    if (taken.length === batchMax) break;
    // Events are joined with a comma.
    const added = (event.bytes ?? 0) + (taken.length > 0 ? 1 : 0);
    if (taken.length > 0 && bytes + added > maxBytes) break;
    taken.push(event.seq);
    bytes += added;
  }
  const full = taken.length < inRange.length || taken.length === batchMax;
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
  chosen: readonly ChosenEvent[],
  size: number | BatchSize,
  limit: { batches: number; events: number },
): { plans: BatchPlan[]; to: number } {
  const plans: BatchPlan[] = [];
  let to = cursor;
  let events = 0;
  while (plans.length < limit.batches && (plans.length === 0 || events < limit.events)) {
    const plan = planBatch(to, head, chosen, size);
    if (!plan) break;
    to = plan.lastSeq;
    if (plan.seqs.length === 0) break;
    plans.push(plan);
    events += plan.seqs.length;
  }
  return { plans, to };
}
