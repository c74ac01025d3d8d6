// Batch ids derive from content: the same batch planned again has the same id, a different one never does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchId, newBatchId } from './batch-id.ts';

const content = {
  deliveryFirst: 41,
  replay: false,
  eventIds: ['7f0c1a2b-0000-4000-8000-000000000001', '7f0c1a2b-0000-4000-8000-000000000002'],
};

test('the same batch planned again (after a restart) gets the same id', () => {
  assert.equal(batchId('wh_a', content), batchId('wh_a', { ...content, eventIds: [...content.eventIds] }));
  assert.match(batchId('wh_a', content), /^msg_[A-Za-z0-9_-]{22}$/);
});

test('a batch that differs in webhook, sequence range, replay flag or events gets another id', () => {
  const ids = [
    batchId('wh_a', content),
    batchId('wh_b', content),
    batchId('wh_a', { ...content, deliveryFirst: 42 }),
    batchId('wh_a', { ...content, replay: true }),
    batchId('wh_a', { ...content, eventIds: content.eventIds.slice(0, 1) }),
    batchId('wh_a', { ...content, eventIds: [...content.eventIds].reverse() }),
    batchId('wh_a', { ...content, eventIds: [...content.eventIds, '7f0c1a2b-0000-4000-8000-000000000003'] }),
  ];
  assert.equal(new Set(ids).size, ids.length);
});

test('a test delivery gets a fresh random id each time', () => {
  const ids = Array.from({ length: 1000 }, () => newBatchId());
  assert.equal(new Set(ids).size, ids.length);
});
