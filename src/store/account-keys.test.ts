// Migration 0011: every producer table is keyed by account_id first on PostgreSQL (so accounts can be spread over
// databases or distributed by account), and the attempts log carries its account on both stores.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sql } from 'kysely';
import { dropTestDatabase, testDialects } from '../../test/support/test-databases.ts';
import { openDatabase } from './database.ts';
import { listMigrations, migrate } from './migrate.ts';
import type { ProducerSchema } from './schema.ts';

const dialects = await testDialects();

/** The producer tables that are not an account's: one row per API token, one per deployment. */
const notAnAccounts = ['api_rate_windows', 'sealing_key'];

for (const dialect of dialects) {
  describe(`account keys on ${dialect.name} (migration 0011)`, { skip: dialect.skip }, () => {
    test('an attempt logged before the migration gets the account of its webhook', async (t) => {
      const url = await dialect.freshUrl();
      const database = await openDatabase<ProducerSchema>(url);
      t.after(async () => {
        await database.close();
        await dropTestDatabase(url);
      });
      await database.executeScript('CREATE TABLE learnhook_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)');
      const migrations = listMigrations('producer', dialect.name);
      const accountKeys = migrations.findIndex((migration) => migration.name.endsWith('-account-keys'));
      for (const migration of migrations.slice(0, accountKeys)) {
        await database.executeScript(migration.script);
        await sql`INSERT INTO learnhook_migrations (name, applied_at) VALUES (${migration.name}, 0)`.execute(database.db);
      }
      for (const account of [1001, 1002]) {
        await sql`INSERT INTO accounts (id, name, status, token_hash, created_at, updated_at)
                  VALUES (${account}, 'Old', 'ACTIVE', ${`hash-${account}`}, 0, 0)`.execute(database.db);
        await sql`INSERT INTO webhooks (id, account_id, name, url, events, auth_type, state, created_at, updated_at)
                  VALUES (${`wh_${account}`}, ${account}, 'old', 'http://127.0.0.1:9/', '[]', 'none', 'enabled', 0, 0)`.execute(
          database.db,
        );
        for (const n of [1, 2, 3]) {
          await sql`INSERT INTO delivery_attempts (webhook_id, batch_id, kind, event_count, attempt, started_at, duration_ms, outcome)
                    VALUES (${`wh_${account}`}, ${`b${n}`}, 'delivery', 1, 1, ${n}, 5, 'acknowledged')`.execute(database.db);
        }
      }

      assert.deepEqual(await migrate(database as never, 'producer'), [migrations[accountKeys]?.name]);
      const attempts = await database.db.selectFrom('delivery_attempts').select(['webhook_id', 'account_id']).orderBy('id').execute();
      assert.deepEqual(
        attempts.map((row) => [row.webhook_id, Number(row.account_id)]),
        [...Array(3).fill(['wh_1001', 1001]), ...Array(3).fill(['wh_1002', 1002])],
      );
    });
  });
}

const postgres = dialects.find((dialect) => dialect.name === 'postgres');

describe('producer keys on postgres', { skip: postgres?.skip ?? 'no PostgreSQL' }, () => {
  test('every table of an account has account_id as the first column of its primary key and of every unique key', async (t) => {
    assert.ok(postgres);
    const database = await postgres.open<ProducerSchema>('producer');
    t.after(() => database.close());
    // Partitioned tables and their partitions alike; the ledger of migrations is learnhook's own, not the producer's.
    const keys = await sql<{ table: string; kind: string; first_column: string }>`
      SELECT c.relname AS table, CASE WHEN i.indisprimary THEN 'primary' ELSE 'unique' END AS kind, a.attname AS first_column
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
      WHERE n.nspname = current_schema() AND (i.indisprimary OR i.indisunique) AND c.relname <> 'learnhook_migrations'
      ORDER BY 1, 2`.execute(database.db);
    const tables = await sql<{ table: string }>`
      SELECT table_name AS table FROM information_schema.tables
      WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'learnhook_migrations'`.execute(database.db);
    const primary = new Map(keys.rows.filter((key) => key.kind === 'primary').map((key) => [key.table, key.first_column]));
    for (const { table } of tables.rows) {
      if (notAnAccounts.includes(table)) continue;
      // accounts is the account: distributed by its own id.
      const expected = table === 'accounts' ? 'id' : 'account_id';
      assert.equal(primary.get(table), expected, `${table}'s primary key starts with ${expected}`);
    }
    for (const key of keys.rows) {
      if (notAnAccounts.includes(key.table)) continue;
      assert.equal(key.first_column, key.table === 'accounts' ? 'id' : 'account_id', `${key.kind} key of ${key.table}`);
    }
    assert.ok(primary.has('delivery_attempts_default'), 'partitions are checked too');
  });
});
