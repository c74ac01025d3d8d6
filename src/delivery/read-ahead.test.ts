// Events read ahead for planning are read from the log once, not again at every reload of the webhook's row.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type KyselyPlugin, TableNode } from 'kysely';
import { testDialects } from '../../test/support/test-databases.ts';
import { startReceiver } from '../../test/support/test-receiver.ts';
import { loadSettings } from '../config.ts';
import { createLogger, createProducerContext } from '../context.ts';
import { createAccount } from '../platform/accounts.ts';
import { appendEvents, newEvent } from '../platform/event-log.ts';
import type { ProducerSchema } from '../store/schema.ts';
import { createWebhook } from '../webhooks/webhooks.ts';
import { Dispatcher } from './dispatcher.ts';
import { Notifier } from './notifier.ts';

const dialects = await testDialects();

for (const dialect of dialects) {
  describe(`read-ahead on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('a stream of one-event batches slower than the row reloads reads each chosen event from the log once', async (t) => {
      const database = await dialect.open<ProducerSchema>('producer');
      t.after(() => database.close());
      // 100 events answered 15 ms apart: the row is read again (every 250 ms) about six times while they flow, and the
      // stream plans ten batches at a time, each time from the events read ahead.
      const receiver = await startReceiver(() => ({ status: 202, delayMs: 15 }));
      t.after(() => receiver.close());
      const settings = loadSettings({ logLevel: 'silent', allowPrivateTargets: true, batchMax: 1 }, {});
      const setup = createProducerContext(settings, database, { logger: createLogger('silent') });
      const { id: accountId } = await createAccount(setup, { name: 'read once', contactEmail: null });
      await createWebhook(setup, accountId, { name: 'w', url: receiver.url, events: ['LEARNING_OBJECT_DRAFT'] });
      const events = Array.from({ length: 100 }, (_, index) =>
        newEvent('LEARNING_OBJECT_DRAFT', { loId: `course:${index}`, loType: 'course' }, Date.now(), `read-${index}`),
      );
      await database.db.transaction().execute((trx) => appendEvents(trx, accountId, events, setup.now()));

      let logReads = 0;
      const countLogReads: KyselyPlugin = {
        transformQuery({ node }) {
          if (node.kind === 'SelectQueryNode') {
            const [from] = node.from?.froms ?? [];
            if (from && TableNode.is(from) && from.table.identifier.name === 'events') logReads++;
          }
          return node;
        },
        async transformResult({ result }) {
          return result;
        },
      };
      const context = createProducerContext(settings, { ...database, db: database.db.withPlugin(countLogReads) }, { logger: setup.logger });
      const notifier = new Notifier(settings, context.logger);
      t.after(() => notifier.close());
      const dispatcher = new Dispatcher(context, notifier);
      dispatcher.start();
      t.after(() => dispatcher.stop());
      while (receiver.deliveries.filter((delivery) => delivery.acknowledged).length < events.length)
        await new Promise((resolve) => setTimeout(resolve, 20));

      const delivered = receiver.deliveries.flatMap((delivery) => delivery.body.events.map((event) => event.eventId));
      assert.deepEqual(
        delivered,
        events.map((event) => event.eventId),
      );
      // One read covers all 100 (a read takes up to 100 events at batch 1); dropping them at every reload read ~6 times.
      assert.ok(logReads <= 2, `the log was read ${logReads} times for 100 events`);
    });
  });
}
