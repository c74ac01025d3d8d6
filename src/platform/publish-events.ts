// Raw publishing: catalog events a product sends directly (it has its own domain and wants only delivery), all or nothing, group-committed with the requests that arrive with it.

import { type CatalogEvent, validateEvent } from '../catalog/index.ts';
import type { ProducerContext } from '../context.ts';
import { conflict, invalidInput, notFound } from '../errors.ts';
import { stagedAppend } from './event-log.ts';

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
  const append = stagedAppend(
    accountId,
    valid.map((event) => ({ ...event, timestamp: Date.parse(event.timestamp) })),
    now,
  );
  await context.accountWrites.run(
    accountId,
    async (_trx, group) => {
      const account = group.accounts.get(accountId);
      if (!account) throw notFound(`account ${accountId}`);
      if (account.status !== 'ACTIVE')
        throw conflict(`account ${accountId} is ${account.status}; only ACTIVE accounts have events`, 'account_not_active');
      // A fresh result each time the group runs this write (it runs again when another write of its group failed).
      append.result = { seqs: [], eventIds: [], duplicates: [] };
      group.appends.push(append);
    },
    { stagesOnly: true },
  );
  const { seqs, eventIds } = append.result;
  return {
    accepted: seqs.map((seq, index) => ({ eventId: eventIds[index] as string, seq })),
    duplicates: append.result.duplicates,
  };
}
