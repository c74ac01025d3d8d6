// Delivery throughput (events/s) with batch 1 and batch 100 on SQLite and PostgreSQL, beside the raw limit measured in
// the same run: undici posting the same prepared envelopes from memory to the same receiver, at the same concurrency.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { loadSettings } from '../src/config.ts';
import { createLogger, createProducerContext } from '../src/context.ts';
import { startDelivery } from '../src/delivery/delivery-service.ts';
import { createAccount } from '../src/platform/accounts.ts';
import { appendEvents, newEvent, readEvents } from '../src/platform/event-log.ts';
import type { ProducerSchema } from '../src/store/schema.ts';
import { createWebhook } from '../src/webhooks/webhooks.ts';
import { type DialectUnderTest, testDialects } from '../test/support/test-databases.ts';
import { type BenchResult, median } from './bench-kit.ts';

/** Measured runs per case, after one warm-up run. */
const runs = 3;
/** Webhooks delivered in parallel (one account each), and the dispatcher's concurrency. */
const concurrency = 8;
const cases = [
  { batchMax: 1, eventsPerWebhook: 300 },
  { batchMax: 100, eventsPerWebhook: 2500 },
];

/** The receiver both measurements post to: parses each envelope, counts its events, answers 202. */
async function startCountingReceiver() {
  let events = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      events += (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: unknown[] }).events.length;
      res.writeHead(202).end();
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`,
    count: () => events,
    reset: () => {
      events = 0;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Receiver = Awaited<ReturnType<typeof startCountingReceiver>>;

/** One run: N webhooks with a backlog; returns delivered events/s and the envelopes for the raw run. */
async function deliveryRun(dialect: DialectUnderTest, receiver: Receiver, batchMax: number, eventsPerWebhook: number) {
  const database = await dialect.open<ProducerSchema>('producer');
  const settings = loadSettings({ allowPrivateTargets: true, batchMax, concurrency, logLevel: 'silent', pollIntervalMs: 100 }, {});
  const context = createProducerContext(settings, database, { logger: createLogger('silent') });
  try {
    const envelopes: string[][] = [];
    for (let index = 0; index < concurrency; index++) {
      const account = await createAccount(context, { name: `bench-${index}` });
      // Registered first so its cursor is at 0; the backlog below is then delivered from the start.
      await createWebhook(context, account.id, {
        name: 'bench',
        url: receiver.url,
        events: ['LEARNING_OBJECT_DRAFT'],
        auth: { type: 'signature' },
      });
      const events = Array.from({ length: eventsPerWebhook }, (_, n) =>
        newEvent('LEARNING_OBJECT_DRAFT', { loId: `course:${n + 1}`, loType: 'course' }, Date.now(), `bench-${n}`),
      );
      await database.db.transaction().execute((trx) => appendEvents(trx, account.id, events, Date.now()));
      const logged = await readEvents(database.db, account.id, { afterSeq: 0, limit: eventsPerWebhook });
      const bodies: string[] = [];
      for (let start = 0; start < logged.length; start += batchMax) {
        const batch = logged
          .slice(start, start + batchMax)
          .map(({ eventId, eventName, timestamp, eventInfo, data }) => ({ eventId, eventName, timestamp, eventInfo, data }));
        bodies.push(JSON.stringify({ accountId: account.id, events: batch }));
      }
      envelopes.push(bodies);
    }
    const total = concurrency * eventsPerWebhook;
    receiver.reset();
    const started = performance.now();
    const delivery = startDelivery(context);
    while (receiver.count() < total) await sleep(2);
    const seconds = (performance.now() - started) / 1000;
    await delivery.stop();
    return { perSecond: total / seconds, envelopes };
  } finally {
    await database.close();
  }
}

/** The same envelopes posted from memory by `concurrency` loops, one request in flight each. */
async function rawRun(receiver: Receiver, envelopes: readonly string[][]): Promise<number> {
  const agent = new Agent({ connections: concurrency, pipelining: 1 });
  const total = envelopes.flat().length;
  receiver.reset();
  const started = performance.now();
  await Promise.all(
    envelopes.map(async (bodies) => {
      for (const body of bodies) {
        const response = await request(receiver.url, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
          dispatcher: agent,
        });
        await response.body.dump();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await agent.close();
  const events = receiver.count();
  if (total === 0) return 0;
  return events / seconds;
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const receiver = await startCountingReceiver();
  try {
    for (const dialect of await testDialects()) {
      if (dialect.skip) continue;
      for (const { batchMax, eventsPerWebhook } of cases) {
        const delivered: number[] = [];
        const raw: number[] = [];
        // The first run only warms up (JIT, connections): a long-running dispatcher is measured, not a cold start.
        for (let repetition = 0; repetition <= runs; repetition++) {
          const measured = await deliveryRun(dialect, receiver, batchMax, eventsPerWebhook);
          const rawPerSecond = await rawRun(receiver, measured.envelopes);
          if (repetition === 0) continue;
          delivered.push(Math.round(measured.perSecond));
          raw.push(Math.round(rawPerSecond));
        }
        const deliveredMedian = median(delivered);
        const rawMedian = median(raw);
        results.push({
          name: `delivery throughput, batch ${batchMax}`,
          store: dialect.name,
          unit: 'events/s',
          median: deliveredMedian,
          samples: delivered,
          baseline: {
            name: `undici posting the same envelopes from memory (raw limit), batch ${batchMax}`,
            median: rawMedian,
            samples: raw,
          },
          ratio: Math.round((deliveredMedian / rawMedian) * 1000) / 1000,
          notes: `${concurrency} webhooks in parallel (concurrency ${concurrency}), ${eventsPerWebhook} events each, signed; receiver in the same process; goal ratio >= 0.7`,
        });
      }
    }
  } finally {
    await receiver.close();
  }
  return results;
}
