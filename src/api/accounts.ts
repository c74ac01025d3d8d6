// Routes for accounts: POST/GET /v1/accounts (admin), GET/PATCH /v1/accounts/{accountId}.
import { Type } from '@sinclair/typebox';
import { createAccount, getAccount, listAccounts, updateAccount } from '../platform/accounts.ts';
import type { ApiDeps, LearnhookApp } from './app.ts';
import { AccountParams, IdNumber, maxId, numberOf } from './path-params.ts';

export const AccountStatusSchema = Type.Union([Type.Literal('ACTIVE'), Type.Literal('TRIAL'), Type.Literal('INACTIVE')]);

const AccountSchema = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  status: AccountStatusSchema,
  contactEmail: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export async function accountRoutes(app: LearnhookApp, { context, auth }: ApiDeps): Promise<void> {
  app.post(
    '/v1/accounts',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Create an account (admin); its token is returned once.',
        body: Type.Object(
          {
            id: Type.Optional(IdNumber({ description: `An id of your choice, 1 to ${maxId}; the next free one when absent.` })),
            name: Type.String({ minLength: 1, maxLength: 200 }),
            status: Type.Optional(AccountStatusSchema),
            contactEmail: Type.Optional(Type.Union([Type.String({ format: 'email' }), Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Intersect([AccountSchema, Type.Object({ token: Type.String() })]) },
      },
    },
    async (request, reply) => {
      await auth.requireAdmin(request);
      const account = await createAccount(context, request.body);
      return reply.status(201).send(account);
    },
  );
  app.get('/v1/accounts', { schema: { tags: ['accounts'], summary: 'List accounts (admin).' } }, async (request) => {
    await auth.requireAdmin(request);
    return { accounts: await listAccounts(context) };
  });
  app.get(
    '/v1/accounts/:accountId',
    { schema: { tags: ['accounts'], params: AccountParams, response: { 200: AccountSchema } } },
    async (request) => {
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      return getAccount(context, accountId);
    },
  );
  app.patch(
    '/v1/accounts/:accountId',
    {
      schema: {
        tags: ['accounts'],
        summary: 'Change an account; only ACTIVE accounts produce and receive events.',
        params: AccountParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            status: Type.Optional(AccountStatusSchema),
            contactEmail: Type.Optional(Type.Union([Type.String({ format: 'email' }), Type.Null()])),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: AccountSchema },
      },
    },
    async (request) => {
      const accountId = numberOf(request.params.accountId);
      await auth.requireAdmin(request);
      return updateAccount(context, accountId, request.body);
    },
  );
}
