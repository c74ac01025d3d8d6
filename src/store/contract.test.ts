// The store contract: migrations and the account event log behave the same on SQLite and PostgreSQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { runCli } from '../../test/support/cli.ts';
import { dropTestDatabase, testDialects } from '../../test/support/test-databases.ts';
import { appendEvents, newEvent, readEvents } from '../platform/event-log.ts';
import { type Database, openDatabase } from './database.ts';
import { listMigrations, migrate } from './migrate.ts';
import type { ProducerSchema } from './schema.ts';

const dialects = await testDialects();

async function createAccount(database: Database<ProducerSchema>, name = 'Acme'): Promise<number> {
  const now = Date.now();
  const row = await database.db
    .insertInto('accounts')
    .values({ name, status: 'ACTIVE', contact_email: null, token_hash: `token-${name}-${Math.random()}`, created_at: now, updated_at: now })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

function progressEvent(index: number) {
  return newEvent('LEARNING_OBJECT_DRAFT', { loId: `course:${index + 1}`, loType: 'course' }, Date.now(), `test-${index}`);
}

for (const dialect of dialects) {
  describe(`store contract on ${dialect.name}`, { skip: dialect.skip }, () => {
    let database: Database<ProducerSchema>;
    before(async () => {
      database = await dialect.open<ProducerSchema>('producer');
    });
    after(async () => {
      await database?.close();
    });

    test('migrations are recorded and a second run applies nothing', async () => {
      const again = await migrate(database as Database<unknown>, 'producer');
      assert.deepEqual(again, []);
      assert.ok(listMigrations('producer', dialect.name).length >= 1);
    });

    test('several processes migrating one fresh database at once all start, and each migration is applied once', async () => {
      const url = await dialect.freshUrl();
      // Real processes: on SQLite one process's handles share a thread, so only separate processes show the lock at work.
      const runs = await Promise.all([1, 2, 3, 4].map(() => runCli(['migrate', '--db', url, '--log-level', 'error'])));
      for (const run of runs) assert.equal(run.code, 0, run.stderr);
      const migrated = await openDatabase<unknown>(url);
      try {
        assert.deepEqual(await migrate(migrated, 'producer'), [], 'nothing left to apply');
        const ledger = await sql<{ name: string }>`SELECT name FROM learnhook_migrations ORDER BY name`.execute(migrated.db);
        assert.deepEqual(
          ledger.rows.map((row) => row.name),
          listMigrations('producer', dialect.name).map((migration) => migration.name),
        );
      } finally {
        await migrated.close();
        await dropTestDatabase(url);
      }
    });

    test('appended events get consecutive sequences per account, starting at 1', async () => {
      const first = await createAccount(database, 'first');
      const second = await createAccount(database, 'second');
      const a = await database.db
        .transaction()
        .execute((trx) => appendEvents(trx, first, [progressEvent(0), progressEvent(1)], Date.now()));
      const b = await database.db.transaction().execute((trx) => appendEvents(trx, second, [progressEvent(2)], Date.now()));
      const c = await database.db.transaction().execute((trx) => appendEvents(trx, first, [progressEvent(3)], Date.now()));
      assert.deepEqual(a.seqs, [1, 2]);
      assert.deepEqual(b.seqs, [1]);
      assert.deepEqual(c.seqs, [3]);
      const log = await readEvents(database.db, first, { afterSeq: 0, limit: 10 });
      assert.deepEqual(
        log.map((event) => [event.seq, event.data.loId]),
        [
          [1, 'course:1'],
          [2, 'course:2'],
          [3, 'course:4'],
        ],
      );
      assert.match(log[0]?.timestamp ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    });

    test('appending an eventId the account already has skips it and leaves no gap', async () => {
      const account = await createAccount(database, 'idempotent');
      const event = progressEvent(7);
      await database.db.transaction().execute((trx) => appendEvents(trx, account, [event], Date.now()));
      const again = await database.db.transaction().execute((trx) => appendEvents(trx, account, [event, progressEvent(8)], Date.now()));
      assert.deepEqual(again.duplicates, [event.eventId]);
      assert.deepEqual(again.seqs, [2]);
    });

    test('platform events get strictly increasing timestamps per account; raw ones keep theirs', async () => {
      const account = await createAccount(database, 'timestamps');
      const at = Date.parse('2026-01-01T00:00:00.000Z');
      const same = [0, 1, 2].map((index) => ({ ...progressEvent(index), timestamp: at }));
      await database.db.transaction().execute((trx) => appendEvents(trx, account, same, at, { strictlyIncreasingTimestamps: true }));
      const earlier = { ...progressEvent(3), timestamp: at - 5000 };
      await database.db.transaction().execute((trx) => appendEvents(trx, account, [earlier], at, { strictlyIncreasingTimestamps: true }));
      const raw = { ...progressEvent(4), timestamp: at - 60_000 };
      await database.db.transaction().execute((trx) => appendEvents(trx, account, [raw], at));
      const log = await readEvents(database.db, account, { afterSeq: 0, limit: 10 });
      assert.deepEqual(
        log.map((event) => Date.parse(event.timestamp) - at),
        [0, 1, 2, 3, -60_000],
      );
    });

    test('readEvents filters by event name and pages after a sequence', async () => {
      const account = await createAccount(database, 'filter');
      const events = [
        progressEvent(1),
        newEvent('CI_STATS', { loInstanceId: 'course:1_1', waitlistCount: 0, enrollmentCount: 1, seatLimit: 5 }, Date.now(), 't'),
        progressEvent(2),
      ];
      await database.db.transaction().execute((trx) => appendEvents(trx, account, events, Date.now()));
      const drafts = await readEvents(database.db, account, { afterSeq: 0, limit: 10, eventNames: ['LEARNING_OBJECT_DRAFT'] });
      assert.deepEqual(
        drafts.map((event) => event.seq),
        [1, 3],
      );
      const page = await readEvents(database.db, account, { afterSeq: 1, limit: 1 });
      assert.deepEqual(
        page.map((event) => event.seq),
        [2],
      );
      assert.deepEqual(await readEvents(database.db, account, { afterSeq: 0, limit: 10, eventNames: [] }), []);
    });

    test('concurrent appends to one account never leave a gap or a reader ahead of a late commit', async () => {
      const account = await createAccount(database, 'concurrent');
      const observed: number[][] = [];
      let appending = true;
      const reader = (async () => {
        while (appending) {
          const seen = await readEvents(database.db, account, { afterSeq: 0, limit: 1000 });
          observed.push(seen.map((event) => event.seq));
          await sleep(2);
        }
      })();
      // Each transaction waits a little after taking its sequence, so commits could land out of order if the lock did not hold.
      const writers = Array.from({ length: 12 }, (_, index) =>
        database.db.transaction().execute(async (trx) => {
          const result = await appendEvents(trx, account, [progressEvent(index), progressEvent(index + 100)], Date.now());
          await sleep(index % 3 === 0 ? 15 : 1);
          return result;
        }),
      );
      const results = await Promise.all(writers);
      appending = false;
      await reader;
      const all = results.flatMap((result) => result.seqs).sort((x, y) => x - y);
      assert.deepEqual(
        all,
        Array.from({ length: 24 }, (_, index) => index + 1),
      );
      for (const seen of observed) {
        assert.deepEqual(
          seen,
          Array.from({ length: seen.length }, (_, index) => index + 1),
          'a reader saw a later sequence before an earlier one committed',
        );
      }
    });
  });
}
