// Seals and opens short secrets (webhook passwords, signing secrets) with AES-256-GCM: each value gets its own nonce,
// and is bound to the row it belongs to, so a sealed value copied to another webhook does not open there.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SecretKey } from './secret-key.ts';

const version = 'v1';
const nonceBytes = 12;
const tagBytes = 16;

export class SecretOpenError extends Error {
  override name = 'SecretOpenError';
}

export class SecretBox {
  readonly #key: Buffer;
  readonly fingerprint: string;
  readonly source: string;

  constructor(secretKey: SecretKey) {
    this.#key = secretKey.key;
    this.fingerprint = secretKey.fingerprint;
    this.source = secretKey.source;
  }

  /** `v1:` and base64url of nonce, tag and ciphertext; `owner` (e.g. `webhook:wh_…`) must be given again to open it. */
  seal(plaintext: string, owner: string): string {
    const nonce = randomBytes(nonceBytes);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(Buffer.from(owner));
    const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${version}:${Buffer.concat([nonce, cipher.getAuthTag(), sealed]).toString('base64url')}`;
  }

  open(sealed: string, owner: string): string {
    const [prefix, payload] = sealed.split(':');
    if (prefix !== version || payload === undefined)
      throw new SecretOpenError(`the stored secret of ${owner} is not in a format learnhook reads`);
    const bytes = Buffer.from(payload, 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, nonceBytes));
      decipher.setAAD(Buffer.from(owner));
      decipher.setAuthTag(bytes.subarray(nonceBytes, nonceBytes + tagBytes));
      return Buffer.concat([decipher.update(bytes.subarray(nonceBytes + tagBytes)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretOpenError(
        `the stored secret of ${owner} does not open with the secret key from ${this.source}: it was sealed with another key`,
      );
    }
  }
}
