// Retention on PostgreSQL's time-partitioned logs, with an injected clock: inserts land at any time, a partition wholly
// out of retention is dropped (its rows are not deleted one by one), and lagging webhooks lose what expired as before.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { testDialects } from '../../test/support/test-databases.ts';
import { loadSettings } from '../config.ts';
import { createLogger, createProducerContext } from '../context.ts';
import { createAccount } from '../platform/accounts.ts';
import { appendEvents, newEvent } from '../platform/event-log.ts';
import { listPartitions, partitionedLogs } from '../store/log-partitions.ts';
import type { ProducerSchema } from '../store/schema.ts';
import { createWebhook } from '../webhooks/webhooks.ts';
import { prepareLogPartitions, purgeExpiredEvents } from './housekeeping.ts';

const day = 86_400_000;
const postgres = (await testDialects()).find((dialect) => dialect.name === 'postgres');

test('on postgres, retention drops the partitions wholly out of retention and passes webhooks over the rest', {
  skip: postgres?.skip ?? 'no PostgreSQL',
}, async (t) => {
  assert.ok(postgres);
  const database = await postgres.open<ProducerSchema>('producer');
  t.after(() => database.close());
  const start = Date.UTC(2026, 0, 10);
  let now = start;
  const settings = loadSettings({ logLevel: 'silent', allowPrivateTargets: true }, {});
  const context = createProducerContext(settings, database, { logger: createLogger('silent'), now: () => now });
  const account = await createAccount(context, { name: 'a' });
  const webhook = await createWebhook(context, account.id, {
    name: 'lagging',
    url: 'http://127.0.0.1:9/hook',
    events: ['LEARNING_OBJECT_DRAFT'],
    auth: { type: 'none' },
  });
  // Partitions are made for times to come: the day before, so today's and tomorrow's exist.
  now = start - 1;
  await prepareLogPartitions(context);
  const [eventLog] = partitionedLogs;
  assert.ok(eventLog);
  const eventPartitions = async () => (await listPartitions(database.db, eventLog)).map((partition) => partition.name);
  assert.deepEqual(await eventPartitions(), [`events_${start}`, `events_${start + day}`]);
  now = start;

  // Logged at times before every partition, within them, and years ahead: every insert lands.
  const times = [start - 8 * day, start - 3 * day, start + 1, start + 1.5 * day, start + 3650 * day];
  for (const [n, time] of times.entries()) {
    const event = newEvent('LEARNING_OBJECT_DRAFT', { loId: `course:${n + 1}`, loType: 'course' }, time, `at-${n}`);
    await database.db.transaction().execute((trx) => appendEvents(trx, account.id, [event], time));
    await database.db
      .insertInto('delivery_attempts')
      .values({
        account_id: account.id,
        webhook_id: webhook.id,
        batch_id: `b${n}`,
        kind: 'delivery',
        event_count: 1,
        attempt: 1,
        started_at: time,
        duration_ms: 1,
        outcome: 'failed',
      })
      .execute();
  }
  const where = async (table: 'events' | 'delivery_attempts') =>
    (
      await sql<{
        part: string;
      }>`SELECT tableoid::regclass::text AS part FROM ${sql.table(table)} ORDER BY ${sql.ref(table === 'events' ? 'created_at' : 'started_at')}`.execute(
        database.db,
      )
    ).rows.map((row) => row.part);
  assert.deepEqual(await where('events'), [
    'events_default',
    'events_default',
    `events_${start}`,
    `events_${start + day}`,
    'events_default',
  ]);

  // Half a day past the retention of the events logged at the start: the rows of the DEFAULT partition that expired
  // are deleted; the start's partition is only partly out of retention, so its expired event stays until the partition
  // goes, passed over meanwhile.
  now = start + settings.retentionMs + day / 2;
  assert.equal(await purgeExpiredEvents(context), 3, 'the events logged 8 and 3 days before the start and at the start');
  assert.deepEqual(await where('events'), [`events_${start}`, `events_${start + day}`, 'events_default']);
  assert.deepEqual(await where('delivery_attempts'), [
    `delivery_attempts_${start}`,
    `delivery_attempts_${start + day}`,
    'delivery_attempts_default',
  ]);
  const after = await database.db.selectFrom('webhooks').selectAll().where('id', '=', webhook.id).executeTakeFirstOrThrow();
  assert.equal(after.cursor, 3, 'the webhook is past every expired event, the one still stored too');
  assert.equal(after.lost_count, 3);
  assert.deepEqual(
    (JSON.parse(after.lost_ranges) as { firstSeq: number; lastSeq: number; count: number }[]).map((range) => [
      range.firstSeq,
      range.lastSeq,
      range.count,
    ]),
    [
      [1, 2, 2],
      [3, 3, 1],
    ],
    "the DEFAULT partition's expired rows are purged first, then the partitioned ones passed over",
  );
  assert.equal(await purgeExpiredEvents(context), 0, 'nothing expired since');

  // A day later the start's partition is wholly out of retention: dropped with its row.
  now += day;
  await purgeExpiredEvents(context);
  assert.deepEqual(await where('events'), [`events_${start + day}`, 'events_default']);
  assert.deepEqual(await where('delivery_attempts'), [`delivery_attempts_${start + day}`, 'delivery_attempts_default']);
  await prepareLogPartitions(context);
  assert.deepEqual(
    await eventPartitions(),
    [`events_${start + day}`, `events_${start + 9 * day}`, `events_${start + 10 * day}`],
    'ready for the times to come',
  );
});
