// Builds a delivery request: the SPEC §2.2 envelope and the headers (Standard Webhooks signature or basic auth, sequence range).

import type { Selectable } from 'kysely';
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
import type { EventsTable } from '../store/schema.ts';
import type { WebhookRow } from '../webhooks/webhooks.ts';
import type { DeliveryRequest } from './send-delivery.ts';
import { signPayload } from './sign-payload.ts';

export interface BatchToSend {
  batchId: string;
  events: readonly BatchEvent[];
  /** The delivery sequence range; absent for a test delivery, which is outside the sequence. */
  deliveryRange?: { first: number; last: number };
  replay?: boolean;
  test?: boolean;
}

/** What opens a webhook's sealed password or secrets. */
export type SecretOpener = Pick<SecretBox, 'open'>;

/**
 * An opener that opens each sealed value once and keeps it for as long as the opener lives: a delivery loop signs
 * batch after batch with the same secret, and opening it (AES-256-GCM) for every batch was ~3 % of a drain's CPU.
 * Each loop makes its own, so opened values live no longer than the loop.
 */
export function openingOnce(box: SecretOpener): SecretOpener {
  const opened = new Map<string, string>();
  return {
    open(sealed, owner) {
      const key = `${owner} ${sealed}`;
      let value = opened.get(key);
      if (value === undefined) {
        value = box.open(sealed, owner);
        opened.set(key, value);
      }
      return value;
    },
  };
}

/** The secrets to sign with now, opened: the current one, and the previous one while its overlap lasts. */
export function signingSecrets(
  webhook: Pick<WebhookRow, 'id' | 'secret' | 'previous_secret' | 'previous_secret_until'>,
  now: number,
  box: SecretOpener,
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

/**
 * An event as a batch carries it: its place in the log, its id (batch ids derive from the ids), and its JSON in the
 * body with its size. The JSON is made from the stored columns without parsing `data`, which the log keeps as JSON text.
 */
export interface BatchEvent {
  seq: number;
  eventId: string;
  json: string;
  /** UTF-8 bytes of `json`. */
  bytes: number;
}

/** The stored columns of a logged event a batch needs. */
export type StoredEvent = Pick<Selectable<EventsTable>, 'seq' | 'event_id' | 'event_name' | 'timestamp' | 'event_info' | 'data'>;

/**
 * A logged event as the body carries it: exactly the envelope's fields (the log's `seq` stays inside learnhook), the
 * bytes JSON.stringify would write for the parsed event. `data` is spliced in as stored: it was written by
 * JSON.stringify, and JSON.stringify(JSON.parse(text)) gives such text back unchanged (tested on both stores).
 */
export function batchEventOf(row: StoredEvent): BatchEvent {
  const json = `{"eventId":${JSON.stringify(row.event_id)},"eventName":${JSON.stringify(row.event_name)},"timestamp":"${new Date(row.timestamp).toISOString()}","eventInfo":${JSON.stringify(row.event_info)},"data":${row.data}}`;
  return { seq: row.seq, eventId: row.event_id, json, bytes: Buffer.byteLength(json) };
}

/** An event that is not in the log (a test delivery's sample) as the body carries it. */
export function unloggedBatchEvent(event: CatalogEvent): BatchEvent {
  const { eventId, eventName, timestamp, eventInfo, data } = event;
  const json = JSON.stringify({ eventId, eventName, timestamp, eventInfo, data });
  return { seq: 0, eventId, json, bytes: Buffer.byteLength(json) };
}

/** The bytes of an account's envelope around its events. */
export function envelopeBytes(accountId: number): number {
  return Buffer.byteLength(`{"accountId":${JSON.stringify(accountId)},"events":[]}`);
}

/**
 * The body of a batch: exactly the envelope, as JSON.stringify would write it, encoded once into a Buffer of its exact
 * size. It is signed and sent as it is (undici sends a Buffer without copying it), so no string of the whole body is
 * ever made: a drain of 100 webhooks otherwise held each ~54 KiB body as a string and again as undici's Buffer copy.
 */
export function envelopeBody(accountId: number, events: readonly BatchEvent[]): Buffer {
  const head = `{"accountId":${JSON.stringify(accountId)},"events":[`;
  let size = Buffer.byteLength(head) + 2 + Math.max(0, events.length - 1);
  for (const event of events) size += event.bytes;
  const body = Buffer.allocUnsafe(size);
  let at = body.write(head, 0, 'latin1');
  for (const [index, event] of events.entries()) {
    if (index > 0) body[at++] = 0x2c; // the comma between events
    at += body.write(event.json, at, event.bytes, 'utf8');
  }
  body.write(']}', at, 'latin1');
  return body;
}

/** The request for a batch; the webhook's sealed password or secrets are opened with `box` just for it. */
export function buildDelivery(webhook: WebhookRow, batch: BatchToSend, now: number, box: SecretOpener): DeliveryRequest {
  const body = envelopeBody(webhook.account_id, batch.events);
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
