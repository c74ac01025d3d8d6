// Raw publishing: catalog events a product sends directly (it has its own domain and wants only delivery), all or nothing.

import { type CatalogEvent, validateEvent } from '../catalog/index.ts';
import type { ProducerContext } from '../context.ts';
import { conflict, invalidInput, notFound } from '../errors.ts';
import { appendEvents } from './event-log.ts';

export interface PublishResult {
  accepted: { eventId: string; seq: number }[];
  /** Event ids the account's log already holds; skipped, since publishing is idempotent by eventId. */
  duplicates: string[];
}

/** Validates every event against the catalog and appends them in the given order; any invalid event refuses them all. */
export async function publishEvents(context: ProducerContext, accountId: number, events: readonly unknown[]): Promise<PublishResult> {
  const problems = events.flatMap((event, index) => validateEvent(event, `events[${index}]`));
  if (problems.length > 0) throw invalidInput(`no event was published: ${problems.join('; ')}`, problems);
  const valid = events as readonly CatalogEvent[];
  const now = context.now();
  const result = await context.database.db.transaction().execute(async (trx) => {
    const account = await context.database
      .lockRows(trx.selectFrom('accounts').select('status').where('id', '=', accountId))
      .executeTakeFirst();
    if (!account) throw notFound(`account ${accountId}`);
    if (account.status !== 'ACTIVE')
      throw conflict(`account ${accountId} is ${account.status}; only ACTIVE accounts have events`, 'account_not_active');
    const appended = await appendEvents(
      trx,
      accountId,
      valid.map((event) => ({ ...event, timestamp: Date.parse(event.timestamp) })),
      now,
    );
    const accepted =
      appended.seqs.length === 0
        ? []
        : await trx
            .selectFrom('events')
            .select(['event_id as eventId', 'seq'])
            .where('account_id', '=', accountId)
            .where('seq', 'in', appended.seqs)
            .orderBy('seq')
            .execute();
    return { accepted, duplicates: appended.duplicates };
  });
  if (result.accepted.length > 0) context.signals.emit('events-appended', [accountId]);
  return result;
}
