// The contenders: the raw undici pipe, a BullMQ sender, a pg-boss sender and learnhook (the real CLI process), each
// behind one shape: start against the receiver's endpoints, publish bursts of one account in order, stop.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import PgBoss from 'pg-boss';
import { Pool } from 'undici';
import type { CatalogEvent } from '../../src/catalog/schemas.ts';
import { freePort } from '../../test/support/test-receiver.ts';
import { benchSecret, type WebhookJob, webhookAgent } from './post-webhook.ts';
import type { Services } from './services.ts';
import { benchEvent, benchEventName, wallClock } from './workload.ts';

const folder = path.dirname(fileURLToPath(import.meta.url));
const repository = path.resolve(folder, '..', '..');

/** Requests in flight at once per sender (learnhook's --concurrency, BullMQ's concurrency, the agents' connections). */
export const senderConcurrency = 100;

/** Retries as learnhook's defaults: the first after 5 s, doubling; the peers get the same schedule. */
const retry = { attempts: 10, firstDelayMs: 5000 };

export interface StartOptions {
  services: Services;
  /** Each bench account's webhook URL. */
  endpoints: readonly string[];
  /** Extra node flags for the sender process (profiling). */
  execArgv?: string[];
}

export interface Running {
  /** Publishes one account's burst; resolves once the contender has accepted it. `last` marks the account's final burst. */
  publish(account: number, events: CatalogEvent[], last: boolean): Promise<void>;
  /** The process that sends, when there is one (RSS, profiles). */
  senderPid?: number;
  stop(): Promise<void>;
}

export interface Contender {
  /** Stable name used in the JSON lines and the table. */
  name: string;
  label: string;
  family: 'pipe' | 'bullmq' | 'pgboss' | 'learnhook';
  start(options: StartOptions): Promise<Running>;
}

/** Waits for a child's `{ type: 'ready' }` (or its early exit). */
function ready(child: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`${what} exited before it was ready (code ${code})`)));
  });
}

