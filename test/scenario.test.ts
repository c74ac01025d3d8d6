// One HTTP-driven scenario against a real `startProducer` server that touches every rule of SPEC §2.1, on both stores:
// the account's log must hold exactly the expected event names in order, each valid by the catalog.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { validateEvent } from '../src/catalog/index.ts';
import { loadSettings } from '../src/config.ts';
import type { LogEvent } from '../src/platform/event-log.ts';
import { type RunningProducer, startProducer } from '../src/server.ts';
import { untilSignalled } from './support/signals.ts';
import { dropTestDatabase, testDialects } from './support/test-databases.ts';

const dialects = await testDialects();
const adminToken = 'lh_admin_scenario';

for (const dialect of dialects) {
  describe(`platform scenario on ${dialect.name}`, { skip: dialect.skip }, () => {
    let producer: RunningProducer;
    let url: string;

    before(async () => {
      url = await dialect.freshUrl();
      const settings = loadSettings(
        { port: 0, host: '127.0.0.1', db: url, adminToken, logLevel: 'silent', progressDelay: '0s', pollIntervalMs: 50 },
        {},
      );
      producer = await startProducer(settings, { dispatch: false });
    });
    after(async () => {
      await producer?.stop();
      await dropTestDatabase(url);
    });

    async function call(
      method: string,
      path: string,
      body?: unknown,
      token = adminToken,
      expected = body === undefined && method === 'GET' ? 200 : undefined,
    ) {
      const response = await fetch(`${producer.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const json = await response.json();
      if (expected !== undefined) assert.equal(response.status, expected, JSON.stringify(json));
      else assert.ok(response.status < 300, `${method} ${path} answered ${response.status}: ${JSON.stringify(json)}`);
      return json;
    }

    async function log(accountId: number, token: string): Promise<LogEvent[]> {
      return (await call('GET', `/v1/accounts/${accountId}/events?limit=1000`, undefined, token)).events;
    }

    test('every rule, driven through the API, yields exactly the expected events in order', async () => {
      const account = await call('POST', '/v1/accounts', { name: 'Acme' });
      const token: string = account.token;
      const a = `/v1/accounts/${account.id}`;
      const expected: string[] = [];
      /** Does an action, records the events it must produce, and waits until the log (with released progress) has them. */
      async function step(names: string[], method: string, path: string, body?: unknown, status?: number) {
        const result = await call(method, `${a}${path}`, body, token, status);
        expected.push(...names);
        // Progress is released by a background pass: re-check the log each time events are appended to a log.
        await untilSignalled(
          producer.context.signals,
          ['events-appended'],
          async () => (await log(account.id, token)).length >= expected.length,
          {
            what: `${expected.length} events in the log`,
          },
        );
        return result;
      }
      const user = async (name: string) => (await step([], 'POST', '/users', { name, email: `${name}@example.com` })).id as number;
      const [ann, bob, cy] = [await user('ann'), await user('bob'), await user('cy')];
      const enrollment = (userId: number, loInstanceId: string, actor: string, extra = {}) => ({ userId, loInstanceId, actor, ...extra });

      // Learning objects: draft, draft update, publish, later change.
      const c1 = (await step(['LEARNING_OBJECT_DRAFT'], 'POST', '/learning-objects', { loType: 'course', name: 'Safety' })).id;
      await step(['LEARNING_OBJECT_DRAFT'], 'PATCH', `/learning-objects/${c1}`, { description: 'Updated draft' });
      await step(['LEARNING_OBJECT_MODIFICATION'], 'POST', `/learning-objects/${c1}/publish`);
      await step(['LEARNING_OBJECT_MODIFICATION'], 'PATCH', `/learning-objects/${c1}`, { name: 'Safety 2' });
      // Instances, seats and waitlist, CI_STATS.
      const i1 = (
        await step(['LEARNING_OBJECT_INSTANCE_MODIFICATION'], 'POST', `/learning-objects/${c1}/instances`, {
          name: 'Spring',
          seatLimit: 1,
          waitlistLimit: 1,
        })
      ).id;
      await step(['COURSE_ENROLLMENT', 'CI_STATS'], 'POST', '/enrollments', enrollment(ann, i1, 'learner'));
      const waitlisted = await step(['CI_STATS'], 'POST', '/enrollments', enrollment(bob, i1, 'admin'));
      assert.equal(waitlisted.state, 'WAITLISTED');
      await step([], 'POST', '/enrollments', enrollment(cy, i1, 'learner'), 409);
      await step(['LEARNING_OBJECT_INSTANCE_MODIFICATION', 'CI_STATS'], 'PATCH', `/learning-objects/${c1}/instances/${i1}`, {
        seatLimit: 2,
      });
      await step(['COURSE_ENROLLMENT_BATCH', 'CI_STATS'], 'POST', '/enrollments', enrollment(cy, i1, 'admin'));
      await step(['COURSE_UNENROLLMENT', 'CI_STATS'], 'POST', '/enrollments/unenroll', enrollment(cy, i1, 'learner'));
      await step(['CI_STATS'], 'POST', '/enrollments/unenroll', enrollment(bob, i1, 'manager'));
      await step(['COURSE_ENROLLMENT', 'CI_STATS'], 'POST', '/enrollments', enrollment(cy, i1, 'learner'));
      await step(['COURSE_UNENROLLMENT_BATCH', 'CI_STATS'], 'POST', '/enrollments/unenroll', enrollment(cy, i1, 'platform'));
      // Progress (delayed, here by 0 s) and completion by the learner and by an admin.
      await step(['LEARNER_PROGRESS'], 'POST', '/enrollments/progress', enrollment(ann, i1, 'learner', { progressPercent: 50 }));
      await step(['COURSE_COMPLETED'], 'POST', '/enrollments/complete', enrollment(ann, i1, 'learner', { hasPassed: true }));
      await step(['COURSE_ENROLLMENT_BATCH', 'CI_STATS'], 'POST', '/enrollments', enrollment(bob, i1, 'manager'));
      await step(['COURSE_COMPLETED_BATCH'], 'POST', '/enrollments/complete', enrollment(bob, i1, 'admin', { hasPassed: false }));
      // Deletion only for self-paced course instances.
      const selfPaced = (
        await step(['LEARNING_OBJECT_INSTANCE_MODIFICATION'], 'POST', `/learning-objects/${c1}/instances`, {
          name: 'On demand',
          selfPaced: true,
        })
      ).id;
      await step(['LEARNING_OBJECT_INSTANCE_DELETION'], 'DELETE', `/learning-objects/${c1}/instances/${selfPaced}`);
      await step([], 'DELETE', `/learning-objects/${c1}/instances/${i1}`, undefined, 409);
      // A learning path: events for the parent only; two progress events per course; completion when all courses are.
      const courseWithInstance = async (name: string) => {
        const id = (await step(['LEARNING_OBJECT_DRAFT'], 'POST', '/learning-objects', { loType: 'course', name })).id;
        await step(['LEARNING_OBJECT_MODIFICATION'], 'POST', `/learning-objects/${id}/publish`);
        const instance = (
          await step(['LEARNING_OBJECT_INSTANCE_MODIFICATION'], 'POST', `/learning-objects/${id}/instances`, { name: 'Default' })
        ).id;
        return [id, instance];
      };
      const [c2, c2i] = await courseWithInstance('Forklifts');
      const [c3, c3i] = await courseWithInstance('Ladders');
      const path = (
        await step(['LEARNING_OBJECT_DRAFT'], 'POST', '/learning-objects', {
          loType: 'learningProgram',
          name: 'Warehouse',
          children: [c2, c3],
        })
      ).id;
      await step(['LEARNING_OBJECT_MODIFICATION'], 'POST', `/learning-objects/${path}/publish`);
      const pathInstance = (
        await step(['LEARNING_OBJECT_INSTANCE_MODIFICATION'], 'POST', `/learning-objects/${path}/instances`, { name: 'Cohort' })
      ).id;
      await step(['LEARNING_PATH_ENROLLMENT'], 'POST', '/enrollments', enrollment(ann, pathInstance, 'learner'));
      await step([], 'POST', '/enrollments/unenroll', enrollment(ann, c2i, 'learner'), 409);
      await step(
        ['LEARNER_PROGRESS', 'LEARNER_PROGRESS'],
        'POST',
        '/enrollments/progress',
        enrollment(ann, c2i, 'learner', { progressPercent: 30 }),
      );
      await step(['LEARNER_PROGRESS', 'LEARNER_PROGRESS'], 'POST', '/enrollments/complete', enrollment(ann, c2i, 'learner'));
      await step(
        ['LEARNING_PATH_COMPLETED_BATCH', 'LEARNER_PROGRESS', 'LEARNER_PROGRESS'],
        'POST',
        '/enrollments/complete',
        enrollment(ann, c3i, 'admin'),
      );
      await step(['LEARNING_PATH_ENROLLMENT_BATCH'], 'POST', '/enrollments', enrollment(bob, pathInstance, 'admin'));
      await step(['LEARNING_PATH_UNENROLLMENT'], 'POST', '/enrollments/unenroll', enrollment(bob, pathInstance, 'learner'));
      await step(['LEARNING_PATH_ENROLLMENT'], 'POST', '/enrollments', enrollment(cy, pathInstance, 'learner'));
      await step(['LEARNING_PATH_UNENROLLMENT_BATCH'], 'POST', '/enrollments/unenroll', enrollment(cy, pathInstance, 'manager'));
      // A certification from the migration workflow (its instances have no instance events).
      const cert = (
        await step(['LEARNING_OBJECT_MODIFICATION_BATCH'], 'POST', '/learning-objects', {
          loType: 'certification',
          name: 'Licence',
          children: [c2],
          via: 'migration',
        })
      ).id;
      const certInstance = (await step([], 'POST', `/learning-objects/${cert}/instances`, { name: 'Cert', via: 'migration' })).id;
      await step(['CERTIFICATION_ENROLLMENT_BATCH'], 'POST', '/enrollments', enrollment(cy, certInstance, 'platform'));
      await step(
        ['CERTIFICATION_COMPLETED', 'LEARNER_PROGRESS', 'LEARNER_PROGRESS'],
        'POST',
        '/enrollments/complete',
        enrollment(cy, c2i, 'learner'),
      );
      await step(['CERTIFICATION_ENROLLMENT'], 'POST', '/enrollments', enrollment(bob, certInstance, 'learner'));
      await step(['CERTIFICATION_UNENROLLMENT'], 'POST', '/enrollments/unenroll', enrollment(bob, certInstance, 'learner'));
      await step(['CERTIFICATION_ENROLLMENT'], 'POST', '/enrollments', enrollment(bob, certInstance, 'learner'));
      await step(['CERTIFICATION_UNENROLLMENT_BATCH'], 'POST', '/enrollments/unenroll', enrollment(bob, certInstance, 'admin'));
      await step(['CERTIFICATION_ENROLLMENT'], 'POST', '/enrollments', enrollment(ann, certInstance, 'learner'));
      await step(['CERTIFICATION_COMPLETED_BATCH'], 'POST', '/enrollments/complete', enrollment(ann, certInstance, 'admin'));
      await step(['LEARNING_PATH_ENROLLMENT'], 'POST', '/enrollments', enrollment(bob, pathInstance, 'learner'));
      await step(['LEARNING_PATH_COMPLETED'], 'POST', '/enrollments/complete', enrollment(bob, pathInstance, 'learner'));
      // Migration of a course and its instance.
      const migrated = (
        await step(['LEARNING_OBJECT_MODIFICATION_BATCH'], 'POST', '/learning-objects', {
          loType: 'course',
          name: 'Legacy',
          via: 'migration',
        })
      ).id;
      await step(['LEARNING_OBJECT_INSTANCE_MODIFICATION_BATCH'], 'POST', `/learning-objects/${migrated}/instances`, {
        name: 'Legacy run',
        via: 'migration',
      });
      await step(['LEARNING_OBJECT_MODIFICATION_BATCH'], 'PATCH', `/learning-objects/${migrated}`, { name: 'Legacy 2', via: 'migration' });
      // Retiring cascades to every live instance; deletion; a deleted LO cannot be published; job aids are silent.
      await step(['LEARNING_OBJECT_MODIFICATION', 'LEARNING_OBJECT_INSTANCE_MODIFICATION'], 'POST', `/learning-objects/${c1}/retire`);
      const doomed = (await step(['LEARNING_OBJECT_DRAFT'], 'POST', '/learning-objects', { loType: 'course', name: 'Doomed' })).id;
      await step(['LEARNING_OBJECT_DELETION'], 'DELETE', `/learning-objects/${doomed}`);
      await step([], 'POST', `/learning-objects/${doomed}/publish`, undefined, 409);
      const jobAid = (await step([], 'POST', '/learning-objects', { loType: 'jobAid', name: 'Checklist' })).id;
      await step([], 'POST', `/learning-objects/${jobAid}/publish`);
      await step([], 'DELETE', `/learning-objects/${jobAid}`);
      // Suspending is a modification.
      await step(['LEARNING_OBJECT_INSTANCE_MODIFICATION'], 'PATCH', `/learning-objects/${c3}/instances/${c3i}`, { state: 'suspended' });

      await sleep(200);
      const events = await log(account.id, token);
      assert.deepEqual(
        events.map((event) => event.eventName),
        expected,
      );
      assert.deepEqual(
        events.map((event) => event.seq),
        expected.map((_, index) => index + 1),
        'a gap-free sequence',
      );
      for (const { seq, ...event } of events) assert.deepEqual(validateEvent(event, `event ${seq}`), []);
      const platformTimes = events.filter((event) => event.eventName !== 'LEARNER_PROGRESS').map((event) => Date.parse(event.timestamp));
      assert.ok(
        platformTimes.every((time, index) => index === 0 || time > (platformTimes[index - 1] ?? 0)),
        'platform events have strictly increasing timestamps',
      );
      const pathProgress = events.filter((event) => event.eventName === 'LEARNER_PROGRESS' && event.data.loId === path);
      assert.deepEqual(
        pathProgress.map((event) => event.data.progressPercent),
        [15, 50, 100],
      );
      const eventNames = new Set(events.map((event) => event.eventName));
      assert.equal(eventNames.size, 27, `every catalog event appears; missing: ${27 - eventNames.size}`);
    });

    test('an account that is not ACTIVE changes its rows but its log stays empty', async () => {
      const trial = await call('POST', '/v1/accounts', { name: 'Trial', status: 'TRIAL' });
      const t = `/v1/accounts/${trial.id}`;
      const course = await call('POST', `${t}/learning-objects`, { loType: 'course', name: 'T' }, trial.token);
      await call('POST', `${t}/learning-objects/${course.id}/publish`, undefined, trial.token);
      const instance = await call('POST', `${t}/learning-objects/${course.id}/instances`, { name: 'I', seatLimit: 3 }, trial.token);
      const user = await call('POST', `${t}/users`, { name: 'Tia', email: 'tia@example.com' }, trial.token);
      await call('POST', `${t}/enrollments`, { userId: user.id, loInstanceId: instance.id, actor: 'learner' }, trial.token);
      await call(
        'POST',
        `${t}/enrollments/progress`,
        { userId: user.id, loInstanceId: instance.id, actor: 'learner', progressPercent: 10 },
        trial.token,
      );
      await sleep(200);
      const read = await call('GET', `${t}/learning-objects/${course.id}`, undefined, trial.token);
      assert.equal(read.state, 'published');
      assert.equal(read.instances[0].enrollmentCount, 1);
      assert.deepEqual(await log(trial.id, trial.token), []);
    });
  });
}
