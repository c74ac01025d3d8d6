// Routes for webhooks under /v1/accounts/{accountId}/webhooks: CRUD, rotate-secret, test, replay, deliveries, stats.
import { Type } from '@sinclair/typebox';
import { listDeliveries } from '../delivery/list-deliveries.ts';
import { sendTestDelivery } from '../delivery/send-test-delivery.ts';
import { webhookStats } from '../delivery/webhook-stats.ts';
import { invalidInput } from '../errors.ts';
import { replayWebhook } from '../webhooks/replay-webhook.ts';
import { retryWebhookNow } from '../webhooks/retry-webhook.ts';
import { createWebhook, deleteWebhook, getWebhook, listWebhooks, rotateSecret, updateWebhook } from '../webhooks/webhooks.ts';
import type { ApiDeps, LearnhookApp } from './app.ts';
import { AccountParams, digits, numberOf } from './path-params.ts';

const WebhookParams = Type.Object({ accountId: digits(), webhookId: Type.String({ minLength: 1, maxLength: 100 }) });
const ids = (params: { accountId: string; webhookId: string }) => ({ accountId: numberOf(params.accountId), webhookId: params.webhookId });

const AuthInput = Type.Union([
  Type.Object({ type: Type.Literal('none') }, { additionalProperties: false }),
  Type.Object(
    {
      type: Type.Literal('basic'),
      username: Type.String({ minLength: 1, maxLength: 200 }),
      password: Type.String({ minLength: 1, maxLength: 200 }),
    },
    { additionalProperties: false },
  ),
  Type.Object({ type: Type.Literal('signature') }, { additionalProperties: false }),
]);

const fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.String({ maxLength: 2000 }),
  url: Type.String({ minLength: 1, maxLength: 2000, description: 'http(s) URL of the receiver' }),
  events: Type.Array(Type.String(), {
    minItems: 1,
    maxItems: 27,
    description: 'Catalog event names to deliver (`GET /docs` or `learnhook catalog list`); ["all"] or omitted at creation: every event',
  }),
  auth: AuthInput,
  active: Type.Boolean(),
};

const WebhookSchema = Type.Object({
  id: Type.String(),
  accountId: Type.Integer(),
  name: Type.String(),
  description: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  auth: Type.Object({ type: Type.String(), username: Type.Optional(Type.String()) }),
  active: Type.Boolean(),
  state: Type.String(),
  disabledReason: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  secret: Type.Optional(Type.String({ description: 'The signing secret (whsec_…), shown only here' })),
});

