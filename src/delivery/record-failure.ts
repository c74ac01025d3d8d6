// Records a failed attempt of the batch in flight: its retry time by the retry policy, or, on 410 Gone, the webhook disabled.
import type { ProducerContext } from '../context.ts';
import type { Batch } from './batch-queue.ts';
import { disabledMail, type Notifier } from './notifier.ts';
import { parseRetryAfter, retryDelay, retryPolicyOf } from './retry-policy.ts';
import type { DeliveryResult } from './send-delivery.ts';
import { type LeasedWebhook, updateLeasedWebhook } from './webhook-lease.ts';

export interface FailedAttempt {
  batch: Batch;
  /** The attempt's number for this batch (1 for its first). */
  attempt: number;
  result: DeliveryResult;
  now: number;
  /** When this run of failures began: now, unless the webhook was already failing. */
  failingSince: number;
}

/**
 * Writes the failure into the webhook's row (only while the row still has this batch in flight and this process
 * its lease: a process that lost the lease writes nothing, and sends no mail). The caller has recorded every acknowledgement before it, so the failed batch is the one in flight.
 */
export async function recordFailure(
  deps: { context: ProducerContext; notifier: Notifier; owner: string },
  row: LeasedWebhook,
  failed: FailedAttempt,
): Promise<void> {
  const { context, owner } = deps;
  const { batch, attempt, result, now, failingSince } = failed;
  const expected = { batchId: batch.id };
  if (result.statusCode === 410) {
    // Standard Webhooks: 410 Gone means the receiver wants no more deliveries.
    const reason = 'the target answered 410 Gone';
    const disabled = await updateLeasedWebhook(context.database.db, owner, row.id, expected, {
      batch_attempts: attempt,
      state: 'disabled',
      disabled_reason: reason,
      failing_since: failingSince,
      updated_at: now,
    });
    // Not this process's webhook any more (or its row changed): whoever holds it decides, and mails, on its own answer.
    if (!disabled) return;
    context.logger.warn({ webhookId: row.id }, `webhook ${row.id} disabled: ${reason}`);
    if (row.contact_email) await deps.notifier.send(disabledMail(row.contact_email, row, reason));
    return;
  }
  const delay = retryDelay(retryPolicyOf(context.settings), { failures: attempt, retryAfterMs: parseRetryAfter(result.retryAfter, now) });
  const recorded = await updateLeasedWebhook(context.database.db, owner, row.id, expected, {
    batch_attempts: attempt,
    next_attempt_at: now + delay,
    failing_since: failingSince,
  });
  if (!recorded) return;
  context.logger.info(
    { webhookId: row.id, batchId: batch.id, attempt, retryInMs: delay },
    `delivery to ${row.url} failed: ${result.error}`,
  );
}
