// Time partitions of the logs: which ranges are created and dropped (pure), and migration 0010 on PostgreSQL keeps every
// row of the account log and the attempts log, and keys stay unique without the unique indexes partitioning removed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { dropTestDatabase, testDialects } from '../../test/support/test-databases.ts';
import { loadSettings } from '../config.ts';
import { createLogger, createProducerContext } from '../context.ts';
import { prepareLogPartitions, purgeExpiredEvents } from '../delivery/housekeeping.ts';
import { appendEvents, newEvent } from '../platform/event-log.ts';
import { openDatabase } from './database.ts';
import { listPartitions, partitionedLogs, partitionsToCreate, partitionsToDrop, partitionWidth } from './log-partitions.ts';
import { listMigrations, migrate } from './migrate.ts';
import type { ProducerSchema } from './schema.ts';

const day = 86_400_000;

test('a partition is a seventh of retention wide: one day at the default 7 days', () => {
  assert.equal(partitionWidth(7 * day), day);
  assert.equal(partitionWidth(3000), 429);
});

test('partitions are created for times to come only, up to two widths ahead of now, contiguous, on multiples of the width', () => {
  const now = 10 * day + 5;
  const created = partitionsToCreate([], now, day);
  assert.deepEqual(created, [
    { from: 11 * day, to: 12 * day },
    { from: 12 * day, to: 13 * day },
  ]);
  // Next pass, later that day: none; the next day: one more, after the newest.
  assert.deepEqual(partitionsToCreate(created, now + 3_600_000, day), []);
  assert.deepEqual(partitionsToCreate(created, now + day, day), [{ from: 13 * day, to: 14 * day }]);
  // A width changed by a new retention setting goes on from the newest partition's end, without overlap.
  assert.deepEqual(partitionsToCreate([{ from: 11 * day, to: 12 * day }], now, 2 * day), [
    { from: 12 * day, to: 14 * day },
    { from: 14 * day, to: 16 * day },
  ]);
});

test('a clock that jumps ahead creates at most two partitions; one that goes back creates none', () => {
  const far = 1000 * day;
  assert.deepEqual(partitionsToCreate([{ from: 0, to: day }], far + 1, day), [
    { from: far + day, to: far + 2 * day },
    { from: far + 2 * day, to: far + 3 * day },
  ]);
  assert.deepEqual(partitionsToCreate([{ from: 0, to: day }], far, day), [{ from: far + day, to: far + 2 * day }]);
  assert.deepEqual(partitionsToCreate([{ from: 0, to: 20 * day }], 5 * day, day), []);
});

test('only partitions wholly before the cutoff are dropped', () => {
  const partitions = [
    { name: 'a', from: 0, to: day },
    { name: 'b', from: day, to: 2 * day },
  ];
  assert.deepEqual(partitionsToDrop(partitions, day), [partitions[0]]);
  assert.deepEqual(partitionsToDrop(partitions, day + 1), [partitions[0]]);
  assert.deepEqual(partitionsToDrop(partitions, 2 * day), partitions);
});

const postgres = (await testDialects()).find((dialect) => dialect.name === 'postgres');

