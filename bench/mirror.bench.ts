// Mirror throughput on both stores: webhooks acknowledged per second with the durable inbox (projector running, and
// alone), beside a bare Fastify route answering 202 to the same signed requests in the same run; and events projected
// per second. Medians of three.
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { Pool } from 'undici';
import type { CatalogEvent } from '../src/catalog/schemas.ts';
import { loadSettings } from '../src/config.ts';
import { projectNext } from '../src/mirror/projector.ts';
import { type HistoryAction, simulateHistory } from '../src/mirror/simulate-history.ts';
import { startMirror } from '../src/mirror/start-mirror.ts';
import { storeBatch } from '../src/mirror/store-batch.ts';
import { signature } from '../src/mirror/verify.ts';
import { dropTestDatabase, testDialects } from '../test/support/test-databases.ts';
import { type BenchResult, median } from './bench-kit.ts';

const runs = 3;
const runMs = 1500;
/** Each server is warmed up (JIT, connections, SQLite page cache) before it is measured. */
const warmUpMs = 300;
const concurrency = 16;
const eventsPerBatch = 10;
const secret = `whsec_${randomBytes(24).toString('base64')}`;

/** A realistic history over many learners: enrollments, progress, completions, LO and instance changes. */
function benchEvents(count: number): CatalogEvent[] {
  const kinds: HistoryAction['kind'][] = [
    'enroll',
    'progress',
    'progress',
    'complete',
    'unenroll',
    'loModify',
    'instanceModify',
    'ciStats',
  ];
  const actions: HistoryAction[] = [
    { kind: 'loDraft', user: 1, target: 0, batch: false, percent: 1, delayMs: 0 },
    { kind: 'loPublish', user: 1, target: 0, batch: false, percent: 1, delayMs: 0 },
  ];
  for (let index = 0; actions.length < count * 2; index++) {
    actions.push({
      kind: kinds[(index * 7) % kinds.length] as HistoryAction['kind'],
      user: 1 + ((index * 13) % 400),
      target: index % 5,
      batch: index % 3 === 0,
      percent: 1 + ((index * 37) % 99),
      delayMs: 0,
    });
  }
  return simulateHistory(actions).events.slice(0, count);
}

const sampleBatch = JSON.stringify({ accountId: 1, events: benchEvents(eventsPerBatch) });

function signedHeaders(body: string): Record<string, string> {
  const id = `msg_${randomBytes(12).toString('hex')}`;
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  return {
    'content-type': 'application/json',
    'webhook-id': id,
    'webhook-timestamp': String(now.getTime() / 1000),
    'webhook-signature': signature(secret, id, String(now.getTime() / 1000), body),
  };
}

/** Posts the same batch (a fresh id and signature each time) from `concurrency` loops; returns 202s per second. */
async function acknowledgedPerSecond(url: string, durationMs = runMs): Promise<number> {
  const pool = new Pool(url, { connections: concurrency });
  const started = performance.now();
  let done = 0;
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() - started < durationMs) {
          const response = await pool.request({ method: 'POST', path: '/webhook', headers: signedHeaders(sampleBatch), body: sampleBatch });
          await response.body.dump();
          if (response.statusCode !== 202) throw new Error(`the receiver answered ${response.statusCode}`);
          done++;
        }
      }),
    );
  } finally {
    await pool.close();
  }
  return done / ((performance.now() - started) / 1000);
}

