// What `learnhook listen` prints for one delivery: batch id, account, sequence range, each event's name and key
// fields, and whether the signature holds. Pure, so the wording is tested without a server.
import { replayHeader, sequenceHeader, testHeader, webhookIdHeader } from '../catalog/delivery-headers.ts';
import type { Verification } from '../mirror/verify.ts';

type Headers = Record<string, string | string[] | undefined>;

export interface DeliveryView {
  headers: Headers;
  body: string;
  /** The signature check; undefined when listen has no --secret. */
  verification?: Verification;
  /** Time of arrival, epoch milliseconds. */
  at: number;
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The identifying fields of an event's data, as `key=value` (dates left out: the timestamp says when). */
function keyFields(data: unknown): string {
  if (data === null || typeof data !== 'object') return '';
  return Object.entries(data as Record<string, unknown>)
    .filter(([key]) => !key.startsWith('date'))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
}

interface EnvelopeShape {
  accountId?: unknown;
  events?: { eventName?: unknown; eventId?: unknown; timestamp?: unknown; data?: unknown }[];
}

/** The headline of a delivery, then one line per event. */
export function describeDelivery(view: DeliveryView): string[] {
  const batchId = header(view.headers, webhookIdHeader) ?? '(no webhook-id header)';
  const sequence = header(view.headers, sequenceHeader);
  const flags = [
    header(view.headers, testHeader) === 'true' ? 'test delivery' : undefined,
    header(view.headers, replayHeader) === 'true' ? 'replay' : undefined,
  ].filter(Boolean);
  let envelope: EnvelopeShape | undefined;
  try {
    envelope = JSON.parse(view.body) as EnvelopeShape;
  } catch {
    envelope = undefined;
  }
  const events = Array.isArray(envelope?.events) ? envelope.events : [];
  const signature =
    view.verification === undefined
      ? 'signature not checked (no --secret)'
      : view.verification.ok
        ? 'signature ok'
        : `SIGNATURE DOES NOT HOLD: ${view.verification.reason}`;
  const headline = [
    new Date(view.at).toISOString().slice(11, 23),
    `batch ${batchId}`,
    envelope && envelope.accountId !== undefined ? `account ${String(envelope.accountId)}` : undefined,
    sequence ? `sequence ${sequence}` : 'no sequence',
    envelope ? `${events.length} event${events.length === 1 ? '' : 's'}` : 'body is not JSON',
    ...flags,
    signature,
  ]
    .filter(Boolean)
    .join(' · ');
  const width = Math.max(0, ...events.map((event) => String(event.eventName ?? '').length));
  const lines = events.map((event) => `  ${String(event.eventName ?? '?').padEnd(width)}  ${keyFields(event.data)}`.trimEnd());
  return [headline, ...lines];
}