async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function forkSender(file: string, config: unknown, execArgv: string[] = []): ChildProcess {
  return fork(path.join(folder, file), [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx', ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** The raw limit: undici posting the events from memory, no queue, no store; `perPost` events per request. */
export function pipe(perPost: 1 | 100): Contender {
  return {
    name: `pipe-${perPost}`,
    label: `undici pipe, ${perPost} event${perPost > 1 ? 's' : ''} per POST`,
    family: 'pipe',
    async start({ endpoints }) {
      const agent = webhookAgent(senderConcurrency);
      const pending = new Map<number, CatalogEvent[]>();
      const post = async (account: number, events: CatalogEvent[]) => {
        const response = await agent.request({
          origin: new URL(endpoints[account] ?? '').origin,
          path: new URL(endpoints[account] ?? '').pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ accountId: account + 1, events }),
        });
        await response.body.dump();
      };
      return {
        async publish(account, events, last) {
          if (perPost === 1) {
            for (const event of events) await post(account, [event]);
            return;
          }
          const buffer = [...(pending.get(account) ?? []), ...events];
          if (buffer.length >= perPost || last) {
            pending.delete(account);
            await post(account, buffer);
          } else pending.set(account, buffer);
        },
        stop: () => agent.destroy(),
      };
    },
  };
}

/**
 * BullMQ as its guide writes a webhook sender: a Queue the application adds jobs to (addBulk for a burst), one job per
 * event per endpoint, attempts with exponential backoff, completed jobs removed; a Worker process with high
 * concurrency (the jobs wait on I/O).
 */
export function bullmq(): Contender {
  return {
    name: 'bullmq',
    label: `BullMQ sender (Redis), concurrency ${senderConcurrency}`,
    family: 'bullmq',
    async start({ services, endpoints, execArgv }) {
      const queueName = `webhooks-${randomBytes(4).toString('hex')}`;
      const prefix = 'lh-bench';
      const connection = new Redis(services.redisUrl, { maxRetriesPerRequest: null });
      const queue = new Queue<WebhookJob>(queueName, {
        connection,
        prefix,
        defaultJobOptions: {
          attempts: retry.attempts,
          backoff: { type: 'exponential', delay: retry.firstDelayMs },
          // The guide's advice for production: do not let finished jobs pile up in Redis.
          removeOnComplete: true,
          removeOnFail: { age: 24 * 3600 },
        },
      });
      await queue.waitUntilReady();
      const sender = forkSender(
        'bullmq-sender.ts',
        { redisUrl: services.redisUrl, queue: queueName, prefix, concurrency: senderConcurrency },
        execArgv,
      );
      await ready(sender, 'the BullMQ sender');
      return {
        senderPid: sender.pid,
        async publish(account, events) {
          await queue.addBulk(
            events.map((event) => ({
              name: 'webhook',
              data: { url: endpoints[account] ?? '', secret: benchSecret, accountId: account + 1, event },
            })),
          );
        },
        async stop() {
          await stopChild(sender);
          await queue.obliterate({ force: true }).catch(() => {});
          await queue.close();
          connection.disconnect();
        },
      };
    },
  };
}

export const pgBossWorkers = 2;
export const pgBossBatchSize = 1000;

/**
 * pg-boss as its docs write a job sender: send (insert for a burst) one job per event per endpoint with retryLimit,
 * retryDelay and retryBackoff; a worker process fetching in batches (pg-boss 10's batchSize; teamSize is gone).
 */
export function pgBoss(): Contender {
  return {
    name: 'pgboss',
    label: `pg-boss sender (PostgreSQL), ${pgBossWorkers} workers × batch ${pgBossBatchSize}`,
    family: 'pgboss',
    async start({ services, endpoints, execArgv }) {
      const databaseUrl = await services.createDatabase('pgboss');
      const queueName = 'webhooks';
      // The application's side: inserts jobs, runs no maintenance (the sender process supervises).
      const boss = new PgBoss({ connectionString: databaseUrl, supervise: false, schedule: false, max: 20 });
      boss.on('error', (error) => process.stderr.write(`pg-boss (publisher): ${error.message}\n`));
      await boss.start();
      await boss.createQueue(queueName);
      const sender = forkSender(
        'pgboss-sender.ts',
        { databaseUrl, queue: queueName, workers: pgBossWorkers, batchSize: pgBossBatchSize },
        execArgv,
      );
      await ready(sender, 'the pg-boss sender');
      return {
        senderPid: sender.pid,
        async publish(account, events) {
          await boss.insert(
            events.map((event) => ({
              name: queueName,
              data: { url: endpoints[account] ?? '', secret: benchSecret, accountId: account + 1, event } satisfies WebhookJob,
              retryLimit: retry.attempts - 1,
              retryDelay: retry.firstDelayMs / 1000,
              retryBackoff: true,
            })),
          );
        },
        async stop() {
          await stopChild(sender);
          await boss.stop({ graceful: false, wait: true, timeout: 2000 }).catch(() => {});
          await services.dropDatabase(databaseUrl);
        },
      };
    },
  };
}

export interface LearnhookProcess {
  url: string;
  adminToken: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `node bin/learnhook.js serve …` on a free port; resolves once it prints that it is running. */
export async function startLearnhookProcess(
  db: string,
  flags: string[],
  execArgv: string[] = [],
  /** A command the process runs under (e.g. strace), whose own arguments come first. */
  wrapper: string[] = [],
  /** The learnhook checkout to run (another one is compared against this one in bench/drain.ts). */
  root = repository,
): Promise<LearnhookProcess> {
  const port = await freePort();
  const adminToken = `lh_admin_bench_${randomBytes(8).toString('hex')}`;
  const [command, ...wrapperArgs] = wrapper.length > 0 ? [...wrapper, process.execPath] : [process.execPath];
  const child = spawn(
    command ?? process.execPath,
    [
      ...wrapperArgs,
      ...execArgv,
      path.join(root, 'bin', 'learnhook.js'),
      'serve',
      '--db',
      db,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--admin-token',
      adminToken,
      '--allow-private-targets',
      '--log-level',
      'warn',
      ...flags,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await untilRunning(child, 'serve');
  return { url: `http://127.0.0.1:${port}`, adminToken, child, stop: () => stopChild(child, 30_000) };
}

/** Waits for a learnhook process's banner (or its early exit). */
function untilRunning(child: ChildProcess, command: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('is running')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`learnhook ${command} exited before it ran (code ${code}): ${output}`)));
  });
}

