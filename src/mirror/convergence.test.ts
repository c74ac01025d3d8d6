// Property: for any arrival order and any duplication of one event history, the mirror's tables end identical and right.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { testDialects } from '../../test/support/test-databases.ts';
import type { CatalogEvent } from '../catalog/schemas.ts';
import { loadSettings } from '../config.ts';
import { createLogger } from '../context.ts';
import { type Database, openDatabase } from '../store/database.ts';
import { migrate } from '../store/migrate.ts';
import { createMirrorContext } from './mirror-context.ts';
import { projectNext } from './projector.ts';
import type { MirrorSchema } from './schema.ts';
import { type HistoryAction, type HistoryActionKind, simulateHistory } from './simulate-history.ts';
import { storeBatch } from './store-batch.ts';

const dialects = await testDialects();
const settings = loadSettings({ logLevel: 'silent' }, {});
const accountId = 7;

const actionKinds: HistoryActionKind[] = [
  'enroll',
  'enroll',
  'progress',
  'progress',
  'progress',
  'complete',
  'unenroll',
  'loDraft',
  'loPublish',
  'loModify',
  'loRetire',
  'loDelete',
  'instanceModify',
  'instanceDelete',
  'ciStats',
];

const actionArbitrary: fc.Arbitrary<HistoryAction> = fc.record({
  kind: fc.constantFrom(...actionKinds),
  user: fc.integer({ min: 1, max: 3 }),
  target: fc.integer({ min: 0, max: 9 }),
  batch: fc.boolean(),
  percent: fc.integer({ min: 1, max: 100 }),
  delayMs: fc.integer({ min: 0, max: 15 * 60_000 }),
});

/** One history, and a delivery of it: a permutation with some events repeated, cut into batches. */
const deliveryArbitrary = fc
  .array(actionArbitrary, { minLength: 5, maxLength: 60 })
  .map((actions) => simulateHistory(actions))
  .filter((history) => history.events.length > 0)
  .chain((history) =>
    fc.record({
      history: fc.constant(history),
      order: fc.shuffledSubarray(
        history.events.map((_, index) => index),
        { minLength: history.events.length, maxLength: history.events.length },
      ),
      repeats: fc.array(fc.integer({ min: 0, max: history.events.length - 1 }), { maxLength: 8 }),
      batchSize: fc.integer({ min: 1, max: 6 }),
    }),
  );

function batches(events: readonly CatalogEvent[], size: number): CatalogEvent[][] {
  const result: CatalogEvent[][] = [];
  for (let index = 0; index < events.length; index += size) result.push(events.slice(index, index + size));
  return result;
}

async function project(database: Database<MirrorSchema>, deliveries: CatalogEvent[][]): Promise<void> {
  const context = createMirrorContext(settings, database, { logger: createLogger('silent') });
  for (const events of deliveries) {
    const body = JSON.stringify({ accountId, events });
    await storeBatch(database, { accountId, eventCount: events.length, body, replay: false, test: false }, 0);
  }
  while (await projectNext(context, false)) {}
}

/** Every projected table, each row in key order: what must not depend on arrival order. */
async function snapshot(database: Database<MirrorSchema>) {
  const { db } = database;
  return {
    learning_objects: await db.selectFrom('learning_objects').selectAll().orderBy('lo_id').execute(),
    lo_instances: await db.selectFrom('lo_instances').selectAll().orderBy('lo_instance_id').execute(),
    enrollments: await db.selectFrom('enrollments').selectAll().orderBy('user_id').orderBy('lo_instance_id').execute(),
    users: await db.selectFrom('users').selectAll().orderBy('user_id').execute(),
    ci_stats: await db.selectFrom('ci_stats').selectAll().orderBy('lo_instance_id').execute(),
  };
}

async function memoryDatabase(): Promise<Database<MirrorSchema>> {
  const database = await openDatabase<MirrorSchema>('sqlite::memory:');
  await migrate(database as Database<unknown>, 'mirror');
  return database;
}

type Snapshot = Awaited<ReturnType<typeof snapshot>>;

/** The tables must also be right, not merely equal: each record matches the platform's own end state. */
function assertMatchesPlatform(tables: Snapshot, history: ReturnType<typeof simulateHistory>): void {
  const records = new Map(tables.enrollments.map((row) => [`${row.user_id}/${row.lo_instance_id}`, row]));
  assert.equal(records.size, history.enrollments.size);
  for (const [key, expected] of history.enrollments) {
    const row = records.get(key);
    assert.ok(row, `enrollment ${key} is missing`);
    assert.equal(row.status, expected.status, `status of ${key}`);
    assert.equal(row.progress_percent, expected.progress, `progress of ${key}`);
  }
  for (const [loId, expected] of history.learningObjects) {
    const row = tables.learning_objects.find((candidate) => candidate.lo_id === loId);
    assert.ok(row, `LO ${loId} is missing`);
    assert.equal(row.last_event_name, expected.lastEventName, `last event of ${loId}`);
    assert.equal(row.deleted_at !== null, expected.deleted, `tombstone of ${loId}`);
  }
}

describe('the reducer converges', () => {
  test('any order and duplication of one history gives the same tables as in-order delivery, matching the platform', async () => {
    await fc.assert(
      fc.asyncProperty(deliveryArbitrary, async ({ history, order, repeats, batchSize }) => {
        const inOrder = await memoryDatabase();
        const shuffled = await memoryDatabase();
        try {
          await project(inOrder, batches(history.events, 5));
          const sequence = [...order.map((index) => history.events[index] as CatalogEvent)];
          for (const index of repeats) sequence.splice(index % (sequence.length + 1), 0, history.events[index] as CatalogEvent);
          await project(shuffled, batches(sequence, batchSize));
          const expected = await snapshot(inOrder);
          assert.deepEqual(await snapshot(shuffled), expected);
          assertMatchesPlatform(expected, history);
        } finally {
          await inOrder.close();
          await shuffled.close();
        }
      }),
      { numRuns: 150 },
    );
  });

  test('progress up to 15 minutes late (arrival order by delivery time) gives the platform state', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(actionArbitrary, { minLength: 10, maxLength: 60 }), async (actions) => {
        const history = simulateHistory(actions);
        const byArrival = history.events.map((event, index) => ({ event, at: history.arrivals[index] as number }));
        byArrival.sort((a, b) => a.at - b.at);
        const database = await memoryDatabase();
        try {
          await project(
            database,
            byArrival.map(({ event }) => [event]),
          );
          assertMatchesPlatform(await snapshot(database), history);
        } finally {
          await database.close();
        }
      }),
      { numRuns: 100 },
    );
  });
});

for (const dialect of dialects) {
  describe(`convergence on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('a sample of shuffled, duplicated deliveries ends in identical tables', async () => {
      await fc.assert(
        fc.asyncProperty(deliveryArbitrary, async ({ history, order, repeats, batchSize }) => {
          const inOrder = await dialect.open<MirrorSchema>('mirror');
          const shuffled = await dialect.open<MirrorSchema>('mirror');
          try {
            await project(inOrder, batches(history.events, 5));
            const sequence = order.map((index) => history.events[index] as CatalogEvent);
            for (const index of repeats) sequence.splice(index % (sequence.length + 1), 0, history.events[index] as CatalogEvent);
            await project(shuffled, batches(sequence, batchSize));
            assert.deepEqual(await snapshot(shuffled), await snapshot(inOrder));
          } finally {
            await inOrder.close();
            await shuffled.close();
          }
        }),
        { numRuns: dialect.name === 'postgres' ? 8 : 15 },
      );
    });
  });
}
