// The mirror's page at `/` and the read endpoints behind it under `/api/` (unauthenticated, like /status: bind the
// mirror to loopback or put it behind your own proxy).
import type { FastifyInstance } from 'fastify';
import type { MirrorContext } from '../mirror/mirror-context.ts';
import { readAccounts, readAnomalies, readEnrollments, readSetAside } from '../mirror/read-views.ts';
import { retryFailed } from '../mirror/retry-failed.ts';
import { servePage } from '../web/static-files.ts';
import { ApiError } from './errors.ts';

function whole(text: unknown, fallback: number, max: number, name: string): number {
  if (text === undefined) return fallback;
  if (typeof text !== 'string' || !/^\d{1,9}$/.test(text) || Number(text) > max)
    throw new ApiError(400, 'bad_request', `${name}: "${String(text)}" must be a whole number from 0 to ${max}`);
  return Number(text);
}

/** Registers the page and its endpoints on the mirror's app. */
export function registerMirrorViews(app: FastifyInstance, context: MirrorContext): void {
  servePage(app, 'mirror.html');
  app.get('/api/accounts', async () => readAccounts(context));
  app.get<{ Querystring: Record<string, unknown> }>('/api/anomalies', async (request) =>
    readAnomalies(context, whole(request.query.examples, 5, 50, 'examples')),
  );
  app.get<{ Querystring: Record<string, unknown> }>('/api/set-aside', async (request) =>
    readSetAside(context, whole(request.query.limit, 100, 1000, 'limit')),
  );
  app.get<{ Querystring: Record<string, unknown> }>('/api/enrollments', async (request) => {
    const account = request.query.account === undefined ? undefined : whole(request.query.account, 0, 999_999_999, 'account');
    return readEnrollments(
      context,
      account,
      whole(request.query.limit, 50, 500, 'limit'),
      whole(request.query.offset, 0, 1_000_000, 'offset'),
    );
  });
  app.post('/api/set-aside/retry', async (request) => {
    // A JSON content type cannot be sent cross-site without the browser asking first: a page elsewhere cannot press this.
    if (!String(request.headers['content-type'] ?? '').startsWith('application/json'))
      throw new ApiError(415, 'unsupported_media_type', 'send {"ids": [...]} (or {}) as application/json');
    let body: { ids?: unknown };
    try {
      body = JSON.parse(typeof request.body === 'string' && request.body ? request.body : '{}') as { ids?: unknown };
    } catch (error) {
      throw new ApiError(400, 'malformed_json', `the body is not valid JSON: ${(error as Error).message}`);
    }
    const ids = body.ids;
    if (ids !== undefined && !(Array.isArray(ids) && ids.every((id) => Number.isSafeInteger(id) && (id as number) > 0)))
      throw new ApiError(400, 'bad_request', 'ids: give inbox row ids as positive whole numbers, or leave it out for all');
    const { rows, heldEvents } = await retryFailed(context.database, ids as number[] | undefined);
    if (rows + heldEvents > 0) context.signals.emit('inbox-stored');
    return { retried: rows, heldEvents };
  });
}
