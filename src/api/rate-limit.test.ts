// The public read API's rate limit as a rule: a window per token opened by its first request, refusals past the limit.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rateDecision } from './rate-limit.ts';

const rules = { limit: 3, windowMs: 60_000 };

test('"500 requests per hour": requests up to the limit pass, counting down what remains', () => {
  const remaining = [1, 2, 3].map((requests) => rateDecision({ windowStart: 1000, requests }, rules, 1000 + requests));
  assert.deepEqual(
    remaining.map((decision) => [decision.allowed, decision.remaining]),
    [
      [true, 2],
      [true, 1],
      [true, 0],
    ],
  );
});

test('"above it the API answers 429": the next is refused until the window that opened at the first request ends', () => {
  const refused = rateDecision({ windowStart: 1000, requests: 4 }, rules, 21_000);
  assert.deepEqual(refused, { allowed: false, limit: 3, remaining: 0, retryAfterMs: 40_000 });
});

test('a window opened by a process whose clock runs ahead is waited out for one window at most, and at least 1 ms', () => {
  assert.equal(rateDecision({ windowStart: 90_000, requests: 4 }, rules, 10_000).retryAfterMs, 60_000);
  assert.equal(rateDecision({ windowStart: 1000, requests: 4 }, rules, 61_000).retryAfterMs, 1);
});
