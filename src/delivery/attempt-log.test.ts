// The attempts log: a webhook deleted between the check that it exists and the insert drops only its own rows.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { KyselyPlugin, QueryId } from 'kysely';
import { testDialects } from '../../test/support/test-databases.ts';
import { loadSettings } from '../config.ts';
import { createLogger, createProducerContext } from '../context.ts';
import { createAccount } from '../platform/accounts.ts';
import { type Database, openDatabase } from '../store/database.ts';
import { migrate } from '../store/migrate.ts';
import type { ProducerSchema } from '../store/schema.ts';
import { createWebhook, deleteWebhook } from '../webhooks/webhooks.ts';
import { AttemptLog, type AttemptRow } from './attempt-log.ts';

const dialects = await testDialects();

function attempt(accountId: number, webhookId: string, index: number): AttemptRow {
  return {
    account_id: accountId,
    webhook_id: webhookId,
    batch_id: `msg_${webhookId}_${index}`,
    kind: 'delivery',
    first_seq: index + 1,
    last_seq: index + 1,
    delivery_first: index + 1,
    delivery_last: index + 1,
    event_count: 1,
    attempt: 1,
    started_at: 1_700_000_000_000 + index,
    duration_ms: 3,
    status_code: 202,
    outcome: 'acknowledged',
    cause: null,
    error: null,
  };
}

for (const dialect of dialects) {
  describe(`attempts log on ${dialect.name}`, { skip: dialect.skip }, () => {
    const closers: (() => Promise<unknown>)[] = [];
    after(async () => {
      for (const close of closers.reverse()) await close();
    });

    test('a webhook deleted by another connection between the check and the insert loses only its own rows, quietly', async () => {
      const url = await dialect.freshUrl();
      const database = await openDatabase<ProducerSchema>(url);
      closers.push(() => database.close());
      await migrate(database as Database<unknown>, 'producer');
      // Another process's connection: it deletes the webhook once the log has checked which webhooks exist.
      const other = await openDatabase<ProducerSchema>(url);
      closers.unshift(() => other.close());
      const settings = loadSettings({ logLevel: 'silent', allowPrivateTargets: true }, {});
      const setup = createProducerContext(settings, database, { logger: createLogger('silent') });
      const { id: accountId } = await createAccount(setup, { name: 'race', contactEmail: null });
      const hook = { events: ['LEARNING_OBJECT_DRAFT'], url: 'http://127.0.0.1:9/webhook' };
      const kept = await createWebhook(setup, accountId, { name: 'kept', ...hook });
      const doomed = await createWebhook(setup, accountId, { name: 'doomed', ...hook });

      let checkQuery: QueryId | undefined;
      let deleted = false;
      const deleteAfterTheCheck: KyselyPlugin = {
        transformQuery({ node, queryId }) {
          if (!deleted && checkQuery === undefined && node.kind === 'SelectQueryNode') checkQuery = queryId;
          return node;
        },
        async transformResult({ result, queryId }) {
          if (queryId === checkQuery && !deleted) {
            deleted = true;
            await deleteWebhook({ ...setup, database: other }, accountId, doomed.id);
          }
          return result;
        },
      };
      const racing = createProducerContext(
        settings,
        { ...database, db: database.db.withPlugin(deleteAfterTheCheck) },
        {
          logger: createLogger('silent'),
        },
      );
      const log = new AttemptLog(racing);
      for (let index = 0; index < 30; index++) log.add(attempt(accountId, index % 2 === 0 ? kept.id : doomed.id, index));
      await log.flush(doomed.id);
      assert.ok(deleted, 'the webhook was deleted between the check and the insert');
      await log.flush(kept.id);

      const rows = await database.db.selectFrom('delivery_attempts').select(['webhook_id', 'batch_id']).orderBy('id').execute();
      assert.deepEqual(
        rows.map((row) => row.batch_id),
        Array.from({ length: 15 }, (_, index) => `msg_${kept.id}_${index * 2}`),
      );
    });
  });
}
