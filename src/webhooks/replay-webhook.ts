// Replay: re-deliver a webhook's events logged since a time, as new batches flagged `learnhook-replay: true`.
import type { ProducerContext } from '../context.ts';
import { retentionCutoff } from '../delivery/retention.ts';
import { getWebhookRow } from './webhooks.ts';

export interface ReplayStarted {
  /** Account sequences to re-deliver, inclusive; empty (from > until) when nothing was delivered since then. */
  fromSeq: number;
  untilSeq: number;
}

/**
 * Replays the events logged at or after `since` up to the webhook's cursor (what it has acknowledged). The
 * replayed batches get new batch ids and new delivery sequence numbers; new events wait until the replay is done.
 * Events out of retention are never replayed, even while their partition is still there (PostgreSQL drops it later).
 */
export async function replayWebhook(context: ProducerContext, accountId: number, webhookId: string, since: number): Promise<ReplayStarted> {
  const webhook = await getWebhookRow(context, accountId, webhookId);
  const first = await context.database.db
    .selectFrom('events')
    .select((eb) => eb.fn.min<number | null>('seq').as('seq'))
    .where('account_id', '=', accountId)
    .where('created_at', '>=', Math.max(since, retentionCutoff(context.now(), context.settings.retentionMs)))
    .executeTakeFirst();
  const fromSeq = first?.seq ?? webhook.cursor + 1;
  const untilSeq = webhook.cursor;
  if (fromSeq <= untilSeq) {
    await context.database.db
      .updateTable('webhooks')
      .set({ replay_cursor: fromSeq - 1, replay_until: untilSeq, updated_at: context.now() })
      .where('id', '=', webhookId)
      .execute();
    context.signals.emit('webhook-changed', webhookId);
  }
  return { fromSeq, untilSeq };
}
