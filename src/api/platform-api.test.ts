// The platform API on both stores: actions and reads, and every kind of bad input answered with a 4xx that writes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDialects } from '../../test/support/test-databases.ts';
import { openTestPlatform, type TestPlatform } from '../../test/support/test-platform.ts';
import { sampleEvent, validateEvent } from '../catalog/index.ts';

const dialects = await testDialects();

for (const dialect of dialects) {
  describe(`platform API on ${dialect.name}`, { skip: dialect.skip }, () => {
    let platform: TestPlatform;
    let accountId: number;
    let token: string;
    let otherToken: string;
    let userId: number;
    let courseId: string;
    let instanceId: string;
    const base = () => `/v1/accounts/${accountId}`;

    /** Runs a request that must be refused with `status`, and proves nothing was written. */
    async function refused(status: number, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, as?: string) {
      const before = await platform.snapshot();
      const response = await platform.call(method, url, body, as);
      assert.equal(response.statusCode, status, response.body);
      const error = response.json().error;
      assert.equal(typeof error.message, 'string');
      assert.ok(error.message.length > 10, 'the message says what is wrong');
      assert.deepEqual(await platform.snapshot(), before, 'a refused request writes nothing');
      return error as { code: string; message: string };
    }

    before(async () => {
      platform = await openTestPlatform(dialect, { bodyLimit: 4096 });
      const account = (await platform.call('POST', '/v1/accounts', { name: 'Acme' })).json();
      accountId = account.id;
      token = account.token;
      otherToken = (await platform.call('POST', '/v1/accounts', { name: 'Other' })).json().token;
      userId = (await platform.call('POST', `${base()}/users`, { name: 'Ann', email: 'ann@example.com' }, token)).json().id;
      courseId = (await platform.call('POST', `${base()}/learning-objects`, { loType: 'course', name: 'Safety' }, token)).json().id;
      await platform.call('POST', `${base()}/learning-objects/${courseId}/publish`, undefined, token);
      const instance = await platform.call(
        'POST',
        `${base()}/learning-objects/${courseId}/instances`,
        { name: 'Spring', seatLimit: 1 },
        token,
      );
      instanceId = instance.json().id;
    });
    after(async () => {
      await platform?.close();
    });

    test('an action writes its rows and appends its events in one go; the log reads back in order', async () => {
      const enrolled = await platform.call('POST', `${base()}/enrollments`, { userId, loInstanceId: instanceId, actor: 'admin' }, token);
      assert.equal(enrolled.statusCode, 201, enrolled.body);
      assert.equal(enrolled.json().state, 'ENROLLED');
      const log = (await platform.call('GET', `${base()}/events`, undefined, token)).json();
      assert.deepEqual(
        log.events.map((event: { eventName: string }) => event.eventName),
        [
          'LEARNING_OBJECT_DRAFT',
          'LEARNING_OBJECT_MODIFICATION',
          'LEARNING_OBJECT_INSTANCE_MODIFICATION',
          'COURSE_ENROLLMENT_BATCH',
          'CI_STATS',
        ],
      );
      assert.deepEqual(
        log.events.map((event: { seq: number }) => event.seq),
        [1, 2, 3, 4, 5],
      );
      for (const { seq: _seq, ...event } of log.events) assert.deepEqual(validateEvent(event), []);
      const page = (await platform.call('GET', `${base()}/events?after=3&limit=1`, undefined, token)).json();
      assert.deepEqual([page.events[0].seq, page.next], [4, 4]);
      const enrollments = (await platform.call('GET', `${base()}/enrollments?userId=${userId}&state=ENROLLED`, undefined, token)).json();
      assert.equal(enrollments.enrollments.length, 1);
      assert.equal(enrollments.enrollments[0].enrollmentSource, 'ADMIN_ENROLL');
    });

    test('accounts: read with its own token, changed by the admin only, hidden from other accounts', async () => {
      const read = await platform.call('GET', base(), undefined, token);
      assert.equal(read.statusCode, 200, read.body);
      assert.equal(read.json().name, 'Acme');
      await refused(404, 'GET', base(), undefined, otherToken);
      await refused(403, 'PATCH', base(), { name: 'Mine now' }, token);
      await refused(400, 'PATCH', base(), { status: 'SLEEPING' });
      const renamed = await platform.call('PATCH', base(), { name: 'Acme Ltd' });
      assert.equal(renamed.json().name, 'Acme Ltd');
    });

    test('the OpenAPI document at /docs lists the platform and public read API; /healthz answers', async () => {
      const docs = (await platform.call('GET', '/docs')).json();
      for (const path of [
        '/v1/accounts/{accountId}/enrollments',
        '/v1/accounts/{accountId}/learning-objects/{loId}/instances',
        '/v1/accounts/{accountId}/events',
        '/primeapi/v2/learningObjects',
        '/primeapi/v2/reports/training.csv',
      ]) {
        assert.ok(docs.paths[path], `${path} is documented`);
      }
      assert.deepEqual((await platform.call('GET', '/healthz')).json(), { status: 'ok' });
    });

    test('concurrent enrollments never oversell seats: exactly the seats, then the waitlist, then 409; CI_STATS counts stay exact', async () => {
      const course = (
        await platform.call('POST', `${base()}/learning-objects`, { loType: 'course', name: 'Rush', via: 'migration' }, token)
      ).json().id;
      const rush = (
        await platform.call(
          'POST',
          `${base()}/learning-objects/${course}/instances`,
          { name: 'Rush', seatLimit: 5, waitlistLimit: 3 },
          token,
        )
      ).json().id;
      const learners = await Promise.all(
        Array.from(
          { length: 20 },
          async (_, index) =>
            (await platform.call('POST', `${base()}/users`, { name: `R${index}`, email: `r${index}@example.com` }, token)).json()
              .id as number,
        ),
      );
      const before = (await platform.call('GET', `${base()}/events?limit=1000`, undefined, token)).json().events.length;
      const answers = await Promise.all(
        learners.map((learner) =>
          platform.call('POST', `${base()}/enrollments`, { userId: learner, loInstanceId: rush, actor: 'learner' }, token),
        ),
      );
      const states = answers.filter((answer) => answer.statusCode === 201).map((answer) => answer.json().state);
      assert.equal(states.filter((state) => state === 'ENROLLED').length, 5);
      assert.equal(states.filter((state) => state === 'WAITLISTED').length, 3);
      assert.equal(answers.filter((answer) => answer.statusCode === 409).length, 12);
      const events = (await platform.call('GET', `${base()}/events?after=${before}&limit=1000`, undefined, token)).json().events;
      const stats = events
        .filter((event: { eventName: string }) => event.eventName === 'CI_STATS')
        .map((event: { data: Record<string, number> }) => [event.data.enrollmentCount, event.data.waitlistCount]);
      assert.deepEqual(stats, [
        [1, 0],
        [2, 0],
        [3, 0],
        [4, 0],
        [5, 0],
        [5, 1],
        [5, 2],
        [5, 3],
      ]);
      assert.equal(events.filter((event: { eventName: string }) => event.eventName === 'COURSE_ENROLLMENT').length, 5);
      assert.deepEqual(
        events.map((event: { seq: number }) => event.seq),
        events.map((_: unknown, index: number) => before + index + 1),
      );
    });

    test('malformed JSON answers 400 and writes nothing', async () => {
      const error = await refused(400, 'POST', `${base()}/learning-objects`, '{"loType": "course", "name": ', token);
      assert.equal(error.code, 'malformed_json');
    });

    test('wrong types answer 400 naming the field', async () => {
      const error = await refused(400, 'POST', `${base()}/users`, { name: 5, email: 'x@example.com' }, token);
      assert.match(error.message, /name/);
      await refused(400, 'POST', `${base()}/enrollments`, { userId: 'ann', loInstanceId: instanceId, actor: 'learner' }, token);
      await refused(400, 'POST', `${base()}/enrollments`, { userId, loInstanceId: instanceId, actor: 'robot' }, token);
    });

    test('unknown fields answer 400 naming them', async () => {
      const error = await refused(400, 'POST', `${base()}/learning-objects`, { loType: 'course', name: 'X', colour: 'red' }, token);
      assert.match(error.message, /unknown field "colour"/);
      await refused(400, 'PATCH', `${base()}/learning-objects/${courseId}/instances/${instanceId}`, { seats: 3 }, token);
    });

    test('oversized bodies answer 413', async () => {
      const error = await refused(
        413,
        'POST',
        `${base()}/learning-objects`,
        { loType: 'course', name: 'x', description: 'y'.repeat(5000) },
        token,
      );
      assert.equal(error.code, 'body_too_large');
    });

    test('unknown ids answer 404', async () => {
      await refused(404, 'POST', `${base()}/learning-objects/course:999999/publish`, undefined, token);
      await refused(404, 'POST', `${base()}/enrollments`, { userId: 999999, loInstanceId: instanceId, actor: 'learner' }, token);
      await refused(404, 'POST', `${base()}/enrollments`, { userId, loInstanceId: 'course:1_999999', actor: 'learner' }, token);
      await refused(404, 'GET', `${base()}/users/999999`, undefined, token);
      await refused(404, 'GET', '/v1/accounts/999999/events', undefined);
    });

    test("another account's resources answer 404", async () => {
      await refused(404, 'GET', `${base()}/learning-objects/${courseId}`, undefined, otherToken);
      await refused(404, 'POST', `${base()}/learning-objects/${courseId}/retire`, undefined, otherToken);
      await refused(404, 'GET', `${base()}/events`, undefined, otherToken);
      await refused(404, 'POST', `${base()}/events`, { events: [sampleEvent('CI_STATS')] }, otherToken);
    });

    test('illegal transitions answer 409: publish a deleted LO, delete a non-self-paced instance, enroll in a full instance', async () => {
      const draft = (await platform.call('POST', `${base()}/learning-objects`, { loType: 'course', name: 'Gone' }, token)).json();
      assert.equal((await platform.call('DELETE', `${base()}/learning-objects/${draft.id}`, undefined, token)).statusCode, 200);
      const deleted = await refused(409, 'POST', `${base()}/learning-objects/${draft.id}/publish`, undefined, token);
      assert.match(deleted.message, /deleted/);
      const kept = await refused(409, 'DELETE', `${base()}/learning-objects/${courseId}/instances/${instanceId}`, undefined, token);
      assert.match(kept.message, /self-paced/);
      const bob = (await platform.call('POST', `${base()}/users`, { name: 'Bob', email: 'bob@example.com' }, token)).json().id;
      const full = await refused(409, 'POST', `${base()}/enrollments`, { userId: bob, loInstanceId: instanceId, actor: 'learner' }, token);
      assert.equal(full.code, 'instance_full');
      await refused(409, 'POST', `${base()}/enrollments/complete`, { userId: bob, loInstanceId: instanceId, actor: 'learner' }, token);
    });

    test('raw publishing validates every event, all or nothing, and names each problem', async () => {
      const good = { ...sampleEvent('COURSE_ENROLLMENT'), eventId: 'raw-1' };
      const unknownName = { ...sampleEvent('CI_STATS'), eventId: 'raw-2', eventName: 'COURSE_TELEPORTED' };
      const badData = { ...sampleEvent('CI_STATS'), eventId: 'raw-3', data: { loInstanceId: 'course:1_2', waitlistCount: 'many' } };
      const error = await refused(400, 'POST', `${base()}/events`, { events: [good, unknownName, badData] }, token);
      assert.match(error.message, /events\[1\]\.eventName "COURSE_TELEPORTED" is not an event of the catalog/);
      assert.match(error.message, /events\[2\]/);
      await refused(400, 'POST', `${base()}/events`, { events: [] }, token);
      await refused(400, 'POST', `${base()}/events`, { events: [good], extra: true }, token);
    });

    test('raw publishing appends in order and is idempotent by eventId', async () => {
      const first = { ...sampleEvent('LEARNING_OBJECT_DRAFT'), eventId: 'raw-10' };
      const second = { ...sampleEvent('CI_STATS'), eventId: 'raw-11' };
      const published = await platform.call('POST', `${base()}/events`, { events: [first, second] }, token);
      assert.equal(published.statusCode, 200, published.body);
      const { accepted, duplicates } = published.json();
      assert.deepEqual(
        accepted.map((entry: { eventId: string }) => entry.eventId),
        ['raw-10', 'raw-11'],
      );
      assert.equal(accepted[1].seq, accepted[0].seq + 1);
      assert.deepEqual(duplicates, []);
      const again = (await platform.call('POST', `${base()}/events`, { events: [second, first] }, token)).json();
      assert.deepEqual(again, { accepted: [], duplicates: ['raw-11', 'raw-10'] });
      const log = (await platform.call('GET', `${base()}/events?after=${accepted[0].seq - 1}`, undefined, token)).json();
      assert.deepEqual(log.events[0].timestamp, first.timestamp, 'raw events keep their own timestamp');
    });

    test('accounts that are not ACTIVE change their rows but emit no events, and refuse raw publishing with 409', async () => {
      const trial = (await platform.call('POST', '/v1/accounts', { name: 'Trial', status: 'TRIAL' })).json();
      const created = await platform.call(
        'POST',
        `/v1/accounts/${trial.id}/learning-objects`,
        { loType: 'course', name: 'T' },
        trial.token,
      );
      assert.equal(created.statusCode, 201);
      assert.equal(
        (
          await platform.call('POST', `/v1/accounts/${trial.id}/learning-objects/${created.json().id}/publish`, undefined, trial.token)
        ).json().state,
        'published',
      );
      assert.deepEqual((await platform.call('GET', `/v1/accounts/${trial.id}/events`, undefined, trial.token)).json().events, []);
      const error = await refused(409, 'POST', `/v1/accounts/${trial.id}/events`, { events: [sampleEvent('CI_STATS')] }, trial.token);
      assert.equal(error.code, 'account_not_active');
    });
  });
}
