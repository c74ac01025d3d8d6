// The Redis and PostgreSQL the comparison runs on: the ones answering on 127.0.0.1 (6379, 5432), else its own
// (redis-server on a free port, a private PostgreSQL cluster), stopped at the end; only what it started is stopped.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startPrivatePostgres } from '../../test/support/private-postgres.ts';
import { freePort } from '../../test/support/test-receiver.ts';

export interface Services {
  redisUrl: string;
  postgresAdminUrl: string;
  /** What was found and what was started, for the report. */
  notes: string[];
  versions: { redis: string; postgres: string };
  /** A new, empty PostgreSQL database; dropped by `dropDatabase` or at `stop`. */
  createDatabase(tag: string): Promise<string>;
  dropDatabase(url: string): Promise<void>;
  stop(): Promise<void>;
}

async function redisAnswers(url: string): Promise<string | undefined> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const info = await client.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

async function postgresAnswers(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return String((await client.query('SHOW server_version')).rows[0]?.server_version);
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

async function adminQuery(adminUrl: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export async function startServices(): Promise<Services> {
  const notes: string[] = [];
  const stops: (() => Promise<void>)[] = [];
  let redisUrl = 'redis://127.0.0.1:6379';
  let redisVersion = await redisAnswers(redisUrl);
  let redisProcess: ChildProcess | undefined;
  if (redisVersion) notes.push(`Redis ${redisVersion} answering on 127.0.0.1:6379 (used as found)`);
  else {
    const port = await freePort();
    // No persistence, like the server this bench was first run against; see docs/benchmarks.md on durability.
    redisProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    redisUrl = `redis://127.0.0.1:${port}`;
    for (let tries = 0; tries < 100 && !redisVersion; tries++) {
      await sleep(100);
      redisVersion = await redisAnswers(redisUrl);
    }
    if (!redisVersion) throw new Error('no Redis answers on 127.0.0.1:6379 and redis-server could not be started');
    notes.push(`Redis ${redisVersion} started by the bench on 127.0.0.1:${port}`);
    const started = redisProcess;
    stops.push(async () => {
      const exited = new Promise((resolve) => started.once('exit', resolve));
      started.kill('SIGTERM');
      await exited;
    });
  }

  let postgresAdminUrl = process.env.LEARNHOOK_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  let postgresVersion = await postgresAnswers(postgresAdminUrl);
  let createDatabaseWith = async (name: string) => {
    await adminQuery(postgresAdminUrl, `CREATE DATABASE ${name}`);
    const url = new URL(postgresAdminUrl);
    url.pathname = `/${name}`;
    return url.toString();
  };
  if (postgresVersion) notes.push(`PostgreSQL ${postgresVersion} answering at ${new URL(postgresAdminUrl).host} (used as found)`);
  else {
    const cluster = await startPrivatePostgres();
    postgresAdminUrl = cluster.adminUrl;
    postgresVersion = (await postgresAnswers(postgresAdminUrl)) ?? 'unknown';
    createDatabaseWith = (name) => cluster.createDatabase(name);
    notes.push(
      `PostgreSQL ${postgresVersion}: a private cluster started by the bench on port ${cluster.port} (initdb with fsync=off: its figures are not comparable to a server that flushes)`,
    );
    stops.push(() => cluster.destroy());
  }

  const created = new Set<string>();
  const dropDatabase = async (url: string) => {
    const name = new URL(url).pathname.slice(1);
    if (!created.delete(name)) return;
    await adminQuery(postgresAdminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  };
  return {
    redisUrl,
    postgresAdminUrl,
    notes,
    versions: { redis: redisVersion, postgres: postgresVersion },
    async createDatabase(tag) {
      const name = `lh_bench_${tag}_${randomBytes(4).toString('hex')}`;
      const url = await createDatabaseWith(name);
      created.add(name);
      return url;
    },
    dropDatabase,
    async stop() {
      for (const name of [...created]) {
        const url = new URL(postgresAdminUrl);
        url.pathname = `/${name}`;
        await dropDatabase(url.toString()).catch(() => {});
      }
      for (const stop of stops.reverse()) await stop();
    },
  };
}
