// "Retry now": a webhook waiting for its next scheduled attempt is made due at once (after fixing the receiver,
// nobody should wait for a backoff of up to five minutes).
import type { ProducerContext } from '../context.ts';
import { conflict } from '../errors.ts';
import { getWebhookRow } from './webhooks.ts';

export interface RetryStarted {
  /** Whether the webhook was waiting for a retry; false when it had nothing scheduled (it delivers as soon as it can anyway). */
  wasWaiting: boolean;
  /** When the attempt would have been made without this call. */
  scheduledFor: string | null;
}

/** Makes an enabled webhook's next attempt due now; a paused or disabled one must be activated instead. */
export async function retryWebhookNow(context: ProducerContext, accountId: number, webhookId: string): Promise<RetryStarted> {
  const webhook = await getWebhookRow(context, accountId, webhookId);
  if (webhook.state !== 'enabled')
    throw conflict(
      `webhook ${webhookId} is ${webhook.state}${webhook.disabled_reason ? ` (${webhook.disabled_reason})` : ''}; activate it ({"active": true}), which retries at once`,
      'webhook_not_enabled',
    );
  const now = context.now();
  const waiting = webhook.next_attempt_at !== null && webhook.next_attempt_at > now;
  if (waiting) {
    // Only if it still waits: a dispatcher that has just rescheduled it after another failure keeps its decision.
    await context.database.db
      .updateTable('webhooks')
      .set({ next_attempt_at: now, updated_at: now })
      .where('id', '=', webhookId)
      .where('next_attempt_at', '=', webhook.next_attempt_at)
      .execute();
  }
  context.signals.emit('webhook-changed', webhookId);
  return { wasWaiting: waiting, scheduledFor: webhook.next_attempt_at === null ? null : new Date(webhook.next_attempt_at).toISOString() };
}
