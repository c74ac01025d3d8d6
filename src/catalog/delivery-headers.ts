// Header names of a delivery request: the contract between the dispatcher and any receiver, the mirror included.

/** Standard Webhooks: the batch id, the same on every retry of that batch. */
export const webhookIdHeader = 'webhook-id';
/** Standard Webhooks: seconds since the epoch when this attempt was signed. */
export const webhookTimestampHeader = 'webhook-timestamp';
/** Standard Webhooks: space-separated `v1,<base64 HMAC-SHA256>` signatures (two while a rotated secret overlaps). */
export const webhookSignatureHeader = 'webhook-signature';
/**
 * The webhook's gap-free delivery sequence range of the batch, `first-last` (e.g. `41-45`): the n-th event
 * ever delivered to this webhook carries n. A receiver that sees first ≠ previous last + 1 has missed events.
 * Absent on test deliveries.
 */
export const sequenceHeader = 'learnhook-sequence';
/** `true` on batches re-delivered by a replay; their events were delivered before. */
export const replayHeader = 'learnhook-replay';
/** `true` on the test delivery of a sample event, which is outside the account's sequence. */
export const testHeader = 'learnhook-test';

/**
 * What the webhook is subscribed to: `all`, or its event names separated by commas. A receiver that builds tables
 * from the events (the mirror) tells from it which events it will never get, and warns.
 */
export const subscribedEventsHeader = 'learnhook-events';

/** Parses a `learnhook-sequence` value; undefined when absent, malformed or beyond whole numbers held exactly (2^53 - 1). */
export function parseSequenceRange(value: string | undefined): { first: number; last: number } | undefined {
  const match = value ? /^(\d{1,16})-(\d{1,16})$/.exec(value.trim()) : null;
  if (!match) return undefined;
  const first = Number(match[1]);
  const last = Number(match[2]);
  return first >= 1 && last >= first && Number.isSafeInteger(last) ? { first, last } : undefined;
}

export function formatSequenceRange(first: number, last: number): string {
  return `${first}-${last}`;
}
