// For tests: a fresh, migrated database of each dialect (a temporary SQLite file, a new PostgreSQL database).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import pg from 'pg';
import { runningInCi, testPostgresUrl } from '../../src/config.ts';
import { type Database, type Dialect, openDatabase } from '../../src/store/database.ts';
import { migrate, type SchemaName } from '../../src/store/migrate.ts';

export interface DialectUnderTest {
  name: Dialect;
  /** Set when this dialect cannot run here; pass it as the `skip` option of a test or suite. */
  skip: string | false;
  /** A URL of a new, empty database of this dialect (not yet migrated). */
  freshUrl(): Promise<string>;
  /** A new, migrated database of this dialect; closing it removes it. */
  open<Schema>(schema?: SchemaName): Promise<Database<Schema>>;
}

let postgresReachable: Promise<boolean> | undefined;

async function checkPostgres(): Promise<boolean> {
  const client = new pg.Client({ connectionString: testPostgresUrl(), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: testPostgresUrl() });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

const createdPostgresDatabases = new Set<string>();

async function freshPostgresUrl(): Promise<string> {
  const name = `learnhook_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  createdPostgresDatabases.add(name);
  return databaseUrl(testPostgresUrl(), name);
}

/** Drops a database made by freshUrl/open (connections must be closed first). */
export async function dropTestDatabase(url: string): Promise<void> {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    for (const suffix of ['', '-wal', '-shm']) fs.rmSync(`${file}${suffix}`, { force: true });
    return;
  }
  const name = new URL(url).pathname.slice(1);
  if (!createdPostgresDatabases.has(name)) return;
  await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  createdPostgresDatabases.delete(name);
}

let dropsLeftovers = false;

/**
 * Under the test runner (each test file is a process of its own), the PostgreSQL databases this file made and did not
 * drop are dropped when the file ends, so the shared server keeps none: a test need not drop what `freshUrl` gave it.
 * Registered on the file's root test, so it runs after every suite's own `after`. Benches import this module too and
 * are left alone.
 */
function dropLeftoversAtEndOfFile(): void {
  if (dropsLeftovers || !process.env.NODE_TEST_CONTEXT) return;
  dropsLeftovers = true;
  after(async () => {
    for (const name of createdPostgresDatabases) await dropTestDatabase(databaseUrl(testPostgresUrl(), name));
  });
}

function freshSqliteUrl(): string {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-test-'));
  return `sqlite:${path.join(folder, 'test.db')}`;
}

function dialectUnderTest(name: Dialect, skip: string | false, freshUrl: () => Promise<string>): DialectUnderTest {
  return {
    name,
    skip,
    freshUrl,
    async open<Schema>(schema: SchemaName = 'producer') {
      const url = await freshUrl();
      const database = await openDatabase<Schema>(url);
      await migrate(database as Database<unknown>, schema);
      return {
        ...database,
        async close() {
          await database.close();
          await dropTestDatabase(url);
        },
      };
    },
  };
}

/**
 * Both dialects. PostgreSQL is required under CI; elsewhere, when it is not reachable, its tests are
 * skipped with a loud message rather than failing.
 */
export async function testDialects(): Promise<DialectUnderTest[]> {
  dropLeftoversAtEndOfFile();
  postgresReachable ??= checkPostgres();
  const reachable = await postgresReachable;
  let postgresSkip: string | false = false;
  if (!reachable) {
    const message = `PostgreSQL is not reachable at ${testPostgresUrl()}`;
    if (runningInCi()) throw new Error(`${message}; CI requires it (start it, or set LEARNHOOK_TEST_POSTGRES)`);
    postgresSkip = `${message}: PostgreSQL tests SKIPPED`;
    console.warn(`\n!!! ${postgresSkip} !!!\n`);
  }
  return [dialectUnderTest('sqlite', false, async () => freshSqliteUrl()), dialectUnderTest('postgres', postgresSkip, freshPostgresUrl)];
}
