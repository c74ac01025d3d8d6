// Batches: the next chosen events after the cursor, up to the batch size; unchosen events only move the cursor.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { planBatch, planBatches } from './plan-batch.ts';

const events = (...seqs: number[]) => seqs.map((seq) => ({ seq }));

test('nothing after the cursor: no batch', () => {
  assert.equal(planBatch(10, 10, [], 100), null);
});

test('a short batch covers everything up to the head, passing over unchosen events', () => {
  assert.deepEqual(planBatch(10, 20, events(12, 15), 100), { seqs: [12, 15], firstSeq: 11, lastSeq: 20 });
});

test('a full batch ends at its last event', () => {
  assert.deepEqual(planBatch(0, 50, events(2, 3, 7, 9), 3), { seqs: [2, 3, 7], firstSeq: 1, lastSeq: 7 });
});

test('no chosen events up to the head: the cursor just moves', () => {
  assert.deepEqual(planBatch(3, 9, [], 10), { seqs: [], firstSeq: 4, lastSeq: 9 });
});

test('events read past the head (committed after it was read) wait for the next batch', () => {
  assert.deepEqual(planBatch(0, 5, events(4, 6, 7), 10), { seqs: [4], firstSeq: 1, lastSeq: 5 });
});

test('batches planned in a row: full ones end at their last event, the last short one covers up to the head', () => {
  assert.deepEqual(planBatches(0, 20, events(2, 3, 7, 9, 12), 2, { batches: 10, events: 100 }), {
    plans: [
      { seqs: [2, 3], firstSeq: 1, lastSeq: 3 },
      { seqs: [7, 9], firstSeq: 4, lastSeq: 9 },
      { seqs: [12], firstSeq: 10, lastSeq: 20 },
    ],
    to: 20,
  });
});

test('planning in a row stops at the batch and event limits, and passes over a tail with nothing chosen', () => {
  assert.deepEqual(planBatches(0, 20, events(1, 2, 3, 4, 5), 1, { batches: 2, events: 100 }).plans.length, 2);
  assert.deepEqual(planBatches(0, 20, events(1, 2, 3, 4, 5), 2, { batches: 10, events: 3 }).plans.length, 2);
  assert.deepEqual(planBatches(0, 20, events(1, 2, 3, 4, 5), 10, { batches: 10, events: 1 }).plans.length, 1);
  assert.deepEqual(planBatches(0, 20, events(2, 3), 2, { batches: 10, events: 100 }), {
    plans: [{ seqs: [2, 3], firstSeq: 1, lastSeq: 3 }],
    to: 20,
  });
});

test('a batch size below one is refused: planning never moves past events it did not put in a batch', () => {
  // Before: 0 planned an empty "full" batch covering up to the head (every event skipped, nothing counted lost), and
  // -1 dropped the last event of each read.
  assert.throws(() => planBatch(0, 10, events(1, 2, 3), 0), RangeError);
  assert.throws(() => planBatch(0, 10, events(1, 2, 3), -1), RangeError);
  assert.throws(() => planBatch(0, 10, events(1, 2, 3), 1.5), RangeError);
  assert.throws(() => planBatches(0, 10, events(1, 2, 3), 0, { batches: 10, events: 100 }), RangeError);
});

test('whatever the batch size and the events, a planned range never covers a chosen event that is not in its batch', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 50 }),
      fc.integer({ min: 0, max: 60 }),
      fc.uniqueArray(fc.integer({ min: 1, max: 120 })),
      fc.integer({ min: -3, max: 12 }),
      (cursor, extra, seqs, batchMax) => {
        const head = cursor + extra;
        const chosen = events(...[...seqs].sort((a, b) => a - b));
        let plan: ReturnType<typeof planBatch>;
        try {
          plan = planBatch(cursor, head, chosen, batchMax);
        } catch (error) {
          assert.ok(error instanceof RangeError && batchMax < 1);
          return;
        }
        if (!plan) return;
        const covered = chosen.filter(({ seq }) => seq >= plan.firstSeq && seq <= plan.lastSeq).map(({ seq }) => seq);
        assert.deepEqual(covered, plan.seqs);
        assert.ok(plan.seqs.length <= batchMax);
      },
    ),
  );
});
