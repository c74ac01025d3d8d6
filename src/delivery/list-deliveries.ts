// The attempts log of a webhook, newest first, paged by attempt id.
import type { ProducerContext } from '../context.ts';
import { getWebhookRow } from '../webhooks/webhooks.ts';

export interface DeliveryAttempt {
  id: number;
  batchId: string;
  kind: 'delivery' | 'replay' | 'test';
  replay: boolean;
  /** Account sequence range the batch covers. */
  seqRange: { first: number; last: number } | null;
  /** The `learnhook-sequence` range sent. */
  deliveryRange: { first: number; last: number } | null;
  eventCount: number;
  attempt: number;
  startedAt: string;
  durationMs: number;
  statusCode: number | null;
  outcome: 'acknowledged' | 'failed';
  cause: string | null;
  error: string | null;
  /** The start of the receiver's answer (at most 4 KiB), e.g. why it refused; null when it was empty. */
  responseBody: string | null;
  /** What was sent: headers (basic-auth credentials masked) and body (cut at 64 KiB: `truncated`). Null in older rows. */
  request: { headers: Record<string, string>; body: string; bytes: number; truncated: boolean } | null;
  /** The answer: its status and the first 4 KiB of its body; null when none came (refused, timed out…). */
  response: { status: number; body: string } | null;
}

export async function listDeliveries(
  context: ProducerContext,
  accountId: number,
  webhookId: string,
  page: { limit: number; before?: number | undefined },
): Promise<{ deliveries: DeliveryAttempt[]; next: number | null }> {
  await getWebhookRow(context, accountId, webhookId);
  let query = context.database.db
    .selectFrom('delivery_attempts')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  if (page.before !== undefined) query = query.where('id', '<', page.before);
  const rows = await query.execute();
  const shown = rows.slice(0, page.limit);
  return {
    deliveries: shown.map((row) => ({
      id: row.id,
      batchId: row.batch_id,
      kind: row.kind,
      replay: row.kind === 'replay',
      seqRange: row.first_seq !== null && row.last_seq !== null ? { first: row.first_seq, last: row.last_seq } : null,
      deliveryRange:
        row.delivery_first !== null && row.delivery_last !== null ? { first: row.delivery_first, last: row.delivery_last } : null,
      eventCount: row.event_count,
      attempt: row.attempt,
      startedAt: new Date(row.started_at).toISOString(),
      durationMs: row.duration_ms,
      statusCode: row.status_code,
      outcome: row.outcome,
      cause: row.cause,
      error: row.error,
      responseBody: row.response_body,
      request:
        row.request_headers && row.request_body !== null && row.request_body !== undefined
          ? {
              headers: JSON.parse(row.request_headers) as Record<string, string>,
              body: row.request_body,
              bytes: row.request_bytes ?? row.request_body.length,
              truncated: (row.request_bytes ?? 0) > Buffer.byteLength(row.request_body),
            }
          : null,
      response: row.status_code !== null ? { status: row.status_code, body: row.response_body ?? '' } : null,
    })),
    next: rows.length > page.limit ? (shown[shown.length - 1]?.id ?? null) : null,
  };
}
