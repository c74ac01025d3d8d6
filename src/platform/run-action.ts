// One platform action = one transaction: lock the account, apply a rule, write its rows, append its events, schedule the late ones.
import type { Selectable, Transaction } from 'kysely';
import type { ProducerContext } from '../context.ts';
import { notFound } from '../errors.ts';
import type { AccountsTable, ProducerSchema } from '../store/schema.ts';
import { appendEvents, newEvent } from './event-log.ts';
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
 * Runs `step` in one transaction with the account's row locked, so actions of one account apply one after another
 * (seat counts stay right under concurrency). Events are appended only for ACTIVE accounts (SPEC §3); other
 * accounts still change their rows. A refused rule rolls everything back and answers 409/422.
 */
export async function runAction<T>(
  context: ProducerContext,
  accountId: number,
  trace: string,
  step: (trx: Trx, account: Selectable<AccountsTable>, now: number) => Promise<ActionStep<T>>,
): Promise<T> {
  const now = context.now();
  let appended = false;
  const value = await context.database.db.transaction().execute(async (trx) => {
    const account = await context.database.lockRows(trx.selectFrom('accounts').selectAll().where('id', '=', accountId)).executeTakeFirst();
    if (!account) throw notFound(`account ${accountId}`);
    const result = await step(trx, account, now);
    if (account.status !== 'ACTIVE') return result.value;
    const events = result.outcome.events.map((draft) => newEvent(draft.eventName, draft.data, now, trace));
    const { seqs } = await appendEvents(trx, accountId, events, now, { strictlyIncreasingTimestamps: true });
    appended = seqs.length > 0;
    const scheduled = result.outcome.scheduled.map((draft) => {
      const event = newEvent(draft.eventName, draft.data, draft.timestamp, trace);
      return {
        account_id: accountId,
        due_at: draft.dueAt,
        event_id: event.eventId,
        event_name: event.eventName,
        timestamp: event.timestamp,
        event_info: event.eventInfo,
        data: JSON.stringify(event.data),
      };
    });
    if (scheduled.length > 0) await trx.insertInto('scheduled_events').values(scheduled).execute();
    return result.value;
  });
  if (appended) context.signals.emit('events-appended', [accountId]);
  return value;
}
