// Worker processes on one PostgreSQL (issue 8): how long a dead worker's webhooks stay silent after `kill -9` until
// another worker delivers them (beside the usual gap between two deliveries), and delivery throughput of a backlog
// with 1, 2 and 4 `learnhook worker` processes (1 is the baseline). Real processes, real loopback HTTP.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sampleEvent } from '../src/catalog/index.ts';
import { PlatformClient } from '../src/simulate/platform-client.ts';
import { type LearnhookProcess, learnhookProcess } from '../test/support/learnhook-process.ts';
import { dropTestDatabase, testDialects } from '../test/support/test-databases.ts';
import { testSecretKey } from '../test/support/test-platform.ts';
import { freePort } from '../test/support/test-receiver.ts';
import { type BenchResult, median } from './bench-kit.ts';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
/** kill -9 repetitions of the takeover measurement. */
const takeovers = env('LH_BENCH_TAKEOVERS', 5);
/** Repetitions of each worker count, interleaved (1, 2, 4, 1, 2, 4, …). */
const throughputRuns = env('LH_BENCH_CLUSTER_RUNS', 2);
const workerCounts = [1, 2, 4];
const throughputWebhooks = 16;
const eventsPerWebhook = env('LH_BENCH_CLUSTER_EVENTS', 1000);
const throughputBatch = 20;
/** Webhooks of the takeover measurement; each answer waits this long, so a worker always has sends in flight. */
const takeoverWebhooks = 8;
const answerDelayMs = 200;
/** Longest wait for a dead worker's webhooks (the old lease was 30 s). */
const takeoverDeadlineMs = 40_000;
const adminToken = 'lh_admin_bench_cluster';

interface Arrival {
  at: number;
  events: number;
}

