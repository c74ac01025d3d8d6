// Opens a database from a URL (sqlite:PATH or postgres://…) as one Kysely instance, whichever the dialect.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  type DatabaseConnection,
  Kysely,
  PostgresDialect,
  type QueryExecutorProvider,
  type RawBuilder,
  SqliteDialect,
  SqliteDriver,
  sql,
} from 'kysely';
import pg from 'pg';
import { checkpointInBackground } from './wal-checkpointer.ts';
import { WriteTurns } from './write-turns.ts';

export type Dialect = 'sqlite' | 'postgres';

/** A select that can lock its rows (Kysely's select builder). */
interface LockableQuery<Q> {
  forUpdate(): Q;
  forNoKeyUpdate(): Q;
  skipLocked(): Q;
}

/**
 * What the two dialects do differently, asked for by what it is for, so domain code never branches on the dialect.
 * SQLite has one writer at a time (every transaction starts with BEGIN IMMEDIATE), so its locks are no-ops there.
 */
export interface DatabaseCapabilities {
  /** Several write transactions can commit at once (each waiting on its own flush); SQLite has one writer. */
  readonly concurrentWrites: boolean;
  /**
   * Locks the rows a select returns until the transaction ends, against other writers of those rows (PostgreSQL's
   * FOR NO KEY UPDATE): inserts that only reference them (a foreign key) need not wait.
   */
  lockRows<Q extends LockableQuery<Q>>(query: Q): Q;
  /** Locks the rows a select returns and skips rows another transaction holds (claiming work). */
  claimRows<Q extends LockableQuery<Q>>(query: Q): Q;
  /** Holds a named lock until the transaction ends: one transaction at a time per name. */
  lockName(trx: QueryExecutorProvider, name: string): Promise<void>;
  /** Takes the named lock until the transaction ends if no other transaction holds it; false (without waiting) if one does. */
  tryLockName(trx: QueryExecutorProvider, name: string): Promise<boolean>;
  /** The larger of two numbers, as SQL. */
  greatest(a: RawBuilder<number>, b: number): RawBuilder<number>;
  /**
   * The account log and the attempts log are partitioned by time (log-partitions.ts, PostgreSQL): retention drops
   * partitions. Otherwise they are plain tables whose expired rows retention deletes.
   */
  readonly partitionedLogs: boolean;
  /**
   * One statement can carry further writes in its WITH clause (PostgreSQL's data-modifying CTEs), so writes that go
   * together cost one round trip. SQLite allows only a select there.
   */
  readonly writesInWith: boolean;
  /**
   * For the rest of the transaction, statements run on a plan made once for any parameters (PostgreSQL's generic
   * plan) rather than planned anew for each call's values: for a statement over a list of keys, planning can cost
   * more than running it. SQLite plans a prepared statement once anyway.
   */
  planOnce(trx: QueryExecutorProvider): Promise<void>;
}

export interface Database<Schema> extends DatabaseCapabilities {
  readonly dialect: Dialect;
  /** The URL it was opened with, without a password. */
  readonly url: string;
  readonly db: Kysely<Schema>;
  /** SQLite (a file): the turns at writing it that this process's threads take; hand `shared` to a new thread. */
  readonly writeTurns?: WriteTurns;
  /** Runs raw SQL that may hold several statements (migrations). */
  executeScript(script: string): Promise<void>;
  close(): Promise<void>;
}

const sqliteCapabilities: DatabaseCapabilities = {
  concurrentWrites: false,
  lockRows: (query) => query,
  claimRows: (query) => query,
  lockName: async () => {},
  tryLockName: async () => true,
  greatest: (a, b) => sql<number>`MAX(${a}, ${b})`,
  partitionedLogs: false,
  writesInWith: false,
  planOnce: async () => {},
};

const postgresCapabilities: DatabaseCapabilities = {
  concurrentWrites: true,
  lockRows: (query) => query.forNoKeyUpdate(),
  claimRows: (query) => query.forUpdate().skipLocked(),
  async lockName(trx, name) {
    await sql`SELECT pg_advisory_xact_lock(hashtext(${name}))`.execute(trx);
  },
  async tryLockName(trx, name) {
    const { rows } = await sql<{ locked: boolean }>`SELECT pg_try_advisory_xact_lock(hashtext(${name})) AS locked`.execute(trx);
    return rows[0]?.locked === true;
  },
  greatest: (a, b) => sql<number>`GREATEST(${a}, ${b})`,
  partitionedLogs: true,
  writesInWith: true,
  async planOnce(trx) {
    await sql`SET LOCAL plan_cache_mode = force_generic_plan`.execute(trx);
  },
};

