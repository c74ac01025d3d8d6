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
    /** An account with a published course and `learners` learners, inserted directly (creating them is not what is measured). */
    async function enrollmentAccount(name: string, learners: number) {
      const created = await call('POST', '/v1/accounts', { name });
      const id = Number(created.id);
      const token = String(created.token);
      const base = `/v1/accounts/${id}`;
      const course = String((await call('POST', `${base}/learning-objects`, { loType: 'course', name: `${name} course` }, token)).id);
      await call('POST', `${base}/learning-objects/${course}/publish`, {}, token);
      const now = Date.now();
      const users: { id: number }[] = [];
      for (let start = 0; start < learners; start += 1000) {
        const rows = Array.from({ length: Math.min(1000, learners - start) }, (_, offset) => ({
          account_id: id,
          name: `L${start + offset}`,
          email: `l${start + offset}@example.com`,
          user_unique_id: `u${start + offset}`,
          created_at: now,
          updated_at: now,
        }));
        users.push(...(await db.insertInto('users').values(rows).returning('id').execute()));
      }
      return { id, token, base, course, users };
    }
    /** Enrolls learner `index` of one of `targets` (round robin) into that account's instance `instances[target]`. */
    async function enrollOne(targets: readonly EnrollmentAccount[], instances: readonly string[], index: number) {
      const target = targets[index % targets.length] as EnrollmentAccount;
      const user = target.users[Math.floor(index / targets.length)];
      if (!user) throw new Error('the bench ran out of learners; raise their number');
      const body = { userId: user.id, loInstanceId: instances[index % targets.length], actor: 'learner' };
      await call('POST', `${target.base}/enrollments`, body, target.token);
    }
    type EnrollmentAccount = Awaited<ReturnType<typeof enrollmentAccount>>;
    const bench = await enrollmentAccount('Bench', 20_000);
    const { base, token, course } = bench;
    const account = { id: bench.id };
    // The same load spread over one account per client: a platform's clients are rarely all one customer's.
    const spread = await Promise.all(Array.from({ length: concurrency }, (_, index) => enrollmentAccount(`Spread ${index}`, 2500)));
    const publishers: { id: number; token: string; published: number }[] = [];
    for (let index = 0; index < publishAccounts; index++) {
      const created = await call('POST', '/v1/accounts', { name: `Publisher ${index}` });
      publishers.push({ id: Number(created.id), token: String(created.token), published: 0 });
    }
    const changes: number[] = [];
    const publishes: number[] = [];
    const enrollments: number[] = [];
    const spreadEnrollments: number[] = [];
    const appends: number[] = [];
    for (let run = 0; run < runs; run++) {
      changes.push(
        await perSecond((index) =>
          call('PATCH', `${base}/learning-objects/${course}`, { description: `run ${run} change ${index}` }, token).then(() => {}),
        ),
      );
      const instance = String((await call('POST', `${base}/learning-objects/${course}/instances`, { name: `Run ${run}` }, token)).id);
      enrollments.push(await perSecond((index) => enrollOne([bench], [instance], index)));
      const spreadInstances = await Promise.all(
        spread.map(async (target) =>
          String(
            (await call('POST', `${target.base}/learning-objects/${target.course}/instances`, { name: `Run ${run}` }, target.token)).id,
          ),
        ),
      );
      spreadEnrollments.push(await perSecond((index) => enrollOne(spread, spreadInstances, index)));
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
        `${concurrency} concurrent HTTP clients on loopback, ${runMs} ms per run, all into one account's instance; COURSE_ENROLLMENT + CI_STATS each`,
      ),
      result(
        'platform API: enroll, one account per client',
        spreadEnrollments,
        `as above, each of the ${concurrency} clients enrolling into an account of its own (actions of different accounts commit side by side)`,
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
