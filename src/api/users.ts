// Routes for an account's users: POST/GET /v1/accounts/{accountId}/users, GET/DELETE …/users/{userId}.
import { Type } from '@sinclair/typebox';
import type { User } from '../platform/domain.ts';
import { createUser, deleteUser, getUser, listUsers } from '../platform/users.ts';
import type { ApiDeps, LearnhookApp } from './app.ts';
import { AccountParams, AfterPage, digits, numberOf } from './path-params.ts';

const UserSchema = Type.Object({
  id: Type.Integer(),
  accountId: Type.Integer(),
  name: Type.String(),
  email: Type.String(),
  userUniqueId: Type.String(),
  userType: Type.String(),
  state: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const UserParams = Type.Object({ accountId: digits(), userId: digits() });

function userBody(user: User) {
  return { ...user, createdAt: new Date(user.createdAt).toISOString(), updatedAt: new Date(user.updatedAt).toISOString() };
}

export async function userRoutes(app: LearnhookApp, { context, auth }: ApiDeps): Promise<void> {
  app.post(
    '/v1/accounts/:accountId/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Create a learner; users produce no events.',
        params: AccountParams,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            email: Type.String({ format: 'email', maxLength: 320 }),
            userUniqueId: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: UserSchema },
      },
    },
    async (request, reply) => {
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      return reply.status(201).send(userBody(await createUser(context, accountId, request.body)));
    },
  );
  app.get(
    '/v1/accounts/:accountId/users',
    {
      schema: {
        tags: ['users'],
        summary: 'List users in id order; `after` continues from the previous page.',
        params: AccountParams,
        querystring: AfterPage,
      },
    },
    async (request) => {
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      const limit = Math.min(numberOf(request.query.limit) ?? 100, 1000);
      const users = await listUsers(context, { accountId, afterId: numberOf(request.query.after) ?? 0, limit });
      return { users: users.map(userBody), next: users.length === limit ? (users.at(-1)?.id ?? null) : null };
    },
  );
  app.get(
    '/v1/accounts/:accountId/users/:userId',
    { schema: { tags: ['users'], params: UserParams, response: { 200: UserSchema } } },
    async (request) => {
      const accountId = numberOf(request.params.accountId);
      const userId = numberOf(request.params.userId);
      await auth.requireAccount(request, accountId);
      return userBody(await getUser(context, accountId, userId));
    },
  );
  app.delete(
    '/v1/accounts/:accountId/users/:userId',
    { schema: { tags: ['users'], summary: 'Mark a user DELETED.', params: UserParams, response: { 200: UserSchema } } },
    async (request) => {
      const accountId = numberOf(request.params.accountId);
      const userId = numberOf(request.params.userId);
      await auth.requireAccount(request, accountId);
      return userBody(await deleteUser(context, accountId, userId));
    },
  );
}
