// Delivery on both stores with group-committed state and read-ahead: concurrent webhooks still get every event in order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDialects } from '../../test/support/test-databases.ts';
import { startTestProducer, type TestProducer } from '../../test/support/test-producer.ts';
import { type Receiver, startReceiver } from '../../test/support/test-receiver.ts';
import { parseSequenceRange } from '../catalog/index.ts';

const dialects = await testDialects();

for (const dialect of dialects) {
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
