// Group commit on both stores: concurrent writes share a transaction, a failing write fails alone, and concurrent webhooks still get every event in order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Transaction } from 'kysely';
import { testDialects } from '../../test/support/test-databases.ts';
import { startTestProducer, type TestProducer } from '../../test/support/test-producer.ts';
import { type Receiver, startReceiver } from '../../test/support/test-receiver.ts';
import { parseSequenceRange } from '../catalog/index.ts';
import { loadSettings } from '../config.ts';
import { createLogger, createProducerContext } from '../context.ts';
import { createAccount } from '../platform/accounts.ts';
import type { Database } from '../store/database.ts';
import type { ProducerSchema } from '../store/schema.ts';
import { GroupCommit } from './group-commit.ts';

const dialects = await testDialects();

for (const dialect of dialects) {
  describe(`group commit on ${dialect.name}`, { skip: dialect.skip }, () => {
    let database: Database<ProducerSchema>;
    const accountIds: number[] = [];
    before(async () => {
      database = await dialect.open<ProducerSchema>('producer');
      const context = createProducerContext(loadSettings({ logLevel: 'silent' }, {}), database, { logger: createLogger('silent') });
      for (let index = 0; index < 6; index++) accountIds.push((await createAccount(context, { name: `a${index}` })).id);
    });
    after(async () => {
      await database?.close();
    });

    const rename = (id: number, name: string) => async (trx: Transaction<ProducerSchema>) => {
      const result = await trx.updateTable('accounts').set({ name }).where('id', '=', id).executeTakeFirst();
      return { trx, updated: Number(result.numUpdatedRows) };
    };

    test('writes issued together commit in one transaction, and each caller gets its own result once committed', async () => {
      const commits = new GroupCommit(database.db, 1);
      const results = await Promise.all(accountIds.map((id) => commits.run(rename(id, `grouped-${id}`))));
      assert.deepEqual(
        results.map((result) => result.updated),
        accountIds.map(() => 1),
      );
      assert.equal(new Set(results.map((result) => result.trx)).size, 1);
      const names = await database.db.selectFrom('accounts').select(['id', 'name']).where('id', 'in', accountIds).orderBy('id').execute();
      assert.deepEqual(
        names.map((row) => row.name),
        accountIds.map((id) => `grouped-${id}`),
      );
    });

    test('writes that arrive while a group commits form the next group', async () => {
      const commits = new GroupCommit(database.db, 1);
      const [firstId, secondId, thirdId] = accountIds as [number, number, number];
      const first = commits.run(rename(firstId, 'first'));
      // Queued after the first group has started: they wait for it, then commit together.
      await new Promise((resolve) => setImmediate(resolve));
      const later = [commits.run(rename(secondId, 'second')), commits.run(rename(thirdId, 'third'))];
      const [one, two, three] = [await first, ...(await Promise.all(later))];
      assert.notEqual(one?.trx, two?.trx);
      assert.equal(two?.trx, three?.trx);
    });

    test('a failing write rejects only its own caller; the others of its group are committed', async () => {
      const commits = new GroupCommit(database.db, 2);
      const [firstId, secondId] = accountIds as [number, number];
      const outcomes = await Promise.allSettled([
        commits.run(rename(firstId, 'kept-1')),
        commits.run(async (trx) => {
          await trx.updateTable('accounts').set({ name: 'rolled back' }).where('id', '=', secondId).execute();
          throw new Error('this write fails');
        }),
        commits.run(rename(secondId, 'kept-2')),
      ]);
      assert.deepEqual(
        outcomes.map((outcome) => outcome.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      const names = await database.db.selectFrom('accounts').select('name').where('id', 'in', [firstId, secondId]).orderBy('id').execute();
      assert.deepEqual(
        names.map((row) => row.name),
        ['kept-1', 'kept-2'],
      );
    });
  });

  describe(`concurrent webhooks with group commit and read-ahead on ${dialect.name}`, { skip: dialect.skip }, () => {
    let producer: TestProducer;
    before(async () => {
      producer = await startTestProducer(dialect, { batchMax: 1, concurrency: 4 });
    });
    after(async () => {
      await producer?.stop();
    });

    test('every webhook gets all its events once, in order, with a gap-free sequence, while events keep arriving', async () => {
      const receivers: Receiver[] = [];
      try {
        const streams: { accountId: number; receiver: Receiver; ids: string[] }[] = [];
        for (let index = 0; index < 4; index++) {
          const receiver = await startReceiver();
          receivers.push(receiver);
          const accountId = await producer.createAccount(`stream-${index}`);
          await producer.createWebhook(accountId, { name: 'w', url: receiver.url, events: ['LEARNING_OBJECT_DRAFT', 'CI_STATS'] });
          streams.push({ accountId, receiver, ids: [] });
        }
        // Appended in waves while delivery runs, with events the webhooks did not choose in between.
        for (let wave = 0; wave < 5; wave++) {
          for (const stream of streams) {
            const ids = await producer.append(stream.accountId, 12, ['LEARNING_OBJECT_DRAFT', 'LEARNING_OBJECT_MODIFICATION', 'CI_STATS']);
            stream.ids.push(...ids.filter((_, index) => index % 3 !== 1));
          }
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        for (const { receiver, ids } of streams) {
          await receiver.waitFor(() => receiver.acknowledgedEvents().length >= ids.length);
          assert.deepEqual(receiver.acknowledgedEvents(), ids);
          const ranges = receiver.deliveries.map((delivery) => parseSequenceRange(String(delivery.headers['learnhook-sequence'])));
          assert.deepEqual(
            ranges,
            ids.map((_, index) => ({ first: index + 1, last: index + 1 })),
          );
          assert.equal(new Set(receiver.deliveries.map((delivery) => delivery.headers['webhook-id'])).size, ids.length);
        }
      } finally {
        for (const receiver of receivers) await receiver.close();
      }
    });
  });
}
