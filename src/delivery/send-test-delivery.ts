// The "test webhook" action: one sample event sent at once, outside the account's sequence, flagged `learnhook-test: true`.
import { sampleEvent } from '../catalog/index.ts';
import type { ProducerContext } from '../context.ts';
import { getWebhookRow } from '../webhooks/webhooks.ts';
import { exchangeColumns } from './attempt-log.ts';
import { newBatchId } from './batch-id.ts';
import { buildDelivery, unloggedBatchEvent } from './build-delivery.ts';
import { DeliverySender } from './send-delivery.ts';

export interface TestDeliveryResult {
  batchId: string;
  eventName: string;
  acknowledged: boolean;
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  /** The start of the receiver's answer (at most 4 KiB). */
  responseBody: string | null;
}

export async function sendTestDelivery(context: ProducerContext, accountId: number, webhookId: string): Promise<TestDeliveryResult> {
  const webhook = await getWebhookRow(context, accountId, webhookId);
  const eventName = (JSON.parse(webhook.events) as string[])[0] ?? 'COURSE_ENROLLMENT';
  const batchId = newBatchId();
  const startedAt = context.now();
  const sender = new DeliverySender({ ...context.settings, concurrency: 1 });
  try {
    const request = buildDelivery(
      webhook,
      { batchId, events: [unloggedBatchEvent(sampleEvent(eventName))], test: true },
      startedAt,
      context.secrets,
    );
    const result = await sender.send(request);
    await context.database.db
      .insertInto('delivery_attempts')
      .values({
        account_id: accountId,
        webhook_id: webhookId,
        batch_id: batchId,
        kind: 'test',
        first_seq: null,
        last_seq: null,
        delivery_first: null,
        delivery_last: null,
        event_count: 1,
        attempt: 1,
        started_at: startedAt,
        duration_ms: result.durationMs,
        status_code: result.statusCode,
        outcome: result.acknowledged ? 'acknowledged' : 'failed',
        cause: result.cause,
        error: result.error,
        ...exchangeColumns(request, result),
      })
      .execute();
    return {
      batchId,
      eventName,
      acknowledged: result.acknowledged,
      statusCode: result.statusCode,
      durationMs: result.durationMs,
      error: result.error,
      responseBody: result.responseBody,
    };
  } finally {
    await sender.close();
  }
}
