// How far a webhook's stream of batches may run ahead of what the database holds (pure).

/** At most this many acknowledged batches (and events in them) may wait to be recorded: a crash re-sends at most these. */
export const runAheadLimit = { batches: 20, events: 1000 } as const;

/** How many batches (and events) a stream keeps planned, and persisted, ahead of the one it sends. */
export const planAheadLimit = { batches: 20, events: 1000 } as const;

function waiting(unrecorded: readonly { eventCount: number }[]) {
  let events = 0;
  for (const batch of unrecorded) events += batch.eventCount;
  return { batches: unrecorded.length, events };
}

/**
 * Whether one more batch may be sent while `unrecorded` acknowledged batches are not yet durably recorded. A crash
 * re-sends them all (with their old ids), so their number and size are bounded; one batch may always be in flight.
 */
export function mayRunAhead(unrecorded: readonly { eventCount: number }[]): boolean {
  const { batches, events } = waiting(unrecorded);
  return batches < runAheadLimit.batches && events < runAheadLimit.events;
}

/**
 * Whether the acknowledgements waiting should be written now rather than with the next write that extends the plan:
 * once half the run-ahead is used, so the stream rarely has to stop at the limit to wait for a write.
 */
export function shouldRecord(unrecorded: readonly { eventCount: number }[]): boolean {
  const { batches, events } = waiting(unrecorded);
  return batches >= runAheadLimit.batches / 2 || events >= runAheadLimit.events / 2;
}
