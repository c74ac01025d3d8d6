// Bearer tokens: the admin token sees every account, an account token only its own (others answer 404).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ProducerContext } from '../context.ts';
import { notFound } from '../errors.ts';
import { hashToken } from '../secrets/account-token.ts';
import { forbidden, unauthorized } from './errors.ts';

export type Principal = { kind: 'admin' } | { kind: 'account'; accountId: number };

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Reads `Authorization: Bearer <token>` (or the public API's `oauth <token>`). */
export function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const match = header ? /^(?:bearer|oauth)\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/** Resolves tokens to principals by their hash; account tokens never change, so they are cached (by hash) once seen. */
export class Authenticator {
  readonly #accountTokens = new Map<string, number>();
  constructor(private readonly context: ProducerContext) {}

  /** Principals already worked out, per request (the onRequest hook and the handler both ask). */
  readonly #byRequest = new WeakMap<FastifyRequest, Principal>();

  async principalOf(request: FastifyRequest): Promise<Principal> {
    let principal = this.#byRequest.get(request);
    if (!principal) {
      principal = await this.#resolve(request);
      this.#byRequest.set(request, principal);
    }
    return principal;
  }

  async #resolve(request: FastifyRequest): Promise<Principal> {
    const token = tokenOf(request);
    if (!token) throw unauthorized('send an Authorization: Bearer <token> header');
    if (sameSecret(token, this.context.settings.adminToken)) return { kind: 'admin' };
    const tokenHash = hashToken(token);
    let accountId = this.#accountTokens.get(tokenHash);
    if (accountId === undefined) {
      const row = await this.context.database.db.selectFrom('accounts').select('id').where('token_hash', '=', tokenHash).executeTakeFirst();
      if (!row) throw unauthorized('the bearer token is not known');
      accountId = row.id;
      this.#accountTokens.set(tokenHash, accountId);
    }
    return { kind: 'account', accountId };
  }

  /** The principal, which must be the admin or the account itself; another account's resources are simply not found. */
  async requireAccount(request: FastifyRequest, accountId: number): Promise<Principal> {
    const principal = await this.principalOf(request);
    if (principal.kind === 'account' && principal.accountId !== accountId) throw notFound(`account ${accountId}`);
    return principal;
  }

  async requireAdmin(request: FastifyRequest): Promise<void> {
    const principal = await this.principalOf(request);
    if (principal.kind !== 'admin') throw forbidden('only the admin token may do this');
  }
}
