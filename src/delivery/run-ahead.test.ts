// The bound on how far a stream runs ahead of its recorded acknowledgements (what a crash may re-send).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mayRunAhead, planAheadLimit, runAheadLimit, shouldPlanMore, shouldRecord } from './run-ahead.ts';

const batches = (count: number, eventCount: number) => Array.from({ length: count }, () => ({ eventCount }));

test('a batch may always be sent when every acknowledgement is recorded, however large', () => {
  assert.equal(mayRunAhead([]), true);
});

test('at most runAheadLimit.batches acknowledged batches wait to be recorded', () => {
  assert.equal(mayRunAhead(batches(runAheadLimit.batches - 1, 1)), true);
  assert.equal(mayRunAhead(batches(runAheadLimit.batches, 1)), false);
});

test('and at most runAheadLimit.events events in them', () => {
  assert.equal(mayRunAhead(batches(1, runAheadLimit.events - 1)), true);
  assert.equal(mayRunAhead(batches(1, runAheadLimit.events)), false);
  assert.equal(mayRunAhead(batches(4, runAheadLimit.events / 4)), false);
});

test('acknowledgements are written on their own once half the run-ahead is used', () => {
  assert.equal(shouldRecord([]), false);
  assert.equal(shouldRecord(batches(runAheadLimit.batches / 2 - 1, 1)), false);
  assert.equal(shouldRecord(batches(runAheadLimit.batches / 2, 1)), true);
  assert.equal(shouldRecord(batches(1, runAheadLimit.events / 2)), true);
});

test('a stream plans more once half a planning step is left unsent, in batches and in events', () => {
  assert.equal(shouldPlanMore([], 1), true);
  assert.equal(shouldPlanMore(batches(planAheadLimit.batches / 2, 1), 11), true);
  assert.equal(shouldPlanMore(batches(planAheadLimit.batches / 2 + 1, 1), 12), false);
  assert.equal(shouldPlanMore(batches(1, planAheadLimit.events / 2), 2), true);
  assert.equal(shouldPlanMore(batches(1, planAheadLimit.events / 2 + 1), 2), false);
});

test('and never holds more than twice a planning step of batches', () => {
  assert.equal(shouldPlanMore([], 2 * planAheadLimit.batches), false);
});
