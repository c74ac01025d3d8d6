// Routes for learning objects and their instances under /v1/accounts/{accountId}/learning-objects (each action emits by SPEC §2.1).
import { Type } from '@sinclair/typebox';
import { invalidInput } from '../errors.ts';
import { type Instance, isoOrNull, type LearningObject, loKinds } from '../platform/domain.ts';
import { createInstance, deleteInstance, getInstance, retireInstance, updateInstance } from '../platform/instances.ts';
import {
  createLearningObject,
  deleteLearningObject,
  getLearningObject,
  publishLearningObject,
  retireLearningObject,
  updateLearningObject,
} from '../platform/learning-objects.ts';
import { readLearningObjects } from '../platform/read-learning-objects.ts';
import type { ApiDeps, LearnhookApp } from './app.ts';
import { AccountParams, AfterPage, digits, numberOf, WholeNumber } from './path-params.ts';

const loKindPattern = loKinds.join('|');
const LoIdSchema = Type.String({ pattern: `^(${loKindPattern}):\\d+$`, description: 'Learning object id, e.g. course:1000001.' });
const InstanceIdSchema = Type.String({
  pattern: `^(${loKindPattern}):\\d+_\\d+$`,
  description: 'Instance id, e.g. course:1000001_1000001.',
});
const LoParams = Type.Object({ accountId: digits(), loId: LoIdSchema });
const InstanceParams = Type.Object({ accountId: digits(), loId: LoIdSchema, instanceId: InstanceIdSchema });
const Via = Type.Optional(Type.Union([Type.Literal('ui'), Type.Literal('migration')], { description: 'ui (default) or migration.' }));
const Limit = Type.Union([WholeNumber(), Type.Null()]);

export function instanceBody(instance: Instance) {
  return {
    id: instance.id,
    loId: instance.loId,
    name: instance.name,
    state: instance.state,
    seatLimit: instance.seatLimit,
    waitlistLimit: instance.waitlistLimit,
    selfPaced: instance.selfPaced,
    isDefault: instance.isDefault,
    enrollmentCount: instance.enrollmentCount,
    waitlistCount: instance.waitlistCount,
    enrollmentDeadline: isoOrNull(instance.enrollmentDeadline),
    createdAt: new Date(instance.createdAt).toISOString(),
    updatedAt: new Date(instance.updatedAt).toISOString(),
  };
}

function learningObjectBody(lo: LearningObject, instances?: readonly Instance[]) {
  return {
    id: lo.id,
    loType: lo.loType,
    name: lo.name,
    description: lo.description,
    state: lo.state,
    children: lo.children,
    duration: lo.duration,
    createdAt: new Date(lo.createdAt).toISOString(),
    publishedAt: isoOrNull(lo.publishedAt),
    updatedAt: new Date(lo.updatedAt).toISOString(),
    ...(instances ? { instances: instances.map(instanceBody) } : {}),
  };
}

function deadline(text: string | null | undefined): number | null | undefined {
  if (text === undefined || text === null) return text;
  const time = Date.parse(text);
  if (Number.isNaN(time)) throw invalidInput(`enrollmentDeadline "${text}" is not an ISO-8601 time`);
  return time;
}

