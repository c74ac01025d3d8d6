// Applies the numbered SQL migrations of one schema (producer or mirror) for the database's dialect, once each.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { Database } from './database.ts';

export type SchemaName = 'producer' | 'mirror';

const migrationsRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

interface Migration {
  name: string;
  script: string;
}

/** The migrations of a schema for a dialect, in the order of their numbers (`0001-platform.sql`, …). */
export function listMigrations(schema: SchemaName, dialect: Database<unknown>['dialect']): Migration[] {
  const folder = path.join(migrationsRoot, schema, dialect);
  return fs
    .readdirSync(folder)
    .filter((file) => /^\d{4}-[\w-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({ name: file.replace(/\.sql$/, ''), script: fs.readFileSync(path.join(folder, file), 'utf8') }));
}

const createLedger = `CREATE TABLE IF NOT EXISTS learnhook_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`;

/**
 * Brings the database up to date and returns the names it applied. Safe when several processes start
 * at once: PostgreSQL serialises them with an advisory lock, SQLite with BEGIN IMMEDIATE.
 */
export async function migrate(
  database: Database<unknown>,
  schema: SchemaName,
  now = Date.now(),
  /** Called before each migration it applies (`learnhook migrate` shows it on a terminal). */
  onApply?: (name: string, index: number, pending: number) => void,
): Promise<string[]> {
  const migrations = listMigrations(schema, database.dialect);
  const applied: string[] = [];
  if (database.dialect === 'postgres') {
    await database.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext('learnhook_migrations'))`.execute(trx);
      await sql.raw(createLedger).execute(trx);
      const done = await sql<{ name: string }>`SELECT name FROM learnhook_migrations`.execute(trx);
      const doneNames = new Set(done.rows.map((row) => row.name));
      const pending = migrations.filter((migration) => !doneNames.has(migration.name));
      for (const [index, migration] of pending.entries()) {
        onApply?.(migration.name, index, pending.length);
        await sql.raw(migration.script).execute(trx);
        await sql`INSERT INTO learnhook_migrations (name, applied_at) VALUES (${migration.name}, ${now})`.execute(trx);
        applied.push(migration.name);
      }
    });
    return applied;
  }
  // One process's BEGIN IMMEDIATE holds off the others until it has applied everything.
  await database.executeScript(`${createLedger}; BEGIN IMMEDIATE;`);
  try {
    const done = await sql<{ name: string }>`SELECT name FROM learnhook_migrations`.execute(database.db);
    const doneNames = new Set(done.rows.map((row) => row.name));
    const pending = migrations.filter((migration) => !doneNames.has(migration.name));
    for (const [index, migration] of pending.entries()) {
      onApply?.(migration.name, index, pending.length);
      try {
        await database.executeScript(migration.script);
      } catch (error) {
        throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`);
      }
      await sql`INSERT INTO learnhook_migrations (name, applied_at) VALUES (${migration.name}, ${now})`.execute(database.db);
      applied.push(migration.name);
    }
    await database.executeScript('COMMIT;');
  } catch (error) {
    await database.executeScript('ROLLBACK;').catch(() => {});
    throw error;
  }
  return applied;
}
