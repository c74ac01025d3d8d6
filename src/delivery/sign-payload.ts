// Standard Webhooks signatures: HMAC-SHA256 over `${id}.${timestamp}.${body}` with `whsec_` base64 secrets.
import { createHmac, randomBytes } from 'node:crypto';

const secretPrefix = 'whsec_';

export function newSigningSecret(): string {
  return `${secretPrefix}${randomBytes(24).toString('base64')}`;
}

function keyOf(secret: string): Buffer {
  return Buffer.from(secret.startsWith(secretPrefix) ? secret.slice(secretPrefix.length) : secret, 'base64');
}

/** The `webhook-signature` value: one `v1,<base64>` per secret, space-separated (two while a rotated secret overlaps). */
export function signPayload(secrets: readonly string[], webhookId: string, timestampSeconds: number, body: string | Buffer): string {
  // The signed content is `${id}.${timestamp}.${body}`, fed in two parts rather than joined into a copy of the body.
  return secrets
    .map((secret) => `v1,${createHmac('sha256', keyOf(secret)).update(`${webhookId}.${timestampSeconds}.`).update(body).digest('base64')}`)
    .join(' ');
}