export async function learningObjectRoutes(app: LearnhookApp, { context, auth }: ApiDeps): Promise<void> {
  const tags = ['learning objects'];
  app.post(
    '/v1/accounts/:accountId/learning-objects',
    {
      schema: {
        tags,
        summary: 'Create a learning object: a draft from the UI (LEARNING_OBJECT_DRAFT), published by migration (…_MODIFICATION_BATCH).',
        params: AccountParams,
        body: Type.Object(
          {
            loType: Type.Union(loKinds.map((kind) => Type.Literal(kind))),
            name: Type.String({ minLength: 1, maxLength: 500 }),
            description: Type.Optional(Type.String({ maxLength: 5000 })),
            duration: Type.Optional(Type.Union([WholeNumber(), Type.Null()], { description: 'Seconds.' })),
            children: Type.Optional(
              Type.Array(LoIdSchema, { maxItems: 200, description: 'Course ids of a learning program or certification.' }),
            ),
            via: Via,
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      return reply.status(201).send(learningObjectBody(await createLearningObject(context, accountId, request.body)));
    },
  );
  app.get(
    '/v1/accounts/:accountId/learning-objects',
    {
      schema: {
        tags,
        summary: 'List learning objects that are not deleted, with their instances; `after` is the previous page’s `next`.',
        params: AccountParams,
        querystring: AfterPage,
      },
    },
    async (request) => {
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      const limit = Math.min(numberOf(request.query.limit) ?? 100, 500);
      const page = await readLearningObjects(context, { accountId, limit, afterNum: numberOf(request.query.after) ?? 0 });
      return {
        learningObjects: page.map((item) => learningObjectBody(item.learningObject, item.instances)),
        next: page.length === limit ? (page.at(-1)?.num ?? null) : null,
      };
    },
  );
  app.get('/v1/accounts/:accountId/learning-objects/:loId', { schema: { tags, params: LoParams } }, async (request) => {
    const { loId } = request.params;
    const accountId = numberOf(request.params.accountId);
    await auth.requireAccount(request, accountId);
    const view = await getLearningObject(context, accountId, loId);
    return learningObjectBody(view, view.instances);
  });
  app.patch(
    '/v1/accounts/:accountId/learning-objects/:loId',
    {
      schema: {
        tags,
        summary:
          'Change a learning object: LEARNING_OBJECT_DRAFT while a draft, …_MODIFICATION once published, …_MODIFICATION_BATCH by migration.',
        params: LoParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
            description: Type.Optional(Type.String({ maxLength: 5000 })),
            duration: Type.Optional(Type.Union([WholeNumber(), Type.Null()])),
            children: Type.Optional(Type.Array(LoIdSchema, { maxItems: 200 })),
            via: Via,
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const { loId } = request.params;
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      return learningObjectBody(await updateLearningObject(context, accountId, loId, request.body));
    },
  );
  const lifecycle = [
    ['publish', publishLearningObject, 'Publish a draft (LEARNING_OBJECT_MODIFICATION).'],
    [
      'retire',
      retireLearningObject,
      'Retire a published learning object and its instances (…_MODIFICATION, one …_INSTANCE_MODIFICATION each).',
    ],
  ] as const;
  for (const [action, run, summary] of lifecycle) {
    app.post(
      `/v1/accounts/:accountId/learning-objects/:loId/${action}`,
      { schema: { tags, summary, params: LoParams } },
      async (request) => {
        const { loId } = request.params;
        const accountId = numberOf(request.params.accountId);
        await auth.requireAccount(request, accountId);
        return learningObjectBody(await run(context, accountId, loId));
      },
    );
  }
  app.delete(
    '/v1/accounts/:accountId/learning-objects/:loId',
    { schema: { tags, summary: 'Delete a learning object (LEARNING_OBJECT_DELETION).', params: LoParams } },
    async (request) => {
      const { loId } = request.params;
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      return learningObjectBody(await deleteLearningObject(context, accountId, loId));
    },
  );

  const instanceTags = ['instances'];
  const instanceFields = {
    seatLimit: Type.Optional(Limit),
    waitlistLimit: Type.Optional(Limit),
    selfPaced: Type.Optional(Type.Boolean()),
    enrollmentDeadline: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()])),
    via: Via,
  };
  app.post(
    '/v1/accounts/:accountId/learning-objects/:loId/instances',
    {
      schema: {
        tags: instanceTags,
        summary: 'Create an instance (LEARNING_OBJECT_INSTANCE_MODIFICATION); the first one is the default instance.',
        params: LoParams,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 500 }), ...instanceFields }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const { loId } = request.params;
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      const { enrollmentDeadline, ...rest } = request.body;
      const instance = await createInstance(context, accountId, loId, { ...rest, enrollmentDeadline: deadline(enrollmentDeadline) });
      return reply.status(201).send(instanceBody(instance));
    },
  );
  app.get(
    '/v1/accounts/:accountId/learning-objects/:loId/instances/:instanceId',
    { schema: { tags: instanceTags, params: InstanceParams } },
    async (request) => {
      const { loId, instanceId } = request.params;
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      return instanceBody(await getInstance(context, accountId, loId, instanceId));
    },
  );
  app.patch(
    '/v1/accounts/:accountId/learning-objects/:loId/instances/:instanceId',
    {
      schema: {
        tags: instanceTags,
        summary: 'Change or suspend an instance (…_INSTANCE_MODIFICATION; CI_STATS too when a course instance’s limits change).',
        params: InstanceParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
            state: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('suspended')])),
            ...instanceFields,
          },
          { additionalProperties: false, minProperties: 1 },
        ),
      },
    },
    async (request) => {
      const { loId, instanceId } = request.params;
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      const { enrollmentDeadline, ...rest } = request.body;
      const settings = enrollmentDeadline === undefined ? rest : { ...rest, enrollmentDeadline: deadline(enrollmentDeadline) };
      return instanceBody(await updateInstance(context, accountId, loId, instanceId, settings));
    },
  );
  app.post(
    '/v1/accounts/:accountId/learning-objects/:loId/instances/:instanceId/retire',
    { schema: { tags: instanceTags, summary: 'Retire an instance (…_INSTANCE_MODIFICATION).', params: InstanceParams } },
    async (request) => {
      const { loId, instanceId } = request.params;
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      return instanceBody(await retireInstance(context, accountId, loId, instanceId));
    },
  );
  app.delete(
    '/v1/accounts/:accountId/learning-objects/:loId/instances/:instanceId',
    {
      schema: {
        tags: instanceTags,
        summary: 'Delete a self-paced course instance (…_INSTANCE_DELETION); 409 for any other instance.',
        params: InstanceParams,
      },
    },
    async (request) => {
      const { loId, instanceId } = request.params;
      const accountId = numberOf(request.params.accountId);
      await auth.requireAccount(request, accountId);
      return instanceBody(await deleteInstance(context, accountId, loId, instanceId));
    },
  );
}
