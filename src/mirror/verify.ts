// Checks that a delivery comes from the platform: a Standard Webhooks signature, or basic auth.
import { timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { webhookIdHeader, webhookSignatureHeader, webhookTimestampHeader } from '../catalog/index.ts';

export interface VerifyOptions {
  /** `whsec_…` secrets; a signature made with any of them is accepted (rotation). */
  secrets: readonly string[];
  /** `USER:PASSWORD` accepted as basic auth instead of a signature. */
  basicAuth?: string;
  /** Largest age (and clock skew) of `webhook-timestamp`, in milliseconds. */
  toleranceMs: number;
  now: number;
}

export type Verification = { ok: true } | { ok: false; reason: string };

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function verifySignature(payload: string, headers: Headers, options: VerifyOptions): Verification {
  const id = header(headers, webhookIdHeader);
  const timestamp = header(headers, webhookTimestampHeader);
  const signatures = header(headers, webhookSignatureHeader);
  if (!id || !timestamp || !signatures)
    return { ok: false, reason: 'the webhook-id, webhook-timestamp and webhook-signature headers are required' };
  if (!/^\d+$/.test(timestamp)) return { ok: false, reason: 'webhook-timestamp is not a number of seconds' };
  const signedAt = Number(timestamp) * 1000;
  if (Math.abs(options.now - signedAt) > options.toleranceMs) {
    return {
      ok: false,
      reason: `webhook-timestamp is ${Math.round((options.now - signedAt) / 1000)} s away from now, beyond the tolerance`,
    };
  }
  const given = signatures.split(' ').filter((part) => part.startsWith('v1,'));
  for (const secret of options.secrets) {
    let expected: string;
    try {
      expected = new Webhook(secret).sign(id, new Date(signedAt), payload);
    } catch {
      continue;
    }
    if (given.some((signature) => sameText(signature, expected))) return { ok: true };
  }
  return { ok: false, reason: 'no signature matches a configured secret' };
}

function verifyBasicAuth(headers: Headers, expected: string): Verification {
  const authorization = header(headers, 'authorization') ?? '';
  if (!authorization.startsWith('Basic ')) return { ok: false, reason: 'basic auth is required' };
  const decoded = Buffer.from(authorization.slice('Basic '.length), 'base64').toString('utf8');
  return sameText(decoded, expected) ? { ok: true } : { ok: false, reason: 'wrong basic-auth user or password' };
}

/**
 * Verifies a delivery against the raw body as received. With secrets, a valid signature passes; with basic
 * auth, the right credentials pass; with both, either does; with neither configured, every delivery passes.
 */
export function verify(payload: string, headers: Headers, options: VerifyOptions): Verification {
  const secrets = options.secrets.filter(Boolean);
  if (secrets.length === 0 && !options.basicAuth) return { ok: true };
  const failures: string[] = [];
  if (options.basicAuth && header(headers, 'authorization')) {
    const result = verifyBasicAuth(headers, options.basicAuth);
    if (result.ok) return result;
    failures.push(result.reason);
  }
  if (secrets.length > 0) {
    const result = verifySignature(payload, headers, { ...options, secrets });
    if (result.ok) return result;
    failures.push(result.reason);
  } else if (failures.length === 0) {
    failures.push('basic auth is required');
  }
  return { ok: false, reason: failures.join('; ') };
}
