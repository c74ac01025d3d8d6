// Batches are capped in bytes as well as in events, and a batch a receiver refuses as too large (413) is split and sent again at once.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseSequenceRange } from '../src/catalog/index.ts';
import { appendEvents, newEvent } from '../src/platform/event-log.ts';
import { testDialects } from './support/test-databases.ts';
import { startTestProducer, type TestProducer } from './support/test-producer.ts';
import { type Receiver, startReceiver } from './support/test-receiver.ts';

const dialects = await testDialects();

/** The acknowledged deliveries carry every event once, in order, with gap-free sequence ranges from 1. */
function assertDeliveredInOrder(receiver: Receiver, ids: readonly string[]) {
  assert.deepEqual(receiver.acknowledgedEvents(), ids);
  let last = 0;
  for (const delivery of receiver.deliveries.filter((each) => each.acknowledged)) {
    const range = parseSequenceRange(String(delivery.headers['learnhook-sequence']));
    assert.deepEqual(range, { first: last + 1, last: last + delivery.body.events.length });
    last = range?.last ?? 0;
  }
  assert.equal(last, ids.length);
}

/** Every delivery sent twice under one webhook-id carries the same body and sequence range. */
function assertRepeatsIdentical(receiver: Receiver) {
  const first = new Map<string, { raw: string; range: unknown }>();
  for (const delivery of receiver.deliveries) {
    const id = String(delivery.headers['webhook-id']);
    const seen = { raw: delivery.raw, range: delivery.headers['learnhook-sequence'] };
    const earlier = first.get(id);
    if (earlier) assert.deepEqual(seen, earlier, `batch ${id} was sent again with other content`);
    else first.set(id, seen);
  }
}

for (const dialect of dialects) {
  describe(`batch size on ${dialect.name}`, { skip: dialect.skip }, () => {
    let producer: TestProducer;
    let small: TestProducer;
    before(async () => {
      producer = await startTestProducer(dialect, { batchMax: 8, retryInitialMs: 50, retryMaxMs: 200 });
      small = await startTestProducer(dialect, { batchMax: 100, batchMaxBytes: 1024 });
    });
    after(async () => {
      await producer?.stop();
      await small?.stop();
    });

    test('a batch refused with 413 is split in halves and sent again at once, in order and without a gap in the sequence', async () => {
      // Too large above two events; the first batch of two fails once (500) and is re-sent under the same id.
      let failedOnce = false;
      const receiver = await startReceiver((delivery) => {
        if (delivery.body.events.length > 2) return { status: 413 };
        if (!failedOnce) {
          failedOnce = true;
          return { status: 500 };
        }
        return { status: 202 };
      });
      try {
        const accountId = await producer.createAccount('split');
        const { id } = await producer.createWebhook(accountId, { name: 'w', url: receiver.url, events: ['LEARNING_OBJECT_DRAFT'] });
        const ids = await producer.append(accountId, 8);
        await receiver.waitFor(() => receiver.acknowledgedEvents().length >= ids.length);
        assertDeliveredInOrder(receiver, ids);
        assertRepeatsIdentical(receiver);
        const sizes = receiver.deliveries.map((delivery) => delivery.body.events.length);
        assert.deepEqual(sizes.slice(0, 4), [8, 4, 2, 2], 'halved until the receiver takes them; the failed half is re-sent');
        const refused = new Set(
          receiver.deliveries.filter((each) => each.body.events.length > 2).map((each) => each.headers['webhook-id']),
        );
        for (const delivery of receiver.deliveries.filter((each) => each.acknowledged))
          assert.ok(!refused.has(delivery.headers['webhook-id']), 'a split batch has a new id');
        const stats = await producer.app.inject({
          url: `/v1/accounts/${accountId}/webhooks/${id}/stats`,
          headers: { authorization: `Bearer ${producer.adminToken}` },
        });
        assert.equal(stats.json().deliverySeq, 8);
      } finally {
        await receiver.close();
      }
    });

    test('no body exceeds --batch-max-bytes, and an event larger than it goes alone', async () => {
      const receiver = await startReceiver();
      try {
        const accountId = await small.createAccount('bytes');
        await small.createWebhook(accountId, { name: 'w', url: receiver.url, events: ['LEARNING_OBJECT_DRAFT'] });
        const { context } = small;
        const events = Array.from({ length: 12 }, (_, index) =>
          // The fifth event's trace string alone is larger than the cap (it predates the catalog's limits).
          newEvent(
            'LEARNING_OBJECT_DRAFT',
            { loId: `course:${index + 1}`, loType: 'course' },
            Date.now(),
            index === 4 ? 'x'.repeat(2000) : `t${index}`,
          ),
        );
        await context.database.db.transaction().execute((trx) => appendEvents(trx, accountId, events, context.now()));
        context.signals.emit('events-appended', [accountId]);
        const ids = events.map((event) => event.eventId);
        await receiver.waitFor(() => receiver.acknowledgedEvents().length >= ids.length);
        assertDeliveredInOrder(receiver, ids);
        for (const delivery of receiver.deliveries) {
          const bytes = Buffer.byteLength(delivery.raw);
          if (delivery.body.events.some((event) => event.eventId === ids[4])) assert.equal(delivery.body.events.length, 1);
          else assert.ok(bytes <= 1024, `a body of ${bytes} bytes`);
        }
        assert.ok(receiver.deliveries.length >= 3, 'the cap cut the batches');
      } finally {
        await receiver.close();
      }
    });
  });
}
