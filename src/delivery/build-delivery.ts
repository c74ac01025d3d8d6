// Builds a delivery request: the SPEC §2.2 envelope and the headers (Standard Webhooks signature or basic auth, sequence range).
import type { CatalogEvent } from '../catalog/index.ts';
import {
  formatSequenceRange,
  replayHeader,
  sequenceHeader,
  testHeader,
  webhookIdHeader,
  webhookSignatureHeader,
  webhookTimestampHeader,
} from '../catalog/index.ts';
import type { WebhookRow } from '../webhooks/webhooks.ts';
import type { DeliveryRequest } from './send-delivery.ts';
import { signPayload } from './sign-payload.ts';

export interface BatchToSend {
  batchId: string;
  events: readonly CatalogEvent[];
  /** The delivery sequence range; absent for a test delivery, which is outside the sequence. */
  deliveryRange?: { first: number; last: number };
  replay?: boolean;
  test?: boolean;
}

/** The secrets to sign with now: the current one, and the previous one while its overlap lasts. */
export function signingSecrets(webhook: Pick<WebhookRow, 'secret' | 'previous_secret' | 'previous_secret_until'>, now: number): string[] {
  const secrets = webhook.secret ? [webhook.secret] : [];
  if (webhook.previous_secret && webhook.previous_secret_until !== null && webhook.previous_secret_until > now)
    secrets.push(webhook.previous_secret);
  return secrets;
}

export function buildDelivery(webhook: WebhookRow, batch: BatchToSend, now: number): DeliveryRequest {
  // The body is exactly the envelope: the log's `seq` stays inside learnhook.
  const body = JSON.stringify({
    accountId: webhook.account_id,
    events: batch.events.map(({ eventId, eventName, timestamp, eventInfo, data }) => ({ eventId, eventName, timestamp, eventInfo, data })),
  });
  const timestamp = Math.floor(now / 1000);
  const headers: Record<string, string> = { [webhookIdHeader]: batch.batchId, [webhookTimestampHeader]: String(timestamp) };
  if (webhook.auth_type === 'signature')
    headers[webhookSignatureHeader] = signPayload(signingSecrets(webhook, now), batch.batchId, timestamp, body);
  if (webhook.auth_type === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${webhook.basic_username ?? ''}:${webhook.basic_password ?? ''}`).toString('base64')}`;
  }
  if (batch.deliveryRange) headers[sequenceHeader] = formatSequenceRange(batch.deliveryRange.first, batch.deliveryRange.last);
  if (batch.replay) headers[replayHeader] = 'true';
  if (batch.test) headers[testHeader] = 'true';
  return { url: webhook.url, body, headers };
}
