// Routes for an account's log: GET /v1/accounts/{accountId}/events (in sequence order) and POST (raw publishing).
import { Type } from '@sinclair/typebox';
import { notFound } from '../errors.ts';
import { readEvents } from '../platform/event-log.ts';
import { publishEvents } from '../platform/publish-events.ts';
import type { ApiDeps, LearnhookApp } from './app.ts';
import { AccountParams, AfterPage, numberOf } from './path-params.ts';

export async function eventRoutes(app: LearnhookApp, { context, auth }: ApiDeps): Promise<void> {
  const tags = ['events'];
  app.get(
    '/v1/accounts/:accountId/events',
    {
      schema: {
        tags,
        summary: 'The account’s log in order; `after` is the sequence to continue after (the previous page’s `next`).',
        params: AccountParams,
        querystring: AfterPage,
      },
    },
    async (request) => {
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      const account = await context.database.db.selectFrom('accounts').select('id').where('id', '=', accountId).executeTakeFirst();
      if (!account) throw notFound(`account ${accountId}`);
      const limit = Math.min(numberOf(request.query.limit) ?? 100, 1000);
      const events = await readEvents(context.database.db, accountId, { afterSeq: numberOf(request.query.after) ?? 0, limit });
      return { events, next: events.length === limit ? (events.at(-1)?.seq ?? null) : null };
    },
  );
  app.post(
    '/v1/accounts/:accountId/events',
    {
      schema: {
        tags,
        summary: 'Publish catalog events directly: validated, all or nothing, idempotent by eventId; 409 unless the account is ACTIVE.',
        params: AccountParams,
        body: Type.Object(
          {
            events: Type.Array(Type.Unknown(), {
              minItems: 1,
              maxItems: 1000,
              description: 'Catalog events (eventId, eventName, timestamp, eventInfo, data).',
            }),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      return publishEvents(context, accountId, request.body.events);
    },
  );
}
