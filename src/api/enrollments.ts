// Routes for enrollments under /v1/accounts/{accountId}/enrollments: enroll, unenroll, complete, progress, and the list.
import { Type } from '@sinclair/typebox';
import { completeEnrollment } from '../platform/complete-enrollment.ts';
import { actors, type Enrollment, isoOrNull } from '../platform/domain.ts';
import { enroll } from '../platform/enroll.ts';
import { listEnrollments } from '../platform/list-enrollments.ts';
import { recordProgress } from '../platform/record-progress.ts';
import { unenroll } from '../platform/unenroll.ts';
import type { ApiDeps, LearnhookApp } from './app.ts';
import { AccountParams, digits, IdNumber, numberOf } from './path-params.ts';

const request = {
  userId: IdNumber(),
  loInstanceId: Type.String({ pattern: '^(course|learningProgram|certification):\\d+_\\d+$' }),
  actor: Type.Union(
    actors.map((actor) => Type.Literal(actor)),
    { description: 'learner (real-time events) or admin, manager, platform (_BATCH events).' },
  ),
};

function enrollmentBody(enrollment: Enrollment) {
  return {
    userId: enrollment.userId,
    loInstanceId: enrollment.loInstanceId,
    loId: enrollment.loId,
    loType: enrollment.loType,
    state: enrollment.state,
    enrollmentSource: enrollment.enrollmentSource,
    progressPercent: enrollment.progressPercent,
    hasPassed: enrollment.hasPassed,
    dateEnrolled: new Date(enrollment.dateEnrolled).toISOString(),
    dateStarted: isoOrNull(enrollment.dateStarted),
    dateCompleted: isoOrNull(enrollment.dateCompleted),
    parentInstanceId: enrollment.parentInstanceId,
  };
}

export async function enrollmentRoutes(app: LearnhookApp, { context, auth }: ApiDeps): Promise<void> {
  const tags = ['enrollments'];
  app.post(
    '/v1/accounts/:accountId/enrollments',
    {
      schema: {
        tags,
        summary: 'Enroll a learner (…_ENROLLMENT for the learner, …_ENROLLMENT_BATCH otherwise; CI_STATS for course instances).',
        params: AccountParams,
        body: Type.Object(request, { additionalProperties: false }),
      },
    },
    async (req, reply) => {
      const accountId = numberOf(req.params.accountId);
      await auth.requireAccount(req, accountId);
      return reply.status(201).send(enrollmentBody(await enroll(context, accountId, req.body)));
    },
  );
  app.post(
    '/v1/accounts/:accountId/enrollments/unenroll',
    {
      schema: {
        tags,
        summary: 'Unenroll a learner (…_UNENROLLMENT or …_BATCH).',
        params: AccountParams,
        body: Type.Object(request, { additionalProperties: false }),
      },
    },
    async (req) => {
      const accountId = numberOf(req.params.accountId);
      await auth.requireAccount(req, accountId);
      return enrollmentBody(await unenroll(context, accountId, req.body));
    },
  );
  app.post(
    '/v1/accounts/:accountId/enrollments/complete',
    {
      schema: {
        tags,
        summary: 'Complete an enrollment (…_COMPLETED or …_BATCH; inside a learning path: two LEARNER_PROGRESS instead).',
        params: AccountParams,
        body: Type.Object({ ...request, hasPassed: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      },
    },
    async (req) => {
      const accountId = numberOf(req.params.accountId);
      await auth.requireAccount(req, accountId);
      return enrollmentBody(await completeEnrollment(context, accountId, req.body));
    },
  );
  app.post(
    '/v1/accounts/:accountId/enrollments/progress',
    {
      schema: {
        tags,
        summary: 'Record progress in a course (LEARNER_PROGRESS after the aggregation delay).',
        params: AccountParams,
        body: Type.Object({ ...request, progressPercent: Type.Integer({ minimum: 0, maximum: 100 }) }, { additionalProperties: false }),
      },
    },
    async (req) => {
      const accountId = numberOf(req.params.accountId);
      await auth.requireAccount(req, accountId);
      return enrollmentBody(await recordProgress(context, accountId, req.body));
    },
  );
  app.get(
    '/v1/accounts/:accountId/enrollments',
    {
      schema: {
        tags,
        summary: 'List enrollments, filtered; `cursor` is the previous page’s `next`.',
        params: AccountParams,
        querystring: Type.Object({
          userId: Type.Optional(digits({ positive: true })),
          loInstanceId: Type.Optional(Type.String()),
          loId: Type.Optional(Type.String()),
          loType: Type.Optional(Type.String()),
          state: Type.Optional(Type.Union(['ENROLLED', 'WAITLISTED', 'COMPLETED', 'UNENROLLED'].map((state) => Type.Literal(state)))),
          cursor: Type.Optional(digits({ positive: false })),
          limit: Type.Optional(digits({ positive: true })),
        }),
      },
    },
    async (req) => {
      const accountId = numberOf(req.params.accountId);
      await auth.requireAccount(req, accountId);
      const { cursor, limit: pageSize, state, userId, ...filter } = req.query;
      const offset = numberOf(cursor) ?? 0;
      const limit = Math.min(numberOf(pageSize) ?? 100, 1000);
      const page = await listEnrollments(context, accountId, {
        ...filter,
        userId: numberOf(userId),
        ...(state ? { state: state as Enrollment['state'] } : {}),
        offset,
        limit,
      });
      return { enrollments: page.map(enrollmentBody), next: page.length === limit ? offset + limit : null };
    },
  );
}