/** One receiver for both measurements: counts events per account; answers the takeover accounts after a delay. */
async function startReceiver(slowAccounts: Set<number>) {
  const arrivals = new Map<number, Arrival[]>();
  /** When a request of this account lost its connection before it was answered (its sender died). */
  const cutOff = new Map<number, number>();
  let events = 0;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { accountId: number; events: unknown[] };
      const at = performance.now();
      events += body.events.length;
      const list = arrivals.get(body.accountId) ?? [];
      list.push({ at, events: body.events.length });
      arrivals.set(body.accountId, list);
      if (!slowAccounts.has(body.accountId)) return response.writeHead(202).end();
      response.once('close', () => {
        if (!response.writableFinished) cutOff.set(body.accountId, performance.now());
      });
      setTimeout(() => {
        if (!response.destroyed) response.writeHead(202).end();
      }, answerDelayMs);
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`,
    arrivals,
    cutOff,
    events: () => events,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** Publishes `count` events to an account through the raw events API, 200 per request. */
async function publishBacklog(client: PlatformClient, accountId: number, count: number, tag: string) {
  const sample = sampleEvent('COURSE_ENROLLMENT');
  for (let first = 0; first < count; first += 200) {
    const events = Array.from({ length: Math.min(200, count - first) }, (_, index) => ({
      ...sample,
      eventId: `${tag}-${accountId}-${first + index}`,
      data: { ...sample.data, userId: first + index + 1 },
    }));
    await client.expect('POST', `/v1/accounts/${accountId}/events`, { events });
  }
}

/** What every process of one bench cluster shares: its database, secret key and data folder. */
function storeArgs(db: string, folder: string): string[] {
  return ['--db', db, '--secret-key', testSecretKey, '--data-dir', folder, '--allow-private-targets'];
}

function workerProcess(name: string, db: string, folder: string, extra: string[]): LearnhookProcess {
  return learnhookProcess(name, ['worker', ...storeArgs(db, folder), '--poll-interval', '100ms', ...extra], (exit) =>
    process.stderr.write(`${name} exited by itself (${exit.code ?? exit.signal}): ${exit.output}\n`),
  );
}

/**
 * kill -9 of a worker while it has sends in flight: time until each webhook it held is delivered again. Two workers; the
 * one started first holds the webhooks, the other one starts later, and each kill hits the one that has held them longest
 * (started again at once, it becomes the spare for the next kill).
 */
async function measureTakeover(client: PlatformClient, receiver: Receiver, db: string, folder: string, accounts: number[]) {
  const extra = ['--batch-max', '1', '--connect-timeout', '1s', '--socket-timeout', '2s'];
  const pair = [workerProcess('worker-a', db, folder, extra), workerProcess('worker-b', db, folder, extra)] as const;
  const worst: number[] = [];
  const every: number[] = [];
  const gaps: number[] = [];
  let holder = 0;
  let misses = 0;
  try {
    await pair[0].start();
    await sleep(2000);
    await pair[1].start();
    while (worst.length < takeovers && misses < takeovers) {
      // Deliveries flow for a while before each kill.
      await sleep(3000);
      const before = performance.now();
      for (const accountId of accounts) {
        const recent = (receiver.arrivals.get(accountId) ?? []).filter((arrival) => arrival.at > before - 2000);
        for (let index = 1; index < recent.length; index++) gaps.push((recent[index]?.at ?? 0) - (recent[index - 1]?.at ?? 0));
      }
      const victim = pair[holder] as LearnhookProcess;
      receiver.cutOff.clear();
      const killedAt = performance.now();
      await victim.kill();
      await sleep(200); // the receiver sees the cut connections
      const held = accounts.filter((accountId) => (receiver.cutOff.get(accountId) ?? 0) >= killedAt);
      if (held.length > 0) {
        const deadline = killedAt + takeoverDeadlineMs;
        const again = new Map<number, number>();
        while (again.size < held.length && performance.now() < deadline) {
          for (const accountId of held) {
            const next = (receiver.arrivals.get(accountId) ?? []).find((arrival) => arrival.at > killedAt);
            if (next && !again.has(accountId)) again.set(accountId, next.at - killedAt);
          }
          await sleep(20);
        }
        const times = held.map((accountId) => Math.round(again.get(accountId) ?? takeoverDeadlineMs));
        every.push(...times);
        worst.push(Math.max(...times));
        process.stderr.write(`takeover ${worst.length}: ${held.length} webhooks held, delivered again after ${times.join(', ')} ms\n`);
      } else {
        misses++;
        process.stderr.write('takeover: the killed worker had no send in flight; not counted\n');
      }
      await victim.start();
      holder = 1 - holder;
    }
  } finally {
    await Promise.all(pair.map((worker) => worker.stop()));
  }
  // Stop the takeover webhooks, so they do not load the throughput runs.
  for (const accountId of accounts) {
    const { webhooks } = await client.expect<{ webhooks: { id: string }[] }>('GET', `/v1/accounts/${accountId}/webhooks`);
    for (const webhook of webhooks) await client.expect('PATCH', `/v1/accounts/${accountId}/webhooks/${webhook.id}`, { active: false });
  }
  return { worst, every, gaps: gaps.map(Math.round) };
}

/** One throughput run: a backlog on paused webhooks, `workers` processes started, then the webhooks resumed. */
async function measureThroughput(client: PlatformClient, receiver: Receiver, db: string, folder: string, workers: number, run: number) {
  const webhooks: { accountId: number; id: string }[] = [];
  for (let index = 0; index < throughputWebhooks; index++) {
    const account = await client.expect<{ id: number }>('POST', '/v1/accounts', { name: `throughput ${workers}-${run}-${index}` });
    const webhook = await client.expect<{ id: string }>('POST', `/v1/accounts/${account.id}/webhooks`, {
      name: 'bench',
      url: receiver.url,
      events: ['COURSE_ENROLLMENT'],
      auth: { type: 'signature' },
      active: false,
    });
    webhooks.push({ accountId: account.id, id: webhook.id });
  }
  await Promise.all(webhooks.map((webhook) => publishBacklog(client, webhook.accountId, eventsPerWebhook, `tp-${workers}-${run}`)));
  const processes = Array.from({ length: workers }, (_, index) =>
    workerProcess(`worker-${index + 1}`, db, folder, ['--batch-max', String(throughputBatch)]),
  );
  try {
    await Promise.all(processes.map((worker) => worker.start()));
    const total = throughputWebhooks * eventsPerWebhook;
    const startCount = receiver.events();
    const started = performance.now();
    await Promise.all(
      webhooks.map((webhook) => client.expect('PATCH', `/v1/accounts/${webhook.accountId}/webhooks/${webhook.id}`, { active: true })),
    );
    while (receiver.events() - startCount < total) await sleep(5);
    return total / ((performance.now() - started) / 1000);
  } finally {
    await Promise.all(processes.map((worker) => worker.stop()));
  }
}

export async function run(): Promise<BenchResult[]> {
  const [, postgres] = await testDialects();
  if (!postgres || postgres.skip) {
    process.stderr.write('cluster bench: no PostgreSQL, skipped\n');
    return [];
  }
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'learnhook-bench-cluster-'));
  const db = await postgres.freshUrl();
  const port = await freePort();
  const serve = learnhookProcess(
    'serve',
    ['serve', '--no-dispatch', '--port', String(port), '--admin-token', adminToken, ...storeArgs(db, folder)],
    (exit) => process.stderr.write(`serve exited by itself (${exit.code ?? exit.signal}): ${exit.output}\n`),
  );
  const client = new PlatformClient(`http://127.0.0.1:${port}`, adminToken);
  const slowAccounts = new Set<number>();
  const receiver = await startReceiver(slowAccounts);
  const results: BenchResult[] = [];
  try {
    await serve.start();
    // Takeover: webhooks with a backlog far longer than the measurement, one event per batch, answers after 200 ms.
    const accounts: number[] = [];
    for (let index = 0; index < takeoverWebhooks; index++) {
      const account = await client.expect<{ id: number }>('POST', '/v1/accounts', { name: `takeover ${index}` });
      accounts.push(account.id);
      slowAccounts.add(account.id);
      await client.expect('POST', `/v1/accounts/${account.id}/webhooks`, {
        name: 'takeover',
        url: receiver.url,
        events: ['COURSE_ENROLLMENT'],
        auth: { type: 'signature' },
      });
      await publishBacklog(client, account.id, 2000, 'takeover');
    }
    const takeover = await measureTakeover(client, receiver, db, folder, accounts);
    results.push({
      name: 'kill -9 of a worker: until each webhook it held delivers again (worst of its webhooks per kill)',
      store: 'postgres',
      unit: 'ms',
      median: median(takeover.worst),
      samples: takeover.worst,
      baseline: { name: 'gap between two deliveries of a webhook without a kill', median: median(takeover.gaps), samples: [] },
      ratio: Math.round((median(takeover.worst) / Math.max(1, median(takeover.gaps))) * 10) / 10,
      notes: `max ${Math.max(...takeover.worst)} ms; every webhook: ${takeover.every.join(', ')} ms; 2 workers, ${takeoverWebhooks} webhooks, answers after ${answerDelayMs} ms; goal < 2000 ms`,
    });

    const perSecond = new Map<number, number[]>(workerCounts.map((count) => [count, []]));
    for (let run = 0; run < throughputRuns; run++) {
      for (const workers of workerCounts) {
        const measured = Math.round(await measureThroughput(client, receiver, db, folder, workers, run));
        process.stderr.write(`throughput with ${workers} worker(s): ${measured} events/s\n`);
        perSecond.get(workers)?.push(measured);
      }
    }
    const baseline = perSecond.get(1) ?? [];
    for (const workers of workerCounts) {
      const samples = perSecond.get(workers) ?? [];
      results.push({
        name: `delivery throughput, ${workers} worker process${workers === 1 ? '' : 'es'}`,
        store: 'postgres',
        unit: 'events/s',
        median: median(samples),
        samples,
        baseline: { name: '1 worker process', median: median(baseline), samples: baseline },
        ratio: Math.round((median(samples) / Math.max(1, median(baseline))) * 100) / 100,
        notes:
          `${throughputWebhooks} webhooks x ${eventsPerWebhook} events published through serve --no-dispatch, batch ${throughputBatch}, ` +
          `from resuming the webhooks to the last event received. On ${os.cpus().length} cores shared by PostgreSQL, the receiver and ` +
          'every worker, more workers cannot add CPU: this shows that work spreads across processes without loss, not how far it scales',
      });
    }
  } finally {
    await serve.stop();
    await client.close();
    await receiver.close();
    await dropTestDatabase(db);
    fs.rmSync(folder, { recursive: true, force: true });
  }
  return results;
}
