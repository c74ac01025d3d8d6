// What a webhook loses when its account's events fall out of retention.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lossOnPurge, lossRangeEnd, retentionCutoff } from './retention.ts';

test('the cutoff is now minus the retention', () => {
  assert.equal(retentionCutoff(10_000, 3000), 7000);
});

test('a cursor at or past the purged events loses nothing', () => {
  const position = { cursor: 10, deliverySeq: 7, batch: null };
  assert.equal(lossOnPurge(position, 10, lossRangeEnd(position, 10), 0), null);
});

test('a lagging cursor loses the chosen events it had not acknowledged, and its delivery sequence jumps by them', () => {
  const position = { cursor: 4, deliverySeq: 3, batch: null };
  const end = lossRangeEnd(position, 12);
  assert.equal(end, 12);
  assert.deepEqual(lossOnPurge(position, 12, end, 5), { firstSeq: 5, lastSeq: 12, count: 5, deliverySeq: 8, dropBatch: false });
});

test('a batch in flight that reaches into the purge is dropped whole; its numbers were already given out', () => {
  const position = { cursor: 4, deliverySeq: 6, batch: { firstSeq: 5, lastSeq: 15, eventCount: 3 } };
  const end = lossRangeEnd(position, 12);
  assert.equal(end, 15);
  // 5 chosen events lost in 5..15: 3 of them were the batch (numbered 4..6), 2 more take the next numbers.
  assert.deepEqual(lossOnPurge(position, 12, end, 5), { firstSeq: 5, lastSeq: 15, count: 5, deliverySeq: 8, dropBatch: true });
});