export interface OpenOptions {
  /** PostgreSQL connections in the pool. */
  poolSize?: number;
  /**
   * SQLite: checkpoint the WAL after this many pages instead of SQLite's 1000. A store that commits many small
   * bodies syncs the file less often; durability is the same (every commit is in the WAL either way). With
   * `checkpointInBackground`, the limit applies only should the worker fail.
   */
  walAutocheckpointPages?: number;
  /**
   * SQLite (a file): checkpoint the WAL from a worker thread instead of inside the commit that crosses the page limit,
   * so no commit waits for a checkpoint (`wal-checkpointer.ts`).
   */
  checkpointInBackground?: boolean;
  /** SQLite (a file): the write turns of another thread of this process that has the file open (`write-turns.ts`). */
  writeTurns?: SharedArrayBuffer;
}

export class DatabaseUrlError extends Error {
  override name = 'DatabaseUrlError';
}

/** `sqlite:PATH`, `sqlite::memory:`, `postgres://…` or `postgresql://…`. */
export function dialectOf(url: string): Dialect {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return 'postgres';
  throw new DatabaseUrlError(`unknown database "${url}": use sqlite:PATH or postgres://user@host:port/database`);
}

/** The URL with any password replaced, for logs. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

export async function openDatabase<Schema>(url: string, options: OpenOptions = {}): Promise<Database<Schema>> {
  return dialectOf(url) === 'sqlite' ? openSqlite<Schema>(url, options) : openPostgres<Schema>(url, options.poolSize ?? 10);
}

/** SQLite starts every transaction with BEGIN IMMEDIATE, so two processes on one file never deadlock on an upgrade. */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class LearnhookSqliteDialect extends SqliteDialect {
  readonly #database: BetterSqlite3.Database;
  readonly #turns: WriteTurns | undefined;
  constructor(database: BetterSqlite3.Database, turns: WriteTurns | undefined) {
    super({ database });
    this.#database = database;
    this.#turns = turns;
  }
  override createDriver() {
    return new ImmediateSqliteDriver({ database: withStatementCache(this.#database, this.#turns) });
  }
}

/**
 * Kysely prepares every query anew; caching the prepared statements by their SQL text saves most of that work. With
 * `turns`, every statement that writes takes this thread's turn at the file first (`write-turns.ts`).
 */
function withStatementCache(database: BetterSqlite3.Database, turns: WriteTurns | undefined): BetterSqlite3.Database {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return new Proxy(database, {
    get(target, property) {
      if (property === 'prepare') {
        return (sqlText: string) => {
          let statement = cache.get(sqlText);
          if (!statement) {
            statement = target.prepare(sqlText);
            if (turns) statement = takingTurns(statement, sqlText, target, turns);
            if (cache.size > 2000) cache.clear();
            cache.set(sqlText, statement);
          }
          return statement;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const runsStatement = new Set<string | symbol>(['run', 'all', 'get', 'iterate']);

/**
 * The statement, taking the write turn where it writes: BEGIN takes it for the whole transaction, COMMIT and ROLLBACK
 * give it back once the transaction has ended, and a write outside a transaction holds it for that statement alone.
 */
function takingTurns(statement: BetterSqlite3.Statement, sqlText: string, handle: BetterSqlite3.Database, turns: WriteTurns) {
  const role = /^\s*begin\b/i.test(sqlText)
    ? 'begin'
    : /^\s*(commit|end|rollback)\b(?!\s+to\b)/i.test(sqlText)
      ? 'end'
      : statement.readonly
        ? 'read'
        : 'write';
  if (role === 'read') return statement;
  return new Proxy(statement, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (!runsStatement.has(property)) return value.bind(target);
      return (...args: unknown[]) => {
        if (role === 'write' && handle.inTransaction) return value.apply(target, args);
        if (role !== 'end') turns.take();
        try {
          return value.apply(target, args);
        } finally {
          // A BEGIN keeps the turn unless it failed; a COMMIT that failed leaves the transaction open, and the turn with it.
          if (!handle.inTransaction) turns.give();
        }
      };
    },
  });
}

/** The file of a `sqlite:PATH` URL (`:memory:` for a database in memory). */
export function sqliteFile(url: string): string {
  return url.slice('sqlite:'.length);
}

function openSqlite<Schema>(url: string, options: OpenOptions): Database<Schema> {
  const file = sqliteFile(url);
  if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const handle = new BetterSqlite3(file);
  // WAL with synchronous=NORMAL survives a killed process (only a power cut can lose the last commits).
  handle.pragma('journal_mode = WAL');
  handle.pragma('synchronous = NORMAL');
  handle.pragma('busy_timeout = 10000');
  handle.pragma('foreign_keys = ON');
  // SQLite has no SHA-256; a migration hashes the stored account tokens with this one (as PostgreSQL's sha256()).
  handle.function('learnhook_sha256', { deterministic: true }, (text) => createHash('sha256').update(String(text), 'utf8').digest('hex'));
  if (options.walAutocheckpointPages !== undefined) handle.pragma(`wal_autocheckpoint = ${Math.trunc(options.walAutocheckpointPages)}`);
  const checkpointer =
    options.checkpointInBackground && file !== ':memory:'
      ? checkpointInBackground(handle, file, { fallbackPages: options.walAutocheckpointPages ?? 1000 })
      : undefined;
  const turns = file === ':memory:' ? undefined : new WriteTurns(options.writeTurns);
  const db = new Kysely<Schema>({ dialect: new LearnhookSqliteDialect(handle, turns) });
  return {
    ...sqliteCapabilities,
    dialect: 'sqlite',
    url,
    db,
    writeTurns: turns,
    async executeScript(script) {
      turns?.take();
      try {
        handle.exec(script);
      } finally {
        turns?.give();
      }
    },
    async close() {
      await checkpointer?.stop();
      await db.destroy();
    },
  };
}

// int8 (bigint) columns hold epoch milliseconds and sequences, all far below 2^53: read them as numbers.
const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8) return (value: string) => Number(value);
    return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text');
  },
} as pg.CustomTypesConfig;

/** Statements one connection prepares at most; past that, the others are parsed and planned each time as before. */
const preparedPerConnection = 500;
const preparable = /^\s*(select|insert|update|delete|with)\b/i;

/**
 * Kysely sends every query as an unnamed statement, which PostgreSQL parses and plans each time. This names each
 * distinct SQL text with parameters (reads and writes, not DDL or transaction control), so the server prepares it once per
 * connection: a primary-key lookup then costs about half the round trip. Bounded per connection, since texts vary
 * with the length of IN lists and multi-row inserts.
 */
function prepareStatements(client: pg.PoolClient): void {
  const names = new Map<string, string>();
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  client.query = ((...args: unknown[]) => {
    const [text, values] = args;
    // Without parameters pg uses the simple protocol, which also runs scripts of several statements: left as it is.
    if (args.length !== 2 || typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || !preparable.test(text))
      return query(...args);
    let name = names.get(text);
    if (name === undefined && names.size < preparedPerConnection) {
      name = `learnhook_${names.size}`;
      names.set(text, name);
    }
    return name === undefined ? query(text, values) : query({ name, text, values });
  }) as typeof client.query;
}

function openPostgres<Schema>(url: string, poolSize: number): Database<Schema> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types: pgTypes });
  // A client that loses its server must not crash the process, idle or checked out (inside a transaction, between two
  // queries, an 'error' event without a listener would): the query under way, or the next one, fails with the error
  // and the loop that owns it tries again; the pool drops the broken client when it is released and opens a new one.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    client.on('error', () => {});
    prepareStatements(client);
  });
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  return {
    ...postgresCapabilities,
    dialect: 'postgres',
    url: redactUrl(url),
    db,
    async executeScript(script) {
      const client = await pool.connect();
      try {
        await client.query(script);
      } finally {
        client.release();
      }
    },
    async close() {
      await db.destroy();
    },
  };
}
