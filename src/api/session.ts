// Who a token is (GET /v1/me), and one-time sign-in links: a short code exchanged once for the token that made it.
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { ApiDeps, LearnhookApp } from './app.ts';
import { tokenOf } from './auth.ts';
import { ApiError } from './errors.ts';

/** How long a sign-in code may wait to be used: long enough to click it, short enough not to matter if it leaks. */
export const signInCodeTtlMs = 15 * 60 * 1000;

/** Codes live in the memory of the process that made them (the demo and a single `serve`): one use each. */
class SignInCodes {
  readonly #codes = new Map<string, { token: string; expiresAt: number }>();

  create(token: string, now: number): { code: string; expiresAt: number } {
    for (const [code, entry] of this.#codes) if (entry.expiresAt <= now) this.#codes.delete(code);
    const code = randomBytes(18).toString('base64url');
    const expiresAt = now + signInCodeTtlMs;
    this.#codes.set(code, { token, expiresAt });
    return { code, expiresAt };
  }

  take(code: string, now: number): string | undefined {
    const entry = this.#codes.get(code);
    this.#codes.delete(code);
    return entry && entry.expiresAt > now ? entry.token : undefined;
  }
}

export async function sessionRoutes(app: LearnhookApp, { context, auth }: ApiDeps): Promise<void> {
  const tags = ['session'];
  const codes = new SignInCodes();

  app.get(
    '/v1/me',
    {
      schema: {
        tags,
        summary: 'Who the bearer token is: the admin (every account) or one account.',
        response: {
          200: Type.Object({
            kind: Type.Union([Type.Literal('admin'), Type.Literal('account')]),
            accountId: Type.Optional(Type.Integer()),
          }),
        },
      },
    },
    async (request) => auth.principalOf(request),
  );

  app.post(
    '/v1/sign-in-links',
    {
      schema: {
        tags,
        summary: 'A one-time code (valid 15 minutes) that the dashboard exchanges for the token that asked for it; open /#code=CODE.',
        response: { 201: Type.Object({ code: Type.String(), path: Type.String(), expiresAt: Type.String() }) },
      },
    },
    async (request, reply) => {
      await auth.principalOf(request);
      const { code, expiresAt } = codes.create(tokenOf(request) ?? '', context.now());
      return reply.status(201).send({ code, path: `/#code=${code}`, expiresAt: new Date(expiresAt).toISOString() });
    },
  );

  app.post(
    '/v1/sign-in',
    {
      schema: {
        tags,
        security: [],
        summary: 'Exchange a one-time code from POST /v1/sign-in-links for its token (the code is used up).',
        body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ token: Type.String() }) },
      },
    },
    async (request) => {
      const token = codes.take(request.body.code, context.now());
      if (!token) throw new ApiError(401, 'code_not_valid', 'this sign-in link was used already or has expired; ask for a new one');
      return { token };
    },
  );
}
