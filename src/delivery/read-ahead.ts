// Reads a leased webhook's chosen events from the account's log ahead of its cursor for planning, and logged events by sequence (a planned batch, the attempts log's bodies).
import type { ProducerContext } from '../context.ts';
import { type BatchEvent, batchEventOf } from './build-delivery.ts';
import type { LeasedWebhook } from './webhook-lease.ts';

/** The columns of the log a batch needs (not `account_id` nor `created_at`). */
const storedColumns = ['seq', 'event_id', 'event_name', 'timestamp', 'event_info', 'data'] as const;

/**
 * Chosen events read ahead of the cursor, so a stream of small batches does not pay one query per batch. It holds
 * every chosen event in (`after`, `coveredTo`] and is dropped when the row, read again, shows a new filter or a
 * replay. (Dropping it at every reload made a stream of one-event batches read its 100 events ahead ~5 times over.)
 */
export interface ReadAhead {
  after: number;
  coveredTo: number;
  events: BatchEvent[];
}

/**
 * How many chosen events one read fetches: 100, or one batch when batches are larger. What a read holds stays in
 * memory until planned and sent, in every webhook loop at once: reading a whole planning step (200 events at batch
 * 100) made a drain of 1,000,000 events by 100 webhooks peak at 296-301 MiB of RSS, one batch at a time at 266-267,
 * for ~7 % more CPU per event (two alternate runs each).
 */
function readAheadLimit(batchMax: number): number {
  return Math.max(batchMax, 100);
}

/**
 * The chosen events after `from` that batches ending at most at `until` can take, and how far they are complete:
 * from the read-ahead when it covers them (a full batch, or everything up to `until`), else read again. Events up to
 * the account head seen before a read are all committed (the head moves in their transaction), so a short read
 * covers up to `until`.
 */
export async function chosenAfter(
  context: ProducerContext,
  row: LeasedWebhook,
  from: number,
  until: number,
  ahead: { current: ReadAhead | null },
): Promise<{ events: BatchEvent[]; coveredTo: number }> {
  const { batchMax } = context.settings;
  const held = ahead.current;
  if (held && held.after <= from && from <= held.coveredTo) {
    const events = held.events.filter((event) => event.seq > from);
    if (events.length >= batchMax || until <= held.coveredTo) return { events, coveredTo: Math.min(until, held.coveredTo) };
  }
  const limit = readAheadLimit(batchMax);
  const chosen = JSON.parse(row.events) as string[];
  const rows = await context.database.db
    .selectFrom('events')
    .select(storedColumns)
    .where('account_id', '=', row.account_id)
    .where('seq', '>', from)
    .where('event_name', 'in', chosen.length > 0 ? chosen : [''])
    .orderBy('seq')
    .limit(limit)
    .execute();
  const events = rows.map(batchEventOf);
  const last = events[events.length - 1];
  const coveredTo = events.length === limit && last ? last.seq : until;
  // Events appended after the head was seen may be missing between the ones returned: only keep the complete range.
  ahead.current = { after: from, coveredTo, events: events.filter((event) => event.seq <= coveredTo) };
  return { events: ahead.current.events, coveredTo: Math.min(until, coveredTo) };
}

/**
 * The account's events of these sequences that are still in the log, in order (read 500 at a time): a batch planned
 * before a restart, or the bodies of the attempts log.
 */
export async function readLoggedEvents(context: ProducerContext, accountId: number, seqs: readonly number[]): Promise<BatchEvent[]> {
  const events: BatchEvent[] = [];
  for (let start = 0; start < seqs.length; start += 500) {
    const rows = await context.database.db
      .selectFrom('events')
      .select(storedColumns)
      .where('account_id', '=', accountId)
      .where('seq', 'in', seqs.slice(start, start + 500))
      .orderBy('seq')
      .execute();
    events.push(...rows.map(batchEventOf));
  }
  return events.sort((a, b) => a.seq - b.seq);
}
