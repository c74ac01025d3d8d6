// The transient-error classifier, fed real errors from real databases: lock conflicts and lost connections pass, data errors do not.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { dropTestDatabase, testDialects } from '../../test/support/test-databases.ts';
import { isTransientDatabaseError } from './transient-errors.ts';

const [, postgres] = await testDialects();

async function caught(action: () => Promise<unknown> | unknown): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  assert.fail('expected an error');
}

describe('isTransientDatabaseError on SQLite', () => {
  test('SQLITE_BUSY from a second writer is transient; a constraint violation is not', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-transient-')), 'busy.db');
    const first = new BetterSqlite3(file);
    const second = new BetterSqlite3(file);
    try {
      first.pragma('journal_mode = WAL');
      second.pragma('busy_timeout = 0');
      first.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      first.exec('BEGIN IMMEDIATE');
      const busy = await caught(() => second.exec('BEGIN IMMEDIATE'));
      assert.equal((busy as { code: string }).code, 'SQLITE_BUSY');
      assert.equal(isTransientDatabaseError(busy), true);
      first.exec('INSERT INTO t VALUES (1)');
      first.exec('COMMIT');
      const duplicate = await caught(() => first.exec('INSERT INTO t VALUES (1)'));
      assert.equal(isTransientDatabaseError(duplicate), false);
      assert.equal(isTransientDatabaseError(new SyntaxError('Unexpected end of JSON input')), false);
      assert.equal(isTransientDatabaseError(undefined), false);
    } finally {
      first.close();
      second.close();
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });
});

describe('isTransientDatabaseError on PostgreSQL', { skip: postgres?.skip }, () => {
  const url = async () => await (postgres as NonNullable<typeof postgres>).freshUrl();

  test('a deadlock, a serialization failure and a terminated connection are transient; an out-of-range value is not', async () => {
    const database = await url();
    const a = new pg.Client({ connectionString: database });
    const b = new pg.Client({ connectionString: database });
    await a.connect();
    await b.connect();
    try {
      await a.query('CREATE TABLE t (id INT PRIMARY KEY, n BIGINT)');
      await a.query('INSERT INTO t VALUES (1, 0), (2, 0)');

      // Deadlock: each holds one row and waits for the other's; PostgreSQL breaks it with 40P01.
      await a.query('BEGIN');
      await b.query('BEGIN');
      await a.query('UPDATE t SET n = 1 WHERE id = 1');
      await b.query('UPDATE t SET n = 1 WHERE id = 2');
      const outcomes = await Promise.allSettled([a.query('UPDATE t SET n = 2 WHERE id = 2'), b.query('UPDATE t SET n = 2 WHERE id = 1')]);
      const deadlock = outcomes.find((outcome) => outcome.status === 'rejected')?.reason as { code?: string };
      assert.equal(deadlock.code, '40P01');
      assert.equal(isTransientDatabaseError(deadlock), true);
      await a.query('ROLLBACK');
      await b.query('ROLLBACK');

      // Serialization failure: two serializable transactions read what the other writes.
      await a.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      await b.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      await a.query('SELECT sum(n) FROM t');
      await b.query('SELECT sum(n) FROM t');
      await a.query('UPDATE t SET n = n + 1 WHERE id = 1');
      await b.query('UPDATE t SET n = n + 1 WHERE id = 2');
      await a.query('COMMIT');
      const serialization = await caught(() => b.query('COMMIT'));
      assert.equal((serialization as { code?: string }).code, '40001');
      assert.equal(isTransientDatabaseError(serialization), true);

      const outOfRange = await caught(() => a.query('INSERT INTO t VALUES (3, 9223372036854775808)'));
      assert.equal((outOfRange as { code?: string }).code, '22003');
      assert.equal(isTransientDatabaseError(outOfRange), false);

      // The server ends a connection (as on a restart): 57P01 for the query under way, then a terminated connection.
      b.on('error', () => {});
      const { rows } = await b.query('SELECT pg_backend_pid() AS pid');
      const pending = caught(() => b.query('SELECT pg_sleep(30)'));
      await a.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
      const terminated = await pending;
      assert.equal(isTransientDatabaseError(terminated), true, String(terminated));
      const afterwards = await caught(() => b.query('SELECT 1'));
      assert.equal(isTransientDatabaseError(afterwards), true, String(afterwards));
    } finally {
      await a.end();
      await b.end().catch(() => {});
      await dropTestDatabase(database);
    }
  });

  test('a refused connection is transient', async () => {
    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:1/none', connectionTimeoutMillis: 2000 });
    const refused = await caught(() => client.connect());
    assert.equal(isTransientDatabaseError(refused), true, String(refused));
  });
});
