// The mirror's HTTP server: POST /webhook (verify → durable inbox → 202), GET /status, GET /metrics, GET /healthz.
import Fastify, { type FastifyInstance, LogController, type RouteOptions } from 'fastify';
import type { Registry } from 'prom-client';
import { replayHeader, sequenceHeader, subscribedEventsHeader, testHeader, webhookIdHeader } from '../catalog/index.ts';
import { createFlowLog } from '../flow-log.ts';
import { authenticate, hasCredentials, parseCredentials } from '../mirror/credentials.ts';
import type { MirrorContext } from '../mirror/mirror-context.ts';
import { readEnvelopeShape } from '../mirror/parse-envelope.ts';
import { readStatus } from '../mirror/read-status.ts';
import { InboxWriter } from '../mirror/store-batch.ts';
import { subscriptionWatch } from '../mirror/watch-subscriptions.ts';
import { ApiError, frameworkErrors, installErrorHandler } from './errors.ts';
import { registerMirrorViews } from './mirror-views.ts';

/** Per-request log lines would drown everything at delivery rates; failures are still logged by the error handler. */
class QuietRequests extends LogController {
  constructor() {
    super({ disableRequestLogging: true });
  }
}

/** Batch ids are a unique key: PostgreSQL refuses index entries above ~2.7 kB, and the platform's are ~30 characters. */
const maxBatchIdLength = 200;

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function buildMirrorApp(
  context: MirrorContext,
  metrics: Registry,
  options: { onRoute?: (route: RouteOptions) => void } = {},
): FastifyInstance {
  const app = Fastify({
    loggerInstance: context.logger.child({ part: 'http' }),
    logController: new QuietRequests(),
    bodyLimit: context.settings.bodyLimit,
    frameworkErrors,
  }) as unknown as FastifyInstance;
  // The HTTP fuzzer in test/faults finds every route this way.
  if (options.onRoute) app.addHook('onRoute', options.onRoute);
  installErrorHandler(app);
  const credentials = parseCredentials(context.settings.mirrorSecret, context.settings.mirrorBasicAuth);
  // Accounts written through a credential bound to no account: a second one means several tenants share a secret.
  const unboundAccounts = new Set<number>();
  const inbox = new InboxWriter(context.database);
  const subscriptions = subscriptionWatch(context);
  // A refused delivery is logged with its reason (a wrong secret shows at once), summed per interval at high rates.
  const refusals = createFlowLog(context.logger, context.settings.logSummaryEveryMs, (kind, count, _amounts, example) => ({
    level: 'warn',
    line: `refused ${count === 1 ? 'a delivery' : `${count} deliveries`} (${kind}): ${example ?? ''}`,
  }));
  app.addHook('onClose', async () => refusals.stop());
  const refuse = (status: number, code: string, message: string, details?: unknown) => {
    refusals.count(`${status} ${code}`, {}, message);
    return new ApiError(status, code, message, details);
  };
  // The signature covers the exact bytes sent: keep the body as text and parse it only after verifying.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));

  app.post('/webhook', async (request, reply) => {
    context.signals.emit('delivery-received');
    const payload = typeof request.body === 'string' ? request.body : '';
    const verdict = authenticate(payload, request.headers, credentials, {
      toleranceMs: context.settings.signatureTolerance,
      now: context.now(),
    });
    if (!verdict.ok)
      throw refuse(401, 'unauthorized', `the delivery is not authentic: ${verdict.reason}; is --secret the webhook's secret?`);
    let body: unknown;
    try {
      body = JSON.parse(payload);
    } catch (error) {
      throw refuse(400, 'malformed_json', `the body is not valid JSON: ${(error as Error).message}`);
    }
    // Only the envelope is checked here: each event is read by the projector, which holds those it cannot read or
    // store and applies the others, so one bad event never costs the sender a refused (and retried) batch.
    const envelope = readEnvelopeShape(body);
    if (!envelope.ok)
      throw refuse(400, 'invalid_envelope', `the body is not a delivery envelope: ${envelope.problems.join('; ')}`, envelope.problems);
    const { accountId } = envelope;
    if (verdict.accounts !== 'any' && !verdict.accounts.has(accountId)) {
      throw refuse(
        401,
        'wrong_account',
        `the delivery is for account ${accountId}, but its credentials are bound to account ${[...verdict.accounts].join(', ')}; nothing was stored`,
      );
    }
    if (verdict.accounts === 'any' && hasCredentials(credentials) && !unboundAccounts.has(accountId)) {
      unboundAccounts.add(accountId);
      if (unboundAccounts.size === 2) {
        context.logger.warn(
          `deliveries for accounts ${[...unboundAccounts].join(' and ')} were verified with a credential bound to no account: whoever holds it can write every account's rows; bind each secret to its account (--secret ${[...unboundAccounts][0]}=whsec_…,${accountId}=whsec_…)`,
        );
      }
    }
    subscriptions.observe(accountId, headerText(request.headers[subscribedEventsHeader]));
    const batchId = headerText(request.headers[webhookIdHeader]);
    if (batchId !== undefined && batchId.length > maxBatchIdLength)
      throw refuse(400, 'invalid_envelope', `the webhook-id header is ${batchId.length} characters long; at most ${maxBatchIdLength}`);
    const sequence = headerText(request.headers[sequenceHeader]);
    const result = await inbox.write(
      {
        ...(batchId ? { batchId } : {}),
        ...(sequence !== undefined ? { sequence } : {}),
        accountId,
        eventCount: envelope.events.length,
        body: payload,
        replay: headerText(request.headers[replayHeader]) === 'true',
        test: headerText(request.headers[testHeader]) === 'true',
      },
      context.now(),
    );
    if (result.stored) context.signals.emit('inbox-stored');
    return reply
      .status(202)
      .send(result.stored ? { status: 'accepted', inboxId: result.inboxId } : { status: 'duplicate', inboxId: result.duplicateOf });
  });

  app.get('/status', async () => readStatus(context));
  registerMirrorViews(app, context);
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
  app.get('/healthz', async () => {
    await context.database.db.selectFrom('mirror_state').select('key').limit(1).execute();
    return { status: 'ok' };
  });
  return app;
}
