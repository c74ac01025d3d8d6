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

/** Events of the given sizes in bytes, at seqs 1, 2, 3… */
const sized = (...bytes: number[]) => bytes.map((size, index) => ({ seq: index + 1, bytes: size }));

test('a batch stops before the event that would take its body past the byte cap, and ends at its last event', () => {
  // Envelope 30 bytes, events of 100 bytes and a comma between them: 30 + 100 + 1 + 100 = 231 ≤ 250, a third is 332.
  assert.deepEqual(planBatch(0, 10, sized(100, 100, 100), { events: 100, bytes: 250, envelopeBytes: 30 }), {
    seqs: [1, 2],
    firstSeq: 1,
    lastSeq: 2,
  });
});

test('an event larger than the byte cap goes alone', () => {
  const size = { events: 100, bytes: 250, envelopeBytes: 30 };
  assert.deepEqual(planBatch(0, 10, sized(900, 100), size), { seqs: [1], firstSeq: 1, lastSeq: 1 });
  assert.deepEqual(planBatch(0, 10, sized(100, 900), size), { seqs: [1], firstSeq: 1, lastSeq: 1 });
  assert.deepEqual(planBatch(1, 10, sized(100, 900), size), { seqs: [2], firstSeq: 2, lastSeq: 10 });
});

test("whatever the sizes, a planned batch's body stays within the byte cap unless it holds one event", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 400 }), { maxLength: 40 }),
      fc.integer({ min: 1, max: 10 }),
      fc.integer({ min: 50, max: 1000 }),
      (bytes, events, cap) => {
        const chosen = sized(...bytes);
        const size = { events, bytes: cap, envelopeBytes: 20 };
        const { plans } = planBatches(0, chosen.length + 5, chosen, size, { batches: 100, events: 1000 });
        assert.deepEqual(
          plans.flatMap((plan) => plan.seqs),
          chosen.map((event) => event.seq),
        );
        for (const plan of plans) {
          const body = 20 + plan.seqs.reduce((sum, seq) => sum + (bytes[seq - 1] ?? 0), 0) + plan.seqs.length - 1;
          assert.ok(plan.seqs.length === 1 || body <= cap, `${plan.seqs.length} events in ${body} bytes`);
          assert.ok(plan.seqs.length <= events);
        }
      },
    ),
  );
});
