// A signed, well-formed envelope is always acknowledged: each event that cannot be read or stored is held (kept raw,
// reported with its problems, never applied) while the others are applied; a bad sequence header is reported and ignored.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { dropTestDatabase, testDialects } from '../../test/support/test-databases.ts';
import { sampleEvent } from '../catalog/index.ts';
import { loadSettings } from '../config.ts';
import type { MirrorStatus } from './read-status.ts';
import { retryFailed } from './retry-failed.ts';
import { type RunningMirror, startMirror } from './start-mirror.ts';

const dialects = await testDialects();
const secret = `whsec_${randomBytes(24).toString('base64')}`;

/** The guide's sample payloads, verbatim (two of the 27 have trailing commas and are not JSON). */
function guideSamples(): Array<{ name: string; body: string }> {
  const text = fs.readFileSync(new URL('../../test/fixtures/guide-samples.txt', import.meta.url), 'utf8');
  const blocks = text.split(/^([A-Z_]+)\ncode language-none\n/m).slice(1);
  const samples: Array<{ name: string; body: string }> = [];
  for (let index = 0; index < blocks.length; index += 2) samples.push({ name: blocks[index] as string, body: blocks[index + 1] as string });
  return samples;
}

async function post(mirror: RunningMirror, body: string, headers: Record<string, string> = {}): Promise<number> {
  const id = `msg_${randomBytes(8).toString('hex')}`;
  const signedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  const response = await fetch(`${mirror.url}/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(signedAt.getTime() / 1000),
      'webhook-signature': new Webhook(secret).sign(id, signedAt, body),
      ...headers,
    },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

async function status(mirror: RunningMirror): Promise<MirrorStatus> {
  return (await (await fetch(`${mirror.url}/status`)).json()) as MirrorStatus;
}

/** A COURSE_ENROLLMENT as JSON text with its data fields replaced by raw JSON text (so values JSON.stringify cannot write fit). */
function enrollmentText(eventId: string, fields: Record<string, string> = {}, top: Record<string, string> = {}): string {
  const event = sampleEvent('COURSE_ENROLLMENT');
  const data: Record<string, string> = Object.fromEntries(Object.entries(event.data).map(([key, value]) => [key, JSON.stringify(value)]));
  Object.assign(data, fields);
  const members: Record<string, string> = {
    eventId: JSON.stringify(eventId),
    eventName: JSON.stringify(event.eventName),
    timestamp: JSON.stringify('2026-01-01T10:00:00.000Z'),
    eventInfo: JSON.stringify(event.eventInfo),
    ...top,
  };
  const object = (entries: Record<string, string>) =>
    `{${Object.entries(entries).map(([key, value]) => `${JSON.stringify(key)}:${value}`)}}`;
  return object({ ...members, data: object(data) });
}

for (const dialect of dialects) {
  describe(`unreadable events on ${dialect.name}`, { skip: dialect.skip }, () => {
    let mirror: RunningMirror;
    let url: string;
    before(async () => {
      url = await dialect.freshUrl();
      mirror = await startMirror(
        loadSettings({ db: url, port: 0, logLevel: 'silent', mirrorSecret: secret, pollIntervalMs: 50, projectionAttempts: 2 }, {}),
      );
    });
    after(async () => {
      await mirror?.stop();
      await dropTestDatabase(url);
    });

    test('every well-formed sample of the guide, posted verbatim, is acknowledged; the one whose data breaks the catalog is held', async () => {
      const samples = guideSamples();
      assert.equal(samples.length, 27);
      const wellFormed = samples.filter((sample) => {
        try {
          JSON.parse(sample.body);
          return true;
        } catch {
          return false;
        }
      });
      assert.equal(wellFormed.length, 25);
      for (const sample of wellFormed) assert.equal(await post(mirror, sample.body), 202, sample.name);
      await mirror.projector.drain();
      const { db } = mirror.context.database;
      const held = await db.selectFrom('anomalies').selectAll().where('kind', '=', 'unreadable_event').execute();
      assert.deepEqual(
        held.map((anomaly) => anomaly.event_name),
        ['CERTIFICATION_ENROLLMENT_BATCH'],
      );
      assert.match(held[0]?.detail ?? '', /loType/);
      const applied = await db.selectFrom('processed_events').select('event_name').where('account_id', 'in', [1234, 8308]).execute();
      assert.equal(applied.length, 24);
      const current = await status(mirror);
      assert.equal(current.inbox.backlog, 0);
      assert.equal(current.inbox.setAside, 0);
      assert.equal(current.inbox.heldEvents, 1);
    });

    test('a value the catalog allows but a column cannot hold does not set the whole row aside', async () => {
      const accountId = 40;
      const events = [
        enrollmentText('v-1', { userId: '1' }),
        enrollmentText('v-2', { userId: '1e300' }),
        enrollmentText('v-3\u0000'),
        enrollmentText('v-4', { userId: '2' }),
      ];
      assert.equal(await post(mirror, `{"accountId":${accountId},"events":[${events.join(',')}]}`), 202);
      await mirror.projector.drain();
      const { db } = mirror.context.database;
      const enrolled = await db
        .selectFrom('enrollments')
        .select('user_id')
        .where('account_id', '=', accountId)
        .orderBy('user_id')
        .execute();
      assert.deepEqual(
        enrolled.map((row) => row.user_id),
        [1, 2],
      );
      const inbox = await db
        .selectFrom('inbox')
        .select(['failed_at', 'attempts'])
        .where('account_id', '=', accountId)
        .executeTakeFirstOrThrow();
      assert.deepEqual(inbox, { failed_at: null, attempts: 0 });
    });

    test('events a column cannot hold are held one by one; the good events of the same batch are applied', async () => {
      const accountId = 41;
      const long = 'x'.repeat(3000);
      const bad: Record<string, string> = {
        'userId 1e300': enrollmentText('h-1', { userId: '1e300' }),
        'userId 2^63': enrollmentText('h-2', { userId: '9223372036854775808' }),
        'NUL in eventId': enrollmentText('h-3\u0000'),
        'NUL in a data string': enrollmentText('h-4', { enrollmentSource: '"SELF\\u0000ENROLL"' }),
        'NUL in eventName': enrollmentText('h-5', {}, { eventName: '"COURSE_ENROLLMENT\\u0000"' }),
        'over-long eventId': enrollmentText(`h-6-${long}`),
        'over-long loId': enrollmentText('h-7', { loId: `"course:1${'0'.repeat(3000)}"`, loInstanceId: `"course:1${'0'.repeat(3000)}_1"` }),
        'timestamp beyond dates': enrollmentText('h-8', {}, { timestamp: '8640000000000001' }),
        'timestamp string beyond dates': enrollmentText('h-9', {}, { timestamp: '"99999999999999999999"' }),
        'lone surrogate': enrollmentText('h-10\ud800'),
        'not an object': '"just a string"',
        'no eventId': JSON.stringify({ ...sampleEvent('COURSE_ENROLLMENT'), eventId: undefined }),
      };
      const heldBefore = (await status(mirror)).inbox.heldEvents;
      const good = (eventId: string, userId: number) => enrollmentText(eventId, { userId: String(userId) });
      const body = `{"accountId":${accountId},"events":[${[good('h-good-1', 1), ...Object.values(bad), good('h-good-2', 2)].join(',')}]}`;
      assert.equal(await post(mirror, body, { 'learnhook-sequence': `1-${Object.keys(bad).length + 2}` }), 202);
      await mirror.projector.drain();

      const { db } = mirror.context.database;
      const enrolled = await db
        .selectFrom('enrollments')
        .select('user_id')
        .where('account_id', '=', accountId)
        .orderBy('user_id')
        .execute();
      assert.deepEqual(
        enrolled.map((row) => row.user_id),
        [1, 2],
      );
      const inbox = await db.selectFrom('inbox').selectAll().where('account_id', '=', accountId).executeTakeFirstOrThrow();
      assert.notEqual(inbox.processed_at, null, 'the row was applied, not set aside');
      assert.equal(inbox.failed_at, null);
      assert.equal(inbox.attempts, 0);
      const held = await db
        .selectFrom('anomalies')
        .selectAll()
        .where('kind', '=', 'unreadable_event')
        .where('account_id', '=', accountId)
        .orderBy('id')
        .execute();
      assert.equal(held.length, Object.keys(bad).length, held.map((anomaly) => anomaly.detail).join('\n'));
      for (const anomaly of held) assert.equal(anomaly.inbox_id, inbox.id);
      const details = held.map((anomaly) => anomaly.detail);
      assert.match(details[0] ?? '', /userId/);
      assert.match(details[1] ?? '', /userId/);
      assert.match(details[2] ?? '', /eventId/);
      assert.match(details[7] ?? '', /timestamp/);
      const current = await status(mirror);
      assert.equal(current.inbox.setAside, 0);
      assert.equal(current.inbox.heldEvents, heldBefore + Object.keys(bad).length);
    });

    test('a numeric timestamp beyond the last representable date is held, not a 500', async () => {
      const body = `{"accountId":42,"events":[${enrollmentText('t-1', {}, { timestamp: '8640000000000001' })}]}`;
      assert.equal(await post(mirror, body), 202);
      await mirror.projector.drain();
      const held = await mirror.context.database.db
        .selectFrom('anomalies')
        .select('detail')
        .where('account_id', '=', 42)
        .where('kind', '=', 'unreadable_event')
        .execute();
      assert.equal(held.length, 1);
    });

    test('a sequence header that is not a range of safe integers is reported and ignored; tracking goes on', async () => {
      const accountId = 43;
      const batch = (eventId: string) => `{"accountId":${accountId},"events":[${enrollmentText(eventId)}]}`;
      assert.equal(await post(mirror, batch('s-1'), { 'learnhook-sequence': '1-1' }), 202);
      assert.equal(await post(mirror, batch('s-2'), { 'learnhook-sequence': '12345678901234567890-12345678901234567890' }), 202);
      assert.equal(await post(mirror, batch('s-3'), { 'learnhook-sequence': 'seven' }), 202);
      assert.equal(await post(mirror, batch('s-4'), { 'learnhook-sequence': '2-2' }), 202);
      await mirror.projector.drain();
      const { db } = mirror.context.database;
      const reported = await db
        .selectFrom('anomalies')
        .select('detail')
        .where('account_id', '=', accountId)
        .where('kind', '=', 'bad_sequence')
        .execute();
      assert.equal(reported.length, 2);
      assert.match(reported[0]?.detail ?? '', /12345678901234567890/);
      const current = await status(mirror);
      assert.deepEqual(
        current.openGaps.filter((gap) => gap.accountId === accountId),
        [],
      );
      const applied = await db.selectFrom('processed_events').select('event_id').where('account_id', '=', accountId).execute();
      assert.equal(applied.length, 4, 'the batches themselves are applied');
      assert.equal(await post(mirror, batch('s-5'), { 'learnhook-sequence': '4-4' }), 202);
      await mirror.projector.drain();
      assert.deepEqual(
        (await status(mirror)).openGaps.filter((gap) => gap.accountId === accountId).map((gap) => [gap.firstMissing, gap.lastMissing]),
        [[3, 3]],
      );
    });

    test('retry-failed applies an event held by an older version once this version reads it, and keeps one it still cannot read', async () => {
      const accountId = 44;
      const { db } = mirror.context.database;
      // As an older version left it: the row processed, its first event held (this version reads it), its second unreadable.
      const body = `{"accountId":${accountId},"events":[${enrollmentText('u-1', { userId: '7' })},${enrollmentText('u-2', { userId: '1e300' })}]}`;
      const inbox = await db
        .insertInto('inbox')
        .values({
          batch_id: 'msg_older',
          account_id: accountId,
          seq_first: null,
          seq_last: null,
          replay: 0,
          test: 0,
          event_count: 2,
          body,
          received_at: Date.now(),
          processed_at: Date.now(),
          held: 2,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      for (const position of [0, 1]) {
        await db
          .insertInto('held_events')
          .values({
            inbox_id: inbox.id,
            position,
            account_id: accountId,
            event_id: `u-${position + 1}`,
            event_name: 'COURSE_ENROLLMENT',
            problems: 'an older version could not read it',
            held_at: Date.now(),
            resolved_at: null,
          })
          .execute();
      }
      assert.equal((await status(mirror)).inbox.heldEvents >= 2, true);
      const counts = await retryFailed(mirror.context.database, [inbox.id]);
      assert.equal(counts.heldEvents, 2);
      await mirror.projector.drain();
      const enrolled = await db.selectFrom('enrollments').select('user_id').where('account_id', '=', accountId).execute();
      assert.deepEqual(
        enrolled.map((row) => row.user_id),
        [7],
      );
      const held = await db.selectFrom('held_events').selectAll().where('inbox_id', '=', inbox.id).orderBy('position').execute();
      assert.notEqual(held[0]?.resolved_at, null, 'the readable event is resolved');
      assert.equal(held[1]?.resolved_at, null, 'the unreadable one stays held');
      assert.match(held[1]?.problems ?? '', /userId/);
      const duplicates = await db
        .selectFrom('anomalies')
        .select('id')
        .where('account_id', '=', accountId)
        .where('kind', '=', 'duplicate_event')
        .execute();
      assert.equal(duplicates.length, 0, 'a second look at a row is no duplicate');
      // Nothing left to read differently: a second retry applies nothing and holds the same event.
      assert.equal((await retryFailed(mirror.context.database, [inbox.id])).heldEvents, 1);
      await mirror.projector.drain();
      assert.equal((await db.selectFrom('enrollments').select('user_id').where('account_id', '=', accountId).execute()).length, 1);
    });
  });
}
