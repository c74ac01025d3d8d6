// Held-back LEARNER_PROGRESS on both stores: appended once due, with its original timestamp, exactly once under concurrent release.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDialects } from '../../test/support/test-databases.ts';
import { openTestPlatform, type TestPlatform } from '../../test/support/test-platform.ts';
import { releaseScheduledEvents } from './release-scheduled-events.ts';

const dialects = await testDialects();

for (const dialect of dialects) {
  describe(`scheduled progress release on ${dialect.name}`, { skip: dialect.skip }, () => {
    let platform: TestPlatform;
    let clock = Date.parse('2026-05-01T08:00:00.000Z');
    let base: string;
    let token: string;
    let userId: number;
    let instanceId: string;

    before(async () => {
      platform = await openTestPlatform(dialect, { progressDelay: { minMs: 60_000, maxMs: 60_000 } }, { now: () => clock });
      const account = (await platform.call('POST', '/v1/accounts', { name: 'Acme' })).json();
      base = `/v1/accounts/${account.id}`;
      token = account.token;
      userId = (await platform.call('POST', `${base}/users`, { name: 'Ann', email: 'ann@example.com' }, token)).json().id;
      const course = (
        await platform.call('POST', `${base}/learning-objects`, { loType: 'course', name: 'C', via: 'migration' }, token)
      ).json();
      instanceId = (await platform.call('POST', `${base}/learning-objects/${course.id}/instances`, { name: 'I' }, token)).json().id;
      await platform.call('POST', `${base}/enrollments`, { userId, loInstanceId: instanceId, actor: 'learner' }, token);
    });
    after(async () => {
      await platform?.close();
    });

    const names = async () =>
      (await platform.call('GET', `${base}/events`, undefined, token)).json().events.map((event: { eventName: string }) => event.eventName);

    test('progress is appended only when due, keeps the time it happened, and may follow a later completion', async () => {
      const progressAt = clock;
      const progressed = await platform.call(
        'POST',
        `${base}/enrollments/progress`,
        { userId, loInstanceId: instanceId, actor: 'learner', progressPercent: 60 },
        token,
      );
      assert.equal(progressed.statusCode, 200, progressed.body);
      clock += 30_000;
      assert.equal(await releaseScheduledEvents(platform.context), 0, 'not due yet');
      await platform.call('POST', `${base}/enrollments/complete`, { userId, loInstanceId: instanceId, actor: 'learner' }, token);
      clock += 30_000;
      assert.equal(await releaseScheduledEvents(platform.context), 1);
      const log = (await platform.call('GET', `${base}/events`, undefined, token)).json().events;
      const tail = log.slice(-2);
      assert.deepEqual(
        tail.map((event: { eventName: string }) => event.eventName),
        ['COURSE_COMPLETED', 'LEARNER_PROGRESS'],
      );
      assert.equal(tail[1].timestamp, new Date(progressAt).toISOString(), 'the original progress time');
      assert.ok(Date.parse(tail[1].timestamp) < Date.parse(tail[0].timestamp), 'earlier than the completion it follows in the log');
      assert.equal(tail[1].data.progressPercent, 60);
      assert.equal(await releaseScheduledEvents(platform.context), 0, 'nothing is appended twice');
    });

    test('concurrent releases append each due event exactly once', async () => {
      const second = (await platform.call('POST', `${base}/users`, { name: 'Bob', email: 'bob@example.com' }, token)).json().id;
      await platform.call('POST', `${base}/enrollments`, { userId: second, loInstanceId: instanceId, actor: 'learner' }, token);
      for (const percent of [10, 20, 30, 40, 50]) {
        await platform.call(
          'POST',
          `${base}/enrollments/progress`,
          { userId: second, loInstanceId: instanceId, actor: 'learner', progressPercent: percent },
          token,
        );
      }
      const before = (await names()).length;
      clock += 120_000;
      const released = await Promise.all([
        releaseScheduledEvents(platform.context),
        releaseScheduledEvents(platform.context),
        releaseScheduledEvents(platform.context),
      ]);
      assert.equal(
        released.reduce((sum, count) => sum + count, 0),
        5,
      );
      const log = (await platform.call('GET', `${base}/events?after=${before}`, undefined, token)).json().events;
      assert.deepEqual(
        log.map((event: { data: { progressPercent: number } }) => event.data.progressPercent),
        [10, 20, 30, 40, 50],
      );
      const left = await platform.database.db.selectFrom('scheduled_events').select('id').execute();
      assert.deepEqual(left, []);
    });
  });
}
