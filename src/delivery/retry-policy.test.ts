// The retry schedule against the guide's numbers: 5 s, 10, 20, 40, 80, 160, then every 5 minutes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSettings } from '../config.ts';
import { parseRetryAfter, retryDelay, retryPolicyOf } from './retry-policy.ts';

const guide = retryPolicyOf(loadSettings({}, {}));

test("the default schedule is the guide's: 5, 10, 20, 40, 80, 160 s, then 300 s for ever", () => {
  const waits = Array.from({ length: 10 }, (_, index) => retryDelay(guide, { failures: index + 1 }) / 1000);
  assert.deepEqual(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300, 300]);
  assert.equal(retryDelay(guide, { failures: 5000 }), 300_000);
});

test('scaled settings scale the schedule: 100, 200, 400, 800, 800 ms', () => {
  const scaled = retryPolicyOf(loadSettings({ retryInitialMs: 100, retryMaxMs: 800 }, {}));
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((failures) => retryDelay(scaled, { failures })),
    [100, 200, 400, 800, 800],
  );
});

test('jitter adds at most its percentage, drawn from the injected random, and never passes the cap', () => {
  const jittery = { ...guide, jitterPercent: 20 };
  assert.equal(retryDelay(jittery, { failures: 1, random: () => 0 }), 5000);
  assert.equal(retryDelay(jittery, { failures: 1, random: () => 0.5 }), 5500);
  assert.equal(retryDelay(jittery, { failures: 2, random: () => 0.999 }), 11_998);
  assert.equal(retryDelay(jittery, { failures: 9, random: () => 0.999 }), 300_000);
});

test('retry-after is honoured within the bounds of the policy', () => {
  assert.equal(retryDelay(guide, { failures: 1, retryAfterMs: 60_000 }), 60_000);
  assert.equal(retryDelay(guide, { failures: 6, retryAfterMs: 1000 }), 5000, 'never sooner than the first retry');
  assert.equal(retryDelay(guide, { failures: 1, retryAfterMs: 3_600_000 }), 300_000, 'never later than the cap');
});

test('retry-after is read as (fractional) seconds or an HTTP date', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter('1.5', now), 1500);
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
});
