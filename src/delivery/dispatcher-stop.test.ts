// Stopping the dispatcher waits for a scan in progress: no delivery starts once stop() has returned.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KyselyPlugin, QueryId } from 'kysely';
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
  describe(`dispatcher stop on ${dialect.name}`, { skip: dialect.skip }, () => {
    test('stop() during a scan that is claiming a webhook waits for it, and no delivery starts', async (t) => {
      const database = await dialect.open<ProducerSchema>('producer');
      t.after(() => database.close());
      const receiver = await startReceiver();
      t.after(() => receiver.close());
      const settings = loadSettings({ logLevel: 'silent', allowPrivateTargets: true }, {});
      const setup = createProducerContext(settings, database, { logger: createLogger('silent') });
      const { id: accountId } = await createAccount(setup, { name: 'stopping', contactEmail: null });
      const webhook = await createWebhook(setup, accountId, { name: 'w', url: receiver.url, events: ['LEARNING_OBJECT_DRAFT'] });
      const event = newEvent('LEARNING_OBJECT_DRAFT', { loId: 'course:1', loType: 'course' }, Date.now(), 'stop-1');
      await database.db.transaction().execute((trx) => appendEvents(trx, accountId, [event], setup.now()));

      // The dispatcher's first write is the claim of the due webhook: hold its answer until stop() has been called.
      let claim: QueryId | undefined;
      let claiming = () => {};
      const claimed = new Promise<void>((resolve) => {
        claiming = resolve;
      });
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const holdTheClaim: KyselyPlugin = {
        transformQuery({ node, queryId }) {
          if (claim === undefined && node.kind === 'UpdateQueryNode') claim = queryId;
          return node;
        },
        async transformResult({ result, queryId }) {
          if (queryId === claim) {
            claiming();
            await held;
          }
          return result;
        },
      };
      const context = createProducerContext(settings, { ...database, db: database.db.withPlugin(holdTheClaim) }, { logger: setup.logger });
      const notifier = new Notifier(settings, context.logger);
      t.after(() => notifier.close());
      const dispatcher = new Dispatcher(context, notifier);
      dispatcher.start();
      await claimed;
      const stopped = dispatcher.stop();
      release();
      await stopped;

      const row = await database.db
        .selectFrom('webhooks')
        .select(['lease_owner', 'cursor'])
        .where('id', '=', webhook.id)
        .executeTakeFirstOrThrow();
      assert.equal(row.lease_owner, null, 'the claim made while stopping is given back, and no delivery holds it');
      assert.equal(row.cursor, 0);
      assert.equal(receiver.deliveries.length, 0);
    });
  });
}