async function bareRoute(): Promise<{ url: string; close: () => Promise<void> }> {
  const app = Fastify();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.post('/webhook', async (_request, reply) => reply.status(202).send({ status: 'accepted' }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

async function benchStore(store: 'sqlite' | 'postgres', freshUrl: () => Promise<string>): Promise<BenchResult[]> {
  const acknowledged: number[] = [];
  const receiverAlone: number[] = [];
  const bare: number[] = [];
  const projected: number[] = [];
  const bareServer = await bareRoute();
  try {
    for (let run = 0; run < runs; run++) {
      const url = await freshUrl();
      const mirror = await startMirror(loadSettings({ db: url, port: 0, logLevel: 'silent', mirrorSecret: secret }, {}));
      try {
        await acknowledgedPerSecond(bareServer.url, warmUpMs);
        bare.push(await acknowledgedPerSecond(bareServer.url));
        await acknowledgedPerSecond(mirror.url, warmUpMs);
        // As in production: the projector applies the inbox beside the receiver, on the same cores.
        acknowledged.push(await acknowledgedPerSecond(mirror.url));
        await mirror.projector.stop();
        receiverAlone.push(await acknowledgedPerSecond(mirror.url));
      } finally {
        await mirror.stop();
        await dropTestDatabase(url);
      }
      const projectionUrl = await freshUrl();
      const projector = await startMirror(loadSettings({ db: projectionUrl, port: 0, logLevel: 'silent' }, {}));
      try {
        await projector.projector.stop();
        const events = benchEvents(3000);
        for (let index = 0; index < events.length; index += 50) {
          const slice = events.slice(index, index + 50);
          const body = JSON.stringify({ accountId: 1, events: slice });
          await storeBatch(
            projector.context.database,
            { accountId: 1, eventCount: slice.length, body, replay: false, test: false },
            Date.now(),
          );
        }
        const started = performance.now();
        while (await projectNext(projector.context, false)) {}
        projected.push(events.length / ((performance.now() - started) / 1000));
      } finally {
        await projector.stop();
        await dropTestDatabase(projectionUrl);
      }
    }
  } finally {
    await bareServer.close();
  }
  const ackMedian = median(acknowledged);
  // The machine is shared: the bare route and the mirror measured back to back in one run compare more fairly
  // than medians taken from different moments.
  const perRun = (values: number[]) => values.map((value, index) => (value / (bare[index] ?? value)).toFixed(2)).join(', ');
  const bareMedian = median(bare);
  return [
    {
      name: 'mirror webhooks acknowledged per second (verify + durable inbox + 202)',
      store,
      unit: 'requests/s',
      median: Math.round(ackMedian),
      samples: acknowledged.map(Math.round),
      baseline: {
        name: 'bare Fastify route answering 202 to the same requests',
        median: Math.round(bareMedian),
        samples: bare.map(Math.round),
      },
      ratio: Number((ackMedian / bareMedian).toFixed(3)),
      notes: `projector running beside the receiver; ${eventsPerBatch} events (~${Math.round(sampleBatch.length / 1024)} KB) per request, ${concurrency} concurrent clients on loopback, fresh id and signature per request, the client in the same process; ${warmUpMs} ms warm-up per server; ratio per run ${perRun(acknowledged)}; goal ratio ≥ 0.7`,
    },
    {
      name: 'mirror webhooks acknowledged per second, receiver alone (projector paused)',
      store,
      unit: 'requests/s',
      median: Math.round(median(receiverAlone)),
      samples: receiverAlone.map(Math.round),
      baseline: {
        name: 'bare Fastify route answering 202 to the same requests',
        median: Math.round(bareMedian),
        samples: bare.map(Math.round),
      },
      ratio: Number((median(receiverAlone) / bareMedian).toFixed(3)),
      notes: `the same requests with the projector stopped: the cost of verify + parse + group-committed inbox insert alone; ratio per run ${perRun(receiverAlone)}`,
    },
    {
      name: 'mirror events projected per second',
      store,
      unit: 'events/s',
      median: Math.round(median(projected)),
      samples: projected.map(Math.round),
      notes: '3000 simulated events in inbox rows of 50, rows of one account applied up to 16 per transaction, enrichment off',
    },
  ];
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const dialect of await testDialects()) {
    if (dialect.skip) continue;
    results.push(...(await benchStore(dialect.name, () => dialect.freshUrl())));
  }
  return results;
}
