// Bearer tokens: made random, shown once, and kept only as their SHA-256 hash (a stolen database reveals no token).
import { createHash, randomBytes } from 'node:crypto';

export function newToken(prefix: 'lh_admin' | 'lh_acct'): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}

/** The hash a token is stored and looked up by; tokens are random, so a fast hash without salt is enough. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
