// Housekeeping passes run one after another at the poll interval (a slow pass never makes the next ones pile up), and a purge reaches every expired event.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KyselyPlugin } from 'kysely';
import { testDialects } from '../../test/support/test-databases.ts';
import { loadSettings } from '../config.ts';
import { createLogger, createProducerContext } from '../context.ts';
import { createAccount } from '../platform/accounts.ts';
import { appendEvents, newEvent } from '../platform/event-log.ts';
import type { ProducerSchema } from '../store/schema.ts';
import { createWebhook } from '../webhooks/webhooks.ts';
import { purgeExpiredEvents, startHousekeeping } from './housekeeping.ts';
import { Notifier } from './notifier.ts';

const [sqlite] = await testDialects();

// The clock is mocked (setInterval/setTimeout), so the intervals pass at once and nothing here depends on timing; on
// SQLite only, as the PostgreSQL pool keeps timers of its own.
test('a pass that lasts twenty intervals is followed by one pass, not by twenty queued ones', async (t) => {
  assert.ok(sqlite);
  const database = await sqlite.open<ProducerSchema>('producer');
  t.after(() => database.close());
  let passes = 0;
  let running = 0;
  let overlapped = false;
  let release = () => {};
  const blocked = new Promise<void>((resolve) => {
    release = resolve;
  });
  let firstStarted = () => {};
  const started = new Promise<void>((resolve) => {
    firstStarted = resolve;
  });
  const passStarts = new Set<unknown>();
  // The first query of a pass (the purge's read of the oldest expired events) counts passes and holds the first.
  const slowFirstPass: KyselyPlugin = {
    transformQuery({ node, queryId }) {
      if (node.kind === 'SelectQueryNode' && node.orderBy !== undefined && node.limit !== undefined) passStarts.add(queryId);
      return node;
    },
    async transformResult({ result, queryId }) {
      if (!passStarts.has(queryId)) return result;
      passes++;
      running++;
      if (running > 1) overlapped = true;
      if (passes === 1) {
        firstStarted();
        await blocked;
      }
      running--;
      return result;
    },
  };
  const settings = loadSettings({ logLevel: 'silent', pollIntervalMs: 50 }, {});
  const context = createProducerContext(
    settings,
    { ...database, db: database.db.withPlugin(slowFirstPass) },
    { logger: createLogger('silent') },
  );
  const notifier = new Notifier(settings, context.logger);
  t.mock.timers.enable({ apis: ['setInterval', 'setTimeout'] });
  const housekeeping = startHousekeeping(context, notifier);
  t.mock.timers.tick(50);
  await started;
  for (let interval = 0; interval < 20; interval++) t.mock.timers.tick(50);
  release();
  await housekeeping.stop();
  notifier.close();
  assert.equal(passes, 1, 'no pass was queued while the first one ran');
  assert.equal(overlapped, false);
});

for (const dialect of await testDialects()) {
  test(`on ${dialect.name}, a purge takes every expired event in steps, however many, and counts each lagging webhook's loss`, {
    skip: dialect.skip,
  }, async (t) => {
    const database = await dialect.open<ProducerSchema>('producer');
    t.after(() => database.close());
    let now = 1_000_000;
    const settings = loadSettings({ logLevel: 'silent', allowPrivateTargets: true }, {});
    const context = createProducerContext(settings, database, { logger: createLogger('silent'), now: () => now });
    const accounts = [await createAccount(context, { name: 'a' }), await createAccount(context, { name: 'b' })];
    const webhook = await createWebhook(context, accounts[0]?.id ?? 0, {
      name: 'lagging',
      url: 'http://127.0.0.1:9/hook',
      events: ['LEARNING_OBJECT_DRAFT'],
      auth: { type: 'none' },
    });
    // 1,300 + 1,300 expired events: more than one step of the purge (1,000), in the order they were logged.
    for (const account of accounts) {
      const events = Array.from({ length: 1300 }, (_, n) =>
        newEvent('LEARNING_OBJECT_DRAFT', { loId: `course:${n + 1}`, loType: 'course' }, now, `purge-${n}`),
      );
      await database.db.transaction().execute((trx) => appendEvents(trx, account.id, events, now));
    }
    now += settings.retentionMs + 1;
    assert.equal(await purgeExpiredEvents(context), 2600);
    const left = await database.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<number | string>().as('count'))
      .executeTakeFirstOrThrow();
    assert.equal(Number(left.count), 0);
    const row = await database.db.selectFrom('webhooks').selectAll().where('id', '=', webhook.id).executeTakeFirstOrThrow();
    assert.equal(row.lost_count, 1300);
    assert.equal(row.cursor, 1300);
  });
}
