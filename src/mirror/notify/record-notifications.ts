// The projector's hook: in the transaction that applies an event, records one outbox item per rule it fires (exactly once).
import { sql, type Transaction } from 'kysely';
import { eventDefinition } from '../../catalog/index.ts';
import type { MirrorEvent } from '../parse-envelope.ts';
import type { Observation } from '../reducer.ts';
import type { MirrorSchema } from '../schema.ts';
import { ciStatsFacts, type EventFacts, enrollmentFacts, eventFacts, type RecordFacts, recordKind } from './facts.ts';
import { matchRules, type RuleMatch } from './match-rules.ts';
import { channelKey } from './rules.ts';
import { activeRules } from './rules-store.ts';

type Trx = Transaction<MirrorSchema>;

export interface NotifyOptions {
  now: number;
  /** --notify-digest-window: the window of `_BATCH` events for rules that set none. */
  digestWindowMs?: number;
}

async function readRecord(trx: Trx, kind: 'ciStats' | 'enrollment', accountId: number, event: MirrorEvent): Promise<RecordFacts | null> {
  if (kind === 'ciStats') {
    const row = await trx
      .selectFrom('ci_stats')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('lo_instance_id', '=', String(event.data.loInstanceId))
      .executeTakeFirst();
    return ciStatsFacts(row);
  }
  const row = await trx
    .selectFrom('enrollments')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('user_id', '=', Number(event.data.userId))
    .where('lo_instance_id', '=', String(event.data.loInstanceId))
    .executeTakeFirst();
  return enrollmentFacts(row);
}

/**
 * Whether the mirror acted on the event. An event ignored by an ordering rule notifies nobody; so does an older
 * CI_STATS or LO event, which the mirror does not apply (`out_of_order` there means "not applied"). An older
 * enrollment-family event is still applied (to its own fields), so its `out_of_order` note does not silence it.
 */
export function tookEffect(event: MirrorEvent, observations: readonly Observation[]): boolean {
  if (observations.some((observation) => observation.kind === 'ignored_by_rule')) return false;
  return recordKind(event.eventName) === 'enrollment' || !observations.some((observation) => observation.kind === 'out_of_order');
}

async function recordMatch(trx: Trx, accountId: number, facts: EventFacts, match: RuleMatch, now: number): Promise<void> {
  const channel = channelKey(match.rule.definition.channel);
  let messageId: number;
  if (match.digest) {
    // Joins the window's open digest, or opens it. Sealing takes the same row lock, so an item never joins a digest being sent.
    const row = await trx
      .insertInto('notification_messages')
      .values({
        rule_id: match.rule.id,
        digest_key: match.digest.key,
        sealed_at: null,
        item_count: 1,
        state: 'pending',
        created_at: now,
        next_attempt_at: match.digest.sendAt,
        lease_token: null,
        lease_until: null,
        channel,
        last_error: null,
        sent_at: null,
      })
      .onConflict((conflict) =>
        conflict.column('digest_key').where('sealed_at', 'is', null).doUpdateSet({ item_count: sql`notification_messages.item_count + 1` }),
      )
      .returning('id')
      .executeTakeFirstOrThrow();
    messageId = row.id;
  } else {
    const row = await trx
      .insertInto('notification_messages')
      .values({
        rule_id: match.rule.id,
        digest_key: null,
        sealed_at: now,
        item_count: 1,
        state: 'pending',
        created_at: now,
        next_attempt_at: now,
        lease_token: null,
        lease_until: null,
        channel,
        last_error: null,
        sent_at: null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    messageId = row.id;
  }
  // Unique per (rule, account, event): the mirror applies an event once, and this says so in the outbox too.
  await trx
    .insertInto('notification_items')
    .values({
      rule_id: match.rule.id,
      account_id: accountId,
      event_id: facts.eventId,
      event_name: facts.eventName,
      event_at: facts.timestamp,
      facts: JSON.stringify(facts),
      message_id: messageId,
      recorded_at: now,
    })
    .execute();
}

/**
 * Applies an event through `apply` and records the notifications it fires, in the caller's transaction. With no rule
 * naming the event, it costs one read of the rules per transaction.
 */
export async function notifyOnApply(
  trx: Trx,
  accountId: number,
  event: MirrorEvent,
  options: NotifyOptions,
  apply: () => Promise<Observation[]>,
): Promise<Observation[]> {
  const rules = (await activeRules(trx)).filter((rule) => rule.definition.events.includes(event.eventName));
  if (rules.length === 0 || !eventDefinition(event.eventName)) return apply();
  // The record before and after the event is read only when a rule looks at it.
  const kind = rules.some((rule) => rule.readsRecords) ? recordKind(event.eventName) : undefined;
  const previous = kind ? await readRecord(trx, kind, accountId, event) : null;
  const observations = await apply();
  if (!tookEffect(event, observations)) return observations;
  const record = kind ? await readRecord(trx, kind, accountId, event) : null;
  const facts = eventFacts(event, previous, record);
  const matches = matchRules(rules, accountId, facts, { now: options.now, defaultDigestWindowMs: options.digestWindowMs ?? 300_000 });
  for (const match of matches) await recordMatch(trx, accountId, facts, match, options.now);
  return observations;
}
