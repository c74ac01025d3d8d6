// The mirror's receiver and projector over real HTTP on both stores: verify, store, 202, dedupe, gaps, alerts, status.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { dropTestDatabase, testDialects } from '../../test/support/test-databases.ts';
import { type Receiver, startReceiver } from '../../test/support/test-receiver.ts';
import { sampleEvent } from '../catalog/index.ts';
import { loadSettings } from '../config.ts';
import type { MirrorStatus } from './read-status.ts';
import { type RunningMirror, startMirror } from './start-mirror.ts';

const dialects = await testDialects();
const secret = `whsec_${randomBytes(24).toString('base64')}`;

interface Delivery {
  body: string;
  batchId?: string;
  sequence?: string;
  signedAt?: number;
  signWith?: string;
  headers?: Record<string, string>;
}

async function deliver(mirror: RunningMirror, delivery: Delivery): Promise<{ status: number; json: Record<string, unknown> }> {
  const batchId = delivery.batchId ?? `msg_${randomBytes(8).toString('hex')}`;
  const signedAt = delivery.signedAt ?? Date.now();
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'webhook-id': batchId,
    'webhook-timestamp': String(Math.floor(signedAt / 1000)),
    'webhook-signature': new Webhook(delivery.signWith ?? secret).sign(
      batchId,
      new Date(Math.floor(signedAt / 1000) * 1000),
      delivery.body,
    ),
    ...(delivery.sequence ? { 'learnhook-sequence': delivery.sequence } : {}),
    ...delivery.headers,
  };
  const response = await fetch(`${mirror.url}/webhook`, { method: 'POST', headers, body: delivery.body });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

function envelope(accountId: number, events: unknown[]): string {
  return JSON.stringify({ accountId, events });
}

function enrollment(eventId: string, timestamp: string | number, extra: Record<string, unknown> = {}) {
  return { ...sampleEvent('COURSE_ENROLLMENT'), eventId, timestamp, ...extra };
}

async function status(mirror: RunningMirror): Promise<MirrorStatus> {
  return (await (await fetch(`${mirror.url}/status`)).json()) as MirrorStatus;
}

