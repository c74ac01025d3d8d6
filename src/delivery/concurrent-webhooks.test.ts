// Delivery on both stores with group-committed state and read-ahead: concurrent webhooks still get every event in order, and take turns when slots are short.
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

  describe(`more webhooks due than slots on ${dialect.name}`, { skip: dialect.skip }, () => {
    let producer: TestProducer;
    before(async () => {
      producer = await startTestProducer(dialect, { batchMax: 1, concurrency: 1 });
    });
    after(async () => {
      await producer?.stop();
    });

    test('a webhook due while a busy one holds the only slot is delivered before the busy one has sent its backlog', async () => {
      const busy = await startReceiver(() => ({ status: 200, delayMs: 20 }));
      const waiting = await startReceiver();
      try {
        const busyAccount = await producer.createAccount('busy');
        await producer.createWebhook(busyAccount, { name: 'busy', url: busy.url, events: ['LEARNING_OBJECT_DRAFT'] });
        const waitingAccount = await producer.createAccount('waiting');
        await producer.createWebhook(waitingAccount, { name: 'waiting', url: waiting.url, events: ['LEARNING_OBJECT_DRAFT'] });
        const backlog = await producer.append(busyAccount, 500);
        await busy.waitFor(() => busy.deliveries.length > 0);
        await producer.append(waitingAccount, 1);
        await waiting.waitFor(() => waiting.acknowledgedEvents().length === 1);
        // At 20 ms a batch the backlog takes 10 s; the busy webhook's turn ends after 1 s once another waits.
        assert.ok(busy.acknowledgedEvents().length < backlog.length, 'the waiting webhook did not wait for the whole backlog');
        await busy.waitFor(() => busy.acknowledgedEvents().length === backlog.length);
        assert.deepEqual(busy.acknowledgedEvents(), backlog);
      } finally {
        await busy.close();
        await waiting.close();
      }
    });
  });
}