/** A `learnhook worker` process delivering from the database a `serve --no-dispatch` process writes. */
export async function startLearnhookWorker(db: string, flags: string[], execArgv: string[] = []) {
  const child = spawn(
    process.execPath,
    [
      ...execArgv,
      path.join(repository, 'bin', 'learnhook.js'),
      'worker',
      '--db',
      db,
      '--allow-private-targets',
      '--log-level',
      'warn',
      ...flags,
    ],
    { cwd: repository, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await untilRunning(child, 'worker');
  return { child, stop: () => stopChild(child, 30_000) };
}

export interface LearnhookClient {
  pool: Pool;
  call(method: 'POST' | 'GET', path: string, body: unknown, token: string): Promise<Record<string, unknown>>;
}

export function learnhookClient(url: string): LearnhookClient {
  const pool = new Pool(url, { connections: senderConcurrency });
  return {
    pool,
    async call(method, requestPath, body, token) {
      const response = await pool.request({
        method,
        path: requestPath,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const json = (await response.body.json()) as Record<string, unknown>;
      if (response.statusCode >= 300) throw new Error(`${method} ${requestPath} answered ${response.statusCode}: ${JSON.stringify(json)}`);
      return json;
    },
  };
}

/** Creates one account and one signed webhook per endpoint; returns each bench account's learnhook id and token. */
export async function createLearnhookAccounts(client: LearnhookClient, adminToken: string, endpoints: readonly string[]) {
  const accounts: { id: number; token: string }[] = [];
  for (const [index, url] of endpoints.entries()) {
    const account = await client.call('POST', '/v1/accounts', { name: `bench ${index}` }, adminToken);
    await client.call(
      'POST',
      `/v1/accounts/${account.id}/webhooks`,
      { name: 'bench', url, events: [benchEventName], auth: { type: 'signature' } },
      adminToken,
    );
    accounts.push({ id: Number(account.id), token: String(account.token) });
  }
  return accounts;
}

/** Publishes `perAccount` bench events to each account in requests of 1,000 (the API's largest), accounts in parallel. */
export async function publishBacklog(client: LearnhookClient, accounts: readonly { id: number; token: string }[], perAccount: number) {
  await Promise.all(
    accounts.map(async (target, account) => {
      for (let start = 0; start < perAccount; start += 1000) {
        const publishedAt = wallClock();
        const events = Array.from({ length: Math.min(1000, perAccount - start) }, (_, index) =>
          benchEvent(account, start + index, publishedAt),
        );
        await client.call('POST', `/v1/accounts/${target.id}/events`, { events }, target.token);
      }
    }),
  );
}

/** A fresh learnhook database of the store: a SQLite file in a new folder, or a new PostgreSQL database. */
export async function freshLearnhookDatabase(services: Services, store: 'sqlite' | 'postgres') {
  if (store === 'postgres') {
    const url = await services.createDatabase('learnhook');
    return { url, drop: () => services.dropDatabase(url) };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-bench-'));
  return { url: `sqlite:${path.join(dir, 'learnhook.db')}`, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** How the learnhook contender splits its work: as `serve` chooses (auto), or one of the ways to choose otherwise. */
export type LearnhookSplit = 'auto' | 'one-thread' | 'delivery-thread' | 'worker';

const splitNames: Record<LearnhookSplit, { suffix: string; label: string; flags: string[] }> = {
  auto: { suffix: '', label: '', flags: [] },
  'one-thread': { suffix: '-one-thread', label: ', --delivery-thread off', flags: ['--delivery-thread', 'off'] },
  'delivery-thread': { suffix: '-delivery-thread', label: ', --delivery-thread on', flags: ['--delivery-thread', 'on'] },
  worker: { suffix: '-worker', label: ', serve --no-dispatch + worker', flags: ['--no-dispatch'] },
};

/**
 * learnhook as a user runs it: the real CLI process (`serve`) with its own fresh database, one account and one
 * signed webhook per bench account, events published through `POST /v1/accounts/{id}/events`. `split` compares
 * the ways of placing delivery: `serve`'s own choice (a delivery thread on SQLite), one thread for everything, a
 * delivery thread asked for, or delivery in a `learnhook worker` process of its own.
 */
export function learnhook(store: 'sqlite' | 'postgres', batchMax: 1 | 100, split: LearnhookSplit = 'auto'): Contender {
  const variant = splitNames[split];
  return {
    name: `learnhook-${store}-batch${batchMax}${variant.suffix}`,
    label: `learnhook ${store === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, --batch-max ${batchMax}${variant.label}`,
    family: 'learnhook',
    async start({ services, endpoints, execArgv }) {
      const database = await freshLearnhookDatabase(services, store);
      const flags = ['--batch-max', String(batchMax), '--concurrency', String(senderConcurrency), '--poll-interval', '1s'];
      const server = await startLearnhookProcess(database.url, [...flags, ...variant.flags], execArgv);
      // Delivery in a process of its own, so the API and the dispatcher each have a core.
      const worker =
        split === 'worker'
          ? await startLearnhookWorker(database.url, flags, execArgv).catch(async (error: unknown) => {
              await server.stop();
              await database.drop();
              throw error;
            })
          : null;
      const client = learnhookClient(server.url);
      try {
        const accounts = await createLearnhookAccounts(client, server.adminToken, endpoints);
        return {
          senderPid: server.child.pid,
          async publish(account, events) {
            const target = accounts[account];
            if (!target) throw new Error(`no learnhook account for bench account ${account}`);
            await client.call('POST', `/v1/accounts/${target.id}/events`, { events }, target.token);
          },
          async stop() {
            await client.pool.close();
            await worker?.stop();
            await server.stop();
            await database.drop();
          },
        };
      } catch (error) {
        await client.pool.close();
        await worker?.stop();
        await server.stop();
        await database.drop();
        throw error;
      }
    },
  };
}

export function allContenders(): Contender[] {
  return [
    pipe(1),
    pipe(100),
    bullmq(),
    pgBoss(),
    learnhook('sqlite', 100),
    learnhook('sqlite', 1),
    learnhook('postgres', 100),
    learnhook('postgres', 1),
    learnhook('sqlite', 100, 'one-thread'),
    learnhook('sqlite', 1, 'one-thread'),
    learnhook('postgres', 100, 'delivery-thread'),
    learnhook('postgres', 1, 'delivery-thread'),
    learnhook('sqlite', 100, 'worker'),
    learnhook('postgres', 100, 'worker'),
  ];
}
