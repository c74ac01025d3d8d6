// Platform throughput on both stores: actions per second and raw-published events per second through the HTTP API,
// against events appended per second through appendEvents directly (one-event transactions), medians of three runs each.
import { Pool } from 'undici';
import { loadSettings } from '../src/config.ts';
import { appendEvents, newEvent } from '../src/platform/event-log.ts';
import { startProducer } from '../src/server.ts';
import { dropTestDatabase, testDialects } from '../test/support/test-databases.ts';
import { type BenchResult, median } from './bench-kit.ts';
import { benchEvent } from './compare/workload.ts';

const runs = 3;
const runMs = 1500;
const concurrency = 8;
const adminToken = 'lh_admin_bench';
/** Raw publishing as bench:compare publishes: bursts of this many events per request, spread over this many accounts. */
const publishBurst = 10;
const publishAccounts = 100;

/** Runs `action` from `concurrency` loops until the time is up; returns completed actions per second. */
async function perSecond(action: (index: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() - started < runMs) {
        await action(next++);
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

async function benchStore(store: 'sqlite' | 'postgres', url: string): Promise<BenchResult[]> {
  const settings = loadSettings({ port: 0, host: '127.0.0.1', db: url, adminToken, logLevel: 'silent', progressDelay: '0s' }, {});
  const producer = await startProducer(settings, { dispatch: false });
  const pool = new Pool(producer.url ?? '', { connections: concurrency });
  const { db } = producer.context.database;
  async function call(method: 'POST' | 'PATCH', path: string, body?: unknown, token = adminToken): Promise<Record<string, unknown>> {
    const response = await pool.request({
      method,
      path,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
    const json = (await response.body.json()) as Record<string, unknown>;
    if (response.statusCode >= 300) throw new Error(`${method} ${path} answered ${response.statusCode}: ${JSON.stringify(json)}`);
    return json;
  }
  try {
    const account = await call('POST', '/v1/accounts', { name: 'Bench' });
    const base = `/v1/accounts/${account.id}`;
    const token = String(account.token);
    const course = String((await call('POST', `${base}/learning-objects`, { loType: 'course', name: 'Bench course' }, token)).id);
    await call('POST', `${base}/learning-objects/${course}/publish`, {}, token);
    // Learners are inserted directly: creating them is not what is measured.
    const now = Date.now();
    const users = await db
      .insertInto('users')
      .values(
        Array.from({ length: 4000 }, (_, index) => ({
          account_id: Number(account.id),
          name: `L${index}`,
          email: `l${index}@example.com`,
          user_unique_id: `u${index}`,
          created_at: now,
          updated_at: now,
        })),
      )
      .returning('id')
      .execute();
    const publishers: { id: number; token: string; published: number }[] = [];
    for (let index = 0; index < publishAccounts; index++) {
      const created = await call('POST', '/v1/accounts', { name: `Publisher ${index}` });
      publishers.push({ id: Number(created.id), token: String(created.token), published: 0 });
    }
    const changes: number[] = [];
    const publishes: number[] = [];
    const enrollments: number[] = [];
    const appends: number[] = [];
    for (let run = 0; run < runs; run++) {
      changes.push(
        await perSecond((index) =>
          call('PATCH', `${base}/learning-objects/${course}`, { description: `run ${run} change ${index}` }, token).then(() => {}),
        ),
      );
      const instance = String((await call('POST', `${base}/learning-objects/${course}/instances`, { name: `Run ${run}` }, token)).id);
      enrollments.push(
        await perSecond(async (index) => {
          const user = users[index % users.length];
          if (!user || index >= users.length) throw new Error('the bench ran out of learners; raise their number');
          await call('POST', `${base}/enrollments`, { userId: user.id, loInstanceId: instance, actor: 'learner' }, token);
        }),
      );
      publishes.push(
        publishBurst *
          (await perSecond(async (index) => {
            const publisher = publishers[index % publishers.length] as { id: number; token: string; published: number };
            const first = publisher.published;
            publisher.published += publishBurst;
            const events = Array.from({ length: publishBurst }, (_, offset) => benchEvent(publisher.id, first + offset, Date.now()));
            await call('POST', `/v1/accounts/${publisher.id}/events`, { events }, publisher.token);
          })),
      );
      appends.push(
        await perSecond(async (index) => {
          const event = newEvent('LEARNING_OBJECT_MODIFICATION', { loId: course, loType: 'course' }, Date.now(), `bench-${index}`);
          await db
            .transaction()
            .execute((trx) => appendEvents(trx, Number(account.id), [event], Date.now(), { strictlyIncreasingTimestamps: true }));
        }),
      );
    }
    const baseline = { name: 'appendEvents, one event per transaction', median: median(appends), samples: appends };
    const result = (name: string, samples: number[], notes: string): BenchResult => ({
      name,
      store,
      unit: 'actions/s',
      median: median(samples),
      samples,
      baseline,
      ratio: median(samples) / baseline.median,
      notes,
    });
    return [
      result(
        'platform API: PATCH learning object',
        changes,
        `${concurrency} concurrent HTTP clients on loopback, ${runMs} ms per run; one LEARNING_OBJECT_MODIFICATION each`,
      ),
      result(
        'platform API: enroll',
        enrollments,
        `${concurrency} concurrent HTTP clients on loopback, ${runMs} ms per run; COURSE_ENROLLMENT + CI_STATS each`,
      ),
      {
        name: 'platform API: publish events',
        store,
        unit: 'events/s',
        median: median(publishes),
        samples: publishes,
        baseline,
        ratio: median(publishes) / baseline.median,
        notes: `${concurrency} concurrent HTTP clients on loopback, ${runMs} ms per run; POST …/events with ${publishBurst} events of ~540 bytes each, round-robin over ${publishAccounts} accounts`,
      },
      {
        name: 'appendEvents, one event per transaction',
        store,
        unit: 'events/s',
        median: baseline.median,
        samples: appends,
        notes: `${concurrency} concurrent callers in one process`,
      },
    ];
  } finally {
    await pool.close();
    await producer.stop();
  }
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const dialect of await testDialects()) {
    if (dialect.skip) {
      process.stderr.write(`skipping ${dialect.name}: ${dialect.skip}\n`);
      continue;
    }
    const url = await dialect.freshUrl();
    try {
      results.push(...(await benchStore(dialect.name, url)));
    } finally {
      await dropTestDatabase(url);
    }
  }
  return results;
}
