// A batch refused as too large splits into two new batches that keep its order, its ranges without a gap, and content-derived ids.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CatalogEvent } from '../catalog/index.ts';
import { batchId } from './batch-id.ts';
import type { Batch } from './batch-queue.ts';
import { splitBatch } from './split-batch.ts';

const events = (count: number): CatalogEvent[] =>
  Array.from({ length: count }, (_, index) => ({
    eventId: `e${index}`,
    eventName: 'LEARNING_OBJECT_DRAFT',
    timestamp: '2026-01-31T09:15:02.123Z',
    eventInfo: '',
    data: { loId: `course:${index + 1}`, loType: 'course' },
  }));

function batchOf(seqs: number[], deliveryFirst: number, sent: readonly CatalogEvent[]): Batch {
  return {
    id: batchId('wh_1', { deliveryFirst, replay: false, eventIds: sent.map((event) => event.eventId) }),
    seqs,
    firstSeq: 4,
    lastSeq: 30,
    deliveryFirst,
    deliveryLast: deliveryFirst + seqs.length - 1,
    replay: false,
    attempts: 3,
  };
}

test('the halves cover the account range and the delivery range with no gap, in order', () => {
  const sent = events(5);
  const batch = batchOf([5, 7, 9, 20, 21], 11, sent);
  const [first, second] = splitBatch('wh_1', batch, sent);
  assert.deepEqual(
    [first.seqs, second.seqs],
    [
      [5, 7, 9],
      [20, 21],
    ],
  );
  assert.deepEqual([first.firstSeq, first.lastSeq, second.firstSeq, second.lastSeq], [4, 9, 10, 30]);
  assert.deepEqual([first.deliveryFirst, first.deliveryLast, second.deliveryFirst, second.deliveryLast], [11, 13, 14, 15]);
  assert.deepEqual([first.attempts, second.attempts], [0, 0]);
});

test('each half is a new batch whose id derives from its content, as if it had been planned that way', () => {
  const sent = events(4);
  const batch = batchOf([1, 2, 3, 4], 1, sent);
  const [first, second] = splitBatch('wh_1', batch, sent);
  assert.notEqual(first.id, batch.id);
  assert.notEqual(second.id, batch.id);
  assert.equal(first.id, batchId('wh_1', { deliveryFirst: 1, replay: false, eventIds: ['e0', 'e1'] }));
  assert.equal(second.id, batchId('wh_1', { deliveryFirst: 3, replay: false, eventIds: ['e2', 'e3'] }));
  assert.deepEqual(splitBatch('wh_1', batch, sent), [first, second]);
});

test('a batch of one event cannot be split', () => {
  const sent = events(1);
  assert.throws(() => splitBatch('wh_1', batchOf([1], 1, sent), sent), RangeError);
});
