// Retention: which events are old enough to purge, and what a webhook whose cursor is behind them loses (pure).

/** Events created before this instant are out of retention. */
export function retentionCutoff(now: number, retentionMs: number): number {
  return now - retentionMs;
}

export interface CursorPosition {
  cursor: number;
  deliverySeq: number;
  /** The batch in flight, when there is one. */
  batch: { firstSeq: number; lastSeq: number; eventCount: number } | null;
}

export interface Loss {
  /** Account sequences lost, inclusive; the webhook's cursor moves to `lastSeq`. */
  firstSeq: number;
  lastSeq: number;
  /** Chosen events in that range that were never acknowledged. */
  count: number;
  /** The webhook's delivery sequence after the loss: it jumps by the lost count so a receiver sees the gap. */
  deliverySeq: number;
  /** Whether the batch in flight is given up (some of its events are gone). */
  dropBatch: boolean;
}

/**
 * The loss of a webhook when its account's events up to `purgedThroughSeq` are purged. A batch in flight that
 * reaches into the purged range is dropped whole (its delivery numbers were already given out), so the loss
 * extends to the batch's end (`lossRangeEnd`); `chosenInRange` is the number of the webhook's chosen events in
 * (cursor, rangeEnd].
 */
export function lossOnPurge(position: CursorPosition, purgedThroughSeq: number, rangeEnd: number, chosenInRange: number): Loss | null {
  if (position.cursor >= purgedThroughSeq) return null;
  const dropBatch = position.batch !== null && position.batch.firstSeq <= purgedThroughSeq;
  const alreadyNumbered = dropBatch && position.batch ? position.batch.eventCount : 0;
  return {
    firstSeq: position.cursor + 1,
    lastSeq: rangeEnd,
    count: chosenInRange,
    deliverySeq: position.deliverySeq + Math.max(0, chosenInRange - alreadyNumbered),
    dropBatch,
  };
}

/** The end of the range a purge makes a webhook lose: the purged sequences, stretched to the end of a dropped batch. */
export function lossRangeEnd(position: CursorPosition, purgedThroughSeq: number): number {
  const batch = position.batch;
  return batch && batch.firstSeq <= purgedThroughSeq ? Math.max(purgedThroughSeq, batch.lastSeq) : purgedThroughSeq;
}
