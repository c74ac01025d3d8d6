// Housekeeping passes run one after another at the poll interval: a slow pass never makes the next ones pile up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KyselyPlugin } from 'kysely';
import { testDialects } from '../../test/support/test-databases.ts';
import { loadSettings } from '../config.ts';
import { createLogger, createProducerContext } from '../context.ts';
import type { ProducerSchema } from '../store/schema.ts';
import { startHousekeeping } from './housekeeping.ts';
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
  // The first query of a pass (the purge's "which accounts have expired events") counts passes and holds the first.
  const slowFirstPass: KyselyPlugin = {
    transformQuery({ node, queryId }) {
      if (node.kind === 'SelectQueryNode' && node.groupBy !== undefined) passStarts.add(queryId);
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
