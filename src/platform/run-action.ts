// One platform action: with its account locked, apply a rule, write its rows, stage its events and the late ones; group-committed with the actions that arrive with it.
import type { Selectable, Transaction } from 'kysely';
import type { ProducerContext } from '../context.ts';
import { notFound } from '../errors.ts';
import type { AccountsTable, ProducerSchema } from '../store/schema.ts';
import type { AccountGroup, AccountWriteOptions } from './account-writes.ts';
import { newEvent, stagedAppend } from './event-log.ts';
import type { RuleOutcome } from './rules/outcome.ts';
import { seededRandom } from './rules/progress.ts';

export type Trx = Transaction<ProducerSchema>;

export interface ActionStep<T> {
  /** What the action returns to its caller. */
  value: T;
  /** The rule's decision; its rows are already written by the step. */
  outcome: Pick<RuleOutcome<unknown>, 'events' | 'scheduled'>;
}

const randomSources = new WeakMap<ProducerContext, () => number>();

/** The process's seeded random source for progress delays: one sequence per producer, so a run can be repeated. */
export function randomFor(context: ProducerContext): () => number {
  let random = randomSources.get(context);
  if (!random) {
    random = seededRandom(context.settings.progressSeed);
    randomSources.set(context, random);
  }
  return random;
}

/**
 * Runs `step` with the account's row locked, so actions of one account apply one after another (seat counts stay
 * right under concurrency), in the group transaction of the actions that arrive with it; answers once it committed.
 * Events are appended only for ACTIVE accounts (SPEC §3); other accounts still change their rows. A refused rule
 * changes nothing (the others of its group still commit) and answers 409/422.
 */
export async function runAction<T>(
  context: ProducerContext,
  accountId: number,
  trace: string,
  step: (trx: Trx, account: Selectable<AccountsTable>, now: number, group: AccountGroup) => Promise<ActionStep<T>>,
  options: Pick<AccountWriteOptions, 'readsStagedEnrollments' | 'note'> = {},
): Promise<T> {
  return context.accountWrites.run(
    accountId,
    async (trx, group) => {
      const account = group.accounts.get(accountId);
      if (!account) throw notFound(`account ${accountId}`);
      const now = context.now();
      const result = await step(trx, account, now, group);
      if (account.status !== 'ACTIVE') return result.value;
      const events = result.outcome.events.map((draft) => newEvent(draft.eventName, draft.data, now, trace));
      group.appends.push(stagedAppend(accountId, events, now, { strictlyIncreasingTimestamps: true, freshIds: true }));
      for (const draft of result.outcome.scheduled) {
        const event = newEvent(draft.eventName, draft.data, draft.timestamp, trace);
        group.scheduled.push({
          account_id: accountId,
          due_at: draft.dueAt,
          event_id: event.eventId,
          event_name: event.eventName,
          timestamp: event.timestamp,
          event_info: event.eventInfo,
          data: JSON.stringify(event.data),
        });
      }
      return result.value;
    },
    options,
  );
}
