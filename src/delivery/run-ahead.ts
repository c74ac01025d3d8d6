// How far a webhook's stream of batches may run ahead of what the database holds (pure).

/** At most this many acknowledged batches (and events in them) may wait to be recorded: a crash re-sends at most these. */
export const runAheadLimit = { batches: 20, events: 1000 } as const;

/**
 * How many batches (and events) one planning step adds ahead of the one a stream sends. Planned and read-ahead events
 * stay in memory until sent, in every webhook loop at once: with steps of 1,000 events a drain of 100 webhooks held up
 * to ~3,000 events per loop (~200 MiB live, a 1,000,000-event drain peaked at 553 MiB RSS), so the bound in events is
 * what keeps memory flat. Batches of 100 now plan two at a time; small batches still plan 20 ahead.
 */
export const planAheadLimit = { batches: 20, events: 200 } as const;

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

/**
 * Whether a stream plans more batches now, given the batches it planned and has not sent yet (`unsent`) and all it
 * holds (`queued`, the batch in flight too): once half a planning step is left, so the write that persists the next
 * step happens while the rest are sent.
 */
export function shouldPlanMore(unsent: readonly { eventCount: number }[], queued: number): boolean {
  const { batches, events } = waiting(unsent);
  return batches <= planAheadLimit.batches / 2 && events <= planAheadLimit.events / 2 && queued < 2 * planAheadLimit.batches;
}
