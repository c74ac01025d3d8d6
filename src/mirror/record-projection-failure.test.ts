// The poison-row escape on both stores: a row whose projection keeps throwing is set aside after a few attempts,
// the rows behind it are applied, it is counted, alerted and kept, and `retryFailed` puts it back in line.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dropTestDatabase, testDialects } from '../../test/support/test-databases.ts';
import { type Receiver, startReceiver } from '../../test/support/test-receiver.ts';
import { sampleEvent } from '../catalog/index.ts';
import { loadSettings } from '../config.ts';
import type { MirrorStatus } from './read-status.ts';
import { isSetAside } from './record-projection-failure.ts';
import { retryFailed } from './retry-failed.ts';
import { type RunningMirror, startMirror } from './start-mirror.ts';

const dialects = await testDialects();
const accountId = 21;

function enrollmentBody(eventId: string, userId: number): string {
  const event = sampleEvent('COURSE_ENROLLMENT');
  return JSON.stringify({ accountId, events: [{ ...event, eventId, data: { ...event.data, userId } }] });
}

async function post(mirror: RunningMirror, body: string, sequence: string): Promise<number> {
  const response = await fetch(`${mirror.url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'webhook-id': `msg_${sequence}`, 'learnhook-sequence': sequence },
    body,
  });
  await response.body?.cancel();
  return response.status;
}

async function status(mirror: RunningMirror): Promise<MirrorStatus> {
  return (await (await fetch(`${mirror.url}/status`)).json()) as MirrorStatus;
}

/** Polls GET /status until `done` holds, for at most ten seconds. */
async function waitFor(mirror: RunningMirror, done: (current: MirrorStatus) => boolean): Promise<MirrorStatus> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const current = await status(mirror);
    if (done(current) || Date.now() > deadline) return current;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

test('a row is set aside when its failures reach the allowed attempts, never before', () => {
  assert.equal(isSetAside(1, 3), false);
  assert.equal(isSetAside(2, 3), false);
  assert.equal(isSetAside(3, 3), true);
  // Zero or less still tries once: a row is never set aside untried.
  assert.equal(isSetAside(1, 0), true);
});

for (const dialect of dialects) {
  describe(`poison inbox rows on ${dialect.name}`, { skip: dialect.skip }, () => {
    let mirror: RunningMirror;
    let url: string;
    let alertReceiver: Receiver;
    const alerts = () => alertReceiver.deliveries.map((delivery) => JSON.parse(delivery.raw) as Record<string, unknown>);
    before(async () => {
      alertReceiver = await startReceiver(() => ({ status: 204 }));
      url = await dialect.freshUrl();
      const alertUrl = alertReceiver.url;
      mirror = await startMirror(
        loadSettings({ db: url, port: 0, logLevel: 'silent', pollIntervalMs: 20, projectionAttempts: 3, alertUrl }, {}),
      );
    });
    after(async () => {
      await mirror?.stop();
      await dropTestDatabase(url);
      await alertReceiver?.close();
    });

    test('a poisoned row neither blocks the rows behind it nor is lost, and retry-failed applies it once fixed', async () => {
      const { db } = mirror.context.database;
      // A body the receiver would never store (it is not JSON), written straight into the inbox: projecting it throws.
      const poisoned = await db
        .insertInto('inbox')
        .values({
          batch_id: 'msg_poison',
          account_id: accountId,
          seq_first: 1,
          seq_last: 1,
          replay: 0,
          test: 0,
          event_count: 1,
          body: '{"accountId": 21, "events": [',
          received_at: Date.now(),
          processed_at: null,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      assert.equal(await post(mirror, enrollmentBody('p-2', 2), '2-2'), 202);
      assert.equal(await post(mirror, enrollmentBody('p-3', 3), '3-3'), 202);

      let current = await waitFor(mirror, (s) => s.inbox.setAside === 1 && s.inbox.backlog === 0);
      assert.equal(current.inbox.setAside, 1);
      assert.equal(current.inbox.backlog, 0, 'the rows behind the poisoned one were applied');
      assert.equal(current.counts.unprocessable, 1);
      const enrolled = await db
        .selectFrom('enrollments')
        .select('user_id')
        .where('account_id', '=', accountId)
        .orderBy('user_id')
        .execute();
      assert.deepEqual(
        enrolled.map((row) => row.user_id),
        [2, 3],
      );

      const row = await db.selectFrom('inbox').selectAll().where('id', '=', poisoned.id).executeTakeFirstOrThrow();
      assert.equal(row.attempts, 3, 'tried exactly --projection-attempts times');
      assert.notEqual(row.failed_at, null);
      assert.equal(row.processed_at, null);
      assert.match(row.last_error ?? '', /JSON/);
      const anomaly = await db.selectFrom('anomalies').selectAll().where('kind', '=', 'unprocessable').executeTakeFirstOrThrow();
      assert.equal(anomaly.inbox_id, poisoned.id);
      assert.equal(anomaly.account_id, accountId);

      const metrics = await (await fetch(`${mirror.url}/metrics`)).text();
      assert.match(metrics, /learnhook_mirror_inbox_set_aside 1/);
      const deadline = Date.now() + 5000;
      while (!alerts().some((alert) => alert.kind === 'unprocessable') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const alert = alerts().find((candidate) => candidate.kind === 'unprocessable');
      assert.ok(alert, 'the alert endpoint heard of the set-aside row');
      assert.equal(alert.inboxId, poisoned.id);
      assert.equal(alerts().filter((candidate) => candidate.kind === 'unprocessable').length, 1);

      // Set aside means skipped: the projector leaves it alone however often it runs.
      await mirror.projector.drain();
      const still = await db.selectFrom('inbox').select(['attempts', 'failed_at']).where('id', '=', poisoned.id).executeTakeFirstOrThrow();
      assert.equal(still.attempts, 3);

      // The operator fixes the cause (here: the body), then puts the row back in line; it is applied, the gap closes.
      await db
        .updateTable('inbox')
        .set({ body: enrollmentBody('p-1', 1) })
        .where('id', '=', poisoned.id)
        .execute();
      assert.equal((await retryFailed(mirror.context.database)).rows, 1);
      assert.equal((await retryFailed(mirror.context.database)).rows, 0, 'nothing is left to retry');
      await mirror.projector.drain();
      current = await status(mirror);
      assert.equal(current.inbox.setAside, 0);
      assert.equal(current.inbox.backlog, 0);
      assert.equal(current.openGaps.filter((gap) => gap.accountId === accountId).length, 0);
      const applied = await db
        .selectFrom('inbox')
        .select(['processed_at', 'failed_at'])
        .where('id', '=', poisoned.id)
        .executeTakeFirstOrThrow();
      assert.notEqual(applied.processed_at, null);
      assert.equal(applied.failed_at, null);
      const all = await db.selectFrom('enrollments').select('user_id').where('account_id', '=', accountId).orderBy('user_id').execute();
      assert.deepEqual(
        all.map((r) => r.user_id),
        [1, 2, 3],
      );
    });
  });
}
