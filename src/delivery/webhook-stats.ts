// A webhook's delivery state at a glance: cursor, account head, backlog, lag, failing since, next attempt, lost, state.
import type { ProducerContext } from '../context.ts';
import { getWebhookRow } from '../webhooks/webhooks.ts';
import type { LostRange } from './housekeeping.ts';

export interface WebhookStats {
  webhookId: string;
  state: string;
  disabledReason: string | null;
  /** Last account sequence acknowledged (or passed over). */
  cursor: number;
  /** The account's last sequence. */
  accountHead: number;
  /** Chosen events after the cursor, not yet acknowledged. */
  backlog: number;
  /** Milliseconds since the oldest unacknowledged chosen event was logged; 0 when there is none. */
  lagMs: number;
  /** Last delivery sequence number given out. */
  deliverySeq: number;
  batchInFlight: {
    batchId: string;
    firstSeq: number;
    lastSeq: number;
    deliveryFirst: number;
    deliveryLast: number;
    attempts: number;
    replay: boolean;
  } | null;
  failingSince: string | null;
  nextAttemptAt: string | null;
  lost: { count: number; ranges: LostRange[] };
  replay: { cursor: number; until: number } | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export async function webhookStats(context: ProducerContext, accountId: number, webhookId: string): Promise<WebhookStats> {
  const { db } = context.database;
  const webhook = await getWebhookRow(context, accountId, webhookId);
  const account = await db.selectFrom('accounts').select('last_seq').where('id', '=', accountId).executeTakeFirstOrThrow();
  const chosen = JSON.parse(webhook.events) as string[];
  const pending = await db
    .selectFrom('events')
    .select((eb) => [eb.fn.countAll<number | string>().as('count'), eb.fn.min<number | null>('created_at').as('oldest')])
    .where('account_id', '=', accountId)
    .where('seq', '>', webhook.cursor)
    .where('event_name', 'in', chosen.length > 0 ? chosen : [''])
    .executeTakeFirstOrThrow();
  const batch =
    webhook.batch_id !== null
      ? {
          batchId: webhook.batch_id,
          firstSeq: webhook.batch_first_seq ?? 0,
          lastSeq: webhook.batch_last_seq ?? 0,
          deliveryFirst: webhook.batch_delivery_first ?? 0,
          deliveryLast: webhook.batch_delivery_last ?? 0,
          attempts: webhook.batch_attempts,
          replay: webhook.batch_replay === 1,
        }
      : null;
  return {
    webhookId,
    state: webhook.state,
    disabledReason: webhook.disabled_reason,
    cursor: webhook.cursor,
    accountHead: account.last_seq,
    backlog: Number(pending.count),
    lagMs: pending.oldest === null ? 0 : Math.max(0, context.now() - Number(pending.oldest)),
    deliverySeq: webhook.delivery_seq,
    batchInFlight: batch,
    failingSince: iso(webhook.failing_since),
    nextAttemptAt: iso(webhook.next_attempt_at),
    lost: { count: webhook.lost_count, ranges: JSON.parse(webhook.lost_ranges) as LostRange[] },
    replay:
      webhook.replay_cursor !== null && webhook.replay_until !== null
        ? { cursor: webhook.replay_cursor, until: webhook.replay_until }
        : null,
  };
}
