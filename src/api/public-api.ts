// The public read API at /primeapi/v2 (SPEC §6): JSON:API learning objects and users, CSV reports, a rate limit per token.
import { Type } from '@sinclair/typebox';
import { stringify } from 'csv-stringify/sync';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { reportColumns } from '../catalog/report-columns.ts';
import { invalidInput, notFound } from '../errors.ts';
import { type Instance, isoOrNull, type LearningObject, type User } from '../platform/domain.ts';
import { type LearningObjectWithInstances, readLearningObjects } from '../platform/read-learning-objects.ts';
import { listUsers } from '../platform/users.ts';
import type { ApiDeps, LearnhookApp } from './app.ts';
import { type Principal, tokenOf } from './auth.ts';
import { toApiError } from './errors.ts';
import { digits, isDigits, maxId, numberOf } from './path-params.ts';
import { RateLimiter } from './rate-limit.ts';

const jsonApi = 'application/vnd.api+json';
const maxIds = 10;
const defaultPageLimit = 10;
const maxPageLimit = 100;

const loStates: Record<string, string> = { draft: 'Draft', published: 'Published', retired: 'Retired' };
const instanceStates: Record<string, string> = { active: 'Active', suspended: 'Suspended', retired: 'Retired' };

function learningObjectResource({ learningObject: lo, instances }: LearningObjectWithInstances) {
  return {
    id: lo.id,
    type: 'learningObject',
    attributes: {
      loType: lo.loType,
      state: loStates[lo.state] ?? lo.state,
      dateCreated: new Date(lo.createdAt).toISOString(),
      datePublished: isoOrNull(lo.publishedAt),
      dateUpdated: new Date(lo.updatedAt).toISOString(),
      duration: lo.duration,
      enrollmentType: 'Self Enroll',
      loFormat: loFormat(instances),
      localizedMetadata: [{ locale: 'en-US', name: lo.name, description: lo.description }],
    },
    relationships: { instances: { data: instances.map((instance) => ({ id: instance.id, type: 'learningObjectInstance' })) } },
  };
}

/** "Self Paced" when every instance is self-paced (or there is none yet), "Blended" otherwise. */
function loFormat(instances: readonly Instance[]): string {
  return instances.every((instance) => instance.selfPaced) ? 'Self Paced' : 'Blended';
}

function instanceResource(instance: Instance) {
  return {
    id: instance.id,
    type: 'learningObjectInstance',
    attributes: {
      state: instanceStates[instance.state] ?? instance.state,
      dateCreated: new Date(instance.createdAt).toISOString(),
      isDefault: instance.isDefault,
      seatLimit: instance.seatLimit,
      waitlistLimit: instance.waitlistLimit,
      enrollmentDeadline: isoOrNull(instance.enrollmentDeadline),
      localizedMetadata: [{ locale: 'en-US', name: instance.name }],
    },
    relationships: { learningObject: { data: { id: instance.loId, type: 'learningObject' } } },
  };
}

function userResource(user: User) {
  return {
    id: String(user.id),
    type: 'user',
    attributes: {
      name: user.name,
      email: user.email,
      userUniqueId: user.userUniqueId,
      userType: user.userType,
      state: user.state,
      timeZoneCode: 'UTC',
    },
  };
}

function jsonApiError(status: number, title: string, detail: string) {
  return { errors: [{ status: String(status), title, detail }] };
}

/** Splits `ids=a,b,c`; more than ten is refused, as the platform's API does. */
function idsParameter(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const ids = text
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id.length > 0);
  if (ids.length > maxIds) throw invalidInput(`ids: at most ${maxIds} ids per request, ${ids.length} were given`);
  return ids;
}

function pageLimit(text: string | undefined): number {
  if (text === undefined) return defaultPageLimit;
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > maxPageLimit)
    throw invalidInput(`page[limit] must be a whole number from 1 to ${maxPageLimit}, not "${text}"`);
  return limit;
}

