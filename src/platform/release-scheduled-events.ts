// The background service that appends held-back events (LEARNER_PROGRESS) to their account's log once they are due.
import type { ProducerContext } from '../context.ts';
import { runEvery } from '../run-every.ts';
import type { RunningService } from '../server.ts';
import { appendEvents } from './event-log.ts';

const batchSize = 200;

/**
 * Appends every due scheduled event, each with its original timestamp, so progress can arrive after later enrollment
 * or completion events (the guide's quirk). Several processes may run this at once: a row is appended only by the
 * transaction that deletes it, and the log's eventId idempotence covers the rest. Returns how many were appended.
 */
export async function releaseScheduledEvents(context: ProducerContext): Promise<number> {
  const db = context.database.db;
  const now = context.now();
  const due = await db
    .selectFrom('scheduled_events')
    .selectAll()
    .where('due_at', '<=', now)
    .orderBy('due_at')
    .orderBy('id')
    .limit(batchSize)
    .execute();
  const byAccount = new Map<number, typeof due>();
  for (const row of due) byAccount.set(row.account_id, [...(byAccount.get(row.account_id) ?? []), row]);
  const touched: number[] = [];
  let released = 0;
  for (const [accountId, rows] of byAccount) {
    const count = await db.transaction().execute(async (trx) => {
      const claimed = await trx
        .deleteFrom('scheduled_events')
        .where('account_id', '=', accountId)
        .where(
          'id',
          'in',
          rows.map((row) => row.id),
        )
        .returning('id')
        .execute();
      const mine = new Set(claimed.map((row) => row.id));
      const events = rows
        .filter((row) => mine.has(row.id))
        .map((row) => ({
          eventId: row.event_id,
          eventName: row.event_name,
          timestamp: row.timestamp,
          eventInfo: row.event_info,
          data: JSON.parse(row.data) as Record<string, unknown>,
        }));
      return (await appendEvents(trx, accountId, events, now)).seqs.length;
    });
    if (count > 0) touched.push(accountId);
    released += count;
  }
  if (touched.length > 0) context.signals.emit('events-appended', touched);
  return released;
}

/** Runs the release every poll interval (at most a second apart, so short progress delays stay short), one pass at a time. */
export function scheduledEventRelease(context: ProducerContext): RunningService {
  const repeating = runEvery(Math.min(context.settings.pollIntervalMs, 1000), async () => {
    try {
      await releaseScheduledEvents(context);
    } catch (error) {
      context.logger.error({ err: error }, 'releasing scheduled progress events failed; will retry');
    }
  });
  return { name: 'scheduled-event-release', stop: repeating.stop };
}