for (const dialect of dialects) {
  describe(`mirror receiver on ${dialect.name}`, { skip: dialect.skip }, () => {
    let mirror: RunningMirror;
    let url: string;
    let alertReceiver: Receiver;
    const alerts = () => alertReceiver.deliveries.map((delivery) => JSON.parse(delivery.raw) as Record<string, unknown>);
    before(async () => {
      alertReceiver = await startReceiver(() => ({ status: 204 }));
      url = await dialect.freshUrl();
      const settings = loadSettings(
        {
          db: url,
          port: 0,
          logLevel: 'silent',
          mirrorSecret: `whsec_${randomBytes(24).toString('base64')} ${secret}`,
          bodyLimit: 64 * 1024,
          pollIntervalMs: 50,
          alertUrl: alertReceiver.url,
        },
        {},
      );
      mirror = await startMirror(settings);
    });
    after(async () => {
      await mirror?.stop();
      await dropTestDatabase(url);
      await alertReceiver?.close();
    });

    const inboxCount = async () => (await mirror.context.database.db.selectFrom('inbox').select('id').execute()).length;

    test('a signed delivery is stored and answered 202, then applied', async () => {
      const result = await deliver(mirror, { body: envelope(11, [enrollment('a-1', '2026-01-01T10:00:00.000Z')]), sequence: '1-1' });
      assert.equal(result.status, 202);
      assert.equal(result.json.status, 'accepted');
      await mirror.projector.drain();
      const row = await mirror.context.database.db
        .selectFrom('enrollments')
        .selectAll()
        .where('account_id', '=', 11)
        .executeTakeFirstOrThrow();
      assert.equal(row.status, 'ENROLLED');
      assert.equal(row.user_id, sampleEvent('COURSE_ENROLLMENT').data.userId);
    });

    test('400, 401 and 413 store nothing', async () => {
      const before = await inboxCount();
      const good = envelope(11, [enrollment('b-1', '2026-01-01T10:00:00.000Z')]);
      assert.equal((await deliver(mirror, { body: '{"accountId": 11, "events": [' })).status, 400);
      assert.equal((await deliver(mirror, { body: envelope(11, []) })).status, 400);
      const noAccount = await deliver(mirror, { body: envelope(0, [enrollment('b-2', '2026-01-01T10:00:00.000Z')]) });
      assert.equal(noAccount.status, 400);
      assert.match(String((noAccount.json.error as { message: string }).message), /accountId/);
      assert.equal((await deliver(mirror, { body: JSON.stringify({ accountId: 11, events: {} }) })).status, 400);
      assert.equal((await deliver(mirror, { body: good, batchId: `msg_${'x'.repeat(300)}` })).status, 400);
      assert.equal((await deliver(mirror, { body: good, signWith: `whsec_${randomBytes(24).toString('base64')}` })).status, 401);
      assert.equal((await deliver(mirror, { body: good, signedAt: Date.now() - 10 * 60_000 })).status, 401);
      assert.equal((await deliver(mirror, { body: good, headers: { 'webhook-signature': 'v1,AAAA' } })).status, 401);
      const huge = envelope(11, [enrollment('b-3', '2026-01-01T10:00:00.000Z', { padding: 'x'.repeat(70 * 1024) })]);
      assert.equal((await deliver(mirror, { body: huge })).status, 413);
      assert.equal(await inboxCount(), before);
    });

    test('a signed envelope is acknowledged even when its events are wrong: those are held, the others applied', async () => {
      const wrong = [
        { eventName: 'COURSE_ENROLLMENT' },
        { ...enrollment('b-4', '2026-01-01T10:00:00.000Z'), data: { userId: 'x' } },
        enrollment('b-5', '2026-01-01T10:00:00.000Z'),
      ];
      const result = await deliver(mirror, { body: envelope(17, wrong) });
      assert.equal(result.status, 202);
      await mirror.projector.drain();
      const held = await mirror.context.database.db
        .selectFrom('anomalies')
        .select(['event_id', 'detail'])
        .where('account_id', '=', 17)
        .where('kind', '=', 'unreadable_event')
        .orderBy('id')
        .execute();
      assert.deepEqual(
        held.map((anomaly) => anomaly.event_id),
        [null, 'b-4'],
      );
      assert.match(held[1]?.detail ?? '', /events\[1\]\.data/);
      const applied = await mirror.context.database.db
        .selectFrom('processed_events')
        .select('event_id')
        .where('account_id', '=', 17)
        .execute();
      assert.deepEqual(
        applied.map((row) => row.event_id),
        ['b-5'],
      );
    });

    test("the guide's variants are accepted: epoch-ms timestamps, learning_program, no hasPassed, extra fields, unknown events", async () => {
      const completion = sampleEvent('CERTIFICATION_COMPLETED');
      const { hasPassed: _dropped, ...withoutHasPassed } = completion.data;
      const events = [
        { ...sampleEvent('LEARNING_PATH_ENROLLMENT'), eventId: 'c-1', timestamp: Date.UTC(2026, 0, 2) },
        {
          ...sampleEvent('LEARNING_PATH_COMPLETED'),
          eventId: 'c-2',
          timestamp: '2026-01-03T00:00:00.000Z',
          data: {
            ...sampleEvent('LEARNING_PATH_COMPLETED').data,
            loType: 'learning_program',
            loId: 'learning_program:123157',
            surplus: true,
          },
        },
        { ...completion, eventId: 'c-3', data: withoutHasPassed, newTopLevelField: 1 },
        { eventId: 'c-4', eventName: 'SOMETHING_NEW', timestamp: '2026-01-03T00:00:00.000Z', data: {} },
      ];
      const result = await deliver(mirror, { body: envelope(12, events) });
      assert.equal(result.status, 202);
      await mirror.projector.drain();
      const rows = await mirror.context.database.db
        .selectFrom('enrollments')
        .selectAll()
        .where('account_id', '=', 12)
        .orderBy('lo_id')
        .execute();
      assert.deepEqual(
        rows.map((row) => [row.lo_id, row.status, row.has_passed]),
        [
          ['certification:123418', 'COMPLETED', null],
          ['learningProgram:123157', 'COMPLETED', 1],
        ],
      );
      const unknown = await mirror.context.database.db.selectFrom('anomalies').selectAll().where('kind', '=', 'unknown_event').execute();
      assert.equal(unknown.length, 1);
      assert.equal(unknown[0]?.event_id, 'c-4');
    });

    test('a repeated batch id is answered 202 again and recorded; a repeated event id is applied once', async () => {
      const body = envelope(13, [enrollment('d-1', '2026-01-01T10:00:00.000Z')]);
      assert.equal((await deliver(mirror, { body, batchId: 'msg_same' })).status, 202);
      const again = await deliver(mirror, { body, batchId: 'msg_same' });
      assert.equal(again.status, 202);
      assert.equal(again.json.status, 'duplicate');
      assert.equal((await deliver(mirror, { body, batchId: 'msg_other' })).status, 202);
      await mirror.projector.drain();
      const current = await status(mirror);
      assert.equal(current.counts.duplicateBatches, 1);
      assert.equal(current.counts.duplicates, 1);
      const inbox = await mirror.context.database.db.selectFrom('inbox').select('id').where('account_id', '=', 13).execute();
      assert.equal(inbox.length, 2);
    });

    test('progress before enrollment and progress after completion are recorded as ignored by rule', async () => {
      const progress = (eventId: string, timestamp: string, percent: number) => ({
        ...sampleEvent('LEARNER_PROGRESS'),
        eventId,
        timestamp,
        data: { ...sampleEvent('LEARNER_PROGRESS').data, progressPercent: percent },
      });
      const base = sampleEvent('LEARNER_PROGRESS').data;
      const enroll = {
        ...sampleEvent('COURSE_ENROLLMENT'),
        eventId: 'e-1',
        timestamp: '2026-01-01T10:00:00.000Z',
        data: { ...sampleEvent('COURSE_ENROLLMENT').data, userId: base.userId, loId: base.loId, loInstanceId: base.loInstanceId },
      };
      const complete = {
        ...sampleEvent('COURSE_COMPLETED'),
        eventId: 'e-3',
        timestamp: '2026-01-01T10:30:00.000Z',
        data: { ...sampleEvent('COURSE_COMPLETED').data, userId: base.userId, loId: base.loId, loInstanceId: base.loInstanceId },
      };
      await deliver(mirror, { body: envelope(14, [progress('e-2', '2026-01-01T10:05:00.000Z', 40)]) });
      await deliver(mirror, { body: envelope(14, [enroll, complete]) });
      await deliver(mirror, { body: envelope(14, [progress('e-4', '2026-01-01T10:20:00.000Z', 70)]) });
      await mirror.projector.drain();
      const row = await mirror.context.database.db
        .selectFrom('enrollments')
        .selectAll()
        .where('account_id', '=', 14)
        .executeTakeFirstOrThrow();
      assert.equal(row.status, 'COMPLETED');
      assert.equal(row.progress_percent, 100);
      const details = (
        await mirror.context.database.db.selectFrom('anomalies').select('detail').where('account_id', '=', 14).execute()
      ).map((anomaly) => anomaly.detail);
      assert.ok(details.some((detail) => detail.startsWith('rule 1')));
      assert.ok(details.some((detail) => detail.startsWith('rule 2')));
    });

    test('a sequence gap is recorded and alerted; a replay that fills it closes it', async () => {
      await deliver(mirror, { body: envelope(15, [enrollment('f-1', '2026-01-01T10:00:00.000Z')]), sequence: '1-1' });
      await deliver(mirror, { body: envelope(15, [enrollment('f-5', '2026-01-01T10:05:00.000Z')]), sequence: '5-5' });
      await mirror.projector.drain();
      let current = await status(mirror);
      assert.deepEqual(
        current.openGaps.filter((gap) => gap.accountId === 15).map((gap) => [gap.firstMissing, gap.lastMissing]),
        [[2, 4]],
      );
      const gapAlert = alerts().find((alert) => alert.kind === 'gap' && alert.accountId === 15);
      assert.ok(gapAlert, 'the alert endpoint received the gap');
      assert.equal(gapAlert.firstMissing, 2);
      // These events are months old, but no delivery waited in the inbox: the mirror is not behind, so no lag alert.
      assert.equal(alerts().filter((alert) => alert.kind === 'lag').length, 0);
      await deliver(mirror, { body: envelope(15, [enrollment('f-2', '2026-01-01T10:02:00.000Z')]), sequence: '2-3' });
      await mirror.projector.drain();
      current = await status(mirror);
      assert.deepEqual(
        current.openGaps.filter((gap) => gap.accountId === 15).map((gap) => [gap.firstMissing, gap.lastMissing]),
        [[4, 4]],
      );
      await deliver(mirror, { body: envelope(15, [enrollment('f-4', '2026-01-01T10:04:00.000Z')]), sequence: '4-4' });
      await mirror.projector.drain();
      current = await status(mirror);
      assert.equal(current.openGaps.filter((gap) => gap.accountId === 15).length, 0);
      assert.equal(current.counts.gaps, 1);
    });

    test('GET /status and /metrics report backlog, counts and the rate budget', async () => {
      const current = await status(mirror);
      assert.equal(current.inbox.backlog, 0);
      assert.ok(current.counts.applied > 0);
      assert.equal(current.enrichment.remaining, 500);
      const metrics = await (await fetch(`${mirror.url}/metrics`)).text();
      assert.match(metrics, /learnhook_mirror_inbox_backlog 0/);
      assert.match(metrics, new RegExp(`learnhook_mirror_events\\{outcome="applied"\\} ${current.counts.applied}`));
    });
  });
}

describe('mirror receiver with basic auth', () => {
  test('right credentials pass, wrong or missing ones answer 401', async () => {
    const [sqlite] = dialects;
    assert.ok(sqlite);
    const url = await sqlite.freshUrl();
    const mirror = await startMirror(loadSettings({ db: url, port: 0, logLevel: 'silent', mirrorBasicAuth: 'mirror:s3cret' }, {}));
    try {
      const body = envelope(16, [enrollment('g-1', '2026-01-01T10:00:00.000Z')]);
      const post = (authorization?: string) =>
        fetch(`${mirror.url}/webhook`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
          body,
        });
      assert.equal((await post(`Basic ${Buffer.from('mirror:s3cret').toString('base64')}`)).status, 202);
      assert.equal((await post(`Basic ${Buffer.from('mirror:wrong').toString('base64')}`)).status, 401);
      assert.equal((await post()).status, 401);
    } finally {
      await mirror.stop();
      await dropTestDatabase(url);
    }
  });
});
