// The key that seals webhook passwords and signing secrets: from --secret-key, or a key file under the data folder
// that the first start generates (readable by its owner only), so the embedded default needs no setup.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config.ts';

export interface SecretKey {
  key: Buffer;
  /** Where it came from, for messages: the setting or the key file's path. */
  source: string;
  /** A short, one-way name of the key, so a database can tell a wrong key from the right one without holding it. */
  fingerprint: string;
}

export const keyFileName = 'secret.key';

/** Reads a key written as 64 hex digits or as base64/base64url of 32 bytes; anything else is refused in plain words. */
export function parseSecretKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) {
    const key = Buffer.from(trimmed, 'base64');
    if (key.length === 32) return key;
  }
  throw new ConfigError(
    `${source}: the secret key must be 32 random bytes written as 64 hex digits (make one with: openssl rand -hex 32); the value given is not`,
  );
}

function fingerprintOf(key: Buffer): string {
  return createHash('sha256').update('learnhook secret key fingerprint\n').update(key).digest('hex').slice(0, 16);
}

/** Reads the key file, creating it first when missing (atomically, so processes starting together share one key). */
function keyFromFile(file: string): Buffer {
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    fs.writeFileSync(draft, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    try {
      fs.linkSync(draft, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      fs.rmSync(draft, { force: true });
    }
  }
  if (process.platform !== 'win32' && (fs.statSync(file).mode & 0o077) !== 0)
    throw new ConfigError(`${file}: the secret key file can be read by other users; make it private with: chmod 600 ${file}`);
  return parseSecretKey(fs.readFileSync(file, 'utf8'), file);
}

/** The key of the settings: `--secret-key` / LEARNHOOK_SECRET_KEY when given, else `<data-dir>/secret.key`. */
export function loadSecretKey(settings: { secretKey: string; dataDir: string }): SecretKey {
  if (settings.secretKey) {
    const source = '--secret-key (LEARNHOOK_SECRET_KEY)';
    const key = parseSecretKey(settings.secretKey, source);
    return { key, source, fingerprint: fingerprintOf(key) };
  }
  const file = path.resolve(settings.dataDir, keyFileName);
  const key = keyFromFile(file);
  return { key, source: file, fingerprint: fingerprintOf(key) };
}