export async function webhookRoutes(app: LearnhookApp, { context, auth }: ApiDeps): Promise<void> {
  const base = '/v1/accounts/:accountId/webhooks';
  const tags = ['webhooks'];

  app.post(
    base,
    {
      schema: {
        tags,
        summary: 'Register a webhook (ACTIVE accounts only); a signature secret is returned once.',
        params: AccountParams,
        body: Type.Object(
          {
            name: fields.name,
            description: Type.Optional(fields.description),
            url: fields.url,
            events: Type.Optional(fields.events),
            auth: Type.Optional(fields.auth),
            active: Type.Optional(fields.active),
          },
          { additionalProperties: false },
        ),
        response: { 201: WebhookSchema },
      },
    },
    async (request, reply) => {
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      return reply.status(201).send(await createWebhook(context, accountId, request.body));
    },
  );

  app.get(base, { schema: { tags, summary: "List an account's webhooks.", params: AccountParams } }, async (request) => {
    const accountId = numberOf(request.params.accountId);
    await auth.requireAccount(request, accountId);
    return { webhooks: await listWebhooks(context, accountId) };
  });

  app.get(`${base}/:webhookId`, { schema: { tags, params: WebhookParams, response: { 200: WebhookSchema } } }, async (request) => {
    const { accountId, webhookId } = ids(request.params);
    await auth.requireAccount(request, accountId);
    return getWebhook(context, accountId, webhookId);
  });

  app.patch(
    `${base}/:webhookId`,
    {
      schema: {
        tags,
        summary: 'Change a webhook; {"active": true} re-enables it from its cursor.',
        params: WebhookParams,
        body: Type.Partial(Type.Object(fields), { additionalProperties: false, minProperties: 1 }),
        response: { 200: WebhookSchema },
      },
    },
    async (request) => {
      const { accountId, webhookId } = ids(request.params);
      await auth.requireAccount(request, accountId);
      return updateWebhook(context, accountId, webhookId, request.body);
    },
  );

  app.delete(`${base}/:webhookId`, { schema: { tags, params: WebhookParams } }, async (request, reply) => {
    const { accountId, webhookId } = ids(request.params);
    await auth.requireAccount(request, accountId);
    await deleteWebhook(context, accountId, webhookId);
    return reply.status(204).send();
  });

  app.post(
    `${base}/:webhookId/rotate-secret`,
    {
      schema: { tags, summary: 'New signing secret, returned once; the old one keeps signing during the overlap.', params: WebhookParams },
    },
    async (request) => {
      const { accountId, webhookId } = ids(request.params);
      await auth.requireAccount(request, accountId);
      return rotateSecret(context, accountId, webhookId);
    },
  );

  app.post(
    `${base}/:webhookId/test`,
    { schema: { tags, summary: 'Send one sample event now, outside the sequence, and report the answer.', params: WebhookParams } },
    async (request) => {
      const { accountId, webhookId } = ids(request.params);
      await auth.requireAccount(request, accountId);
      return sendTestDelivery(context, accountId, webhookId);
    },
  );

  app.post(
    `${base}/:webhookId/replay`,
    {
      schema: {
        tags,
        summary: 'Re-deliver the events logged since a time, as new batches flagged learnhook-replay: true.',
        params: WebhookParams,
        body: Type.Object({ since: Type.String({ description: 'ISO-8601 time' }) }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const { accountId, webhookId } = ids(request.params);
      await auth.requireAccount(request, accountId);
      const since = Date.parse(request.body.since);
      if (Number.isNaN(since)) throw invalidInput(`since: "${request.body.since}" is not an ISO-8601 time`);
      return reply.status(202).send(await replayWebhook(context, accountId, webhookId, since));
    },
  );

  app.post(
    `${base}/:webhookId/retry`,
    {
      schema: {
        tags,
        summary: 'Retry now: a webhook waiting for its next scheduled attempt (after failures) is attempted at once.',
        params: WebhookParams,
      },
    },
    async (request, reply) => {
      const { accountId, webhookId } = ids(request.params);
      await auth.requireAccount(request, accountId);
      return reply.status(202).send(await retryWebhookNow(context, accountId, webhookId));
    },
  );

  app.get(
    `${base}/:webhookId/deliveries`,
    {
      schema: {
        tags,
        summary:
          'The attempts log, newest first, each with the request sent (headers, body) and the answer (status, first 4 KiB of its body); pass `before` = the `next` of a page for the following one.',
        params: WebhookParams,
        querystring: Type.Object({
          limit: Type.Optional(Type.String({ pattern: '^([1-9][0-9]?|[1-4][0-9]{2}|500)$', description: '1 to 500, default 50' })),
          before: Type.Optional(digits()),
        }),
      },
    },
    async (request) => {
      const { accountId, webhookId } = ids(request.params);
      await auth.requireAccount(request, accountId);
      return listDeliveries(context, accountId, webhookId, {
        limit: Number(request.query.limit ?? 50),
        before: numberOf(request.query.before),
      });
    },
  );

  app.get(
    `${base}/:webhookId/stats`,
    { schema: { tags, summary: 'Cursor, backlog, lag, failing since, next attempt, lost events, state.', params: WebhookParams } },
    async (request) => {
      const { accountId, webhookId } = ids(request.params);
      await auth.requireAccount(request, accountId);
      return webhookStats(context, accountId, webhookId);
    },
  );
}