function pageCursor(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!isDigits(text)) throw invalidInput(`page[cursor] "${text}" is not a cursor this API gave out`);
  return Number(text);
}

/** User ids of `ids=`: each a whole number of at most fifteen digits (the id range), or the request is refused. */
function userIds(ids: readonly string[]): number[] {
  const wrong = ids.filter((id) => !isDigits(id));
  if (wrong.length > 0) throw invalidInput(`ids: ${wrong.map((id) => `"${id}"`).join(', ')} is not a user id (1 to ${maxId})`);
  return ids.map(Number);
}

/** The full URL of the next page: this request's URL with the cursor replaced. */
function nextLink(request: FastifyRequest, cursor: number): string {
  const url = new URL(request.url, `${request.protocol}://${request.host}`);
  url.searchParams.set('page[cursor]', String(cursor));
  return url.toString();
}

function scopeOf(principal: Principal): number | undefined {
  return principal.kind === 'account' ? principal.accountId : undefined;
}

const PageQuery = Type.Object({
  ids: Type.Optional(Type.String()),
  include: Type.Optional(Type.String()),
  'page[limit]': Type.Optional(Type.String()),
  'page[cursor]': Type.Optional(Type.String()),
});

export async function publicApiRoutes(app: LearnhookApp, { context, auth }: ApiDeps): Promise<void> {
  const limiter = new RateLimiter(context);

  // JSON:API clients expect `errors`, and the enricher reads the 429 body the platform sends.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const known = toApiError(error);
    const status = known ? known.status : error.validation ? 400 : (error.statusCode ?? 500);
    if (status >= 500) request.log.error({ err: error }, 'public API request failed');
    const detail = status >= 500 ? 'the server failed to handle the request; see its log' : error.message;
    return reply
      .status(status)
      .type(jsonApi)
      .send(jsonApiError(status, known ? known.code : 'error', detail));
  });

  /**
   * Counts an authenticated, well-formed request against its token's window (shared by every serve process);
   * answers 429 when the window is full. Routes read their query first, so a refused request counts nothing.
   */
  async function admitted(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const decision = await limiter.take(tokenOf(request) ?? '', context.now());
    reply.header('x-ratelimit-limit', decision.limit).header('x-ratelimit-remaining', decision.remaining);
    if (!decision.allowed) {
      reply
        .status(429)
        .header('retry-after', (decision.retryAfterMs / 1000).toFixed(3))
        .type('application/json')
        .send({ message: '429 Too many requests' });
      return false;
    }
    reply.type(jsonApi);
    return true;
  }

  app.get(
    '/primeapi/v2/learningObjects',
    { schema: { tags: ['public read API'], summary: 'Learning objects (JSON:API), by ids or paged.', querystring: PageQuery } },
    async (request, reply) => {
      const principal = await auth.principalOf(request);
      const ids = idsParameter(request.query.ids);
      const limit = pageLimit(request.query['page[limit]']);
      const afterNum = pageCursor(request.query['page[cursor]']);
      if (!(await admitted(request, reply))) return reply;
      const includeInstances = (request.query.include ?? '').split(',').includes('instances');
      const accountId = scopeOf(principal);
      const found = await readLearningObjects(context, ids ? { accountId, ids } : { accountId, limit: limit + 1, afterNum });
      const more = !ids && found.length > limit;
      const items = more ? found.slice(0, limit) : found;
      const body: Record<string, unknown> = { data: items.map(learningObjectResource) };
      if (includeInstances) body.included = items.flatMap((item) => item.instances.map(instanceResource));
      const last = items.at(-1);
      body.links = more && last ? { next: nextLink(request, last.num) } : {};
      return body;
    },
  );

  app.get(
    '/primeapi/v2/users',
    { schema: { tags: ['public read API'], summary: 'Users (JSON:API), by ids or paged.', querystring: PageQuery } },
    async (request, reply) => {
      const principal = await auth.principalOf(request);
      const accountId = scopeOf(principal);
      const ids = idsParameter(request.query.ids);
      const wanted = ids ? userIds(ids) : undefined;
      const limit = pageLimit(request.query['page[limit]']);
      const afterId = pageCursor(request.query['page[cursor]']);
      if (!(await admitted(request, reply))) return reply;
      if (wanted) {
        const users = await listUsers(context, { accountId, ids: wanted, limit: maxIds });
        return { data: users.map(userResource), links: {} };
      }
      const users = await listUsers(context, {
        accountId,
        ...(afterId !== undefined ? { afterId } : {}),
        limit: limit + 1,
      });
      const more = users.length > limit;
      const page = more ? users.slice(0, limit) : users;
      const last = page.at(-1);
      return { data: page.map(userResource), links: more && last ? { next: nextLink(request, last.id) } : {} };
    },
  );

  app.get(
    '/primeapi/v2/users/:userId',
    { schema: { tags: ['public read API'], summary: 'One user (JSON:API).', params: Type.Object({ userId: digits() }) } },
    async (request, reply) => {
      const principal = await auth.principalOf(request);
      if (!(await admitted(request, reply))) return reply;
      const { userId } = request.params;
      const accountId = scopeOf(principal);
      const users = await listUsers(context, { accountId, ids: [numberOf(userId)], limit: 1 });
      const user = users[0];
      if (!user) throw notFound(`user ${userId}`);
      return { data: userResource(user) };
    },
  );

  app.get(
    '/primeapi/v2/reports/users.csv',
    { schema: { tags: ['public read API'], summary: 'User report (CSV): every user of the account.' } },
    async (request, reply) => {
      const principal = await auth.principalOf(request);
      if (!(await admitted(request, reply))) return reply;
      const accountId = scopeOf(principal);
      const rows: (string | number)[][] = [];
      let afterId = 0;
      for (;;) {
        const users = await listUsers(context, { accountId, afterId, limit: 1000 });
        for (const user of users) rows.push([user.id, user.name, user.email, user.userUniqueId, user.userType, user.state]);
        const last = users.at(-1);
        if (!last || users.length < 1000) break;
        afterId = last.id;
      }
      return reply.type('text/csv; charset=utf-8').send(stringify([[...reportColumns.users], ...rows]));
    },
  );

  app.get(
    '/primeapi/v2/reports/training.csv',
    {
      schema: {
        tags: ['public read API'],
        summary: 'Training report (CSV): one row per learning object and instance, LOs created or updated since a time.',
        querystring: Type.Object({ since: Type.Optional(Type.String({ format: 'date-time' })) }),
      },
    },
    async (request, reply) => {
      const principal = await auth.principalOf(request);
      if (!(await admitted(request, reply))) return reply;
      const since = request.query.since === undefined ? undefined : Date.parse(request.query.since);
      const items = await readLearningObjects(context, {
        accountId: scopeOf(principal),
        ...(since !== undefined ? { since } : {}),
      });
      const rows = items.flatMap(({ learningObject, instances }) => trainingRows(learningObject, instances));
      return reply.type('text/csv; charset=utf-8').send(stringify([[...reportColumns.training], ...rows]));
    },
  );
}

/** One row per instance; an LO without instances still gets one row, with empty instance columns. */
function trainingRows(lo: LearningObject, instances: readonly Instance[]): (string | number)[][] {
  const base = [
    lo.id,
    lo.loType,
    lo.name,
    loStates[lo.state] ?? lo.state,
    new Date(lo.createdAt).toISOString(),
    new Date(lo.updatedAt).toISOString(),
  ];
  if (instances.length === 0) return [[...base, '', '', '', '', '']];
  return instances.map((instance) => [
    ...base,
    instance.id,
    instance.name,
    instanceStates[instance.state] ?? instance.state,
    instance.seatLimit ?? '',
    instance.waitlistLimit ?? '',
  ]);
}
