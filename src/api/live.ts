// GET /v1/accounts/{accountId}/live: a Server-Sent Events stream of the account's new log events and its webhooks' state.
import { Type } from '@sinclair/typebox';
import type { ProducerContext } from '../context.ts';
import { webhookStats } from '../delivery/webhook-stats.ts';
import { invalidInput, notFound } from '../errors.ts';
import { logHead, readEvents } from '../platform/event-log.ts';
import { listWebhooks } from '../webhooks/webhooks.ts';
import type { ApiDeps, LearnhookApp } from './app.ts';
import { AccountParams, digits, numberOf } from './path-params.ts';

/** Events sent at most per message, and how many of the newest the stream starts with when no `after` is given. */
const pageSize = 200;
const backfill = 50;
/** The shortest time between two looks at the database of one stream, however busy the account. */
const minGapMs = 250;
/** A comment line now and then keeps proxies from closing a quiet stream. */
const heartbeatMs = 15_000;

/** Every webhook of the account with its delivery state, as the dashboard's list shows it. */
export async function webhooksWithStats(context: ProducerContext, accountId: number) {
  const webhooks = await listWebhooks(context, accountId);
  return Promise.all(webhooks.map(async (webhook) => ({ ...webhook, stats: await webhookStats(context, accountId, webhook.id) })));
}

export async function liveRoutes(app: LearnhookApp, { context, auth }: ApiDeps): Promise<void> {
  const open = new Set<() => void>();
  // Open streams would hold the server open: end them when it closes.
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });

  app.get(
    '/v1/accounts/:accountId/live',
    {
      schema: {
        tags: ['live'],
        summary:
          'Server-Sent Events: `log` (new events of the account, in order, after `after` or the newest 50), `webhooks` (every webhook with its stats, when they change).',
        params: AccountParams,
        querystring: Type.Object({
          after: Type.Optional(digits({ positive: false, description: 'Sequence to continue after; default: the newest 50 events' })),
          events: Type.Optional(Type.String({ maxLength: 2000, description: 'Comma-separated event names to keep in `log`' })),
        }),
      },
    },
    async (request, reply) => {
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      const head = await logHead(context.database.db, accountId);
      if (head === undefined) throw notFound(`account ${accountId}`);
      const names = request.query.events?.split(',').filter(Boolean);
      if (names?.length === 0) throw invalidInput('events: give at least one event name, or leave it out for all');
      // A reconnecting EventSource sends the last id it saw.
      const resumeAt = request.headers['last-event-id'];
      const resumed = typeof resumeAt === 'string' && /^\d{1,15}$/.test(resumeAt) ? Number(resumeAt) : undefined;
      let after = resumed ?? numberOf(request.query.after) ?? Math.max(0, head - backfill);
      let lastWebhooks = '';
      let closed = false;

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      // The client may have gone while a turn was reading: nothing is written after the end.
      const write = (text: string) => {
        if (!closed) raw.write(text);
      };
      const send = (event: string, data: unknown, id?: number) =>
        write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

      let wake: () => void = () => {};
      const onAppended = (accountIds: readonly number[]) => {
        if (accountIds.includes(accountId)) wake();
      };
      const onChanged = () => wake();
      const end = () => {
        if (closed) return;
        closed = true;
        wake();
        context.signals.off('events-appended', onAppended);
        context.signals.off('webhook-changed', onChanged);
        open.delete(end);
        raw.end();
      };
      open.add(end);
      context.signals.on('events-appended', onAppended);
      context.signals.on('webhook-changed', onChanged);
      request.raw.on('close', end);
      raw.on('error', end);

      let lastBeat = Date.now();
      // Each turn sends what is new; a signal of this process ends the wait early, the tick catches other processes' work.
      const tick = Math.max(250, Math.min(context.settings.pollIntervalMs, 2000));
      (async () => {
        while (!closed) {
          const events = await readEvents(context.database.db, accountId, { afterSeq: after, limit: pageSize });
          const last = events.at(-1);
          if (last) after = last.seq;
          const shown = names ? events.filter((event) => names.includes(event.eventName)) : events;
          if (shown.length > 0) send('log', { events: shown }, after);
          const webhooks = JSON.stringify(await webhooksWithStats(context, accountId));
          if (webhooks !== lastWebhooks) {
            lastWebhooks = webhooks;
            write(`event: webhooks\ndata: ${webhooks}\n\n`);
          }
          if (Date.now() - lastBeat > heartbeatMs) {
            lastBeat = Date.now();
            write(': still here\n\n');
          }
          if (events.length === pageSize) continue;
          const turnEnded = Date.now();
          await new Promise<void>((resolve) => {
            let timer = setTimeout(resolve, tick);
            // Woken early by a signal, but at most every `minGapMs`: a busy account must not turn this into a busy loop.
            wake = () => {
              clearTimeout(timer);
              timer = setTimeout(resolve, closed ? 0 : Math.max(0, minGapMs - (Date.now() - turnEnded)));
              wake = () => {};
            };
          });
        }
      })().catch((error: unknown) => {
        request.log.error({ err: error }, 'live stream failed');
        end();
      });
    },
  );
}
