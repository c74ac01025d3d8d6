// Builds the producer's HTTP server: every route area registered on one Fastify instance with one error handler.
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  LogController,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
  type RouteOptions,
} from 'fastify';
import type { ProducerContext } from '../context.ts';
import { servePage } from '../web/static-files.ts';
import { accountRoutes } from './accounts.ts';
import { describeResponses, docsPage, wantsPage } from './api-docs.ts';
import { Authenticator } from './auth.ts';
import { catalogRoutes } from './catalog.ts';
import { enrollmentRoutes } from './enrollments.ts';
import { frameworkErrors, installErrorHandler } from './errors.ts';
import { eventRoutes } from './events.ts';
import { learningObjectRoutes } from './learning-objects.ts';
import { liveRoutes } from './live.ts';
import { metricsRoutes } from './metrics.ts';
import { publicApiRoutes } from './public-api.ts';
import { installRequestGuard } from './request-guard.ts';
import { sessionRoutes } from './session.ts';
import { userRoutes } from './users.ts';
import { webhookRoutes } from './webhooks.ts';

/** Per-request log lines would drown the delivery logs; failures are still logged by the error handler. */
class QuietRequests extends LogController {
  constructor() {
    super({ disableRequestLogging: true });
  }
}

export interface ApiDeps {
  context: ProducerContext;
  auth: Authenticator;
}

/** The app as route areas see it: request bodies, params and queries typed from their TypeBox schemas. */
export type LearnhookApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** A route area: registers its routes on the app. */
export type RouteArea = (app: LearnhookApp, deps: ApiDeps) => Promise<void> | void;

/** Every route area of the producer, in registration order; a capability adds its own here. */
const routeAreas: RouteArea[] = [
  accountRoutes,
  userRoutes,
  learningObjectRoutes,
  enrollmentRoutes,
  eventRoutes,
  publicApiRoutes,
  webhookRoutes,
  metricsRoutes,
  sessionRoutes,
  catalogRoutes,
  liveRoutes,
];

export interface BuildOptions {
  /** Called for every route as it is registered (the HTTP fuzzer in test/faults finds every route this way). */
  onRoute?: (route: RouteOptions) => void;
}

export async function buildApp(context: ProducerContext, options: BuildOptions = {}): Promise<LearnhookApp> {
  const app = Fastify({
    loggerInstance: context.logger.child({ part: 'http' }),
    logController: new QuietRequests(),
    bodyLimit: context.settings.bodyLimit,
    frameworkErrors,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: true } },
    // Parsed as a plain field, then refused by name by the request guard (the default answer was "not valid JSON").
    onProtoPoisoning: 'ignore',
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as LearnhookApp;
  if (options.onRoute) app.addHook('onRoute', options.onRoute);
  installErrorHandler(app);
  installRequestGuard(app);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'learnhook', version: '0.1.0', description: 'The learning platform, its webhooks and its public read API.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  const deps: ApiDeps = { context, auth: new Authenticator(context) };
  // Who asks is settled before the body is read or validated: without a valid token a request answers 401 and learns
  // nothing of the shape a body should have, and another account's resources are not found (404), whatever the body.
  // The handlers still check what they need (the admin, the account); the principal is worked out once per request.
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/v1/') || request.routeOptions.schema?.security?.length === 0) return;
    const accountId = (request.params as { accountId?: unknown } | undefined)?.accountId;
    if (typeof accountId === 'string' && /^\d{1,15}$/.test(accountId)) await deps.auth.requireAccount(request, Number(accountId));
    else await deps.auth.principalOf(request);
  });
  app.get('/healthz', { schema: { hide: true } }, async () => {
    await context.database.db.selectFrom('accounts').select('id').limit(1).execute();
    return { status: 'ok' };
  });
  // Browsers get the rendered reference, everything else the OpenAPI document; /docs/json is always the document.
  app.get('/docs', { schema: { hide: true } }, async (request, reply) =>
    wantsPage(request.headers.accept) ? reply.type('text/html; charset=utf-8').send(docsPage) : describeResponses(app.swagger()),
  );
  app.get('/docs/json', { schema: { hide: true } }, async () => describeResponses(app.swagger()));
  // The dashboard: static pages that use only this API.
  servePage(app as unknown as FastifyInstance, 'index.html');
  for (const area of routeAreas) {
    await app.register(async (scope) => area(scope as LearnhookApp, deps));
  }
  return app;
}
