// Builds a delivery request: the SPEC §2.2 envelope and the headers (Standard Webhooks signature or basic auth, sequence range).
import type { CatalogEvent } from '../catalog/index.ts';
import {
  eventNames,
  formatSequenceRange,
  replayHeader,
  sequenceHeader,
  subscribedEventsHeader,
  testHeader,
  webhookIdHeader,
  webhookSignatureHeader,
  webhookTimestampHeader,
} from '../catalog/index.ts';
import { webhookOwner } from '../secrets/prepare-secrets.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
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

/** The secrets to sign with now, opened: the current one, and the previous one while its overlap lasts. */
export function signingSecrets(
  webhook: Pick<WebhookRow, 'id' | 'secret' | 'previous_secret' | 'previous_secret_until'>,
  now: number,
  box: SecretBox,
): string[] {
  const owner = webhookOwner(webhook.id);
  const secrets = webhook.secret ? [box.open(webhook.secret, owner)] : [];
  if (webhook.previous_secret && webhook.previous_secret_until !== null && webhook.previous_secret_until > now)
    secrets.push(box.open(webhook.previous_secret, owner));
  return secrets;
}

const subscriptionValues = new Map<string, string>();

/** The `learnhook-events` value of a webhook's `events` column (JSON), computed once per distinct column value. */
function subscriptionValue(eventsJson: string): string {
  let value = subscriptionValues.get(eventsJson);
  if (value === undefined) {
    const chosen = new Set(JSON.parse(eventsJson) as string[]);
    value = eventNames.every((name) => chosen.has(name)) ? 'all' : [...chosen].join(',');
    if (subscriptionValues.size > 1000) subscriptionValues.clear();
    subscriptionValues.set(eventsJson, value);
  }
  return value;
}

/** Each event as the body carries it, serialized once: planning measures it, the request body joins it. */
const serialized = new WeakMap<CatalogEvent, { json: string; bytes: number }>();

function serializedEvent(event: CatalogEvent): { json: string; bytes: number } {
  let known = serialized.get(event);
  if (!known) {
    // Exactly the envelope's fields: the log's `seq` stays inside learnhook.
    const { eventId, eventName, timestamp, eventInfo, data } = event;
    const json = JSON.stringify({ eventId, eventName, timestamp, eventInfo, data });
    known = { json, bytes: Buffer.byteLength(json) };
    serialized.set(event, known);
  }
  return known;
}

/** The bytes an event takes in a delivery body (without the comma between events). */
export function eventBytes(event: CatalogEvent): number {
  return serializedEvent(event).bytes;
}

/** The bytes of an account's envelope around its events. */
export function envelopeBytes(accountId: number): number {
  return Buffer.byteLength(`{"accountId":${JSON.stringify(accountId)},"events":[]}`);
}

/** The request for a batch; the webhook's sealed password or secrets are opened with `box` just for it. */
export function buildDelivery(webhook: WebhookRow, batch: BatchToSend, now: number, box: SecretBox): DeliveryRequest {
  // The body is exactly the envelope, as JSON.stringify would write it, built from the events serialized once.
  const body = `{"accountId":${JSON.stringify(webhook.account_id)},"events":[${batch.events.map((event) => serializedEvent(event).json).join(',')}]}`;
  const timestamp = Math.floor(now / 1000);
  const headers: Record<string, string> = { [webhookIdHeader]: batch.batchId, [webhookTimestampHeader]: String(timestamp) };
  if (webhook.auth_type === 'signature')
    headers[webhookSignatureHeader] = signPayload(signingSecrets(webhook, now, box), batch.batchId, timestamp, body);
  if (webhook.auth_type === 'basic') {
    const password = webhook.basic_password === null ? '' : box.open(webhook.basic_password, webhookOwner(webhook.id));
    headers.authorization = `Basic ${Buffer.from(`${webhook.basic_username ?? ''}:${password}`).toString('base64')}`;
  }
  headers[subscribedEventsHeader] = subscriptionValue(webhook.events);
  if (batch.deliveryRange) headers[sequenceHeader] = formatSequenceRange(batch.deliveryRange.first, batch.deliveryRange.last);
  if (batch.replay) headers[replayHeader] = 'true';
  if (batch.test) headers[testHeader] = 'true';
  return { url: webhook.url, body, headers };
}
