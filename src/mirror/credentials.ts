// The mirror's credentials, each bound to the account it may write (`--secret 1001=whsec_…`), and the check of a delivery against them.
import { ConfigError } from '../config.ts';
import { verify } from './verify.ts';

/** A signing secret or a basic-auth `USER:PASSWORD`, and the account it is bound to (undefined: any account). */
export interface Credential {
  value: string;
  accountId?: number;
}

export interface MirrorCredentials {
  secrets: Credential[];
  basicAuth: Credential[];
}

/** Which accounts a verified delivery may write: those its credentials are bound to, or any. */
export type Authentication = { ok: true; accounts: 'any' | ReadonlySet<number> } | { ok: false; reason: string };

const binding = /^(\d+)=(.*)$/s;

function bind(entry: string, flag: string): Credential {
  const match = binding.exec(entry);
  if (!match) return { value: entry };
  const accountId = Number(match[1]);
  const value = match[2] as string;
  if (!Number.isSafeInteger(accountId) || accountId < 1) throw new ConfigError(`${flag}: "${match[1]}" is not an account id`);
  if (value === '') throw new ConfigError(`${flag}: account ${accountId} is given no credential after "="`);
  return { value, accountId };
}

/**
 * `--secret`: secrets separated by commas or spaces, each `ACCOUNT=whsec_…` (bound to that account) or `whsec_…`
 * (any account). `--basic-auth`: `USER:PASSWORD` (any account), or `ACCOUNT=USER:PASSWORD` entries separated by commas.
 */
export function parseCredentials(secretSetting: string, basicAuthSetting: string): MirrorCredentials {
  const secrets = secretSetting
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((entry) => bind(entry, '--secret'));
  for (const secret of secrets) {
    if (!/^(whsec_)?[A-Za-z0-9+/]+={0,2}$/.test(secret.value))
      throw new ConfigError(`--secret: "${secret.value.slice(0, 12)}…" is not a signing secret; give whsec_… or ACCOUNT=whsec_…`);
  }
  // A password may hold commas and spaces: only a comma before the next `ACCOUNT=` separates entries.
  const trimmed = basicAuthSetting.trim();
  const basicAuth =
    trimmed === ''
      ? []
      : binding.test(trimmed)
        ? trimmed.split(/,(?=\s*\d+=)/).map((entry) => bind(entry.trim(), '--basic-auth'))
        : [{ value: basicAuthSetting }];
  for (const credential of basicAuth) {
    if (!credential.value.includes(':')) throw new ConfigError('--basic-auth: give USER:PASSWORD (or ACCOUNT=USER:PASSWORD, …)');
  }
  return { secrets, basicAuth };
}

export function hasCredentials(credentials: MirrorCredentials): boolean {
  return credentials.secrets.length > 0 || credentials.basicAuth.length > 0;
}

/** True when some credential is bound to no account, so it can write any account's rows. */
export function hasUnboundCredential(credentials: MirrorCredentials): boolean {
  return [...credentials.secrets, ...credentials.basicAuth].some((credential) => credential.accountId === undefined);
}

function accountsOf(matching: readonly Credential[]): 'any' | ReadonlySet<number> {
  if (matching.some((credential) => credential.accountId === undefined)) return 'any';
  return new Set(matching.map((credential) => credential.accountId as number));
}

/**
 * Verifies a delivery (signature or basic auth, as `verify` does) and says which accounts it may write: every credential
 * it matches counts, so a secret bound to two accounts (or one being rotated) works for both.
 */
export function authenticate(
  payload: string,
  headers: Record<string, string | string[] | undefined>,
  credentials: MirrorCredentials,
  options: { toleranceMs: number; now: number },
): Authentication {
  if (!hasCredentials(credentials)) return { ok: true, accounts: 'any' };
  const values = (list: readonly Credential[]) => [...new Set(list.map((credential) => credential.value))];
  const failures: string[] = [];
  const matching: Credential[] = [];
  const authorization = headers.authorization;
  if (credentials.basicAuth.length > 0 && authorization) {
    for (const value of values(credentials.basicAuth)) {
      const result = verify(payload, headers, { secrets: [], basicAuth: value, ...options });
      if (result.ok) matching.push(...credentials.basicAuth.filter((credential) => credential.value === value));
      else if (!failures.includes(result.reason)) failures.push(result.reason);
    }
  }
  if (credentials.secrets.length > 0) {
    let reason: string | undefined;
    for (const value of values(credentials.secrets)) {
      const result = verify(payload, headers, { secrets: [value], ...options });
      if (result.ok) matching.push(...credentials.secrets.filter((credential) => credential.value === value));
      else reason = result.reason;
    }
    if (matching.length === 0 && reason) failures.push(reason);
  } else if (credentials.basicAuth.length > 0 && !authorization) {
    failures.push('basic auth is required');
  }
  if (matching.length > 0) return { ok: true, accounts: accountsOf(matching) };
  return { ok: false, reason: failures.join('; ') || 'no credential matches' };
}