describe('partitioning the logs on postgres (migration 0010)', { skip: postgres?.skip ?? 'no PostgreSQL' }, () => {
  test('keeps every row of both logs and goes on with the attempt ids; retention deletes the old rows as they expire', async (t) => {
    assert.ok(postgres);
    const url = await postgres.freshUrl();
    const database = await openDatabase<ProducerSchema>(url);
    t.after(async () => {
      await database.close();
      await dropTestDatabase(url);
    });
    await database.executeScript('CREATE TABLE learnhook_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const migrations = listMigrations('producer', 'postgres');
    const partitioning = migrations.findIndex((migration) => migration.name.endsWith('-partitioned-logs'));
    for (const migration of migrations.slice(0, partitioning)) {
      await database.executeScript(migration.script);
      await sql`INSERT INTO learnhook_migrations (name, applied_at) VALUES (${migration.name}, 0)`.execute(database.db);
    }
    const now = Date.UTC(2026, 0, 10);
    await sql`INSERT INTO accounts (id, name, status, token_hash, created_at, updated_at) VALUES (1001, 'Old', 'ACTIVE', 'x', 0, 0)`.execute(
      database.db,
    );
    await sql`INSERT INTO webhooks (id, account_id, name, url, events, auth_type, state, created_at, updated_at)
              VALUES ('wh_old', 1001, 'old', 'http://127.0.0.1:9/', '[]', 'none', 'enabled', 0, 0)`.execute(database.db);
    // Logged every 6 hours for 10 days: some out of retention, most in it.
    const times = Array.from({ length: 40 }, (_, n) => now - 10 * day + n * 6 * 3_600_000);
    for (const [n, time] of times.entries()) {
      await sql`INSERT INTO events (account_id, seq, event_id, event_name, timestamp, event_info, data, created_at)
                VALUES (1001, ${n + 1}, ${`e${n}`}, 'CI_STATS', ${time}, '', '{}', ${time})`.execute(database.db);
      await sql`INSERT INTO delivery_attempts (webhook_id, batch_id, kind, event_count, attempt, started_at, duration_ms, outcome)
                VALUES ('wh_old', ${`b${n}`}, 'delivery', 1, 1, ${time}, 5, 'acknowledged')`.execute(database.db);
    }
    const eventsBefore = await sql`SELECT * FROM events ORDER BY seq`.execute(database.db);
    const attemptsBefore = await sql`SELECT * FROM delivery_attempts ORDER BY id`.execute(database.db);

    assert.equal((await migrate(database as never, 'producer'))[0], migrations[partitioning]?.name);
    assert.deepEqual((await sql`SELECT * FROM events ORDER BY seq`.execute(database.db)).rows, eventsBefore.rows);
    const attemptsAfter = await sql<{ account_id: unknown }>`SELECT * FROM delivery_attempts ORDER BY id`.execute(database.db);
    // 0011, applied with it, adds each attempt's account (tested in account-keys.test.ts).
    assert.deepEqual(
      attemptsAfter.rows.map(({ account_id, ...row }) => row),
      attemptsBefore.rows,
    );
    const next = await database.db
      .insertInto('delivery_attempts')
      .values({
        account_id: 1001,
        webhook_id: 'wh_old',
        batch_id: 'new',
        kind: 'test',
        event_count: 1,
        attempt: 1,
        started_at: now,
        duration_ms: 1,
        outcome: 'failed',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    assert.equal(next.id, 41, 'attempt ids go on after the old ones');

    // The old rows stay in the DEFAULT partition (never moved: a query planned before a move would miss them), new
    // partitions take times to come, and retention deletes the old rows one by one as they expire.
    const settings = loadSettings({ logLevel: 'silent' }, {});
    const context = createProducerContext(settings, database, { logger: createLogger('silent'), now: () => now });
    await prepareLogPartitions(context);
    for (const log of partitionedLogs) {
      assert.deepEqual(
        (await listPartitions(database.db, log)).map((partition) => [partition.from, partition.to]),
        [[now + day, now + 2 * day]],
      );
    }
    assert.equal(await purgeExpiredEvents(context), 12, 'the events logged more than 7 days ago');
    assert.deepEqual((await sql`SELECT * FROM events ORDER BY seq`.execute(database.db)).rows, eventsBefore.rows.slice(12));
    const attempts = await sql`SELECT * FROM delivery_attempts WHERE batch_id <> 'new' ORDER BY id`.execute(database.db);
    assert.deepEqual(attempts.rows, attemptsAfter.rows.slice(12));
  });

  test('an event id and a sequence stay unique per account without the unique indexes (given out under the account lock)', async (t) => {
    assert.ok(postgres);
    const database = await postgres.open<ProducerSchema>('producer');
    t.after(() => database.close());
    const account = await database.db
      .insertInto('accounts')
      .values({ name: 'a', status: 'ACTIVE', contact_email: null, token_hash: 'h', created_at: 0, updated_at: 0 })
      .returning('id')
      .executeTakeFirstOrThrow();
    const event = newEvent('CI_STATS', {}, Date.now(), 'same');
    // Ten writers at once, each appending the same event and a fresh one.
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, n) =>
        database.db
          .transaction()
          .execute((trx) => appendEvents(trx, account.id, [event, newEvent('CI_STATS', {}, Date.now(), `fresh-${n}`)], Date.now())),
      ),
    );
    assert.equal(results.flatMap((result) => result.eventIds).filter((id) => id === event.eventId).length, 1);
    const rows = await database.db
      .selectFrom('events')
      .select(['seq', 'event_id'])
      .where('account_id', '=', account.id)
      .orderBy('seq')
      .execute();
    assert.deepEqual(
      rows.map((row) => row.seq),
      Array.from({ length: 11 }, (_, n) => n + 1),
      'gap-free, each once',
    );
    assert.equal(new Set(rows.map((row) => row.event_id)).size, 11);
  });
});
