// The attempts log of a webhook, newest first, paged by attempt id, with each request's body (made again from the log when it carried logged events).
import type { ProducerContext } from '../context.ts';
import { getWebhookRow } from '../webhooks/webhooks.ts';
import { bodyStart } from './attempt-log.ts';
import { type BatchEvent, envelopeBody } from './build-delivery.ts';
import { readLoggedEvents } from './read-ahead.ts';

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
  /**
   * What was sent: headers (basic-auth credentials masked) and body (cut at 64 KiB: `truncated`); the body is null once
   * retention has purged the events it carried. Null in rows logged before requests were kept.
   */
  request: { headers: Record<string, string>; body: string | null; bytes: number; truncated: boolean } | null;
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
  const logged = await loggedEventsOf(context, accountId, shown);
  return {
    deliveries: shown.map((row) => {
      const body = requestBody(accountId, row, logged);
      return {
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
          row.request_headers && body !== undefined
            ? {
                headers: JSON.parse(row.request_headers) as Record<string, string>,
                body,
                bytes: row.request_bytes ?? body?.length ?? 0,
                truncated: body !== null && (row.request_bytes ?? 0) > Buffer.byteLength(body),
              }
            : null,
        response: row.status_code !== null ? { status: row.status_code, body: row.response_body ?? '' } : null,
      };
    }),
    next: rows.length > page.limit ? (shown[shown.length - 1]?.id ?? null) : null,
  };
}

interface AttemptRequestColumns {
  request_body?: string | null;
  request_seqs?: string | null;
}

/** The logged events the page's bodies carried, read in one pass. */
async function loggedEventsOf(
  context: ProducerContext,
  accountId: number,
  rows: readonly AttemptRequestColumns[],
): Promise<Map<number, BatchEvent>> {
  const seqs = new Set<number>();
  for (const row of rows) if (row.request_seqs) for (const seq of JSON.parse(row.request_seqs) as number[]) seqs.add(seq);
  const events = await readLoggedEvents(context, accountId, [...seqs]);
  return new Map(events.map((event) => [event.seq, event]));
}

/**
 * The body an attempt sent, as the log shows it (cut at 64 KiB): stored, or made again from the events it carried;
 * null when those have been purged; undefined when the row keeps no request.
 */
function requestBody(accountId: number, row: AttemptRequestColumns, logged: ReadonlyMap<number, BatchEvent>): string | null | undefined {
  if (row.request_body !== null && row.request_body !== undefined) return row.request_body;
  if (!row.request_seqs) return undefined;
  const events: BatchEvent[] = [];
  for (const seq of JSON.parse(row.request_seqs) as number[]) {
    const event = logged.get(seq);
    if (!event) return null;
    events.push(event);
  }
  return bodyStart(envelopeBody(accountId, events));
}
